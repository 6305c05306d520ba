//! `ServerLayer` in process, against a tracer reporting to memory: what the handler sees of
//! the sampling decision (unsampled requests still propagate `X-B3-Sampled: 0`, their children
//! are not sampled, debug wins over a 0 % sampler) and what a sampled span is named and tagged.
//! No network: the service is called and its future polled to completion by hand.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::pin;
use std::task::{Context, Poll};
use std::time::Duration;

use http::{HeaderMap, HeaderValue, Request, Response, StatusCode};
use tower::{Layer, Service};
use zipkin_runtime::model::Span as ModelSpan;
use zipkin_runtime::transport::memory::MemoryTransport;
use zipkin_runtime::{current_context, inject_headers, Span, Tracer, TracerBuilder};
use zipkin_tower::ServerLayer;

const TRACE_ID: &str = "463ac35c9f6413ad";
const SPAN_ID: &str = "a2fb4a1d1a96d312";

fn tracer(b: TracerBuilder) -> (Tracer, MemoryTransport) {
    let mem = MemoryTransport::new();
    let t = b
        .service_name("server")
        .transport(mem.clone())
        .build()
        .unwrap();
    (t, mem)
}

/// Polls `fut` until it is ready (every future here is ready without waiting on I/O).
fn block_on<F: Future>(fut: F) -> F::Output {
    let mut cx = Context::from_waker(futures_util::task::noop_waker_ref());
    let mut fut = pin!(fut);
    loop {
        if let Poll::Ready(out) = fut.as_mut().poll(&mut cx) {
            return out;
        }
    }
}

/// What the handler saw, sent back in the response headers: the current context's sampling
/// (`x-current`), whether a child span it opened records (`x-child-recording`) and the headers
/// `inject_headers()` gave it (prefixed `x-seen-`).
async fn handler(req: Request<String>) -> Result<Response<String>, Infallible> {
    let mut resp = Response::new(String::new());
    *resp.status_mut() = req
        .headers()
        .get("x-status")
        .and_then(|v| v.to_str().ok()?.parse().ok())
        .unwrap_or(StatusCode::OK);
    let h = resp.headers_mut();
    let current = match current_context() {
        None => "none",
        Some(c) if c.debug => "debug",
        Some(c) if c.is_sampled() => "sampled",
        Some(_) => "unsampled",
    };
    h.insert("x-current", HeaderValue::from_static(current));
    let child = Span::builder("child").start_detached();
    let recording = if child.is_recording() { "1" } else { "0" };
    h.insert("x-child-recording", HeaderValue::from_static(recording));
    drop(child);
    for (name, value) in inject_headers().iter() {
        let seen = format!("x-seen-{name}");
        h.insert(
            http::HeaderName::from_bytes(seen.as_bytes()).unwrap(),
            value.clone(),
        );
    }
    Ok(resp)
}

/// Calls the layered handler with `req` under `b`'s tracer; the response's headers and what
/// was reported.
fn serve(b: TracerBuilder, req: Request<String>) -> (HeaderMap, Vec<ModelSpan>) {
    let (t, mem) = tracer(b);
    let mut svc = ServerLayer::new().layer(tower::service_fn(handler));
    let resp = t.in_scope(|| block_on(svc.call(req))).unwrap();
    assert_eq!(
        current_context(),
        None,
        "the server span outlived its request"
    );
    t.flush(Duration::from_secs(5));
    (resp.headers().clone(), mem.spans())
}

fn get(path: &str) -> http::request::Builder {
    Request::get(path)
}

#[test]
fn unsampled_requests_report_nothing_and_propagate_not_sampled() {
    let (h, spans) = serve(
        Tracer::builder().sample_rate(0.0),
        get("/orders/42").body(String::new()).unwrap(),
    );
    assert!(spans.is_empty(), "{spans:#?}");
    assert_eq!(h["x-current"], "unsampled");
    assert_eq!(h["x-child-recording"], "0");
    assert_eq!(h["x-seen-x-b3-sampled"], "0");
    assert!(h.contains_key("x-seen-x-b3-traceid"), "{h:?}");
}

