//! One case of `benches/http_layers.rs`, run N times, for instruction counts and profiles that do
//! not move with the machine's load: `http_probe <bare|sampled|unsampled> <N>`.
//!
//! Instructions per request: run it under `valgrind --tool=callgrind` with two values of N and
//! divide the difference of the totals by the difference of the Ns (set-up cancels out). The
//! request, the handler and the polling are the bench's.

use std::future::Future;
use std::task::{Context, Waker};

use http::Request;
use tower::{Layer, Service};
use zipkin_bench::http_service::{self, handler};
use zipkin_rs::tower::ServerLayer;
use zipkin_rs::transport::Discard;
use zipkin_rs::Tracer;

/// The bench's call, kept out of line so that profiles show it as one frame.
#[inline(never)]
fn call<S, F, T>(svc: &mut S, cx: &mut Context<'_>)
where
    S: Service<Request<String>, Future = F>,
    F: Future<Output = T>,
{
    http_service::call(svc, cx)
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
    let n: u64 = args
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
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
