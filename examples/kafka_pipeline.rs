//! A request that crosses Kafka, traced as one trace:
//!
//! ```text
//! HTTP GET /order ──> order-api: SERVER span ──> PRODUCER span ──record + b3 header──> Kafka
//!                                                                                        │
//!       order-worker: CONSUMER span (child of the PRODUCER span) ──> process-order <─────┘
//! ```
//!
//! Two services in one process, each with its own tracer (as if each were its own process):
//! `order-api` answers HTTP and produces a record to the topic `zipkin-rs-orders` with
//! rskafka, its PRODUCER span's context in the record's `b3` header; `order-worker` consumes
//! the record, continues the trace in a CONSUMER span and does its work in a local span.
//!
//! ```text
//! bash scripts/kafka.sh start
//! ZIPKIN_PORT=9412 ZIPKIN_KAFKA_BOOTSTRAP=127.0.0.1:9092 bash scripts/zipkin-server.sh start
//! ZIPKIN_ENDPOINT=kafka://127.0.0.1:9092/zipkin cargo run --example kafka_pipeline
//! ```
//!
//! The spans go wherever `ZIPKIN_ENDPOINT` says (through Kafka above, or to a Zipkin over
//! HTTP). `KAFKA_BOOTSTRAP` (default `127.0.0.1:9092`) is the broker the services use for their
//! own messages; `ZIPKIN_API_URL` (default `http://localhost:9411`) is where the trace's link
//! points. It prints the trace id, one line per span as it ends, and exits.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use rskafka::chrono::{TimeZone, Utc};
use rskafka::client::partition::{Compression, OffsetAt, PartitionClient, UnknownTopicHandling};
use rskafka::client::ClientBuilder;
use rskafka::record::Record;
use zipkin_rs::propagation::{extract_from, kafka};
use zipkin_rs::{Kind, SpanGuard, Tracer};

/// The topic of the services' own messages (not Zipkin's `zipkin` topic).
const TOPIC: &str = "zipkin-rs-orders";
/// How long any Kafka call may take: rskafka retries forever by default.
const KAFKA_TIMEOUT: Duration = Duration::from_secs(20);

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("kafka_pipeline: {e}");
            ExitCode::FAILURE
        }
    }
}

fn tracer(service: &'static str) -> Result<Tracer, String> {
    Tracer::builder()
        .from_env()
        .map_err(|e| e.to_string())?
        .service_name(service)
        .build()
        .map_err(|e| format!("{service}: {e}"))
}

/// Runs a Kafka call on the runtime, bounded by [`KAFKA_TIMEOUT`].
fn kafka_call<T, E: std::fmt::Display>(
    rt: &tokio::runtime::Handle,
    what: &str,
    f: impl std::future::Future<Output = Result<T, E>>,
) -> Result<T, String> {
    match rt.block_on(async { tokio::time::timeout(KAFKA_TIMEOUT, f).await }) {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(format!("{what}: {e}")),
        Err(_) => Err(format!("{what}: no answer within {KAFKA_TIMEOUT:?}")),
    }
}

fn run() -> Result<(), String> {
    let bootstrap = std::env::var("KAFKA_BOOTSTRAP").unwrap_or_else(|_| "127.0.0.1:9092".into());
    let api = std::env::var("ZIPKIN_API_URL").unwrap_or_else(|_| "http://localhost:9411".into());
    let api_tracer = tracer("order-api")?;
    let worker_tracer = tracer("order-worker")?;
    println!(
        "spans go to {}; the services' messages to topic {TOPIC} at {bootstrap}",
        api_tracer.config().endpoint()
    );

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start tokio: {e}"))?;
    let h = rt.handle().clone();
    let client = kafka_call(&h, &format!("connecting to Kafka at {bootstrap}"), async {
        ClientBuilder::new(vec![bootstrap.clone()]).build().await
    })?;
    let controller = client.controller_client().map_err(|e| e.to_string())?;
    // The broker of scripts/kafka.sh creates no topic by itself; an existing one is fine.
    if let Err(e) = kafka_call(
        &h,
        "creating the topic",
        controller.create_topic(TOPIC, 1, 1, 5_000),
    ) {
        if !e.contains("TopicAlreadyExists") {
            return Err(e);
        }
    }
    let partition = Arc::new(kafka_call(
        &h,
        "opening partition 0",
        client.partition_client(TOPIC, 0, UnknownTopicHandling::Retry),
    )?);
    let start = kafka_call(
        &h,
        "reading the end offset",
        partition.get_offset(OffsetAt::Latest),
    )?;

    // order-api: answers one HTTP request.
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("cannot listen: {e}"))?;
    let port = listener.local_addr().map_err(|e| e.to_string())?.port();
    let api_thread = {
        let (h, partition) = (h.clone(), partition.clone());
        std::thread::spawn(move || -> Result<(), String> {
            let (stream, _) = listener.accept().map_err(|e| e.to_string())?;
            api_tracer.in_scope(|| serve_order(stream, &h, &partition))
        })
    };
    // order-worker: consumes the one record.
    let worker_thread = {
        let (h, partition) = (h.clone(), partition.clone());
        std::thread::spawn(move || worker_tracer.in_scope(|| consume_one(&h, &partition, start)))
    };

    let trace_id = get(&format!("127.0.0.1:{port}"), "/order?item=42")?;
    println!("GET /order -> trace {trace_id}");
    let joined = |t: std::thread::JoinHandle<Result<(), String>>| {
        t.join()
            .map_err(|_| "a service thread panicked".to_owned())?
    };
    joined(api_thread)?;
    joined(worker_thread)?;
    for (service, t) in [("order-api", api_tracer), ("order-worker", worker_tracer)] {
        let r = t.shutdown(Duration::from_secs(10));
        if r.dropped > 0 || r.queued > 0 || r.timed_out {
            return Err(format!("{service} lost spans: {:?}", t.metrics()));
        }
    }
    println!(
        "In Zipkin: {}/zipkin/traces/{trace_id}",
        api.trim_end_matches('/')
    );
    Ok(())
}

