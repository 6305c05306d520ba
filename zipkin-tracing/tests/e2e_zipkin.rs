//! The layer end to end against the real Zipkin server (`ZIPKIN_URL`, default
//! http://127.0.0.1:9411): an axum app instrumented only with `tracing` (tower-http's
//! `TraceLayer`, `#[instrument]`) and one `#[zipkin_span]` function, its log lines, and a call to
//! a py_zipkin peer of tests/interop. Without a server the tests print "skipped: ..." and pass,
//! unless `ZIPKIN_E2E=1` (scripts/test.sh), which makes a missing server or peer a failure.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::extract::Query;
use axum::http::{Request, StatusCode};
use axum::routing::get;
use axum::Router;
use tower_http::trace::TraceLayer;
use tracing::Instrument;
use tracing_subscriber::layer::SubscriberExt;
use zipkin_rs_macros::zipkin_span;
use zipkin_runtime::model::Span;
use zipkin_runtime::Tracer;
use zipkin_testkit::{port, zipkin_server};
use zipkin_tracing::{with_remote_parent, TraceIds, ZipkinLayer};

fn repo() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

/// A random lower-case hex string of `n` digits.
fn hex(n: usize) -> String {
    let mut s = String::new();
    while s.len() < n {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        s.push_str(&format!(
            "{:016x}",
            (nanos as u64 ^ u64::from(std::process::id()).rotate_left(32))
                .wrapping_mul(0x9e37_79b9_7f4a_7c15)
                | 1
        ));
        std::thread::sleep(Duration::from_micros(3));
    }
    s.truncate(n);
    s
}

