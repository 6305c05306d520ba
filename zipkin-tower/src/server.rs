//! [`ServerLayer`]: a SERVER span per request, current while the service handles it.

use std::borrow::Cow;
use std::fmt;
use std::future::Future;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::task::{Context, Poll};

use http::{Request, Response};
use tower_layer::Layer;
use tower_service::Service;
use zipkin_runtime::{HttpRequest, Kind, Span};

use crate::body::ResponseBody;
use crate::{grpc, headers, parse};

/// A [`Layer`](https://docs.rs/tower-layer/0.3/tower_layer/trait.Layer.html) that opens a SERVER span for every request of the service it wraps.
///
/// - It reads the caller's context with the same strict rules as `zipkin_rs::extract`
///   (B3 multi, single `b3`, `traceparent`), and joins the caller's span id (`shared`), so a
///   client span and this span are one RPC in Zipkin.
/// - The span is current while the service runs, on every poll of its future: spans opened in
///   the handler (`#[zipkin_span]`) are its children, and `inject_headers()` there propagates it.
/// - When no caller decided, the tracer's sampler decides, seeing the method, path and route.
///
/// Names, tags and when the span ends: see the [documentation of `zipkin_rs::tower`](crate).
///
/// ```
/// # mod zipkin_rs { pub use ::zipkin_runtime::*; pub mod tower { pub use ::zipkin_tower::*; } }
/// use zipkin_rs::tower::ServerLayer;
/// # async fn handler() -> &'static str { "ok" }
/// let app: axum::Router = axum::Router::new()
///     .route("/orders/{id}", axum::routing::get(handler))
///     .layer(ServerLayer::new());
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct ServerLayer {
    _private: (),
}

impl ServerLayer {
    /// The layer.
    pub fn new() -> ServerLayer {
        ServerLayer { _private: () }
    }
}

impl<S> Layer<S> for ServerLayer {
    type Service = Server<S>;

    fn layer(&self, inner: S) -> Server<S> {
        Server { inner }
    }
}

/// The service [`ServerLayer`] makes.
#[derive(Clone, Debug)]
pub struct Server<S> {
    inner: S,
}

/// The route template the server matched, when it exposes one.
#[inline]
fn route<B>(req: &Request<B>) -> Option<&str> {
    #[cfg(feature = "axum")]
    if let Some(m) = req.extensions().get::<axum::extract::MatchedPath>() {
        return Some(m.as_str());
    }
    let _ = req;
    None
}

/// The peer's address, when the server exposes it: axum's `ConnectInfo`, tonic's
/// `TcpConnectInfo`, or a `SocketAddr` extension (what a hyper server can insert).
fn peer<B>(req: &Request<B>) -> Option<std::net::SocketAddr> {
    #[cfg(feature = "axum")]
    if let Some(c) = req
        .extensions()
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
    {
        return Some(c.0);
    }
    #[cfg(feature = "tonic")]
    if let Some(addr) = req
        .extensions()
        .get::<tonic::transport::server::TcpConnectInfo>()
        .and_then(|c| c.remote_addr)
    {
        return Some(addr);
    }
    req.extensions().get::<std::net::SocketAddr>().copied()
}

/// What a sampled span learns from the request: its name with the route, the request's tags,
/// the peer. Out of line: an unsampled request never comes here.
#[inline(never)]
fn record_request<B>(span: &mut Span, req: &Request<B>, grpc: bool, route: Option<&str>) {
    if !grpc {
        if let Some(r) = route {
            // Joined into a string an earlier span gave back, not `format!`ed: a new string
            // per request, freed on the reporter's thread, waits on the allocator's lock.
            span.set_name_parts(&[&parse::method_name(req.method()), " ", r]);
        }
        parse::tag_request(span, req.method(), req.uri().path(), route);
    }
    if let Some(addr) = peer(req) {
        span.set_remote_endpoint(zipkin_runtime::Endpoint {
            service_name: None,
            ip: Some(addr.ip()),
            port: addr.port(),
        });
    }
}

