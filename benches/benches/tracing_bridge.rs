//! The `tracing` bridge (zipkin-tracing's `ZipkinLayer`) beside a bare registry and beside
//! tracing-opentelemetry with the OpenTelemetry SDK (AlwaysOn, no-op processor): one
//! `info_span!` with two fields, entered and closed, inside an entered root span. Each setup
//! runs under its own scoped dispatcher (`dispatcher::with_default`), so all pay the same
//! dispatch.

use std::hint::black_box;
use std::time::Duration;

use tracing_subscriber::layer::SubscriberExt;
use zipkin_bench::discard_tracer;

#[inline(never)]
fn span_two_fields() {
    let span = tracing::info_span!("traced", user = 42u64, path = "/checkout").entered();
    black_box(&span);
    drop(span);
}

fn bench_under(
    g: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    name: &str,
    dispatch: &tracing::Dispatch,
) {
    tracing::dispatcher::with_default(dispatch, || {
        let root = tracing::info_span!("root").entered();
        g.bench_function(name, |b| b.iter(span_two_fields));
        drop(root);
    });
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

fn benches(c: &mut criterion::Criterion) {
    use opentelemetry::trace::TracerProvider as _;
    let mut g = c.benchmark_group("tracing_bridge");

    let bare = tracing::Dispatch::new(tracing_subscriber::registry());
    bench_under(&mut g, "registry", &bare);

    let sampled = discard_tracer(100.0);
    let layer = tracing::Dispatch::new(
        tracing_subscriber::registry().with(zipkin_tracing::ZipkinLayer::new()),
    );
    sampled.in_scope(|| bench_under(&mut g, "zipkin_layer_sampled", &layer));

    let unsampled = discard_tracer(0.0);
    unsampled.in_scope(|| bench_under(&mut g, "zipkin_layer_unsampled", &layer));

    let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder()
        .with_sampler(opentelemetry_sdk::trace::Sampler::AlwaysOn)
        .with_span_processor(NoopProcessor)
        .build();
    let otel = tracing::Dispatch::new(
        tracing_subscriber::registry()
            .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("bench"))),
    );
    bench_under(&mut g, "otel_layer_sampled", &otel);
    g.finish();
    sampled.flush(Duration::from_secs(5));
}

criterion::criterion_group!(group, benches);
criterion::criterion_main!(group);
