//! `tower::ServerLayer` on an axum server and `reqwest::ZipkinMiddleware` on its clients, end
//! to end through the real Zipkin server: route names and tags, the CLIENT and SERVER halves
//! joined, 5xx and a panic tagged `error`, `GET /health` never sampled under the rule sampler,
//! and concurrent requests never mixing parents.
//!
//! Reads `ZIPKIN_URL` (default http://127.0.0.1:9411). Without a server it prints "skipped:
//! ..." and passes, unless `ZIPKIN_E2E=1` (scripts/test.sh), which makes it a failure.

use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::Duration;

use axum::extract::Path;
use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;
use zipkin_rs::model::Span as ModelSpan;
use zipkin_rs::reqwest::ZipkinMiddleware;
use zipkin_rs::tower::ServerLayer;
use zipkin_rs::{
    current_context, FutureExt, HttpRule, HttpRuleSampler, PercentageSampler, Span, SpanContext,
    Tracer,
};
use zipkin_testkit::zipkin_server;

/// The process's tracer (global: the server's tasks run on tokio's threads): service `shop`,
/// reporting to Zipkin, with the rule sampler of the README (never `GET /health`, the rest).
fn tracer() -> Tracer {
    static T: OnceLock<Tracer> = OnceLock::new();
    *T.get_or_init(|| {
        let sampler = HttpRuleSampler::new(PercentageSampler::new(100.0)).rule(
            HttpRule::path("/health").method("GET"),
            PercentageSampler::new(0.0),
        );
        let t = Tracer::builder()
            .service_name("shop")
            .endpoint(&format!("{}/api/v2/spans", zipkin_server::url()))
            .unwrap()
            .sampler(sampler)
            .build()
            .unwrap();
        t.set_global();
        t
    })
}

fn context_text(ctx: Option<SpanContext>) -> String {
    match ctx {
        Some(c) => format!("{} {} {}", c.trace_id, c.span_id, c.is_sampled()),
        None => "none".into(),
    }
}

/// A handler's own work: a local span under the server span, across an await.
async fn load_order(id: u32) -> String {
    async move {
        tokio::task::yield_now().await;
        tokio::time::sleep(Duration::from_millis(5)).await;
        format!("{id} {}", context_text(current_context()))
    }
    .in_new_span("load_order")
    .await
}

async fn order(Path(id): Path<u32>) -> String {
    let inside = load_order(id).await;
    format!("{inside}|{}", context_text(current_context()))
}

async fn fail() -> (StatusCode, &'static str) {
    (StatusCode::SERVICE_UNAVAILABLE, "down")
}

async fn boom() -> &'static str {
    panic!("the handler's bug")
}

async fn health() -> String {
    context_text(current_context())
}

/// Serves the app on a free port.
async fn serve() -> SocketAddr {
    let app = Router::new()
        .route("/orders/{id}", get(order))
        .route("/fail", get(fail))
        .route("/panic", get(boom))
        .route("/health", get(health))
        .layer(ServerLayer::new());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .unwrap()
    });
    addr
}

fn client() -> reqwest_middleware::ClientWithMiddleware {
    reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(ZipkinMiddleware::new())
        .build()
}

/// Polls Zipkin until trace `id` has `n` spans (it answers 202 before it stores).
async fn trace(id: &str, n: usize) -> Vec<ModelSpan> {
    tracer().flush(Duration::from_secs(10));
    let spans = zipkin_server::stored_trace(id, n, Duration::from_secs(30)).await;
    assert!(
        spans.len() >= n,
        "trace {id}: wanted {n} spans, Zipkin has {spans:#?}"
    );
    spans
}

fn by_name<'a>(spans: &'a [ModelSpan], name: &str, kind: Option<&str>) -> &'a ModelSpan {
    spans
        .iter()
        .find(|s| s.name.as_deref() == Some(name) && s.kind.as_deref() == kind)
        .unwrap_or_else(|| panic!("no {name} {kind:?} in {spans:#?}"))
}

