//! The reporter through the public API, with scripted transports: batching, bounds, retries,
//! accounting under concurrency, a hung collector, and the lifecycle inside async runtimes.
//! No test asserts an upper bound on elapsed time tighter than "eventually" (the machine is
//! noisy); lower bounds (a sleep never ends early) are used for backoff.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use zipkin_runtime::transport::{Message, Transport};
use zipkin_runtime::*;

#[derive(Debug, Clone)]
struct Call {
    at: Instant,
    spans: usize,
    bytes: usize,
    in_span: bool,
    thread: Option<String>,
}

type Script = Box<dyn FnMut(usize) -> Result<(), TransportError> + Send>;

/// A transport whose answers come from a script (by call number), that can be held shut
/// (every send blocks until opened), and that records every call.
#[derive(Clone)]
struct Scripted {
    calls: Arc<Mutex<Vec<Call>>>,
    script: Arc<Mutex<Script>>,
    gate: Arc<(Mutex<bool>, Condvar)>,
}

impl Scripted {
    fn new(script: impl FnMut(usize) -> Result<(), TransportError> + Send + 'static) -> Scripted {
        Scripted {
            calls: Default::default(),
            script: Arc::new(Mutex::new(Box::new(script))),
            gate: Arc::new((Mutex::new(true), Condvar::new())),
        }
    }
    fn ok() -> Scripted {
        Scripted::new(|_| Ok(()))
    }
    fn close_gate(&self) {
        *self.gate.0.lock().unwrap() = false;
    }
    fn open_gate(&self) {
        *self.gate.0.lock().unwrap() = true;
        self.gate.1.notify_all();
    }
    fn calls(&self) -> Vec<Call> {
        self.calls.lock().unwrap().clone()
    }
}

impl Transport for Scripted {
    fn send(&self, msg: &Message) -> Result<(), TransportError> {
        let n = {
            let mut c = self.calls.lock().unwrap();
            c.push(Call {
                at: Instant::now(),
                spans: msg.spans,
                bytes: msg.body.len(),
                in_span: current_context().is_some(),
                thread: std::thread::current().name().map(String::from),
            });
            c.len()
        };
        let mut open = self.gate.0.lock().unwrap();
        while !*open {
            open = self.gate.1.wait(open).unwrap();
        }
        drop(open);
        (self.script.lock().unwrap())(n)
    }
}

fn tracer(t: impl Transport, cfg: ReporterConfig) -> Tracer {
    Tracer::builder()
        .service_name("svc")
        .transport(t)
        .reporter(cfg)
        .build()
        .unwrap()
}

fn fast() -> ReporterConfig {
    ReporterConfig {
        drain_interval: Duration::from_millis(5),
        retry_backoff: Duration::from_millis(10),
        retry_backoff_max: Duration::from_millis(40),
        ..Default::default()
    }
}

fn balanced(m: &ReporterMetrics) -> bool {
    m.spans_offered == m.spans_sent + m.spans_dropped + m.spans_queued
        && m.spans_dropped
            == m.dropped_thread_buffer_full
                + m.dropped_queue_full
                + m.dropped_too_large
                + m.dropped_transport_error
                + m.dropped_rejected
                + m.dropped_shutdown
}

/// Polls until `f` holds (or panics after 20 s, far beyond any expected delay).
fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "never happened: {what}"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// A child span that is not a local root: opened under a root that stays open.
fn child_spans(t: Tracer, n: usize, tag_bytes: usize) {
    t.in_scope(|| {
        let root = Span::builder("root").start_detached();
        let mut root = root;
        root.in_scope(|| {
            for _ in 0..n {
                let mut s = SpanGuard::new("child");
                if tag_bytes > 0 {
                    s.tag("blob", "x".repeat(tag_bytes));
                }
            }
        });
        std::mem::forget(root); // never ends: its children are not pushed by a root ending
    });
}

