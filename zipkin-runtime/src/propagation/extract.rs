//! Extraction: what an incoming request's headers say about the caller's trace.

use http::HeaderMap;

use crate::span_context::RemoteContext;

use super::carrier::{Extractor, Field};
use super::metrics::{count_malformed, Format};
use super::{b3, w3c};

/// The caller's trace context from an `http::HeaderMap` (names are case-insensitive there).
/// Pass the result as the parent of the server span.
///
/// Order: a valid single `b3` header wins; a malformed one is counted and the `X-B3-*` headers
/// are tried, as Brave does; then W3C `traceparent`, when no B3 header gave a context. Accepted
/// forms include a decision alone (`b3: 0`, `X-B3-Sampled: 1`), ids without a decision (the
/// local sampler decides) and debug (`b3: …-d`, `X-B3-Flags: 1`: sampled and reported with
/// `debug: true`, unless the tracer's `accept_debug` is off).
///
/// Malformed input never fails: it is counted in [`metrics`](super::metrics) and, when nothing
/// valid is left, gives `RemoteContext::default()`, so a new trace starts. No allocation.
///
/// ```
/// # extern crate zipkin_runtime as zipkin_rs;
/// use zipkin_rs::{propagation::extract, Kind, SpanGuard, Tracer};
/// # let tracer = Tracer::builder().service_name("service1")
/// #     .transport(zipkin_rs::transport::memory::MemoryTransport::new()).build().unwrap();
/// # let _default = tracer.set_default();
/// // In a server handler (axum, hyper, ...): `request.headers()` is an http::HeaderMap.
/// fn handle(request: &http::Request<()>) {
///     let caller = extract(request.headers());
///     let span = SpanGuard::builder("get /api").kind(Kind::Server).parent(caller).start();
///     // The server span joins the caller's span id.
///     assert_eq!(span.context().unwrap().span_id.to_string(), "a2fb4a1d1a96d312");
/// }
/// let request = http::Request::builder()
///     .header("X-B3-TraceId", "463ac35c9f6413ad")
///     .header("X-B3-SpanId", "a2fb4a1d1a96d312")
///     .header("X-B3-Sampled", "1")
///     .body(())
///     .unwrap();
/// handle(&request);
/// ```
#[inline]
pub fn extract(headers: &HeaderMap) -> RemoteContext {
    extract_from(headers)
}

/// [`extract`] from any carrier: a list of pairs, a `HashMap<String, String>`, gRPC metadata
/// behind an [`Extractor`] of your own.
///
/// ```
/// # extern crate zipkin_runtime as zipkin_rs;
/// use zipkin_rs::{propagation::extract_from, Sampling};
/// // Message headers, with names in whatever case the producer chose.
/// let headers = vec![("B3".to_owned(), "463ac35c9f6413ad-a2fb4a1d1a96d312-d".to_owned())];
/// let ctx = extract_from(&headers);
/// assert!(ctx.debug);
/// assert_eq!(ctx.sampling, Sampling::Sampled);
/// assert_eq!(extract_from(&Vec::<(String, String)>::new()), Default::default());
/// ```
pub fn extract_from<E: Extractor + ?Sized>(carrier: &E) -> RemoteContext {
    if let Some(v) = carrier.get(Field::B3) {
        match b3::parse_single(v) {
            Ok(ctx) => return ctx,
            Err(_) => count_malformed(Format::B3Single),
        }
    }
    match b3::parse_multi(carrier) {
        Ok(Some(ctx)) => return ctx,
        Ok(None) => {}
        Err(_) => count_malformed(Format::B3Multi),
    }
    if let Some(v) = carrier.get(Field::Traceparent) {
        match w3c::parse_traceparent(v) {
            Ok(ctx) => return ctx,
            Err(_) => count_malformed(Format::Traceparent),
        }
    }
    RemoteContext::default()
}
