//! The span context (ids, sampling, debug) and the current span of this thread or task.
//!
//! The current span is a thread-local slot. Sync guards set it on entry and restore the previous
//! value on exit; futures set it around every poll, so concurrent futures on one thread and tasks
//! that move between threads each see their own parent. Unsampled spans defer drawing their ids
//! to the first reader (see `Slot`), which is what keeps them cheaper than a do-nothing span
//! of other tracers.

pub(crate) mod below;
pub(crate) mod scope;
pub(crate) mod slot;
pub(crate) mod swap;

use std::ptr::addr_of;

use crate::span_context::{Sampling, SpanContext};
use crate::tracer::Tracer;

pub(crate) use scope::{
    enter_sampled_child, enter_unsampled_child, enter_unsampled_root, leave, leave_ids, leave_root,
    leave_unsampled_child, peek, replace, restore, restore_scope, Fast,
};
pub(crate) use slot::{Current, SavedScope};
pub(crate) use swap::{leave_idle, swap_in, swap_in_idle_first, swap_out, Swap};

use slot::{with_slot, Slot, OPEN};

/// Whether the current span records. Reads only sampling and debug, which every open span has
/// written, so it draws no undrawn ids: tagging inside an unsampled span stays free.
#[inline]
pub(crate) fn current_is_sampled() -> bool {
    let on_slot = |s: &mut Slot| {
        let p = s.cur.as_ptr();
        // SAFETY: sampling and debug are written whenever the slot is open.
        s.state & OPEN != 0
            // Benchmark: ours/unsampled_child (the slot is read in place, without a borrow flag).
            && unsafe {
                addr_of!((*p).ctx.debug).read()
                    || addr_of!((*p).ctx.sampling).read() == Sampling::Sampled
            }
    };
    // Benchmark: ours/unsampled_child (the slot is read in place, without a borrow flag).
    // SAFETY: `on_slot` reaches the current span only through the slot it is given.
    unsafe { with_slot(on_slot) }.unwrap_or(false)
}

/// The current span's tracer, without drawing undrawn ids (every open span has written it).
#[inline]
pub(crate) fn current_tracer() -> Option<Tracer> {
    let on_slot = |s: &mut Slot| {
        // Benchmark: ours/unsampled_child (the slot is read in place, without a borrow flag).
        // SAFETY: the tracer is written whenever the slot is open.
        (s.state & OPEN != 0).then(|| unsafe { addr_of!((*s.cur.as_ptr()).tracer).read() })
    };
    // Benchmark: ours/unsampled_child (the slot is read in place, without a borrow flag).
    // SAFETY: `on_slot` reaches the current span only through the slot it is given.
    unsafe { with_slot(on_slot) }.flatten()
}

#[inline]
pub(crate) fn current_inner() -> Option<Current> {
    let on_slot = Slot::get;
    // Benchmark: ours/unsampled_child (the slot is read in place, without a borrow flag).
    // SAFETY: `on_slot` reaches the current span only through the slot it is given.
    unsafe { with_slot(on_slot) }.flatten()
}

/// The context of the span current on this thread or task, if any.
///
/// ```
/// # extern crate zipkin_runtime as zipkin_rs;
/// assert!(zipkin_rs::current_context().is_none());
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
