//! The py_zipkin blog demo (examples/webapp.rs, examples/service1.rs, examples/demo.rs) end to
//! end. The tests that need the real Zipkin server read `ZIPKIN_URL` (default
//! http://127.0.0.1:9411); without one they print "skipped: ..." and pass, unless
//! `ZIPKIN_E2E=1` (set by scripts/test.sh after it starts the server), which makes an
//! unreachable server a failure. Services listen on free ports, so tests run in parallel with
//! each other and with a demo on 5000/6000.

mod kafka;
#[path = "../examples/shared/mod.rs"]
mod shared;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;
use shared::runner::{self, Options, Sink};
use shared::waterfall::Style;
use zipkin_rs::model::Span;
use zipkin_rs::testing::render_tree;
use zipkin_testkit::{port, zipkin_server};

/// How long a trace may take to be stored once sent (Zipkin answers 202 before it stores).
const TRACE_WAIT: Duration = Duration::from_secs(20);

/// The trace every request makes, as `render_tree` draws it: webapp's SERVER root and its local
/// do_stuff, then service1's SERVER span, which joins the span id webapp sent (shared), with
/// its local do_stuff.
const DEMO_TREE: &str = "\
index [SERVER] (webapp)
  do_stuff (webapp)
    index_service1 [SERVER] (service1) shared
      service1_do_stuff (service1)
";

/// Whether the server answers; panics when it does not and ZIPKIN_E2E=1.
async fn zipkin_up(client: &reqwest::Client, test: &str) -> bool {
    let base = zipkin_server::url();
    match shared::readback::probe(client, &base).await {
        Ok(()) => true,
        Err(why) if zipkin_server::required() => {
            panic!("ZIPKIN_E2E=1 but no Zipkin server answers at {base}: {why}")
        }
        Err(why) => {
            println!("skipped: {test}: no Zipkin server at {base} ({why})");
            false
        }
    }
}

async fn get_json(client: &reqwest::Client, url: &str) -> Value {
    let r = client
        .get(url)
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "GET {url}: {}", r.status());
    serde_json::from_slice(&r.bytes().await.unwrap()).unwrap()
}

/// The collector's counters (`/metrics`), by name.
async fn collector_metrics(client: &reqwest::Client) -> BTreeMap<String, f64> {
    let v = get_json(client, &format!("{}/metrics", zipkin_server::url())).await;
    v.as_object()
        .unwrap()
        .iter()
        .filter(|(k, _)| k.contains("zipkin_collector"))
        .map(|(k, v)| (k.clone(), v.as_f64().unwrap_or(f64::NAN)))
        .collect()
}

fn metric(m: &BTreeMap<String, f64>, name: &str) -> f64 {
    m.get(name).copied().unwrap_or(0.0)
}

fn named<'a>(spans: &'a [Span], name: &str) -> &'a Span {
    let found: Vec<&Span> = spans
        .iter()
        .filter(|s| s.name.as_deref() == Some(name))
        .collect();
    assert_eq!(found.len(), 1, "one span named {name} in {spans:#?}");
    found[0]
}

/// Everything the post's trace must be: 4 spans, nested index -> do_stuff -> index_service1 ->
/// service1_do_stuff, kinds, shared join, each child within its parent, local ports.
fn check_demo_trace(id: &str, spans: &[Span], webapp_port: u16, service1_port: u16) {
    assert_eq!(spans.len(), 4, "trace {id}: {spans:#?}");
    assert!(spans.iter().all(|s| s.trace_id == id));
    assert_eq!(render_tree(spans), DEMO_TREE, "trace {id}");

    let index = named(spans, "index");
    let do_stuff = named(spans, "do_stuff");
    let server = named(spans, "index_service1");
    let s1_do_stuff = named(spans, "service1_do_stuff");
    assert_eq!(index.parent_id, None);
    assert_eq!(do_stuff.parent_id.as_ref(), Some(&index.id));
    assert_eq!(server.parent_id.as_ref(), Some(&do_stuff.id));
    assert_eq!(s1_do_stuff.parent_id.as_ref(), Some(&server.id));
    assert_eq!(index.kind.as_deref(), Some("SERVER"));
    assert_eq!(server.kind.as_deref(), Some("SERVER"));
    assert_eq!(server.shared, Some(true));
    assert_eq!(do_stuff.kind, None);
    assert_eq!(s1_do_stuff.kind, None);
    assert!(spans.iter().all(|s| !s.tags.contains_key("error")));

    for (s, service, port) in [
        (index, "webapp", webapp_port),
        (do_stuff, "webapp", webapp_port),
        (server, "service1", service1_port),
        (s1_do_stuff, "service1", service1_port),
    ] {
        let ep = s.local_endpoint.as_ref().unwrap();
        assert_eq!(ep.service_name.as_deref(), Some(service), "{s:#?}");
        assert_eq!(ep.port, Some(port), "{s:#?}");
    }
    for (child, parent) in [(do_stuff, index), (server, do_stuff), (s1_do_stuff, server)] {
        let (cs, ps) = (child.timestamp.unwrap(), parent.timestamp.unwrap());
        let (ce, pe) = (cs + child.duration.unwrap(), ps + parent.duration.unwrap());
        assert!(
            ps <= cs && ce <= pe,
            "{:?} [{cs}, {ce}] is not within {:?} [{ps}, {pe}]",
            child.name,
            parent.name
        );
    }
}

