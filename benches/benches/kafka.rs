//! The Kafka transport through the real loopback broker (scripts/kafka.sh start; `KAFKA_BOOTSTRAP`,
//! default 127.0.0.1:9092), on its own topic `zipkin-bench-<pid>` (6 partitions, created here with
//! Kafka's own tool and deleted at the end), so that no Zipkin consumes it:
//!
//! - throughput: `#[zipkin_span]` on one producing thread, paced at 550k spans/s, through the
//!   reporter and the Kafka producer; delivered spans/s, drops, and every span read back from
//!   the topic and counted (the topic's spans before and after); once with a queue sized for
//!   that rate (the target), once with the default queue (`*_default_queue`, for the record),
//!   both after the same run unmeasured, to warm up the broker (`*_warm_up`, for the record);
//! - the application thread's cost per span with the Kafka transport and with the HTTP
//!   transport (to the loopback sink), in the same run: rounds alternate between the two, each
//!   paced at 500k spans/s, and only the time inside the spans is summed.
//!
//! Not a criterion bench; it writes its numbers to the side channel read by `report`. Without a
//! broker it says so and records nothing (the targets then read "not measured").

use std::hint::black_box;
use std::time::{Duration, Instant};

use zipkin_bench::sink::{Mode, Sink};
use zipkin_bench::{quick, record_extra, CHUNK};
use zipkin_runtime::__private::SpanMeta;
use zipkin_runtime::transport::kafka::read_topic;
use zipkin_runtime::{ReporterConfig, SpanGuard, Tracer};

static ROOT: SpanMeta = SpanMeta::new("root");

/// A topic of this run alone (created here, deleted at the end), so that what is read back is
/// what this run sent.
fn topic() -> String {
    format!("zipkin-bench-{}", std::process::id())
}

#[zipkin_rs::zipkin_span]
#[inline(never)]
fn traced() {
    black_box(());
}

fn bootstrap() -> String {
    std::env::var("KAFKA_BOOTSTRAP").unwrap_or_else(|_| "127.0.0.1:9092".into())
}

/// `kafka://` endpoint of the bench topic; `KAFKA_BENCH_ACKS` (0, 1 or all; default 1, the
/// transport's default) compares acknowledgement modes, `KAFKA_BENCH_IN_FLIGHT` (1 to 100;
/// default the transport's, 5) Produce requests in flight.
fn kafka_endpoint() -> String {
    let acks = std::env::var("KAFKA_BENCH_ACKS").unwrap_or_else(|_| "1".into());
    let mut e = format!("kafka://{}/{}?acks={acks}", bootstrap(), topic());
    if let Ok(n) = std::env::var("KAFKA_BENCH_IN_FLIGHT") {
        e.push_str(&format!("&max_in_flight={n}"));
    }
    e
}

/// The queue of the throughput run: 40,000 spans, about 73 ms of spans at 550k/s (the bytes
/// bound, 8 MB, holds about 35,000 of these), where the default 10,000 holds 18 ms. On two
/// cores shared with the broker's JVM, the drainer, the sender or the broker is now and then
/// descheduled for longer than 18 ms, and a queue that small then drops; a service reporting
/// half a million spans a second sizes its queue for such stalls.
const THROUGHPUT_QUEUE_SPANS: usize = 40_000;

fn tracer(endpoint: &str, reporter: ReporterConfig) -> Tracer {
    Tracer::builder()
        .service_name("kafka-bench")
        .endpoint(endpoint)
        .expect("endpoint")
        .timeouts(Duration::from_secs(1), Duration::from_secs(5))
        .reporter(reporter)
        .build()
        .expect("tracer")
}

/// One root and `CHUNK - 1` children; returns the time spent inside them.
fn chunk() -> Duration {
    let t = Instant::now();
    let _root = SpanGuard::from_meta(&ROOT, None);
    for _ in 1..CHUNK {
        traced();
    }
    drop(_root);
    t.elapsed()
}

