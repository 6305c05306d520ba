//! Shutdown over real HTTP: bounded with a full queue and a hung collector, inside tokio
//! runtimes of each flavour, twice, and with spans ending after it.

mod common;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use zipkin_runtime::{ReporterConfig, Span, SpanGuard, Tracer};
use zipkin_testkit::probe::fmt_dur;
use zipkin_testkit::{Collector, Mode, Report};

fn emit(t: Tracer, requests: usize, children: usize) {
    t.in_scope(|| {
        for _ in 0..requests {
            let _root = SpanGuard::new("request");
            for _ in 0..children {
                drop(SpanGuard::new("work"));
            }
        }
    });
}

#[test]
fn shutdown_with_a_full_queue_and_a_hung_collector_returns_within_its_timeout() {
    let mut r = Report::new("S2 shutdown: full queue + hung collector");
    let c = Collector::start(Mode::Hang);
    let cfg = ReporterConfig {
        queue_max_spans: 1000,
        ..defaults()
    };
    let t = builder(&c.url(), cfg)
        .timeouts(CONNECT_TIMEOUT, Duration::from_secs(30))
        .build()
        .unwrap();
    emit(t, 50, 99); // 5000 spans into a queue of 1000
    let full = time_until(Duration::from_secs(20), || {
        let m = t.metrics();
        m.spans_buffered == 0 && m.dropped_queue_full > 0
    });
    r.check(
        "queue full (dropped queue_full)",
        t.metrics().dropped_queue_full,
        full.is_some(),
    );
    let timeout = Duration::from_millis(500);
    let started = Instant::now();
    let f = t.shutdown(timeout);
    let took = started.elapsed();
    r.check(
        "shutdown(500 ms) duration (allowed: 500 ms .. 2.5 s on this noisy machine)",
        fmt_dur(took),
        took >= timeout && took < Duration::from_millis(2500),
    );
    r.check("reported as timed out", f.timed_out, f.timed_out);
    let m = t.metrics();
    // The 1000 queued spans are either in the message in flight (still queued until the
    // request timeout ends it) or dropped and counted as shutdown leftovers.
    r.check(
        "queued spans: in flight + dropped_shutdown = the queue's 1000",
        format!("{} + {}", m.spans_queued, m.dropped_shutdown),
        m.spans_queued + m.dropped_shutdown == 1000 && m.spans_buffered == 0,
    );
    r.accounting(&m);
    // Spans ending after shutdown are refused and counted.
    emit(t, 1, 1);
    let m2 = t.metrics();
    r.check(
        "spans after shutdown counted dropped_shutdown",
        m2.dropped_shutdown - m.dropped_shutdown,
        m2.dropped_shutdown - m.dropped_shutdown == 2,
    );
    r.accounting_as("after", &m2);
    r.finish();
}

#[test]
fn shutdown_twice_and_flush_after_shutdown_are_safe() {
    let mut r = Report::new("S4 shutdown twice, flush after shutdown");
    let c = Collector::start(Mode::Accept);
    let t = tracer(&c, defaults());
    emit(t, 3, 3);
    let first = t.shutdown(Duration::from_secs(10));
    let started = Instant::now();
    let second = t.shutdown(Duration::from_secs(10));
    let flush = t.flush(Duration::from_secs(10));
    let took = started.elapsed();
    r.check(
        "first shutdown sends everything",
        format!("{first:?}"),
        first.sent == 12 && first.queued == 0 && !first.timed_out,
    );
    r.check(
        "second shutdown and a flush: same totals",
        format!("{second:?}"),
        second == first && flush.sent == first.sent,
    );
    r.check(
        "second shutdown + flush return at once (< 1 s)",
        fmt_dur(took),
        took < Duration::from_secs(1),
    );
    r.check(
        "collector accepted",
        c.accepted_spans(),
        c.accepted_spans() == 12,
    );
    r.accounting(&t.metrics());
    check_requests(&mut r, &c);
    r.finish();
}

async fn async_work(t: Tracer) {
    let mut root = t.in_scope(|| Span::builder("async-request").start_detached());
    let child = root.in_scope(|| Span::builder("async-child").start_detached());
    child.instrument(tokio::task::yield_now()).await;
    root.instrument(tokio::time::sleep(Duration::from_millis(1)))
        .await;
}

