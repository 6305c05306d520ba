//! End to end through the real library: `#[zipkin_span]` on one producer thread -> per-thread
//! ring -> reporter -> JSON encoder -> the HTTP transport (reqwest) -> a std loopback sink that
//! counts spans. Then the same against a collector that accepts and never answers, to bound
//! memory and check that every span is accounted for.
//!
//! Not a criterion bench (it measures rates, counts and bytes); it writes its numbers to the
//! side channel read by `report`. Criterion's flags are accepted and ignored.

use std::hint::black_box;
use std::time::{Duration, Instant};

use zipkin_bench::sink::{Mode, Sink};
use zipkin_bench::{proc_status_bytes, quick, record_extra, reset_peak_rss, CHUNK};
use zipkin_runtime::__private::SpanMeta;
use zipkin_runtime::{ReporterConfig, SpanGuard, Tracer};

static ROOT: SpanMeta = SpanMeta::new("root");

#[zipkin_rs::zipkin_span]
#[inline(never)]
fn traced() {
    black_box(());
}

fn tracer(url: &str, reporter: ReporterConfig) -> Tracer {
    Tracer::builder()
        .service_name("e2e")
        .endpoint(url)
        .expect("sink url")
        .timeouts(Duration::from_millis(500), Duration::from_secs(2))
        .reporter(reporter)
        .build()
        .expect("tracer")
}

/// One root and `CHUNK - 1` children: `CHUNK` spans.
fn chunk() {
    let _root = SpanGuard::from_meta(&ROOT, None);
    for _ in 1..CHUNK {
        traced();
    }
}

fn cpu_seconds() -> f64 {
    // SAFETY: getrusage fills the struct we pass.
    unsafe {
        let mut ru: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut ru);
        let t = |tv: libc::timeval| tv.tv_sec as f64 + tv.tv_usec as f64 / 1e6;
        t(ru.ru_utime) + t(ru.ru_stime)
    }
}

/// Produces at `rate` spans/s (0 = as fast as possible) for `secs`; returns spans produced.
fn produce(rate: f64, secs: f64) -> u64 {
    let start = Instant::now();
    let mut produced = 0u64;
    loop {
        let elapsed = start.elapsed().as_secs_f64();
        if elapsed >= secs {
            return produced;
        }
        if rate > 0.0 && produced as f64 > rate * elapsed {
            std::thread::sleep(Duration::from_micros(200));
            continue;
        }
        chunk();
        produced += CHUNK;
    }
}

fn throughput(name: &str, rate: f64, secs: f64) {
    let sink = Sink::start(Mode::Ok).expect("sink");
    let mut cfg = ReporterConfig::default();
    if let Some(n) = std::env::var("E2E_RING").ok().and_then(|v| v.parse().ok()) {
        cfg.thread_buffer_spans = n;
    }
    let t = tracer(&sink.url(), cfg);
    let _d = t.set_default();
    // Warm: rings, the HTTP client and its connection exist before timing.
    chunk();
    t.flush(Duration::from_secs(10));
    let base_sink = sink.spans();
    let m0 = t.metrics();
    let cpu0 = cpu_seconds();
    let start = Instant::now();
    let produced = produce(rate, secs);
    let report = t.flush(Duration::from_secs(30));
    let wall = start.elapsed().as_secs_f64();
    let cpu = cpu_seconds() - cpu0;
    // The sink may still be counting the last message it acknowledged.
    let deadline = Instant::now() + Duration::from_secs(5);
    while sink.spans() - base_sink < report.sent - m0.spans_sent && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    let m1 = t.metrics();
    let delivered = sink.spans() - base_sink;
    let dropped = m1.spans_dropped - m0.spans_dropped;
    let thread_full = m1.dropped_thread_buffer_full - m0.dropped_thread_buffer_full;
    let queue_full = m1.dropped_queue_full - m0.dropped_queue_full;
    let offered = m1.spans_offered - m0.spans_offered;
    eprintln!("e2e {name}: {:?}", m1);
    eprintln!(
        "e2e {name}: produced {produced} offered {offered} delivered {delivered} dropped {dropped} \
         (thread buffer full {thread_full}, queue full {queue_full}) \
         in {wall:.2}s = {:.3} M spans/s delivered, {:.2} cores, {} requests",
        delivered as f64 / wall / 1e6,
        cpu / wall,
        sink.counts
            .requests
            .load(std::sync::atomic::Ordering::Relaxed)
    );
    record_extra(&format!("{name}_produced"), produced as f64);
    record_extra(
        &format!("{name}_delivered_spans_per_s"),
        delivered as f64 / wall,
    );
    record_extra(&format!("{name}_dropped"), dropped as f64);
    record_extra(
        &format!("{name}_dropped_thread_buffer_full"),
        thread_full as f64,
    );
    record_extra(&format!("{name}_dropped_queue_full"), queue_full as f64);
    record_extra(&format!("{name}_cpu_cores"), cpu / wall);
    record_extra(
        &format!("{name}_sink_matches_library"),
        f64::from(delivered == m1.spans_sent - m0.spans_sent),
    );
    t.shutdown(Duration::from_secs(5));
}

