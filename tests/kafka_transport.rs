//! The Kafka transport against the real broker: what the reporter sends is on the topic, one
//! list of spans per record, and counted as sent. See tests/kafka/mod.rs for the services.

mod kafka;

use std::time::Duration;

use zipkin_rs::{Encoding, SpanGuard, Tracer};

fn tracer(encoding: Encoding) -> Tracer {
    Tracer::builder()
        .service_name("kafka-transport-test")
        .endpoint(&format!("kafka://{}/zipkin", kafka::bootstrap()))
        .unwrap()
        .encoding(encoding)
        .build()
        .unwrap()
}

#[test]
fn spans_reach_the_topic_as_json_lists_and_are_counted_as_sent() {
    if !kafka::kafka_up("spans_reach_the_topic_as_json_lists_and_are_counted_as_sent") {
        return;
    }
    let t = tracer(Encoding::Json);
    let mut trace = String::new();
    t.in_scope(|| {
        let root = SpanGuard::new("root");
        trace = root
            .context()
            .map(|c| c.trace_id.to_string())
            .unwrap_or_default();
        for i in 0..99 {
            let _child = SpanGuard::new(format!("child-{i}"));
        }
    });
    let f = t.flush(Duration::from_secs(20));
    assert!(!f.timed_out, "{f:?}");
    let m = t.metrics();
    assert_eq!(
        (m.spans_offered, m.spans_sent, m.spans_dropped),
        (100, 100, 0),
        "{m:?}"
    );
    let lists = kafka::topic_spans_of(&trace);
    let spans: Vec<_> = lists
        .iter()
        .flatten()
        .filter(|s| s.trace_id == trace)
        .collect();
    assert_eq!(spans.len(), 100, "{} lists", lists.len());
    assert_eq!(lists.len() as u64, m.messages_sent);
}
