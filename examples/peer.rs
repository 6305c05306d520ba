//! The Rust interop peer: the "chain" protocol of `tests/interop/README.md`, spoken by the
//! py_zipkin, Brave and zipkin-go peers there, built on zipkin-rs with axum and reqwest.
//!
//! ```sh
//! PORT=8084 SERVICE_NAME=rust-peer B3_FORMAT=single cargo run --example peer
//! curl 'http://127.0.0.1:8084/chain?hops=http://127.0.0.1:8082/chain'
//! ```
//!
//! - `GET /health`: 200 `OK`, not traced.
//! - `GET /chain?hops=<comma-separated URLs>`: a SERVER span (`get`) continuing the caller's
//!   B3 context (`extract`: single `b3` first, then `X-B3-*`); it joins the caller's span id.
//!   With hops left, a CLIENT span (`get`, a child of the SERVER span) GETs the first one with
//!   `?hops=<the rest>`. Answers JSON: `service`, `traceId`, `spanId` (the SERVER span's),
//!   `sampled` (true/false), `debug`, `receivedHeaders` (incoming `b3`/`x-b3-*`, lower-cased),
//!   `downstream` (the next hop's answer or null); 502 with `error` when the next hop failed.
//!
//! The CLIENT span's own ids are what goes downstream, as Brave, zipkin-go and py_zipkin's
//! `create_http_headers()` do: the next hop's SERVER span joins that id, so Zipkin holds one RPC
//! span with a client half and a server half (merged in the UI and by the dependency linker,
//! showing client and server latency side by side). `inject_headers()` would instead invent a
//! child id that no client half carries (py_zipkin's `create_http_headers_for_new_span()`,
//! right for a call made from a LOCAL span, as in the blog demo's `do_stuff`); inside a CLIENT
//! span that would leave a client half without a server and a server half without a client.
//!
//! With `PEER_HTTP=layers` the same protocol is served by the integrations instead of by hand:
//! `zipkin_rs::tower::ServerLayer` around the `/chain` route opens the SERVER span (named from
//! the route, `get /chain`), and the next hop is called through `zipkin_rs::tower::ClientLayer`
//! over a hyper-util client (a CLIENT span `get` whose own ids go downstream). The interop tests
//! put this mode next to Brave's client and server.
//!
//! Environment: `PORT` (default 8084; 0 picks a free port), `SERVICE_NAME` (default
//! `rust-peer`), `ZIPKIN_ENDPOINT` (default `http://localhost:9411/api/v2/spans`), `B3_FORMAT`
//! `multi` (default) or `single` for outgoing headers, `PEER_HTTP` `manual` (default:
//! `#[zipkin_span]`, `extract`, `inject_headers` and reqwest) or `layers`, and the other
//! `ZIPKIN_*` variables.

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioExecutor;
use serde_json::{json, Value};
use tower::{ServiceBuilder, ServiceExt};
use zipkin_rs::propagation::B3Format;
use zipkin_rs::tower::{ClientLayer, ServerLayer};
use zipkin_rs::{current_context, extract, inject_headers, zipkin_span, Tracer};

struct Settings {
    port: u16,
    service: String,
    b3_format: B3Format,
    layers: bool,
}

fn settings() -> Result<Settings, String> {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    let port = match var("PORT") {
        None => 8084,
        Some(p) => p
            .trim()
            .parse()
            .map_err(|_| format!("PORT is {p:?}; expected a port number from 0 to 65535"))?,
    };
    let b3_format = match var("B3_FORMAT").as_deref().map(str::trim) {
        None | Some("multi") => B3Format::Multi,
        Some("single") => B3Format::Single,
        Some(other) => return Err(format!("B3_FORMAT is {other:?}; expected multi or single")),
    };
    let layers = match var("PEER_HTTP").as_deref().map(str::trim) {
        None | Some("manual") => false,
        Some("layers") => true,
        Some(other) => return Err(format!("PEER_HTTP is {other:?}; expected manual or layers")),
    };
    Ok(Settings {
        port,
        service: var("SERVICE_NAME").unwrap_or_else(|| "rust-peer".into()),
        b3_format,
        layers,
    })
}