/// Produces at `rate` spans/s for `secs`: (spans produced, time inside the spans).
fn produce(rate: f64, secs: f64) -> (u64, Duration) {
    let start = Instant::now();
    let mut produced = 0u64;
    let mut inside = Duration::ZERO;
    loop {
        let elapsed = start.elapsed().as_secs_f64();
        if elapsed >= secs {
            return (produced, inside);
        }
        if produced as f64 > rate * elapsed {
            std::thread::sleep(Duration::from_micros(200));
            continue;
        }
        inside += chunk();
        produced += CHUNK;
    }
}

/// Spans on the bench topic: one `"traceId"` per JSON span.
fn spans_on_topic() -> Result<u64, String> {
    let needle = b"\"traceId\"";
    Ok(read_topic(&bootstrap(), &topic())?
        .iter()
        .map(|v| v.windows(needle.len()).filter(|w| w == needle).count() as u64)
        .sum())
}

/// Runs Kafka's TopicCommand on the bench topic with `args`.
fn topic_command(args: &[&str]) -> Result<(), String> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/kafka.sh");
    let out = std::process::Command::new("bash")
        .args([
            script,
            "tool",
            "TopicCommand",
            "--bootstrap-server",
            &bootstrap(),
        ])
        .args(["--topic", &topic()])
        .args(args)
        .output()
        .map_err(|e| e.to_string())?;
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// One paced run at 550k spans/s; `suffix` names its rows.
fn throughput(secs: f64, reporter: ReporterConfig, suffix: &str) {
    let t = tracer(&kafka_endpoint(), reporter);
    let _d = t.set_default();
    chunk();
    t.flush(Duration::from_secs(10));
    let before = match spans_on_topic() {
        Ok(n) => n,
        Err(e) => {
            eprintln!("kafka: cannot read topic {} back: {e}", topic());
            return;
        }
    };
    let m0 = t.metrics();
    let start = Instant::now();
    let (produced, _) = produce(550_000.0, secs);
    let report = t.flush(Duration::from_secs(60));
    let wall = start.elapsed().as_secs_f64();
    let m1 = t.metrics();
    let sent = m1.spans_sent - m0.spans_sent;
    let dropped = m1.spans_dropped - m0.spans_dropped;
    let after = spans_on_topic().unwrap_or(0);
    let read_back = after.saturating_sub(before);
    eprintln!("kafka: {m1:?}");
    eprintln!(
        "kafka throughput{suffix}: produced {produced} sent {sent} dropped {dropped} in {wall:.2}s = \
         {:.3} M spans/s delivered; read back from the topic {read_back} (flush timed out: {})",
        sent as f64 / wall / 1e6,
        report.timed_out
    );
    record_extra(
        &format!("kafka_delivered_spans_per_s{suffix}"),
        sent as f64 / wall,
    );
    record_extra(&format!("kafka_dropped{suffix}"), dropped as f64);
    // Drops are `kafka_dropped`'s target; this one is about what the broker has.
    record_extra(
        &format!("kafka_topic_matches_sent{suffix}"),
        f64::from(read_back == sent),
    );
    t.shutdown(Duration::from_secs(5));
}

