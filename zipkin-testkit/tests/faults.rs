//! Collector faults over real HTTP (the tracer's reqwest transport against the fault collector
//! on loopback). Every scenario checks `offered = sent + dropped + queued`, that every body is
//! valid Zipkin, that every report request carries `b3: 0`, and reports its figures.
//!
//! Timing checks are one-sided and generous (the machine is 2 noisy cores): a lower bound that a
//! sleep can never break, or an upper bound many times what is expected.

mod common;

use std::time::{Duration, Instant};

use common::*;
use zipkin_runtime::Encoding;
use zipkin_runtime::{ReporterConfig, SpanGuard, Tracer};
use zipkin_testkit::probe::{self, fmt_dur};
use zipkin_testkit::{Collector, Mode, Report};

fn one_root(t: Tracer) {
    t.in_scope(|| drop(SpanGuard::new("one")));
}

fn paced() -> Pace {
    Pace::Paced {
        per_burst: 1,
        sleep: Duration::from_millis(2),
    }
}

#[test]
fn collector_down_at_start_drops_are_counted_then_sending_starts() {
    let mut r = Report::new("F1 collector down at start");
    let c = Collector::start(Mode::Down);
    let t = tracer(&c, defaults());
    let p = Producer::start(t, 1, paced());
    std::thread::sleep(Duration::from_millis(1500));
    let down = t.metrics();
    c.set_mode(Mode::Accept);
    let recovered = time_until(Duration::from_secs(20), || c.accepted_spans() > 0);
    std::thread::sleep(Duration::from_millis(300));
    let (h, _) = p.stop();
    let f = t.flush(Duration::from_secs(20));
    let m = t.metrics();
    r.figure("spans offered while down (1.5 s)", down.spans_offered);
    r.check(
        "dropped (transport error) while down",
        down.dropped_transport_error,
        down.dropped_transport_error > 0,
    );
    r.figure(
        "messages given up while down (<= 1 per cool-down, 3 attempts each)",
        down.messages_dropped,
    );
    r.check(
        "time to first accepted span after the collector came up",
        recovered.map_or("never (20 s)".into(), fmt_dur),
        recovered.is_some(),
    );
    r.figure("app span end latency", h.summary());
    r.check(
        "flush after recovery",
        format!("{f:?}"),
        !f.timed_out && f.queued == 0,
    );
    r.accounting(&m);
    r.check(
        "collector accepted = spans_sent",
        format!("{} = {}", c.accepted_spans(), m.spans_sent),
        c.accepted_spans() == m.spans_sent,
    );
    check_requests(&mut r, &c);
    t.shutdown(Duration::from_secs(5));
    r.finish();
}

#[test]
fn collector_dies_mid_run_then_comes_back_and_sending_resumes() {
    let mut r = Report::new("F2 collector dies mid-run, comes back");
    let c = Collector::start(Mode::Accept);
    let t = tracer(&c, defaults());
    let p = Producer::start(t, 1, paced());
    std::thread::sleep(Duration::from_millis(1000));
    let before = c.accepted_spans();
    c.set_mode(Mode::Down);
    let died = t.metrics();
    std::thread::sleep(Duration::from_millis(1500));
    let while_down = t.metrics();
    c.set_mode(Mode::Accept);
    let at_up = c.accepted_spans();
    let recovered = time_until(Duration::from_secs(20), || c.accepted_spans() > at_up);
    std::thread::sleep(Duration::from_millis(300));
    let (h, _) = p.stop();
    let f = t.flush(Duration::from_secs(20));
    let m = t.metrics();
    r.check("spans accepted before the death", before, before > 0);
    r.figure("spans queued when it died", died.spans_queued);
    r.check(
        "dropped (transport error) while down (1.5 s)",
        while_down.dropped_transport_error - died.dropped_transport_error,
        while_down.dropped_transport_error > died.dropped_transport_error,
    );
    r.check(
        "time to recover (collector up -> next accepted span)",
        recovered.map_or("never (20 s)".into(), fmt_dur),
        recovered.is_some(),
    );
    r.check(
        "spans accepted after recovery",
        c.accepted_spans() - at_up,
        c.accepted_spans() > at_up,
    );
    r.figure("app span end latency", h.summary());
    r.check(
        "flush after recovery",
        format!("{f:?}"),
        !f.timed_out && f.queued == 0,
    );
    r.accounting(&m);
    // A request cut by the shutdown of its connection may have been read (and counted) by the
    // collector while the reporter saw it fail: count such duplicates, never lose spans.
    r.check(
        "collector accepted >= spans_sent",
        format!("{} >= {}", c.accepted_spans(), m.spans_sent),
        c.accepted_spans() >= m.spans_sent,
    );
    r.figure("duplicates at the collector", c.duplicate_spans());
    check_requests(&mut r, &c);
    t.shutdown(Duration::from_secs(5));
    r.finish();
}

