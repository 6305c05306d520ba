//! What a `tracing` span costs the heap through the layer, counted by a global allocator (on
//! the calling thread only: the reporter's threads allocate for their own work). A sampled
//! span with two fields allocates its extension, its tags (the runtime's tag storage and one
//! string per value) and nothing else; a span of an unsampled trace allocates nothing.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::hint::black_box;
use std::time::Duration;

use tracing_subscriber::layer::SubscriberExt;
use zipkin_runtime::transport::memory::MemoryTransport;
use zipkin_runtime::Tracer;
use zipkin_tracing::ZipkinLayer;

thread_local! {
    static ALLOCS: Cell<u64> = const { Cell::new(0) };
}

struct Counting;

// SAFETY: every call is passed on to the system allocator unchanged; the count is a
// thread-local `Cell` without a destructor, which allocates nothing.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let _ = ALLOCS.try_with(|a| a.set(a.get() + 1));
        // SAFETY: the caller's contract, passed on.
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        // SAFETY: the caller's contract, passed on.
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        let _ = ALLOCS.try_with(|a| a.set(a.get() + 1));
        // SAFETY: the caller's contract, passed on.
        unsafe { System.realloc(p, l, n) }
    }
}

#[global_allocator]
static A: Counting = Counting;

fn allocs() -> u64 {
    ALLOCS.with(Cell::get)
}

/// The benchmarked span (`benches/tracing_bridge.rs`).
fn span_two_fields() {
    let span = tracing::info_span!("traced", user = 42u64, path = "/checkout").entered();
    black_box(&span);
    drop(span);
}

/// Allocations per span of `span_two_fields` inside an entered root, after a warm-up.
fn per_span(sample_rate: f64) -> (f64, Vec<zipkin_runtime::model::Span>) {
    let mem = MemoryTransport::new();
    let t = Tracer::builder()
        .service_name("allocations")
        .sample_rate(sample_rate)
        .transport(mem.clone())
        .build()
        .unwrap();
    let subscriber = tracing_subscriber::registry().with(ZipkinLayer::new());
    const N: u64 = 200;
    let mut per = 0.0;
    tracing::subscriber::with_default(subscriber, || {
        t.in_scope(|| {
            let root = tracing::info_span!("root").entered();
            for _ in 0..20 {
                span_two_fields();
            }
            let before = allocs();
            for _ in 0..N {
                span_two_fields();
            }
            per = (allocs() - before) as f64 / N as f64;
            drop(root);
        })
    });
    t.flush(Duration::from_secs(5));
    (per, mem.spans())
}

#[test]
fn a_sampled_span_allocates_its_extension_and_its_tags_only() {
    let (per, spans) = per_span(100.0);
    // The extension, the runtime's tag storage (its box and its vector), one string per value.
    assert!(per <= 5.0, "{per} allocations per sampled span");
    let traced: Vec<_> = spans
        .iter()
        .filter(|s| s.name.as_deref() == Some("traced"))
        .collect();
    assert!(!traced.is_empty(), "{spans:#?}");
    assert_eq!(traced[0].tags["user"], "42");
    assert_eq!(traced[0].tags["path"], "/checkout");
}

#[test]
fn an_unsampled_span_allocates_nothing() {
    let (per, spans) = per_span(0.0);
    assert_eq!(per, 0.0);
    assert!(spans.is_empty(), "{spans:#?}");
}
