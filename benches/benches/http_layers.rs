//! What `zipkin_rs::tower::ServerLayer` adds to a request, in process, with no network: a tower
//! service that answers at once, called bare, under the layer with every trace sampled (the
//! span handed to the reporter) and with none, and under tower-http's `TraceLayer` with a
//! tracing registry, tracing-opentelemetry and the OpenTelemetry SDK (always on, a no-op
//! processor). Each iteration builds the request, calls the service and polls its future once.
//! The per-request cost of a layer is its figure minus `http_layers/bare`.

use std::hint::black_box;
use std::task::{Context, Waker};
use std::time::Duration;

use criterion::criterion_main;
use tower::Layer;
use zipkin_bench::discard_tracer;
use zipkin_bench::http_service::{call, handler};
use zipkin_rs::tower::ServerLayer;

#[derive(Debug)]
struct NoopProcessor;

impl opentelemetry_sdk::trace::SpanProcessor for NoopProcessor {
    fn on_start(&self, _: &mut opentelemetry_sdk::trace::Span, _: &opentelemetry::Context) {}
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

fn http_layers(c: &mut criterion::Criterion) {
    zipkin_runtime::__unstable::clock::warm_up();
    let waker = Waker::noop();
    let mut cx = Context::from_waker(waker);
    let mut g = c.benchmark_group("http_layers");

    let mut bare = handler();
    g.bench_function("bare", |b| b.iter(|| call(&mut bare, &mut cx)));

    for (name, rate) in [
        ("server_layer_sampled", 100.0),
        ("server_layer_unsampled", 0.0),
    ] {
        let t = discard_tracer(rate);
        let _default = t.set_default();
        let mut svc = ServerLayer::new().layer(handler());
        g.bench_function(name, |b| b.iter(|| call(&mut svc, &mut cx)));
    }

    {
        use opentelemetry::trace::TracerProvider as _;
        use tracing_subscriber::layer::SubscriberExt as _;
        let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder()
            .with_sampler(opentelemetry_sdk::trace::Sampler::AlwaysOn)
            .with_span_processor(NoopProcessor)
            .build();
        let subscriber = tracing_subscriber::registry()
            .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("bench")));
        let _guard = tracing::subscriber::set_default(subscriber);
        let mut svc = tower_http::trace::TraceLayer::new_for_http().layer(handler());
        g.bench_function("tower_http_trace_otel", |b| {
            b.iter(|| call(&mut svc, &mut cx))
        });
    }
    g.finish();
}

fn benches() {
    let mut c = criterion::Criterion::default().configure_from_args();
    http_layers(&mut c);
}

criterion_main!(benches);
