//! One case of `benches/http_layers.rs`, run N times, for instruction counts and profiles that do
//! not move with the machine's load: `http_probe <bare|sampled|unsampled> <N>`.
//!
//! Instructions per request: run it under `valgrind --tool=callgrind` with two values of N and
//! divide the difference of the totals by the difference of the Ns (set-up cancels out). The
//! request, the handler and the polling are the bench's.

use std::convert::Infallible;
use std::future::Future;
use std::hint::black_box;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use http::{Request, Response};
use tower::{Layer, Service};
use zipkin_rs::tower::ServerLayer;
use zipkin_rs::transport::Discard;
use zipkin_rs::Tracer;

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

fn request() -> Request<String> {
    Request::get("/orders/42")
        .body(String::new())
        .unwrap_or_default()
}

#[inline(never)]
fn call<S, F, T>(svc: &mut S, cx: &mut Context<'_>)
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

fn run<S, F, T>(mut svc: S, n: u64)
where
    S: Service<Request<String>, Future = F>,
    F: Future<Output = T>,
{
    let mut cx = Context::from_waker(Waker::noop());
    for _ in 0..n {
        call(&mut svc, &mut cx);
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let case = args.next().unwrap_or_default();
    let n: u64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(1_000_000);
    zipkin_runtime::__unstable::clock::warm_up();
    let rate = match case.as_str() {
        "bare" => return run(handler(), n),
        "sampled" => 100.0,
        "unsampled" => 0.0,
        other => {
            eprintln!("usage: http_probe <bare|sampled|unsampled> [N]; got {other:?}");
            std::process::exit(2);
        }
    };
    let tracer = Tracer::builder()
        .service_name("bench")
        .sample_rate(rate)
        .transport(Discard)
        .build();
    let Ok(tracer) = tracer else {
        eprintln!("the probe's tracer did not build");
        std::process::exit(1);
    };
    let _default = tracer.set_default();
    run(ServerLayer::new().layer(handler()), n);
}
