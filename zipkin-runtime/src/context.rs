//! The span context (ids, sampling, debug) and the current span of this thread or task.
//!
//! The current span is a thread-local `Cell`. Sync guards set it on entry and restore the previous
//! value on exit; futures set it around every poll, so concurrent futures on one thread and tasks
//! that move between threads each see their own parent.

use std::cell::Cell;

use crate::id::{SpanId, TraceId};
use crate::tracer::Tracer;

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
/// use zipkin_runtime::{Sampling, SpanContext, SpanId, TraceId};
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
    /// use zipkin_runtime::{RemoteContext, Sampling};
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

/// The current span as the runtime keeps it: its context plus what children inherit.
#[derive(Clone, Copy)]
#[repr(C)]
pub(crate) struct Current {
    pub ctx: SpanContext,
    pub tracer: Tracer,
    pub service: &'static str,
    pub port: u16,
}

thread_local! {
    static CURRENT: Cell<Option<Current>> = const { Cell::new(None) };
}

/// Makes `cur` current, returning what was current before.
#[inline]
pub(crate) fn replace(cur: Option<Current>) -> Option<Current> {
    CURRENT
        .try_with(|c| {
            draw_if_undrawn(c);
            c.replace(cur)
        })
        .unwrap_or(None)
}

/// Makes an unsampled local root current without drawing its ids: most unsampled requests never
/// read them, and drawing and writing a whole context was most of the cost of such a root. The
/// ids are drawn by the first reader ([`current_inner`], [`peek`], [`enter_unsampled_child`], [`replace`]),
/// so everyone sees the same ones. Close with [`leave_root`].
#[inline(always)]
pub(crate) fn enter_unsampled_root(tracer: Tracer) {
    let _ = CURRENT.try_with(|c| {
        c.set(Some(Current {
            ctx: SpanContext {
                trace_id: TraceId::UNDRAWN,
                span_id: SpanId::UNDRAWN,
                parent_id: None,
                sampling: Sampling::NotSampled,
                debug: false,
            },
            tracer,
            service: "",
            port: 0,
        }))
    });
}

/// Closes a root opened with nothing current before it.
#[inline(always)]
pub(crate) fn leave_root() {
    let _ = CURRENT.try_with(|c| c.set(None));
}

/// Draws the ids of an unsampled root opened by [`enter_unsampled_root`], once.
#[inline(always)]
fn draw_if_undrawn(c: &Cell<Option<Current>>) {
    // SAFETY: as in enter_sampled_child: this thread's cell, no reference into it outlives the call.
    if let Some(cur) = unsafe { &mut *c.as_ptr() } {
        if cur.ctx.trace_id == TraceId::UNDRAWN {
            draw_root_ids(cur);
        }
    }
}

#[cold]
#[inline(never)]
fn draw_root_ids(cur: &mut Current) {
    let (trace_id, span_id) = crate::id::unsampled_root_ids(cur.tracer.config().trace_id_128bit);
    cur.ctx.trace_id = trace_id;
    cur.ctx.span_id = span_id;
}

/// Runs `f` on the current span in place, without copying it out of the thread-local. `f` must
/// not open or close spans.
#[inline(always)]
pub(crate) fn peek<R>(f: impl FnOnce(&Current) -> R) -> Option<R> {
    CURRENT
        .try_with(|c| {
            draw_if_undrawn(c);
            // SAFETY: as in enter_sampled_child; `f` does not touch CURRENT.
            unsafe { &*c.as_ptr() }.as_ref().map(f)
        })
        .ok()
        .flatten()
}

/// Restores a value returned by [`replace`].
#[inline]
pub(crate) fn restore(prev: Option<Current>) {
    let _ = CURRENT.try_with(|c| c.set(prev));
}

/// What a child opened in place changes in the current span, and restores when it closes:
/// copying the whole `Current` in and out of TLS costs more than the rest of an unsampled span,
/// and a third of a sampled one (store-forwarding stalls on the wide copies).
#[derive(Clone, Copy)]
pub(crate) struct Saved {
    pub span_id: SpanId,
    pub parent_id: Option<SpanId>,
}

/// What a sampled child also changes: the service and port its children inherit.
#[derive(Clone, Copy)]
pub(crate) struct SavedScope {
    pub ids: Saved,
    pub service: &'static str,
    pub port: u16,
}