fn quick_options(endpoint: String, out_dir: PathBuf) -> Options {
    Options {
        webapp_port: 0,
        service1_port: 0,
        endpoint,
        out_dir,
        style: Style::default(),
        ..Options::default()
    }
}

fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("zipkin-rs-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

#[tokio::test]
async fn the_demo_sends_two_traces_of_four_nested_spans_to_zipkin() {
    let client = reqwest::Client::new();
    if !zipkin_up(
        &client,
        "the_demo_sends_two_traces_of_four_nested_spans_to_zipkin",
    )
    .await
    {
        return;
    }
    let before = collector_metrics(&client).await;
    let started_ms = now_ms();
    let opts = quick_options(
        format!("{}/api/v2/spans", zipkin_server::url()),
        temp_dir("demo-zipkin"),
    );
    let mut out = Vec::new();
    let outcome = runner::run(&opts, &mut out).await.unwrap();
    let out = String::from_utf8(out).unwrap();
    println!("{out}");
    assert!(
        matches!(outcome.sink, Sink::Zipkin { .. }),
        "{:?}",
        outcome.sink
    );

    // Two requests, two traces, each read back from Zipkin's API by the demo and again here.
    assert_eq!(outcome.traces.len(), 2);
    assert_ne!(outcome.traces[0].id, outcome.traces[1].id);
    for t in &outcome.traces {
        check_demo_trace(&t.id, &t.spans, outcome.webapp_port, outcome.service1_port);
        let stored = zipkin_server::stored_trace(&t.id, 4, TRACE_WAIT).await;
        check_demo_trace(&t.id, &stored, outcome.webapp_port, outcome.service1_port);
        let url = format!("{}/zipkin/traces/{}", zipkin_server::url(), t.id);
        assert_eq!(t.url.as_deref(), Some(url.as_str()));
        assert!(out.contains(&format!("In Zipkin: {url}")), "{out}");
        // The waterfall: one line per span, indented under its parent.
        assert!(out.contains("└─ index_service1"), "{out}");
    }

    // The UI's lists and dependency graph: webapp calls service1.
    let services = get_json(
        &client,
        &format!("{}/api/v2/services", zipkin_server::url()),
    )
    .await;
    for s in ["webapp", "service1"] {
        assert!(
            services.as_array().unwrap().contains(&Value::from(s)),
            "{services}"
        );
    }
    let end = now_ms() + 1_000;
    let deps = get_json(
        &client,
        &format!(
            "{}/api/v2/dependencies?endTs={end}&lookback={}",
            zipkin_server::url(),
            end - started_ms + 1_000
        ),
    )
    .await;
    let link = deps
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["parent"] == "webapp" && l["child"] == "service1")
        .unwrap_or_else(|| panic!("no webapp -> service1 link in {deps}"));
    assert!(link["callCount"].as_u64().unwrap() >= 2, "{link}");
    assert!(link.get("errorCount").map_or(true, |e| e == 0), "{link}");

    // The collector took every span: nothing dropped, at least our 8 counted.
    let after = collector_metrics(&client).await;
    for m in [
        "counter.zipkin_collector.messages_dropped.http",
        "counter.zipkin_collector.spans_dropped.http",
    ] {
        assert_eq!(metric(&before, m), metric(&after, m), "{m}: {after:#?}");
    }
    let spans = "counter.zipkin_collector.spans.http";
    assert!(
        metric(&after, spans) - metric(&before, spans) >= 8.0,
        "{before:#?} -> {after:#?}"
    );
}

