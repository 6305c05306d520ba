//! What a `tracing` span costs the heap through the layer, counted by a global allocator (on
//! the calling thread only: the reporter's threads allocate for their own work). A sampled
//! span with two short fields allocates its extension and its tag storage (a box and a vector,
//! the values inline) and nothing else; a span of an unsampled trace allocates nothing.

use std::hint::black_box;
use std::time::Duration;

use tracing_subscriber::layer::SubscriberExt;
use zipkin_runtime::transport::memory::MemoryTransport;
use zipkin_runtime::Tracer;
use zipkin_testkit::alloc_count::{allocations as allocs, Counting};
use zipkin_tracing::ZipkinLayer;

#[global_allocator]
static A: Counting = Counting;

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
    // The extension and the runtime's tag storage (its box and the vector of tags), with the
    // values inline when short.
    assert!(per <= 3.0, "{per} allocations per sampled span");
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
