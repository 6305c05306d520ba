//! Entering and leaving the current span, for guards: a whole span made current and put back,
//! a child opened in place (only ids, service and port change), unsampled children counted
//! rather than drawn, and an unsampled root whose ids wait for their first reader.

use std::ptr::{addr_of, addr_of_mut};

use crate::id::{SpanId, TraceId};
use crate::span_context::{Sampling, SpanContext};
use crate::tracer::Tracer;

use super::below::close;
use super::slot::{
    forget_closed_below, unwind, with_side, with_slot, Current, Saved, SavedScope, Slot, LAZY,
    OPEN, ROOT_UNDRAWN,
};

/// Makes `cur` current, returning what was current before.
#[inline]
pub(crate) fn replace(cur: Option<Current>) -> Option<Current> {
    let on_slot = |s: &mut Slot| {
        let prev = s.get();
        s.set(cur);
        prev
    };
    // Benchmark: ours/sampled_calling_thread (a child opened in place changes only ids, service and port).
    // SAFETY: `on_slot` reaches the current span only through the slot it is given.
    unsafe { with_slot(on_slot) }.flatten()
}

/// Makes an unsampled local root current without drawing its ids: most unsampled requests never
/// read them, and drawing and writing a whole context was most of the cost of such a root. Only
/// what a child looks at is written (sampling, debug, tracer); the first reader draws the rest
/// ([`Slot::draw`]). Close with [`leave_root`].
#[inline(always)]
pub(crate) fn enter_unsampled_root(tracer: Tracer) {
    use std::ptr::write_volatile as wr;
    let on_slot = |s: &mut Slot| {
        let p = s.cur.as_mut_ptr();
        // Benchmark: ours/sampled_calling_thread (a child opened in place changes only ids, service and port).
        // SAFETY: writes by pointer into this thread's slot, no reference to `cur` taken.
        unsafe {
            wr(addr_of_mut!((*p).ctx.sampling), Sampling::NotSampled);
            wr(addr_of_mut!((*p).ctx.debug), false);
            wr(addr_of_mut!((*p).tracer), tracer);
            wr(&mut s.state, OPEN | ROOT_UNDRAWN);
        }
    };
    // Benchmark: ours/sampled_calling_thread (a child opened in place changes only ids, service and port).
    // SAFETY: `on_slot` reaches the current span only through the slot it is given.
    unsafe { with_slot(on_slot) };
}

/// Closes a root opened by [`enter_unsampled_root`] (with nothing current before it).
#[inline(always)]
pub(crate) fn leave_root() {
    use std::ptr::{read_volatile as rd, write_volatile as wr};
    let on_slot = |s: &mut Slot| {
        // Benchmark: ours/sampled_calling_thread (a child opened in place changes only ids, service and port).
        // SAFETY: a read and a write of the state through a valid, exclusive reference.
        unsafe {
            if rd(&s.state) == OPEN | ROOT_UNDRAWN {
                wr(&mut s.state, 0);
            } else {
                leave_root_late(s);
            }
        }
    };
    // Benchmark: ours/sampled_calling_thread (a child opened in place changes only ids, service and port).
    // SAFETY: `on_slot` reaches the current span only through the slot it is given.
    unsafe { with_slot(on_slot) };
}

/// [`leave_root`] when the root's ids were drawn, or a span opened inside it is still open.
#[cold]
#[inline(never)]
fn leave_root_late(s: &mut Slot) {
    // The root's span id is its trace id's low half (see `id::unsampled_root_span`).
    let root = s.current().map(|c| {
        let trace_id = c.ctx.trace_id;
        (trace_id, crate::id::unsampled_root_span(trace_id))
    });
    if let Some((trace_id, span_id)) = root {
        close(s, trace_id, span_id, None);
    }
}

/// Runs `f` on the current span in place, without copying it out of the thread-local: copying
/// the 72-byte context out first cost more than the rest of opening a child. Benchmark:
/// ours/sampled_calling_thread.
///
/// # Safety
///
/// `f` must not read or change the current span in any other way (open or close a span, call
/// `current_context`, inject headers): the slot stays borrowed while it runs.
#[inline(always)]
// Benchmark: ours/sampled_calling_thread (a child opened in place changes only ids, service and port).
pub(crate) unsafe fn peek<R>(f: impl FnOnce(&Current) -> R) -> Option<R> {
    // SAFETY: `f` does not come back to the slot (this function's contract).
    let on_slot = |s: &mut Slot| s.current().map(|c| f(c));
    // Benchmark: ours/sampled_calling_thread (a child opened in place changes only ids, service and port).
    // SAFETY: `on_slot` reaches the current span only through the slot it is given.
    unsafe { with_slot(on_slot) }.flatten()
}

