//! Hostile and sensitive input, checked at the fault collector: oversized tags are truncated
//! and counted, function arguments are never recorded unless named, and the report request is
//! never itself traced.

mod common;

use std::time::Duration;

use common::*;
use zipkin_rs::zipkin_span;
use zipkin_runtime::{Span, SpanGuard};
use zipkin_testkit::{Collector, Keep, Mode, Report};

#[test]
fn oversized_tags_are_truncated_at_a_char_boundary_and_counted() {
    let mut r = Report::new("X0 oversized tags (max_tag_bytes = 1024)");
    let c = Collector::builder(Mode::Accept).keep(Keep::Spans).start();
    let t = builder(&c.url(), defaults())
        .max_tag_bytes(1024)
        .build()
        .unwrap();
    let huge = "x".repeat(1 << 20);
    let accents = "é".repeat(1000); // 2000 bytes; byte 1024 is inside no char, 1023 is
    let emoji = format!("a{}", "💩".repeat(400)); // 1601 bytes; 1024 falls inside a char
    t.in_scope(|| {
        let mut s = SpanGuard::new("tags");
        s.tag("huge", &huge);
        s.tag("accents", &accents);
        s.tag("emoji", &emoji);
        s.tag("small", "kept");
        s.tag("exact", "y".repeat(1024));
    });
    t.flush(Duration::from_secs(20));
    let spans = c.spans();
    r.check("spans at the collector", spans.len(), spans.len() == 1);
    let tags = spans.first().map(|s| s.tags.clone()).unwrap_or_default();
    let len = |k: &str| tags.get(k).map_or(0, |v| v.len());
    r.check("1 MiB tag -> bytes kept", len("huge"), len("huge") == 1024);
    r.check(
        "2000-byte 'é' tag -> bytes kept (cut on a char boundary)",
        len("accents"),
        len("accents") == 1024
            && tags
                .get("accents")
                .is_some_and(|v| accents.starts_with(v.as_str())),
    );
    r.check(
        "1601-byte emoji tag -> bytes kept (cut on a char boundary)",
        len("emoji"),
        len("emoji") == 1021
            && tags
                .get("emoji")
                .is_some_and(|v| emoji.starts_with(v.as_str())),
    );
    r.check(
        "small and exactly-1024-byte tags untouched",
        format!("{} / {}", len("small"), len("exact")),
        tags.get("small").map(String::as_str) == Some("kept") && len("exact") == 1024,
    );
    r.check(
        "Tracer::tag_truncations",
        t.tag_truncations(),
        t.tag_truncations() == 3,
    );
    r.accounting(&t.metrics());
    check_requests(&mut r, &c);
    t.shutdown(Duration::from_secs(5));
    r.finish();
}

const PASSWORD: &str = "hunter2-correct-horse-s3cret";
const CARD: &str = "4111-1111-1111-1111";

#[zipkin_span(tags("user" = user))]
fn login(user: &str, password: &str) -> bool {
    password.len() > 3
}

#[zipkin_span]
fn charge(card_number: &str, cents: u64) -> u64 {
    card_number.len() as u64 + cents
}

#[zipkin_span(err)]
fn check_pin(pin: &str) -> Result<(), String> {
    // The error text is recorded (that is what `err` asks for); the argument is not.
    if pin.is_empty() {
        Err("empty pin".into())
    } else {
        Err("wrong pin".into())
    }
}

#[zipkin_span]
async fn async_login(password: String) -> usize {
    tokio::task::yield_now().await;
    password.len()
}

#[test]
fn function_arguments_are_never_recorded_unless_named() {
    let mut r = Report::new("X3 secrets: arguments not recorded unless named");
    let c = Collector::builder(Mode::Accept)
        .keep(Keep::Everything)
        .start();
    let t = tracer(&c, defaults());
    t.in_scope(|| {
        assert!(login("alice", PASSWORD));
        assert_eq!(charge(CARD, 100), 119);
        let _ = check_pin(PASSWORD);
    });
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let root = t.in_scope(|| Span::builder("async-root").start_detached());
    rt.block_on(root.instrument(async_login(PASSWORD.to_owned())));
    t.flush(Duration::from_secs(20));
    let bodies: Vec<String> = c
        .requests()
        .iter()
        .filter_map(|q| q.body.as_ref())
        .map(|b| String::from_utf8_lossy(b).into_owned())
        .collect();
    let all = bodies.concat();
    let spans = c.spans();
    r.check(
        "spans reported (login, charge, check_pin, async-root, async_login)",
        spans.len(),
        spans.len() == 5,
    );
    r.check(
        "the named argument is a tag",
        spans
            .iter()
            .find(|s| s.name.as_deref() == Some("login"))
            .and_then(|s| s.tags.get("user").cloned())
            .unwrap_or_default(),
        all.contains("\"user\":\"alice\""),
    );
    let leaks = [PASSWORD, CARD, "\"card_number\"", "\"password\"", "\"pin\""]
        .iter()
        .filter(|s| all.contains(*s))
        .copied()
        .collect::<Vec<_>>();
    r.check(
        "argument values or names in the reported JSON",
        format!("{leaks:?}"),
        leaks.is_empty(),
    );
    r.check(
        "the error text of `err` is recorded",
        all.contains("wrong pin"),
        all.contains("wrong pin"),
    );
    t.shutdown(Duration::from_secs(5));
    r.finish();
}

