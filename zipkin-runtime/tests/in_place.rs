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
