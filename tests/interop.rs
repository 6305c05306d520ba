//! One trace across languages: our Rust services and peer (`examples/webapp.rs`,
//! `examples/service1.rs`, `examples/peer.rs`) chained with the py_zipkin, Brave and zipkin-go
//! peers of `tests/interop/`, all reporting to the real Zipkin server, and each trace read back
//! from `/api/v2/trace/{id}`.
//!
//! Every test starts its own processes on free ports (peers through `scripts/peers.sh run`, which
//! execs them, so the child is the peer) and stops them when it ends, also on failure. Services
//! get names unique to the test, so tests run in parallel with each other and with anything else
//! reporting to the same server.
//!
//! Needs the Zipkin server (`ZIPKIN_URL`, default http://127.0.0.1:9411) and the peers
//! (`scripts/peers.sh install all`, idempotent; run once here). Without a server, or when the
//! peers cannot be installed, each test prints "skipped: ..." and passes, unless `ZIPKIN_E2E=1`
//! (set by scripts/test.sh), which makes either a failure.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use zipkin_testkit::{port, zipkin_server};

use serde_json::Value;
use zipkin_rs::model::Span;
use zipkin_rs::testing::render_tree;
use zipkin_rs::{SpanId, TraceId};

/// Brave's HTTP client and server next to our `tower::ServerLayer` and `tower::ClientLayer`.
#[path = "interop/layers.rs"]
mod layers;

// ---------------------------------------------------------------------------------------------
// Environment: the server, the peers, skipping.

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Whether the test can run: the server answers and the peers are installed. Prints "skipped"
/// and returns false otherwise, or panics when ZIPKIN_E2E=1.
async fn ready(client: &reqwest::Client, test: &str) -> bool {
    let base = zipkin_server::url();
    let health = client
        .get(format!("{base}/health"))
        .timeout(Duration::from_secs(5))
        .send()
        .await;
    let why = match health {
        Ok(r) if r.status().is_success() => match install_peers() {
            Ok(()) => return true,
            Err(e) => format!("the interop peers could not be installed: {e}"),
        },
        Ok(r) => format!(
            "no Zipkin server at {base}: /health answered {}",
            r.status()
        ),
        Err(e) => format!("no Zipkin server at {base}: {e}"),
    };
    if zipkin_server::required() {
        panic!("ZIPKIN_E2E=1 but {why}");
    }
    println!("skipped: {test}: {why}");
    false
}

/// `scripts/peers.sh install all`, once per test binary (idempotent, about 0.5 s when up to
/// date). Runs on a blocking thread so parallel tests wait for the one install.
fn install_peers() -> Result<(), String> {
    static INSTALLED: OnceLock<Result<(), String>> = OnceLock::new();
    INSTALLED
        .get_or_init(|| {
            let out = Command::new("bash")
                .arg(repo().join("scripts/peers.sh"))
                .args(["install", "all"])
                .output()
                .map_err(|e| format!("cannot run scripts/peers.sh: {e}"))?;
            if out.status.success() {
                Ok(())
            } else {
                Err(format!(
                    "scripts/peers.sh install all failed ({}): {}",
                    out.status,
                    String::from_utf8_lossy(&out.stderr)
                ))
            }
        })
        .clone()
}

// ---------------------------------------------------------------------------------------------
// Processes.

/// A name unique to this run and test: `<prefix>-<hex>`, lower-case (Zipkin lower-cases names).
fn unique(prefix: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let n = N.fetch_add(1, Ordering::Relaxed);
    format!(
        "{prefix}-{:06x}",
        (nanos ^ std::process::id().rotate_left(16) ^ n.wrapping_mul(0x9e37_79b9)) & 0xff_ffff
    )
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

/// A child process of the test, stopped (SIGTERM, then SIGKILL after 10 s) when dropped.
struct Proc {
    what: String,
    port: u16,
    child: Child,
    log: PathBuf,
}

impl Proc {
    fn spawn(what: String, port: u16, mut cmd: Command) -> Proc {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("interop");
        std::fs::create_dir_all(&dir).unwrap();
        let log = dir.join(format!("{what}-{port}.log"));
        let out = File::create(&log).unwrap();
        let child = cmd
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {what}: {e}"));
        Proc {
            what,
            port,
            child,
            log,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }

    /// Waits until `path` answers with any HTTP status (the demo services have no health route).
    async fn wait_ready(&mut self, client: &reqwest::Client, path: &str) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "{} exited during startup ({status}); log {}:\n{}",
                    self.what,
                    self.log.display(),
                    self.log_tail()
                );
            }
            let probe = client
                .get(self.url(path))
                .timeout(Duration::from_secs(2))
                .send()
                .await;
            if probe.is_ok() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{} did not answer on port {} within 60 s; log:\n{}",
                self.what,
                self.port,
                self.log_tail()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = Command::new("kill")
                .args(["-TERM", &self.child.id().to_string()])
                .status();
            let deadline = Instant::now() + Duration::from_secs(10);
            while let Ok(None) = self.child.try_wait() {
                if Instant::now() > deadline {
                    let _ = self.child.kill();
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = self.child.wait();
        }
    }
}