#[test]
fn offered_equals_sent_plus_dropped_plus_queued_under_concurrent_load() {
    // A slow collector and small bounds, so spans are dropped at both the thread buffers and
    // the queue while four threads report and another reads the metrics without pause.
    let transport = Scripted::new(|_| {
        std::thread::sleep(Duration::from_millis(2));
        Ok(())
    });
    let t = tracer(
        transport.clone(),
        ReporterConfig {
            thread_buffer_spans: 64,
            queue_max_spans: 200,
            batch_max_bytes: 8_000,
            ..fast()
        },
    );
    let stop = Arc::new(AtomicBool::new(false));
    let reader = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut reads = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let m = t.metrics();
                assert!(balanced(&m), "unbalanced read: {m:?}");
                reads += 1;
            }
            reads
        })
    };
    const PER_THREAD: usize = 20_000;
    let producers: Vec<_> = (0..4)
        .map(|_| {
            std::thread::spawn(move || {
                t.in_scope(|| {
                    for i in 0..PER_THREAD {
                        drop(SpanGuard::new("work"));
                        if i % 1000 == 0 {
                            std::thread::yield_now();
                        }
                    }
                })
            })
        })
        .collect();
    for p in producers {
        p.join().unwrap();
    }
    let r = t.flush(Duration::from_secs(30));
    stop.store(true, Ordering::Relaxed);
    let reads = reader.join().unwrap();
    let m = t.metrics();
    assert!(!r.timed_out);
    assert!(balanced(&m), "{m:?}");
    assert_eq!(m.spans_offered, 4 * PER_THREAD as u64, "{m:?}");
    assert_eq!(m.spans_queued, 0);
    assert_eq!(
        m.spans_sent + m.dropped_queue_full + m.dropped_thread_buffer_full,
        m.spans_offered,
        "{m:?}"
    );
    assert!(m.dropped_queue_full > 0, "bounds never reached: {m:?}");
    let delivered: usize = transport.calls().iter().map(|c| c.spans).sum();
    assert_eq!(delivered as u64, m.spans_sent);
    assert!(reads > 10, "metrics read {reads} times");
}

#[test]
fn batches_are_cut_by_size() {
    let transport = Scripted::ok();
    let t = tracer(
        transport.clone(),
        ReporterConfig {
            batch_max_bytes: 2_000,
            ..fast()
        },
    );
    child_spans(t, 100, 0);
    t.flush(Duration::from_secs(10));
    let calls = transport.calls();
    assert!(calls.len() > 3, "{} messages", calls.len());
    assert!(calls.iter().all(|c| c.bytes <= 2_000), "{calls:?}");
    assert_eq!(calls.iter().map(|c| c.spans).sum::<usize>(), 100);
    // Filled up: every message but the last is within one span of the limit.
    let span = calls[0].bytes / calls[0].spans;
    for c in &calls[..calls.len() - 1] {
        assert!(c.bytes + span + 1 > 2_000, "{c:?} cut early");
    }
}

#[test]
fn batches_are_cut_by_time_without_flush() {
    let transport = Scripted::ok();
    let t = tracer(
        transport.clone(),
        ReporterConfig {
            batch_timeout: Duration::from_millis(200),
            ..fast()
        },
    );
    child_spans(t, 3, 0);
    eventually("children sent by the batch timeout", || {
        t.metrics().spans_sent == 3
    });
    assert_eq!(transport.calls().len(), 1);
}

#[test]
fn children_wait_for_the_batch_timeout() {
    let transport = Scripted::ok();
    let t = tracer(
        transport.clone(),
        ReporterConfig {
            batch_timeout: Duration::from_secs(3600),
            ..fast()
        },
    );
    child_spans(t, 3, 0);
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        transport.calls().is_empty(),
        "sent before the batch timeout"
    );
    assert_eq!(t.metrics().spans_queued, 3);
    t.flush(Duration::from_secs(5));
    assert_eq!(t.metrics().spans_sent, 3);
}

#[test]
fn a_local_root_that_ends_is_sent_promptly_without_flush() {
    let transport = Scripted::ok();
    // A batch timeout of an hour: only the root ending can send these spans.
    let t = tracer(
        transport.clone(),
        ReporterConfig {
            batch_timeout: Duration::from_secs(3600),
            ..Default::default()
        },
    );
    t.in_scope(|| {
        let _root = SpanGuard::builder("request").kind(Kind::Server).start();
        drop(SpanGuard::new("child"));
    });
    eventually("request trace sent", || t.metrics().spans_sent == 2);
    assert_eq!(transport.calls().len(), 1, "one message for the trace");
}

