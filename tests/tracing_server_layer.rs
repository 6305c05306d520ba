//! The `tracing` bridge under `ServerLayer`: with `ServerLayer` outside tower-http's
//! `TraceLayer`, the `TraceLayer` span continues the caller's trace without code in
//! `make_span_with`: it opens inside the SERVER span, which joined the caller's span, and what
//! runs in the handler nests under it. In memory, on one thread.

mod common;

use axum::body::Body;
use axum::routing::get;
use http::{Request, StatusCode};
use tower::ServiceExt;
use tower_http::trace::TraceLayer;
use tracing_subscriber::prelude::*;
use zipkin_rs::tower::ServerLayer;
use zipkin_rs::tracing::ZipkinLayer;

const TRACE_ID: &str = "463ac35c9f6413ad48485a3953bb6124";
const SPAN_ID: &str = "a2fb4a1d1a96d312";

#[zipkin_rs::zipkin_span]
async fn load() -> &'static str {
    "order"
}

async fn order() -> &'static str {
    load().await
}

#[test]
fn server_layer_outside_trace_layer_puts_the_tracing_span_in_the_callers_trace() {
    let (t, mem) = common::tracer();
    let _tracer = t.set_default();
    let _subscriber =
        tracing::subscriber::set_default(tracing_subscriber::registry().with(ZipkinLayer::new()));
    let app = axum::Router::new()
        .route("/orders/{id}", get(order))
        .layer(TraceLayer::new_for_http())
        .layer(ServerLayer::new()); // added last: the outermost layer
    let req = Request::get("/orders/7")
        .header("X-B3-TraceId", TRACE_ID)
        .header("X-B3-SpanId", SPAN_ID)
        .header("X-B3-Sampled", "1")
        .body(Body::empty())
        .unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let resp = rt.block_on(app.oneshot(req)).unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    drop(resp); // the body: TraceLayer's span and the SERVER span end with it

    let spans = common::collect(t, &mem);
    let server = common::span(&spans, "get /orders/{id}");
    let request = common::span(&spans, "request");
    let load = common::span(&spans, "load");
    assert_eq!(server.kind.as_deref(), Some("SERVER"));
    assert_eq!(server.id, SPAN_ID, "the SERVER span joins the caller's");
    for s in [server, request, load] {
        assert_eq!(s.trace_id, TRACE_ID, "{s:?}");
    }
    assert_eq!(request.parent_id.as_deref(), Some(SPAN_ID), "{request:?}");
    assert_eq!(
        load.parent_id.as_deref(),
        Some(request.id.as_str()),
        "{load:?}"
    );
    assert_eq!(spans.len(), 3, "{spans:#?}");
}
