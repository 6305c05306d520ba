//! B3 propagation on the request path: `inject_headers()` inside a sampled span, the same
//! `HeaderMap` built from pre-rendered values (the map insertion alone), injection into a carrier
//! that keeps nothing, and extraction of multi and single headers. A counting allocator checks
//! that extraction allocates nothing.

use std::hint::black_box;
use std::time::Duration;
use zipkin_bench::alloc_count::{allocations, Counting};

use criterion::criterion_main;
use http::{HeaderMap, HeaderName, HeaderValue};
use zipkin_runtime::propagation::{extract, inject_headers, inject_into, Field, Injector};
use zipkin_runtime::transport::Discard;
use zipkin_runtime::{ReporterConfig, SpanGuard, Tracer};

#[global_allocator]
static GLOBAL: Counting = Counting;

/// A carrier that keeps nothing: what injection costs without any map.
struct Null;

impl Injector for Null {
    #[inline]
    fn set(&mut self, field: Field, value: &str) {
        black_box((field, value));
    }
}

fn allocs_per_call(n: u64, mut f: impl FnMut()) -> f64 {
    let a0 = allocations();
    for _ in 0..n {
        f();
    }
    (allocations() - a0) as f64 / n as f64
}

fn b3(c: &mut criterion::Criterion) {
    let tracer = Tracer::builder()
        .service_name("bench")
        .reporter(ReporterConfig {
            drain_interval: Duration::from_secs(3600),
            ..ReporterConfig::default()
        })
        .transport(Discard)
        .build()
        .expect("tracer");
    let _d = tracer.set_default();
    let _span = SpanGuard::new("client call");

    // The map injection builds, with its values rendered beforehand.
    let sample = inject_headers();
    assert_eq!(
        sample.len(),
        5,
        "multi format writes five headers: {sample:?}"
    );
    let prerendered: Vec<(HeaderName, String)> = sample
        .iter()
        .map(|(k, v)| (k.clone(), v.to_str().unwrap().to_owned()))
        .collect();

    let mut g = c.benchmark_group("b3");
    g.bench_function("inject_headers", |b| b.iter(|| black_box(inject_headers())));
    g.bench_function("header_map_insert_only", |b| {
        b.iter(|| {
            let mut map = HeaderMap::with_capacity(5);
            for (k, v) in &prerendered {
                let v = match v.as_str() {
                    "0" => HeaderValue::from_static("0"),
                    "1" => HeaderValue::from_static("1"),
                    s => HeaderValue::from_str(s).unwrap(),
                };
                map.insert(k.clone(), v);
            }
            black_box(map)
        })
    });
    g.bench_function("inject_into_null_carrier", |b| {
        b.iter(|| black_box(inject_into(&mut Null)))
    });

    let multi = sample.clone();
    let ctx = extract(&multi);
    assert!(ctx.ids.is_some(), "multi headers extract: {ctx:?}");
    let mut single = HeaderMap::new();
    single.insert(
        HeaderName::from_static("b3"),
        HeaderValue::from_str(&format!(
            "{}-{}-1-{}",
            multi["x-b3-traceid"].to_str().unwrap(),
            multi["x-b3-spanid"].to_str().unwrap(),
            multi["x-b3-parentspanid"].to_str().unwrap()
        ))
        .unwrap(),
    );
    let sctx = extract(&single);
    assert_eq!(sctx, ctx, "single and multi extract the same context");

    g.bench_function("extract_multi", |b| {
        b.iter(|| black_box(extract(black_box(&multi))))
    });
    g.bench_function("extract_single", |b| {
        b.iter(|| black_box(extract(black_box(&single))))
    });
    g.finish();

    zipkin_bench::record_extra(
        "b3_extract_multi_allocs_per_call",
        allocs_per_call(100_000, || {
            black_box(extract(black_box(&multi)));
        }),
    );
    zipkin_bench::record_extra(
        "b3_extract_single_allocs_per_call",
        allocs_per_call(100_000, || {
            black_box(extract(black_box(&single)));
        }),
    );
    zipkin_bench::record_extra(
        "b3_inject_null_carrier_allocs_per_call",
        allocs_per_call(100_000, || {
            black_box(inject_into(&mut Null));
        }),
    );
}

fn benches() {
    let mut c = zipkin_bench::criterion();
    b3(&mut c);
}

criterion_main!(benches);