impl<S, B, RB> Service<Request<B>> for Server<S>
where
    S: Service<Request<B>, Response = Response<RB>>,
    S::Error: fmt::Display,
{
    type Response = Response<ResponseBody<RB>>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    #[inline]
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> ResponseFuture<S::Future> {
        let found = headers::scan(req.headers());
        let remote = headers::caller(req.headers(), found);
        let grpc = found.grpc;
        let path = req.uri().path();
        let route = route(&req);
        let name: Cow<'static, str> = if grpc {
            Cow::Owned(path.trim_start_matches('/').to_owned())
        } else {
            parse::method_name(req.method())
        };
        let mut http = HttpRequest::new(req.method().as_str(), path);
        if let Some(r) = route {
            http = http.with_route(r);
        }
        let mut span = Span::builder(name)
            .kind(Kind::Server)
            .parent(remote)
            .start_detached_for_http(&http);
        if span.is_recording() {
            record_request(&mut span, &req, grpc, route);
        }
        let inner = {
            // A guard, not `Span::in_scope`: through a closure the request and the service's
            // future were each copied once more (benchmark: http_layers/server_layer_unsampled).
            let _scope = span.enter_scope();
            self.inner.call(req)
        };
        ResponseFuture::new(inner, span, grpc, true)
    }
}

pin_project_lite::pin_project! {
    /// The future of an instrumented service: the service's, with its span current on every
    /// poll (server side), tagging the response, a service error or a panic.
    pub struct ResponseFuture<F> {
        #[pin]
        inner: F,
        span: Option<Span>,
        grpc: bool,
        scope: bool,
    }

    impl<F> PinnedDrop for ResponseFuture<F> {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            if let Some(span) = this.span.as_mut() {
                // Dropped before the response: the caller went away.
                span.tag("cancelled", "true");
            }
        }
    }
}

impl<F> fmt::Debug for ResponseFuture<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture")
            .field("span", &self.span)
            .field("grpc", &self.grpc)
            .finish_non_exhaustive()
    }
}

impl<F> ResponseFuture<F> {
    pub(crate) fn new(inner: F, span: Span, grpc: bool, scope: bool) -> ResponseFuture<F> {
        ResponseFuture {
            inner,
            span: Some(span),
            grpc,
            scope,
        }
    }
}

impl<F, RB, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<RB>, E>>,
    E: fmt::Display,
{
    type Output = Result<Response<ResponseBody<RB>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let mut inner = this.inner;
        let scoped = this.span.as_mut().filter(|_| *this.scope);
        let polled = catch_unwind(AssertUnwindSafe(|| {
            let _scope = scoped.map(Span::enter_scope);
            inner.as_mut().poll(cx)
        }));
        let polled = match polled {
            Ok(p) => p,
            Err(panic) => {
                if let Some(mut span) = this.span.take() {
                    span.tag("error", "panic");
                }
                resume_unwind(panic)
            }
        };
        let out = match polled {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(out) => out,
        };
        // The span ends here, dropped in place (`= None`), unless a gRPC body carries it to
        // its trailers: moving it out first copied the whole span for nothing.
        match out {
            Ok(resp) => {
                let mut to_trailers = false;
                if let Some(s) = this.span.as_mut().filter(|s| s.is_recording()) {
                    if *this.grpc {
                        match grpc::status(resp.headers()) {
                            Some(code) => grpc::tag_status(s, code),
                            // The status comes in the trailers: the body carries the span.
                            None => to_trailers = true,
                        }
                    } else {
                        parse::tag_status(s, resp.status());
                    }
                }
                let to_body = if to_trailers { this.span.take() } else { None };
                *this.span = None;
                let (parts, body) = resp.into_parts();
                Poll::Ready(Ok(Response::from_parts(
                    parts,
                    ResponseBody::new(body, to_body),
                )))
            }
            Err(e) => {
                if let Some(s) = this.span.as_mut() {
                    s.error(&e);
                }
                *this.span = None;
                Poll::Ready(Err(e))
            }
        }
    }
}