/// Runs a paced producer for `d` against `c` and returns the end latencies and metrics.
fn paced_run(
    c: &Collector,
    cfg: ReporterConfig,
    d: Duration,
) -> (zipkin_testkit::Histogram, Tracer) {
    let t = builder(&c.url(), cfg)
        .timeouts(CONNECT_TIMEOUT, Duration::from_secs(2))
        .build()
        .unwrap();
    let burst = Pace::Paced {
        per_burst: 20,
        sleep: Duration::from_millis(1),
    };
    let (h, _) = produce(t, 1, 3, burst, d);
    (h, t)
}

#[test]
fn a_hung_collector_does_not_slow_the_app() {
    let mut r = Report::new("F3 collector hangs");
    let cfg = ReporterConfig {
        queue_max_spans: 2000,
        ..defaults()
    };
    let healthy = Collector::start(Mode::Accept);
    let (h_ok, t_ok) = paced_run(&healthy, cfg.clone(), Duration::from_millis(1500));
    t_ok.shutdown(Duration::from_secs(5));
    let hung = Collector::start(Mode::Hang);
    let (h_hung, t) = paced_run(&hung, cfg, Duration::from_millis(1500));
    let m = t.metrics();
    r.figure("span end latency, healthy collector", h_ok.summary());
    r.figure("span end latency, hung collector", h_hung.summary());
    // Blocked on the collector, an end would last the request timeout (2 s) or more.
    r.check(
        "max span end while hung < 1 s (request timeout 2 s)",
        fmt_dur(h_hung.max()),
        h_hung.max() < Duration::from_secs(1),
    );
    let bound = (h_ok.quantile(0.99) * 5).max(Duration::from_micros(50));
    r.check(
        "p99 while hung <= max(5 x healthy p99, 50 µs)",
        format!("{} <= {}", fmt_dur(h_hung.quantile(0.99)), fmt_dur(bound)),
        h_hung.quantile(0.99) <= bound,
    );
    r.check(
        "queue bounded: dropped queue_full while hung",
        m.dropped_queue_full,
        m.dropped_queue_full > 0,
    );
    r.figure("requests the hung collector received", hung.request_count());
    let started = Instant::now();
    let f = t.shutdown(Duration::from_millis(300));
    let took = started.elapsed();
    r.check(
        "shutdown(300 ms) with a hung collector returns (< 2.3 s)",
        fmt_dur(took),
        took < Duration::from_millis(2300) && f.timed_out,
    );
    r.accounting(&t.metrics());
    check_requests(&mut r, &hung);
    r.finish();
}

