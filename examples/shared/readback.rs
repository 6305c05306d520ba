//! What the demo reads back: whether a Zipkin server answers (and consumes the Kafka topic), and
//! each trace as Zipkin stored it, or as the spans file holds it when there is no Zipkin.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use zipkin_rs::model::Span;

/// One request's trace as read back.
#[derive(Clone, Debug)]
pub struct Trace {
    pub id: String,
    pub spans: Vec<Span>,
    /// Its page in the Zipkin UI.
    pub url: Option<String>,
    /// A file with only this trace, for the UI's "Upload JSON".
    pub file: Option<PathBuf>,
}

/// The root URL of a collector endpoint (`.../api/v2/spans` removed).
pub fn base_url(endpoint: &str) -> String {
    let e = endpoint.trim().trim_end_matches('/');
    e.strip_suffix("/api/v2/spans").unwrap_or(e).to_owned()
}

/// Whether a Zipkin server answers `/health` at `base`; the reason when not.
pub async fn probe(client: &reqwest::Client, base: &str) -> Result<(), String> {
    let r = client
        .get(format!("{base}/health"))
        .timeout(Duration::from_millis(1500))
        .send()
        .await
        .map_err(|e| root_cause(&e))?;
    let status = r.status();
    let body = r.text().await.unwrap_or_default();
    if status.is_success() && body.contains("UP") {
        Ok(())
    } else {
        Err(format!("/health answered {status}"))
    }
}

/// Where the demo looks for the Zipkin consuming a `kafka://` endpoint's topic when
/// `ZIPKIN_API_URL` is not set: Zipkin's usual port, then the one scripts/test.sh gives a
/// second, Kafka-consuming server.
pub const KAFKA_ZIPKIN_CANDIDATES: [&str; 2] = ["http://localhost:9411", "http://localhost:9412"];

/// Whether the Zipkin at `base` is up and consumes `topic` from Kafka (its `/health` lists a
/// `KafkaCollector` for that topic that is UP); the reason when not.
pub async fn consumes_kafka(
    client: &reqwest::Client,
    base: &str,
    topic: &str,
) -> Result<(), String> {
    let r = client
        .get(format!("{base}/health"))
        .timeout(Duration::from_millis(1500))
        .send()
        .await
        .map_err(|e| format!("no Zipkin answers there ({})", root_cause(&e)))?;
    let body = r.text().await.unwrap_or_default();
    let kafka = body.find("KafkaCollector").map(|at| &body[at..]);
    match kafka {
        None => Err(format!(
            "that Zipkin does not consume Kafka (start one with KAFKA_BOOTSTRAP_SERVERS, such as \
             `ZIPKIN_PORT=9412 ZIPKIN_KAFKA_BOOTSTRAP=127.0.0.1:9092 bash scripts/zipkin-server.sh \
             start`); its /health: {}",
            body.trim()
        )),
        // `KafkaCollector{...}" : { "status" : "UP" }`: the status is between its first two `}`.
        Some(k) if !k.split('}').nth(1).unwrap_or("").contains("\"UP\"") => Err(format!(
            "its Kafka collector is not UP; its /health: {}",
            body.trim()
        )),
        // `KafkaCollector{bootstrapServers=..., topic=a,b}`
        Some(k)
            if !k
                .split('}')
                .next()
                .and_then(|name| name.split("topic=").nth(1))
                .is_some_and(|topics| topics.split(',').any(|t| t.trim() == topic)) =>
        {
            Err(format!(
                "its Kafka collector reads another topic than {topic}; its /health: {}",
                body.trim()
            ))
        }
        Some(_) => Ok(()),
    }
}

/// The innermost cause of an error ("Connection refused (os error 111)").
pub(super) fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut e = e;
    while let Some(c) = e.source() {
        e = c;
    }
    e.to_string()
}

/// A reqwest error with its causes (its Display alone says only "error sending request").
pub(super) fn describe(e: &(dyn std::error::Error + 'static)) -> String {
    let mut s = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cause = c.source();
    }
    s
}

/// Reads each trace back from Zipkin. The collector answers 202 before it stores, so this polls
/// until every span of the trace is there.
pub async fn read_from_zipkin(
    client: &reqwest::Client,
    base: &str,
    ids: &[String],
    timeout: Duration,
    per_trace: usize,
) -> Result<Vec<Trace>, String> {
    let mut out = Vec::new();
    for id in ids {
        let deadline = Instant::now() + timeout;
        let url = format!("{base}/api/v2/trace/{id}");
        let spans = loop {
            let spans = match client
                .get(&url)
                .timeout(Duration::from_secs(5))
                .send()
                .await
            {
                Ok(r) if r.status().is_success() => {
                    let body = r.bytes().await.map_err(|e| describe(&e))?;
                    serde_json::from_slice::<Vec<Span>>(&body)
                        .map_err(|e| format!("{url} did not give a list of spans: {e}"))?
                }
                Ok(_) => Vec::new(), // 404 until the first span is stored
                Err(e) => return Err(format!("GET {url}: {}", describe(&e))),
            };
            if spans.len() >= per_trace {
                break spans;
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "Zipkin stored {} of the {per_trace} spans of trace {id} within {:?}",
                    spans.len(),
                    timeout
                ));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        out.push(Trace {
            id: id.clone(),
            spans,
            url: Some(format!("{base}/zipkin/traces/{id}")),
            file: None,
        });
    }
    Ok(out)
}

/// Reads the span file and writes one file per trace beside it (the UI loads one trace per
/// upload).
pub fn read_from_file(path: &Path, ids: &[String], per_trace: usize) -> Result<Vec<Trace>, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let spans: Vec<Span> = serde_json::from_slice(&bytes)
        .map_err(|e| format!("{} is not a JSON list of spans: {e}", path.display()))?;
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut out = Vec::new();
    for id in ids {
        let mine: Vec<Span> = spans
            .iter()
            .filter(|s| &s.trace_id == id)
            .cloned()
            .collect();
        if mine.len() != per_trace {
            return Err(format!(
                "{} holds {} spans of trace {id}; expected {per_trace}",
                path.display(),
                mine.len()
            ));
        }
        let file = dir.join(format!("trace-{id}.json"));
        let json = serde_json::to_vec_pretty(&mine).map_err(|e| e.to_string())?;
        std::fs::write(&file, json).map_err(|e| format!("cannot write {}: {e}", file.display()))?;
        out.push(Trace {
            id: id.clone(),
            spans: mine,
            url: None,
            file: Some(file),
        });
    }
    Ok(out)
}