/// If a sampled span is current, turns it into its own child in place (new span id, parent =
/// the old id, service and port as given) and returns the child's full context, for its record,
/// and what to restore. Unsampled children are opened by [`enter_unsampled_child`]. Every field
/// is read and written on its own (volatile): if the compiler fuses neighbouring fields into
/// one wide access, the next span's narrow reads stall on store forwarding.
#[inline(always)]
pub(crate) fn enter_sampled_child(
    service: Option<&'static str>,
    port: u16,
) -> Option<(Current, SavedScope)> {
    use std::ptr::{read_volatile as rd, write_volatile as wr};
    CURRENT
        .try_with(|c| {
            // SAFETY: the cell is only touched by this thread, and no reference into it is held
            // across this call (every other accessor copies in or out). The reads and writes
            // are of initialised fields of a live value.
            let cur = unsafe { &mut *c.as_ptr() }.as_mut()?;
            // A sampled trace never holds an undrawn root (only rate-0 roots are undrawn).
            if !cur.ctx.is_sampled() {
                return None;
            }
            unsafe {
                let parent = rd(&cur.ctx.span_id);
                let saved = SavedScope {
                    ids: Saved {
                        span_id: parent,
                        parent_id: rd(&cur.ctx.parent_id),
                    },
                    service: rd(&cur.service),
                    port: rd(&cur.port),
                };
                let own = SpanId::random();
                wr(&mut cur.ctx.parent_id, Some(parent));
                wr(&mut cur.ctx.span_id, own);
                let service = match service {
                    Some(s) => {
                        wr(&mut cur.service, s);
                        s
                    }
                    None => saved.service,
                };
                let port = if port != 0 {
                    wr(&mut cur.port, port);
                    port
                } else {
                    saved.port
                };
                Some((
                    Current {
                        ctx: SpanContext {
                            trace_id: rd(&cur.ctx.trace_id),
                            span_id: own,
                            parent_id: Some(parent),
                            sampling: cur.ctx.sampling,
                            debug: cur.ctx.debug,
                        },
                        tracer: cur.tracer,
                        service,
                        port,
                    },
                    saved,
                ))
            }
        })
        .ok()
        .flatten()
}

/// What the inlined part of opening a span found.
pub(crate) enum Fast {
    /// A child opened in place in an unsampled trace: its id, and the parent's ids to put back.
    Child(SpanId, Saved),
    /// No span is current.
    NoCurrent,
    /// A sampled span is current (or the thread is exiting): the out-of-line path decides.
    Other,
}

/// Opens a child in place in an unsampled trace: a new id swapped into the current span. Small
/// enough to inline into every instrumented function.
#[inline(always)]
pub(crate) fn enter_unsampled_child() -> Fast {
    use std::ptr::{read_volatile as rd, write_volatile as wr};
    CURRENT
        .try_with(|c| {
            // SAFETY: as in enter_sampled_child.
            let Some(cur) = (unsafe { &mut *c.as_ptr() }) else {
                return Fast::NoCurrent;
            };
            unsafe {
                if rd(&cur.ctx.debug) || rd(&cur.ctx.sampling) == Sampling::Sampled {
                    return Fast::Other;
                }
                let mut parent = rd(&cur.ctx.span_id);
                if parent == SpanId::UNDRAWN && rd(&cur.ctx.trace_id) == TraceId::UNDRAWN {
                    draw_root_ids(cur);
                    parent = rd(&cur.ctx.span_id);
                }
                let saved = Saved {
                    span_id: parent,
                    parent_id: rd(&cur.ctx.parent_id),
                };
                let own = SpanId::random();
                wr(&mut cur.ctx.parent_id, Some(parent));
                wr(&mut cur.ctx.span_id, own);
                Fast::Child(own, saved)
            }
        })
        .unwrap_or(Fast::Other)
}

/// Undoes [`enter_unsampled_child`].
#[inline(always)]
pub(crate) fn restore_ids(saved: &Saved) {
    use std::ptr::{read_volatile as rd, write_volatile as wr};
    let _ = CURRENT.try_with(|c| {
        // SAFETY: as in enter_sampled_child.
        if let Some(cur) = unsafe { &mut *c.as_ptr() } {
            unsafe {
                wr(&mut cur.ctx.span_id, rd(&saved.span_id));
                wr(&mut cur.ctx.parent_id, rd(&saved.parent_id));
            }
        }
    });
}

