//! The HTTP transport against a fake collector (a few lines of std TCP that record each request
//! and answer as told), and the file transport.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use zipkin_runtime::transport::file::FileTransport;
use zipkin_runtime::transport::http::HttpTransport;
use zipkin_runtime::transport::{Message, Transport};
use zipkin_runtime::Encoding;
use zipkin_runtime::*;

#[derive(Clone, Debug)]
enum Answer {
    Status(u16),
    /// This status with these extra header lines (`Name: value`).
    StatusWith(u16, Vec<String>),
    /// This status with this body.
    StatusBody(u16, String),
    Redirect(String),
    /// Accept and never answer.
    Hang,
    /// 200 with a 1 GiB body, streamed until the client goes away.
    Endless,
}

#[derive(Clone, Debug)]
struct Request {
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Clone)]
struct Fake {
    addr: SocketAddr,
    answer: Arc<Mutex<Answer>>,
    requests: Arc<Mutex<Vec<Request>>>,
    body_bytes_written: Arc<AtomicU64>,
}

impl Fake {
    fn start(answer: Answer) -> Fake {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let fake = Fake {
            addr: listener.local_addr().unwrap(),
            answer: Arc::new(Mutex::new(answer)),
            requests: Default::default(),
            body_bytes_written: Default::default(),
        };
        let f = fake.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let f = f.clone();
                std::thread::spawn(move || f.serve(stream));
            }
        });
        fake
    }

    fn url(&self) -> String {
        format!("http://{}/api/v2/spans", self.addr)
    }

    fn requests(&self) -> Vec<Request> {
        self.requests.lock().unwrap().clone()
    }

    fn serve(&self, stream: TcpStream) {
        let mut r = BufReader::new(stream.try_clone().unwrap());
        let mut line = String::new();
        if r.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let path = line.split(' ').nth(1).unwrap_or("").to_owned();
        let mut headers = Vec::new();
        loop {
            let mut h = String::new();
            r.read_line(&mut h).unwrap();
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            let (n, v) = h.split_once(':').unwrap();
            headers.push((n.trim().to_ascii_lowercase(), v.trim().to_owned()));
        }
        let len: usize = headers
            .iter()
            .find(|(n, _)| n == "content-length")
            .map(|(_, v)| v.parse().unwrap())
            .unwrap_or(0);
        let mut body = vec![0; len];
        r.read_exact(&mut body).unwrap();
        self.requests.lock().unwrap().push(Request {
            path,
            headers,
            body,
        });
        let answer = self.answer.lock().unwrap().clone();
        let mut w = stream;
        match answer {
            Answer::Status(s) => {
                let _ = write!(
                    w,
                    "HTTP/1.1 {s} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                );
            }
            Answer::StatusBody(s, body) => {
                let _ = write!(
                    w,
                    "HTTP/1.1 {s} X\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
            Answer::StatusWith(s, lines) => {
                let mut head =
                    format!("HTTP/1.1 {s} X\r\nContent-Length: 0\r\nConnection: close\r\n");
                for l in lines {
                    head.push_str(&l);
                    head.push_str("\r\n");
                }
                let _ = write!(w, "{head}\r\n");
            }
            Answer::Redirect(to) => {
                let _ = write!(
                    w,
                    "HTTP/1.1 307 Temporary Redirect\r\nLocation: {to}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                );
            }
            Answer::Hang => std::thread::sleep(Duration::from_secs(60)),
            Answer::Endless => {
                let _ = write!(
                    w,
                    "HTTP/1.1 200 OK\r\nContent-Length: 1073741824\r\nConnection: close\r\n\r\n"
                );
                let chunk = vec![b'x'; 64 * 1024];
                while w.write_all(&chunk).is_ok() {
                    self.body_bytes_written
                        .fetch_add(chunk.len() as u64, Ordering::Relaxed);
                }
            }
        }
    }
}

fn message(enc: Encoding) -> Message {
    let body = match enc {
        Encoding::Json => br#"[{"traceId":"0000000000000001","id":"0000000000000002"}]"#.to_vec(),
        Encoding::Proto => vec![0x0a, 0x00],
    };
    Message {
        body,
        spans: 1,
        encoding: enc,
    }
}

fn http(url: &str) -> HttpTransport {
    HttpTransport::builder(url)
        .timeouts(Duration::from_secs(2), Duration::from_secs(5))
        .build()
        .unwrap()
}

fn traced_tracer(builder: TracerBuilder) -> Tracer {
    builder
        .service_name("svc")
        .reporter(ReporterConfig {
            drain_interval: Duration::from_millis(5),
            ..Default::default()
        })
        .build()
        .unwrap()
}

#[test]
fn report_request_carries_b3_0_content_type_and_the_auth_header() {
    let fake = Fake::start(Answer::Status(202));
    let t = traced_tracer(
        Tracer::builder()
            .endpoint(&fake.url())
            .unwrap()
            .auth_header("Authorization", "Bearer s3cret"),
    );
    t.in_scope(|| {
        let _root = SpanGuard::new("root");
        drop(SpanGuard::new("child"));
    });
    let r = t.flush(Duration::from_secs(10));
    assert_eq!((r.sent, r.dropped), (2, 0));
    // One message, or two when a drain tick (every 5 ms) fell between the two spans' ends.
    let reqs = fake.requests();
    assert!(
        !reqs.is_empty() && reqs.len() <= 2,
        "{} requests",
        reqs.len()
    );
    let mut spans = 0;
    for req in &reqs {
        assert_eq!(req.path, "/api/v2/spans");
        assert_eq!(req.header("content-type"), Some("application/json"));
        assert_eq!(req.header("b3"), Some("0"));
        assert_eq!(req.header("authorization"), Some("Bearer s3cret"));
        assert_eq!(req.header("content-encoding"), None);
        for traced in ["x-b3-traceid", "x-b3-spanid", "traceparent"] {
            assert_eq!(req.header(traced), None, "export request carries {traced}");
        }
        spans += serde_json::from_slice::<Vec<model::Span>>(&req.body)
            .unwrap()
            .len();
    }
    assert_eq!(spans, 2);
    // The secret shows nowhere.
    let shown = format!("{:?} {:?}", t.config(), t);
    assert!(!shown.contains("s3cret"), "{shown}");
}

#[test]
fn protobuf_with_gzip() {
    let fake = Fake::start(Answer::Status(202));
    let t = traced_tracer(
        Tracer::builder()
            .endpoint(&fake.url())
            .unwrap()
            .encoding(Encoding::Proto)
            .gzip(true),
    );
    let id = t.in_scope(|| {
        let s = SpanGuard::new("root");
        s.context().unwrap().span_id
    });
    assert_eq!(t.flush(Duration::from_secs(10)).sent, 1);
    let req = &fake.requests()[0];
    assert_eq!(req.header("content-type"), Some("application/x-protobuf"));
    assert_eq!(req.header("content-encoding"), Some("gzip"));
    let mut body = Vec::new();
    flate2::read::GzDecoder::new(&req.body[..])
        .read_to_end(&mut body)
        .unwrap();
    assert_eq!(body[0], 0x0a, "ListOfSpans field 1");
    let id = id.get().to_be_bytes();
    assert!(
        body.windows(8).any(|w| w == id),
        "span id bytes in the body"
    );
}

#[test]
fn a_url_without_path_posts_to_api_v2_spans() {
    let fake = Fake::start(Answer::Status(202));
    let t = http(&format!("http://{}", fake.addr));
    assert!(t.url().ends_with("/api/v2/spans"));
    t.send(&message(Encoding::Json)).unwrap();
    assert_eq!(fake.requests()[0].path, "/api/v2/spans");
}

#[test]
fn redirects_are_not_followed() {
    let elsewhere = Fake::start(Answer::Status(202));
    let fake = Fake::start(Answer::Redirect(elsewhere.url()));
    let err = http(&fake.url())
        .send(&message(Encoding::Json))
        .unwrap_err();
    assert!(
        matches!(err, TransportError::Status { status: 307, .. }),
        "{err}"
    );
    assert!(!err.is_retryable());
    assert_eq!(fake.requests().len(), 1);
    assert!(elsewhere.requests().is_empty(), "redirect followed");
}

#[test]
fn an_endless_response_body_is_read_only_up_to_the_cap() {
    let fake = Fake::start(Answer::Endless);
    http(&fake.url()).send(&message(Encoding::Json)).unwrap();
    // The server keeps writing until the client hangs up; what it got out is the cap plus
    // what the kernel's socket buffers absorbed, nowhere near the 1 GiB announced.
    std::thread::sleep(Duration::from_millis(200));
    let written = fake.body_bytes_written.load(Ordering::Relaxed);
    assert!(
        written < 64 << 20,
        "{written} bytes written: body read to the end"
    );
}

#[test]
fn a_hung_collector_ends_at_the_request_timeout() {
    let fake = Fake::start(Answer::Hang);
    let t = HttpTransport::builder(fake.url())
        .timeouts(Duration::from_secs(1), Duration::from_millis(300))
        .build()
        .unwrap();
    let start = Instant::now();
    let err = t.send(&message(Encoding::Json)).unwrap_err();
    assert!(start.elapsed() >= Duration::from_millis(300));
    assert!(start.elapsed() < Duration::from_secs(30));
    assert!(err.is_retryable(), "{err}");
}

#[test]
fn refused_connections_and_server_errors_are_retryable_client_errors_are_not() {
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let err = http(&format!(
        "http://user:pa55word@127.0.0.1:{port}/api/v2/spans"
    ))
    .send(&message(Encoding::Json))
    .unwrap_err();
    assert!(
        matches!(err, TransportError::Io(_)) && err.is_retryable(),
        "{err}"
    );
    assert!(!err.to_string().contains("pa55word"), "{err}");
    for (status, retry) in [
        (500, true),
        (503, true),
        (429, true),
        (400, false),
        (404, false),
    ] {
        let fake = Fake::start(Answer::Status(status));
        let err = http(&fake.url())
            .send(&message(Encoding::Json))
            .unwrap_err();
        assert!(matches!(err, TransportError::Status { status: s, .. } if s == status));
        assert_eq!(err.is_retryable(), retry, "{status}");
    }
}

fn answer_of(status: u16, lines: &[&str]) -> TransportError {
    let fake = Fake::start(Answer::StatusWith(
        status,
        lines.iter().map(|l| l.to_string()).collect(),
    ));
    http(&fake.url())
        .send(&message(Encoding::Json))
        .unwrap_err()
}

#[test]
fn retry_after_of_429_and_503_comes_back_in_the_error() {
    let e = answer_of(503, &["Retry-After: 3"]);
    assert_eq!(e.retry_after(), Some(Duration::from_secs(3)), "{e}");
    assert!(e.is_retryable());
    assert!(
        e.to_string().contains("HTTP 503") && e.to_string().contains("3s"),
        "{e}"
    );
    // The HTTP-date form: one long past asks for no wait; one far ahead, for years.
    let e = answer_of(429, &["Retry-After: Sun, 06 Nov 1994 08:49:37 GMT"]);
    assert_eq!(e.retry_after(), Some(Duration::ZERO), "{e}");
    let e = answer_of(429, &["Retry-After: Fri, 31 Dec 2100 23:59:59 GMT"]);
    let years = e.retry_after().unwrap();
    assert!(years > Duration::from_secs(50 * 365 * 86400), "{years:?}");
    // The header's name is case-insensitive.
    let e = answer_of(429, &["retry-after: 1"]);
    assert_eq!(e.retry_after(), Some(Duration::from_secs(1)), "{e}");
}

#[test]
fn retry_after_that_is_unreadable_or_on_another_status_is_not_given() {
    for (status, lines) in [
        (503, vec!["Retry-After: soon"]),
        (503, vec!["Retry-After: 1.5"]),
        (429, vec!["Retry-After: -1"]),
        (429, vec!["Retry-After: 1", "Retry-After: 60"]),
        (429, vec![]),
        (500, vec!["Retry-After: 3"]),
    ] {
        let e = answer_of(status, &lines);
        assert!(
            matches!(e, TransportError::Status { status: s, retry_after: None, .. } if s == status),
            "{status} {lines:?}: {e}"
        );
        let text = e.to_string();
        assert!(
            text.starts_with(&format!(
                "collector answered HTTP {status}, expected 2xx (POST http://127.0.0.1:"
            )) && text.ends_with("/api/v2/spans)"),
            "{text}"
        );
    }
}

/// Regression: a collector that refused the spans was said as "collector answered HTTP 400,
/// expected 2xx" alone, though the request's URL and Zipkin's answer say what is wrong (here
/// py_zipkin's v1 path with v2 spans).
#[test]
fn an_error_answer_is_said_with_the_url_and_the_start_of_its_body() {
    let fake = Fake::start(Answer::StatusBody(
        400,
        "Expected a JSON_V1 encoded list, but received: JSON_V2\n".into(),
    ));
    let url = fake.url().replace("/api/v2/spans", "/api/v1/spans");
    let e = http(&url).send(&message(Encoding::Json)).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "collector answered HTTP 400, expected 2xx (POST {url}: \
             \"Expected a JSON_V1 encoded list, but received: JSON_V2\")"
        )
    );
    // A long or binary body: one line, cut at 200 bytes.
    let fake = Fake::start(Answer::StatusBody(
        500,
        format!("a\r\nb{}", "x".repeat(500)),
    ));
    let e = http(&fake.url())
        .send(&message(Encoding::Json))
        .unwrap_err();
    let text = e.to_string();
    assert!(text.contains(": \"a  bxxx"), "{text}");
    assert!(text.ends_with("xxx\"…)"), "{text}");
    assert!(text.len() < 320, "{}", text.len());
    // A character the cut splits is left out; a body of exactly 200 bytes is not "cut".
    let fake = Fake::start(Answer::StatusBody(
        500,
        format!("{}é and more", "x".repeat(199)),
    ));
    let text = http(&fake.url())
        .send(&message(Encoding::Json))
        .unwrap_err()
        .to_string();
    assert!(
        text.ends_with("xxx\"…)") && !text.contains('\u{fffd}'),
        "{text}"
    );
    let fake = Fake::start(Answer::StatusBody(500, "y".repeat(200)));
    let text = http(&fake.url())
        .send(&message(Encoding::Json))
        .unwrap_err()
        .to_string();
    assert!(text.ends_with("yyy\")"), "{text}");
}

/// A collector that takes its key in the query (`?Api-Key=…`): the refusal's message keeps
/// the key out of standard error.
#[test]
fn an_error_answer_hides_the_urls_query_values() {
    let fake = Fake::start(Answer::StatusBody(401, "no".into()));
    let url = format!("{}?Api-Key=SECRET&region=eu", fake.url());
    let text = http(&url)
        .send(&message(Encoding::Json))
        .unwrap_err()
        .to_string();
    assert!(!text.contains("SECRET") && !text.contains("eu"), "{text}");
    assert!(
        text.contains("/api/v2/spans?Api-Key=<redacted>&region=<redacted>: \"no\")"),
        "{text}"
    );
}

#[test]
fn a_rejected_message_is_sent_once_and_counted() {
    let fake = Fake::start(Answer::Status(400));
    let t = traced_tracer(Tracer::builder().endpoint(&fake.url()).unwrap());
    t.in_scope(|| drop(SpanGuard::new("root")));
    t.flush(Duration::from_secs(10));
    let m = t.metrics();
    assert_eq!((m.dropped_rejected, m.messages_dropped), (1, 1));
    assert_eq!(fake.requests().len(), 1);
}

#[test]
fn invalid_settings_are_config_errors() {
    for url in ["http://", "ftp://x", "not a url"] {
        assert!(HttpTransport::builder(url).build().is_err(), "{url}");
    }
    let e = HttpTransport::builder("http://x")
        .auth_header("Bad Name", "v")
        .build()
        .unwrap_err();
    assert!(e.to_string().contains("expected"), "{e}");
    let e = HttpTransport::builder("http://x")
        .auth_header("Authorization", "line\nbreak s3cret")
        .build()
        .unwrap_err();
    assert!(!e.to_string().contains("s3cret"), "{e}");
}

#[tokio::test]
async fn send_inside_an_async_runtime_is_an_error_not_a_panic() {
    let err = http("http://127.0.0.1:9/api/v2/spans")
        .send(&message(Encoding::Json))
        .unwrap_err();
    assert!(err.to_string().contains("reporter thread"), "{err}");
}

#[tokio::test(flavor = "current_thread")]
async fn a_tracer_reports_over_http_from_inside_a_current_thread_runtime() {
    let fake = Fake::start(Answer::Status(202));
    let t = traced_tracer(Tracer::builder().endpoint(&fake.url()).unwrap());
    let span = t.in_scope(|| Span::builder("async").start_detached());
    span.instrument(tokio::task::yield_now()).await;
    let r = t.shutdown(Duration::from_secs(10));
    assert_eq!((r.sent, r.timed_out), (1, false));
    assert_eq!(fake.requests().len(), 1);
}

// ---------------------------------------------------------------------------------------------
// File transport.

fn temp_file(name: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("zipkin-rs-{}-{name}.json", std::process::id()))
}

