//! Children opened in place (`SpanGuard::from_meta` without a remote parent) change only the
//! current span's ids (and, when sampled, service and port) and put them back on close: the
//! tree, the inherited service/port and the context seen by siblings must be exactly as if the
//! whole current span had been swapped.

use std::time::Duration;

use zipkin_runtime::__private::{instrument, SpanMeta};
use zipkin_runtime::testing::render_tree;
use zipkin_runtime::transport::memory::MemoryTransport;
use zipkin_runtime::*;

mod support;
use support::tracer;

static ROOT: SpanMeta = SpanMeta::new("root");
static PLAIN: SpanMeta = SpanMeta::new("plain");
static OTHER: SpanMeta = SpanMeta {
    name: "other",
    service_name: Some("billing"),
    kind: Kind::Client,
    port: 9000,
    sample_rate: None,
};

#[test]
fn sampled_children_inherit_and_restore_service_port_and_ids() {
    let (t, mem) = tracer(100.0);
    t.in_scope(|| {
        let root = SpanGuard::from_meta(&ROOT, None);
        let root_ctx = current_context().unwrap();
        assert_eq!(root.context(), Some(root_ctx));
        {
            let other = SpanGuard::from_meta(&OTHER, None);
            let octx = other.context().unwrap();
            assert_eq!(current_context(), Some(octx));
            assert_eq!(octx.parent_id, Some(root_ctx.span_id));
            assert_eq!(octx.trace_id, root_ctx.trace_id);
            // A grandchild inherits the overridden service and port.
            let _g = SpanGuard::from_meta(&PLAIN, None);
        }
        assert_eq!(current_context(), Some(root_ctx), "ids restored");
        let _sibling = SpanGuard::from_meta(&PLAIN, None);
    });
    assert_eq!(current_context(), None);
    t.flush(Duration::from_secs(5));
    let spans = mem.spans();
    assert_eq!(
        render_tree(&spans),
        "root (svc)\n  other [CLIENT] (billing)\n    plain (billing)\n  plain (svc)\n"
    );
    let port = |name: &str, svc: &str| {
        spans
            .iter()
            .find(|s| s.name.as_deref() == Some(name) && s.service() == svc)
            .and_then(|s| s.local_endpoint.as_ref())
            .and_then(|e| e.port)
    };
    assert_eq!(port("other", "billing"), Some(9000));
    assert_eq!(port("plain", "billing"), Some(9000), "grandchild inherits");
    assert_eq!(port("plain", "svc"), None, "sibling after restore");
}

#[test]
fn unsampled_children_get_their_own_ids_and_restore_the_parent() {
    let (t, mem) = tracer(0.0);
    t.in_scope(|| {
        let _root = SpanGuard::from_meta(&ROOT, None);
        let root_ctx = current_context().unwrap();
        assert!(!root_ctx.is_sampled());
        {
            let child = SpanGuard::from_meta(&OTHER, None);
            let cctx = child.context().unwrap();
            assert_eq!(current_context(), Some(cctx));
            assert_eq!(cctx.parent_id, Some(root_ctx.span_id));
            assert_ne!(cctx.span_id, root_ctx.span_id);
            assert_eq!(cctx.sampling, Sampling::NotSampled);
        }
        assert_eq!(current_context(), Some(root_ctx));
    });
    assert_eq!(current_context(), None);
    t.flush(Duration::from_secs(5));
    assert!(mem.spans().is_empty());
    assert_eq!(t.metrics().spans_offered, 0);
}

