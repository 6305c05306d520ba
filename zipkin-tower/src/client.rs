//! [`ClientLayer`]: a CLIENT span per request, whose own ids are sent to the server.

use std::borrow::Cow;
use std::fmt;
use std::task::{Context, Poll};

use http::{Request, Response};
use tower_layer::Layer;
use tower_service::Service;
use zipkin_runtime::{Endpoint, Kind, Span};

use crate::body::ResponseBody;
use crate::server::ResponseFuture;
use crate::{grpc, parse};

/// A [`Layer`](https://docs.rs/tower-layer/0.3/tower_layer/trait.Layer.html) that opens a CLIENT span for every request sent through the service it wraps
/// (a hyper-util client, a tonic `Channel`): a child of the current span, or a new trace.
///
/// The span's own ids go into the request's headers (the tracer's B3 format, and `traceparent`
/// when configured), so the server's span joins it: one RPC, two halves in Zipkin. Tags as the
/// server's; the remote endpoint is the URI's host (when it is an IP address) and port; a
/// 5xx, a transport error or a non-OK gRPC status tags `error`.
///
/// ```
/// # mod zipkin_rs { pub use ::zipkin_runtime::*; pub mod tower { pub use ::zipkin_tower::*; } }
/// use tower::ServiceBuilder;
/// use zipkin_rs::tower::ClientLayer;
/// # #[derive(Clone)] struct Client;
/// # impl tower::Service<http::Request<String>> for Client {
/// #     type Response = http::Response<String>;
/// #     type Error = std::convert::Infallible;
/// #     type Future = std::future::Ready<Result<http::Response<String>, std::convert::Infallible>>;
/// #     fn poll_ready(&mut self, _: &mut std::task::Context<'_>) -> std::task::Poll<Result<(), Self::Error>> { std::task::Poll::Ready(Ok(())) }
/// #     fn call(&mut self, _: http::Request<String>) -> Self::Future { std::future::ready(Ok(http::Response::new(String::new()))) }
/// # }
/// let client = ServiceBuilder::new().layer(ClientLayer::new()).service(Client);
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct ClientLayer {
    _private: (),
}

impl ClientLayer {
    /// The layer.
    pub fn new() -> ClientLayer {
        ClientLayer { _private: () }
    }
}

impl<S> Layer<S> for ClientLayer {
    type Service = Client<S>;

    fn layer(&self, inner: S) -> Client<S> {
        Client { inner }
    }
}

/// The service [`ClientLayer`] makes.
#[derive(Clone, Debug)]
pub struct Client<S> {
    inner: S,
}

/// The future of [`Client`].
pub type ClientResponseFuture<F> = ResponseFuture<F>;

impl<S, B, RB> Service<Request<B>> for Client<S>
where
    S: Service<Request<B>, Response = Response<RB>>,
    S::Error: fmt::Display,
{
    type Response = Response<ResponseBody<RB>>;
    type Error = S::Error;
    type Future = ClientResponseFuture<S::Future>;

    #[inline]
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<B>) -> ClientResponseFuture<S::Future> {
        let grpc = grpc::is_grpc(req.headers());
        let name: Cow<'static, str> = if grpc {
            Cow::Owned(req.uri().path().trim_start_matches('/').to_owned())
        } else {
            parse::method_name(req.method())
        };
        let mut span = Span::builder(name).kind(Kind::Client).start_detached();
        span.in_scope(|| zipkin_runtime::inject_into(req.headers_mut()));
        if span.is_recording() {
            if !grpc {
                parse::tag_request(&mut span, req.method(), req.uri().path(), None);
            }
            if let Some(e) = remote_endpoint(req.uri()) {
                span.set_remote_endpoint(e);
            }
        }
        let inner = self.inner.call(req);
        ResponseFuture::new(inner, span, grpc, false)
    }
}

/// The URI's host, when it is an IP address, and port (the scheme's default when absent).
pub(crate) fn remote_endpoint(uri: &http::Uri) -> Option<Endpoint> {
    let host = uri.host()?;
    let ip = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse()
        .ok()?;
    let port = uri.port_u16().unwrap_or(match uri.scheme_str() {
        Some("https") => 443,
        _ => 80,
    });
    Some(Endpoint {
        service_name: None,
        ip: Some(ip),
        port,
    })
}