/// Runs `f` in a runtime of the given flavour; `None` is current_thread.
fn in_runtime<R>(workers: Option<usize>, f: impl std::future::Future<Output = R>) -> R {
    let rt = match workers {
        None => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap(),
        Some(n) => tokio::runtime::Builder::new_multi_thread()
            .worker_threads(n)
            .enable_all()
            .build()
            .unwrap(),
    };
    rt.block_on(f)
}

#[test]
fn shutdown_inside_tokio_runtimes_of_every_flavour() {
    let mut r = Report::new("S3 shutdown inside tokio runtimes");
    for (name, workers) in [
        ("current_thread", None),
        ("multi_thread(1)", Some(1)),
        ("multi_thread(2)", Some(2)),
    ] {
        // Healthy collector: everything arrives.
        let c = Collector::start(Mode::Accept);
        let t = tracer(&c, defaults());
        let (f, took) = in_runtime(workers, async move {
            let tasks: Vec<_> = (0..10).map(|_| tokio::spawn(async_work(t))).collect();
            for task in tasks {
                task.await.unwrap();
            }
            let started = Instant::now();
            // Blocking call on the runtime's own thread: the reporter needs nothing from it.
            let f = t.shutdown(Duration::from_secs(10));
            (f, started.elapsed())
        });
        r.check(
            &format!("{name}, healthy: all 20 spans sent, collector accepted"),
            format!(
                "sent {} accepted {} in {}",
                f.sent,
                c.accepted_spans(),
                fmt_dur(took)
            ),
            f.sent == 20 && c.accepted_spans() == 20 && !f.timed_out,
        );
        r.accounting_as(name, &t.metrics());

        // Hung collector: shutdown still returns within its timeout.
        let c = Collector::start(Mode::Hang);
        let t = builder(&c.url(), defaults())
            .timeouts(CONNECT_TIMEOUT, Duration::from_secs(30))
            .build()
            .unwrap();
        let (f, took) = in_runtime(workers, async move {
            async_work(t).await;
            let started = Instant::now();
            let f = t.shutdown(Duration::from_millis(300));
            (f, started.elapsed())
        });
        r.check(
            &format!("{name}, hung: shutdown(300 ms) returns (< 2.3 s)"),
            fmt_dur(took),
            f.timed_out && took < Duration::from_millis(2300),
        );
        r.accounting_as(&format!("{name}, hung"), &t.metrics());
    }
    r.finish();
}

#[test]
fn flush_and_shutdown_racing_producers_miss_no_span_ended_before_the_call() {
    let mut r = Report::new("S6 flush/shutdown racing 4 producers");
    let c = Collector::start(Mode::Accept);
    let t = tracer(&c, defaults());
    let ended = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let producers: Vec<_> = (0..4)
        .map(|_| {
            let (ended, stop) = (ended.clone(), stop.clone());
            std::thread::spawn(move || {
                let _d = t.set_default();
                while !stop.load(Ordering::Relaxed) {
                    {
                        let _root = SpanGuard::new("request");
                        drop(SpanGuard::new("work"));
                    }
                    ended.fetch_add(2, Ordering::Release);
                    std::thread::sleep(Duration::from_micros(200));
                }
            })
        })
        .collect();
    let mut missed = 0u64;
    let mut flushes = 0;
    let deadline = Instant::now() + Duration::from_millis(1500);
    while Instant::now() < deadline {
        let before = ended.load(Ordering::Acquire);
        let f = t.flush(Duration::from_secs(10));
        flushes += 1;
        // Everything ended before the call has left the queue: sent or dropped.
        if !f.timed_out && f.sent + f.dropped < before {
            missed += before - (f.sent + f.dropped);
        }
    }
    let before = ended.load(Ordering::Acquire);
    let f = t.shutdown(Duration::from_secs(10));
    stop.store(true, Ordering::Relaxed);
    for p in producers {
        p.join().unwrap();
    }
    r.figure("flushes while producing", flushes);
    r.check(
        "spans ended before a flush but missed by it",
        missed,
        missed == 0,
    );
    r.check(
        "shutdown while producing: sent + dropped >= ended before the call",
        format!("{} + {} >= {before}", f.sent, f.dropped),
        !f.timed_out && f.sent + f.dropped >= before && f.queued == 0,
    );
    let m = t.metrics();
    r.accounting(&m);
    r.check(
        "collector accepted = spans_sent",
        format!("{} = {}", c.accepted_spans(), m.spans_sent),
        c.accepted_spans() == m.spans_sent,
    );
    r.figure(
        "ended after shutdown (counted dropped_shutdown)",
        m.dropped_shutdown,
    );
    check_requests(&mut r, &c);
    r.finish();
}
