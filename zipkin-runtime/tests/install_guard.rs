//! The guard from `install()` flushes and stops the global tracer when dropped, within its
//! close timeout, also inside a current-thread tokio runtime and with a hung collector.
//! One test: installing replaces the process-wide tracer, so the cases run in sequence.

use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use zipkin_runtime::transport::memory::MemoryTransport;
use zipkin_runtime::transport::{Message, Transport};
use zipkin_runtime::*;

/// Only the guard can send: no batch timeout or drain tick fires during the test.
fn idle() -> ReporterConfig {
    ReporterConfig {
        batch_timeout: Duration::from_secs(3600),
        drain_interval: Duration::from_secs(3600),
        ..Default::default()
    }
}

/// Blocks every send until released.
#[derive(Clone, Default)]
struct Hung(Arc<(Mutex<bool>, Condvar)>);

impl Transport for Hung {
    fn send(&self, _: &Message) -> Result<(), TransportError> {
        let mut released = self.0 .0.lock().unwrap();
        while !*released {
            released = self.0 .1.wait(released).unwrap();
        }
        Ok(())
    }
}

fn trace_on_the_global_tracer() {
    // No thread default: new roots use the global tracer the guard installed.
    let _root = SpanGuard::new("root");
    drop(SpanGuard::new("child"));
}

#[test]
fn the_install_guard_flushes_on_drop_within_a_bounded_time() {
    // Healthy collector: everything is delivered by the drop.
    let mem = MemoryTransport::new();
    let guard = Tracer::builder()
        .service_name("guarded")
        .transport(mem.clone())
        .reporter(idle())
        .close_timeout(Duration::from_secs(10))
        .install()
        .unwrap();
    let t = guard.tracer();
    trace_on_the_global_tracer();
    assert!(mem.spans().is_empty());
    drop(guard);
    assert_eq!(mem.spans().len(), 2);
    let m = t.metrics();
    assert_eq!((m.spans_sent, m.spans_queued), (2, 0));

    // Dropped inside a current-thread runtime.
    let mem = MemoryTransport::new();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let t = rt.block_on(async {
        let guard = Tracer::builder()
            .service_name("guarded-async")
            .transport(mem.clone())
            .reporter(idle())
            .install()
            .unwrap();
        let span = Span::builder("task").start_detached();
        tokio::spawn(span.instrument(tokio::task::yield_now()))
            .await
            .unwrap();
        let t = guard.tracer();
        drop(guard); // inside the runtime, on its only thread
        t
    });
    assert_eq!(mem.spans().len(), 1);
    assert_eq!(t.metrics().spans_sent, 1);

    // Hung collector: the drop returns after the close timeout, and counts what it left.
    let hung = Hung::default();
    let guard = Tracer::builder()
        .service_name("guarded-hung")
        .transport(hung.clone())
        .reporter(idle())
        .close_timeout(Duration::from_millis(300))
        .install()
        .unwrap();
    let t = guard.tracer();
    trace_on_the_global_tracer();
    let started = Instant::now();
    drop(guard);
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(300) && took < Duration::from_secs(20),
        "{took:?}"
    );
    let m = t.metrics();
    assert_eq!(m.spans_queued, 2, "the message in flight: {m:?}");
    // Spans that end after the drop are refused and counted, never sent.
    trace_on_the_global_tracer();
    let m = t.metrics();
    assert_eq!(m.dropped_shutdown, 2, "{m:?}");
    assert_eq!(
        m.spans_offered,
        m.spans_sent + m.spans_dropped + m.spans_queued
    );
    *hung.0 .0.lock().unwrap() = true;
    hung.0 .1.notify_all();

    // Regression: a guard whose tracer was already shut down (here by the code, which gave up
    // after 100 ms with a message in flight) waited its whole close timeout again.
    let hung = Hung::default();
    let guard = Tracer::builder()
        .service_name("guarded-shut")
        .transport(hung.clone())
        .reporter(idle())
        .close_timeout(Duration::from_secs(5))
        .install()
        .unwrap();
    trace_on_the_global_tracer();
    assert!(
        guard
            .tracer()
            .shutdown(Duration::from_millis(100))
            .timed_out
    );
    let started = Instant::now();
    drop(guard);
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(2),
        "the drop waited again: {took:?}"
    );
    *hung.0 .0.lock().unwrap() = true;
    hung.0 .1.notify_all();
}
