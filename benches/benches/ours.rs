//! zipkin-rs on the same workload as the peers (`benches/peers.rs`): an `#[inline(never)]`
//! function whose body is `black_box(())`, under `#[zipkin_span]`.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::criterion_main;
use zipkin_bench::{chunked, minor_faults, quick, record_extra, CHUNK};
use zipkin_runtime::__private::SpanMeta;
use zipkin_runtime::transport::Discard;
use zipkin_runtime::{ReporterConfig, SpanGuard, Tracer};

static ROOT: SpanMeta = SpanMeta::new("root");

/// The same function every peer wraps, under our attribute.
#[zipkin_rs::zipkin_span]
#[inline(never)]
fn traced() {
    black_box(());
}

#[zipkin_rs::zipkin_span]
#[inline(never)]
async fn traced_async() {
    black_box(());
}

/// Work that stores as it goes, as application code does (160 steps: about 80 ns): what
/// each span wraps in the paced hand-off.
#[inline(never)]
fn work(steps: u32) {
    let mut x = 1u64;
    for _ in 0..steps {
        x = black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
    }
    black_box(x);
}

#[zipkin_rs::zipkin_span]
#[inline(never)]
fn traced_work(steps: u32) {
    work(steps);
}

#[inline(always)]
fn root() -> SpanGuard {
    SpanGuard::from_meta(&ROOT, None)
}

fn tracer(sample_rate: f64, reporter: ReporterConfig) -> Tracer {
    Tracer::builder()
        .service_name("bench")
        .sample_rate(sample_rate)
        .reporter(reporter)
        .transport(Discard)
        .build()
        .expect("bench tracer")
}

/// A reporter that never drains on its own: the calling thread's cost alone. Rings hold a
/// whole chunk (and its root) below the half-full wake-up mark.
fn idle_reporter() -> ReporterConfig {
    ReporterConfig {
        thread_buffer_spans: 4 * CHUNK as usize,
        drain_interval: Duration::from_secs(3600),
        batch_timeout: Duration::from_secs(3600),
        ..ReporterConfig::default()
    }
}

fn ours(c: &mut criterion::Criterion) {
    zipkin_runtime::__unstable::clock::warm_up();
    let unsampled = tracer(0.0, ReporterConfig::default());
    let calling = tracer(100.0, idle_reporter());
    let handoff = tracer(100.0, ReporterConfig::default());

    let mut g = c.benchmark_group("ours");
    {
        let _d = unsampled.set_default();
        // No current span: each call starts a trace that the sampler (0%) does not sample.
        g.bench_function("unsampled_root", |b| b.iter(traced));
        // Inside an unsampled trace (a caller sent `X-B3-Sampled: 0`).
        g.bench_function("unsampled_child", |b| {
            b.iter_custom(|iters| chunked(iters, root, traced))
        });
    }
    {
        let _d = calling.set_default();
        // Spans go into this thread's ring with the reporter parked; it drains between chunks,
        // outside the timed region.
        g.bench_function("sampled_calling_thread", |b| {
            b.iter_custom(|iters| {
                let mut spent = Duration::ZERO;
                let mut left = iters;
                while left > 0 {
                    let n = left.min(CHUNK);
                    spent += chunked(n, root, traced);
                    calling.flush(Duration::from_secs(10));
                    left -= n;
                }
                spent
            })
        });
        g.bench_function("async_calling_thread", |b| {
            b.iter_custom(|iters| {
                let mut spent = Duration::ZERO;
                let mut left = iters;
                while left > 0 {
                    let n = left.min(CHUNK);
                    let t = Instant::now();
                    let r = root();
                    pollster::block_on(async {
                        for _ in 0..n {
                            traced_async().await
                        }
                    });
                    drop(r);
                    spent += t.elapsed();
                    calling.flush(Duration::from_secs(10));
                    left -= n;
                }
                spent
            })
        });
    }
    {
        let _d = handoff.set_default();
        // The reporter thread runs and drains to a null sender while we produce.
        g.bench_function("sampled_handoff", |b| {
            b.iter_custom(|iters| chunked(iters, root, traced))
        });
        g.bench_function("async_handoff", |b| {
            b.iter_custom(|iters| {
                let t = Instant::now();
                let mut left = iters;
                while left > 0 {
                    let n = left.min(CHUNK);
                    let r = root();
                    pollster::block_on(async {
                        for _ in 0..n {
                            traced_async().await
                        }
                    });
                    drop(r);
                    left -= n;
                }
                t.elapsed()
            })
        });
    }
    g.finish();

    // Side measurements of the hand-off path: page faults and drops per span, steady state.
    if std::env::var_os("ZIPKIN_BENCH_NO_EXTRA").is_some() {
        return;
    }
    let _d = handoff.set_default();
    handoff.flush(Duration::from_secs(10));
    let n: u64 = if quick() { 1_000_000 } else { 10_000_000 };
    chunked(n / 10, root, traced); // warm: rings, batches and allocator pools exist
    handoff.flush(Duration::from_secs(10));
    let m0 = handoff.metrics();
    let f0 = minor_faults();
    let t = chunked(n, root, traced);
    let f1 = minor_faults();
    handoff.flush(Duration::from_secs(10));
    let m1 = handoff.metrics();
    let offered = m1.spans_offered - m0.spans_offered;
    let dropped = m1.spans_dropped - m0.spans_dropped;
    record_extra(
        "ours_handoff_faults_per_10k",
        (f1 - f0) as f64 * 10_000.0 / offered as f64,
    );
    record_extra("ours_handoff_spans_offered", offered as f64);
    record_extra("ours_handoff_spans_dropped", dropped as f64);
    record_extra(
        "ours_handoff_ns_per_span_run",
        t.as_nanos() as f64 / n as f64,
    );

    // The saturated hand-off above mostly measures the drop path. Here each span wraps work
    // slow enough for the drainer to keep up: the cost of a span that is delivered, at
    // ≈ 8 M spans/s (80 ns of work) and at ≈ 2 M spans/s (400 ns). Traced and bare runs
    // alternate; each figure is the median of their differences.
    for (label, steps) in [("paced", 160), ("paced_2m", 800)] {
        let per = n / 10;
        let mut added = Vec::new();
        let m0 = handoff.metrics();
        for _ in 0..5 {
            let traced = chunked(per, root, || traced_work(steps));
            let bare = chunked(per, || (), || work(steps));
            added.push((traced.as_nanos() as f64 - bare.as_nanos() as f64) / per as f64);
        }
        handoff.flush(Duration::from_secs(10));
        let m1 = handoff.metrics();
        added.sort_by(f64::total_cmp);
        record_extra(
            &format!("ours_handoff_{label}_ns_added_per_span"),
            added[added.len() / 2],
        );
        record_extra(
            &format!("ours_handoff_{label}_dropped_fraction"),
            (m1.spans_dropped - m0.spans_dropped) as f64
                / (m1.spans_offered - m0.spans_offered) as f64,
        );
    }
}

fn benches() {
    let mut c = zipkin_bench::criterion();
    ours(&mut c);
}

criterion_main!(benches);
