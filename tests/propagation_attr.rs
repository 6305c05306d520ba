//! The py_zipkin blog demo's shape with the attribute: `webapp` calls `service1` with
//! `inject_headers()`, and service1's handler continues the trace with
//! `#[zipkin_span(kind = "server", parent = extract(headers))]`.

mod common;

use common::{collect, span, tracer};
use zipkin_rs::propagation::HeaderMap;
use zipkin_rs::testing::render_tree;
use zipkin_rs::*;

#[zipkin_span(service_name = "service1", kind = "server", parent = extract(headers))]
fn service1_api(headers: &HeaderMap) -> HeaderMap {
    do_stuff()
}

#[zipkin_span]
fn do_stuff() -> HeaderMap {
    // service1 calls on: the next hop's parent is this span.
    inject_headers()
}

#[zipkin_span(service_name = "webapp", span_name = "index")]
fn index() -> (HeaderMap, HeaderMap) {
    let sent = inject_headers();
    // Over HTTP in the demo; here the handler is called with the same headers.
    let onward = service1_api(&sent);
    (sent, onward)
}

#[test]
fn webapp_to_service1_is_one_trace_through_the_attribute() {
    let (t, mem) = tracer();
    let (sent, onward) = t.in_scope(index);
    let spans = collect(t, &mem);
    assert_eq!(
        render_tree(&spans),
        "index (webapp)\n  service1_api [SERVER] (service1) shared\n    do_stuff (service1)\n"
    );
    let index = span(&spans, "index");
    let server = span(&spans, "service1_api");
    let stuff = span(&spans, "do_stuff");
    // The server joined the id webapp sent, under webapp's span.
    assert_eq!(server.id, sent["x-b3-spanid"].to_str().unwrap());
    assert_eq!(server.parent_id.as_deref(), Some(index.id.as_str()));
    assert_eq!(sent["x-b3-parentspanid"].to_str().unwrap(), index.id);
    // And service1's own call names do_stuff as its parent, in the same trace.
    assert_eq!(onward["x-b3-traceid"].to_str().unwrap(), index.trace_id);
    assert_eq!(onward["x-b3-parentspanid"].to_str().unwrap(), stuff.id);
    assert_eq!(onward["x-b3-sampled"], "1");
    assert_eq!(onward["x-b3-flags"], "0");
}

#[test]
fn a_request_without_headers_starts_a_new_trace_at_the_server() {
    let (t, mem) = tracer();
    t.in_scope(|| service1_api(&HeaderMap::new()));
    let spans = collect(t, &mem);
    let server = span(&spans, "service1_api");
    assert_eq!(server.parent_id, None);
    assert_eq!(server.shared, None);
    assert_eq!(server.trace_id.len(), 32);
}

#[test]
fn a_malformed_header_starts_a_new_trace_and_does_not_fail_the_request() {
    let (t, mem) = tracer();
    let mut h = HeaderMap::new();
    h.insert("b3", "463AC35C9F6413AD-A2FB4A1D1A96D312-1".parse().unwrap());
    h.insert("x-b3-traceid", "-".parse().unwrap());
    let before = propagation::metrics();
    let onward = t.in_scope(|| service1_api(&h));
    assert_eq!(onward.len(), 5);
    let after = propagation::metrics();
    assert!(after.malformed_b3_single > before.malformed_b3_single);
    assert!(after.malformed_b3_multi > before.malformed_b3_multi);
    let spans = collect(t, &mem);
    assert_eq!(span(&spans, "service1_api").parent_id, None);
}

#[zipkin_span(service_name = "webapp", kind = "client", span_name = "get /api")]
fn call_service1() -> (HeaderMap, HeaderMap) {
    let sent = inject_headers();
    let onward = service1_api(&sent);
    (sent, onward)
}

#[zipkin_span(service_name = "webapp", span_name = "index")]
fn index_with_client_span() -> (HeaderMap, HeaderMap) {
    call_service1()
}

/// Regression: inside a `kind = "client"` span, `inject_headers()` sent a new child id, so the
/// server half could not join the client span (Brave, zipkin-go and py_zipkin's
/// `create_http_headers()` send the client span's own ids).
#[test]
fn inside_a_client_span_the_server_half_joins_the_client_span() {
    let (t, mem) = tracer();
    let (sent, _) = t.in_scope(index_with_client_span);
    let spans = collect(t, &mem);
    assert_eq!(
        render_tree(&spans),
        "index (webapp)\n  get /api [CLIENT] (webapp)\n    service1_api [SERVER] (service1) shared\n      do_stuff (service1)\n"
    );
    let client = spans
        .iter()
        .find(|s| s.kind.as_deref() == Some("CLIENT"))
        .unwrap();
    let server = spans
        .iter()
        .find(|s| s.kind.as_deref() == Some("SERVER"))
        .unwrap();
    assert_eq!(sent["x-b3-spanid"], client.id.as_str());
    assert_eq!(
        sent["x-b3-parentspanid"],
        client.parent_id.as_deref().unwrap()
    );
    assert_eq!(
        (server.id.as_str(), server.shared),
        (client.id.as_str(), Some(true))
    );
    assert_eq!(server.parent_id, client.parent_id);
}
