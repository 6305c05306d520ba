//! What a sampler is ([`Sampler`]) and what it is told ([`SamplingRequest`], [`HttpRequest`]).

use std::fmt;

use crate::id::TraceId;

/// Decides whether a new trace is recorded. Called once per trace, where it starts, on the
/// thread that starts it; a caller's decision (`X-B3-Sampled`, `b3`) is followed without
/// asking. Must be cheap and must not block: it runs on the request path.
///
/// ```
/// # extern crate zipkin_runtime as zipkin_rs;
/// use zipkin_rs::{Sampler, SamplingRequest};
///
/// /// Records every trace that starts at a `checkout` span, and no other.
/// #[derive(Debug)]
/// struct CheckoutOnly;
///
/// impl Sampler for CheckoutOnly {
///     fn sample(&self, request: &SamplingRequest<'_>) -> bool {
///         request.span_name == "checkout"
///     }
/// }
///
/// let tracer = zipkin_rs::Tracer::builder().sampler(CheckoutOnly).build().unwrap();
/// ```
pub trait Sampler: Send + Sync + fmt::Debug + 'static {
    /// Whether to record the trace that `request` starts.
    fn sample(&self, request: &SamplingRequest<'_>) -> bool;

    /// Whether this sampler says no to every trace. The tracer asks once, when it is built:
    /// then a new trace is decided without calling [`Sampler::sample`] (the cost of a 0%
    /// configuration stays that of a rate of 0). The default is `false`.
    fn never_samples(&self) -> bool {
        false
    }
}

/// A shared sampler (`Arc<dyn Sampler>` too) is a sampler.
impl<S: Sampler + ?Sized> Sampler for std::sync::Arc<S> {
    #[inline]
    fn sample(&self, request: &SamplingRequest<'_>) -> bool {
        (**self).sample(request)
    }

    fn never_samples(&self) -> bool {
        (**self).never_samples()
    }
}

/// A boxed sampler (`Box<dyn Sampler>` too) is a sampler.
impl<S: Sampler + ?Sized> Sampler for Box<S> {
    #[inline]
    fn sample(&self, request: &SamplingRequest<'_>) -> bool {
        (**self).sample(request)
    }

    fn never_samples(&self) -> bool {
        (**self).never_samples()
    }
}

/// What a sampler knows of the trace it decides on.
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub struct SamplingRequest<'a> {
    /// The new trace's id.
    pub trace_id: TraceId,
    /// The name of the span that starts it.
    pub span_name: &'a str,
    /// The HTTP request it serves, when a server span starts it (the `tower` integration and
    /// [`crate::SpanBuilder::start_detached_for_http`] set this).
    pub http: Option<HttpRequest<'a>>,
}

impl<'a> SamplingRequest<'a> {
    /// A request for a trace that starts at the span `span_name`.
    pub fn new(trace_id: TraceId, span_name: &'a str) -> SamplingRequest<'a> {
        SamplingRequest {
            trace_id,
            span_name,
            http: None,
        }
    }

    /// The same, serving an HTTP request.
    pub fn with_http(mut self, http: HttpRequest<'a>) -> SamplingRequest<'a> {
        self.http = Some(http);
        self
    }
}

/// The HTTP request a new trace serves, as a sampler sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct HttpRequest<'a> {
    /// The method, as sent (`GET`).
    pub method: &'a str,
    /// The path, without the query (`/orders/42`).
    pub path: &'a str,
    /// The route template the server matched, when it knows one (`/orders/{id}`).
    pub route: Option<&'a str>,
}

impl<'a> HttpRequest<'a> {
    /// A request with this method and path.
    pub fn new(method: &'a str, path: &'a str) -> HttpRequest<'a> {
        HttpRequest {
            method,
            path,
            route: None,
        }
    }

    /// The same, with the route template the server matched.
    pub fn with_route(mut self, route: &'a str) -> HttpRequest<'a> {
        self.route = Some(route);
        self
    }
}