#[test]
fn queue_full_drops_the_new_span_and_counts_it() {
    let transport = Scripted::ok();
    transport.close_gate();
    let t = tracer(
        transport.clone(),
        ReporterConfig {
            queue_max_spans: 10,
            ..fast()
        },
    );
    child_spans(t, 100, 0);
    eventually("all spans drained", || {
        let m = t.metrics();
        m.spans_buffered == 0 && m.dropped_queue_full == 90
    });
    let m = t.metrics();
    assert_eq!((m.spans_queued, m.spans_sent), (10, 0));
    transport.open_gate();
    t.flush(Duration::from_secs(10));
    let m = t.metrics();
    assert_eq!(
        (m.spans_sent, m.dropped_queue_full, m.spans_queued),
        (10, 90, 0)
    );
}

#[test]
fn queue_is_bounded_by_bytes() {
    let transport = Scripted::ok();
    transport.close_gate();
    let t = tracer(
        transport.clone(),
        ReporterConfig {
            queue_max_bytes: 10_000,
            batch_max_bytes: 3_000,
            ..fast()
        },
    );
    child_spans(t, 50, 1_000); // about 1.2 KB each
    eventually("all spans drained", || {
        let m = t.metrics();
        m.spans_buffered == 0 && m.spans_queued + m.dropped_queue_full == 50
    });
    let m = t.metrics();
    assert!(m.bytes_queued <= 10_000, "{m:?}");
    assert!((6..=9).contains(&m.spans_queued), "{m:?}");
    transport.open_gate();
    t.flush(Duration::from_secs(10));
    assert_eq!(t.metrics().spans_sent, m.spans_queued);
}

#[test]
fn a_span_larger_than_a_message_is_dropped_as_too_large() {
    let transport = Scripted::ok();
    let t = tracer(
        transport.clone(),
        ReporterConfig {
            batch_max_bytes: 1_000,
            ..fast()
        },
    );
    child_spans(t, 1, 2_000);
    child_spans(t, 2, 0);
    t.flush(Duration::from_secs(5));
    let m = t.metrics();
    assert_eq!((m.dropped_too_large, m.spans_sent), (1, 2), "{m:?}");
    assert!(balanced(&m));
}

fn one_message_with(
    script: impl FnMut(usize) -> Result<(), TransportError> + Send + 'static,
) -> (Scripted, ReporterMetrics) {
    let transport = Scripted::new(script);
    let t = tracer(
        transport.clone(),
        ReporterConfig {
            max_attempts: 3,
            ..fast()
        },
    );
    child_spans(t, 4, 0);
    t.flush(Duration::from_secs(10));
    (transport, t.metrics())
}

#[test]
fn server_errors_are_retried_a_bounded_number_of_times_with_backoff() {
    let (transport, m) = one_message_with(|_| Err(TransportError::status(503)));
    let calls = transport.calls();
    assert_eq!(calls.len(), 3);
    assert_eq!(
        (m.dropped_transport_error, m.messages_dropped, m.spans_sent),
        (4, 1, 0)
    );
    // Backoff: 10 ms then 20 ms, each with jitter down to half.
    assert!(calls[1].at - calls[0].at >= Duration::from_millis(5));
    assert!(calls[2].at - calls[1].at >= Duration::from_millis(10));
}

#[test]
fn a_retry_that_succeeds_delivers_once() {
    let (transport, m) = one_message_with(|n| {
        if n < 3 {
            Err(TransportError::Io("connection refused".into()))
        } else {
            Ok(())
        }
    });
    assert_eq!(transport.calls().len(), 3);
    assert_eq!((m.spans_sent, m.spans_dropped, m.messages_sent), (4, 0, 1));
}

#[test]
fn too_many_requests_is_retried() {
    let (transport, m) = one_message_with(|n| {
        if n == 1 {
            Err(TransportError::status(429))
        } else {
            Ok(())
        }
    });
    assert_eq!(transport.calls().len(), 2);
    assert_eq!(m.spans_sent, 4);
}

#[test]
fn client_errors_are_not_retried() {
    for status in [400, 401, 404] {
        let (transport, m) = one_message_with(move |_| Err(TransportError::status(status)));
        assert_eq!(transport.calls().len(), 1, "{status} retried");
        assert_eq!((m.dropped_rejected, m.messages_dropped), (4, 1));
        assert!(balanced(&m));
    }
}

#[test]
fn payload_too_large_splits_down_to_single_spans_then_rejects_each() {
    // A collector that refuses everything as too large: 4 spans, then 2 + 2, then 1 + 1 + 1 + 1
    // (each given up on its own); nothing is retried as is.
    let (transport, m) = one_message_with(|_| Err(TransportError::status(413)));
    let spans: Vec<usize> = transport.calls().iter().map(|c| c.spans).collect();
    assert_eq!(spans, [4, 2, 1, 1, 2, 1, 1]);
    assert_eq!(
        (m.dropped_rejected, m.messages_dropped, m.messages_sent),
        (4, 4, 0),
        "{m:?}"
    );
    assert!(balanced(&m));
}