/// The demo with `ZIPKIN_ENDPOINT=kafka://...`: the spans go through the real broker, the
/// Zipkin consuming the topic (not the HTTP one) stores them, and the demo draws what it
/// stored: the post's two traces of four spans, as over HTTP, in JSON and in proto3.
#[tokio::test]
async fn the_demo_sends_its_traces_through_kafka_in_json_and_proto3() {
    if !kafka::kafka_and_zipkin_up("the_demo_sends_its_traces_through_kafka_in_json_and_proto3") {
        return;
    }
    for encoding in [zipkin_rs::Encoding::Json, zipkin_rs::Encoding::Proto] {
        let mut opts = quick_options(
            format!("kafka://{}/zipkin", kafka::bootstrap()),
            temp_dir("demo-kafka"),
        );
        opts.zipkin_api = Some(kafka::zipkin_kafka_url());
        opts.encoding = Some(encoding);
        let mut out = Vec::new();
        let outcome = runner::run(&opts, &mut out).await.unwrap();
        let out = String::from_utf8(out).unwrap();
        println!("{out}");
        assert!(out.contains("The spans go to Kafka"), "{out}");
        assert_eq!(outcome.traces.len(), 2, "{encoding:?}");
        for t in &outcome.traces {
            check_demo_trace(&t.id, &t.spans, outcome.webapp_port, outcome.service1_port);
            let url = format!("{}/zipkin/traces/{}", kafka::zipkin_kafka_url(), t.id);
            assert!(out.contains(&format!("In Zipkin: {url}")), "{out}");
            // Only Kafka reaches that Zipkin; the records on the topic are in the encoding asked.
            let id = t.id.as_bytes();
            let raw: Vec<u8> = (0..id.len() / 2)
                .map(|i| {
                    u8::from_str_radix(std::str::from_utf8(&id[2 * i..2 * i + 2]).unwrap(), 16)
                        .unwrap()
                })
                .collect();
            let values =
                zipkin_rs::transport::kafka::read_topic(&kafka::bootstrap(), "zipkin").unwrap();
            let mine: Vec<&Vec<u8>> = values
                .iter()
                .filter(|v| kafka::contains(v, id) || kafka::contains(v, &raw))
                .collect();
            assert!(!mine.is_empty(), "no record of trace {} on the topic", t.id);
            for v in mine {
                let json = v.first() == Some(&b'[');
                assert_eq!(json, encoding == zipkin_rs::Encoding::Json, "{encoding:?}");
            }
        }
    }
}

/// A `kafka://` endpoint with no Zipkin consuming the topic at `ZIPKIN_API_URL` is refused
/// before anything is sent, naming both settings. Needs no service. (Without `ZIPKIN_API_URL`
/// the demo finds the consuming Zipkin by itself: scripts/test.sh runs it that way.)
#[tokio::test]
async fn the_kafka_demo_says_which_zipkin_it_reads_back_from() {
    let mut opts = quick_options(
        "kafka://127.0.0.1:9/zipkin".into(),
        temp_dir("demo-kafka-none"),
    );
    opts.zipkin_api = Some("http://127.0.0.1:9".into());
    let e = runner::run(&opts, &mut Vec::new()).await.unwrap_err();
    assert!(e.contains("ZIPKIN_API_URL=http://127.0.0.1:9"), "{e}");
    assert!(e.contains("kafka://127.0.0.1:9/zipkin"), "{e}");
}

/// The demo's second form (`--form layers`): the same services and nesting through
/// `ServerLayer` and `ZipkinMiddleware`, plus the CLIENT half under `do_stuff`, which service1's
/// SERVER span joins.
const LAYERS_TREE: &str = "\
get / [SERVER] (webapp)
  do_stuff (webapp)
    get [CLIENT] (webapp)
      get /service1/ [SERVER] (service1) shared
        service1_do_stuff (service1)
";

#[tokio::test]
async fn the_layers_form_of_the_demo_adds_the_client_half() {
    let client = reqwest::Client::new();
    if !zipkin_up(&client, "the_layers_form_of_the_demo_adds_the_client_half").await {
        return;
    }
    let mut opts = quick_options(
        format!("{}/api/v2/spans", zipkin_server::url()),
        temp_dir("demo-layers"),
    );
    opts.layers = true;
    let outcome = runner::run(&opts, &mut Vec::new()).await.unwrap();
    assert_eq!(outcome.traces.len(), 2);
    for t in &outcome.traces {
        let stored = zipkin_server::stored_trace(&t.id, 5, TRACE_WAIT).await;
        assert_eq!(render_tree(&stored), LAYERS_TREE, "trace {}", t.id);
        let client_half = named(&stored, "get");
        let server_half = named(&stored, "get /service1/");
        assert_eq!(client_half.id, server_half.id);
        assert_eq!(
            server_half.tags.get("http.route").map(String::as_str),
            Some("/service1/")
        );
    }
}