fn app_cost(secs: f64) {
    let sink = Sink::start(Mode::Ok).expect("sink");
    let kafka = tracer(&kafka_endpoint(), ReporterConfig::default());
    let http = tracer(&sink.url(), ReporterConfig::default());
    let mut per_span = [Vec::new(), Vec::new()];
    for round in 0..6 {
        let which = round % 2;
        let t = [kafka, http][which];
        let _d = t.set_default();
        chunk();
        t.flush(Duration::from_secs(10));
        let (n, inside) = produce(500_000.0, secs);
        let f = t.flush(Duration::from_secs(30));
        per_span[which].push(inside.as_nanos() as f64 / n as f64);
        if f.dropped > 0 {
            eprintln!("kafka app cost: round {round} dropped {} spans", f.dropped);
        }
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (k, h) = (median(&mut per_span[0]), median(&mut per_span[1]));
    eprintln!("kafka app cost: {k:.1} ns/span with Kafka, {h:.1} ns/span with HTTP ({per_span:?})");
    record_extra("kafka_app_ns_per_span", k);
    record_extra("http_app_ns_per_span", h);
    kafka.shutdown(Duration::from_secs(5));
    http.shutdown(Duration::from_secs(5));
}

/// One message sent again and again through the transport alone (no reporter): the median time
/// of a Produce round trip, for a 100 KB and a 500 KB message.
fn request_latency() {
    use zipkin_runtime::transport::kafka::{Acks, KafkaTransport};
    use zipkin_runtime::transport::{Message, Transport};
    use zipkin_runtime::Encoding;
    let acks = match std::env::var("KAFKA_BENCH_ACKS").as_deref() {
        Ok("0") => Acks::None,
        Ok("all") => Acks::All,
        _ => Acks::Leader,
    };
    let t = KafkaTransport::builder([bootstrap()])
        .topic(&topic())
        .acks(acks)
        .build()
        .expect("transport");
    for kb in [100usize, 500] {
        let span = br#"{"traceId":"0000000000000001","id":"0000000000000002","name":"traced","timestamp":1,"duration":1,"localEndpoint":{"serviceName":"kafka-bench"}},"#;
        let mut body = b"[".to_vec();
        while body.len() + span.len() < kb * 1000 {
            body.extend_from_slice(span);
        }
        body.pop();
        body.push(b']');
        let msg = Message {
            body,
            spans: 0,
            encoding: Encoding::Json,
        };
        let mut times = Vec::new();
        for _ in 0..60 {
            let t0 = Instant::now();
            if t.send(&msg).is_ok() {
                times.push(t0.elapsed().as_secs_f64() * 1e6);
            }
        }
        times.sort_by(f64::total_cmp);
        if let Some(m) = times.get(times.len() / 2) {
            eprintln!(
                "kafka produce round trip, {kb} KB message: median {m:.0} µs ({} sends)",
                times.len()
            );
            record_extra(&format!("kafka_produce_{kb}kb_us"), *m);
        }
    }
}

fn main() {
    let filter = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .find(|a| a.parse::<f64>().is_err());
    if let Some(f) = filter {
        if !f.contains("kafka") {
            return;
        }
    }
    if let Err(e) = std::net::TcpStream::connect(bootstrap()) {
        eprintln!(
            "kafka: no broker at {} ({e}); start one with `bash scripts/kafka.sh start`; not measured",
            bootstrap()
        );
        return;
    }
    let create = ["--create", "--partitions", "6", "--replication-factor", "1"];
    if let Err(e) = topic_command(&create) {
        eprintln!("kafka: cannot create topic {}: {e}; not measured", topic());
        return;
    }
    zipkin_runtime::__unstable::clock::warm_up();
    request_latency();
    let secs = if quick() { 1.0 } else { 5.0 };
    let sized = ReporterConfig {
        queue_max_spans: THROUGHPUT_QUEUE_SPANS,
        ..ReporterConfig::default()
    };
    // The broker's first seconds of load after it starts stall it (its JVM compiles the
    // produce path): in the first run after a start the sized queue dropped 31,521 spans, and
    // the default one 187,586 once, where later runs dropped none. A service's broker has long
    // been warm, so the target is measured after one unmeasured run; what that run dropped is
    // recorded beside it (`kafka_dropped_warm_up`).
    throughput(secs, sized.clone(), "_warm_up");
    throughput(secs, sized, "");
    // The same with the default queue, for the record: how often 18 ms is not enough here.
    throughput(secs, ReporterConfig::default(), "_default_queue");
    app_cost(if quick() { 0.5 } else { 2.0 });
    if let Err(e) = topic_command(&["--delete"]) {
        eprintln!("kafka: could not delete topic {}: {e}", topic());
    }
}