/// The hyper-util client under `ClientLayer` (`PEER_HTTP=layers`).
type LayeredClient = zipkin_rs::tower::Client<
    hyper_util::client::legacy::Client<
        hyper_util::client::legacy::connect::HttpConnector,
        Empty<Bytes>,
    >,
>;

struct Peer {
    service: String,
    tracer: Tracer,
    client: reqwest::Client,
    layered: LayeredClient,
}

fn main() -> ExitCode {
    let s = match settings() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("peer: {e}");
            return ExitCode::from(2);
        }
    };
    let listener = match std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, s.port))
        .and_then(|l| l.set_nonblocking(true).map(|()| l))
    {
        Ok(l) => l,
        Err(e) => {
            eprintln!("peer: cannot listen on 127.0.0.1:{}: {e}", s.port);
            return ExitCode::FAILURE;
        }
    };
    let port = listener.local_addr().map_or(s.port, |a| a.port());
    // The guard flushes what is left when main returns (after SIGTERM or Ctrl-C).
    let zipkin = match Tracer::builder().from_env().and_then(|b| {
        b.service_name(s.service.clone())
            .port(port)
            .b3_format(s.b3_format)
            .install()
    }) {
        Ok(g) => g,
        Err(e) => {
            eprintln!("peer: {e}");
            return ExitCode::from(2);
        }
    };
    let peer = Arc::new(Peer {
        service: s.service,
        tracer: zipkin.tracer(),
        client: reqwest::Client::new(),
        layered: ServiceBuilder::new().layer(ClientLayer::new()).service(
            hyper_util::client::legacy::Client::builder(TokioExecutor::new()).build_http(),
        ),
    });
    let layers = s.layers;
    let rt = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("peer: cannot start tokio: {e}");
            return ExitCode::FAILURE;
        }
    };
    let served = rt.block_on(async move {
        let listener = tokio::net::TcpListener::from_std(listener)?;
        eprintln!(
            "zipkin-rs peer {} listening on {} (b3 out: {:?}, http: {}, zipkin: {})",
            peer.service,
            SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
            peer.tracer.config().b3_format(),
            if layers { "layers" } else { "manual" },
            peer.tracer.config().endpoint(),
        );
        let app = if layers {
            // The layer wraps the routes added before it: `/health` stays untraced.
            Router::new()
                .route("/chain", get(chain_layers))
                .layer(ServerLayer::new())
        } else {
            Router::new().route("/chain", get(chain))
        };
        let app = app
            .route("/health", get(|| async { "OK\n" }))
            .with_state(peer);
        axum::serve(listener, app)
            .with_graceful_shutdown(stop_signal())
            .await
    });
    drop(zipkin);
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("peer: {e}");
            ExitCode::FAILURE
        }
    }
}