/// An unsampled root at rate 0 draws its ids only when read; whoever reads first, every reader
/// (the guard, children, injection, a captured context) must see the same ids.
#[test]
fn unsampled_root_ids_are_drawn_once_whoever_reads_first() {
    for wide in [true, false] {
        let t = Tracer::builder()
            .service_name("svc")
            .sample_rate(0.0)
            .trace_id_128bit(wide)
            .transport(MemoryTransport::new())
            .build()
            .unwrap();
        t.in_scope(|| {
            // A child reads first.
            let root = SpanGuard::from_meta(&ROOT, None);
            let child = SpanGuard::from_meta(&PLAIN, None);
            let cctx = child.context().unwrap();
            let rctx = root.context().unwrap();
            assert_eq!(rctx.trace_id.is_128bit(), wide);
            assert_eq!(rctx.parent_id, None);
            assert_eq!(cctx.parent_id, Some(rctx.span_id));
            assert_eq!(cctx.trace_id, rctx.trace_id);
            assert_eq!(rctx.sampling, Sampling::NotSampled);
            drop(child);
            assert_eq!(
                current_context(),
                Some(rctx),
                "root restored after the child"
            );
            let headers = propagation::inject_headers();
            assert_eq!(headers["x-b3-sampled"], "0");
            assert_eq!(headers["x-b3-traceid"], rctx.trace_id.to_string().as_str());
            assert_eq!(
                headers["x-b3-parentspanid"],
                rctx.span_id.to_string().as_str()
            );
            drop(root);
            assert_eq!(current_context(), None);

            // Injection reads first; then the guard and a second injection agree with it.
            let root = SpanGuard::from_meta(&ROOT, None);
            let first = propagation::inject_headers();
            let rctx = root.context().unwrap();
            assert_eq!(first["x-b3-traceid"], rctx.trace_id.to_string().as_str());
            assert_eq!(
                first["x-b3-parentspanid"],
                rctx.span_id.to_string().as_str()
            );
            let second = propagation::inject_headers();
            assert_eq!(first["x-b3-traceid"], second["x-b3-traceid"]);
            assert_ne!(first["x-b3-spanid"], second["x-b3-spanid"]);

            // A span continuing a remote parent under the root, then closed: the root's ids
            // are kept (they were drawn before the remote span replaced the current one).
            let remote = RemoteContext {
                sampling: Sampling::NotSampled,
                ..Default::default()
            };
            drop(SpanGuard::from_meta(&ROOT, Some(remote)));
            assert_eq!(current_context(), Some(rctx));
        });
        assert_eq!(current_context(), None);
    }
}

/// Two unsampled roots in a row are two traces.
#[test]
fn each_unsampled_root_is_a_new_trace() {
    let (t, _mem) = tracer(0.0);
    t.in_scope(|| {
        let a = SpanGuard::from_meta(&ROOT, None).context().unwrap();
        let b = SpanGuard::from_meta(&ROOT, None).context().unwrap();
        assert_ne!(a.trace_id, b.trace_id);
        assert_ne!(a.span_id, b.span_id);
    });
}

/// Futures swap only ids, service and port into the current span when it is of their trace;
/// interleaved sibling futures, nesting, and a poll with another trace current must each see
/// exactly their own span, and leave the poller's span as it was.
#[test]
fn futures_polled_in_and_out_of_their_trace_see_their_own_span() {
    let (t, mem) = tracer(100.0);
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    t.in_scope(|| {
        rt.block_on(async {
            let _root = SpanGuard::from_meta(&ROOT, None);
            let root_ctx = current_context().unwrap();
            let child = |meta: &'static SpanMeta| {
                instrument(meta, None, async move {
                    let mine = current_context().unwrap();
                    for _ in 0..3 {
                        tokio::task::yield_now().await;
                        assert_eq!(current_context(), Some(mine), "after a yield");
                        let _g = SpanGuard::from_meta(&PLAIN, None);
                    }
                    mine
                })
            };
            let (a, b) = tokio::join!(child(&OTHER), child(&PLAIN));
            assert_ne!(a.span_id, b.span_id);
            assert_eq!(a.parent_id, Some(root_ctx.span_id));
            assert_eq!(b.parent_id, Some(root_ctx.span_id));
            assert_eq!(current_context(), Some(root_ctx), "poller's span restored");

            // Made under this root, polled while another trace is current.
            let mut fut = Box::pin(child(&PLAIN));
            let other_trace = SpanGuard::builder("elsewhere")
                .parent(RemoteContext {
                    sampling: Sampling::Sampled,
                    ..Default::default()
                })
                .start();
            let elsewhere = current_context().unwrap();
            assert_ne!(elsewhere.trace_id, root_ctx.trace_id);
            assert!(poll_once(fut.as_mut()).is_pending());
            assert_eq!(current_context(), Some(elsewhere), "other trace restored");
            drop(other_trace);
            let c = fut.await;
            assert_eq!(c.trace_id, root_ctx.trace_id);
        })
    });
    t.flush(Duration::from_secs(5));
    let tree = render_tree(&mem.spans());
    assert_eq!(tree.matches("plain (billing)").count(), 3, "{tree}");
    assert_eq!(tree.matches("plain (svc)").count(), 8, "{tree}");
    assert_eq!(
        tree.matches("other [CLIENT] (billing)").count(),
        1,
        "{tree}"
    );
    assert_eq!(tree.matches("elsewhere").count(), 1, "{tree}");
}

