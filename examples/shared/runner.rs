//! The demo in one call: both services in this process, the post's two requests, the spans
//! flushed, and each trace drawn from what Zipkin stored (or, with no Zipkin, from the file the
//! spans were written to).

use std::io::Write;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use zipkin_rs::transport::file::FileTransport;
use zipkin_rs::transport::{Message, Transport};
use zipkin_rs::Encoding;
use zipkin_rs::{Tracer, TransportError};

use super::config::{self, Setting, SettingError};
use super::readback::{
    base_url, consumes_kafka, describe, probe, read_from_file, read_from_zipkin, Trace,
    KAFKA_ZIPKIN_CANDIDATES,
};
use super::waterfall::{self, Style};
use super::{serve, service1, webapp, TRACE_ID_HEADER};

/// Spans per trace: index and do_stuff from webapp, index_service1 and service1_do_stuff from
/// service1.
pub const SPANS_PER_TRACE: usize = 4;

/// The demo's settings.
#[derive(Clone, Debug)]
pub struct Options {
    /// The webapp's port (it falls back to a free port when this one is taken).
    pub webapp_port: u16,
    /// service1's port (same fallback).
    pub service1_port: u16,
    pub do_stuff_sleep: Duration,
    pub index_sleep: Duration,
    /// Requests to `GET /`, one trace each.
    pub requests: usize,
    /// `ZIPKIN_ENDPOINT`: a collector URL, `kafka://brokers/topic`, or `file:<path>`.
    pub endpoint: String,
    /// `ZIPKIN_API_URL`: with a `kafka://` endpoint, the Zipkin that consumes the topic, whose
    /// API the demo reads the traces back from. `None`: the first of [`KAFKA_ZIPKIN_CANDIDATES`]
    /// whose Kafka collector reads the endpoint's topic.
    pub zipkin_api: Option<String>,
    /// Where the span files go when no Zipkin answers.
    pub out_dir: PathBuf,
    /// The wire encoding; `None`: as `ZIPKIN_ENCODING` says (JSON by default).
    pub encoding: Option<Encoding>,
    /// How long to wait for Zipkin to store every span of a trace.
    pub read_timeout: Duration,
    pub style: Style,
    /// The services with the integrations (`ServerLayer`, `ZipkinMiddleware`) instead of
    /// per-handler code (`--form layers`).
    pub layers: bool,
}

impl Options {
    /// Spans in each trace of this form.
    pub fn spans_per_trace(&self) -> usize {
        if self.layers {
            super::layers::SPANS_PER_TRACE
        } else {
            SPANS_PER_TRACE
        }
    }
}

impl Default for Options {
    fn default() -> Self {
        Options {
            webapp_port: 5000,
            service1_port: 6000,
            do_stuff_sleep: config::DO_STUFF_SLEEP,
            index_sleep: config::INDEX_SLEEP,
            requests: 2,
            endpoint: zipkin_rs::DEFAULT_ENDPOINT.into(),
            zipkin_api: None,
            out_dir: default_out_dir(),
            encoding: None,
            read_timeout: Duration::from_secs(15),
            style: Style::default(),
            layers: false,
        }
    }
}

pub const SETTINGS: &[Setting] = &[
    Setting {
        flag: "--webapp-port",
        env: Some("DEMO_PORT"),
        help: "webapp's port (default 5000; a free one if taken)",
    },
    Setting {
        flag: "--service1-port",
        env: Some("SERVICE1_PORT"),
        help: "service1's port (default 6000; a free one if taken)",
    },
    Setting {
        flag: "--do-stuff-sleep",
        env: Some("DO_STUFF_SLEEP"),
        help: "seconds each do_stuff sleeps (default 0.05; the post: 5)",
    },
    Setting {
        flag: "--index-sleep",
        env: Some("INDEX_SLEEP"),
        help: "seconds index sleeps after do_stuff (default 0.1; the post: 10)",
    },
    Setting {
        flag: "--requests",
        env: None,
        help: "requests to the webapp, one trace each (default 2)",
    },
    Setting {
        flag: "--zipkin",
        env: Some("ZIPKIN_ENDPOINT"),
        help: "collector URL, kafka://host:port[,...]/topic or file:<path> \
               (default http://localhost:9411/api/v2/spans)",
    },
    Setting {
        flag: "--zipkin-api",
        env: Some("ZIPKIN_API_URL"),
        help: "with a kafka:// endpoint, the Zipkin that consumes the topic, read back from \
               (default: the first of http://localhost:9411 and http://localhost:9412 that does)",
    },
    Setting {
        flag: "--form",
        env: None,
        help: "attribute (default: #[zipkin_span], extract, inject_headers in the handlers) or \
               layers (ServerLayer and ZipkinMiddleware)",
    },
    Setting {
        flag: "--out-dir",
        env: None,
        help: "where span files go without Zipkin (default target/zipkin-demo)",
    },
];