#[test]
fn a_slow_collector_limits_throughput_drops_are_counted() {
    let mut r = Report::new("F4 slow collector (200 ms per request)");
    let c = Collector::start(Mode::Slow(Duration::from_millis(200)));
    let cfg = ReporterConfig {
        queue_max_spans: 2000,
        ..defaults()
    };
    let t = builder(&c.url(), cfg)
        .timeouts(CONNECT_TIMEOUT, Duration::from_secs(5))
        .build()
        .unwrap();
    let (h, ended) = produce(t, 1, 3, Pace::Max, Duration::from_millis(1500));
    let f = t.flush(Duration::from_secs(30));
    let m = t.metrics();
    r.figure("spans ended in 1.5 s", ended);
    r.figure("span end latency", h.summary());
    r.figure("requests", c.request_count());
    r.check(
        "dropped queue_full (drain slower than offer)",
        m.dropped_queue_full,
        m.dropped_queue_full > 0,
    );
    r.check("flush", format!("{f:?}"), !f.timed_out && f.queued == 0);
    r.accounting(&m);
    r.check(
        "collector accepted = spans_sent",
        format!("{} = {}", c.accepted_spans(), m.spans_sent),
        c.accepted_spans() == m.spans_sent && m.spans_sent > 0,
    );
    check_requests(&mut r, &c);
    t.shutdown(Duration::from_secs(5));

    // Slower than the request timeout: every attempt times out, nothing is accepted.
    let c = Collector::start(Mode::Slow(Duration::from_secs(3)));
    let t = builder(
        &c.url(),
        ReporterConfig {
            max_attempts: 2,
            ..defaults()
        },
    )
    .timeouts(CONNECT_TIMEOUT, Duration::from_millis(300))
    .build()
    .unwrap();
    one_root(t);
    t.flush(Duration::from_secs(20));
    let m = t.metrics();
    r.check(
        "slower than the timeout: dropped transport_error",
        m.dropped_transport_error,
        m.dropped_transport_error == 1,
    );
    r.check(
        "slower than the timeout: attempts (max_attempts 2)",
        c.request_count(),
        c.request_count() == 2,
    );
    r.check(
        "slower than the timeout: accepted by the collector",
        c.accepted_spans(),
        c.accepted_spans() == 0,
    );
    r.accounting_as("slower than the timeout", &m);
    t.shutdown(Duration::from_secs(5));
    r.finish();
}

#[test]
fn server_errors_are_retried_a_bounded_number_of_times_with_backoff() {
    let mut r = Report::new("F5 5xx and 429: bounded retries with backoff");
    let cfg = defaults();
    for status in [500u16, 503, 429] {
        let c = Collector::start(Mode::Status(status));
        let t = tracer(&c, cfg.clone());
        one_root(t);
        let f = t.flush(Duration::from_secs(20));
        let m = t.metrics();
        let reqs = c.requests();
        let gaps: Vec<Duration> = reqs.windows(2).map(|w| w[1].at - w[0].at).collect();
        r.check(
            &format!(
                "{status}: attempts at the collector (max_attempts {})",
                cfg.max_attempts
            ),
            reqs.len(),
            reqs.len() == cfg.max_attempts as usize,
        );
        // Full jitter in [backoff/2, backoff], doubling: a gap is never shorter than half.
        let mut floor = cfg.retry_backoff / 2;
        let mut ok = true;
        for g in &gaps {
            ok &= *g >= floor.saturating_sub(Duration::from_millis(5));
            floor *= 2;
        }
        r.check(
            &format!("{status}: gaps between attempts (>= 50 ms, >= 100 ms)"),
            gaps.iter()
                .map(|g| fmt_dur(*g))
                .collect::<Vec<_>>()
                .join(", "),
            ok,
        );
        r.check(
            &format!("{status}: same message each attempt"),
            reqs.iter().map(|q| q.body_len).collect::<Vec<_>>().len(),
            reqs.iter().all(|q| q.body_len == reqs[0].body_len),
        );
        r.check(
            &format!("{status}: dropped transport_error / messages_dropped"),
            format!("{} / {}", m.dropped_transport_error, m.messages_dropped),
            m.dropped_transport_error == 1 && m.messages_dropped == 1 && !f.timed_out,
        );
        r.accounting_as(&status.to_string(), &m);
        check_requests_as(&mut r, &status.to_string(), &c);
        t.shutdown(Duration::from_secs(5));
    }
    r.finish();
}