fn stalled(secs: f64) {
    let sink = Sink::start(Mode::Stall).expect("sink");
    let cfg = ReporterConfig::default();
    let queue = cfg.queue_max_bytes as u64;
    let t = tracer(&sink.url(), cfg);
    let _d = t.set_default();
    chunk(); // this thread's ring exists
    std::thread::sleep(Duration::from_millis(100));
    let reset = reset_peak_rss();
    let baseline = proc_status_bytes("VmRSS").unwrap_or(0);
    let produced = produce(0.0, secs) + CHUNK;
    let peak = proc_status_bytes("VmHWM").unwrap_or(u64::MAX);
    let report = t.shutdown(Duration::from_secs(3));
    let m = t.metrics();
    let bound = baseline + queue + (1 << 20);
    eprintln!(
        "stall: produced {produced}, offered {}, sent {}, dropped {} (thread buffer full {}, \
         queue full {}, transport {}, shutdown {}), queued {}; baseline RSS {:.1} MiB, peak {:.1} MiB, bound {:.1} MiB \
         (HWM reset: {reset}); shutdown timed out: {}",
        m.spans_offered,
        m.spans_sent,
        m.spans_dropped,
        m.dropped_thread_buffer_full,
        m.dropped_queue_full,
        m.dropped_transport_error,
        m.dropped_shutdown,
        m.spans_queued,
        baseline as f64 / 1048576.0,
        peak as f64 / 1048576.0,
        bound as f64 / 1048576.0,
        report.timed_out
    );
    record_extra("stall_produced", produced as f64);
    record_extra("stall_baseline_rss_bytes", baseline as f64);
    record_extra("stall_peak_rss_bytes", peak as f64);
    record_extra("stall_queue_bytes", queue as f64);
    record_extra("stall_rss_over_bound_bytes", peak as f64 - bound as f64);
    record_extra("stall_spans_dropped", m.spans_dropped as f64);
    let exact = m.spans_offered == produced
        && m.spans_offered == m.spans_sent + m.spans_dropped + m.spans_queued
        && m.spans_sent == 0
        && sink.spans() == 0;
    record_extra("stall_accounting_exact", f64::from(exact));
}

fn main() {
    // `cargo bench -- <filter>` passes criterion flags; a filter that names another bench
    // skips this one.
    let filter = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .find(|a| a.parse::<f64>().is_err());
    if let Some(f) = filter {
        if !"e2e".contains(f.as_str()) && !f.contains("e2e") {
            return;
        }
    }
    zipkin_runtime::__unstable::clock::warm_up();
    let secs = if quick() { 1.0 } else { 5.0 };
    throughput("e2e", 1_100_000.0, secs);
    throughput("e2e_saturated", 0.0, secs);
    stalled(if quick() { 1.0 } else { 4.0 });
}
