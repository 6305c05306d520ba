//! What a `tracing` span costs the heap through the layer, counted by a global allocator (on
//! the calling thread only: the reporter's threads allocate for their own work). A sampled
//! span with two short fields allocates its extension and at most its tag storage (a box and a
//! vector, the values inline), the storage not at all once the reporter has given earlier
//! spans' back to this thread; a span of an unsampled trace allocates nothing.

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

/// A span whose string field, and a `Debug` field, are past the 22 bytes kept inline.
fn span_long_field() {
    let path = "/customers/1234567890/orders/987654321";
    let ids = [1234567u32, 2345678, 3456789];
    let span = tracing::info_span!("traced", user = 42u64, path, ids = ?ids).entered();
    black_box(&span);
    drop(span);
}

/// Allocations per span of `span_two_fields` inside an entered root, counted over rounds of
/// spans after a warm-up; with `settled`, the reporter takes each round's spans before the
/// next (outside the count). In rounds because the reporter may give tag boxes back during a
/// long run, which that run's next spans take: after one long warm-up, fewer boxes than spans
/// may be in stock, while a round takes at most a round's worth and all come back.
fn per_span(sample_rate: f64, settled: bool) -> (f64, Vec<zipkin_runtime::model::Span>) {
    per_span_of(span_two_fields, sample_rate, settled)
}

const ROUND: u64 = 10;
const ROUNDS: u64 = 20;
const WARM_UP_ROUNDS: u64 = 2;
/// `traced` spans per `per_span_of`.
const SPANS: usize = ((WARM_UP_ROUNDS + ROUNDS) * ROUND) as usize;

fn per_span_of(
    span: fn(),
    sample_rate: f64,
    settled: bool,
) -> (f64, Vec<zipkin_runtime::model::Span>) {
    let mem = MemoryTransport::new();
    let t = Tracer::builder()
        .service_name("allocations")
        .sample_rate(sample_rate)
        .transport(mem.clone())
        .build()
        .unwrap();
    let subscriber = tracing_subscriber::registry().with(ZipkinLayer::new());
    let settle = || {
        if settled {
            let r = t.flush(Duration::from_secs(30));
            assert!(!r.timed_out, "the round's spans were not taken: {r:?}");
        }
    };
    let mut per = 0.0;
    tracing::subscriber::with_default(subscriber, || {
        t.in_scope(|| {
            let root = tracing::info_span!("root").entered();
            for _ in 0..WARM_UP_ROUNDS * ROUND {
                span();
            }
            settle();
            let mut counted = 0;
            for _ in 0..ROUNDS {
                let before = allocs();
                for _ in 0..ROUND {
                    span();
                }
                counted += allocs() - before;
                settle();
            }
            per = counted as f64 / (ROUNDS * ROUND) as f64;
            drop(root);
        })
    });
    t.flush(Duration::from_secs(5));
    (per, mem.spans())
}

#[test]
fn a_sampled_span_allocates_its_extension_and_its_tags_only() {
    let (per, spans) = per_span(100.0, false);
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
fn a_sampled_span_reuses_the_tag_storage_the_reporter_gave_back() {
    // Each round's spans are drained before the next round: each counted span takes a tag box
    // (with its vector's room) that came back to this thread, and allocates only the
    // extension.
    let (per, spans) = per_span(100.0, true);
    assert_eq!(per, 1.0, "allocations per sampled span");
    let traced = spans.iter().filter(|s| s.name.as_deref() == Some("traced"));
    assert_eq!(traced.count(), SPANS, "{spans:#?}");
}

#[test]
fn long_string_and_debug_fields_are_written_into_strings_given_back_too() {
    let (per, spans) = per_span_of(span_long_field, 100.0, true);
    assert_eq!(per, 1.0, "allocations per sampled span");
    let traced: Vec<_> = spans
        .iter()
        .filter(|s| s.name.as_deref() == Some("traced"))
        .collect();
    assert_eq!(traced.len(), SPANS);
    assert!(traced.iter().all(
        |s| s.tags["path"] == "/customers/1234567890/orders/987654321"
            && s.tags["ids"] == "[1234567, 2345678, 3456789]"
    ));
}

#[test]
fn an_unsampled_span_allocates_nothing() {
    let (per, spans) = per_span(0.0, false);
    assert_eq!(per, 0.0);
    assert!(spans.is_empty(), "{spans:#?}");
}
