//! S5: many init/shutdown cycles leave no growth in threads, file descriptors or memory.
//! One test alone in its binary, so no other test's threads or sockets are counted.

mod common;

use std::time::{Duration, Instant};

use common::*;
use zipkin_runtime::{ReporterConfig, SpanGuard};
use zipkin_testkit::probe::{self, fmt_dur, mib};
use zipkin_testkit::{Collector, Keep, Mode, Report};

fn cycle(c: &Collector) {
    let t = tracer(
        c,
        ReporterConfig {
            drain_interval: Duration::from_millis(5),
            ..defaults()
        },
    );
    t.in_scope(|| {
        let _root = SpanGuard::new("root");
        for _ in 0..9 {
            drop(SpanGuard::new("child"));
        }
    });
    let f = t.shutdown(Duration::from_secs(10));
    assert_eq!((f.sent, f.dropped, f.queued), (10, 0, 0), "{f:?}");
}

/// Waits for the collector's connection threads of finished cycles to end.
fn settle(c: &Collector, threads: usize) -> (usize, usize) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (t, f) = (probe::threads(), probe::fds());
        if (c.open_connections() == 0 && t <= threads) || Instant::now() > deadline {
            return (t, f);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn a_thousand_init_shutdown_cycles_leave_no_threads_fds_or_memory_behind() {
    let n: usize = std::env::var("RELIABILITY_CYCLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let mut r = Report::new("S5 init/shutdown cycles");
    let c = Collector::builder(Mode::Accept).keep(Keep::Counts).start();
    // Warm up: lazily initialised statics (clock, interned names, TLS roots, allocator arenas).
    for _ in 0..50 {
        cycle(&c);
    }
    let (threads0, _) = settle(&c, usize::MAX);
    let (threads0, fds0) = settle(&c, threads0);
    let rss0 = probe::rss_bytes();
    let started = Instant::now();
    for _ in 0..n {
        cycle(&c);
    }
    let took = started.elapsed();
    let (threads1, fds1) = settle(&c, threads0);
    let rss1 = probe::rss_bytes();
    r.figure("cycles (build, 10 spans over HTTP, shutdown)", n);
    r.figure("time per cycle", fmt_dur(took / n as u32));
    r.check(
        "threads before -> after",
        format!("{threads0} -> {threads1}"),
        threads1 <= threads0,
    );
    r.check(
        "fds before -> after",
        format!("{fds0} -> {fds1}"),
        fds1 <= fds0,
    );
    // What stays per cycle by design: a `Tracer` is a `Copy` handle to state that lives for the
    // rest of the process (about 1.5 KiB: settings, counters, one empty buffer header). A leaked
    // thread buffer would be ~100 KiB per cycle, a leaked HTTP client or runtime more.
    let grown = rss1 as i64 - rss0 as i64;
    let per_cycle = grown / n as i64;
    r.check(
        "RSS growth per cycle (allowed: < 4 KiB, the tracer's static state)",
        format!(
            "{per_cycle:+} bytes ({:.1} MiB -> {:.1} MiB)",
            mib(rss0),
            mib(rss1)
        ),
        per_cycle < 4096,
    );
    r.check(
        "spans accepted by the collector",
        c.accepted_spans(),
        c.accepted_spans() == 10 * (n as u64 + 50),
    );
    r.finish();
}
