//! The README's `tracing` examples ("From tracing-opentelemetry and opentelemetry-zipkin"),
//! compiled: every ```rust block of that section is a verbatim part of this file
//! (tests/readme_integrations.rs checks it). `cargo run --example tracing_migration` installs
//! the layer, serves one request under tower-http's `TraceLayer` (add `-- --server-layer` for
//! `ServerLayer` around it) and logs with trace ids; the spans go to `ZIPKIN_ENDPOINT` as usual.

// [after]
use tracing_subscriber::prelude::*;
use zipkin_rs::tracing::{TraceIds, ZipkinLayer};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let _tracer = zipkin_rs::init()?; // flushes at exit
    tracing_subscriber::registry()
        // or ZipkinLayer::new().with_event_level(Level::INFO) (.with_span_level, .with_service_name, ..)
        .with(ZipkinLayer::new())
        .with(tracing_subscriber::fmt::layer().event_format(TraceIds::standard()))
        .init();
    serve_one() // the application: here, one request to `app` below
}
// [/after]

// [server-layer]
use tower_http::trace::TraceLayer;
use zipkin_rs::tower::ServerLayer;

fn app_under_server_layer() -> axum::Router {
    axum::Router::new()
        .route("/checkout", axum::routing::post(checkout))
        .layer(TraceLayer::new_for_http())
        .layer(ServerLayer::new()) // added last, so outermost: it continues the caller's trace
}
// [/server-layer]

// [server]
fn app() -> axum::Router {
    axum::Router::new()
        .route("/checkout", axum::routing::post(checkout))
        .layer(
            TraceLayer::new_for_http().make_span_with(|req: &http::Request<_>| {
                zipkin_rs::tracing::with_remote_parent(zipkin_rs::extract(req.headers()), || {
                    tracing::info_span!("request",
                        otel.name = %format!("{} {}", req.method(), req.uri().path()),
                        otel.kind = "server", http.method = %req.method())
                })
            }),
        )
}
// [/server]

#[tracing::instrument]
async fn checkout() -> &'static str {
    tracing::info!("cart loaded"); // trace_id=… span_id=… on its log line
    "ok"
}

/// One request through [`app`], from a client span that sends its trace as B3 headers.
#[tokio::main]
async fn serve_one() -> Result<(), Box<dyn std::error::Error>> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let app = if std::env::args().any(|a| a == "--server-layer") {
        app_under_server_layer()
    } else {
        app()
    };
    tokio::spawn(async move { axum::serve(listener, app).await });
    println!("POST /checkout -> {}", buy(addr).await?);
    Ok(())
}

#[zipkin_rs::zipkin_span]
async fn buy(addr: std::net::SocketAddr) -> Result<reqwest::StatusCode, reqwest::Error> {
    let resp = reqwest::Client::new()
        .post(format!("http://{addr}/checkout"))
        .headers(zipkin_rs::inject_headers())
        .send()
        .await?;
    Ok(resp.status())
}
