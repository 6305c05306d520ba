//! The demo's second form (`cargo run --example demo -- --form layers`): the same two services
//! and nesting, with the integrations instead of per-handler code. `ServerLayer` opens each
//! service's SERVER span (joining the caller's, named by the route: `get /`,
//! `get /service1/`); `ZipkinMiddleware` opens the CLIENT span under `do_stuff` and sends its
//! ids. The handlers only name their own work with `#[zipkin_span]`.

use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use reqwest_middleware::ClientWithMiddleware;
use zipkin_rs::reqwest::ZipkinMiddleware;
use zipkin_rs::tower::ServerLayer;
use zipkin_rs::{current_context, zipkin_span};

use super::{service1, webapp, TRACE_ID_HEADER};

/// Spans per trace: webapp's SERVER `get /`, `do_stuff` and its CLIENT `get`, service1's
/// SERVER `get /service1/` (the CLIENT's other half) and `service1_do_stuff`.
pub const SPANS_PER_TRACE: usize = 5;

#[derive(Clone)]
struct Webapp {
    config: webapp::Config,
    client: ClientWithMiddleware,
}

/// webapp: `GET /`, traced by the layer.
pub fn webapp_router(config: webapp::Config) -> Router {
    let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(ZipkinMiddleware::new())
        .build();
    Router::new()
        .route("/", get(index))
        .with_state(Webapp { config, client })
        .layer(ServerLayer::new())
}

async fn index(State(app): State<Webapp>) -> Response {
    let trace_id = current_context()
        .map(|c| c.trace_id.to_string())
        .unwrap_or_default();
    let called = do_stuff(&app).await;
    tokio::time::sleep(app.config.index_sleep).await;
    let trace = [(TRACE_ID_HEADER, trace_id)];
    match called {
        Ok(()) => (trace, "OK").into_response(),
        Err(e) => (StatusCode::BAD_GATEWAY, trace, format!("{e}\n")).into_response(),
    }
}

/// Sleeps, then calls service1: the middleware's CLIENT span is this span's child.
#[zipkin_span(span_name = "do_stuff", err)]
async fn do_stuff(app: &Webapp) -> Result<(), reqwest_middleware::Error> {
    tokio::time::sleep(app.config.do_stuff_sleep).await;
    app.client
        .get(&app.config.service1_url)
        .timeout(Duration::from_secs(60) + app.config.do_stuff_sleep * 2)
        .send()
        .await?
        .error_for_status()?;
    Ok(())
}

/// service1: `GET /service1/`, traced by the layer.
pub fn service1_router(config: service1::Config) -> Router {
    Router::new()
        .route("/service1/", get(index_service1))
        .with_state(config.do_stuff_sleep)
        .layer(ServerLayer::new())
}

async fn index_service1(State(sleep): State<Duration>) -> &'static str {
    service1_do_stuff(sleep).await;
    "OK"
}

#[zipkin_span(span_name = "service1_do_stuff")]
async fn service1_do_stuff(sleep: Duration) {
    tokio::time::sleep(sleep).await;
}
