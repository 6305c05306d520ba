//! Zipkin CLIENT spans for [reqwest], as a [`reqwest_middleware`][rm] middleware:
//! [`ZipkinMiddleware`]. Re-exported by `zipkin-rs` as `zipkin_rs::reqwest` (feature
//! `reqwest`).
//!
//! [reqwest]: https://docs.rs/reqwest
//! [rm]: https://docs.rs/reqwest-middleware/0.4
#![warn(missing_docs, missing_debug_implementations, unreachable_pub)]

use std::borrow::Cow;

use http::Extensions;
use reqwest::{Request, Response};
use reqwest_middleware::{Middleware, Next, Result};
use zipkin_runtime::{Endpoint, ErrorChain, Kind, Span};

/// Opens a CLIENT span for every request a [`reqwest_middleware::ClientWithMiddleware`][cwm]
/// sends: a child of the current span, or a new trace. The span's own ids go into the request's
/// headers, so the server's span joins it (one RPC, two halves in Zipkin).
///
/// - **Name**: the lower-case method (`get`), as Brave's HTTP clients name theirs.
/// - **Tags**: `http.method`, `http.path`; `http.status_code` when not 2xx and `error` when the
///   status is below 100 or above 399 (Brave's default parsers), or the error's text when the
///   request failed (connection refused, timeout).
/// - **Remote endpoint**: the URL's host, when it is an IP address, and port.
/// - The span ends when the response head arrives (or the request fails), not when its body
///   has been read: reading the body is the caller's work, often in another span.
///
/// ```
/// # mod zipkin_rs { pub use ::zipkin_runtime::*; pub mod reqwest { pub use ::zipkin_reqwest::*; } }
/// use zipkin_rs::reqwest::ZipkinMiddleware;
/// let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
///     .with(ZipkinMiddleware::new())
///     .build();
/// # drop(client);
/// ```
///
/// [cwm]: https://docs.rs/reqwest-middleware/0.4/reqwest_middleware/struct.ClientWithMiddleware.html
#[derive(Clone, Copy, Debug, Default)]
pub struct ZipkinMiddleware {
    _private: (),
}

impl ZipkinMiddleware {
    /// The middleware.
    pub fn new() -> ZipkinMiddleware {
        ZipkinMiddleware { _private: () }
    }
}

#[async_trait::async_trait]
impl Middleware for ZipkinMiddleware {
    async fn handle(
        &self,
        mut req: Request,
        extensions: &mut Extensions,
        next: Next<'_>,
    ) -> Result<Response> {
        let mut span = Span::builder(method_name(req.method()))
            .kind(Kind::Client)
            .start_detached();
        span.in_scope(|| zipkin_runtime::inject_into(req.headers_mut()));
        if span.is_recording() {
            // Copied without `Display`; a long path into a string an earlier span gave back.
            span.tag_str("http.method", req.method().as_str());
            span.tag_str("http.path", req.url().path());
            if let Some(e) = remote_endpoint(req.url()) {
                span.set_remote_endpoint(e);
            }
        }
        // A host name's address is the one the connection reached, known with the response
        // (a proxy's when one is used, as Brave's OkHttp instrumentation records too).
        let by_name = matches!(req.url().host(), Some(url::Host::Domain(_)));
        let res = next.run(req, extensions).await;
        if span.is_recording() {
            match &res {
                Ok(r) => {
                    if let Some(addr) = r.remote_addr().filter(|_| by_name) {
                        span.set_remote_endpoint(Endpoint {
                            service_name: None,
                            ip: Some(addr.ip()),
                            port: addr.port(),
                        });
                    }
                    let code = r.status().as_u16();
                    if !(200..=299).contains(&code) {
                        span.tag("http.status_code", code);
                    }
                    if !(100..=399).contains(&code) {
                        span.tag("error", code);
                    }
                }
                Err(e) => {
                    // With its causes: reqwest's own text does not say why the request failed.
                    span.error(&ErrorChain(e));
                }
            }
        }
        res
    }
}

/// The lower-case method, without allocating for the standard ones.
fn method_name(m: &http::Method) -> Cow<'static, str> {
    use http::Method;
    Cow::Borrowed(match *m {
        Method::GET => "get",
        Method::POST => "post",
        Method::PUT => "put",
        Method::DELETE => "delete",
        Method::PATCH => "patch",
        Method::HEAD => "head",
        Method::OPTIONS => "options",
        _ => return Cow::Owned(m.as_str().to_ascii_lowercase()),
    })
}

/// The URL's host, when it is an IP address, and port; `None` for a host name.
fn remote_endpoint(url: &reqwest::Url) -> Option<Endpoint> {
    let ip = match url.host()? {
        url::Host::Ipv4(ip) => ip.into(),
        url::Host::Ipv6(ip) => ip.into(),
        url::Host::Domain(_) => return None,
    };
    Some(Endpoint {
        service_name: None,
        ip: Some(ip),
        port: url.port_or_known_default().unwrap_or(0),
    })
}