#[test]
fn a_dead_collector_gets_no_request_storm() {
    // Every request fails. Each message gets 2 attempts, and after a message is given up the
    // next one waits a cool-down that grows to 40 ms: requests are spaced, however fast spans
    // arrive.
    let transport = Scripted::new(|_| Err(TransportError::Io("refused".into())));
    let t = tracer(
        transport.clone(),
        ReporterConfig {
            max_attempts: 2,
            ..fast()
        },
    );
    let start = Instant::now();
    while start.elapsed() < Duration::from_millis(600) {
        t.in_scope(|| drop(SpanGuard::new("root")));
        std::thread::sleep(Duration::from_millis(1));
    }
    let calls = transport.calls();
    // Every message gets exactly two attempts, so calls pair up by message.
    let messages: Vec<&[Call]> = calls.chunks_exact(2).collect();
    assert!(messages.len() >= 4, "{} calls", calls.len());
    for m in &messages {
        assert!(
            m[1].at - m[0].at >= Duration::from_millis(5),
            "retry without backoff"
        );
    }
    // Cool-down after each given-up message: 10, 20, then capped at 40 ms.
    for (i, pair) in messages.windows(2).enumerate() {
        let gap = pair[1][0].at - pair[0][1].at;
        let floor = Duration::from_millis([10, 20, 40][i.min(2)]);
        assert!(gap >= floor, "message {} followed after {gap:?}", i + 1);
    }
    let m = t.metrics();
    assert!(m.dropped_transport_error > 0 && balanced(&m), "{m:?}");
}

#[test]
fn a_hung_collector_does_not_stop_the_rings_draining_and_shutdown_is_bounded() {
    let transport = Scripted::ok();
    let t = tracer(
        transport.clone(),
        ReporterConfig {
            thread_buffer_spans: 16,
            queue_max_spans: 50,
            ..fast()
        },
    );
    transport.close_gate();
    // One message goes out and hangs.
    t.in_scope(|| drop(SpanGuard::new("first")));
    eventually("first message in flight", || transport.calls().len() == 1);
    // 200 more spans, in small bursts the drainer keeps up with.
    for _ in 0..50 {
        child_spans(t, 4, 0);
        std::thread::sleep(Duration::from_millis(5));
    }
    // The drainer moved them all out of the thread buffer into the queue (1 in flight + 49),
    // dropping the rest at the queue, not at the thread buffer (which holds at most 16).
    eventually("rings drained into the bounded queue", || {
        let m = t.metrics();
        m.spans_queued == 50 && m.dropped_queue_full == 151
    });
    let started = Instant::now();
    let r = t.shutdown(Duration::from_millis(200));
    let took = started.elapsed();
    assert!(r.timed_out);
    assert!(
        took >= Duration::from_millis(200) && took < Duration::from_secs(10),
        "{took:?}"
    );
    let m = t.metrics();
    assert_eq!(m.dropped_shutdown, 49, "{m:?}");
    assert_eq!(m.spans_queued, 1, "the message in flight");
    assert!(balanced(&m));
    transport.open_gate();
    eventually("in-flight message completes", || {
        t.metrics().spans_sent == 1
    });
    let m = t.metrics();
    assert!(balanced(&m) && m.spans_queued == 0, "{m:?}");
    // Reporting after shutdown is counted, never sent, never panics.
    t.in_scope(|| drop(SpanGuard::new("late")));
    assert_eq!(t.metrics().dropped_shutdown, 50);
}

#[test]
fn the_export_runs_on_the_reporter_thread_outside_any_span() {
    let transport = Scripted::ok();
    let t = tracer(transport.clone(), fast());
    t.in_scope(|| {
        let _outer = SpanGuard::new("outer");
        child_spans(t, 2, 0);
        // Flushing from inside a span: the send still runs outside it.
        t.flush(Duration::from_secs(5));
    });
    t.flush(Duration::from_secs(5));
    let calls = transport.calls();
    assert!(!calls.is_empty());
    for c in calls {
        assert!(!c.in_span, "export ran inside a span context");
        assert_eq!(c.thread.as_deref(), Some("zipkin-sender"));
    }
}