/// Polls `fut` once with a waker that does nothing.
fn poll_once<F: std::future::Future>(fut: std::pin::Pin<&mut F>) -> std::task::Poll<F::Output> {
    fut.poll(&mut std::task::Context::from_waker(&futures_waker()))
}

fn futures_waker() -> std::task::Waker {
    struct Noop;
    impl std::task::Wake for Noop {
        fn wake(self: std::sync::Arc<Self>) {}
    }
    std::task::Waker::from(std::sync::Arc::new(Noop))
}

/// What one open span of the model below is known to be, once some reader saw it.
struct Frame {
    uid: usize,
    trace: usize,
    parent: Option<usize>,
    id: Option<SpanId>,
}

/// Learns `id` as frame `k`'s, or checks it against what was learnt before.
fn learn(frames: &mut [Frame], seen: &mut Vec<(SpanId, usize)>, k: usize, id: SpanId) {
    match frames[k].id {
        Some(known) => assert_eq!(known, id, "span {} read twice, two ids", frames[k].uid),
        None => {
            frames[k].id = Some(id);
            if let Some(&(_, other)) = seen.iter().find(|(s, _)| *s == id) {
                assert_eq!(other, frames[k].uid, "two spans share the id {id}");
            }
            seen.push((id, frames[k].uid));
        }
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(if cfg!(miri) { 4 } else { 300 }))]

    /// Unsampled children are only counted when they open and get their ids from the first
    /// reader. Whatever the order of opening, reading (context, injection, a future capturing
    /// the context) and closing, the ids read must be those of one tree: a span read twice has
    /// one id, a child's parent id is the id its parent is read with (before or after), and no
    /// two spans share an id.
    #[test]
    fn unsampled_ids_read_in_any_order_form_one_tree(ops in proptest::collection::vec(0u8..7, 1..60)) {
        let (t, _mem) = tracer(0.0);
        t.in_scope(|| {
            let mut guards = vec![SpanGuard::from_meta(&ROOT, None)];
            let mut frames = vec![Frame { uid: 0, trace: 0, parent: None, id: None }];
            let mut traces: Vec<Option<TraceId>> = vec![None];
            let mut seen = Vec::new();
            let mut uid = 0;
            for op in ops {
                let top = frames.len() - 1;
                let trace = frames[top].trace;
                let open = |frames: &mut Vec<Frame>, uid: &mut usize, trace, parent| {
                    *uid += 1;
                    frames.push(Frame { uid: *uid, trace, parent, id: None });
                };
                match op {
                    0 => {
                        guards.push(SpanGuard::from_meta(&PLAIN, None));
                        open(&mut frames, &mut uid, trace, Some(top));
                    }
                    1 if frames.len() > 1 => {
                        guards.pop();
                        frames.pop();
                    }
                    3 => {
                        guards.push(SpanGuard::new("built"));
                        open(&mut frames, &mut uid, trace, Some(top));
                    }
                    4 => {
                        // A new trace, continuing only a caller's "not sampled".
                        let remote = RemoteContext { sampling: Sampling::NotSampled, ..Default::default() };
                        guards.push(SpanGuard::from_meta(&ROOT, Some(remote)));
                        traces.push(None);
                        open(&mut frames, &mut uid, traces.len() - 1, None);
                    }
                    5 => {
                        let h = propagation::inject_headers();
                        assert_eq!(h["x-b3-sampled"], "0");
                        let parent: SpanId = h["x-b3-parentspanid"].to_str().unwrap().parse().unwrap();
                        learn(&mut frames, &mut seen, top, parent);
                    }
                    6 => {
                        let mut fut = Box::pin(instrument(&PLAIN, None, async { current_context().unwrap() }));
                        let std::task::Poll::Ready(c) = poll_once(fut.as_mut()) else {
                            panic!("ready at once")
                        };
                        assert_eq!(*traces[trace].get_or_insert(c.trace_id), c.trace_id);
                        learn(&mut frames, &mut seen, top, c.parent_id.unwrap());
                    }
                    _ => {
                        let c = current_context().unwrap();
                        assert_eq!(c.sampling, Sampling::NotSampled);
                        assert_eq!(*traces[trace].get_or_insert(c.trace_id), c.trace_id);
                        learn(&mut frames, &mut seen, top, c.span_id);
                        match frames[top].parent {
                            Some(p) => learn(&mut frames, &mut seen, p, c.parent_id.unwrap()),
                            None => assert_eq!(c.parent_id, None),
                        }
                    }
                }
            }
            while let Some(g) = guards.pop() {
                drop(g);
            }
            assert_eq!(current_context(), None);
        });
    }
}

