//! Context propagation across processes: B3 (multi and single header) and W3C traceparent.

/// Which B3 form `inject_headers()` writes.
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