/// Restores a value returned by [`replace`].
#[inline]
pub(crate) fn restore(prev: Option<Current>) {
    let on_slot = |s: &mut Slot| {
        s.set(prev);
        if prev.is_none() {
            // Nothing was current before: nothing is below now either.
            forget_closed_below(s);
        }
    };
    // Benchmark: ours/sampled_calling_thread (a child opened in place changes only ids, service and port).
    // SAFETY: `on_slot` reaches the current span only through the slot it is given.
    unsafe { with_slot(on_slot) };
}

/// Closes `own`, a span made current with [`replace`]: puts back `prev`, what it replaced, if
/// it is the current span. If a span opened inside it is still open, `own` is closed below it
/// instead ([`close`]).
#[inline]
pub(crate) fn leave(own: &Current, prev: Option<Current>) {
    leave_ids(own.ctx.trace_id, own.ctx.span_id, prev);
}

/// [`leave`] for the span with these ids.
#[inline]
pub(crate) fn leave_ids(trace_id: TraceId, span_id: SpanId, prev: Option<Current>) {
    let on_slot = |s: &mut Slot| match s.drawn() {
        Some(cur) if cur.ctx.span_id == span_id => {
            s.set(prev);
            if prev.is_none() {
                forget_closed_below(s);
            }
        }
        _ => close_late(s, trace_id, span_id, prev),
    };
    // Benchmark: ours/sampled_calling_thread (a child opened in place changes only ids, service and port).
    // SAFETY: `on_slot` reaches the current span only through the slot it is given.
    unsafe { with_slot(on_slot) };
}

#[cold]
#[inline(never)]
fn close_late(s: &mut Slot, trace_id: TraceId, span_id: SpanId, prev: Option<Current>) {
    close(s, trace_id, span_id, prev);
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
    outgoing: bool,
) -> Option<(Current, SavedScope)> {
    use std::ptr::{read_volatile as rd, write_volatile as wr};
    let on_slot = |s: &mut Slot| {
        // A sampled span is never left undrawn: only unsampled roots and children are.
        let cur = s.drawn()?;
        if !cur.ctx.is_sampled() {
            return None;
        }
        // Benchmark: ours/sampled_calling_thread (a child opened in place changes only ids, service and port).
        // SAFETY: reads and writes of written fields of this thread's current span.
        unsafe {
            let parent = rd(&cur.ctx.span_id);
            let saved = SavedScope {
                ids: Saved {
                    span_id: parent,
                    parent_id: rd(&cur.ctx.parent_id),
                },
                service: rd(&cur.service),
                port: rd(&cur.port),
                outgoing: rd(&cur.outgoing),
            };
            let own = SpanId::random();
            wr(&mut cur.ctx.parent_id, Some(parent));
            wr(&mut cur.ctx.span_id, own);
            wr(&mut cur.outgoing, outgoing);
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
                    outgoing,
                },
                saved,
            ))
        }
    };
    // Benchmark: ours/sampled_calling_thread (a child opened in place changes only ids, service and port).
    // SAFETY: `on_slot` reaches the current span only through the slot it is given.
    unsafe { with_slot(on_slot) }.flatten()
}

/// What the inlined part of opening a span found.
pub(crate) enum Fast {
    /// A child was opened in an unsampled trace.
    Child,
    /// No span is current.
    NoCurrent,
    /// A sampled span is current (or the thread is exiting): the out-of-line path decides.
    Other,
}

/// Opens a child in an unsampled trace by counting it, without drawing its id: most unsampled
/// spans are never read, and the random draw and the writing and restoring of two ids were most
/// of what such a span cost. The first reader of the current span (a context, injection, a
/// captured context) draws the ids of every child counted ([`Slot::draw`]), so the tree it sees
/// is the one a span-by-span draw would have made. Small enough to inline into every
/// instrumented function. Close with [`leave_unsampled_child`], innermost first.
#[inline(always)]
pub(crate) fn enter_unsampled_child() -> Fast {
    use std::ptr::{read_volatile as rd, write_volatile as wr};
    let on_slot = |s: &mut Slot| {
        // Benchmark: ours/sampled_calling_thread (a child opened in place changes only ids, service and port).
        // SAFETY: reads of fields written whenever a span is open (sampling and debug, also by
        // an undrawn root), and a write of the state.
        unsafe {
            let state = rd(&s.state);
            if state & OPEN == 0 {
                return Fast::NoCurrent;
            }
            let p = s.cur.as_ptr();
            if rd(addr_of!((*p).ctx.debug)) || rd(addr_of!((*p).ctx.sampling)) == Sampling::Sampled
            {
                return Fast::Other;
            }
            wr(&mut s.state, state + 1);
            Fast::Child
        }
    };
    // Benchmark: ours/sampled_calling_thread (a child opened in place changes only ids, service and port).
    // SAFETY: `on_slot` reaches the current span only through the slot it is given.
    unsafe { with_slot(on_slot) }.unwrap_or(Fast::Other)
}

