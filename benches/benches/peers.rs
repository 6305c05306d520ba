//! The peers on the same workload as `benches/ours.rs`: an `#[inline(never)]` function whose
//! body is `black_box(())`, annotated with each tracer's own attribute.
//!
//! One process, in this order, because tracing, fastrace and the zipkin crate keep global state:
//! 1. `unset`: nothing installed (fastrace without a reporter, tracing without a subscriber,
//!    the zipkin crate without a tracer);
//! 2. tracing with a bare registry, the zipkin crate (AlwaysSampler + no-op reporter),
//!    opentelemetry_sdk (AlwaysOn / AlwaysOff, no-op processor);
//! 3. fastrace last, since its collector thread keeps the second core busy once started.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::criterion_main;
use zipkin_bench::{chunked, CHUNK};

// ---------------------------------------------------------------- the annotated functions

#[fastrace::trace]
#[inline(never)]
fn fastrace_traced() {
    black_box(());
}

#[fastrace::trace]
#[inline(never)]
async fn fastrace_traced_async() {
    black_box(());
}

#[tracing::instrument]
#[inline(never)]
fn tracing_traced() {
    black_box(());
}

#[tracing::instrument]
#[inline(never)]
async fn tracing_traced_async() {
    black_box(());
}

#[zipkin::spanned(name = "traced")]
#[inline(never)]
fn zipkin_traced() {
    black_box(());
}

#[zipkin::spanned(name = "traced")]
#[inline(never)]
async fn zipkin_traced_async() {
    black_box(());
}

fn block_on_chunks<F: std::future::Future<Output = ()>, R>(
    iters: u64,
    mut root: impl FnMut() -> R,
    child: impl Fn() -> F,
) -> Duration {
    let t = Instant::now();
    let mut left = iters;
    while left > 0 {
        let n = left.min(CHUNK);
        let r = root();
        pollster::block_on(async {
            for _ in 0..n {
                child().await
            }
        });
        drop(r);
        left -= n;
    }
    t.elapsed()
}

// ---------------------------------------------------------------- 1. nothing installed

fn unset(c: &mut criterion::Criterion) {
    let mut g = c.benchmark_group("unset");
    g.bench_function("fastrace_no_reporter_no_parent", |b| {
        b.iter(fastrace_traced)
    });
    g.bench_function("tracing_no_subscriber", |b| b.iter(tracing_traced));
    g.bench_function("zipkin_no_tracer", |b| b.iter(zipkin_traced));
    g.finish();
}

// ---------------------------------------------------------------- 2. tracing, zipkin, otel

fn tracing_registry(c: &mut criterion::Criterion) {
    tracing::subscriber::set_global_default(tracing_subscriber::registry())
        .expect("first subscriber");
    let mut g = c.benchmark_group("tracing");
    g.bench_function("registry_no_parent", |b| b.iter(tracing_traced));
    g.bench_function("registry_in_root", |b| {
        b.iter_custom(|iters| {
            chunked(
                iters,
                || tracing::info_span!("root").entered(),
                tracing_traced,
            )
        })
    });
    g.bench_function("registry_async_in_root", |b| {
        b.iter_custom(|iters| {
            block_on_chunks(
                iters,
                || tracing::info_span!("root").entered(),
                tracing_traced_async,
            )
        })
    });
    g.finish();
}

fn zipkin_crate(c: &mut criterion::Criterion) {
    let endpoint = zipkin::Endpoint::builder().service_name("bench").build();
    zipkin::set_tracer(
        zipkin::sample::AlwaysSampler,
        zipkin::report::NopReporter,
        endpoint,
    )
    .expect("first tracer");
    let mut g = c.benchmark_group("zipkin");
    g.bench_function("unsampled_in_root", |b| {
        b.iter_custom(|iters| {
            chunked(
                iters,
                || zipkin::new_trace_from(zipkin::SamplingFlags::builder().sampled(false).build()),
                zipkin_traced,
            )
        })
    });
    g.bench_function("sampled_in_root", |b| {
        b.iter_custom(|iters| {
            chunked(
                iters,
                || zipkin::next_span().with_name("root"),
                zipkin_traced,
            )
        })
    });
    g.bench_function("sampled_async_in_root", |b| {
        b.iter_custom(|iters| {
            block_on_chunks(
                iters,
                || zipkin::next_span().with_name("root"),
                zipkin_traced_async,
            )
        })
    });
    g.finish();
}