/// With no Zipkin, the demo writes the file transport's Zipkin JSON, one file per trace for the
/// UI's "Upload JSON", and still draws both traces. Needs no server.
#[tokio::test]
async fn without_zipkin_the_demo_writes_spans_to_a_file() {
    let dir = temp_dir("demo-file");
    // Nothing listens on port 9 (discard) here; the probe is refused.
    let opts = quick_options("http://127.0.0.1:9/api/v2/spans".into(), dir.clone());
    let mut out = Vec::new();
    let outcome = runner::run(&opts, &mut out).await.unwrap();
    let out = String::from_utf8(out).unwrap();
    println!("{out}");
    let Sink::File { path, why } = &outcome.sink else {
        panic!("expected the file sink, got {:?}", outcome.sink);
    };
    assert_eq!(path, &dir.join("spans.json"));
    assert!(
        why.contains("no Zipkin server answers at http://127.0.0.1:9"),
        "{why}"
    );

    let all: Vec<Span> = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    assert_eq!(all.len(), 8);
    assert_eq!(outcome.traces.len(), 2);
    for t in &outcome.traces {
        check_demo_trace(&t.id, &t.spans, outcome.webapp_port, outcome.service1_port);
        let file = t.file.as_ref().unwrap();
        let alone: Vec<Span> = serde_json::from_slice(&std::fs::read(file).unwrap()).unwrap();
        check_demo_trace(&t.id, &alone, outcome.webapp_port, outcome.service1_port);
        assert!(out.contains(&format!("trace-{}.json", t.id)), "{out}");
    }
    assert!(out.contains("\"Upload JSON\""), "{out}");
    assert!(!out.contains("In Zipkin:"), "{out}");
}

/// `ZIPKIN_ENDPOINT=file:<path>` is honoured as is.
#[tokio::test]
async fn a_file_endpoint_is_used_without_probing() {
    let dir = temp_dir("demo-file-endpoint");
    let path = dir.join("mine.json");
    let opts = quick_options(format!("file:{}", path.display()), dir.join("unused"));
    let outcome = runner::run(&opts, &mut Vec::new()).await.unwrap();
    assert!(matches!(&outcome.sink, Sink::File { path: p, .. } if p == &path));
    let all: Vec<Span> = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    assert_eq!(all.len(), 8);
    assert!(!dir.join("unused").exists());
}

/// The examples as the separate processes a user runs: each its own global tracer from the
/// environment, B3 over real HTTP between them, spans flushed on SIGTERM.
#[tokio::test]
async fn the_webapp_and_service1_binaries_trace_across_processes() {
    let client = reqwest::Client::new();
    if !zipkin_up(
        &client,
        "the_webapp_and_service1_binaries_trace_across_processes",
    )
    .await
    {
        return;
    }
    let (webapp, service1) = (example("webapp"), example("service1"));
    let (wp, sp) = (port::free_port(), port::free_port());
    let endpoint = format!("{}/api/v2/spans", zipkin_server::url());
    let s1 = Spawned(
        Command::new(&service1)
            .args(["--port", &sp.to_string()])
            .env("ZIPKIN_ENDPOINT", &endpoint)
            .stdout(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let web = Spawned(
        Command::new(&webapp)
            .args(["--port", &wp.to_string()])
            .env("SERVICE1_URL", format!("http://127.0.0.1:{sp}/service1/"))
            .env("ZIPKIN_ENDPOINT", &endpoint)
            .stdout(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_listening(wp).await;
    wait_listening(sp).await;

    let r = client
        .get(format!("http://127.0.0.1:{wp}/"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let id = r.headers()[shared::TRACE_ID_HEADER]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(r.text().await.unwrap(), "OK");

    // SIGTERM: each stops serving and its tracer's guard flushes before the process exits.
    for p in [web, s1] {
        let status = p.terminate();
        assert!(status.success(), "{status:?}");
    }
    let spans = zipkin_server::stored_trace(&id, 4, TRACE_WAIT).await;
    check_demo_trace(&id, &spans, wp, sp);
}

/// An example's executable: `cargo test` builds the examples beside the test binaries
/// (`target/<profile>/examples/`); a run filtered to this test builds them here.
fn example(name: &str) -> PathBuf {
    let deps = std::env::current_exe().unwrap();
    let profile_dir = deps.parent().unwrap().parent().unwrap();
    let exe = profile_dir.join("examples").join(name);
    if !exe.exists() {
        let status = Command::new(env!("CARGO"))
            .args(["build", "--example", "webapp", "--example", "service1"])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .unwrap();
        assert!(status.success());
    }
    assert!(exe.exists(), "{} was not built", exe.display());
    exe
}

async fn wait_listening(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        assert!(Instant::now() < deadline, "nothing listens on {port}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A child process killed if the test fails before it is stopped.
struct Spawned(Child);

impl Spawned {
    fn terminate(mut self) -> std::process::ExitStatus {
        let pid = self.0.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(s) = self.0.try_wait().unwrap() {
                return s;
            }
            assert!(Instant::now() < deadline, "pid {pid} ignored SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}
