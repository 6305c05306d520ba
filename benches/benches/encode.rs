//! Encoding one Zipkin v2 span (the 300-byte reference span of the performance notes): ours
//! beside serde_json (derive, the reference our output must equal byte for byte) and the
//! `zipkin-types` crate's serde. The bench refuses to run if our JSON differs from serde_json's.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::hint::black_box;
use std::time::{Duration, UNIX_EPOCH};

use criterion::{criterion_main, Throughput};
use serde::Serialize;
use zipkin_runtime::__unstable::{Extra, SpanEncoder, SpanRecord, TagValue};
use zipkin_runtime::Encoding;
use zipkin_runtime::{Kind, SpanId};

/// The reference: Zipkin v2 JSON as serde_json writes it, fields in the order we write them.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RefSpan<'a> {
    trace_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    parent_id: Option<String>,
    id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    kind: Option<&'a str>,
    name: &'a str,
    timestamp: u64,
    duration: u64,
    local_endpoint: RefEndpoint<'a>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    tags: BTreeMap<&'a str, &'a str>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RefEndpoint<'a> {
    service_name: &'a str,
    port: u16,
}

fn reference_record() -> SpanRecord {
    let start = zipkin_runtime::__unstable::clock::now();
    // 2.345 ms later, in ticks: find the end tick by scanning forward with the clock's own
    // conversion so that the duration is exactly what the reference says.
    let mut end = start;
    let mut step = 1u64 << 20;
    while step > 0 {
        if zipkin_runtime::__unstable::clock::duration_micros(start, end + step) <= 2345 {
            end += step;
        } else {
            step /= 2;
        }
    }
    SpanRecord {
        trace_id: "5af7183fb1d4cf5f6e0b9c1b7c2d3e4f".parse().unwrap(),
        span_id: "352bff9a74ca9ad2".parse().unwrap(),
        parent_id: Some("6b221d5bc9e6496c".parse().unwrap()),
        name: Cow::Borrowed("get /api/v1/users"),
        kind: Kind::Server,
        service_name: "frontend",
        port: 8080,
        start,
        end,
        debug: false,
        shared: false,
        extra: Some(Box::new(Extra {
            tags: [
                (Cow::Borrowed("http.method"), TagValue::from("GET")),
                (
                    Cow::Borrowed("http.path"),
                    TagValue::copied("/api/v1/users"),
                ),
            ]
            .into_iter()
            .collect(),
            ..Extra::default()
        })),
    }
}

fn to_ref(rec: &SpanRecord) -> RefSpan<'_> {
    RefSpan {
        trace_id: rec.trace_id.to_string(),
        parent_id: rec.parent_id.map(|p| p.to_string()),
        id: rec.span_id.to_string(),
        kind: rec.kind.as_zipkin_str(),
        name: &rec.name,
        timestamp: rec.timestamp_micros(),
        duration: rec.duration_micros(),
        local_endpoint: RefEndpoint {
            service_name: rec.service_name,
            port: rec.port,
        },
        tags: rec
            .extra
            .iter()
            .flat_map(|e| e.tags.iter().map(|(k, v)| (k.as_ref(), v.as_ref())))
            .collect(),
    }
}

fn zipkin_types_span(rec: &SpanRecord) -> zipkin_types::Span {
    let mut tid = [0u8; 16];
    tid[..8].copy_from_slice(&rec.trace_id.high().to_be_bytes());
    tid[8..].copy_from_slice(&rec.trace_id.low().to_be_bytes());
    let ep = zipkin_types::Endpoint::builder()
        .service_name(rec.service_name)
        .port(rec.port)
        .build();
    let mut b = zipkin_types::Span::builder();
    b.trace_id(zipkin_types::TraceId::from(tid))
        .id(zipkin_types::SpanId::from(rec.span_id.get().to_be_bytes()))
        .parent_id(zipkin_types::SpanId::from(
            rec.parent_id.map(SpanId::get).unwrap_or(1).to_be_bytes(),
        ))
        .name(&rec.name)
        .kind(zipkin_types::Kind::Server)
        .timestamp(UNIX_EPOCH + Duration::from_micros(rec.timestamp_micros()))
        .duration(Duration::from_micros(rec.duration_micros()))
        .local_endpoint(ep);
    if let Some(e) = &rec.extra {
        for (k, v) in &e.tags {
            b.tag(k, v);
        }
    }
    b.build()
}

