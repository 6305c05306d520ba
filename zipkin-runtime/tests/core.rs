//! The runtime core through its public API, with the in-memory transport.

use std::time::Duration;

use zipkin_runtime::testing::render_tree;
use zipkin_runtime::*;

mod support;
use support::{collect, tracer};

#[test]
fn nested_guards_form_a_tree() {
    let (t, mem) = tracer(100.0);
    t.in_scope(|| {
        let _a = SpanGuard::new("a");
        {
            let _b = SpanGuard::new("b");
            let _c = SpanGuard::builder("c").kind(Kind::Client).start();
        }
        let _d = SpanGuard::new("d");
    });
    let spans = collect(t, &mem);
    assert_eq!(
        render_tree(&spans),
        "a (svc)\n  b (svc)\n    c [CLIENT] (svc)\n  d (svc)\n"
    );
    let root = spans
        .iter()
        .find(|s| s.name.as_deref() == Some("a"))
        .unwrap();
    assert_eq!(root.trace_id.len(), 32);
    assert!(root.parent_id.is_none());
    assert!(spans.iter().all(|s| s.trace_id == root.trace_id));
    assert!(spans.iter().all(|s| s.duration.unwrap() >= 1));
    let m = t.metrics();
    assert_eq!(m.spans_offered, 4);
    assert_eq!(m.spans_sent, 4);
    assert_eq!(
        m.spans_offered,
        m.spans_sent + m.spans_dropped + m.spans_queued
    );
}

#[test]
fn unsampled_traces_propagate_but_report_nothing() {
    let (t, mem) = tracer(0.0);
    t.in_scope(|| {
        let a = SpanGuard::new("a");
        let actx = a.context().unwrap();
        assert_eq!(actx.sampling, Sampling::NotSampled);
        let b = SpanGuard::new("b");
        let bctx = b.context().unwrap();
        assert_eq!(bctx.trace_id, actx.trace_id);
        assert_eq!(bctx.parent_id, Some(actx.span_id));
        tag("k", "v");
    });
    assert!(collect(t, &mem).is_empty());
    assert_eq!(t.metrics().spans_offered, 0);
}

#[test]
fn tags_annotations_and_error_reach_the_span() {
    let (t, mem) = tracer(100.0);
    t.in_scope(|| {
        let mut g = SpanGuard::new("work");
        g.tag("direct", 1);
        tag("free", "x");
        annotate("event");
        let _ = "x".parse::<u8>().map_err(|e| record_error(&e));
    });
    let spans = collect(t, &mem);
    let s = &spans[0];
    assert_eq!(s.tags.get("direct").map(String::as_str), Some("1"));
    assert_eq!(s.tags.get("free").map(String::as_str), Some("x"));
    assert_eq!(
        s.tags.get("error").map(String::as_str),
        Some("invalid digit found in string")
    );
    assert_eq!(s.annotations.len(), 1);
    assert_eq!(s.annotations[0].value, "event");
}

/// Guards and detached spans share one set of recording methods: the same calls give the same
/// span, and nothing is kept when the trace is not sampled.
#[test]
fn guard_and_detached_span_record_alike() {
    let endpoint = || Endpoint {
        service_name: Some("db".into()),
        port: 5432,
        ..Default::default()
    };
    let (t, mem) = tracer(100.0);
    t.in_scope(|| {
        let mut g = SpanGuard::new("before");
        g.set_name("guard")
            .tag("k", 7)
            .annotate("a")
            .set_remote_endpoint(endpoint());
        let mut d = Span::builder("before").start_detached();
        d.set_name("detached")
            .tag("k", 7)
            .annotate("a")
            .set_remote_endpoint(endpoint());
        d.error(&"boom");
    });
    let spans = collect(t, &mem);
    assert_eq!(spans.len(), 2);
    for name in ["guard", "detached"] {
        let s = spans
            .iter()
            .find(|s| s.name.as_deref() == Some(name))
            .unwrap_or_else(|| panic!("no span named {name} in {spans:?}"));
        assert_eq!(s.tags.get("k").map(String::as_str), Some("7"));
        assert_eq!(s.annotations.len(), 1);
        let remote = s.remote_endpoint.as_ref().expect("remote endpoint");
        assert_eq!(remote.service_name.as_deref(), Some("db"));
        assert_eq!(remote.port, Some(5432));
    }

    let (t, mem) = tracer(0.0);
    t.in_scope(|| {
        let mut g = SpanGuard::new("g");
        g.set_name("renamed")
            .tag("k", 1)
            .set_remote_endpoint(endpoint());
        assert!(!g.is_recording());
    });
    assert!(collect(t, &mem).is_empty());
}

/// Static, inline and owned tag values replace earlier values of the same key and are cut to
/// `max_tag_bytes` alike, each cut counted.
#[test]
fn static_and_owned_tag_values_are_kept_and_limited_alike() {
    let (t, mem) = support::tracer_with(|b| b.sample_rate(100.0).max_tag_bytes(4));
    t.in_scope(|| {
        let mut d = Span::builder("tags").start_detached();
        d.tag_value("a", "GET".into())
            .tag_value("b", "static-long".into())
            .tag_value("c", "owned-long".to_owned().into())
            .tag_value("d", __unstable::TagValue::copied("inline-long"))
            .tag("e", 2)
            .tag_value("a", "PUT".into());
    });
    let spans = collect(t, &mem);
    assert_eq!(spans.len(), 1);
    let tags = &spans[0].tags;
    let get = |k: &str| tags.get(k).map(String::as_str);
    assert_eq!(get("a"), Some("PUT"));
    assert_eq!(get("b"), Some("stat"));
    assert_eq!(get("c"), Some("owne"));
    assert_eq!((get("d"), get("e")), (Some("inli"), Some("2")));
    assert_eq!(tags.len(), 5);
    assert_eq!(t.tag_truncations(), 3);
}