#[test]
fn the_report_request_is_never_traced() {
    let mut r = Report::new("X4 no self-tracing");
    let c = Collector::start(Mode::Accept);
    let t = tracer(&c, defaults());
    // Flush from inside an open span, many times: if the export were traced (on our thread or
    // the reporter's), spans would appear that the app never made, and requests would carry
    // trace headers.
    let mut made = 0u64;
    t.in_scope(|| {
        let _outer = SpanGuard::new("outer");
        for _ in 0..20 {
            drop(SpanGuard::new("inner"));
            made += 1;
            t.flush(Duration::from_secs(10));
        }
    });
    made += 1; // outer
    t.flush(Duration::from_secs(10));
    let m = t.metrics();
    r.check(
        "spans offered / made by the app",
        format!("{} / {made}", m.spans_offered),
        m.spans_offered == made,
    );
    r.check(
        "spans at the collector / made by the app",
        format!("{} / {made}", c.accepted_spans()),
        c.accepted_spans() == made,
    );
    r.figure("report requests", c.request_count());
    check_requests(&mut r, &c);
    // A tracer whose own thread default is this tracer: the reporter threads never pick it up.
    let reporter_threads_traced = c.spans().iter().any(|s| {
        s.name
            .as_deref()
            .is_some_and(|n| n != "outer" && n != "inner")
    });
    r.check(
        "spans not made by the app",
        reporter_threads_traced,
        !reporter_threads_traced,
    );
    r.accounting(&m);
    t.shutdown(Duration::from_secs(5));
    r.finish();
}

#[test]
fn hostile_span_names_and_tag_values_still_make_valid_zipkin() {
    let mut r = Report::new("I3 hostile span data -> valid Zipkin");
    for enc in [
        zipkin_runtime::Encoding::Json,
        zipkin_runtime::Encoding::Proto,
    ] {
        let c = Collector::builder(Mode::Accept).keep(Keep::Spans).start();
        let t = builder(&c.url(), defaults())
            .encoding(enc)
            .gzip(true)
            .build()
            .unwrap();
        let nasty = [
            "quote\" backslash\\ slash/",
            "control \u{0}\u{1}\u{7}\u{1b}[31m\r\n\t",
            "line sep \u{2028} para sep \u{2029}",
            "lone surrogate escape \\ud800",
            "emoji 💩 and RTL \u{202e}",
            "",
        ];
        t.in_scope(|| {
            for (i, v) in nasty.iter().enumerate() {
                let mut s = SpanGuard::new(v.to_string());
                s.tag(v.to_string(), v);
                s.tag(format!("k{i}"), v);
                s.annotate(v.to_string());
            }
        });
        t.flush(Duration::from_secs(20));
        let label = format!("{enc:?}+gzip");
        r.check(
            &format!("{label}: spans accepted by the Zipkin-rules collector"),
            c.accepted_spans(),
            c.accepted_spans() == nasty.len() as u64,
        );
        let round_trip = c.spans().iter().all(|s| {
            nasty
                .iter()
                .enumerate()
                .any(|(i, v)| s.tags.get(&format!("k{i}")).map(String::as_str) == Some(*v))
        });
        r.check(
            &format!("{label}: tag values round-trip byte for byte"),
            round_trip,
            round_trip,
        );
        check_requests_as(&mut r, &label, &c);
        r.accounting_as(&label, &t.metrics());
        t.shutdown(Duration::from_secs(5));
    }
    r.finish();
}

#[test]
fn spans_larger_than_a_message_are_dropped_and_counted_the_rest_delivered() {
    let mut r = Report::new("L3 large spans (batch_max_bytes = 64 KiB)");
    let c = Collector::start(Mode::Accept);
    let cfg = zipkin_runtime::ReporterConfig {
        batch_max_bytes: 64 * 1024,
        ..defaults()
    };
    let t = builder(&c.url(), cfg)
        .max_tag_bytes(1 << 20)
        .build()
        .unwrap();
    t.in_scope(|| {
        let _root = SpanGuard::new("root");
        for i in 0..100 {
            let mut s = SpanGuard::new("child");
            // Every tenth span carries 100 KiB: larger than any message may be.
            let n = if i % 10 == 0 { 100 * 1024 } else { 1024 };
            s.tag("blob", "z".repeat(n));
        }
    });
    let f = t.flush(Duration::from_secs(20));
    let m = t.metrics();
    let biggest = c.requests().iter().map(|q| q.body_len).max().unwrap_or(0);
    r.check(
        "dropped too_large",
        m.dropped_too_large,
        m.dropped_too_large == 10,
    );
    r.check(
        "sent (the 90 others and the root)",
        m.spans_sent,
        m.spans_sent == 91 && !f.timed_out,
    );
    r.check(
        "largest request body (<= 64 KiB)",
        biggest,
        biggest <= 64 * 1024,
    );
    r.accounting(&m);
    check_requests(&mut r, &c);
    t.shutdown(Duration::from_secs(5));
    r.finish();
}