/// The log lines the fmt layer wrote, shared by the tests of this binary.
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Logs {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The process's subscriber (registry + ZipkinLayer + fmt with trace ids, into [`Logs`]) and
/// tracer (reporting to the real Zipkin), installed once.
fn setup() -> (Tracer, Logs) {
    static SETUP: OnceLock<(Tracer, Logs)> = OnceLock::new();
    SETUP
        .get_or_init(|| {
            let tracer = Tracer::builder()
                .service_name("tracing-e2e")
                .endpoint(&format!("{}/api/v2/spans", zipkin_server::url()))
                .unwrap()
                .build()
                .unwrap();
            tracer.set_global();
            let logs = Logs::default();
            let out = logs.clone();
            let subscriber = tracing_subscriber::registry()
                .with(ZipkinLayer::new())
                .with(
                    tracing_subscriber::fmt::layer()
                        .with_ansi(false)
                        .with_writer(move || out.clone())
                        .event_format(TraceIds::standard()),
                );
            tracing::subscriber::set_global_default(subscriber).unwrap();
            (tracer, logs)
        })
        .clone()
}

#[tracing::instrument(fields(items = tracing::field::Empty))]
async fn load_cart(user: u32) -> u32 {
    tokio::time::sleep(Duration::from_millis(5)).await;
    tracing::info!(items = 3, "cart loaded");
    tracing::Span::current().record("items", 3);
    3
}

#[zipkin_span(crate = zipkin_runtime, err)]
async fn charge(amount: u32) -> Result<(), String> {
    async {
        tracing::info!(amount, "ledger written");
    }
    .instrument(tracing::info_span!("ledger"))
    .await;
    tracing::warn!("card declined");
    Err(format!("card declined for {amount}"))
}

async fn checkout() -> StatusCode {
    let items = load_cart(7).await;
    match charge(items * 10).await {
        Ok(()) => StatusCode::OK,
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// Calls the py_zipkin peer at `peer` inside a CLIENT span, sending its context with
/// `inject_headers()`.
async fn fanout(Query(q): Query<std::collections::HashMap<String, String>>) -> StatusCode {
    let Some(peer) = q.get("peer").cloned() else {
        return StatusCode::BAD_REQUEST;
    };
    let span = tracing::info_span!("call_peer", otel.kind = "client", peer = %peer);
    async move {
        let headers = zipkin_runtime::inject_headers();
        let r = reqwest::Client::new()
            .get(format!("{peer}/chain"))
            .headers(headers)
            .timeout(Duration::from_secs(30))
            .send()
            .await;
        match r {
            Ok(r) if r.status().is_success() => StatusCode::OK,
            _ => StatusCode::BAD_GATEWAY,
        }
    }
    .instrument(span)
    .await
}

/// The app under test: tower-http's TraceLayer, whose span continues the caller's trace.
async fn start_app() -> String {
    let app = Router::new()
        .route("/checkout", get(checkout))
        .route("/fanout", get(fanout))
        .layer(
            TraceLayer::new_for_http().make_span_with(|req: &Request<_>| {
                with_remote_parent(zipkin_runtime::extract(req.headers()), || {
                    tracing::info_span!(
                        "request",
                        otel.name = %format!("{} {}", req.method(), req.uri().path()),
                        otel.kind = "server",
                        http.method = %req.method(),
                    )
                })
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}")
}

/// Trace `trace_id` once Zipkin stores `n` spans of it (it answers 202 before it stores).
async fn stored_trace(trace_id: &str, n: usize) -> Vec<Span> {
    let spans = zipkin_server::stored_trace(trace_id, n, Duration::from_secs(30)).await;
    assert!(
        spans.len() >= n,
        "trace {trace_id}: {} of {n} spans stored after 30 s: {spans:#?}",
        spans.len()
    );
    spans
}

fn named<'a>(spans: &'a [Span], name: &str) -> &'a Span {
    let found: Vec<_> = spans
        .iter()
        .filter(|s| s.name.as_deref() == Some(name))
        .collect();
    assert_eq!(found.len(), 1, "one span {name:?} in {spans:#?}");
    found[0]
}

/// `child` lies inside `parent`'s time and names it as parent.
fn under(child: &Span, parent: &Span) {
    assert_eq!(
        child.parent_id.as_deref(),
        Some(parent.id.as_str()),
        "{child:#?} under {parent:#?}"
    );
    assert_eq!(child.trace_id, parent.trace_id);
    let (cs, cd) = (child.timestamp.unwrap(), child.duration.unwrap_or(0));
    let (ps, pd) = (parent.timestamp.unwrap(), parent.duration.unwrap_or(0));
    assert!(
        cs >= ps && cs + cd <= ps + pd,
        "{child:#?} outside {parent:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn axum_trace_layer_instrument_and_zipkin_span_in_one_tree() {
    let client = reqwest::Client::new();
    if !zipkin_server::up("axum_trace_layer_instrument_and_zipkin_span_in_one_tree").await {
        return;
    }
    let (tracer, logs) = setup();
    let base = start_app().await;
    let (trace_id, caller) = (hex(32), hex(16));
    let r = client
        .get(format!("{base}/checkout"))
        .header("b3", format!("{trace_id}-{caller}-1"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 500);
    // The server span closes after the response is written: wait for the flush to include it.
    let deadline = Instant::now() + Duration::from_secs(60);
    let spans = loop {
        tracer.flush(Duration::from_secs(10));
        let spans = stored_trace(&trace_id, 4).await;
        assert!(
            Instant::now() < deadline,
            "no SERVER span stored in {spans:#?}"
        );
        if spans.iter().any(|s| s.kind.as_deref() == Some("SERVER")) {
            break spans;
        }
    };
    assert_eq!(spans.len(), 4, "{spans:#?}");

    // tower-http's span, renamed by otel.name, continuing the caller (joining its span id).
    let server = named(&spans, "get /checkout");
    assert_eq!(server.kind.as_deref(), Some("SERVER"));
    assert_eq!(server.id, caller);
    assert_eq!(server.shared, Some(true));
    assert_eq!(server.tags["http.method"], "GET");
    assert_eq!(
        server
            .local_endpoint
            .as_ref()
            .unwrap()
            .service_name
            .as_deref(),
        Some("tracing-e2e")
    );
    // TraceLayer's on_failure logs a 5xx at ERROR.
    assert!(server.tags.contains_key("error"), "{server:#?}");
    assert!(
        server
            .annotations
            .iter()
            .any(|a| a.value.starts_with("response failed")),
        "{server:#?}"
    );

    let cart = named(&spans, "load_cart");
    under(cart, server);
    assert_eq!(cart.tags["user"], "7");
    assert_eq!(cart.tags["items"], "3");
    assert_eq!(cart.annotations[0].value, "cart loaded items=3");

    let charge = named(&spans, "charge");
    under(charge, server);
    assert_eq!(charge.tags["error"], "card declined for 30");
    assert!(
        charge
            .annotations
            .iter()
            .any(|a| a.value == "card declined"),
        "{charge:#?}"
    );
    let ledger = named(&spans, "ledger");
    under(ledger, charge);
    assert_eq!(ledger.annotations[0].value, "ledger written amount=30");

    // Log correlation: every line of this trace names the span Zipkin stored for its event.
    let text = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    let lines: Vec<&str> = text.lines().filter(|l| l.contains(&trace_id)).collect();
    let expect = [
        ("cart loaded", cart),
        ("ledger written", ledger),
        ("card declined", charge),
        ("response failed", server),
    ];
    for (msg, span) in expect {
        let line = lines
            .iter()
            .find(|l| l.contains(msg))
            .unwrap_or_else(|| panic!("no log line {msg:?} in trace {trace_id}:\n{text}"));
        let want = format!("trace_id={} span_id={} ", span.trace_id, span.id);
        assert!(
            line.starts_with(&want),
            "{line:?} should start with {want:?}"
        );
    }
    for l in &lines {
        let span_id = l
            .split("span_id=")
            .nth(1)
            .unwrap()
            .split(' ')
            .next()
            .unwrap();
        assert!(
            spans.iter().any(|s| s.id == span_id),
            "{l}: no stored span {span_id}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Across services: this tracing-only app calls a py_zipkin peer.

fn install_peer() -> Result<(), String> {
    let out = Command::new("bash")
        .arg(repo().join("scripts/peers.sh"))
        .args(["install", "python"])
        .output()
        .map_err(|e| format!("cannot run scripts/peers.sh: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "scripts/peers.sh install python failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// The py_zipkin peer, stopped when dropped.
struct Peer(Child);

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tracing_service_calls_py_zipkin_peer_in_one_trace() {
    let client = reqwest::Client::new();
    if !zipkin_server::up("tracing_service_calls_py_zipkin_peer_in_one_trace").await {
        return;
    }
    if let Err(why) = tokio::task::spawn_blocking(install_peer).await.unwrap() {
        if zipkin_server::required() {
            panic!("ZIPKIN_E2E=1 but {why}");
        }
        println!("skipped: tracing_service_calls_py_zipkin_peer_in_one_trace: {why}");
        return;
    }
    let (tracer, _logs) = setup();
    let port = port::free_port();
    let service = format!("py-{}", hex(6));
    let log = std::fs::File::create(
        Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("py-peer-{port}.log")),
    )
    .unwrap();
    let mut peer = Peer(
        Command::new("bash")
            .arg(repo().join("scripts/peers.sh"))
            .args(["run", "python"])
            .env("PORT", port.to_string())
            .env("SERVICE_NAME", &service)
            .env(
                "ZIPKIN_ENDPOINT",
                format!("{}/api/v2/spans", zipkin_server::url()),
            )
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap(),
    );
    let peer_url = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(60);
    while client
        .get(format!("{peer_url}/health"))
        .send()
        .await
        .is_err()
    {
        assert!(
            peer.0.try_wait().unwrap().is_none(),
            "the py_zipkin peer exited at startup"
        );
        assert!(
            Instant::now() < deadline,
            "the py_zipkin peer did not answer within 60 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let base = start_app().await;
    let (trace_id, caller) = (hex(32), hex(16));
    let r = client
        .get(format!("{base}/fanout?peer={peer_url}"))
        .header("b3", format!("{trace_id}-{caller}-1"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let deadline = Instant::now() + Duration::from_secs(60);
    let spans = loop {
        tracer.flush(Duration::from_secs(10));
        let spans = stored_trace(&trace_id, 3).await;
        assert!(
            Instant::now() < deadline,
            "not both of our spans stored in {spans:#?}"
        );
        let ours = spans
            .iter()
            .filter(|s| s.service() == "tracing-e2e")
            .count();
        if ours == 2 {
            break spans;
        }
    };
    drop(peer);
    assert_eq!(spans.len(), 3, "{spans:#?}");
    let server = named(&spans, "get /fanout");
    assert_eq!(server.id, caller);
    let call = spans
        .iter()
        .find(|s| s.kind.as_deref() == Some("CLIENT"))
        .unwrap_or_else(|| panic!("no CLIENT span in {spans:#?}"));
    assert_eq!(call.name.as_deref(), Some("call_peer"));
    assert_eq!(call.service(), "tracing-e2e");
    under(call, server);
    // py_zipkin's SERVER span joins the span id our CLIENT span sent.
    let py = spans
        .iter()
        .find(|s| s.service() == service)
        .unwrap_or_else(|| panic!("no span of {service} in {spans:#?}"));
    assert_eq!(py.kind.as_deref(), Some("SERVER"));
    assert_eq!(py.id, call.id);
    assert_eq!(py.trace_id, trace_id);
}
