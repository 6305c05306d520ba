//! The in-process tower service of the HTTP-layer bench (`benches/http_layers.rs`) and its probe
//! (`src/bin/http_probe.rs`): a handler that answers at once, the request every iteration
//! builds, and one call polled to completion.

use std::convert::Infallible;
use std::future::Future;
use std::hint::black_box;
use std::pin::pin;
use std::task::{Context, Poll};

use http::{Request, Response};
use tower::Service;

/// A service that answers every request at once with an empty 200.
pub fn handler() -> impl Service<
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

/// `GET /orders/42` with no trace headers.
pub fn request() -> Request<String> {
    Request::get("/orders/42")
        .body(String::new())
        .unwrap_or_default()
}

/// Calls `svc` once with [`request`] and polls the response future to completion (it is ready
/// at once).
#[inline(always)]
pub fn call<S, F, T>(svc: &mut S, cx: &mut Context<'_>)
where
    S: Service<Request<String>, Future = F>,
    F: Future<Output = T>,
{
    let fut = svc.call(request());
    let mut fut = pin!(fut);
    loop {
        if let Poll::Ready(out) = fut.as_mut().poll(cx) {
            black_box(out);
            return;
        }
    }
}