#[test]
fn a_callers_not_sampled_wins_over_a_100_percent_sampler() {
    let (h, spans) = serve(
        Tracer::builder().sample_rate(100.0),
        get("/orders/42")
            .header("X-B3-TraceId", TRACE_ID)
            .header("X-B3-SpanId", SPAN_ID)
            .header("X-B3-Sampled", "0")
            .body(String::new())
            .unwrap(),
    );
    assert!(spans.is_empty(), "{spans:#?}");
    assert_eq!(h["x-current"], "unsampled");
    assert_eq!(h["x-child-recording"], "0");
    assert_eq!(h["x-seen-x-b3-sampled"], "0");
    assert_eq!(h["x-seen-x-b3-traceid"], TRACE_ID);
}

#[test]
fn a_decision_alone_not_sampled_is_kept() {
    let (h, spans) = serve(
        Tracer::builder().sample_rate(100.0),
        get("/").header("b3", "0").body(String::new()).unwrap(),
    );
    assert!(spans.is_empty(), "{spans:#?}");
    assert_eq!(h["x-current"], "unsampled");
    assert_eq!(h["x-seen-x-b3-sampled"], "0");
}

#[test]
fn debug_wins_over_a_0_percent_sampler_and_joins_the_callers_span() {
    let (h, spans) = serve(
        Tracer::builder().sample_rate(0.0),
        get("/orders/42")
            .header("X-B3-TraceId", TRACE_ID)
            .header("X-B3-SpanId", SPAN_ID)
            .header("X-B3-Flags", "1")
            .body(String::new())
            .unwrap(),
    );
    assert_eq!(h["x-current"], "debug");
    assert_eq!(h["x-child-recording"], "1");
    assert_eq!(h["x-seen-x-b3-flags"], "1");
    let server = spans
        .iter()
        .find(|s| s.kind.as_deref() == Some("SERVER"))
        .unwrap_or_else(|| panic!("no server span in {spans:#?}"));
    assert_eq!(server.debug, Some(true));
    assert_eq!(server.shared, Some(true));
    assert_eq!(server.id, SPAN_ID);
    assert_eq!(server.trace_id, TRACE_ID);
    assert_eq!(spans.len(), 2, "{spans:#?}");
}

#[test]
fn a_caller_without_a_decision_leaves_it_to_the_sampler() {
    let (h, spans) = serve(
        Tracer::builder().sample_rate(0.0),
        get("/")
            .header("X-B3-TraceId", TRACE_ID)
            .header("X-B3-SpanId", SPAN_ID)
            .body(String::new())
            .unwrap(),
    );
    assert!(spans.is_empty(), "{spans:#?}");
    assert_eq!(h["x-current"], "unsampled");
    assert_eq!(h["x-seen-x-b3-traceid"], TRACE_ID);
    assert_eq!(h["x-seen-x-b3-sampled"], "0");
}

/// The sampled server span of a request with this method, path, status and extensions.
fn sampled_span(req: Request<String>) -> ModelSpan {
    let (h, spans) = serve(Tracer::builder().sample_rate(100.0), req);
    assert_eq!(h["x-current"], "sampled");
    assert_eq!(h["x-child-recording"], "1");
    assert_eq!(h["x-seen-x-b3-sampled"], "1");
    assert_eq!(spans.len(), 2, "{spans:#?}");
    let server = spans
        .iter()
        .find(|s| s.kind.as_deref() == Some("SERVER"))
        .unwrap_or_else(|| panic!("no server span in {spans:#?}"))
        .clone();
    let child = spans
        .iter()
        .find(|s| s.name.as_deref() == Some("child"))
        .unwrap_or_else(|| panic!("no child span in {spans:#?}"));
    assert_eq!(child.parent_id.as_deref(), Some(server.id.as_str()));
    server
}

fn tags(span: &ModelSpan) -> Vec<(&str, &str)> {
    span.tags
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect()
}

#[test]
fn a_sampled_request_is_named_by_its_method_and_tagged() {
    let s = sampled_span(get("/orders/42").body(String::new()).unwrap());
    assert_eq!(s.name.as_deref(), Some("get"));
    assert_eq!(
        tags(&s),
        [("http.method", "GET"), ("http.path", "/orders/42")]
    );
    assert!(s.remote_endpoint.is_none(), "{s:#?}");
}