/// An executable of `examples/`. `cargo test` builds the examples beside the test binaries
/// (`target/<profile>/examples/`); a run filtered to this target (`--test interop`) does not,
/// so a missing one is built here, and one older than the sources is an error rather than a
/// silent test of old code.
fn example(name: &str) -> PathBuf {
    static BUILT: OnceLock<()> = OnceLock::new();
    let profile_dir = std::env::current_exe()
        .unwrap()
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .to_path_buf();
    let exe = profile_dir.join("examples").join(name);
    if !exe.exists() {
        BUILT.get_or_init(|| {
            let status = Command::new(env!("CARGO"))
                .args(["build", "--example", "peer", "--example", "webapp"])
                .args(["--example", "service1"])
                .current_dir(repo())
                .status()
                .unwrap();
            assert!(status.success(), "cargo build --example failed");
        });
    }
    let built = std::fs::metadata(&exe)
        .and_then(|m| m.modified())
        .unwrap_or_else(|e| panic!("{}: {e}", exe.display()));
    let newest = [
        "examples",
        "src",
        "zipkin-runtime/src",
        "zipkin-rs-macros/src",
        "zipkin-tower/src",
    ]
    .iter()
    .filter_map(|d| newest_file(&repo().join(d)))
    .max_by_key(|(t, _)| *t);
    if let Some((t, path)) = newest {
        assert!(
            t <= built,
            "{} is older than {}: build the examples first (`cargo test --workspace`, or \
             `cargo build --examples && cargo test --test interop`)",
            exe.display(),
            path.display()
        );
    }
    exe
}

/// The most recently modified file under `dir`.
fn newest_file(dir: &Path) -> Option<(SystemTime, PathBuf)> {
    let mut best: Option<(SystemTime, PathBuf)> = None;
    for entry in std::fs::read_dir(dir).ok()?.flatten() {
        let path = entry.path();
        let found = if path.is_dir() {
            newest_file(&path)
        } else {
            entry
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .map(|t| (t, path))
        };
        if let Some(f) = found {
            if best.as_ref().map_or(true, |b| f.0 > b.0) {
                best = Some(f);
            }
        }
    }
    best
}

fn zipkin_endpoint() -> String {
    format!("{}/api/v2/spans", zipkin_server::url())
}

/// A peer's library.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Lang {
    /// py_zipkin (tests/interop/python/peer.py)
    Python,
    /// Brave (tests/interop/java/Peer.java)
    Java,
    /// zipkin-go (tests/interop/go/peer.go)
    Go,
    /// zipkin-rs (examples/peer.rs)
    Rust,
    /// zipkin-rs through its HTTP integrations: examples/peer.rs with `PEER_HTTP=layers`
    /// (`tower::ServerLayer` on axum, `tower::ClientLayer` over a hyper-util client)
    RustLayers,
}

impl Lang {
    fn prefix(self) -> &'static str {
        match self {
            Lang::Python => "py",
            Lang::Java => "brave",
            Lang::Go => "go",
            Lang::Rust => "rust",
            Lang::RustLayers => "rust-layers",
        }
    }

    /// Whether the peer is zipkin-rs.
    fn is_ours(self) -> bool {
        matches!(self, Lang::Rust | Lang::RustLayers)
    }

    /// The SERVER span's name: `get` everywhere, and the method with the route template from
    /// `ServerLayer`.
    fn server_span_name(self) -> &'static str {
        match self {
            Lang::RustLayers => "get /chain",
            _ => "get",
        }
    }

    /// The CLIENT span's name: each library's default for an HTTP GET.
    fn client_span_name(self) -> &'static str {
        match self {
            Lang::Go => "http/get",
            _ => "get",
        }
    }
}

/// The B3 form a peer writes downstream (`B3_FORMAT`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fmt {
    Multi,
    Single,
}

/// A running peer of the chain protocol (tests/interop/README.md).
struct Peer {
    lang: Lang,
    fmt: Fmt,
    service: String,
    proc: Proc,
}

async fn start_peer(client: &reqwest::Client, lang: Lang, fmt: Fmt) -> Peer {
    let port = port::free_port();
    let service = unique(lang.prefix());
    let mut cmd = match lang {
        Lang::Rust => Command::new(example("peer")),
        Lang::RustLayers => {
            let mut c = Command::new(example("peer"));
            c.env("PEER_HTTP", "layers");
            c
        }
        _ => {
            let mut c = Command::new("bash");
            c.arg(repo().join("scripts/peers.sh"))
                .arg("run")
                .arg(match lang {
                    Lang::Python => "python",
                    Lang::Java => "java",
                    _ => "go",
                });
            c
        }
    };
    cmd.env("PORT", port.to_string())
        .env("SERVICE_NAME", &service)
        .env("ZIPKIN_ENDPOINT", zipkin_endpoint())
        .env(
            "B3_FORMAT",
            match fmt {
                Fmt::Multi => "multi",
                Fmt::Single => "single",
            },
        );
    let mut proc = Proc::spawn(service.clone(), port, cmd);
    proc.wait_ready(client, "/health").await;
    Peer {
        lang,
        fmt,
        service,
        proc,
    }
}

// ---------------------------------------------------------------------------------------------
// Zipkin's API.

