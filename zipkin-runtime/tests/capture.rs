//! Work spawned from a span runs in it: tags and annotations added there reach the span while it
//! is open, from any thread, and are dropped and counted once it has finished; spans opened there
//! keep the parent's service name and port.
//!
//! Regression: `tag()` in a task from `spawn` (or a thread from `spawn_thread`) reached the
//! parent only when the task ran before the parent closed (0 of 20 tags called after the task's
//! first `.await` arrived), and the entries stayed in a thread-local list for good.

use std::time::Duration;

use zipkin_runtime::__private::{instrument, SpanMeta};
use zipkin_runtime::*;

mod support;
use support::{collect, tracer};

static REQUEST: SpanMeta = SpanMeta {
    name: "request",
    service_name: Some("webapp"),
    kind: Kind::Server,
    port: 5000,
    sample_rate: None,
};
static CHILD: SpanMeta = SpanMeta::new("child");

fn tags_of<'a>(spans: &'a [model::Span], name: &str) -> &'a model::Span {
    spans
        .iter()
        .find(|s| s.name.as_deref() == Some(name))
        .unwrap_or_else(|| panic!("no span {name} in {spans:?}"))
}

#[test]
fn tags_from_a_spawned_task_reach_the_open_parent_before_and_after_an_await() {
    let (t, mem) = tracer(100.0);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(
        async {
            let task = spawn(async {
                for i in 0..20 {
                    tag(format!("before.{i}"), i);
                }
                annotate("task started");
                tokio::time::sleep(Duration::from_millis(5)).await;
                tokio::task::yield_now().await;
                for i in 0..20 {
                    tag(format!("after.{i}"), i);
                }
                annotate("task done");
            });
            // The parent stays open until the task is done.
            task.await.unwrap();
        }
        .in_new_span_with(&t),
    );
    let spans = collect(t, &mem);
    let request = tags_of(&spans, "request");
    for i in 0..20 {
        assert_eq!(
            request.tags.get(&format!("before.{i}")),
            Some(&i.to_string())
        );
        assert_eq!(
            request.tags.get(&format!("after.{i}")),
            Some(&i.to_string())
        );
    }
    let notes: Vec<&str> = request
        .annotations
        .iter()
        .map(|a| a.value.as_str())
        .collect();
    assert_eq!(notes, ["task started", "task done"]);
    assert_eq!(t.metrics().tags_dropped_after_finish, 0);
}

/// Opens `REQUEST` (as the attribute would) around a future, with `t` as the default tracer.
trait InSpan: std::future::Future + Sized {
    fn in_new_span_with(self, t: &Tracer) -> Instrumented<Self> {
        let _default = t.set_default();
        instrument(&REQUEST, None, self)
    }
}
impl<F: std::future::Future> InSpan for F {}

#[test]
fn tags_after_the_parent_finished_are_dropped_and_counted_not_kept() {
    let (t, mem) = tracer(100.0);
    let (early_tx, early_rx) = std::sync::mpsc::channel::<()>();
    let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
    let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
    let worker = t.in_scope(|| {
        let _request = SpanGuard::from_meta(&REQUEST, None);
        let worker = spawn_thread(move || {
            tag("early", 1);
            early_tx.send(()).unwrap();
            go_rx.recv().unwrap();
            // The parent has finished by now.
            for i in 0..5 {
                tag("late", i);
            }
            annotate("late");
            done_tx.send(()).unwrap();
        });
        // The parent finishes only after the thread's first tag.
        early_rx.recv().unwrap();
        worker
    });
    go_tx.send(()).unwrap();
    done_rx.recv().unwrap();
    worker.join().unwrap();
    let spans = collect(t, &mem);
    let request = tags_of(&spans, "request");
    assert_eq!(request.tags.get("early").map(String::as_str), Some("1"));
    assert!(!request.tags.contains_key("late"));
    assert_eq!(t.metrics().tags_dropped_after_finish, 6);
}

#[test]
fn spawn_thread_and_spawn_blocking_children_keep_the_parents_service_and_port() {
    let (t, mem) = tracer(100.0);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    t.in_scope(|| {
        let _request = SpanGuard::from_meta(&REQUEST, None);
        spawn_thread(|| drop(SpanGuard::from_meta(&CHILD, None)))
            .join()
            .unwrap();
        let blocking = rt.block_on(async {
            spawn_blocking(|| {
                tag("blocking", "yes");
                let _child = SpanGuard::builder("blocking child").start();
            })
            .await
        });
        blocking.unwrap();
    });
    let spans = collect(t, &mem);
    assert_eq!(
        testing::render_tree(&spans),
        "request [SERVER] (webapp)\n  child (webapp)\n  blocking child (webapp)\n"
    );
    for s in &spans {
        let port = s.local_endpoint.as_ref().and_then(|e| e.port);
        assert_eq!(port, Some(5000), "{s:?}");
    }
    let request = tags_of(&spans, "request");
    assert_eq!(
        request.tags.get("blocking").map(String::as_str),
        Some("yes")
    );
}

#[test]
fn a_captured_context_runs_on_another_executor() {
    let (t, mem) = tracer(100.0);
    let (fut, parent) = t.in_scope(|| {
        let request = SpanGuard::from_meta(&REQUEST, None);
        let fut = CapturedContext::current().wrap(async {
            tag("executor", "other");
            drop(SpanGuard::from_meta(&CHILD, None));
            current_context()
        });
        (fut, request)
    });
    // A different executor, on another thread, while the parent is still open.
    let seen = std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(fut)
    })
    .join()
    .unwrap();
    assert_eq!(seen, parent.context());
    drop(parent);
    let spans = collect(t, &mem);
    assert_eq!(
        testing::render_tree(&spans),
        "request [SERVER] (webapp)\n  child (webapp)\n"
    );
    let request = tags_of(&spans, "request");
    assert_eq!(
        request.tags.get("executor").map(String::as_str),
        Some("other")
    );
}

#[test]
fn a_capture_of_a_capture_reaches_the_same_span() {
    let (t, mem) = tracer(100.0);
    t.in_scope(|| {
        let _request = SpanGuard::from_meta(&REQUEST, None);
        spawn_thread(|| {
            tag("outer", 1);
            spawn_thread(|| tag("inner", 2)).join().unwrap();
        })
        .join()
        .unwrap();
    });
    let spans = collect(t, &mem);
    let request = tags_of(&spans, "request");
    assert_eq!(request.tags.get("outer").map(String::as_str), Some("1"));
    assert_eq!(request.tags.get("inner").map(String::as_str), Some("2"));
    assert_eq!(t.metrics().tags_dropped_after_finish, 0);
}

#[test]
fn outside_a_span_a_captured_context_carries_nothing() {
    let captured = CapturedContext::current();
    assert_eq!(captured.context(), None);
    assert_eq!(
        std::thread::spawn(move || captured.run(current_context))
            .join()
            .unwrap(),
        None
    );
}