/// A future made under an unsampled span and polled after unsampled children were counted
/// above that span: while polled it sees exactly its own span, and the children, read after,
/// are where they were opened.
#[test]
fn futures_polled_over_counted_unsampled_children_see_their_own_span() {
    let (t, _mem) = tracer(0.0);
    t.in_scope(|| {
        let _root = SpanGuard::from_meta(&ROOT, None);
        let root = current_context().unwrap();
        let mut fut = Box::pin(instrument(&PLAIN, None, async {
            let own = current_context().unwrap();
            let _g = SpanGuard::from_meta(&PLAIN, None);
            (own, current_context().unwrap())
        }));
        let a = SpanGuard::from_meta(&PLAIN, None);
        let b = SpanGuard::from_meta(&PLAIN, None);
        let std::task::Poll::Ready((own, inner)) = poll_once(fut.as_mut()) else {
            panic!("ready at once")
        };
        assert_eq!(own.parent_id, Some(root.span_id), "the future's parent");
        assert_eq!(
            inner.parent_id,
            Some(own.span_id),
            "a child inside the future"
        );
        let b_ctx = current_context().unwrap();
        drop(b);
        let a_ctx = current_context().unwrap();
        drop(a);
        assert_eq!(b_ctx.parent_id, Some(a_ctx.span_id));
        assert_eq!(a_ctx.parent_id, Some(root.span_id));
        assert_ne!(a_ctx.span_id, own.span_id);
        assert_eq!(current_context(), Some(root));
    });
}

/// Pending once, then ready.
struct YieldOnce(bool);

impl std::future::Future for YieldOnce {
    type Output = ();
    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<()> {
        if std::mem::replace(&mut self.0, true) {
            std::task::Poll::Ready(())
        } else {
            cx.waker().wake_by_ref();
            std::task::Poll::Pending
        }
    }
}