impl Options {
    /// From flags and the environment; `Ok(None)` when `--help` was asked for.
    pub fn from_args(args: &[String]) -> Result<Option<Options>, SettingError> {
        let Some(v) = config::read(args, SETTINGS)? else {
            return Ok(None);
        };
        let d = Options::default();
        Ok(Some(Options {
            webapp_port: config::port(&v, "--webapp-port", SETTINGS, d.webapp_port)?,
            service1_port: config::port(&v, "--service1-port", SETTINGS, d.service1_port)?,
            do_stuff_sleep: config::seconds(&v, "--do-stuff-sleep", SETTINGS, d.do_stuff_sleep)?,
            index_sleep: config::seconds(&v, "--index-sleep", SETTINGS, d.index_sleep)?,
            requests: config::count(&v, "--requests", SETTINGS, d.requests)?,
            endpoint: v.get("--zipkin").cloned().unwrap_or(d.endpoint),
            zipkin_api: v.get("--zipkin-api").cloned().or(d.zipkin_api),
            out_dir: v.get("--out-dir").map(PathBuf::from).unwrap_or(d.out_dir),
            layers: match v.get("--form").map(String::as_str) {
                None | Some("attribute") => false,
                Some("layers") => true,
                Some(other) => {
                    return Err(SettingError(format!(
                        "--form is {other:?}; expected attribute or layers"
                    )))
                }
            },
            ..d
        }))
    }
}

/// `target/zipkin-demo` beside the demo's executable (`target/<profile>/examples/demo`), else
/// a folder in the temporary directory.
fn default_out_dir() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|exe| {
            let examples = exe.parent()?;
            (examples.file_name()? == "examples")
                .then(|| Some(examples.parent()?.parent()?.join("zipkin-demo")))?
        })
        .unwrap_or_else(|| std::env::temp_dir().join("zipkin-demo"))
}

/// Where the spans went.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Sink {
    /// A Zipkin server; `base` is its root URL (`http://127.0.0.1:9411`).
    Zipkin { endpoint: String, base: String },
    /// A Zipkin JSON file (one array of every span), written through the file transport.
    File { path: PathBuf, why: String },
}

/// What the demo did.
#[derive(Debug)]
pub struct Outcome {
    pub sink: Sink,
    pub webapp_port: u16,
    pub service1_port: u16,
    pub traces: Vec<Trace>,
}

/// A transport shared by both services' tracers, so both write one file.
struct SharedFile(Arc<FileTransport>);

impl Transport for SharedFile {
    fn encoding(&self) -> Encoding {
        self.0.encoding()
    }

    fn send(&self, msg: &Message) -> Result<(), TransportError> {
        self.0.send(msg)
    }
}

fn listen(service: &str, port: u16, out: &mut dyn Write) -> Result<(TcpListener, u16), String> {
    let listener = match serve::bind(port) {
        Ok(l) => l,
        Err(e) if port != 0 && e.kind() == std::io::ErrorKind::AddrInUse => {
            let l = serve::bind(0).map_err(|e| format!("{service}: cannot listen: {e}"))?;
            let _ = writeln!(
                out,
                "port {port} is taken, so {service} listens on a free port instead"
            );
            l
        }
        Err(e) => return Err(format!("{service}: cannot listen on port {port}: {e}")),
    };
    let port = listener
        .local_addr()
        .map_err(|e| format!("{service}: {e}"))?
        .port();
    Ok((listener, port))
}

fn tracer(
    service: &'static str,
    port: u16,
    sink: &Sink,
    file: Option<&Arc<FileTransport>>,
    encoding: Option<Encoding>,
) -> Result<Tracer, String> {
    // The other ZIPKIN_* settings (encoding, gzip, ...) apply as in any traced service.
    let mut b = Tracer::builder()
        .from_env()
        .map_err(|e| e.to_string())?
        .service_name(service)
        .port(port);
    if let Some(e) = encoding {
        b = b.encoding(e);
    }
    let b = match (sink, file) {
        (_, Some(f)) => b.transport(SharedFile(f.clone())),
        (Sink::Zipkin { endpoint, .. }, None) => b.endpoint(endpoint).map_err(|e| e.to_string())?,
        (Sink::File { .. }, None) => return Err("no span file".into()),
    };
    b.build().map_err(|e| format!("{service}: {e}"))
}

