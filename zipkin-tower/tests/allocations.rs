//! What `ServerLayer` costs the heap per request, counted on the calling thread (the reporter's
//! threads allocate for their own work): a request of an unsampled trace allocates nothing
//! beyond what the service does alone; a sampled one at most the span's tag storage (its box
//! and the vector of tags; a standard method's name static and a short path inline), and
//! nothing once the reporter has given earlier spans' storage back to this thread.

use std::convert::Infallible;
use std::future::Future;
use std::hint::black_box;
use std::pin::pin;
use std::task::{Context, Poll};
use std::time::Duration;

use http::{Request, Response};
use tower::{Layer, Service};
use zipkin_runtime::transport::memory::MemoryTransport;
use zipkin_runtime::Tracer;
use zipkin_testkit::alloc_count::{allocations, Counting};
use zipkin_tower::ServerLayer;

#[global_allocator]
static A: Counting = Counting;

fn handler() -> impl Service<
    Request<String>,
    Response = Response<String>,
    Error = Infallible,
    Future = std::future::Ready<Result<Response<String>, Infallible>>,
> + Clone {
    tower::service_fn(|req: Request<String>| {
        black_box(&req);
        std::future::ready(Ok::<_, Infallible>(Response::new(String::new())))
    })
}

/// Allocations per request of `svc` (`GET path`, no trace headers), counted over rounds of
/// requests after a warm-up, with `settle` after each round (outside the count).
///
/// Settled in rounds because the reporter may give boxes back during a long run, which that
/// run's next spans then take: after one long warm-up, fewer boxes than requests may be in
/// stock. A round's spans take at most a round's worth of boxes, and all come back at the
/// settle.
fn per_request<S, F, T>(svc: &mut S, path: &str, settle: &mut dyn FnMut()) -> f64
where
    S: Service<Request<String>, Future = F>,
    F: Future<Output = T>,
{
    let mut cx = Context::from_waker(futures_util::task::noop_waker_ref());
    let mut call = |svc: &mut S| {
        let req = Request::get(path).body(String::new()).unwrap_or_default();
        let mut fut = pin!(svc.call(req));
        loop {
            if let Poll::Ready(out) = fut.as_mut().poll(&mut cx) {
                black_box(out);
                return;
            }
        }
    };
    for _ in 0..WARM_UP_ROUNDS * ROUND {
        call(svc);
    }
    settle();
    let mut counted = 0;
    for _ in 0..ROUNDS {
        let before = allocations();
        for _ in 0..ROUND {
            call(svc);
        }
        counted += allocations() - before;
        settle();
    }
    counted as f64 / (ROUNDS * ROUND) as f64
}

const ROUND: u64 = 10;
const ROUNDS: u64 = 20;
const WARM_UP_ROUNDS: u64 = 2;
/// Requests (and spans) per `per_request`.
const REQUESTS: usize = ((WARM_UP_ROUNDS + ROUNDS) * ROUND) as usize;

/// Allocations the layer adds per request, at this sample rate; and what the tracer received.
/// With `settled`, the reporter has taken each round's spans before the next round.
fn added(sample_rate: f64, settled: bool, path: &str) -> (f64, MemoryTransport) {
    let mem = MemoryTransport::new();
    let t = Tracer::builder()
        .service_name("allocations")
        .sample_rate(sample_rate)
        .transport(mem.clone())
        .build()
        .unwrap();
    let bare = per_request(&mut handler(), path, &mut || {});
    let mut settle = || {
        if settled {
            let r = t.flush(Duration::from_secs(30));
            assert!(!r.timed_out, "the round's spans were not taken: {r:?}");
        }
    };
    let layered =
        t.in_scope(|| per_request(&mut ServerLayer::new().layer(handler()), path, &mut settle));
    t.flush(Duration::from_secs(5));
    (layered - bare, mem)
}

#[test]
fn a_sampled_request_allocates_its_tag_storage_only() {
    let (added, mem) = added(100.0, false, "/orders/42");
    assert!(
        added <= 2.0,
        "{added} allocations added per sampled request"
    );
    let spans = mem.spans();
    assert_eq!(spans.len(), REQUESTS, "one span per request");
    assert_eq!(spans[0].tags["http.method"], "GET");
    assert_eq!(spans[0].tags["http.path"], "/orders/42");
}

#[test]
fn a_sampled_request_reuses_the_tag_storage_the_reporter_gave_back() {
    // Each round's spans are drained before the next round: each counted request takes a box
    // (with its vector's room) that came back to this thread.
    let (added, mem) = added(100.0, true, "/orders/42");
    assert_eq!(added, 0.0, "allocations added per sampled request");
    let spans = mem.spans();
    assert_eq!(spans.len(), REQUESTS, "one span per request");
    let last = &spans[spans.len() - 1];
    assert_eq!(last.tags.len(), 2, "{last:?}");
    assert_eq!(last.tags["http.path"], "/orders/42");
}

#[test]
fn a_long_path_is_copied_into_a_string_given_back_too() {
    // Past the 22 bytes kept inline, the path's copy takes a string an earlier span gave back.
    let path = "/customers/1234567890/orders/987654321";
    let (added, mem) = added(100.0, true, path);
    assert_eq!(added, 0.0, "allocations added per sampled request");
    let spans = mem.spans();
    assert_eq!(spans.len(), REQUESTS, "one span per request");
    assert!(spans.iter().all(|s| s.tags["http.path"] == path));
}

#[test]
fn an_unsampled_request_allocates_nothing() {
    let (added, mem) = added(0.0, false, "/orders/42");
    assert_eq!(added, 0.0, "allocations added per unsampled request");
    assert!(mem.spans().is_empty());
}