#[test]
fn client_errors_are_sent_exactly_once() {
    let mut r = Report::new("F6 4xx: never retried");
    // 413 is split rather than dropped whole: F12.
    for status in [400u16, 401, 404] {
        let c = Collector::start(Mode::Status(status));
        let t = tracer(&c, defaults());
        t.in_scope(|| {
            let _root = SpanGuard::new("root");
            drop(SpanGuard::new("child"));
        });
        t.flush(Duration::from_secs(20));
        // Give a (wrong) retry every chance to show up.
        std::thread::sleep(Duration::from_millis(300));
        let m = t.metrics();
        r.check(
            &format!("{status}: attempts"),
            c.request_count(),
            c.request_count() == 1,
        );
        r.check(
            &format!("{status}: dropped rejected"),
            m.dropped_rejected,
            m.dropped_rejected == 2,
        );
        r.accounting_as(&status.to_string(), &m);
        check_requests_as(&mut r, &status.to_string(), &c);
        t.shutdown(Duration::from_secs(5));
    }
    r.finish();
}

#[test]
fn a_connection_reset_mid_body_is_counted_and_the_next_message_goes_through() {
    let mut r = Report::new("F7 connection reset mid-body");
    let c = Collector::start(Mode::ResetMidBody);
    let cfg = defaults();
    let t = tracer(&c, cfg.clone());
    t.in_scope(|| {
        let _root = SpanGuard::new("root");
        for _ in 0..200 {
            // A body of some size, so the reset lands in the middle of it.
            SpanGuard::new("child").tag("payload", "x".repeat(100));
        }
    });
    let f = t.flush(Duration::from_secs(20));
    let m = t.metrics();
    r.check(
        "dropped transport_error (201 spans)",
        m.dropped_transport_error,
        m.dropped_transport_error == 201 && !f.timed_out,
    );
    // Usually one message; a drain tick in the middle of the loop can cut two.
    r.check(
        "attempts at the collector = max_attempts (3) x messages given up",
        format!("{} = 3 x {}", c.request_count(), m.messages_dropped),
        m.messages_dropped >= 1
            && c.request_count() == cfg.max_attempts as u64 * m.messages_dropped,
    );
    c.set_mode(Mode::Accept);
    let since = Instant::now();
    one_root(t);
    let f = t.flush(Duration::from_secs(20));
    r.check(
        "next message after the reset delivered (flush)",
        format!("{} in {}", f.sent, fmt_dur(since.elapsed())),
        f.sent == 1 && !f.timed_out,
    );
    r.accounting(&t.metrics());
    check_requests(&mut r, &c);
    t.shutdown(Duration::from_secs(5));
    r.finish();
}

#[test]
fn a_huge_response_body_is_read_only_up_to_the_cap() {
    let mut r = Report::new("F8 huge response body (1 GiB announced)");
    // What the kernel can buffer between the two ends of a loopback connection, beyond the
    // 64 KiB the transport reads. 16 MiB is far above it and far below the 1 GiB announced.
    let bound = 16u64 << 20;
    for status in [200u16, 500] {
        let c = Collector::start(Mode::HugeResponse {
            status,
            bytes: 1 << 30,
        });
        let rss0 = probe::rss_bytes();
        let t = tracer(&c, defaults());
        one_root(t);
        let f = t.flush(Duration::from_secs(30));
        std::thread::sleep(Duration::from_millis(200));
        let m = t.metrics();
        let written = c.response_bytes_written();
        let attempts = c.request_count();
        r.check(
            &format!("{status}: response bytes the collector got out, {attempts} attempt(s)"),
            written,
            written < bound * attempts.max(1),
        );
        r.figure(
            &format!("{status}: RSS change"),
            format!(
                "{:+.1} MiB",
                probe::mib(probe::rss_bytes()) - probe::mib(rss0)
            ),
        );
        let expected = if status == 200 {
            m.spans_sent == 1
        } else {
            m.dropped_transport_error == 1
        };
        r.check(
            &format!("{status}: outcome by status"),
            format!("sent {} dropped {}", m.spans_sent, m.spans_dropped),
            expected && !f.timed_out,
        );
        r.accounting_as(&status.to_string(), &m);
        t.shutdown(Duration::from_secs(5));
    }
    r.finish();
}

