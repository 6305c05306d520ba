//! The identity of a span within a trace, as it travels: ids, sampling state and debug flag
//! ([`SpanContext`]), and what a caller passed on ([`RemoteContext`]). Plain data; which span is
//! current is the `context` module's business.

use crate::id::{SpanId, TraceId};

/// A trace's sampling state, as B3 defines it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Sampling {
    /// Record and report.
    Sampled,
    /// Propagate ids, record nothing.
    NotSampled,
    /// No decision yet: the next hop's sampler decides.
    #[default]
    Deferred,
}

impl Sampling {
    /// `Some(true)`/`Some(false)` for a decision, `None` when deferred.
    pub fn decision(self) -> Option<bool> {
        match self {
            Sampling::Sampled => Some(true),
            Sampling::NotSampled => Some(false),
            Sampling::Deferred => None,
        }
    }

    /// The state for a decision.
    pub fn from_decision(d: Option<bool>) -> Sampling {
        match d {
            Some(true) => Sampling::Sampled,
            Some(false) => Sampling::NotSampled,
            None => Sampling::Deferred,
        }
    }
}

/// The identity of one span within a trace, plus the trace's sampling state and debug flag.
///
/// ```
/// # extern crate zipkin_runtime as zipkin_rs;
/// use zipkin_rs::{Sampling, SpanContext, SpanId, TraceId};
/// let ctx = SpanContext {
///     trace_id: "463ac35c9f6413ad48485a3953bb6124".parse().unwrap(),
///     span_id: "a2fb4a1d1a96d312".parse().unwrap(),
///     parent_id: None,
///     sampling: Sampling::Sampled,
///     debug: false,
/// };
/// assert!(ctx.is_sampled());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(C)]
pub struct SpanContext {
    /// The trace this span belongs to.
    pub trace_id: TraceId,
    /// This span.
    pub span_id: SpanId,
    /// The parent span; `None` for a root.
    pub parent_id: Option<SpanId>,
    /// Whether the trace is recorded.
    pub sampling: Sampling,
    /// Debug traces are always sampled and reported with `debug: true`.
    pub debug: bool,
}

impl SpanContext {
    /// Whether spans of this context are recorded and reported.
    #[inline]
    pub fn is_sampled(&self) -> bool {
        self.debug || self.sampling == Sampling::Sampled
    }
}

/// What an upstream caller passed on, as extracted from headers: the caller's span to continue,
/// or only a sampling decision, or nothing at all (`RemoteContext::default()`).
///
/// Pass it as `parent = ...` to `#[zipkin_span]` on a server entry point.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct RemoteContext {
    /// The caller's trace and span ids, when it sent them.
    pub ids: Option<RemoteIds>,
    /// The caller's sampling decision.
    pub sampling: Sampling,
    /// The caller asked for debug (forces sampling).
    pub debug: bool,
}

/// The ids a caller sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RemoteIds {
    /// Trace id, kept 64- or 128-bit as received.
    pub trace_id: TraceId,
    /// The span id the caller chose for this hop.
    pub span_id: SpanId,
    /// The caller's own span, when sent.
    pub parent_id: Option<SpanId>,
}

impl RemoteContext {
    /// Whether the caller sent nothing: no ids, no sampling decision, no debug flag. Such a
    /// context continues nothing, so a span given it as parent behaves as if it had none.
    ///
    /// ```
    /// # extern crate zipkin_runtime as zipkin_rs;
    /// use zipkin_rs::{RemoteContext, Sampling};
    /// assert!(RemoteContext::default().is_empty());
    /// let decided = RemoteContext { sampling: Sampling::NotSampled, ..Default::default() };
    /// assert!(!decided.is_empty());
    /// ```
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.ids.is_none() && self.sampling == Sampling::Deferred && !self.debug
    }

    /// A remote context that continues `ctx` (the shape `inject` writes and `extract` reads).
    pub fn from_span_context(ctx: &SpanContext) -> RemoteContext {
        RemoteContext {
            ids: Some(RemoteIds {
                trace_id: ctx.trace_id,
                span_id: ctx.span_id,
                parent_id: ctx.parent_id,
            }),
            sampling: ctx.sampling,
            debug: ctx.debug,
        }
    }
}

impl From<SpanContext> for RemoteContext {
    fn from(ctx: SpanContext) -> Self {
        RemoteContext::from_span_context(&ctx)
    }
}

impl From<Option<RemoteContext>> for RemoteContext {
    fn from(r: Option<RemoteContext>) -> Self {
        r.unwrap_or_default()
    }
}
