//! examples/kafka_pipeline.rs against the real broker and the Zipkin consuming the topic: one
//! trace, SERVER -> PRODUCER -> CONSUMER -> local work; and a record with a hostile `b3` header
//! consumed through the real broker. See tests/kafka/mod.rs for the services.

mod kafka;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use zipkin_rs::model::Span;
use zipkin_rs::propagation::{self, kafka as record_headers};
use zipkin_rs::testing::render_tree;
use zipkin_rs::transport::memory::MemoryTransport;
use zipkin_rs::{SpanGuard, Tracer};

const PIPELINE_TREE: &str = "\
get /order [SERVER] (order-api)
  send [PRODUCER] (order-api)
    poll [CONSUMER] (order-worker)
      process-order (order-worker)
";

fn example(name: &str) -> PathBuf {
    let deps = std::env::current_exe().unwrap();
    let profile_dir = deps.parent().unwrap().parent().unwrap();
    let exe = profile_dir.join("examples").join(name);
    if !exe.exists() {
        let status = Command::new(env!("CARGO"))
            .args(["build", "--example", name])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .unwrap();
        assert!(status.success());
    }
    exe
}

fn named<'a>(spans: &'a [Span], name: &str) -> &'a Span {
    let found: Vec<&Span> = spans
        .iter()
        .filter(|s| s.name.as_deref() == Some(name))
        .collect();
    assert_eq!(found.len(), 1, "one span named {name} in {spans:#?}");
    found[0]
}

#[test]
fn the_pipeline_is_one_trace_from_the_request_through_kafka_to_the_work() {
    if !kafka::kafka_and_zipkin_up(
        "the_pipeline_is_one_trace_from_the_request_through_kafka_to_the_work",
    ) {
        return;
    }
    let out = Command::new(example("kafka_pipeline"))
        .env(
            "ZIPKIN_ENDPOINT",
            format!("kafka://{}/zipkin", kafka::bootstrap()),
        )
        .env("KAFKA_BOOTSTRAP", kafka::bootstrap())
        .env("ZIPKIN_API_URL", kafka::zipkin_kafka_url())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let id = stdout
        .lines()
        .find_map(|l| l.strip_prefix("GET /order -> trace "))
        .unwrap_or_else(|| panic!("no trace id in {stdout}"))
        .to_owned();

    let spans = kafka::stored_trace(&id, 4);
    assert_eq!(spans.len(), 4, "trace {id}: {spans:#?}");
    assert_eq!(render_tree(&spans), PIPELINE_TREE, "trace {id}");
    let (server, send, poll, work) = (
        named(&spans, "get /order"),
        named(&spans, "send"),
        named(&spans, "poll"),
        named(&spans, "process-order"),
    );
    assert_eq!(server.parent_id, None);
    assert_eq!(send.parent_id.as_ref(), Some(&server.id));
    // The consumer is a child of the producer span, never the same span.
    assert_eq!(poll.parent_id.as_ref(), Some(&send.id));
    assert_ne!(poll.id, send.id);
    assert_eq!(poll.shared, None);
    assert_eq!(work.parent_id.as_ref(), Some(&poll.id));
    for s in [send, poll] {
        assert_eq!(
            s.tags.get("kafka.topic").map(String::as_str),
            Some("zipkin-rs-orders"),
            "{s:#?}"
        );
        let remote = s
            .remote_endpoint
            .as_ref()
            .and_then(|e| e.service_name.as_deref());
        assert_eq!(remote, Some("kafka"), "{s:#?}");
    }
    assert_eq!(send.kind.as_deref(), Some("PRODUCER"));
    assert_eq!(poll.kind.as_deref(), Some("CONSUMER"));
}

/// A record whose `b3` header is garbage, produced and consumed through the real broker: the
/// consumer's span starts a new trace (it is a root), and the parse failure is counted.
#[test]
fn a_hostile_b3_record_header_starts_a_new_trace_and_is_counted() {
    if !kafka::kafka_up("a_hostile_b3_record_header_starts_a_new_trace_and_is_counted") {
        return;
    }
    use rskafka::client::partition::{Compression, OffsetAt, UnknownTopicHandling};
    use rskafka::record::Record;
    let rt = tokio::runtime::Runtime::new().unwrap();
    let hostile: Vec<u8> = b"\xff\x00not-b3-at-all-\xfe".to_vec();
    let headers = rt.block_on(async {
        let run = async {
            let client = rskafka::client::ClientBuilder::new(vec![kafka::bootstrap()])
                .build()
                .await
                .unwrap();
            let controller = client.controller_client().unwrap();
            let _ = controller
                .create_topic("zipkin-rs-hostile", 1, 1, 5_000)
                .await;
            let p = client
                .partition_client("zipkin-rs-hostile", 0, UnknownTopicHandling::Retry)
                .await
                .unwrap();
            let offset = p.get_offset(OffsetAt::Latest).await.unwrap();
            let mut headers = BTreeMap::new();
            headers.insert("b3".to_owned(), hostile.clone());
            let record = Record {
                key: None,
                value: Some(b"order".to_vec()),
                headers,
                timestamp: rskafka::chrono::DateTime::from_timestamp_millis(1_700_000_000_000)
                    .unwrap(),
            };
            p.produce(vec![record], Compression::NoCompression)
                .await
                .unwrap();
            let (records, _) = p.fetch_records(offset, 1..1_000_000, 1_000).await.unwrap();
            records.into_iter().next().unwrap().record.headers
        };
        tokio::time::timeout(Duration::from_secs(20), run)
            .await
            .expect("the round trip through the broker did not finish within 20 s")
    });
    assert_eq!(
        headers.get("b3"),
        Some(&hostile),
        "the broker kept the header as sent"
    );

    let mem = MemoryTransport::new();
    let t = Tracer::builder()
        .service_name("worker")
        .transport(mem.clone())
        .build()
        .unwrap();
    let before = propagation::metrics().malformed_b3_single;
    t.in_scope(|| {
        let poll = record_headers::consumer_span("zipkin-rs-hostile", &headers);
        let ctx = poll.context().unwrap();
        assert_eq!(
            ctx.parent_id, None,
            "a new trace: the consumer span is its root"
        );
        drop(SpanGuard::new("process"));
    });
    assert!(propagation::metrics().malformed_b3_single > before);
    t.flush(Duration::from_secs(10));
    let spans = mem.spans();
    assert_eq!(
        render_tree(&spans),
        "poll [CONSUMER] (worker)\n  process (worker)\n"
    );
}