#[derive(Debug)]
struct NoopProcessor;

impl opentelemetry_sdk::trace::SpanProcessor for NoopProcessor {
    fn on_start(&self, _span: &mut opentelemetry_sdk::trace::Span, _cx: &opentelemetry::Context) {}
    fn on_end(&self, span: opentelemetry_sdk::trace::SpanData) {
        black_box(span);
    }
    fn force_flush(&self) -> opentelemetry_sdk::error::OTelSdkResult {
        Ok(())
    }
    fn shutdown_with_timeout(&self, _: Duration) -> opentelemetry_sdk::error::OTelSdkResult {
        Ok(())
    }
}

fn otel(c: &mut criterion::Criterion) {
    use opentelemetry::trace::{Span as _, TraceContextExt as _, Tracer as _, TracerProvider as _};
    use opentelemetry_sdk::trace::{Sampler, SdkTracerProvider};
    let mut g = c.benchmark_group("otel");
    for (name, sampler) in [
        ("always_on", Sampler::AlwaysOn),
        ("always_off", Sampler::AlwaysOff),
    ] {
        let provider = SdkTracerProvider::builder()
            .with_sampler(sampler)
            .with_span_processor(NoopProcessor)
            .build();
        let tracer = provider.tracer("bench");
        let parent = opentelemetry::Context::new().with_span(tracer.start("root"));
        g.bench_function(name, |b| {
            b.iter(|| {
                let mut span = tracer.start_with_context("traced", &parent);
                span.end();
            })
        });
    }
    g.finish();
}

// ---------------------------------------------------------------- 3. fastrace, last

struct DropReporter;

impl fastrace::collector::Reporter for DropReporter {
    fn report(&mut self, spans: Vec<fastrace::prelude::SpanRecord>) {
        black_box(spans);
    }
}

fn fastrace_group(c: &mut criterion::Criterion) {
    use fastrace::local::LocalCollector;
    use fastrace::prelude::{Span, SpanContext};
    let mut g = c.benchmark_group("fastrace");
    g.bench_function("unsampled_no_local_parent", |b| b.iter(fastrace_traced));
    g.bench_function("unsampled_noop_root", |b| {
        b.iter_custom(|iters| {
            chunked(
                iters,
                || {
                    let root = Span::noop();
                    let guard = root.set_local_parent();
                    (guard, root)
                },
                fastrace_traced,
            )
        })
    });
    // Thread-local part only: spans recorded into a LocalCollector and collected, no global
    // collector involved.
    g.bench_function("local_collector_per_span", |b| {
        b.iter_custom(|iters| {
            let t = Instant::now();
            let mut left = iters;
            while left > 0 {
                let n = left.min(CHUNK);
                let collector = LocalCollector::start();
                for _ in 0..n {
                    fastrace_traced();
                }
                black_box(collector.collect());
                left -= n;
            }
            t.elapsed()
        })
    });
    fastrace::set_reporter(DropReporter, fastrace::collector::Config::default());
    g.bench_function("sampled_per_span", |b| {
        b.iter_custom(|iters| {
            chunked(
                iters,
                || {
                    let root = Span::root("root", SpanContext::random());
                    let guard = root.set_local_parent();
                    (guard, root)
                },
                fastrace_traced,
            )
        })
    });
    g.bench_function("sampled_async_per_span", |b| {
        b.iter_custom(|iters| {
            block_on_chunks(
                iters,
                || {
                    let root = Span::root("root", SpanContext::random());
                    let guard = root.set_local_parent();
                    (guard, root)
                },
                fastrace_traced_async,
            )
        })
    });
    g.finish();
    fastrace::flush();
}

fn benches() {
    let mut c = zipkin_bench::criterion();
    unset(&mut c);
    tracing_registry(&mut c);
    zipkin_crate(&mut c);
    otel(&mut c);
    fastrace_group(&mut c);
}

criterion_main!(benches);