#[test]
fn file_holds_one_json_array_across_messages() {
    let path = temp_file("many");
    let t = traced_tracer(
        Tracer::builder()
            .endpoint(&format!("file:{}", path.display()))
            .unwrap(),
    );
    assert_eq!(
        std::fs::read(&path).unwrap(),
        b"[]",
        "valid before any span"
    );
    for i in 0..3 {
        t.in_scope(|| {
            for _ in 0..=i {
                drop(SpanGuard::new("work"));
            }
        });
        t.flush(Duration::from_secs(5));
        let spans: Vec<model::Span> = serde_json::from_slice(&std::fs::read(&path).unwrap())
            .unwrap_or_else(|e| panic!("not one array after message {i}: {e}"));
        assert_eq!(spans.len(), (1..=i + 1).sum::<usize>());
    }
    let m = t.metrics();
    assert_eq!((m.spans_sent, m.spans_dropped), (6, 0));
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn file_transport_writes_only_json_and_reports_its_path() {
    let path = temp_file("direct");
    let f = FileTransport::create(&path).unwrap();
    assert_eq!(f.encoding(), Encoding::Json);
    assert!(f.path().is_absolute());
    f.send(&message(Encoding::Json)).unwrap();
    f.send(&message(Encoding::Json)).unwrap();
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 2);
    std::fs::remove_file(&path).unwrap();
    let bad = Tracer::builder()
        .endpoint("file:/nonexistent-dir/x/spans.json")
        .unwrap()
        .build();
    assert!(bad.is_err());
}