/// Runs `f` inside a local root span `name` and returns what it returned and the trace id.
async fn in_root<F: std::future::Future>(name: &'static str, f: F) -> (F::Output, String) {
    let root = Span::builder(name).start_detached();
    let trace_id = root.context().unwrap().trace_id.to_string();
    (root.instrument(f).await, trace_id)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_route_is_one_rpc_in_two_halves_with_its_tags() {
    if !zipkin_server::up("a_route_is_one_rpc_in_two_halves_with_its_tags").await {
        return;
    }
    tracer();
    let addr = serve().await;
    let (body, trace_id) = in_root("checkout", async {
        client()
            .get(format!("http://{addr}/orders/42?x=1"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    })
    .await;
    let spans = trace(&trace_id, 4).await;
    let root = by_name(&spans, "checkout", None);
    let client = by_name(&spans, "get", Some("CLIENT"));
    let server = by_name(&spans, "get /orders/{id}", Some("SERVER"));
    let local = by_name(&spans, "load_order", None);
    assert_eq!(client.parent_id.as_deref(), Some(root.id.as_str()));
    // The server joins the client's span id: one RPC, two halves.
    assert_eq!(server.id, client.id);
    assert_eq!(server.shared, Some(true));
    assert_eq!(local.parent_id.as_deref(), Some(server.id.as_str()));
    for s in [client, server] {
        assert_eq!(s.tags.get("http.method").map(String::as_str), Some("GET"));
        assert_eq!(
            s.tags.get("http.path").map(String::as_str),
            Some("/orders/42")
        );
        assert!(!s.tags.contains_key("error"), "{s:?}");
        assert!(
            !s.tags.contains_key("http.status_code"),
            "2xx is not tagged: {s:?}"
        );
    }
    assert_eq!(
        server.tags.get("http.route").map(String::as_str),
        Some("/orders/{id}")
    );
    // The remote endpoints: the server's port for the client, the client's address for the
    // server.
    let remote = client.remote_endpoint.as_ref().unwrap();
    assert_eq!(remote.port, Some(addr.port()));
    assert_eq!(remote.ipv4.as_deref(), Some("127.0.0.1"));
    let peer = server.remote_endpoint.as_ref().unwrap();
    assert_eq!(peer.ipv4.as_deref(), Some("127.0.0.1"));
    // The handler saw the server span current, and its child under it.
    let (inside, outside) = body.split_once('|').unwrap();
    assert_eq!(outside, format!("{trace_id} {} true", server.id));
    assert_eq!(inside, format!("42 {trace_id} {} true", local.id));
}

/// Regression: a call by host name (`localhost`, a Kubernetes service) got a CLIENT span with
/// no remote endpoint at all; it now has the address the connection reached.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_call_by_host_name_has_the_address_it_reached() {
    if !zipkin_server::up("a_call_by_host_name_has_the_address_it_reached").await {
        return;
    }
    tracer();
    let addr = serve().await;
    let (_, trace_id) = in_root("by-name", async {
        client()
            .get(format!("http://localhost:{}/orders/7", addr.port()))
            .send()
            .await
            .unwrap()
    })
    .await;
    let spans = trace(&trace_id, 4).await;
    let client = by_name(&spans, "get", Some("CLIENT"));
    let remote = client.remote_endpoint.as_ref().expect("a remote endpoint");
    assert_eq!(remote.port, Some(addr.port()), "{client:?}");
    // The server listens on 127.0.0.1 only, so that is where `localhost` got through.
    assert_eq!(remote.ipv4.as_deref(), Some("127.0.0.1"), "{client:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_5xx_and_a_panic_are_errors() {
    if !zipkin_server::up("a_5xx_and_a_panic_are_errors").await {
        return;
    }
    tracer();
    let addr = serve().await;
    let (status, fail_trace) = in_root("fail-root", async {
        client()
            .get(format!("http://{addr}/fail"))
            .send()
            .await
            .unwrap()
            .status()
    })
    .await;
    assert_eq!(status, 503);
    let (sent, panic_trace) = in_root("panic-root", async {
        client().get(format!("http://{addr}/panic")).send().await
    })
    .await;
    assert!(
        sent.is_err(),
        "the connection of a panicking handler closes"
    );

    let spans = trace(&fail_trace, 3).await;
    for kind in ["CLIENT", "SERVER"] {
        let s = spans
            .iter()
            .find(|s| s.kind.as_deref() == Some(kind))
            .unwrap();
        assert_eq!(
            s.tags.get("error").map(String::as_str),
            Some("503"),
            "{s:?}"
        );
        assert_eq!(
            s.tags.get("http.status_code").map(String::as_str),
            Some("503")
        );
    }
    let spans = trace(&panic_trace, 3).await;
    let server = by_name(&spans, "get /panic", Some("SERVER"));
    assert_eq!(server.tags.get("error").map(String::as_str), Some("panic"));
    let client = by_name(&spans, "get", Some("CLIENT"));
    assert!(client.tags.contains_key("error"), "{client:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn get_health_is_never_sampled_under_the_rule_sampler() {
    if !zipkin_server::up("get_health_is_never_sampled_under_the_rule_sampler").await {
        return;
    }
    tracer();
    let addr = serve().await;
    // Plain clients, no context: the server starts each trace, and its sampler decides.
    let plain = reqwest::Client::new();
    let mut health_traces = Vec::new();
    for _ in 0..5 {
        let body = plain
            .get(format!("http://{addr}/health"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let (trace_id, rest) = body.split_once(' ').unwrap();
        assert!(
            rest.ends_with("false"),
            "a /health span was sampled: {body}"
        );
        health_traces.push(trace_id.to_owned());
    }
    // A request of another route, sent after them, is sampled and stored: once it is in
    // Zipkin, the /health ones would be too, had they been sent.
    let body = plain
        .get(format!("http://{addr}/orders/7"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let outside = body.split_once('|').unwrap().1;
    let trace_id = outside.split(' ').next().unwrap();
    assert!(outside.ends_with("true"), "{body}");
    trace(trace_id, 2).await;
    for id in health_traces {
        let r = reqwest::get(format!("{}/api/v2/trace/{id}", zipkin_server::url()))
            .await
            .unwrap();
        assert_eq!(r.status(), 404, "trace {id} of GET /health reached Zipkin");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_requests_never_mix_parents() {
    if !zipkin_server::up("concurrent_requests_never_mix_parents").await {
        return;
    }
    tracer();
    let addr = serve().await;
    let client = client();
    let calls = (0..24u32).map(|i| {
        let client = client.clone();
        tokio::spawn(in_root("caller", async move {
            let body = client
                .get(format!("http://{addr}/orders/{i}"))
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            (i, body)
        }))
    });
    let mut results = Vec::new();
    for c in calls {
        results.push(c.await.unwrap());
    }
    for ((i, body), trace_id) in results {
        // What the handler saw: its own trace, inside and outside its child span.
        let (inside, outside) = body.split_once('|').unwrap();
        assert!(inside.starts_with(&format!("{i} {trace_id} ")), "{body}");
        assert!(outside.starts_with(&format!("{trace_id} ")), "{body}");
        let spans = trace(&trace_id, 4).await;
        assert_eq!(spans.len(), 4, "{spans:#?}");
        let server = by_name(&spans, "get /orders/{id}", Some("SERVER"));
        let local = by_name(&spans, "load_order", None);
        assert_eq!(local.parent_id.as_deref(), Some(server.id.as_str()));
        assert_eq!(
            server.tags.get("http.path").map(String::as_str),
            Some(format!("/orders/{i}").as_str())
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_hyper_client_under_the_client_layer_is_the_servers_other_half() {
    use http_body_util::{BodyExt, Empty};
    use tower::{Service, ServiceBuilder, ServiceExt};
    if !zipkin_server::up("a_hyper_client_under_the_client_layer_is_the_servers_other_half").await {
        return;
    }
    tracer();
    let addr = serve().await;
    let hyper = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<Empty<bytes::Bytes>>();
    let mut client = ServiceBuilder::new()
        .layer(zipkin_rs::tower::ClientLayer::new())
        .service(hyper);
    let (statuses, trace_id) = in_root("hyper-root", async {
        let mut statuses = Vec::new();
        for path in ["/orders/5", "/fail"] {
            let req = axum::http::Request::get(format!("http://{addr}{path}"))
                .body(Empty::new())
                .unwrap();
            let resp = client.ready().await.unwrap().call(req).await.unwrap();
            statuses.push(resp.status().as_u16());
            resp.into_body().collect().await.unwrap();
        }
        statuses
    })
    .await;
    assert_eq!(statuses, [200, 503]);
    let spans = trace(&trace_id, 6).await;
    let servers: Vec<_> = spans
        .iter()
        .filter(|s| s.kind.as_deref() == Some("SERVER"))
        .collect();
    let clients: Vec<_> = spans
        .iter()
        .filter(|s| s.kind.as_deref() == Some("CLIENT"))
        .collect();
    assert_eq!((servers.len(), clients.len()), (2, 2), "{spans:#?}");
    for c in &clients {
        let s = servers
            .iter()
            .find(|s| s.id == c.id)
            .expect("joined halves");
        assert_eq!(c.tags.get("http.path"), s.tags.get("http.path"));
        assert_eq!(c.remote_endpoint.as_ref().unwrap().port, Some(addr.port()));
        if s.tags.get("http.path").map(String::as_str) == Some("/fail") {
            assert_eq!(c.tags.get("error").map(String::as_str), Some("503"));
        } else {
            assert!(!c.tags.contains_key("error"));
        }
    }
}

/// The real Zipkin, asked on py_zipkin's v1 path with v2 spans, refuses them with a reason in
/// its body: the transport's error carries the URL and that reason (it said "HTTP 400" alone).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusal_by_the_real_zipkin_says_the_url_and_its_reason() {
    use zipkin_rs::transport::http::HttpTransport;
    use zipkin_rs::transport::{Message, Transport};
    if !zipkin_server::up("a_refusal_by_the_real_zipkin_says_the_url_and_its_reason").await {
        return;
    }
    let url = format!("{}/api/v1/spans", zipkin_server::url());
    let t = HttpTransport::builder(url.as_str()).build().unwrap();
    let msg = Message {
        // v2 only: `kind` and `localEndpoint` (a span of ids and a name reads as either).
        body: br#"[{"traceId":"0000000000000001","id":"0000000000000002","kind":"CLIENT","name":"x","localEndpoint":{"serviceName":"a"}}]"#.to_vec(),
        spans: 1,
        encoding: zipkin_rs::Encoding::Json,
    };
    // A transport sends from a thread of its own (the reporter's), outside any runtime.
    let e = std::thread::spawn(move || t.send(&msg).unwrap_err())
        .join()
        .unwrap()
        .to_string();
    assert!(e.contains(&format!("(POST {url}: \"")), "{e}");
    assert!(e.contains("JSON_V1"), "{e}");
}

/// Regression: a request that never reached its server was tagged with reqwest's own text
/// ("error sending request for url (…)"), which does not say why; the tag now carries the
/// causes, down to the operating system's "Connection refused".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_connection_is_tagged_with_its_cause() {
    use zipkin_rs::transport::memory::MemoryTransport;
    let mem = MemoryTransport::new();
    let t = Tracer::builder()
        .service_name("refused")
        .transport(mem.clone())
        .build()
        .unwrap();
    // Nothing listens on a port just released.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let root = t.in_scope(|| Span::builder("refused-root").start_detached());
    let got = root
        .instrument(async {
            client()
                .get(format!("http://127.0.0.1:{port}/x"))
                .send()
                .await
        })
        .await;
    assert!(got.is_err());
    t.flush(Duration::from_secs(10));
    let spans = mem.spans();
    let client = by_name(&spans, "get", Some("CLIENT"));
    let error = client.tags.get("error").map(String::as_str).unwrap_or("");
    assert!(error.contains("error sending request"), "{error}");
    assert!(error.contains("onnection refused"), "{error}");
}
