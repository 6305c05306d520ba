//! The body of `benches/tracing_bridge.rs` in a loop for callgrind, whose instruction counts do
//! not depend on the machine's load (benches/NOTES.md, tracing bridge), and allocations per span
//! on the calling thread:
//!
//! ```text
//! cargo build --release --example tracing_bridge_callgrind
//! valgrind --tool=callgrind --toggle-collect='*run_loop*' \
//!     target/release/examples/tracing_bridge_callgrind sampled 20000   # or bare, unsampled, otel
//! ```
//!
//! The spans run in chunks of 500 with pauses, so that the reporter keeps up (a saturated
//! reporter sends spans down its overflow path, which is the runtime's cost, not the bridge's).
//! `run_loop` also runs 1,000 warm-up spans: divide callgrind's total by `n + 1000`.
use std::hint::black_box;
use std::time::Duration;
use zipkin_bench::alloc_count::{allocations, Counting};

use tracing_subscriber::layer::SubscriberExt;
use zipkin_bench::discard_tracer;

#[global_allocator]
static A: Counting = Counting;

#[inline(never)]
fn span_two_fields() {
    let span = tracing::info_span!("traced", user = 42u64, path = "/checkout").entered();
    black_box(&span);
    drop(span);
}

#[inline(never)]
fn run_loop(n: u64) {
    for _ in 0..n {
        span_two_fields();
    }
}

fn under(name: &str, dispatch: &tracing::Dispatch, n: u64) {
    tracing::dispatcher::with_default(dispatch, || {
        let root = tracing::info_span!("root").entered();
        run_loop(1000);
        // Counted process-wide, one span at a time with a pause after it: the reporter's
        // threads allocate too, so this is an upper bound (tests/allocations.rs of
        // zipkin-tracing counts the calling thread only).
        let mut total = 0;
        for _ in 0..100 {
            let a = allocations();
            span_two_fields();
            total += allocations() - a;
            std::thread::sleep(Duration::from_micros(200));
        }
        // Only the spans are timed, not the pauses between chunks.
        let mut el = Duration::ZERO;
        for _ in 0..n / 500 {
            let t = std::time::Instant::now();
            run_loop(500);
            el += t.elapsed();
            std::thread::sleep(Duration::from_millis(20));
        }
        println!(
            "{name}: {:.2} allocations/span, {:?}/span",
            total as f64 / 100.0,
            el / n as u32
        );
        drop(root);
    });
}

fn main() {
    let which = std::env::args().nth(1).unwrap_or_default();
    let n: u64 = std::env::args()
        .nth(2)
        .and_then(|s| s.parse().ok())
        .unwrap_or(100_000);
    let bare = tracing::Dispatch::new(tracing_subscriber::registry());
    let layer = tracing::Dispatch::new(
        tracing_subscriber::registry().with(zipkin_tracing::ZipkinLayer::new()),
    );
    if which.is_empty() || which == "bare" {
        under("registry", &bare, n);
    }
    if which.is_empty() || which == "sampled" {
        let t = discard_tracer(100.0);
        t.in_scope(|| under("sampled", &layer, n));
        t.flush(Duration::from_secs(5));
    }
    if which == "otel" {
        use opentelemetry::trace::TracerProvider as _;
        let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder()
            .with_sampler(opentelemetry_sdk::trace::Sampler::AlwaysOn)
            .build();
        let otel = tracing::Dispatch::new(
            tracing_subscriber::registry()
                .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("bench"))),
        );
        under("otel", &otel, n);
    }
    if which.is_empty() || which == "unsampled" {
        let t = discard_tracer(0.0);
        t.in_scope(|| under("unsampled", &layer, n));
    }
}