async fn get(client: &reqwest::Client, url: &str, headers: &[(&str, &str)]) -> (u16, Vec<u8>) {
    let mut req = client.get(url).timeout(Duration::from_secs(60));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let r = req
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {url}: {e}"));
    let status = r.status().as_u16();
    (status, r.bytes().await.unwrap().to_vec())
}

/// What `/api/v2/trace/{id}` holds now: (status, spans).
async fn trace_now(client: &reqwest::Client, id: &str) -> (u16, Vec<Span>) {
    let (status, body) = get(
        client,
        &format!("{}/api/v2/trace/{id}", zipkin_server::url()),
        &[],
    )
    .await;
    let spans = if status == 200 {
        serde_json::from_slice(&body).unwrap()
    } else {
        Vec::new()
    };
    (status, spans)
}

/// Polls `/api/v2/trace/{id}` until `n` spans are stored (the collector answers 202 before it
/// stores), then once more after a pause, so a straggler beyond `n` is seen too.
async fn stored_trace(client: &reqwest::Client, id: &str, n: usize) -> Vec<Span> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (_, spans) = trace_now(client, id).await;
        if spans.len() >= n {
            tokio::time::sleep(Duration::from_millis(300)).await;
            return trace_now(client, id).await.1;
        }
        if Instant::now() > deadline {
            return spans;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The dependency links (parent service, child service) -> call count Zipkin derives from the
/// traces of the last `since_ms` milliseconds. Its linker merges the client and server halves
/// of a shared span id into one RPC, so a link between two services exists only when it did.
async fn dependency_links(
    client: &reqwest::Client,
    since_ms: u64,
) -> BTreeMap<(String, String), u64> {
    let end = now_ms() + 1_000;
    let url = format!(
        "{}/api/v2/dependencies?endTs={end}&lookback={}",
        zipkin_server::url(),
        end - since_ms + 60_000
    );
    let (status, body) = get(client, &url, &[]).await;
    assert_eq!(status, 200, "GET {url}");
    let links: Value = serde_json::from_slice(&body).unwrap();
    links
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                (
                    l["parent"].as_str().unwrap().to_owned(),
                    l["child"].as_str().unwrap().to_owned(),
                ),
                l["callCount"].as_u64().unwrap_or(0),
            )
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Chains.

/// What a hop received, parsed by hand (not by the library under test).
#[derive(Debug, PartialEq, Eq)]
struct Seen {
    single: bool,
    trace: String,
    span: String,
    parent: Option<String>,
    /// `Some(true)`/`Some(false)` for `X-B3-Sampled` or the single header's `1`/`0`.
    sampled: Option<bool>,
    debug: bool,
}

fn seen(received: &Value) -> Seen {
    let h = |k: &str| received.get(k).and_then(Value::as_str).map(str::to_owned);
    if let Some(b3) = h("b3") {
        let multi: Vec<&String> = received
            .as_object()
            .unwrap()
            .keys()
            .filter(|k| k.starts_with("x-b3-"))
            .collect();
        assert!(
            multi.is_empty(),
            "single b3 together with {multi:?}: {received}"
        );
        let parts: Vec<&str> = b3.split('-').collect();
        assert!(parts.len() >= 2, "b3: {b3}");
        let state = parts.get(2).copied();
        return Seen {
            single: true,
            trace: parts[0].to_owned(),
            span: parts[1].to_owned(),
            parent: parts.get(3).map(|p| p.to_string()),
            sampled: match state {
                Some("1") => Some(true),
                Some("0") => Some(false),
                _ => None,
            },
            debug: state == Some("d"),
        };
    }
    Seen {
        single: false,
        trace: h("x-b3-traceid").unwrap_or_default(),
        span: h("x-b3-spanid").unwrap_or_default(),
        parent: h("x-b3-parentspanid"),
        sampled: h("x-b3-sampled").map(|s| s == "1" || s == "true"),
        debug: h("x-b3-flags").as_deref() == Some("1"),
    }
}

/// How the root request starts the chain.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Root {
    /// No headers: the first peer starts a sampled trace.
    Fresh,
    /// Trace and span ids with `sampled = 1`.
    Sampled,
    /// Trace and span ids with `sampled = 0`.
    Unsampled,
    /// Trace and span ids with the debug flag.
    Debug,
}

/// The root request's headers in the given form, and the ids they carry.
fn root_headers(root: Root, fmt: Fmt, trace_id: &str, span_id: &str) -> Vec<(String, String)> {
    let state = match root {
        Root::Fresh => return Vec::new(),
        Root::Sampled => "1",
        Root::Unsampled => "0",
        Root::Debug => "d",
    };
    match fmt {
        Fmt::Single => vec![("b3".into(), format!("{trace_id}-{span_id}-{state}"))],
        Fmt::Multi => {
            let mut h = vec![
                ("X-B3-TraceId".to_owned(), trace_id.to_owned()),
                ("X-B3-SpanId".to_owned(), span_id.to_owned()),
            ];
            h.push(match root {
                Root::Debug => ("X-B3-Flags".into(), "1".into()),
                _ => ("X-B3-Sampled".into(), state.into()),
            });
            h
        }
    }
}

/// One request through a chain of peers, and each hop's answer.
struct Chain<'a> {
    peers: Vec<&'a Peer>,
    root: Root,
    trace_id: String,
    root_span: Option<String>,
    answers: Vec<Value>,
}