fn ours_json(rec: &SpanRecord, out: &mut Vec<u8>) {
    JSON.with(|e| e.encode_span(rec, out));
}

thread_local! {
    // What the reporter uses: an encoder per encoding, local address rendered once.
    static JSON: SpanEncoder = SpanEncoder::new(Encoding::Json, None);
    static PROTO: SpanEncoder = SpanEncoder::new(Encoding::Proto, None);
}

fn encode(c: &mut criterion::Criterion) {
    zipkin_runtime::__unstable::clock::warm_up();
    let rec = reference_record();

    // Correctness guard: a fast but wrong encoder must fail the bench.
    let reference = serde_json::to_vec(&to_ref(&rec)).unwrap();
    let mut ours = Vec::new();
    ours_json(&rec, &mut ours);
    assert_eq!(
        String::from_utf8_lossy(&ours),
        String::from_utf8_lossy(&reference),
        "our JSON differs from the serde_json reference"
    );
    let zt = serde_json::to_vec(&zipkin_types_span(&rec)).unwrap();
    let zt_value: serde_json::Value = serde_json::from_slice(&zt).unwrap();
    let our_value: serde_json::Value = serde_json::from_slice(&ours).unwrap();
    assert_eq!(zt_value, our_value, "zipkin-types encodes another span");
    zipkin_bench::record_extra("json_identical_to_serde", 1.0);
    zipkin_bench::record_extra("json_bytes_per_span", ours.len() as f64);

    let mut proto = Vec::new();
    PROTO.with(|e| e.encode_span(&rec, &mut proto));
    assert_eq!(
        zipkin_bench::sink::count_spans(&proto),
        1,
        "one ListOfSpans entry"
    );
    zipkin_bench::record_extra("proto_bytes_per_span", proto.len() as f64);

    let mut g = c.benchmark_group("encode");
    g.throughput(Throughput::Elements(1));
    let mut buf = Vec::with_capacity(4096);
    g.bench_function("ours_json", |b| {
        b.iter(|| {
            buf.clear();
            ours_json(black_box(&rec), &mut buf);
            black_box(buf.len())
        })
    });
    g.bench_function("ours_proto", |b| {
        b.iter(|| {
            buf.clear();
            PROTO.with(|e| e.encode_span(black_box(&rec), &mut buf));
            black_box(buf.len())
        })
    });
    g.bench_function("serde_json_reference", |b| {
        b.iter(|| {
            buf.clear();
            serde_json::to_writer(&mut buf, &to_ref(black_box(&rec))).unwrap();
            black_box(buf.len())
        })
    });
    let zspan = zipkin_types_span(&rec);
    g.bench_function("zipkin_types_serde", |b| {
        b.iter(|| {
            buf.clear();
            serde_json::to_writer(&mut buf, black_box(&zspan)).unwrap();
            black_box(buf.len())
        })
    });
    // A 100-span message as the reporter builds it: prefix, separators, suffix.
    let batch: Vec<SpanRecord> = (0..100).map(|_| rec.clone()).collect();
    g.throughput(Throughput::Elements(100));
    g.bench_function("ours_json_batch_100", |b| {
        b.iter(|| {
            buf.clear();
            buf.extend_from_slice(Encoding::Json.prefix());
            for (i, r) in batch.iter().enumerate() {
                if i > 0 {
                    buf.extend_from_slice(Encoding::Json.separator());
                }
                ours_json(r, &mut buf);
            }
            buf.extend_from_slice(Encoding::Json.suffix());
            black_box(buf.len())
        })
    });
    g.finish();
}

fn benches() {
    let mut c = zipkin_bench::criterion();
    encode(&mut c);
}

criterion_main!(benches);