/// Runs the demo, writing what it does to `out`.
pub async fn run(opts: &Options, out: &mut dyn Write) -> Result<Outcome, String> {
    let client = reqwest::Client::new();
    let endpoint = opts.endpoint.trim().to_owned();
    let sink = if endpoint.starts_with("http://") || endpoint.starts_with("https://") {
        let base = base_url(&endpoint);
        match probe(&client, &base).await {
            Ok(()) => Sink::Zipkin { endpoint, base },
            Err(why) => Sink::File {
                path: opts.out_dir.join("spans.json"),
                why: format!("no Zipkin server answers at {base} ({why})"),
            },
        }
    } else if let Some(kafka_rest) = endpoint.strip_prefix("kafka://") {
        // The spans go through Kafka; the demo draws what the Zipkin consuming the topic stored.
        let topic = kafka_rest
            .split(['?', '#'])
            .next()
            .and_then(|rest| rest.split_once('/'))
            .map(|(_, t)| t.trim_end_matches('/'))
            .filter(|t| !t.is_empty())
            .unwrap_or("zipkin")
            .to_owned();
        let candidates: Vec<String> = match &opts.zipkin_api {
            Some(api) => vec![api.trim().trim_end_matches('/').to_owned()],
            None => KAFKA_ZIPKIN_CANDIDATES
                .iter()
                .map(|c| c.to_string())
                .collect(),
        };
        let mut refused = Vec::new();
        let mut found = None;
        for base in candidates {
            match consumes_kafka(&client, &base, &topic).await {
                Ok(()) => {
                    found = Some(base);
                    break;
                }
                Err(why) => refused.push(format!("ZIPKIN_API_URL={base}: {why}")),
            }
        }
        let base = found.ok_or_else(|| {
            format!(
                "ZIPKIN_ENDPOINT is {endpoint}, and the demo reads the traces back from the \
                 Zipkin that consumes topic {topic}, but none does: {}",
                refused.join("; ")
            )
        })?;
        let _ = writeln!(
            out,
            "The spans go to Kafka ({endpoint}); the Zipkin at {base} consumes the topic."
        );
        Sink::Zipkin { endpoint, base }
    } else if let Some(path) = endpoint.strip_prefix("file:").filter(|p| !p.is_empty()) {
        Sink::File {
            path: PathBuf::from(path),
            why: format!("ZIPKIN_ENDPOINT is {endpoint}"),
        }
    } else {
        Sink::File {
            path: opts.out_dir.join("spans.json"),
            why: format!(
                "ZIPKIN_ENDPOINT is {endpoint:?}, and the demo needs the spans back to draw them"
            ),
        }
    };
    let file = match &sink {
        Sink::File { path, why } => {
            let _ = writeln!(out, "{why}: the spans go to a file.");
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)
                    .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
            }
            let f = FileTransport::create(path)
                .map_err(|e| format!("cannot create {}: {e}", path.display()))?;
            Some(Arc::new(f))
        }
        Sink::Zipkin { base, endpoint } => {
            if !endpoint.starts_with("kafka://") {
                let _ = writeln!(out, "Zipkin answers at {base}: the spans go there.");
            }
            None
        }
    };

    let (s1_listener, service1_port) = listen("service1", opts.service1_port, out)?;
    let (web_listener, webapp_port) = listen("webapp", opts.webapp_port, out)?;
    let s1_tracer = tracer(
        "service1",
        service1_port,
        &sink,
        file.as_ref(),
        opts.encoding,
    )?;
    let web_tracer = tracer("webapp", webapp_port, &sink, file.as_ref(), opts.encoding)?;
    let s1_config = service1::Config {
        port: service1_port,
        do_stuff_sleep: opts.do_stuff_sleep,
    };
    let web_config = webapp::Config {
        port: webapp_port,
        service1_url: format!("http://localhost:{service1_port}/service1/"),
        do_stuff_sleep: opts.do_stuff_sleep,
        index_sleep: opts.index_sleep,
    };
    let (s1_router, web_router) = if opts.layers {
        (
            super::layers::service1_router(s1_config),
            super::layers::webapp_router(web_config),
        )
    } else {
        (service1::router(s1_config), webapp::router(web_config))
    };
    let service1 = serve::spawn("service1", s1_listener, s1_tracer, s1_router)
        .map_err(|e| format!("service1: {e}"))?;
    let webapp = serve::spawn("webapp", web_listener, web_tracer, web_router)
        .map_err(|e| format!("webapp: {e}"))?;
    let _ = writeln!(
        out,
        "webapp on http://127.0.0.1:{webapp_port}/ calls service1 on http://localhost:{service1_port}/service1/"
    );

    let mut ids = Vec::new();
    let mut failure = None;
    for _ in 0..opts.requests {
        let url = format!("http://127.0.0.1:{webapp_port}/");
        let started = Instant::now();
        let r = client
            .get(&url)
            .timeout(Duration::from_secs(120) + 4 * (opts.do_stuff_sleep + opts.index_sleep))
            .send()
            .await;
        let r = match r {
            Ok(r) => r,
            Err(e) => {
                failure = Some(format!("GET {url} failed: {}", describe(&e)));
                break;
            }
        };
        let status = r.status();
        let id = r
            .headers()
            .get(TRACE_ID_HEADER)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        let body = r.text().await.unwrap_or_default();
        let _ = writeln!(
            out,
            "GET {url} -> {status} {:?} in {}, trace {id}",
            body.trim(),
            waterfall::duration(started.elapsed().as_micros() as u64)
        );
        if !status.is_success() || id.is_empty() {
            failure = Some(format!("GET {url} answered {status}: {}", body.trim()));
            break;
        }
        ids.push(id);
    }

    // Every span has finished: each ended before its service answered. Send them now.
    let mut lost = Vec::new();
    for (service, t) in [("webapp", web_tracer), ("service1", s1_tracer)] {
        let r = t.shutdown(Duration::from_secs(10));
        if r.dropped > 0 || r.queued > 0 || r.timed_out {
            lost.push(format!(
                "{service}: {} spans dropped, {} not sent in time (metrics: {:?})",
                r.dropped,
                r.queued,
                t.metrics()
            ));
        }
    }
    let stopped = [webapp.stop(), service1.stop()];
    if let Some(f) = failure {
        return Err(f);
    }
    if !lost.is_empty() {
        return Err(format!("spans were lost: {}", lost.join("; ")));
    }
    for s in stopped {
        s?;
    }

    let traces = match &sink {
        Sink::Zipkin { base, .. } => {
            read_from_zipkin(
                &client,
                base,
                &ids,
                opts.read_timeout,
                opts.spans_per_trace(),
            )
            .await?
        }
        Sink::File { path, .. } => read_from_file(path, &ids, opts.spans_per_trace())?,
    };
    for (k, t) in traces.iter().enumerate() {
        let (t0, t1) = waterfall::bounds(&t.spans);
        let _ = writeln!(
            out,
            "\nTrace {} of {}: {} ({} spans; services: {}; {})",
            k + 1,
            traces.len(),
            t.id,
            t.spans.len(),
            waterfall::services(&t.spans).join(", "),
            waterfall::duration(t1 - t0)
        );
        let _ = write!(out, "{}", waterfall::render(&t.spans, opts.style));
        if let Some(url) = &t.url {
            let _ = writeln!(out, "In Zipkin: {url}");
        }
        if let Some(file) = &t.file {
            let _ = writeln!(out, "This trace alone: {}", shown(file));
        }
    }
    if let Sink::File { path, .. } = &sink {
        let _ = writeln!(
            out,
            "\nEvery span is in {} (Zipkin v2 JSON).\n\
             To see a trace in the Zipkin UI: start Zipkin (`bash scripts/zipkin-server.sh start`, \
             or any Zipkin on port 9411), open http://127.0.0.1:9411/zipkin/, press the upload button \
             at the top right (\"Upload JSON\") and choose one of the trace-<id>.json files above.\n\
             Or run the demo again while Zipkin is up: it then sends the spans there.",
            shown(path)
        );
    }
    Ok(Outcome {
        sink,
        webapp_port,
        service1_port,
        traces,
    })
}

/// A path relative to the current directory when it is inside it.
fn shown(p: &Path) -> String {
    let abs = std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
    std::env::current_dir()
        .ok()
        .and_then(|cwd| abs.strip_prefix(cwd).ok().map(Path::to_path_buf))
        .unwrap_or(abs)
        .display()
        .to_string()
}