impl Chain<'_> {
    fn label(&self) -> String {
        let names: Vec<String> = self
            .peers
            .iter()
            .map(|p| format!("{:?}/{:?}", p.lang, p.fmt).to_lowercase())
            .collect();
        format!("{} [{:?}]", names.join(" -> "), self.root)
    }

    /// Whether hop `i` receives debug: debug from the root survives every hop except
    /// py_zipkin's, which always sends `X-B3-Flags: 0` (NOTES.md).
    fn debug_at(&self, i: usize) -> bool {
        self.root == Root::Debug && self.peers[..i].iter().all(|p| p.lang != Lang::Python)
    }

    fn sampled(&self) -> bool {
        self.root != Root::Unsampled
    }
}

/// Sends the root request (in `root_fmt`) to the first peer, asking it to call the others in
/// order, and checks every hop's answer: one trace id, each hop joined the span id its caller
/// sent, in the caller's B3 form, with the caller's decision.
async fn run_chain<'a>(
    client: &reqwest::Client,
    peers: &[&'a Peer],
    root: Root,
    root_fmt: Fmt,
) -> Chain<'a> {
    let trace_id = TraceId::random(true).to_string();
    let span_id = SpanId::random().to_string();
    let headers = root_headers(root, root_fmt, &trace_id, &span_id);
    let hops: Vec<String> = peers[1..].iter().map(|p| p.proc.url("/chain")).collect();
    let url =
        reqwest::Url::parse_with_params(&peers[0].proc.url("/chain"), [("hops", hops.join(","))])
            .unwrap();
    let h: Vec<(&str, &str)> = headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let (status, body) = get(client, url.as_str(), &h).await;
    let text = String::from_utf8_lossy(&body).into_owned();
    let mut answers = Vec::new();
    let mut node: Value =
        serde_json::from_slice(&body).unwrap_or_else(|e| panic!("{status} {text}: {e}"));
    while node.is_object() {
        let next = node["downstream"].take();
        answers.push(node);
        node = next;
    }
    let mut chain = Chain {
        peers: peers.to_vec(),
        root,
        trace_id: String::new(),
        root_span: (root != Root::Fresh).then_some(span_id),
        answers,
    };
    let label = chain.label();
    assert_eq!(status, 200, "{label}: {text}");
    assert_eq!(chain.answers.len(), peers.len(), "{label}: {text}");
    chain.trace_id = match root {
        Root::Fresh => chain.answers[0]["traceId"].as_str().unwrap().to_owned(),
        _ => trace_id,
    };

    for (i, (peer, a)) in chain.peers.iter().zip(&chain.answers).enumerate() {
        let at = format!("{label}: hop {i} ({})", peer.service);
        assert_eq!(a["service"], peer.service.as_str(), "{at}: {a}");
        assert_eq!(
            a["traceId"],
            chain.trace_id.as_str(),
            "{at}: one trace id: {a}"
        );
        let debug = chain.debug_at(i);
        // zipkin-go keeps `sampled` unset on a debug context (debug implies sampled).
        let want_sampled = if !chain.sampled() {
            Value::Bool(false)
        } else if debug && peer.lang == Lang::Go {
            Value::Null
        } else {
            Value::Bool(true)
        };
        assert_eq!(a["sampled"], want_sampled, "{at}: sampled: {a}");
        assert_eq!(a["debug"], debug, "{at}: debug: {a}");
        if i == 0 {
            if let Some(s) = &chain.root_span {
                assert_eq!(
                    a["spanId"],
                    s.as_str(),
                    "{at}: joins the root's span id: {a}"
                );
            }
            continue;
        }
        // What the caller sent: its CLIENT span's ids, in its B3 form, with its decision.
        let caller = chain.peers[i - 1];
        let got = seen(&a["receivedHeaders"]);
        assert_eq!(
            got.single,
            caller.fmt == Fmt::Single,
            "{at}: B3 form: {got:?}"
        );
        assert_eq!(got.trace, chain.trace_id, "{at}: {got:?}");
        assert_eq!(
            Some(&got.span),
            a["spanId"].as_str().map(str::to_owned).as_ref(),
            "{at}: joined the span id sent: {got:?}"
        );
        assert_eq!(
            got.parent.as_deref(),
            chain.answers[i - 1]["spanId"].as_str(),
            "{at}: parent sent = the caller's SERVER span: {got:?}"
        );
        assert_eq!(got.debug, debug, "{at}: debug sent: {got:?}");
        if caller.lang.is_ours() && caller.fmt == Fmt::Multi {
            // py_zipkin's five headers, which hand-written py_zipkin services read directly.
            let rh = &a["receivedHeaders"];
            let want = [
                (chain.sampled() || debug, "x-b3-sampled"),
                (debug, "x-b3-flags"),
            ];
            for (on, name) in want {
                assert_eq!(rh[name], if on { "1" } else { "0" }, "{at}: {name}: {rh}");
            }
        }
        if debug {
            // Brave and zipkin-go send Flags: 1 alone; we also send X-B3-Sampled: 1, which
            // py_zipkin reads.
            assert_ne!(got.sampled, Some(false), "{at}: {got:?}");
        } else {
            assert_eq!(
                got.sampled,
                Some(chain.sampled()),
                "{at}: decision passed on: {got:?}"
            );
        }
    }
    chain
}