#[test]
fn panic_tags_error_and_still_reports() {
    let (t, mem) = tracer(100.0);
    let r = std::panic::catch_unwind(|| {
        t.in_scope(|| {
            let _g = SpanGuard::new("boom");
            panic!("x");
        })
    });
    assert!(r.is_err());
    let spans = collect(t, &mem);
    assert_eq!(
        spans[0].tags.get("error").map(String::as_str),
        Some("panic")
    );
    assert!(
        current_context().is_none(),
        "context restored after unwinding"
    );
}

#[test]
fn server_span_joins_remote_span_id() {
    let (t, mem) = tracer(100.0);
    let remote = RemoteContext {
        ids: Some(RemoteIds {
            trace_id: "48485a3953bb6124".parse().unwrap(),
            span_id: "a2fb4a1d1a96d312".parse().unwrap(),
            parent_id: Some("0020000000000001".parse().unwrap()),
        }),
        sampling: Sampling::Deferred,
        debug: true,
    };
    t.in_scope(|| {
        let _s = SpanGuard::builder("index")
            .kind(Kind::Server)
            .parent(remote)
            .start();
        let _c = SpanGuard::new("child");
    });
    let spans = collect(t, &mem);
    let s = spans
        .iter()
        .find(|s| s.name.as_deref() == Some("index"))
        .unwrap();
    assert_eq!(s.trace_id, "48485a3953bb6124");
    assert_eq!(s.id, "a2fb4a1d1a96d312");
    assert_eq!(s.parent_id.as_deref(), Some("0020000000000001"));
    assert_eq!(s.shared, Some(true));
    assert_eq!(s.debug, Some(true));
    let c = spans
        .iter()
        .find(|s| s.name.as_deref() == Some("child"))
        .unwrap();
    assert_eq!(c.parent_id.as_deref(), Some("a2fb4a1d1a96d312"));
    assert_eq!(c.debug, Some(true));
}

#[test]
fn futures_carry_their_span_across_threads() {
    let (t, mem) = tracer(100.0);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    t.in_scope(|| {
        rt.block_on(async {
            let root = Span::builder("root").start_detached();
            root.instrument(async move {
                // Spawned onto another worker: the task inherits root as its parent.
                let h = zipkin_runtime::spawn(async move {
                    let a = Span::builder("a").start_detached().instrument(async {
                        tokio::task::yield_now().await;
                        let _g = SpanGuard::new("sync-in-a");
                    });
                    let b = Span::builder("b").start_detached().instrument(async {
                        tokio::time::sleep(Duration::from_millis(5)).await;
                    });
                    // Concurrent siblings on one task: each sees its own parent on every poll.
                    tokio::join!(a, b);
                });
                h.await.unwrap();
            })
            .await;
        })
    });
    let spans = collect(t, &mem);
    assert_eq!(
        render_tree(&spans),
        "root (svc)\n  a (svc)\n    sync-in-a (svc)\n  b (svc)\n"
    );
}

#[test]
fn dropped_future_is_cancelled() {
    let (t, mem) = tracer(100.0);
    t.in_scope(|| {
        let fut = Span::builder("never")
            .start_detached()
            .instrument(std::future::pending::<()>());
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let _ = tokio::time::timeout(Duration::from_millis(5), fut).await;
        });
    });
    let spans = collect(t, &mem);
    assert_eq!(
        spans[0].tags.get("cancelled").map(String::as_str),
        Some("true")
    );
}

#[test]
fn shutdown_twice_and_report_after_shutdown_is_safe() {
    let (t, mem) = tracer(100.0);
    t.in_scope(|| drop(SpanGuard::new("before")));
    let r = t.shutdown(Duration::from_secs(5));
    assert_eq!((r.sent, r.dropped, r.timed_out), (1, 0, false));
    t.shutdown(Duration::from_secs(1));
    t.in_scope(|| drop(SpanGuard::new("after")));
    assert_eq!(mem.spans().len(), 1);
    let m = t.metrics();
    assert_eq!(m.dropped_shutdown, 1);
    assert_eq!(
        m.spans_offered,
        m.spans_sent + m.spans_dropped + m.spans_queued
    );
}

#[test]
fn panicking_future_was_tagged_cancelled_not_error() {
    let (t, mem) = tracer(100.0);
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    t.in_scope(|| {
        rt.block_on(async {
            let fut = Span::builder("boom").start_detached().instrument(async {
                tag("before", "yes");
                panic!("inside the future");
            });
            // tokio catches the panic in poll and drops the future afterwards, not while
            // unwinding: the span must still learn that the body panicked.
            let err = tokio::spawn(fut).await.unwrap_err();
            assert!(err.is_panic());
        });
        assert!(
            current_context().is_none(),
            "context restored after the panic"
        );
    });
    let spans = collect(t, &mem);
    let s = &spans[0];
    assert_eq!(s.tags.get("error").map(String::as_str), Some("panic"));
    assert_eq!(
        s.tags.get("cancelled"),
        None,
        "a panic is not a cancellation"
    );
    assert_eq!(
        s.tags.get("before").map(String::as_str),
        Some("yes"),
        "tags added before the panic are kept"
    );
}

#[test]
fn empty_remote_parent_nests_under_the_current_span() {
    let (t, mem) = tracer(100.0);
    t.in_scope(|| {
        let _a = SpanGuard::new("a");
        let _b = SpanGuard::builder("b")
            .kind(Kind::Server)
            .parent(RemoteContext::default())
            .start();
    });
    let spans = collect(t, &mem);
    assert_eq!(render_tree(&spans), "a (svc)\n  b [SERVER] (svc)\n");
}