#[test]
fn redirects_are_not_followed() {
    let mut r = Report::new("F8 redirect (307 to another collector)");
    let target = Collector::start(Mode::Accept);
    let c = Collector::start(Mode::Redirect(target.url()));
    let t = builder(&c.url(), defaults())
        .auth_header("Authorization", "Bearer redirect-s3cret")
        .build()
        .unwrap();
    one_root(t);
    t.flush(Duration::from_secs(20));
    std::thread::sleep(Duration::from_millis(300));
    let m = t.metrics();
    r.check(
        "requests at the redirecting collector",
        c.request_count(),
        c.request_count() == 1,
    );
    r.check(
        "requests at the redirect target",
        target.request_count(),
        target.request_count() == 0,
    );
    r.check(
        "span counted as dropped",
        m.spans_dropped,
        m.spans_dropped == 1,
    );
    r.accounting(&m);
    check_requests(&mut r, &c);
    t.shutdown(Duration::from_secs(5));
    r.finish();
}

#[test]
fn a_flapping_collector_loses_nothing_unaccounted() {
    let mut r = Report::new("F2b collector flaps (300 ms up / 300 ms down)");
    let c = Collector::start(Mode::Accept);
    let t = tracer(&c, defaults());
    c.start_flapping(Duration::from_millis(300), Duration::from_millis(300));
    let (h, ended) = produce(t, 1, 1, paced(), Duration::from_secs(3));
    c.stop_flapping();
    let f = t.flush(Duration::from_secs(20));
    let m = t.metrics();
    r.figure("spans ended", ended);
    r.figure("app span end latency", h.summary());
    r.check("spans sent", m.spans_sent, m.spans_sent > 0);
    r.figure("dropped transport_error", m.dropped_transport_error);
    r.check(
        "flush once up",
        format!("{f:?}"),
        !f.timed_out && f.queued == 0,
    );
    r.accounting(&m);
    r.check(
        "collector accepted >= spans_sent",
        format!("{} >= {}", c.accepted_spans(), m.spans_sent),
        c.accepted_spans() >= m.spans_sent,
    );
    r.figure("duplicates at the collector", c.duplicate_spans());
    check_requests(&mut r, &c);
    t.shutdown(Duration::from_secs(5));
    r.finish();
}

#[test]
fn an_unresolvable_collector_host_is_a_counted_failure() {
    let mut r = Report::new("F9 unresolvable collector host");
    let t = builder(
        "http://zipkin-collector.invalid:9411/api/v2/spans",
        defaults(),
    )
    .build()
    .unwrap();
    let started = Instant::now();
    one_root(t);
    let f = t.flush(Duration::from_secs(60));
    let took = started.elapsed();
    let m = t.metrics();
    r.check(
        "dropped transport_error",
        m.dropped_transport_error,
        m.dropped_transport_error == 1 && !f.timed_out,
    );
    r.figure(
        "time until the span was given up (3 attempts)",
        fmt_dur(took),
    );
    r.accounting(&m);
    t.shutdown(Duration::from_secs(5));
    r.finish();
}

/// One root through a collector that answers the first request with `status` and
/// `Retry-After: value`, then accepts. Returns the gap between the two requests.
fn throttled_once(r: &mut Report, label: &str, status: u16, value: &str) -> Option<Duration> {
    let c = Collector::start(Mode::Throttle {
        status,
        retry_after: value.to_owned(),
        times: 1,
    });
    let t = tracer(&c, defaults());
    one_root(t);
    let f = t.flush(Duration::from_secs(30));
    let m = t.metrics();
    let reqs = c.requests();
    r.check(
        &format!("{label}: requests (throttled, then accepted)"),
        reqs.len(),
        reqs.len() == 2,
    );
    r.check(
        &format!("{label}: sent / collector accepted"),
        format!("{} / {}", m.spans_sent, c.accepted_spans()),
        m.spans_sent == 1 && c.accepted_spans() == 1 && !f.timed_out,
    );
    r.accounting_as(label, &m);
    check_requests_as(r, label, &c);
    t.shutdown(Duration::from_secs(5));
    (reqs.len() == 2).then(|| reqs[1].at - reqs[0].at)
}