#[test]
fn every_method_is_named_in_lower_case() {
    for (method, name) in [
        ("POST", "post"),
        ("DELETE", "delete"),
        ("OPTIONS", "options"),
        ("PURGE", "purge"),
    ] {
        let req = Request::builder()
            .method(method)
            .uri("/x")
            .body(String::new())
            .unwrap();
        let s = sampled_span(req);
        assert_eq!(s.name.as_deref(), Some(name));
        assert_eq!(s.tags["http.method"], method);
    }
}

#[test]
fn statuses_are_tagged_as_brave_does() {
    for (status, code_tag, error) in [
        ("200", None, None),
        ("201", None, None),
        ("101", Some("101"), None),
        ("302", Some("302"), None),
        ("404", Some("404"), Some("404")),
        ("503", Some("503"), Some("503")),
    ] {
        let s = sampled_span(
            get("/x")
                .header("x-status", status)
                .body(String::new())
                .unwrap(),
        );
        assert_eq!(
            s.tags.get("http.status_code").map(String::as_str),
            code_tag,
            "{status}"
        );
        assert_eq!(s.tags.get("error").map(String::as_str), error, "{status}");
    }
}

#[test]
fn the_peer_address_is_the_remote_endpoint() {
    let peer: SocketAddr = "192.0.2.7:40000".parse().unwrap();
    let mut req = get("/x").body(String::new()).unwrap();
    req.extensions_mut().insert(peer);
    let s = sampled_span(req);
    let remote = s.remote_endpoint.expect("a remote endpoint");
    assert_eq!(remote.ipv4.as_deref(), Some("192.0.2.7"));
    assert_eq!(remote.port, Some(40000));
}

/// tonic's server puts the connection's addresses in each request (feature `tonic`).
#[cfg(feature = "tonic")]
#[test]
fn a_tonic_peer_address_is_the_remote_endpoint() {
    let peer: SocketAddr = "[2001:db8::7]:40001".parse().unwrap();
    let mut req = get("/").body(String::new()).unwrap();
    req.extensions_mut()
        .insert(tonic::transport::server::TcpConnectInfo {
            local_addr: None,
            remote_addr: Some(peer),
        });
    let s = sampled_span(req);
    let remote = s.remote_endpoint.expect("a remote endpoint");
    assert_eq!(remote.ipv6.as_deref(), Some("2001:db8::7"));
    assert_eq!(remote.port, Some(40001));
}

#[test]
fn a_service_error_and_a_panic_tag_error() {
    let (t, mem) = tracer(Tracer::builder().sample_rate(100.0));
    let mut failing = ServerLayer::new().layer(tower::service_fn(|_: Request<String>| async {
        Err::<Response<String>, _>("backend down")
    }));
    let out = t.in_scope(|| block_on(failing.call(get("/x").body(String::new()).unwrap())));
    assert_eq!(out.unwrap_err(), "backend down");
    let mut panicking = ServerLayer::new().layer(tower::service_fn(|_: Request<String>| async {
        if true {
            panic!("handler panicked");
        }
        Ok::<Response<String>, &str>(Response::new(String::new()))
    }));
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        t.in_scope(|| block_on(panicking.call(get("/y").body(String::new()).unwrap())))
    }));
    assert!(caught.is_err());
    // The server span was put back as the panic unwound.
    assert_eq!(current_context(), None);
    t.flush(Duration::from_secs(5));
    let spans = mem.spans();
    assert_eq!(spans.len(), 2, "{spans:#?}");
    let by_path = |p: &str| {
        spans
            .iter()
            .find(|s| s.tags.get("http.path").map(String::as_str) == Some(p))
            .unwrap_or_else(|| panic!("no span for {p} in {spans:#?}"))
    };
    assert_eq!(by_path("/x").tags["error"], "backend down");
    assert_eq!(by_path("/y").tags["error"], "panic");
}

