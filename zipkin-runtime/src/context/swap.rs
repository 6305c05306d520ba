//! A future's span made current for one poll, and put back after it.

use super::scope::{put_back_scope, restore};
use super::slot::{with_slot, Current, Saved, SavedScope, Slot, OPEN};
use crate::span_context::SpanContext;

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
    let on_slot = |s: &mut Slot| {
        // `current` draws the ids of unsampled spans the poller opened, so that none stay
        // counted above `span` while it is current.
        if let (Some(span), Some(cur)) = (span, s.current()) {
            // Benchmark: ours/async_calling_thread (a child future swaps only the fields that differ on each poll).
            // SAFETY: reads and writes of written fields.
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
                        outgoing: rd(&cur.outgoing),
                    });
                    out.in_place = true;
                    wr(&mut cur.ctx.span_id, span.ctx.span_id);
                    wr(&mut cur.ctx.parent_id, span.ctx.parent_id);
                    wr(&mut cur.service, span.service);
                    wr(&mut cur.port, span.port);
                    wr(&mut cur.outgoing, span.outgoing);
                    return;
                }
            }
        }
        // Written only when a span was current: assigning the `None` of a server's first poll
        // copied a whole context's worth of stack (benchmark: http_layers/server_layer_unsampled).
        if let Some(prev) = s.get() {
            out.prev = Some(prev);
        }
        s.set(span.copied());
    };
    // Benchmark: ours/async_calling_thread (a child future swaps only the fields that differ on each poll).
    // SAFETY: `on_slot` reaches the current span only through the slot it is given.
    unsafe { with_slot(on_slot) };
}

/// [`swap_in`] for a span that is usually entered with nothing current (a server's request):
/// then the span is written whole, inline, and only a span entered inside another takes the
/// call (benchmark: http_layers/server_layer_unsampled, two enters' worth of a call's prologue
/// and epilogue). Futures keep [`swap_in`] inline: theirs is usually the in-place swap
/// (benchmark: ours/async_handoff).
///
/// Returns whether nothing was current, so that [`leave_idle`] may undo it.
#[inline(always)]
pub(crate) fn swap_in_idle_first(span: Option<&Current>, out: &mut Swap) -> bool {
    let on_slot = |s: &mut Slot| {
        let idle = s.state & OPEN == 0;
        if idle {
            s.set(span.copied());
        }
        idle
    };
    // Benchmark: http_layers/server_layer_unsampled (the span written whole when nothing is current).
    // SAFETY: `on_slot` reaches the current span only through the slot it is given.
    let idle = unsafe { with_slot(on_slot) } == Some(true);
    if !idle {
        swap_in_out_of_line(span, out);
    }
    idle
}

/// Undoes a [`swap_in_idle_first`] that found nothing current, when the thread is as it left
/// it: one span current, no undrawn children, nothing closed below. Returns false, changing
/// nothing, otherwise: then [`swap_out`] does it. Inline, so that leaving a span that never
/// records takes no call (benchmark: http_layers/server_layer_unsampled, two leaves a request).
#[inline(always)]
pub(crate) fn leave_idle() -> bool {
    let on_slot = |s: &mut Slot| {
        let plain = s.state == OPEN;
        if plain {
            s.state = 0;
        }
        plain
    };
    // Benchmark: http_layers/server_layer_unsampled (leaving a span that never records takes no call).
    // SAFETY: `on_slot` reaches the current span only through the slot it is given.
    let plain = unsafe { with_slot(on_slot) };
    plain == Some(true)
}

#[inline(never)]
fn swap_in_out_of_line(span: Option<&Current>, out: &mut Swap) {
    swap_in(span, out);
}

/// Undoes [`swap_in`] for the same `span`.
#[inline(always)]
pub(crate) fn swap_out(span: Option<&Current>, swap: &Swap) {
    if swap.in_place {
        // Benchmark: ours/async_calling_thread (a child future swaps only the fields that differ on each poll).
        // SAFETY: written by swap_in before it set `in_place`.
        let saved = unsafe { swap.saved.assume_init_ref() };
        let on_slot = |s: &mut Slot| match (s.drawn(), span) {
            (Some(cur), _) => put_back_scope(cur, saved),
            // A child left counted or open by the poll (a guard held across an `.await`): the
            // poller's span is written whole instead. It is `span` with the saved ids, service
            // and port, since swapping in place needed the same trace, tracer and sampling.
            (None, Some(span)) => swap_out_whole(s, span, saved),
            (None, None) => {}
        };
        // Benchmark: ours/async_calling_thread (a child future swaps only the fields that differ on each poll).
        // SAFETY: `on_slot` reaches the current span only through the slot it is given.
        unsafe { with_slot(on_slot) };
    } else {
        restore(swap.prev);
    }
}

#[cold]
#[inline(never)]
fn swap_out_whole(s: &mut Slot, span: &Current, saved: &SavedScope) {
    s.set(Some(Current {
        ctx: SpanContext {
            span_id: saved.ids.span_id,
            parent_id: saved.ids.parent_id,
            ..span.ctx
        },
        service: saved.service,
        port: saved.port,
        outgoing: saved.outgoing,
        ..*span
    }));
}
