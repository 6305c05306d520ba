//! Shared by the tests that need the real Kafka broker (scripts/kafka.sh) and the Zipkin server
//! that consumes its topic (scripts/zipkin-server.sh with ZIPKIN_KAFKA_BOOTSTRAP, on its own
//! port). `KAFKA_BOOTSTRAP` (default 127.0.0.1:9092) and `ZIPKIN_KAFKA_URL` (default
//! http://127.0.0.1:9412) say where they are. Without them a test prints "skipped: ..." and
//! passes, unless `KAFKA_E2E=1` (set by scripts/test.sh after it starts both), which makes a
//! missing service a failure.
#![allow(dead_code)]

use std::time::{Duration, Instant};

use zipkin_rs::model::Span;

pub fn bootstrap() -> String {
    std::env::var("KAFKA_BOOTSTRAP").unwrap_or_else(|_| "127.0.0.1:9092".into())
}

pub fn zipkin_kafka_url() -> String {
    std::env::var("ZIPKIN_KAFKA_URL")
        .unwrap_or_else(|_| "http://127.0.0.1:9412".into())
        .trim_end_matches('/')
        .to_owned()
}

fn required() -> bool {
    std::env::var("KAFKA_E2E").as_deref() == Ok("1")
}

fn skip_or_fail(test: &str, why: String) -> bool {
    if required() {
        panic!("KAFKA_E2E=1 but {why}");
    }
    println!("skipped: {test}: {why}");
    false
}

/// Whether the broker takes connections; panics when it does not and KAFKA_E2E=1.
pub fn kafka_up(test: &str) -> bool {
    let b = bootstrap();
    let addr = match std::net::ToSocketAddrs::to_socket_addrs(b.as_str()).map(|mut a| a.next()) {
        Ok(Some(a)) => a,
        _ => return skip_or_fail(test, format!("KAFKA_BOOTSTRAP={b} does not resolve")),
    };
    match std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(2)) {
        Ok(_) => true,
        Err(e) => skip_or_fail(test, format!("no Kafka broker at {b} ({e})")),
    }
}

/// Whether the broker and the Kafka-consuming Zipkin both answer.
pub fn kafka_and_zipkin_up(test: &str) -> bool {
    if !kafka_up(test) {
        return false;
    }
    let url = format!("{}/health", zipkin_kafka_url());
    match blocking_get(&url) {
        Ok(body) if body.contains("KafkaCollector") && body.contains("\"UP\"") => true,
        Ok(body) => skip_or_fail(
            test,
            format!("the Zipkin at {url} does not consume Kafka (its /health: {body})"),
        ),
        Err(e) => skip_or_fail(test, format!("no Zipkin consuming Kafka at {url} ({e})")),
    }
}

/// A GET with a plain socket (these tests need no async runtime).
pub fn blocking_get(url: &str) -> Result<String, String> {
    use std::io::{Read, Write};
    let rest = url.strip_prefix("http://").ok_or("not an http:// URL")?;
    let (host, path) = rest
        .split_once('/')
        .map_or((rest, "/".to_owned()), |(h, p)| (h, format!("/{p}")));
    let mut s = std::net::TcpStream::connect(host).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(|e| e.to_string())?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: {host}\r\n\r\n").map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    s.read_to_end(&mut out).map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&out).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").ok_or("no HTTP response")?;
    if !head.starts_with("HTTP/1.1 200") && !head.starts_with("HTTP/1.0 200") {
        return Err(head.lines().next().unwrap_or("").to_owned());
    }
    Ok(body.to_owned())
}

/// Polls the Kafka-consuming Zipkin until trace `id` has `n` spans (its collector stores what
/// it consumes a little later), with a deadline.
pub fn stored_trace(id: &str, n: usize) -> Vec<Span> {
    let url = format!("{}/api/v2/trace/{id}", zipkin_kafka_url());
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let spans: Vec<Span> = blocking_get(&url)
            .ok()
            .and_then(|b| serde_json::from_str(&b).ok())
            .unwrap_or_default();
        if spans.len() >= n || Instant::now() > deadline {
            return spans;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The JSON messages on the topic that hold spans of trace `id` (hex), decoded.
pub fn topic_spans_of(id: &str) -> Vec<Vec<Span>> {
    let values = zipkin_rs::transport::kafka::read_topic(&bootstrap(), "zipkin")
        .unwrap_or_else(|e| panic!("reading topic zipkin back from {}: {e}", bootstrap()));
    values
        .iter()
        .filter(|v| v.first() == Some(&b'[') && contains(v, id.as_bytes()))
        .map(|v| {
            serde_json::from_slice(v)
                .unwrap_or_else(|e| panic!("a message on the topic is not a JSON list: {e}"))
        })
        .collect()
}

pub fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}