/// order-api's handler: a SERVER span for the request, a PRODUCER span around the record.
fn serve_order(
    stream: TcpStream,
    h: &tokio::runtime::Handle,
    partition: &PartitionClient,
) -> Result<(), String> {
    let mut reader = BufReader::new(stream.try_clone().map_err(|e| e.to_string())?);
    let mut request_line = String::new();
    reader
        .read_line(&mut request_line)
        .map_err(|e| e.to_string())?;
    let mut headers: Vec<(String, String)> = Vec::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).map_err(|e| e.to_string())? == 0 || line.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            headers.push((k.trim().to_owned(), v.trim().to_owned()));
        }
    }
    let server = SpanGuard::builder("get /order")
        .kind(Kind::Server)
        .parent(extract_from(&headers))
        .start();
    let trace_id = server
        .context()
        .map(|c| c.trace_id.to_string())
        .unwrap_or_default();
    let produced = {
        let mut record_headers: BTreeMap<String, Vec<u8>> = BTreeMap::new();
        let _send = kafka::producer_span(TOPIC, &mut record_headers);
        let record = Record {
            key: None,
            value: Some(request_line.trim().as_bytes().to_vec()),
            headers: record_headers,
            timestamp: Utc
                .timestamp_millis_opt(now_ms())
                .single()
                .unwrap_or_default(),
        };
        kafka_call(
            h,
            "producing the order",
            partition.produce(vec![record], Compression::NoCompression),
        )
    };
    let (status, body) = match &produced {
        Ok(_) => ("200 OK", "queued"),
        Err(_) => ("503 Service Unavailable", "not queued"),
    };
    let mut stream = stream;
    write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nX-Trace-Id: {trace_id}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .map_err(|e| e.to_string())?;
    drop(server);
    produced.map(|_| println!("order-api: produced the order in trace {trace_id}"))
}

/// order-worker: reads from `offset` until a record arrives, and processes it in a CONSUMER
/// span continued from its headers.
fn consume_one(
    h: &tokio::runtime::Handle,
    partition: &PartitionClient,
    offset: i64,
) -> Result<(), String> {
    for _ in 0..40 {
        let (records, _) = kafka_call(
            h,
            "fetching",
            partition.fetch_records(offset, 1..1_000_000, 500),
        )?;
        let Some(r) = records.into_iter().next() else {
            continue;
        };
        let poll = kafka::consumer_span(TOPIC, &r.record.headers);
        {
            let _work = SpanGuard::new("process-order");
            std::thread::sleep(Duration::from_millis(20));
        }
        let ctx = poll
            .context()
            .map(|c| c.trace_id.to_string())
            .unwrap_or_default();
        println!("order-worker: processed record {} in trace {ctx}", r.offset);
        return Ok(());
    }
    Err(format!("no record arrived on {TOPIC} within 20 s"))
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// A GET over a plain socket; returns the response's `X-Trace-Id`.
fn get(addr: &str, path: &str) -> Result<String, String> {
    let mut s = TcpStream::connect(addr).map_err(|e| format!("GET {path}: {e}"))?;
    s.set_read_timeout(Some(Duration::from_secs(60)))
        .map_err(|e| e.to_string())?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .map_err(|e| e.to_string())?;
    let mut response = String::new();
    s.read_to_string(&mut response)
        .map_err(|e| format!("GET {path}: {e}"))?;
    if !response.starts_with("HTTP/1.1 200") {
        return Err(format!(
            "GET {path} answered {}",
            response.lines().next().unwrap_or("nothing")
        ));
    }
    response
        .lines()
        .find_map(|l| l.strip_prefix("X-Trace-Id: "))
        .map(str::to_owned)
        .ok_or_else(|| format!("GET {path}: no X-Trace-Id in {response:?}"))
}
