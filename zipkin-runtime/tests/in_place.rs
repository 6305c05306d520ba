//! Children opened in place (`SpanGuard::from_meta` without a remote parent) change only the
//! current span's ids (and, when sampled, service and port) and put them back on close: the
//! tree, the inherited service/port and the context seen by siblings must be exactly as if the
//! whole current span had been swapped.

use std::time::Duration;

use zipkin_runtime::testing::render_tree;
use zipkin_runtime::transport::memory::MemoryTransport;
use zipkin_runtime::*;

static ROOT: SpanMeta = SpanMeta::new("root");
static PLAIN: SpanMeta = SpanMeta::new("plain");
static OTHER: SpanMeta = SpanMeta {
    name: "other",
    service_name: Some("billing"),
    kind: Kind::Client,
    port: 9000,
    sample_rate: None,
};

fn tracer(rate: f64) -> (Tracer, MemoryTransport) {
    let mem = MemoryTransport::new();
    let t = Tracer::builder()
        .service_name("svc")
        .sample_rate(rate)
        .transport(mem.clone())
        .build()
        .unwrap();
    (t, mem)
}

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
    use std::future::Future;
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
            let waker = futures_waker();
            let mut cx = std::task::Context::from_waker(&waker);
            assert!(fut.as_mut().poll(&mut cx).is_pending());
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

fn futures_waker() -> std::task::Waker {
    struct Noop;
    impl std::task::Wake for Noop {
        fn wake(self: std::sync::Arc<Self>) {}
    }
    std::task::Waker::from(std::sync::Arc::new(Noop))
}
