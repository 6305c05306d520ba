//! How spans live and end in awkward hands, over real HTTP to the fault collector: a user's
//! transport that panics (F14), guards dropped out of order (F15), and work spawned from a span
//! that tags it from other threads (F16). Every scenario checks `offered = sent + dropped +
//! queued` and that every body is valid Zipkin.

mod common;

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use common::*;
use zipkin_runtime::transport::http::HttpTransport;
use zipkin_runtime::transport::{Message, Transport};
use zipkin_runtime::*;
use zipkin_testkit::{Collector, Mode, Report};

/// The HTTP transport, except that every third message panics before it is sent.
struct PanicsEveryThird {
    http: HttpTransport,
    calls: AtomicU64,
}

impl Transport for PanicsEveryThird {
    fn send(&self, msg: &Message) -> Result<(), TransportError> {
        if self.calls.fetch_add(1, Ordering::Relaxed) % 3 == 2 {
            panic!("a bug in the user's transport");
        }
        self.http.send(msg)
    }
}

#[test]
fn a_transport_that_panics_loses_only_its_messages() {
    let mut r = Report::new("F14 a user transport that panics (every third message)");
    let c = Collector::start(Mode::Accept);
    let transport = PanicsEveryThird {
        http: HttpTransport::builder(c.url()).build().unwrap(),
        calls: AtomicU64::new(0),
    };
    let t = Tracer::builder()
        .service_name("reliability")
        .transport(transport)
        .build()
        .unwrap();
    let mut flushes = Vec::new();
    for _ in 0..9 {
        t.in_scope(|| {
            let _root = SpanGuard::new("request");
            for _ in 0..9 {
                drop(SpanGuard::new("work"));
            }
        });
        let f = t.flush(Duration::from_secs(10));
        flushes.push(f.timed_out);
    }
    let m = t.metrics();
    r.check(
        "flushes that timed out (the sender thread died before the fix)",
        flushes.iter().filter(|t| **t).count(),
        flushes.iter().all(|t| !t),
    );
    r.check(
        "messages sent / given up",
        format!("{} / {}", m.messages_sent, m.messages_dropped),
        m.messages_sent == 6 && m.messages_dropped == 3,
    );
    r.check(
        "spans dropped as transport errors",
        m.dropped_transport_error,
        m.dropped_transport_error == 30,
    );
    r.accounting(&m);
    r.check(
        "collector accepted = spans_sent",
        format!("{} = {}", c.accepted_spans(), m.spans_sent),
        c.accepted_spans() == m.spans_sent && m.spans_sent == 60,
    );
    check_requests(&mut r, &c);
    t.shutdown(Duration::from_secs(5));
    r.finish();
}