/// Undoes [`enter_sampled_child`].
#[inline(always)]
pub(crate) fn restore_scope(saved: &SavedScope) {
    use std::ptr::{read_volatile as rd, write_volatile as wr};
    let _ = CURRENT.try_with(|c| {
        // SAFETY: as in enter_sampled_child.
        if let Some(cur) = unsafe { &mut *c.as_ptr() } {
            unsafe {
                wr(&mut cur.ctx.span_id, rd(&saved.ids.span_id));
                wr(&mut cur.ctx.parent_id, rd(&saved.ids.parent_id));
                wr(&mut cur.service, rd(&saved.service));
                wr(&mut cur.port, rd(&saved.port));
            }
        }
    });
}

/// How a future's span was made current for one poll, and how [`swap_out`] undoes it. Plain
/// fields written one by one, not an enum returned by value: the enum's niche layout put the
/// saved fields at odd offsets, and its copies through the stack made loads straddle two
/// stores (store-forwarding stalls, three quarters of an async span's `perf` samples).
pub(crate) struct Swap {
    in_place: bool,
    saved: std::mem::MaybeUninit<SavedScope>,
    prev: Option<Current>,
}

impl Swap {
    #[inline(always)]
    pub(crate) fn new() -> Swap {
        Swap {
            in_place: false,
            saved: std::mem::MaybeUninit::uninit(),
            prev: None,
        }
    }
}

/// Makes `span` current for one poll of the future that carries it (or no span, for `None`).
/// The common case is a child future polled inside its parent's poll: the current span is of
/// the same trace and tracer, so only the fields that can differ (ids, service, port) are
/// swapped, as [`enter_sampled_child`] does for sync spans, instead of copying the whole context in
/// and out of the thread-local on every poll. Either way the current span is then exactly
/// `span`.
#[inline(always)]
pub(crate) fn swap_in(span: Option<&Current>, out: &mut Swap) {
    use std::ptr::{read_volatile as rd, write_volatile as wr};
    let _ = CURRENT.try_with(|c| {
        if let (Some(span), Some(cur)) = (span, unsafe { &mut *c.as_ptr() }) {
            // SAFETY: as in enter_sampled_child.
            unsafe {
                if rd(&cur.ctx.trace_id) == span.ctx.trace_id
                    && rd(&cur.tracer).same(span.tracer)
                    && rd(&cur.ctx.sampling) == span.ctx.sampling
                    && rd(&cur.ctx.debug) == span.ctx.debug
                {
                    out.saved.write(SavedScope {
                        ids: Saved {
                            span_id: rd(&cur.ctx.span_id),
                            parent_id: rd(&cur.ctx.parent_id),
                        },
                        service: rd(&cur.service),
                        port: rd(&cur.port),
                    });
                    out.in_place = true;
                    wr(&mut cur.ctx.span_id, span.ctx.span_id);
                    wr(&mut cur.ctx.parent_id, span.ctx.parent_id);
                    wr(&mut cur.service, span.service);
                    wr(&mut cur.port, span.port);
                    return;
                }
            }
        }
        draw_if_undrawn(c);
        out.prev = c.replace(span.copied());
    });
}

/// Undoes [`swap_in`].
#[inline(always)]
pub(crate) fn swap_out(swap: &Swap) {
    if swap.in_place {
        // SAFETY: written by swap_in before it set `in_place`.
        restore_scope(unsafe { swap.saved.assume_init_ref() });
    } else {
        restore(swap.prev);
    }
}

#[inline]
pub(crate) fn current_inner() -> Option<Current> {
    CURRENT
        .try_with(|c| {
            draw_if_undrawn(c);
            c.get()
        })
        .unwrap_or(None)
}

/// The context of the span current on this thread or task, if any.
///
/// ```
/// assert!(zipkin_runtime::current_context().is_none());
/// ```
#[inline]
pub fn current_context() -> Option<SpanContext> {
    current_inner().map(|c| c.ctx)
}

/// Runs `f` with `ctx` as the current context (as a remote-like parent with the given tracer),
/// restoring the previous one afterwards, even on panic.
pub(crate) fn with_current<R>(cur: Option<Current>, f: impl FnOnce() -> R) -> R {
    struct Restore(Option<Current>);
    impl Drop for Restore {
        fn drop(&mut self) {
            restore(self.0);
        }
    }
    let _restore = Restore(replace(cur));
    f()
}