/// A service that panics in `call` itself, before it returns a future (a hand-written
/// `Service` may): the span is tagged `error` and reported as the panic unwinds.
#[test]
fn a_panic_in_the_services_call_tags_error() {
    #[derive(Clone)]
    struct PanicsInCall;
    impl Service<Request<String>> for PanicsInCall {
        type Response = Response<String>;
        type Error = Infallible;
        type Future = std::future::Ready<Result<Response<String>, Infallible>>;
        fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
            Poll::Ready(Ok(()))
        }
        fn call(&mut self, _: Request<String>) -> Self::Future {
            panic!("call panicked");
        }
    }
    let (t, mem) = tracer(Tracer::builder().sample_rate(100.0));
    let mut svc = ServerLayer::new().layer(PanicsInCall);
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        t.in_scope(|| drop(svc.call(get("/z").body(String::new()).unwrap())))
    }));
    assert!(caught.is_err());
    assert_eq!(current_context(), None);
    t.flush(Duration::from_secs(5));
    let spans = mem.spans();
    assert_eq!(spans.len(), 1, "{spans:#?}");
    assert_eq!(
        spans[0].tags.get("error").map(String::as_str),
        Some("panic"),
        "{spans:#?}"
    );
}

/// Names and long tag values are written into strings that earlier spans gave back through
/// the reporter (each flush below hands them back): every span carries its own text, nothing
/// left of an earlier span's.
#[cfg(feature = "axum")]
#[test]
fn strings_given_back_carry_only_their_own_span_text() {
    use tower::ServiceExt;
    let (t, mem) = tracer(Tracer::builder().sample_rate(100.0));
    let long = "/customers/{customer}/orders/{order}/items";
    let app: axum::Router = axum::Router::new()
        .route(long, axum::routing::get(|| async { "ok" }))
        .route("/a/{id}", axum::routing::post(|| async { "ok" }))
        .layer(ServerLayer::new());
    let mut expected = Vec::new();
    for round in 0..3 {
        let long_path = format!("/customers/{round}234567890/orders/98765/items");
        for (req, name, path, route) in [
            (
                Request::get(&long_path),
                format!("get {long}"),
                long_path.clone(),
                long,
            ),
            (
                Request::post("/a/1"),
                "post /a/{id}".to_owned(),
                "/a/1".to_owned(),
                "/a/{id}",
            ),
        ] {
            let req = req.body(axum::body::Body::empty()).unwrap();
            let resp = t.in_scope(|| block_on(app.clone().oneshot(req))).unwrap();
            assert_eq!(resp.status(), StatusCode::OK);
            assert!(!t.flush(Duration::from_secs(5)).timed_out);
            expected.push((name, path, route));
        }
    }
    let spans = mem.spans();
    assert_eq!(spans.len(), expected.len(), "{spans:#?}");
    for (span, (name, path, route)) in spans.iter().zip(&expected) {
        assert_eq!(span.name.as_deref(), Some(name.as_str()));
        assert_eq!(
            tags(span),
            [
                (
                    "http.method",
                    if name.starts_with("get") {
                        "GET"
                    } else {
                        "POST"
                    }
                ),
                ("http.path", path.as_str()),
                ("http.route", *route)
            ]
        );
    }
}

/// Through an axum `Router`, which sets `MatchedPath`: the name carries the route template.
#[cfg(feature = "axum")]
#[test]
fn an_axum_route_names_the_span() {
    use tower::ServiceExt;
    let (t, mem) = tracer(Tracer::builder().sample_rate(100.0));
    let app: axum::Router = axum::Router::new()
        .route("/orders/{id}", axum::routing::get(|| async { "ok" }))
        .layer(ServerLayer::new());
    let req = Request::get("/orders/42")
        .body(axum::body::Body::empty())
        .unwrap();
    let resp = t.in_scope(|| block_on(app.oneshot(req))).unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    t.flush(Duration::from_secs(5));
    let spans = mem.spans();
    assert_eq!(spans.len(), 1, "{spans:#?}");
    assert_eq!(spans[0].name.as_deref(), Some("get /orders/{id}"));
    assert_eq!(
        tags(&spans[0]),
        [
            ("http.method", "GET"),
            ("http.path", "/orders/42"),
            ("http.route", "/orders/{id}")
        ]
    );
}