#[test]
fn guards_dropped_out_of_order_leave_correct_trees_and_nothing_current() {
    let mut r = Report::new("F15 guards dropped out of order (every order of three, 100 rounds)");
    let c = Collector::start(Mode::Accept);
    let t = tracer(&c, defaults());
    let orders = [
        [0, 1, 2],
        [0, 2, 1],
        [1, 0, 2],
        [1, 2, 0],
        [2, 0, 1],
        [2, 1, 0],
    ];
    let mut left_current = 0;
    let mut wrong_parent = 0;
    for round in 0..100 {
        t.in_scope(|| {
            let root = SpanGuard::new("request");
            let mut guards: Vec<Option<SpanGuard>> = ["a", "b", "c"]
                .into_iter()
                .map(|n| Some(SpanGuard::new(n)))
                .collect();
            for &i in &orders[round % 6] {
                drop(guards[i].take());
            }
            // Opened after the out-of-order drops: a child of the root, not of a closed span.
            let after = SpanGuard::new("after");
            if after.context().unwrap().parent_id != root.context().map(|c| c.span_id) {
                wrong_parent += 1;
            }
        });
        if current_context().is_some() {
            left_current += 1;
        }
    }
    let f = t.flush(Duration::from_secs(10));
    let m = t.metrics();
    r.check(
        "rounds that left a span current",
        left_current,
        left_current == 0,
    );
    r.check(
        "spans opened after the drops under a closed span",
        wrong_parent,
        wrong_parent == 0,
    );
    r.check("flush", format!("{f:?}"), !f.timed_out && f.queued == 0);
    let spans = c.spans();
    let parent_of = |name: &str| -> Vec<Option<String>> {
        let mut by_trace: std::collections::BTreeMap<
            &str,
            Vec<&zipkin_testkit::validate::SpanSummary>,
        > = Default::default();
        for s in &spans {
            by_trace.entry(s.trace_id.as_str()).or_default().push(s);
        }
        by_trace
            .values()
            .map(|trace| {
                let me = trace.iter().find(|s| s.name.as_deref() == Some(name))?;
                let parent = trace
                    .iter()
                    .find(|s| Some(&s.id) == me.parent_id.as_ref())?;
                parent.name.clone()
            })
            .collect()
    };
    let nested = ["b", "c"].iter().zip(["a", "b"]).all(|(child, parent)| {
        parent_of(child)
            .iter()
            .all(|p| p.as_deref() == Some(parent))
    });
    r.check(
        "reported trees: request > a > b > c, and after under request (100 traces)",
        format!("{} spans", spans.len()),
        spans.len() == 500
            && nested
            && parent_of("a")
                .iter()
                .all(|p| p.as_deref() == Some("request"))
            && parent_of("after")
                .iter()
                .all(|p| p.as_deref() == Some("request")),
    );
    r.accounting(&m);
    check_requests(&mut r, &c);
    t.shutdown(Duration::from_secs(5));
    r.finish();
}

#[test]
fn work_spawned_from_a_span_tags_it_from_other_threads_while_it_is_open() {
    let mut r = Report::new("F16 tags from spawned tasks and threads (50 requests)");
    let c = Collector::start(Mode::Accept);
    let t = tracer(&c, defaults());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    for _ in 0..50 {
        rt.block_on(t.in_scope(|| {
            zipkin_runtime::Span::builder("request")
                .start_detached()
                .instrument(async {
                    let task = spawn(async {
                        tag("task.before", 1);
                        tokio::task::yield_now().await;
                        tag("task.after", 2);
                    });
                    let blocking = spawn_blocking(|| tag("blocking", 3));
                    let thread = spawn_thread(|| tag("thread", 4));
                    task.await.unwrap();
                    blocking.await.unwrap();
                    thread.join().unwrap();
                })
        }));
    }
    // A task that outlives its span: its late tags are counted, not kept.
    let late = t.in_scope(|| {
        let _span = SpanGuard::new("short");
        spawn_thread(|| {
            std::thread::sleep(Duration::from_millis(50));
            tag("late", 1);
        })
    });
    late.join().unwrap();
    let f = t.flush(Duration::from_secs(10));
    let m = t.metrics();
    r.check("flush", format!("{f:?}"), !f.timed_out && f.queued == 0);
    let spans = c.spans();
    let complete = spans
        .iter()
        .filter(|s| s.name.as_deref() == Some("request"))
        .filter(|s| {
            ["task.before", "task.after", "blocking", "thread"]
                .iter()
                .all(|k| s.tags.contains_key(*k))
        })
        .count();
    r.check(
        "requests carrying all 4 tags from their task, blocking closure and thread",
        format!("{complete} / 50"),
        complete == 50,
    );
    r.check(
        "tags that arrived after their span finished: counted, not kept",
        m.tags_dropped_after_finish,
        m.tags_dropped_after_finish == 1 && spans.iter().all(|s| !s.tags.contains_key("late")),
    );
    r.accounting(&m);
    check_requests(&mut r, &c);
    t.shutdown(Duration::from_secs(5));
    r.finish();
}
