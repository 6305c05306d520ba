//! Context propagation across processes: B3 (multi and single header) and W3C traceparent.
//!
//! A client calls [`inject_headers`] (or [`inject_into`] for another carrier) before a call; a
//! server calls [`extract`] (or [`extract_from`]) on the incoming headers and passes the result
//! as the parent of its server span. Both are allocation-free apart from the header map itself.
//!
//! ```
//! use zipkin_runtime::propagation::{extract, inject_headers};
//! use zipkin_runtime::{Kind, SpanGuard, Tracer};
//! # let tracer = Tracer::builder().service_name("webapp")
//! #     .transport(zipkin_runtime::transport::memory::MemoryTransport::new()).build().unwrap();
//! # let _default = tracer.set_default();
//! let client = SpanGuard::new("index");
//! let headers = inject_headers(); // sent with the request
//! // ... in the called service:
//! let server = SpanGuard::builder("get /api").kind(Kind::Server).parent(extract(&headers)).start();
//! let (c, s) = (client.context().unwrap(), server.context().unwrap());
//! assert_eq!(s.trace_id, c.trace_id);
//! assert_eq!(s.parent_id, Some(c.span_id));
//! ```

pub mod b3;
mod carrier;
mod error;
mod extract;
mod inject;
mod metrics;
pub mod w3c;

pub use carrier::{Extractor, Field, Injector};
pub use error::HeaderError;
pub use extract::{extract, extract_from};
pub use http::HeaderMap;
pub use inject::{inject_context, inject_headers, inject_into, InjectOptions};
pub use metrics::{metrics, PropagationMetrics};

/// Which B3 form `inject_headers()` writes.
///
/// ```
/// use zipkin_runtime::{propagation::B3Format, Tracer};
/// let tracer = Tracer::builder()
///     .b3_format(B3Format::Both)
///     .transport(zipkin_runtime::transport::memory::MemoryTransport::new())
///     .build()
///     .unwrap();
/// assert_eq!(tracer.config().b3_format, B3Format::Both);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum B3Format {
    /// `X-B3-TraceId`, `X-B3-SpanId`, `X-B3-ParentSpanId`, `X-B3-Sampled`, `X-B3-Flags`.
    #[default]
    Multi,
    /// The single `b3` header.
    Single,
    /// Both.
    Both,
}

/// A header value written on the stack (at most 68 ASCII bytes). Derefs to `&str`.
///
/// ```
/// use zipkin_runtime::{propagation::b3, Sampling, SpanContext};
/// let ctx = SpanContext {
///     trace_id: "463ac35c9f6413ad".parse().unwrap(),
///     span_id: "a2fb4a1d1a96d312".parse().unwrap(),
///     parent_id: None,
///     sampling: Sampling::NotSampled,
///     debug: false,
/// };
/// let text = b3::write_single(&ctx);
/// assert_eq!(text.as_str(), "463ac35c9f6413ad-a2fb4a1d1a96d312-0");
/// assert_eq!(text.len(), 35);
/// ```
#[derive(Clone, Copy)]
pub struct HeaderText {
    buf: [u8; b3::SINGLE_MAX_LEN],
    len: u8,
}

impl HeaderText {
    const fn new() -> HeaderText {
        HeaderText {
            buf: [0; b3::SINGLE_MAX_LEN],
            len: 0,
        }
    }

    /// The text.
    #[inline]
    pub fn as_str(&self) -> &str {
        // Only ever holds ASCII written by the formatters.
        std::str::from_utf8(&self.buf[..self.len as usize]).unwrap_or("")
    }
}

impl std::ops::Deref for HeaderText {
    type Target = str;
    #[inline]
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl std::fmt::Debug for HeaderText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self.as_str(), f)
    }
}

impl std::fmt::Display for HeaderText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