/// Checks the trace Zipkin stored for a sampled chain: 2n - 1 spans (each hop's SERVER span,
/// and a CLIENT span for each call), one trace id, each SERVER span joined to its caller's CLIENT
/// span id (shared, same parent) and a child of the caller's SERVER span, no orphans, one root,
/// the peers' service names, debug where it reached, and the dependency links.
async fn check_stored(client: &reqwest::Client, chain: &Chain<'_>, since_ms: u64) -> Vec<Span> {
    let label = chain.label();
    let n = chain.peers.len();
    let spans = stored_trace(client, &chain.trace_id, 2 * n - 1).await;
    let tree = render_tree(&spans);
    assert_eq!(
        spans.len(),
        2 * n - 1,
        "{label}: spans stored:\n{tree}{spans:#?}"
    );
    assert!(
        spans.iter().all(|s| s.trace_id == chain.trace_id),
        "{label}: {spans:#?}"
    );

    // The shape, at a glance.
    let mut want = String::new();
    for (i, p) in chain.peers.iter().enumerate() {
        let shared = i > 0 || chain.root_span.is_some();
        want += &format!(
            "{}{} [SERVER] ({}){}\n",
            "  ".repeat(2 * i),
            p.lang.server_span_name(),
            p.service,
            if shared { " shared" } else { "" }
        );
        if i + 1 < n {
            want += &format!(
                "{}{} [CLIENT] ({})\n",
                "  ".repeat(2 * i + 1),
                p.lang.client_span_name(),
                p.service
            );
        }
    }
    assert_eq!(tree, want, "{label}");

    // No orphans and one root.
    let ids: BTreeSet<&str> = spans.iter().map(|s| s.id.as_str()).collect();
    let roots: Vec<&Span> = spans.iter().filter(|s| s.parent_id.is_none()).collect();
    assert_eq!(roots.len(), 1, "{label}: one root: {roots:#?}");
    for s in &spans {
        if let Some(p) = &s.parent_id {
            assert!(ids.contains(p.as_str()), "{label}: orphan {s:#?}");
        }
    }

    let one = |service: &str, kind: &str| -> &Span {
        let found: Vec<&Span> = spans
            .iter()
            .filter(|s| s.service() == service && s.kind.as_deref() == Some(kind))
            .collect();
        assert_eq!(
            found.len(),
            1,
            "{label}: one {kind} span of {service}: {spans:#?}"
        );
        found[0]
    };
    for (i, p) in chain.peers.iter().enumerate() {
        let server = one(&p.service, "SERVER");
        let answer = &chain.answers[i];
        assert_eq!(
            Some(server.id.as_str()),
            answer["spanId"].as_str(),
            "{label}"
        );
        // py_zipkin never writes "debug" into spans (NOTES.md); the others do on every span.
        let debug = chain.debug_at(i) && p.lang != Lang::Python;
        let mut own = vec![server];
        if i + 1 < n {
            own.push(one(&p.service, "CLIENT"));
        }
        for s in &own {
            assert_eq!(s.debug == Some(true), debug, "{label}: debug of {s:#?}");
            let ep = s.local_endpoint.as_ref().unwrap();
            assert_eq!(ep.port, Some(p.proc.port), "{label}: local port of {s:#?}");
        }
        if i == 0 {
            assert_eq!(server.parent_id, None, "{label}");
            assert_eq!(
                server.shared == Some(true),
                chain.root_span.is_some(),
                "{label}: {server:#?}"
            );
            continue;
        }
        let caller = one(&chain.peers[i - 1].service, "SERVER");
        let call = one(&chain.peers[i - 1].service, "CLIENT");
        // One RPC, two halves: the same id and parent, the server half marked shared.
        assert_eq!(
            server.id,
            call.id,
            "{label}: {} joins {}'s CLIENT span",
            p.service,
            chain.peers[i - 1].service
        );
        assert_eq!(server.shared, Some(true), "{label}: {server:#?}");
        assert_eq!(call.shared, None, "{label}: {call:#?}");
        assert_eq!(
            call.parent_id.as_ref(),
            Some(&caller.id),
            "{label}: {call:#?}"
        );
        assert_eq!(
            server.parent_id.as_ref(),
            Some(&caller.id),
            "{label}: {server:#?}"
        );
    }

    // Zipkin's dependency linker merges the halves into one call per hop.
    let links = dependency_links(client, since_ms).await;
    for w in chain.peers.windows(2) {
        let key = (w[0].service.clone(), w[1].service.clone());
        assert!(
            links.get(&key).copied().unwrap_or(0) >= 1,
            "{label}: no dependency link {key:?} in {links:#?}"
        );
    }
    spans
}

// ---------------------------------------------------------------------------------------------
// The blog demo, across languages.

/// The post's trace, as `render_tree` draws it.
const DEMO_TREE: &str = "\
index [SERVER] (webapp)
  do_stuff (webapp)
    index_service1 [SERVER] (service1) shared
      service1_do_stuff (service1)
";

