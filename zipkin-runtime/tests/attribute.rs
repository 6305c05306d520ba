//! The attribute used straight on the runtime (`crate = zipkin_runtime`), as a crate that does not
//! depend on the facade would: everything it expands to is public runtime API.

use std::time::Duration;

use zipkin_rs_macros::zipkin_span;
use zipkin_runtime::testing::render_tree;
use zipkin_runtime::transport::memory::MemoryTransport;
use zipkin_runtime::Tracer;

#[zipkin_span(crate = zipkin_runtime, kind = "client", tags("n" = n))]
fn sync_child(n: u32) -> u32 {
    n + 1
}

#[zipkin_span(crate = zipkin_runtime, service_name = "runtime", err)]
async fn async_root(n: u32) -> Result<u32, String> {
    tokio::task::yield_now().await;
    Ok(sync_child(n))
}

#[test]
fn crate_path_points_the_expansion_at_the_runtime() {
    let mem = MemoryTransport::new();
    let t = Tracer::builder()
        .service_name("svc")
        .transport(mem.clone())
        .build()
        .unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let out = t.in_scope(|| rt.block_on(async_root(1)));
    assert_eq!(out, Ok(2));
    t.flush(Duration::from_secs(5));
    let spans = mem.spans();
    assert_eq!(
        render_tree(&spans),
        "async_root (runtime)\n  sync_child [CLIENT] (runtime)\n"
    );
    let child = spans
        .iter()
        .find(|s| s.name.as_deref() == Some("sync_child"));
    assert_eq!(child.unwrap().tags.get("n").map(String::as_str), Some("1"));
}
