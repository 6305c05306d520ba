//! Helpers shared by test files: a tracer per test with the in-memory transport, the spec files,
//! and the proto3 decoder the testkit uses too.
#![allow(dead_code)]

use std::path::PathBuf;

use zipkin_runtime::transport::memory::MemoryTransport;
use zipkin_runtime::{model, Tracer, TracerBuilder};

/// A tracer of service "svc" at this sample rate (percent) that keeps its spans in memory. One
/// per test, so tests running in parallel do not see each other's spans.
pub fn tracer(rate: f64) -> (Tracer, MemoryTransport) {
    tracer_with(|b| b.sample_rate(rate))
}

/// [`tracer`], configured further by `f`.
pub fn tracer_with(f: impl FnOnce(TracerBuilder) -> TracerBuilder) -> (Tracer, MemoryTransport) {
    let mem = MemoryTransport::new();
    let mut b = Tracer::builder().service_name("svc").transport(mem.clone());
    if cfg!(miri) {
        // Miri interprets every instruction of the reporter's threads too: they wait for the
        // tests' flushes instead of polling.
        b = b.reporter(zipkin_runtime::ReporterConfig {
            drain_interval: std::time::Duration::from_secs(3600),
            batch_timeout: std::time::Duration::from_secs(3600),
            ..Default::default()
        });
    }
    let t = f(b).build().unwrap();
    (t, mem)
}

/// Every span the tracer reported, after flushing it.
pub fn collect(t: Tracer, mem: &MemoryTransport) -> Vec<model::Span> {
    let r = t.flush(std::time::Duration::from_secs(5));
    assert!(!r.timed_out, "flush timed out: {r:?}");
    mem.spans()
}

#[path = "../../../zipkin-testkit/src/proto_list.rs"]
mod proto_list;

/// A file of the repository's copies of the official spec files (`spec/`).
pub fn spec(file: &str) -> PathBuf {
    proto_list::spec_dir().join(file)
}

fn endpoint(e: proto_list::ProtoEndpoint) -> model::Endpoint {
    model::Endpoint {
        service_name: e.service_name,
        ipv4: e.ipv4,
        ipv6: e.ipv6,
        port: e.port,
    }
}

/// Decodes a `ListOfSpans` into the model, field by field, with Zipkin's rules (the testkit's
/// decoder: one for both).
pub fn decode_proto(body: &[u8]) -> Vec<model::Span> {
    proto_list::decode_proto_list(body)
        .expect("a ListOfSpans Zipkin accepts")
        .into_iter()
        .map(|s| model::Span {
            trace_id: s.trace_id,
            parent_id: s.parent_id,
            id: s.id,
            kind: s.kind,
            name: s.name,
            timestamp: s.timestamp,
            duration: s.duration,
            debug: s.debug,
            shared: s.shared,
            local_endpoint: s.local_endpoint.map(endpoint),
            remote_endpoint: s.remote_endpoint.map(endpoint),
            annotations: s
                .annotations
                .into_iter()
                .map(|(timestamp, value)| model::Annotation { timestamp, value })
                .collect(),
            tags: s.tags,
        })
        .collect()
}
