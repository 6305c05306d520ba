//! Shared by the integration tests: a tracer per test with the in-memory transport, so tests
//! run in parallel without seeing each other's spans.
#![allow(dead_code)]

use std::time::Duration;

use zipkin_rs::model;
use zipkin_rs::transport::memory::MemoryTransport;
use zipkin_rs::Tracer;

pub fn tracer() -> (Tracer, MemoryTransport) {
    let mem = MemoryTransport::new();
    let t = Tracer::builder()
        .service_name("svc")
        .transport(mem.clone())
        .build()
        .unwrap();
    (t, mem)
}

/// Every span the tracer reported, after flushing it.
pub fn collect(t: Tracer, mem: &MemoryTransport) -> Vec<model::Span> {
    let r = t.flush(Duration::from_secs(10));
    assert!(!r.timed_out, "flush timed out: {r:?}");
    mem.spans()
}

/// The one span with this name.
pub fn span<'a>(spans: &'a [model::Span], name: &str) -> &'a model::Span {
    let found: Vec<_> = spans
        .iter()
        .filter(|s| s.name.as_deref() == Some(name))
        .collect();
    assert_eq!(
        found.len(),
        1,
        "expected one span named {name:?} in {spans:#?}"
    );
    found[0]
}

pub fn tag_of<'a>(s: &'a model::Span, key: &str) -> Option<&'a str> {
    s.tags.get(key).map(String::as_str)
}
