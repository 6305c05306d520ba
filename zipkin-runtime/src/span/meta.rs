//! What the attribute hands the runtime: a span's static description ([`SpanMeta`]), and the
//! results whose error `err` records ([`ErrResult`]).

use std::fmt;

use crate::record::Kind;

/// What `#[zipkin_span]` knows at compile time about a span. The macro emits one `static` of
/// this per function, so opening a span passes a single pointer.
#[derive(Debug)]
pub struct SpanMeta {
    /// The span name.
    pub name: &'static str,
    /// The local service; `None` inherits the parent's, or the tracer's default at a root.
    pub service_name: Option<&'static str>,
    /// The span kind.
    pub kind: Kind,
    /// The local endpoint port; 0 inherits.
    pub port: u16,
    /// Sample rate in percent for a new trace started here; `None` uses the tracer's.
    pub sample_rate: Option<f64>,
}

impl SpanMeta {
    /// A local span with the given name and nothing else set.
    pub const fn new(name: &'static str) -> SpanMeta {
        SpanMeta {
            name,
            service_name: None,
            kind: Kind::Local,
            port: 0,
            sample_rate: None,
        }
    }
}

/// A function result whose error `#[zipkin_span(err)]` records: `Result<T, E>` with
/// `E: Display`. Used by the attribute's expansion; not meant to be implemented by users.
#[diagnostic::on_unimplemented(
    message = "`#[zipkin_span(err)]` needs a function returning `Result<_, E>` with `E: Display`, found `{Self}`",
    label = "`err` needs a `Result` return type"
)]
pub trait ErrResult {
    /// The error to record, if this result is one.
    fn zipkin_error(&self) -> Option<&dyn fmt::Display>;
}

impl<T, E: fmt::Display> ErrResult for Result<T, E> {
    #[inline]
    fn zipkin_error(&self) -> Option<&dyn fmt::Display> {
        self.as_ref().err().map(|e| e as &dyn fmt::Display)
    }
}
