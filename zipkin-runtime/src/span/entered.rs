//! For bridges from other instrumentation APIs (the `tracing` layer of `zipkin-tracing`): a
//! detached [`Span`] made current on this thread and put back later without a scope object
//! ([`Span::enter_here`], [`Entered::exit`]), a span opened under an explicit parent
//! ([`SpanBuilder::start_detached_under`]), its name and start changed after it opened, and a
//! cheap look at whether the current span records ([`current_sampling`]).
//!
//! None of this is a stable API: it is `#[doc(hidden)]` and changes with the bridges that use
//! it. Applications use [`Span::in_scope`], [`Span::instrument`] and guards instead.

use std::borrow::Cow;
use std::fmt;

use crate::clock;
use crate::context::{self, Current};
use crate::id::{SpanId, TraceId};
use crate::tag_value::TagValue;

use super::builder::SpanBuilder;
use super::detached::Span;

/// A detached span made current on this thread by [`Span::enter_here`], and what it replaced.
/// Put it back with [`Entered::exit`] on the same thread, in the order the enters nested (an
/// exit out of order leaves the span below the current one until that one exits, as guards
/// do). Dropping it without `exit` leaves the span current.
#[doc(hidden)]
pub struct Entered {
    /// The entered span's trace and span ids: all its exit compares. A copy of its whole
    /// context was moved in and out with every enter (benchmark:
    /// http_layers/server_layer_unsampled, two enters per request).
    own: Option<(TraceId, SpanId)>,
    prev: Option<Current>,
}

impl fmt::Debug for Entered {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Entered")
            .field("span", &self.own)
            .field("prev", &self.prev.map(|c| c.ctx))
            .finish()
    }
}

impl Entered {
    /// Puts back what [`Span::enter_here`] replaced on this thread. Returns whether tags or
    /// annotations added through the free functions wait on this thread: then call
    /// [`Span::collect_pending`] on the span.
    #[inline]
    pub fn exit(self) -> bool {
        match self.own {
            Some((trace_id, span_id)) => context::leave_ids(trace_id, span_id, self.prev),
            None => context::restore(self.prev),
        }
        crate::pending::any_pending()
    }
}

/// A detached span made current on this thread by [`Span::enter_scope`] until this is dropped,
/// also when unwinding: then what was current before is current again, a panic is tagged
/// `error`, and what the free functions (`crate::tag`, ...) added meanwhile moves into the
/// span. What [`Span::in_scope`] does, without a closure that the caller's values (an HTTP
/// request, a service's future) move through (benchmark: http_layers/server_layer_unsampled).
/// Made for spans usually entered with nothing current, such as a server's: `Instrumented`
/// futures, usually polled inside another span, swap theirs in place inline instead.
#[doc(hidden)]
pub struct SpanScope<'a> {
    swap: context::Swap,
    /// Nothing was current when the span was entered.
    idle: bool,
    span: &'a mut Span,
}

impl fmt::Debug for SpanScope<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SpanScope")
            .field("span", &self.span)
            .finish()
    }
}

impl Drop for SpanScope<'_> {
    #[inline(always)]
    fn drop(&mut self) {
        if self.idle && !self.span.is_recording() && context::leave_idle() {
            return;
        }
        self.leave();
    }
}

impl SpanScope<'_> {
    #[inline(never)]
    fn leave(&mut self) {
        context::swap_out(self.span.inner.as_ref().map(|s| &s.cur), &self.swap);
        if self.span.is_recording() {
            if std::thread::panicking() {
                self.span.tag("error", "panic");
            }
            // Only a sampled span is sent what the free functions add: an unsampled one skips
            // the thread-local's borrow (benchmark: http_layers/server_layer_unsampled).
            self.span.take_pending();
        }
    }
}

impl Span {
    /// Makes this span current on this thread until [`Entered::exit`]: spans opened meanwhile
    /// (guards, `#[zipkin_span]`, injection) see it as their parent.
    #[doc(hidden)]
    #[inline]
    pub fn enter_here(&self) -> Entered {
        let own = self
            .inner
            .as_ref()
            .map(|s| (s.cur.ctx.trace_id, s.cur.ctx.span_id));
        let prev = context::replace(self.current());
        Entered { own, prev }
    }

