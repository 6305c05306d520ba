//! Spans closed out of order: a span that closes while a span opened inside it is still open
//! waits below it, and comes off when that span closes (popping by id, as the `tracing`
//! registry does), so the current span is always the innermost one still open.

use crate::id::{SpanId, TraceId};

use super::slot::{
    forget_closed_below, unwind, with_side, ClosedBelow, Current, Slot, BELOW, MAX_CLOSED_BELOW,
};

/// Closes the span `trace_id`/`span_id` off the fast paths, popping by id: if it is the current
/// span (once undrawn ids are drawn), `restore` becomes current, and then whatever was closed
/// below comes off too ([`unwind`]). If a span opened inside it is still current, it stays
/// current and the closed span waits below it, in `CLOSED_BELOW`. With no span current (a guard
/// that was taken off the slot, such as one held across an `.await`) nothing changes.
pub(super) fn close(s: &mut Slot, trace_id: TraceId, span_id: SpanId, restore: Option<Current>) {
    let Some(cur) = s.current() else {
        return;
    };
    if cur.ctx.trace_id == trace_id && cur.ctx.span_id == span_id {
        s.set(restore);
        if restore.is_none() {
            forget_closed_below(s);
        } else {
            unwind(s);
        }
        return;
    }
    let kept = with_side(|side| {
        let below = &mut side.closed_below;
        if below.len() == MAX_CLOSED_BELOW {
            below.remove(0);
        }
        below.push(ClosedBelow {
            trace_id,
            span_id,
            restore,
        });
        true
    });
    if kept == Some(true) {
        s.state |= BELOW;
    }
}
