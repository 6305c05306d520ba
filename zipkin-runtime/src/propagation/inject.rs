//! Injection: the headers a client sends downstream.

use http::HeaderMap;

use crate::config::Config;
use crate::context;
use crate::id::SpanId;
use crate::span_context::{Sampling, SpanContext};

use super::b3::{self, B3Format};
use super::carrier::{Field, Injector};
use super::w3c;

/// Which headers injection writes. [`inject_headers`] and [`inject_into`] take them from the
/// current tracer's [`Config`] (`b3_format`, `write_traceparent`).
///
/// ```
/// # extern crate zipkin_runtime as zipkin_rs;
/// use zipkin_rs::propagation::{B3Format, InjectOptions};
/// let opts = InjectOptions { b3: B3Format::Both, traceparent: true };
/// assert_eq!(opts.header_count(), 7);
/// assert_eq!(InjectOptions::default().header_count(), 5);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct InjectOptions {
    /// Multi (`X-B3-*`), single (`b3`) or both.
    pub b3: B3Format,
    /// Also write W3C `traceparent`.
    pub traceparent: bool,
}

impl InjectOptions {
    /// The options a tracer's configuration asks for.
    ///
    /// ```
    /// # extern crate zipkin_runtime as zipkin_rs;
    /// use zipkin_rs::{propagation::InjectOptions, Config};
    /// assert_eq!(InjectOptions::from_config(&Config::default()), InjectOptions::default());
    /// ```
    #[inline]
    pub fn from_config(cfg: &Config) -> InjectOptions {
        InjectOptions {
            b3: cfg.b3_format,
            traceparent: cfg.write_traceparent,
        }
    }

    /// At most how many headers these options write.
    #[inline]
    pub fn header_count(self) -> usize {
        let b3 = match self.b3 {
            B3Format::Multi => 5,
            B3Format::Single => 1,
            B3Format::Both => 6,
        };
        b3 + usize::from(self.traceparent)
    }
}

/// The propagation headers for an outgoing call, as an `http::HeaderMap` (reqwest's
/// `.headers(...)` takes it as is).
///
/// Inside a local or server span, the downstream side gets a new span id whose parent is the
/// current span, as py_zipkin's `create_http_headers_for_new_span()`. Inside a client span
/// (`kind = "client"`) or a producer span, it gets that span's own ids, as Brave, zipkin-go and
/// py_zipkin's `create_http_headers()` send them: the server half joins the client span, and
/// Zipkin shows one RPC with two halves. In the default multi format all five
/// headers are written, because services written against py_zipkin read every one of them:
/// `X-B3-TraceId`, `X-B3-SpanId` (the new id), `X-B3-ParentSpanId` (the current span),
/// `X-B3-Sampled` (`1`/`0`) and `X-B3-Flags` (`1` for a debug trace, else `0`). The tracer's
/// configuration can add or switch to the single `b3` header and add W3C `traceparent`.
/// Outside any span the map is empty (no allocation), as in py_zipkin.
///
/// ```
/// # extern crate zipkin_runtime as zipkin_rs;
/// use zipkin_rs::{propagation::inject_headers, SpanGuard, Tracer};
/// # let tracer = Tracer::builder().service_name("webapp")
/// #     .transport(zipkin_rs::transport::memory::MemoryTransport::new()).build().unwrap();
/// # let _default = tracer.set_default();
/// assert!(inject_headers().is_empty());
///
/// let span = SpanGuard::new("call service1");
/// let headers = inject_headers();
/// // With reqwest: client.get(url).headers(headers).send()
/// let request = http::Request::builder().uri("http://service1/api");
/// let request = headers.iter().fold(request, |r, (k, v)| r.header(k, v)).body(()).unwrap();
/// let ctx = span.context().unwrap();
/// assert_eq!(request.headers()["x-b3-traceid"], ctx.trace_id.to_string().as_str());
/// assert_eq!(request.headers()["x-b3-parentspanid"], ctx.span_id.to_string().as_str());
/// assert_ne!(request.headers()["x-b3-spanid"], ctx.span_id.to_string().as_str());
/// assert_eq!(request.headers()["x-b3-sampled"], "1");
/// assert_eq!(request.headers()["x-b3-flags"], "0");
/// ```
#[must_use = "send the headers with the outgoing request"]
pub fn inject_headers() -> HeaderMap {
    match downstream() {
        None => HeaderMap::new(),
        Some((child, opts)) => {
            let mut map = HeaderMap::with_capacity(opts.header_count());
            inject_context(&child, &mut map, opts);
            map
        }
    }
}

/// The downstream side's context and the headers to write, read from the current span in place:
/// a client or producer span's own ids, else a new child of the current span.
#[inline(always)]
fn downstream() -> Option<(SpanContext, InjectOptions)> {
    let read = |cur: &context::Current| {
        let ctx = if cur.outgoing {
            cur.ctx
        } else {
            child_of(&cur.ctx)
        };
        (ctx, InjectOptions::from_config(cur.tracer.config()))
    };
    // SAFETY: `read` only reads the span it is given and draws an id; it opens, closes and
    // reads no span. Benchmark: b3/inject_into_null_carrier (copying the context out first
    // cost a quarter of an injection).
    unsafe { context::peek(read) }
}

