//! The README's integration examples, compiled: every ```rust block of its "Integrations"
//! section is a verbatim part of this file (tests/readme_integrations.rs checks it).
//! `cargo run --example integrations` serves one request through each and prints the traces'
//! ids; the spans go to `ZIPKIN_ENDPOINT` as usual.

use std::net::SocketAddr;

use axum::extract::Path;
use axum::routing::get;
use axum::Router;
use zipkin_rs::{
    FinishedSpan, HttpRule, HttpRuleSampler, PercentageSampler, RateLimitingSampler, SpanHandler,
    Tracer,
};

// [server]
use zipkin_rs::tower::ServerLayer;

async fn order(Path(id): Path<u32>) -> String {
    load(id).await // a child of the SERVER span `get /orders/{id}`
}

#[zipkin_rs::zipkin_span]
async fn load(id: u32) -> String {
    format!("order {id}")
}

fn app() -> Router {
    Router::new()
        .route("/orders/{id}", get(order))
        .route("/health", get(|| async { "ok" }))
        .layer(ServerLayer::new()) // one SERVER span per request
}
// [/server]

// [serve]
async fn serve(app: Router, listener: tokio::net::TcpListener) -> std::io::Result<()> {
    // `ConnectInfo` gives the spans the caller's address as their remote endpoint.
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .await
}
// [/serve]

// [client]
use zipkin_rs::reqwest::ZipkinMiddleware;

fn client() -> reqwest_middleware::ClientWithMiddleware {
    reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(ZipkinMiddleware::new()) // one CLIENT span per request, its ids sent along
        .build()
}
// [/client]

// [tower-client]
use tower::ServiceBuilder;
use zipkin_rs::tower::ClientLayer;

fn hyper_client() -> impl tower::Service<http::Request<http_body_util::Empty<bytes::Bytes>>> {
    let hyper = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http();
    ServiceBuilder::new()
        .layer(ClientLayer::new())
        .service(hyper)
}
// [/tower-client]

// [sampler]
fn tracer() -> Result<Tracer, zipkin_rs::ConfigError> {
    // Never GET /health, all of /orders, 10 traces a second of the rest: the same as
    // ZIPKIN_SAMPLER="GET /health=0%;/orders=100%;*=10/s".
    let sampler = HttpRuleSampler::new(RateLimitingSampler::new(10))
        .rule(
            HttpRule::path("/health").method("GET"),
            PercentageSampler::new(0.0),
        )
        .rule(HttpRule::path("/orders"), PercentageSampler::new(100.0));
    Tracer::builder()
        .from_env()?
        .service_name("shop")
        .sampler(sampler)
        .span_handler(Privacy)
        .build()
}
// [/sampler]

// [handler]
/// Runs on the reporter's thread for each finished span: masks the e-mail addresses handlers
/// tag, and drops the spans of metrics scrapes.
#[derive(Debug)]
struct Privacy;

impl SpanHandler for Privacy {
    fn end(&self, span: &mut FinishedSpan<'_>) -> bool {
        if span.tag("user.email").is_some() {
            span.set_tag("user.email", "<redacted>");
        }
        span.tag("http.route") != Some("/metrics") // false drops it (counted in the metrics)
    }
}
// [/handler]

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let tracer = tracer()?;
    tracer.set_global();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(serve(app(), listener));
    let body = client()
        .get(format!("http://{addr}/orders/42"))
        .send()
        .await?
        .text()
        .await?;
    println!("GET /orders/42 -> {body}");
    let _ = hyper_client();
    tracer.flush(std::time::Duration::from_secs(5));
    Ok(())
}