fn check_demo_trace(label: &str, spans: &[Span], webapp_port: u16, service1_port: u16) {
    assert_eq!(spans.len(), 4, "{label}: {spans:#?}");
    assert_eq!(render_tree(spans), DEMO_TREE, "{label}: {spans:#?}");
    let trace_id = &spans[0].trace_id;
    assert!(
        spans.iter().all(|s| &s.trace_id == trace_id),
        "{label}: {spans:#?}"
    );
    let named = |name: &str| -> &Span {
        let v: Vec<&Span> = spans
            .iter()
            .filter(|s| s.name.as_deref() == Some(name))
            .collect();
        assert_eq!(v.len(), 1, "{label}: one {name}: {spans:#?}");
        v[0]
    };
    let (index, do_stuff) = (named("index"), named("do_stuff"));
    let (server, s1_do_stuff) = (named("index_service1"), named("service1_do_stuff"));
    assert_eq!(index.parent_id, None, "{label}");
    assert_eq!(do_stuff.parent_id.as_ref(), Some(&index.id), "{label}");
    assert_eq!(server.parent_id.as_ref(), Some(&do_stuff.id), "{label}");
    assert_eq!(server.shared, Some(true), "{label}");
    assert_eq!(s1_do_stuff.parent_id.as_ref(), Some(&server.id), "{label}");
    for (s, port) in [
        (index, webapp_port),
        (do_stuff, webapp_port),
        (server, service1_port),
        (s1_do_stuff, service1_port),
    ] {
        let ep = s.local_endpoint.as_ref().unwrap();
        assert_eq!(ep.port, Some(port), "{label}: {s:#?}");
    }
    let ids: BTreeSet<&str> = spans.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids.len(), 4, "{label}: four distinct ids");
}

/// Rust -> Python: our `webapp` example calls the post's `service1.py` (py_zipkin + Flask),
/// which continues the trace from the five X-B3 headers `inject_headers()` writes.
#[tokio::test]
async fn rust_webapp_calls_py_zipkin_service1() {
    let client = reqwest::Client::new();
    if !ready(&client, "rust_webapp_calls_py_zipkin_service1").await {
        return;
    }
    let (wp, sp) = (port::free_port(), port::free_port());
    let mut cmd = Command::new("bash");
    cmd.arg(repo().join("scripts/peers.sh"))
        .args(["run", "service1"])
        .env("SERVICE1_PORT", sp.to_string())
        .env("ZIPKIN_ENDPOINT", zipkin_endpoint());
    let mut service1 = Proc::spawn("service1.py".into(), sp, cmd);
    let mut cmd = Command::new(example("webapp"));
    cmd.args(["--port", &wp.to_string()])
        .env("SERVICE1_URL", format!("http://127.0.0.1:{sp}/service1/"))
        .env("ZIPKIN_ENDPOINT", zipkin_endpoint());
    let mut webapp = Proc::spawn("webapp".into(), wp, cmd);
    service1.wait_ready(&client, "/health").await;
    webapp.wait_ready(&client, "/health").await;

    for _ in 0..2 {
        let r = client.get(webapp.url("/")).send().await.unwrap();
        let id = r.headers()["zipkin-trace-id"].to_str().unwrap().to_owned();
        assert_eq!(r.status(), 200);
        assert_eq!(r.text().await.unwrap(), "OK");
        let spans = stored_trace(&client, &id, 4).await;
        check_demo_trace(
            &format!("rust webapp -> service1.py, trace {id}"),
            &spans,
            wp,
            sp,
        );
        assert_eq!(id.len(), 32, "our 128-bit trace id, kept by py_zipkin");
    }
}