#[test]
fn retry_after_is_honoured_up_to_the_bound() {
    let mut r = Report::new("F11 429/503 with Retry-After");
    // Our own backoff would retry after 50-100 ms; the collector asks for 1 s.
    let gap = throttled_once(&mut r, "503 Retry-After: 1", 503, "1");
    r.check(
        "503 Retry-After: 1: gap between attempts (>= 1 s, < 4 s)",
        gap.map_or("-".into(), fmt_dur),
        gap.is_some_and(|g| g >= Duration::from_secs(1) && g < Duration::from_secs(4)),
    );
    // The HTTP-date form: 3 s ahead of now's whole second, so at least 2 s from now.
    let date = httpdate::fmt_http_date(std::time::SystemTime::now() + Duration::from_secs(3));
    let gap = throttled_once(&mut r, "429 Retry-After: <date>", 429, &date);
    r.check(
        "429 Retry-After: <date 2-3 s ahead>: gap between attempts (>= 1.9 s, < 4.5 s)",
        gap.map_or("-".into(), fmt_dur),
        gap.is_some_and(|g| g >= Duration::from_millis(1900) && g < Duration::from_millis(4500)),
    );
    // Unreadable: as if absent, our own backoff (a misreading of the 30 would wait 30 s, past
    // the bound, and give the message up).
    let gap = throttled_once(&mut r, "503 Retry-After: 30 seconds", 503, "30 seconds");
    r.check(
        "503 Retry-After: 30 seconds: gap between attempts (own backoff, >= 50 ms, < 2 s)",
        gap.map_or("-".into(), fmt_dur),
        gap.is_some_and(|g| g >= Duration::from_millis(45) && g < Duration::from_secs(2)),
    );

    // Longer than the bound: each message is given up at its first answer, and the next
    // one waits the bound, however fast spans arrive.
    let bound = Duration::from_millis(500);
    let c = Collector::start(Mode::Throttle {
        status: 429,
        retry_after: "3600".into(),
        times: u64::MAX,
    });
    let t = tracer(
        &c,
        ReporterConfig {
            retry_backoff_max: bound,
            ..defaults()
        },
    );
    let start = Instant::now();
    while start.elapsed() < Duration::from_millis(1600) {
        one_root(t);
        std::thread::sleep(Duration::from_millis(10));
    }
    let produced = start.elapsed();
    // Shutdown keeps the bound too (the collector asked): what does not fit in its timeout
    // is dropped as shutdown.
    let f = t.shutdown(Duration::from_secs(2));
    // A message the sender had started is left to end on its own.
    time_until(Duration::from_secs(10), || t.metrics().spans_queued == 0);
    let m = t.metrics();
    let reqs = c.requests();
    let gaps: Vec<Duration> = reqs.windows(2).map(|w| w[1].at - w[0].at).collect();
    let while_producing = reqs.iter().filter(|q| q.at - start <= produced).count();
    r.check(
        "Retry-After: 3600, bound 500 ms: requests while spans came for 1.6 s (<= 5)",
        while_producing,
        (1..=5).contains(&while_producing),
    );
    r.check(
        "Retry-After: 3600, bound 500 ms: gaps between requests, shutdown included (>= 500 ms)",
        gaps.iter()
            .map(|g| fmt_dur(*g))
            .collect::<Vec<_>>()
            .join(", "),
        gaps.iter().all(|g| *g >= bound),
    );
    let in_requests: usize = reqs.iter().map(|q| q.span_count).sum();
    r.check(
        "Retry-After: 3600: spans dropped transport_error = spans in requests (one each)",
        format!("{} = {in_requests}", m.dropped_transport_error),
        m.dropped_transport_error == in_requests as u64
            && m.spans_sent == 0
            && m.spans_queued == 0
            && f.timed_out == (m.dropped_shutdown > 0),
    );
    r.accounting_as("Retry-After: 3600", &m);
    check_requests_as(&mut r, "Retry-After: 3600", &c);
    r.finish();
}