/// Writes the headers [`inject_headers`] would return into any carrier, and returns the
/// context written (the downstream side's span: a new child, or a client or producer span's own
/// ids), or `None` outside a span.
///
/// ```
/// # extern crate zipkin_runtime as zipkin_rs;
/// use zipkin_rs::{propagation::inject_into, SpanGuard, Tracer};
/// # let tracer = Tracer::builder().service_name("webapp")
/// #     .transport(zipkin_rs::transport::memory::MemoryTransport::new()).build().unwrap();
/// # let _default = tracer.set_default();
/// let _span = SpanGuard::new("publish");
/// let mut headers: Vec<(String, String)> = Vec::new();
/// let sent = inject_into(&mut headers).unwrap();
/// assert_eq!(headers[0], ("X-B3-TraceId".to_owned(), sent.trace_id.to_string()));
/// assert_eq!(headers[1], ("X-B3-SpanId".to_owned(), sent.span_id.to_string()));
/// ```
pub fn inject_into<I: Injector + ?Sized>(carrier: &mut I) -> Option<SpanContext> {
    let (child, opts) = downstream()?;
    inject_context(&child, carrier, opts);
    Some(child)
}

/// [`inject_into`] with the headers `opts` says instead of the tracer's (Kafka records carry
/// the single `b3` header whatever the HTTP format is).
pub(crate) fn inject_with<I: Injector + ?Sized>(
    carrier: &mut I,
    opts: InjectOptions,
) -> Option<SpanContext> {
    let (child, _) = downstream()?;
    inject_context(&child, carrier, opts);
    Some(child)
}

/// Writes `ctx` itself (no new span id) into a carrier: for contexts held by hand, such as a
/// client span's own context when client and server should share its id.
///
/// Multi format writes `X-B3-TraceId`, `X-B3-SpanId`, `X-B3-ParentSpanId` when `ctx` has a
/// parent (the spec forbids it on a root), `X-B3-Sampled` unless the decision is deferred
/// (absence is how B3 defers), and `X-B3-Flags`.
///
/// ```
/// # extern crate zipkin_runtime as zipkin_rs;
/// use zipkin_rs::propagation::{inject_context, B3Format, InjectOptions};
/// use zipkin_rs::{Sampling, SpanContext};
/// let ctx = SpanContext {
///     trace_id: "80f198ee56343ba864fe8b2a57d3eff7".parse().unwrap(),
///     span_id: "e457b5a2e4d86bd1".parse().unwrap(),
///     parent_id: Some("05e3ac9a4f6e3b90".parse().unwrap()),
///     sampling: Sampling::Sampled,
///     debug: true,
/// };
/// let mut headers = http::HeaderMap::new();
/// let opts = InjectOptions { b3: B3Format::Single, traceparent: true };
/// inject_context(&ctx, &mut headers, opts);
/// assert_eq!(headers["b3"], "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-d-05e3ac9a4f6e3b90");
/// assert_eq!(headers["traceparent"], "00-80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-01");
/// assert_eq!(headers.len(), 2);
/// ```
#[inline]
pub fn inject_context<I: Injector + ?Sized>(
    ctx: &SpanContext,
    carrier: &mut I,
    opts: InjectOptions,
) {
    if matches!(opts.b3, B3Format::Multi | B3Format::Both) {
        carrier.set(Field::TraceId, &ctx.trace_id.to_hex());
        carrier.set(Field::SpanId, &ctx.span_id.to_hex());
        if let Some(p) = ctx.parent_id {
            carrier.set(Field::ParentSpanId, &p.to_hex());
        }
        // Debug implies sampled; py_zipkin peers read X-B3-Sampled even then.
        let sampled = if ctx.debug {
            Some("1")
        } else {
            match ctx.sampling {
                Sampling::Sampled => Some("1"),
                Sampling::NotSampled => Some("0"),
                Sampling::Deferred => None,
            }
        };
        if let Some(s) = sampled {
            carrier.set(Field::Sampled, s);
        }
        carrier.set(Field::Flags, if ctx.debug { "1" } else { "0" });
    }
    if matches!(opts.b3, B3Format::Single | B3Format::Both) {
        carrier.set(Field::B3, &b3::write_single(ctx));
    }
    if opts.traceparent {
        carrier.set(Field::Traceparent, &w3c::write_traceparent(ctx));
    }
}

/// The downstream side of a call from `parent`: same trace and decision, a new span id.
#[inline]
fn child_of(parent: &SpanContext) -> SpanContext {
    SpanContext {
        trace_id: parent.trace_id,
        span_id: SpanId::random(),
        parent_id: Some(parent.span_id),
        sampling: parent.sampling,
        debug: parent.debug,
    }
}