/// Closes a child opened by [`enter_unsampled_child`]: uncounts it, or, if its ids were drawn
/// since, puts back the ids it hid.
#[inline(always)]
pub(crate) fn leave_unsampled_child() {
    use std::ptr::{read_volatile as rd, write_volatile as wr};
    let on_slot = |s: &mut Slot| {
        // Benchmark: ours/sampled_calling_thread (a child opened in place changes only ids, service and port).
        // SAFETY: the state is always initialised.
        unsafe {
            let state = rd(&s.state);
            if state & LAZY != 0 {
                wr(&mut s.state, state - 1);
                true
            } else {
                false
            }
        }
    };
    // Benchmark: ours/sampled_calling_thread (a child opened in place changes only ids, service and port).
    // SAFETY: `on_slot` reaches the current span only through the slot it is given.
    if unsafe { with_slot(on_slot) } == Some(false) {
        // Out of the slot's borrow and with no argument: the rare path costs each instrumented
        // function one call instruction, not the slot's address computation too.
        leave_drawn_child_here();
    }
}

/// [`leave_drawn_child`] on this thread's slot.
#[cold]
#[inline(never)]
fn leave_drawn_child_here() {
    // Benchmark: ours/sampled_calling_thread (a child opened in place changes only ids, service and port).
    // SAFETY: `leave_drawn_child` reaches the current span only through the slot it is given.
    unsafe { with_slot(leave_drawn_child) };
}

/// Closes a drawn unsampled child: it is the current span, so its entry is the innermost whose
/// `child` is the current id. Entries above it belong to children that never closed in this
/// scope (a guard held across an `.await` and dropped in another poll) and are discarded;
/// with no entry for the current span (such a guard, dropped later), nothing changes.
#[inline(always)]
fn leave_drawn_child(s: &mut Slot) {
    let Some(cur) = s.drawn_below() else {
        return;
    };
    let current = cur.ctx.span_id;
    let found = with_side(|side| {
        let hidden = &mut side.hidden;
        let at = hidden.iter().rposition(|h| h.child == current)?;
        let entry = hidden[at];
        hidden.truncate(at);
        Some(entry.ids)
    })
    .flatten();
    if let Some(ids) = found {
        cur.ctx.span_id = ids.span_id;
        cur.ctx.parent_id = ids.parent_id;
    }
    unwind(s);
}

/// Undoes [`enter_sampled_child`] for the child `own`, if it is the current span; if a span
/// opened inside it is still open, `own` is closed below it instead ([`close`]).
#[inline(always)]
pub(crate) fn restore_scope(own: &Current, saved: &SavedScope) {
    use std::ptr::read_volatile as rd;
    let on_slot = |s: &mut Slot| {
        if let Some(cur) = s.drawn() {
            // Benchmark: ours/sampled_calling_thread (a child opened in place changes only ids, service and port).
            // SAFETY: reads of initialised fields through valid references.
            if unsafe { rd(&cur.ctx.span_id) == rd(&own.ctx.span_id) } {
                put_back_scope(cur, saved);
                return;
            }
        }
        restore_scope_late(s, own, saved);
    };
    // Benchmark: ours/sampled_calling_thread (a child opened in place changes only ids, service and port).
    // SAFETY: `on_slot` reaches the current span only through the slot it is given.
    unsafe { with_slot(on_slot) };
}

#[cold]
#[inline(never)]
fn restore_scope_late(s: &mut Slot, own: &Current, saved: &SavedScope) {
    // What the child replaced: its parent, which differs only in ids, service and port.
    let parent = Current {
        ctx: SpanContext {
            span_id: saved.ids.span_id,
            parent_id: saved.ids.parent_id,
            ..own.ctx
        },
        service: saved.service,
        port: saved.port,
        outgoing: saved.outgoing,
        ..*own
    };
    close(s, own.ctx.trace_id, own.ctx.span_id, Some(parent));
}

#[inline(always)]
pub(super) fn put_back_scope(cur: &mut Current, saved: &SavedScope) {
    use std::ptr::{read_volatile as rd, write_volatile as wr};
    // Benchmark: ours/sampled_calling_thread (a child opened in place changes only ids, service and port).
    // SAFETY: reads and writes of initialised fields through valid references.
    unsafe {
        wr(&mut cur.ctx.span_id, rd(&saved.ids.span_id));
        wr(&mut cur.ctx.parent_id, rd(&saved.ids.parent_id));
        wr(&mut cur.service, rd(&saved.service));
        wr(&mut cur.port, rd(&saved.port));
        wr(&mut cur.outgoing, rd(&saved.outgoing));
    }
}