/// Python -> Rust: the post's `demo.py` (py_zipkin) calls our `service1` example, which joins
/// the span id py_zipkin's `create_http_headers_for_new_span()` invented.
#[tokio::test]
async fn py_zipkin_demo_calls_rust_service1() {
    let client = reqwest::Client::new();
    if !ready(&client, "py_zipkin_demo_calls_rust_service1").await {
        return;
    }
    let (dp, sp) = (port::free_port(), port::free_port());
    let mut cmd = Command::new(example("service1"));
    cmd.args(["--port", &sp.to_string()])
        .env("ZIPKIN_ENDPOINT", zipkin_endpoint());
    let mut service1 = Proc::spawn("service1".into(), sp, cmd);
    let mut cmd = Command::new("bash");
    cmd.arg(repo().join("scripts/peers.sh"))
        .args(["run", "demo"])
        .env("DEMO_PORT", dp.to_string())
        .env("SERVICE1_URL", format!("http://127.0.0.1:{sp}/service1/"))
        .env("ZIPKIN_ENDPOINT", zipkin_endpoint());
    let mut demo = Proc::spawn("demo.py".into(), dp, cmd);
    service1.wait_ready(&client, "/health").await;
    demo.wait_ready(&client, "/health").await;

    let started = now_ms();
    for _ in 0..2 {
        let r = client.get(demo.url("/")).send().await.unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.text().await.unwrap(), "OK");
    }
    // demo.py names no trace id: find the traces whose `index` span has our demo's port.
    let deadline = Instant::now() + Duration::from_secs(20);
    let traces = loop {
        let end = now_ms() + 1_000;
        let url = format!(
            "{}/api/v2/traces?serviceName=webapp&spanName=index&endTs={end}&lookback={}&limit=1000",
            zipkin_server::url(),
            end - started + 1_000
        );
        let (status, body) = get(&client, &url, &[]).await;
        assert_eq!(status, 200, "{url}");
        let all: Vec<Vec<Span>> = serde_json::from_slice(&body).unwrap();
        let ours: Vec<Vec<Span>> = all
            .into_iter()
            .filter(|t| {
                t.iter().any(|s| {
                    s.name.as_deref() == Some("index")
                        && s.local_endpoint.as_ref().and_then(|e| e.port) == Some(dp)
                })
            })
            .collect();
        if (ours.len() == 2 && ours.iter().all(|t| t.len() >= 4)) || Instant::now() > deadline {
            break ours;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(traces.len(), 2, "{traces:#?}");
    for t in &traces {
        let id = &t[0].trace_id;
        let spans = stored_trace(&client, id, 4).await;
        check_demo_trace(
            &format!("demo.py -> rust service1, trace {id}"),
            &spans,
            dp,
            sp,
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Mixed chains.

/// Brave -> Rust -> zipkin-go, with multi headers; Brave starts the trace.
#[tokio::test]
async fn brave_to_rust_to_zipkin_go() {
    let client = reqwest::Client::new();
    if !ready(&client, "brave_to_rust_to_zipkin_go").await {
        return;
    }
    let since = now_ms();
    let (java, rust, go) = tokio::join!(
        start_peer(&client, Lang::Java, Fmt::Multi),
        start_peer(&client, Lang::Rust, Fmt::Multi),
        start_peer(&client, Lang::Go, Fmt::Multi),
    );
    let chain = run_chain(&client, &[&java, &rust, &go], Root::Fresh, Fmt::Multi).await;
    assert_eq!(chain.trace_id.len(), 16, "Brave's 64-bit trace id, kept");
    check_stored(&client, &chain, since).await;
}

/// zipkin-go -> Rust -> Brave, with multi headers, continuing a caller's 128-bit trace.
#[tokio::test]
async fn zipkin_go_to_rust_to_brave() {
    let client = reqwest::Client::new();
    if !ready(&client, "zipkin_go_to_rust_to_brave").await {
        return;
    }
    let since = now_ms();
    let (go, rust, java) = tokio::join!(
        start_peer(&client, Lang::Go, Fmt::Multi),
        start_peer(&client, Lang::Rust, Fmt::Multi),
        start_peer(&client, Lang::Java, Fmt::Multi),
    );
    let chain = run_chain(&client, &[&go, &rust, &java], Root::Sampled, Fmt::Multi).await;
    assert_eq!(chain.trace_id.len(), 32);
    check_stored(&client, &chain, since).await;
}

// ---------------------------------------------------------------------------------------------
// The single `b3` header.

/// The single `b3` header into Rust: from Brave (B3Propagation's SINGLE format) and from
/// zipkin-go (its `b3.InjectHTTP(WithSingleHeaderOnly())`), with Rust passing the trace on in
/// multi headers; and a caller's single header through Brave into Rust.
#[tokio::test]
async fn single_b3_from_brave_and_zipkin_go_into_rust() {
    let client = reqwest::Client::new();
    if !ready(&client, "single_b3_from_brave_and_zipkin_go_into_rust").await {
        return;
    }
    let since = now_ms();
    let (java, go, rust, py) = tokio::join!(
        start_peer(&client, Lang::Java, Fmt::Single),
        start_peer(&client, Lang::Go, Fmt::Single),
        start_peer(&client, Lang::Rust, Fmt::Multi),
        start_peer(&client, Lang::Python, Fmt::Multi),
    );
    let chain = run_chain(&client, &[&java, &rust, &py], Root::Fresh, Fmt::Multi).await;
    check_stored(&client, &chain, since).await;
    let chain = run_chain(&client, &[&go, &rust, &py], Root::Fresh, Fmt::Multi).await;
    check_stored(&client, &chain, since).await;
    let chain = run_chain(&client, &[&java, &rust], Root::Sampled, Fmt::Single).await;
    check_stored(&client, &chain, since).await;
}

/// Our single `b3` header into each peer (py_zipkin, Brave and zipkin-go all read it), with a
/// single header from the caller into Rust too.
#[tokio::test]
async fn rust_single_b3_into_each_peer() {
    let client = reqwest::Client::new();
    if !ready(&client, "rust_single_b3_into_each_peer").await {
        return;
    }
    let since = now_ms();
    let (rust, py, java, go) = tokio::join!(
        start_peer(&client, Lang::Rust, Fmt::Single),
        start_peer(&client, Lang::Python, Fmt::Multi),
        start_peer(&client, Lang::Java, Fmt::Multi),
        start_peer(&client, Lang::Go, Fmt::Multi),
    );
    for next in [&py, &java, &go] {
        for root in [Root::Fresh, Root::Sampled] {
            let chain = run_chain(&client, &[&rust, next], root, Fmt::Single).await;
            check_stored(&client, &chain, since).await;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Sampling and debug.

/// The peers of the sampling and debug chains, which between them cross every direction
/// (into Rust and out of it) with every peer, in both B3 forms.
struct Fleet {
    py: Peer,
    java: Peer,
    go: Peer,
    rust: [Peer; 3],
    java_single: Peer,
    go_single: Peer,
    rust_single: [Peer; 2],
}

async fn start_fleet(client: &reqwest::Client) -> Fleet {
    let (py, java, go, r0, r1, r2) = tokio::join!(
        start_peer(client, Lang::Python, Fmt::Multi),
        start_peer(client, Lang::Java, Fmt::Multi),
        start_peer(client, Lang::Go, Fmt::Multi),
        start_peer(client, Lang::Rust, Fmt::Multi),
        start_peer(client, Lang::Rust, Fmt::Multi),
        start_peer(client, Lang::Rust, Fmt::Multi),
    );
    let (java_single, go_single, rs0, rs1) = tokio::join!(
        start_peer(client, Lang::Java, Fmt::Single),
        start_peer(client, Lang::Go, Fmt::Single),
        start_peer(client, Lang::Rust, Fmt::Single),
        start_peer(client, Lang::Rust, Fmt::Single),
    );
    Fleet {
        py,
        java,
        go,
        rust: [r0, r1, r2],
        java_single,
        go_single,
        rust_single: [rs0, rs1],
    }
}

impl Fleet {
    /// Chains with their root request's B3 form: multi headers hop to hop (py_zipkin -> Rust ->
    /// Brave -> Rust -> zipkin-go -> Rust, Rust -> Brave, Rust -> py_zipkin), then single
    /// headers (zipkin-go -> Rust -> Brave -> Rust -> py_zipkin, Rust -> zipkin-go).
    fn chains(&self) -> Vec<(Vec<&Peer>, Fmt)> {
        let [r0, r1, r2] = &self.rust;
        let [rs0, rs1] = &self.rust_single;
        vec![
            (vec![&self.py, r0, &self.java, r1, &self.go, r2], Fmt::Multi),
            (vec![r0, &self.java], Fmt::Multi),
            (vec![r1, &self.py], Fmt::Multi),
            (
                vec![&self.go_single, rs0, &self.java_single, rs1, &self.py],
                Fmt::Single,
            ),
            (vec![rs0, &self.go_single], Fmt::Single),
        ]
    }
}

/// `sampled = 0` from upstream, in multi and in single form: every hop answers unsampled and
/// passes the decision on (each echoes the headers it got), and nothing of the trace reaches
/// Zipkin. The same chains sampled are the control: once their spans are stored, and a second
/// more has passed (every reporter here sends within about 100 ms of a request), the unsampled
/// traces must still be missing.
#[tokio::test]
async fn unsampled_from_upstream_is_passed_on_and_never_reported() {
    let client = reqwest::Client::new();
    if !ready(
        &client,
        "unsampled_from_upstream_is_passed_on_and_never_reported",
    )
    .await
    {
        return;
    }
    let since = now_ms();
    let fleet = start_fleet(&client).await;
    let mut unsampled = Vec::new();
    for (peers, fmt) in fleet.chains() {
        unsampled.push(run_chain(&client, &peers, Root::Unsampled, fmt).await);
        let control = run_chain(&client, &peers, Root::Sampled, fmt).await;
        check_stored(&client, &control, since).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    for chain in &unsampled {
        let (status, spans) = trace_now(&client, &chain.trace_id).await;
        assert_eq!(
            (status, spans.len()),
            (404, 0),
            "{}: trace {} must not be stored: {spans:#?}",
            chain.label(),
            chain.trace_id
        );
    }
}

/// Debug from upstream: every hop reports, and our spans carry `debug: true`. py_zipkin reads
/// the flag (its peer answers `debug: true`) but drops it: its spans carry no `debug`, and it
/// sends `X-B3-Flags: 0` with `X-B3-Sampled: 1` (or `b3: …-1-…`) downstream, so the hops after
/// it report a plainly sampled trace (`run_chain` and `check_stored` expect exactly that).
#[tokio::test]
async fn debug_from_upstream_reaches_every_hop() {
    let client = reqwest::Client::new();
    if !ready(&client, "debug_from_upstream_reaches_every_hop").await {
        return;
    }
    let since = now_ms();
    let fleet = start_fleet(&client).await;
    // py_zipkin first: debug dies at once, every later hop reports a sampled trace.
    let mut chains = vec![(vec![&fleet.py, &fleet.rust[2], &fleet.go], Fmt::Multi)];
    // Rust first, so debug crosses every other hop.
    chains.push((
        vec![
            &fleet.rust[0],
            &fleet.java,
            &fleet.rust[1],
            &fleet.go,
            &fleet.rust[2],
            &fleet.py,
        ],
        Fmt::Multi,
    ));
    chains.extend(fleet.chains().into_iter().skip(1));
    for (peers, fmt) in chains {
        let chain = run_chain(&client, &peers, Root::Debug, fmt).await;
        let spans = check_stored(&client, &chain, since).await;
        // Our spans carry `debug: true` exactly where debug reached (check_stored checks every
        // peer's spans the same way).
        for (i, p) in chain.peers.iter().enumerate() {
            if p.lang.is_ours() {
                let ours: Vec<&Span> = spans.iter().filter(|s| s.service() == p.service).collect();
                assert!(
                    ours.iter()
                        .all(|s| (s.debug == Some(true)) == chain.debug_at(i)),
                    "{}: hop {i}: {ours:#?}",
                    chain.label()
                );
            }
        }
    }
}