    /// Makes this span current on this thread until the returned guard drops (see
    /// [`SpanScope`]).
    #[doc(hidden)]
    #[inline]
    pub fn enter_scope(&mut self) -> SpanScope<'_> {
        let mut swap = context::Swap::new();
        let idle = context::swap_in_idle_first(self.inner.as_ref().map(|s| &s.cur), &mut swap);
        SpanScope {
            swap,
            idle,
            span: self,
        }
    }

    /// Restarts the span's clock: its start becomes now (for a span that starts when first
    /// entered rather than when opened). Nothing for a span that does not record.
    #[doc(hidden)]
    pub fn restart_clock(&mut self) {
        if let Some(s) = self.inner.as_mut().filter(|s| s.is_recording()) {
            s.start = clock::now();
        }
    }

    /// Adds an annotation at the current time, cut to the tracer's tag limit (counted in
    /// [`crate::Tracer::tag_truncations`] when cut), for text that comes from outside.
    #[doc(hidden)]
    pub fn annotate_limited(&mut self, value: String) -> &mut Self {
        if let Some(s) = self.inner.as_mut().filter(|s| s.is_recording()) {
            let value = s.cur.tracer.limit_tag(value);
            s.annotate(clock::now(), Cow::Owned(value));
        }
        self
    }

    /// Sets a tag from a value in any of its kept forms: static text (an HTTP method's name)
    /// or [`TagValue::copied`] text are kept without an allocation, a `String` without a
    /// second copy (as [`Span::tag`] would make).
    #[doc(hidden)]
    #[inline]
    pub fn tag_value(&mut self, key: &'static str, value: TagValue) -> &mut Self {
        if let Some(s) = self.inner.as_mut().filter(|s| s.is_recording()) {
            s.set_tag(Cow::Borrowed(key), value);
        }
        self
    }

    /// Sets a tag to a copy of `value`: inline when short, else in a string that an earlier
    /// span of this thread gave back through the reporter, so that neither this thread nor the
    /// reporter's allocates or frees it (benchmark: http_layers/server_layer_sampled).
    #[doc(hidden)]
    #[inline]
    pub fn tag_str(&mut self, key: &'static str, value: &str) -> &mut Self {
        if let Some(s) = self.inner.as_mut() {
            s.set_tag_str(key, value);
        }
        self
    }

    /// Renames the span to `parts` joined (a server span's method and route), in a string
    /// that came back as for [`Span::tag_str`].
    #[doc(hidden)]
    pub fn set_name_parts(&mut self, parts: &[&str]) -> &mut Self {
        if let Some(s) = self.inner.as_mut() {
            s.set_name_parts(parts);
        }
        self
    }

    /// Moves what the free functions ([`crate::tag`], [`crate::annotate`]) added on this thread
    /// while the span was current into it: call after [`Entered::exit`].
    #[doc(hidden)]
    #[inline]
    pub fn collect_pending(&mut self) {
        self.take_pending();
    }
}

impl SpanBuilder {
    /// Opens the span as a child of `parent`, or as a new root for `None`, whatever is current
    /// on this thread. With [`SpanBuilder::parent`] set, the remote parent wins as usual.
    #[doc(hidden)]
    pub fn start_detached_under(self, parent: Option<&Span>) -> Span {
        context::with_current(parent.and_then(Span::current), || self.start_detached())
    }
}

/// Whether the current span on this thread records: `None` with no current span,
/// `Some(false)` for an unsampled one. Draws no undrawn ids.
#[doc(hidden)]
#[inline]
pub fn current_sampling() -> Option<bool> {
    if context::current_is_sampled() {
        Some(true)
    } else if context::current_tracer().is_some() {
        Some(false)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{current_context, SpanGuard, Tracer};

    fn tracer(rate: f64) -> Tracer {
        Tracer::builder()
            .sample_rate(rate)
            .transport(crate::transport::Discard)
            .build()
            .unwrap()
    }

    /// The inline leave of a span entered on an idle thread must leave it idle.
    #[test]
    fn a_scope_entered_with_nothing_current_leaves_nothing_current() {
        for rate in [0.0, 100.0] {
            let _default = tracer(rate).set_default();
            let mut span = Span::builder("server").start_detached();
            let ctx = span.context();
            {
                let _scope = span.enter_scope();
                assert_eq!(current_context(), ctx);
                assert_eq!(
                    SpanGuard::new("child").context().unwrap().parent_id,
                    ctx.map(|c| c.span_id)
                );
            }
            assert_eq!(current_context(), None, "rate {rate}");
            assert_eq!(SpanGuard::new("next").context().unwrap().parent_id, None);
        }
    }

    /// Entered inside another span, the scope puts that span back.
    #[test]
    fn a_scope_entered_inside_a_span_puts_it_back() {
        for rate in [0.0, 100.0] {
            let _default = tracer(rate).set_default();
            let outer = SpanGuard::new("outer");
            let mut span = Span::builder("server").start_detached();
            let ctx = span.context();
            {
                let _scope = span.enter_scope();
                assert_eq!(current_context(), ctx);
            }
            assert_eq!(current_context(), outer.context(), "rate {rate}");
        }
    }

    /// A child still open when the scope ends takes the leave off its inline path; once the
    /// child closes, nothing is current and the next span is a root.
    #[test]
    fn a_child_open_past_the_scope_still_leaves_the_thread_idle() {
        for rate in [0.0, 100.0] {
            let _default = tracer(rate).set_default();
            let mut span = Span::builder("server").start_detached();
            let scope = span.enter_scope();
            let child = SpanGuard::new("child");
            drop(scope);
            drop(child);
            assert_eq!(current_context(), None, "rate {rate}");
            assert_eq!(SpanGuard::new("next").context().unwrap().parent_id, None);
        }
    }
}