/// A thread-bound guard held across an `.await` is a misuse (the guard belongs to one poll),
/// but it must not corrupt the poller's spans: after each poll, and after they close, the
/// poller sees exactly the spans it opened, whether or not the held guard's ids were read.
#[test]
fn a_guard_held_across_an_await_leaves_the_pollers_spans_intact() {
    for read_inside in [false, true] {
        let (t, _mem) = tracer(0.0);
        t.in_scope(|| {
            let root_guard = SpanGuard::from_meta(&ROOT, None);
            let root = current_context().unwrap();
            let a_guard = SpanGuard::from_meta(&PLAIN, None);
            let a = current_context().unwrap();
            let mut fut = Box::pin(instrument(&PLAIN, None, async move {
                let g = SpanGuard::from_meta(&PLAIN, None);
                if read_inside {
                    let _ = current_context();
                }
                YieldOnce(false).await;
                drop(g);
                current_context().unwrap()
            }));
            assert!(poll_once(fut.as_mut()).is_pending());
            assert_eq!(
                current_context(),
                Some(a),
                "after the first poll ({read_inside})"
            );
            let std::task::Poll::Ready(inner) = poll_once(fut.as_mut()) else {
                panic!("ready on the second poll")
            };
            assert_eq!(inner.parent_id, Some(a.span_id), "the future's own span");
            assert_eq!(
                current_context(),
                Some(a),
                "after the second poll ({read_inside})"
            );
            drop(a_guard);
            assert_eq!(
                current_context(),
                Some(root),
                "after a closes ({read_inside})"
            );
            drop(root_guard);
        });
        assert_eq!(current_context(), None);
    }
}

static CLIENT: SpanMeta = SpanMeta {
    name: "client",
    service_name: None,
    kind: Kind::Client,
    port: 0,
    sample_rate: None,
};

/// What `inject_headers()` sends, as (span id, parent id).
fn injected() -> (String, Option<String>) {
    let h = propagation::inject_headers();
    let get = |k: &str| h.get(k).map(|v| v.to_str().unwrap().to_owned());
    (get("x-b3-spanid").unwrap(), get("x-b3-parentspanid"))
}

/// A client span's injection sends its own ids, however it was opened (in place, with the
/// builder, as a future); its parent's injection, before and after, sends a new child id.
#[test]
fn a_client_span_injects_its_own_ids_and_its_parent_a_new_child() {
    let (t, _mem) = tracer(100.0);
    let _default = t.set_default();
    let root = SpanGuard::from_meta(&ROOT, None);
    let root_ctx = root.context().unwrap();
    let check_parent = || {
        let (id, parent) = injected();
        assert_ne!(id, root_ctx.span_id.to_string());
        assert_eq!(parent, Some(root_ctx.span_id.to_string()));
    };
    check_parent();
    let own = |ctx: SpanContext| {
        (
            ctx.span_id.to_string(),
            ctx.parent_id.map(|p| p.to_string()),
        )
    };
    {
        let client = SpanGuard::from_meta(&CLIENT, None);
        assert_eq!(injected(), own(client.context().unwrap()), "in place");
        // A local child of the client span sends a child of its own.
        let inner = SpanGuard::from_meta(&PLAIN, None);
        assert_eq!(
            injected().1,
            Some(inner.context().unwrap().span_id.to_string())
        );
    }
    check_parent();
    {
        let client = SpanGuard::builder("client").kind(Kind::Client).start();
        assert_eq!(injected(), own(client.context().unwrap()), "builder");
    }
    check_parent();
    {
        // A producer span sends its own ids too (the consumer side continues it as a child).
        let producer = SpanGuard::builder("send").kind(Kind::Producer).start();
        assert_eq!(injected(), own(producer.context().unwrap()), "producer");
    }
    check_parent();
    {
        // A server span is not outgoing: what it sends is a new child.
        let server = SpanGuard::builder("serve").kind(Kind::Server).start();
        let server_id = server.context().unwrap().span_id.to_string();
        let (id, parent) = injected();
        assert_ne!(id, server_id);
        assert_eq!(parent, Some(server_id), "server");
    }
    check_parent();
    let span = Span::from_meta(&CLIENT, None);
    let ctx = span.context().unwrap();
    let seen = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(span.instrument(async { injected() }));
    assert_eq!(seen, own(ctx), "future");
    check_parent();
}