#[test]
fn flush_and_shutdown_twice_or_never() {
    let transport = Scripted::ok();
    let t = tracer(transport.clone(), fast());
    child_spans(t, 3, 0);
    let a = t.flush(Duration::from_secs(5));
    let b = t.flush(Duration::from_secs(5));
    assert_eq!((a.sent, b.sent, a.timed_out), (3, 3, false));
    let s1 = t.shutdown(Duration::from_secs(5));
    let s2 = t.shutdown(Duration::from_secs(5));
    assert_eq!((s1, s2.sent, s2.timed_out), (a, 3, false));
    let f = t.flush(Duration::from_secs(5));
    assert_eq!((f.sent, f.timed_out), (3, false));
    // A tracer that is never flushed nor shut down is simply left running.
    let _never = tracer(Scripted::ok(), fast());
}

#[test]
fn flush_waits_for_spans_of_every_thread() {
    let transport = Scripted::ok();
    let t = tracer(
        transport.clone(),
        ReporterConfig {
            batch_timeout: Duration::from_secs(3600),
            drain_interval: Duration::from_secs(3600),
            ..Default::default()
        },
    );
    let threads: Vec<_> = (0..3)
        .map(|_| std::thread::spawn(move || child_spans(t, 5, 0)))
        .collect();
    for th in threads {
        th.join().unwrap();
    }
    child_spans(t, 5, 0);
    let r = t.flush(Duration::from_secs(10));
    assert_eq!(
        (r.sent, r.queued, r.dropped, r.timed_out),
        (20, 0, 0, false)
    );
}

#[tokio::test(flavor = "current_thread")]
async fn flush_and_shutdown_inside_a_current_thread_runtime() {
    let transport = Scripted::ok();
    let t = tracer(transport.clone(), fast());
    let span = t.in_scope(|| Span::builder("task").start_detached());
    let task = tokio::spawn(span.instrument(async move {
        tokio::task::yield_now().await;
    }));
    task.await.unwrap();
    t.in_scope(|| drop(SpanGuard::new("sync")));
    let r = t.flush(Duration::from_secs(5));
    assert!(!r.timed_out);
    let r = t.shutdown(Duration::from_secs(5));
    assert!(!r.timed_out, "{r:?}");
    assert_eq!(t.metrics().spans_queued, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn flush_inside_a_one_worker_runtime() {
    let transport = Scripted::ok();
    let t = tracer(transport.clone(), fast());
    tokio::spawn(async move {
        t.in_scope(|| drop(SpanGuard::new("in task")));
        t.flush(Duration::from_secs(5))
    })
    .await
    .unwrap();
    assert_eq!(t.metrics().spans_sent, 1);
    assert_eq!(transport.calls().len(), 1);
}

/// Regression: a span that ended in a thread-local's destructor after the reporter's per-thread
/// buffer had been destroyed was counted as `dropped_shutdown`, though nothing shut down. It is
/// delivered through the reporter's shared overflow.
#[test]
fn spans_ended_in_a_thread_local_destructor_after_the_buffer_is_gone_are_delivered() {
    use std::cell::RefCell;

    struct EndsOnExit(Option<Span>);
    impl Drop for EndsOnExit {
        fn drop(&mut self) {
            if let Some(mut span) = self.0.take() {
                span.tag("ended", "in a thread-local destructor");
            }
        }
    }
    thread_local! {
        static HELD: RefCell<EndsOnExit> = const { RefCell::new(EndsOnExit(None)) };
    }

    let mem = transport::memory::MemoryTransport::new();
    let t = tracer(mem.clone(), fast());
    std::thread::spawn(move || {
        t.in_scope(|| {
            // Initialised first, so destroyed last: after the reporter's buffer of this thread,
            // which the span below registers.
            HELD.with(|h| h.borrow_mut().0 = Some(Span::builder("held").start_detached()));
            drop(SpanGuard::new("first"));
        });
    })
    .join()
    .unwrap();
    assert!(!t.flush(Duration::from_secs(10)).timed_out);
    let m = t.metrics();
    assert!(balanced(&m), "{m:?}");
    assert_eq!(
        (m.spans_offered, m.spans_sent, m.spans_dropped),
        (2, 2, 0),
        "{m:?}"
    );
    let mut names: Vec<String> = mem.spans().into_iter().filter_map(|s| s.name).collect();
    names.sort();
    assert_eq!(names, ["first", "held"]);
}
