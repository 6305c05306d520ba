//! [`ClientLayer`]: a CLIENT span per request, whose own ids are sent to the server.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::{Request, Response};
use tower_layer::Layer;
use tower_service::Service;
use zipkin_runtime::{Endpoint, Kind, Span};

use crate::body::ResponseBody;
use crate::server::ResponseFuture;
use crate::{grpc, parse};

/// A [`Layer`][layer] that opens a CLIENT span for every request sent through the service it
/// wraps (a hyper-util client, a tonic `Channel`): a child of the current span, or a new trace.
///
/// The span's own ids go into the request's headers (the tracer's B3 format, and `traceparent`
/// when configured), so the server's span joins it: one RPC, two halves in Zipkin. Tags as the
/// server's; a 4xx or 5xx status, a transport error or a non-OK gRPC status tags `error`. The
/// remote endpoint is the URI's host (when it is an IP address) and port. A tonic client sends
/// URIs that hold
/// only the path (its `Channel` adds the origin inside), so give a tonic client's layer its
/// peer with [`ClientLayer::remote_endpoint`].
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
///
/// [layer]: https://docs.rs/tower-layer/0.3/tower_layer/trait.Layer.html
#[derive(Clone, Debug, Default)]
pub struct ClientLayer {
    /// The peer set with [`ClientLayer::remote_endpoint`].
    remote: Option<Arc<Endpoint>>,
}

impl ClientLayer {
    /// The layer.
    pub fn new() -> ClientLayer {
        ClientLayer { remote: None }
    }

    /// The peer every request goes to, as the spans' remote endpoint: its service name (which
    /// Zipkin shows for a server that reports no spans of its own), and its address when the
    /// request's URI has none that is an IP address (a tonic `Channel`'s requests never have).
    ///
    /// ```
    /// # mod zipkin_rs { pub use ::zipkin_runtime::*; pub mod tower { pub use ::zipkin_tower::*; } }
    /// use zipkin_rs::{tower::ClientLayer, Endpoint};
    /// let layer = ClientLayer::new().remote_endpoint(Endpoint {
    ///     service_name: Some("greeter".into()),
    ///     ip: Some([10, 0, 0, 7].into()),
    ///     port: 50051,
    /// });
    /// ```
    pub fn remote_endpoint(mut self, peer: Endpoint) -> ClientLayer {
        self.remote = Some(Arc::new(peer));
        self
    }
}

impl<S> Layer<S> for ClientLayer {
    type Service = Client<S>;

    fn layer(&self, inner: S) -> Client<S> {
        Client {
            inner,
            remote: self.remote.clone(),
        }
    }
}

/// The service [`ClientLayer`] makes.
#[derive(Clone, Debug)]
pub struct Client<S> {
    inner: S,
    remote: Option<Arc<Endpoint>>,
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
            if let Some(e) = peer(req.uri(), self.remote.as_deref()) {
                span.set_remote_endpoint(e);
            }
        }
        let inner = self.inner.call(req);
        ResponseFuture::new(inner, span, grpc, false)
    }
}

/// The remote endpoint of a request to `uri`: the configured peer's service name, and the
/// URI's address when it has one, else the configured peer's.
fn peer(uri: &http::Uri, configured: Option<&Endpoint>) -> Option<Endpoint> {
    match (remote_endpoint(uri), configured) {
        (Some(from_uri), Some(peer)) => Some(Endpoint {
            service_name: peer.service_name.clone(),
            ..from_uri
        }),
        (Some(from_uri), None) => Some(from_uri),
        (None, peer) => peer.cloned(),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn named(service: &'static str, ip: [u8; 4], port: u16) -> Endpoint {
        Endpoint {
            service_name: Some(service.into()),
            ip: Some(ip.into()),
            port,
        }
    }

    #[test]
    fn the_peer_is_the_uris_address_named_as_configured() {
        let uri: http::Uri = "http://10.1.2.3:8080/orders".parse().unwrap();
        let configured = named("orders", [10, 9, 9, 9], 9);
        assert_eq!(
            peer(&uri, Some(&configured)),
            Some(named("orders", [10, 1, 2, 3], 8080))
        );
        assert_eq!(
            peer(&uri, None).map(|e| (e.service_name, e.ip, e.port)),
            Some((None, Some([10, 1, 2, 3].into()), 8080))
        );
    }

    /// Regression: a tonic client's span had no remote endpoint; its URIs hold only the path.
    #[test]
    fn a_uri_without_an_address_takes_the_configured_peer() {
        let uri: http::Uri = "/demo.Greeter/SayHello".parse().unwrap();
        let configured = named("greeter", [127, 0, 0, 1], 50051);
        assert_eq!(peer(&uri, Some(&configured)), Some(configured.clone()));
        assert_eq!(peer(&uri, None), None);
        let by_name: http::Uri = "http://greeter.internal/x".parse().unwrap();
        assert_eq!(peer(&by_name, Some(&configured)), Some(configured));
    }
}