fn hops_of(query: &HashMap<String, String>) -> Vec<String> {
    query
        .get("hops")
        .map(|h| {
            h.split(',')
                .map(str::trim)
                .filter(|h| !h.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

async fn chain(
    State(peer): State<Arc<Peer>>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> impl IntoResponse {
    let (status, body) = serve_chain(&peer, &hops_of(&query), headers).await;
    (status, Json(body))
}

/// `PEER_HTTP=layers`: `ServerLayer` has opened the SERVER span (current here), and
/// `ClientLayer` opens the CLIENT span of the call to the next hop and injects its ids.
async fn chain_layers(
    State(peer): State<Arc<Peer>>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> impl IntoResponse {
    let mut body = answer(&peer, &headers);
    let mut status = StatusCode::OK;
    if let Some((next, rest)) = hops_of(&query).split_first() {
        let (downstream, error) = get_next_layered(&peer, next, rest).await;
        body["downstream"] = downstream;
        if let Some(e) = error {
            status = StatusCode::BAD_GATEWAY;
            body["error"] = Value::String(e);
        }
    }
    (status, Json(body))
}

async fn get_next_layered(peer: &Peer, next: &str, rest: &[String]) -> (Value, Option<String>) {
    let url = match reqwest::Url::parse_with_params(next, [("hops", rest.join(","))]) {
        Ok(u) => u,
        Err(e) => return (Value::Null, Some(format!("GET {next}: bad URL: {e}"))),
    };
    let req = match axum::http::Request::get(url.as_str()).body(Empty::new()) {
        Ok(r) => r,
        Err(e) => return (Value::Null, Some(format!("GET {next}: bad request: {e}"))),
    };
    let call = peer.layered.clone().oneshot(req);
    let resp = match tokio::time::timeout(Duration::from_secs(30), call).await {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => return (Value::Null, Some(format!("GET {next}: {e}"))),
        Err(_) => return (Value::Null, Some(format!("GET {next}: no answer in 30 s"))),
    };
    let code = resp.status();
    let body = resp.into_body().collect().await.map(|b| b.to_bytes());
    downstream_answer(next, code, body)
}

/// The answer's fields from the current (SERVER) span and the headers received.
fn answer(peer: &Peer, headers: &HeaderMap) -> Value {
    let received: serde_json::Map<String, Value> = headers
        .iter()
        .filter(|(name, _)| name.as_str() == "b3" || name.as_str().starts_with("x-b3-"))
        .map(|(name, value)| {
            let v = String::from_utf8_lossy(value.as_bytes()).into_owned();
            (name.as_str().to_owned(), Value::String(v))
        })
        .collect();
    let ctx = current_context();
    json!({
        "service": peer.service,
        "traceId": ctx.map(|c| c.trace_id.to_string()),
        "spanId": ctx.map(|c| c.span_id.to_string()),
        "sampled": ctx.and_then(|c| c.sampling.decision()),
        "debug": ctx.is_some_and(|c| c.debug),
        "receivedHeaders": received,
        "downstream": null,
    })
}

/// The SERVER span: continues the caller (joining its span id) or starts a trace.
#[zipkin_span(
    kind = "server",
    span_name = "get",
    parent = extract(&headers),
    tags("http.method" = "GET", "http.path" = "/chain")
)]
async fn serve_chain(peer: &Peer, hops: &[String], headers: HeaderMap) -> (StatusCode, Value) {
    let mut body = answer(peer, &headers);
    let mut status = StatusCode::OK;
    if let Some((next, rest)) = hops.split_first() {
        let (downstream, error) = call_next(peer, next, rest).await;
        body["downstream"] = downstream;
        if let Some(e) = error {
            status = StatusCode::BAD_GATEWAY;
            body["error"] = Value::String(e);
        }
    }
    (status, body)
}

/// The CLIENT span of the call to the next hop; `inject_headers()` inside it sends its own ids.
#[zipkin_span(
    kind = "client",
    span_name = "get",
    tags("http.method" = "GET", "http.path" = path_of(next))
)]
async fn call_next(peer: &Peer, next: &str, rest: &[String]) -> (Value, Option<String>) {
    let (downstream, error) = get_next(peer, next, rest, inject_headers()).await;
    if let Some(e) = &error {
        zipkin_rs::tag("error", e.clone());
    }
    (downstream, error)
}

async fn get_next(
    peer: &Peer,
    next: &str,
    rest: &[String],
    headers: HeaderMap,
) -> (Value, Option<String>) {
    let url = match reqwest::Url::parse_with_params(next, [("hops", rest.join(","))]) {
        Ok(u) => u,
        Err(e) => return (Value::Null, Some(format!("GET {next}: bad URL: {e}"))),
    };
    let resp = peer
        .client
        .get(url)
        .headers(headers)
        .timeout(Duration::from_secs(30))
        .send()
        .await;
    let resp = match resp {
        Ok(r) => r,
        Err(e) => return (Value::Null, Some(format!("GET {next}: {e}"))),
    };
    let code = resp.status();
    downstream_answer(next, code, resp.bytes().await)
}

/// The next hop's JSON answer and what went wrong with it, whichever client fetched it.
fn downstream_answer<E: std::fmt::Display>(
    next: &str,
    code: StatusCode,
    body: Result<bytes::Bytes, E>,
) -> (Value, Option<String>) {
    let downstream = match body {
        Ok(b) => serde_json::from_slice(&b).unwrap_or(Value::Null),
        Err(e) => {
            return (
                Value::Null,
                Some(format!("GET {next}: reading the body: {e}")),
            )
        }
    };
    let error = (code != StatusCode::OK).then(|| format!("GET {next}: status {code}"));
    (downstream, error)
}

fn path_of(url: &str) -> String {
    reqwest::Url::parse(url).map_or_else(|_| url.to_owned(), |u| u.path().to_owned())
}

async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}