#[test]
fn payload_too_large_is_split_so_only_the_oversized_span_is_dropped() {
    let mut r = Report::new("F12 413: messages split at span boundaries");
    const LIMIT: usize = 2_000;
    for enc in [Encoding::Json, Encoding::Proto] {
        let label = format!("{enc:?}");
        let c = Collector::start(Mode::MaxBody(LIMIT));
        // Nothing leaves before the flush: one message of all 22 spans.
        let t = builder(
            &c.url(),
            ReporterConfig {
                drain_interval: Duration::from_secs(3600),
                batch_timeout: Duration::from_secs(3600),
                ..defaults()
            },
        )
        .encoding(enc)
        .build()
        .unwrap();
        // The drainer's first pass runs as its thread starts; one that fell among the spans
        // below took the children alone and, seeing the root end (a local root asks for its
        // batch to close), sent them as a message of their own (1 run in ~20, in release).
        // After a flush that pass is over, and the next waits for the flush below.
        t.flush(Duration::from_secs(10));
        t.in_scope(|| {
            let _root = SpanGuard::new("root");
            for i in 0..20 {
                drop(SpanGuard::new(format!("child-{i}")));
            }
            let mut big = SpanGuard::new("big");
            big.tag("blob", "x".repeat(2 * LIMIT));
        });
        let f = t.flush(Duration::from_secs(30));
        let m = t.metrics();
        let reqs = c.requests();
        let mut names: Vec<String> = c.spans().into_iter().filter_map(|s| s.name).collect();
        names.sort();
        let mut expected: Vec<String> = (0..20).map(|i| format!("child-{i}")).collect();
        expected.push("root".into());
        expected.sort();
        r.check(
            &format!("{label}: first request holds every span and is refused"),
            format!("{} spans, {:?}", reqs[0].span_count, reqs[0].answered),
            reqs[0].span_count == 22 && reqs[0].answered == Some(413),
        );
        r.check(
            &format!("{label}: spans the collector stored (all but the oversized one)"),
            names.len(),
            names == expected && c.duplicate_spans() == 0,
        );
        let accepted: Vec<_> = reqs.iter().filter(|q| q.answered == Some(202)).collect();
        let alone: Vec<_> = reqs
            .iter()
            .filter(|q| q.answered == Some(413) && q.span_count == 1)
            .collect();
        r.check(
            &format!("{label}: sent / dropped rejected / dropped"),
            format!(
                "{} / {} / {}",
                m.spans_sent, m.dropped_rejected, m.spans_dropped
            ),
            m.spans_sent == 21 && m.dropped_rejected == 1 && m.spans_dropped == 1,
        );
        r.check(
            &format!("{label}: messages sent = requests accepted; dropped = refused alone"),
            format!(
                "{} = {}; {} = {}",
                m.messages_sent,
                accepted.len(),
                m.messages_dropped,
                alone.len()
            ),
            m.messages_sent == accepted.len() as u64 && m.messages_dropped == 1 && alone.len() == 1,
        );
        let bytes: u64 = accepted.iter().map(|q| q.body_len as u64).sum();
        r.check(
            &format!("{label}: bytes sent = bytes the collector accepted"),
            format!("{} = {bytes}", m.bytes_sent),
            m.bytes_sent == bytes && !f.timed_out,
        );
        r.figure(&format!("{label}: requests"), reqs.len());
        r.accounting_as(&label, &m);
        check_requests_as(&mut r, &label, &c);
        t.shutdown(Duration::from_secs(5));
    }
    r.finish();
}
