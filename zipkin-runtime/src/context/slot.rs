//! This thread's current span: a slot with a state word, beside a context written only as far
//! as the state says. Unsampled spans write as little as they can, and the first reader draws
//! the rest ([`Slot::draw`]); see the module `context` for the whole picture.

use std::cell::{RefCell, UnsafeCell};
use std::ptr::addr_of_mut;

use crate::id::{SpanId, TraceId};
use crate::span_context::SpanContext;
use crate::tracer::Tracer;

/// The current span as the runtime keeps it: its context plus what children inherit.
#[derive(Clone, Copy)]
#[repr(C)]
pub(crate) struct Current {
    pub ctx: SpanContext,
    pub tracer: Tracer,
    pub service: &'static str,
    pub port: u16,
    /// A client or producer span: injection sends its own ids, for the other side to join (a
    /// server) or to continue as a child (a consumer). Other spans send a new child id.
    pub outgoing: bool,
}

/// This thread's current span. Unsampled spans write as little as they can: a root opened at
/// rate 0 writes only what its children look at, and an unsampled child only counts itself.
/// The rest is drawn by the first reader (see [`Slot::current`]).
pub(crate) struct Slot {
    /// Written in full while `state` is exactly [`OPEN`]. With [`ROOT_UNDRAWN`] set, only
    /// `ctx.sampling`, `ctx.debug` and `tracer` are.
    pub(super) cur: std::mem::MaybeUninit<Current>,
    /// [`OPEN`], [`ROOT_UNDRAWN`], and in the low bits ([`LAZY`]) the number of unsampled children
    /// opened above `cur` whose ids are not drawn yet.
    pub(super) state: u64,
}

/// What a drawn unsampled child hides of its parent, and the child's own id: the child closes
/// while it is the current span, which is how its entry is found again.
#[derive(Clone, Copy)]
pub(super) struct Hidden {
    pub(super) ids: Saved,
    pub(super) child: SpanId,
}

/// A span is current.
pub(super) const OPEN: u64 = 1 << 63;
/// The current span is an unsampled root whose ids are not drawn yet.
pub(super) const ROOT_UNDRAWN: u64 = 1 << 62;
/// Spans closed out of order wait below the current one, in `CLOSED_BELOW`: whichever close
/// makes one of them current again puts back what that span had replaced ([`unwind`]). Set,
/// it also sends every reader and writer off the fast paths (which require `state == OPEN`).
pub(super) const BELOW: u64 = 1 << 61;
/// Mask of the count of undrawn unsampled children.
pub(super) const LAZY: u64 = u32::MAX as u64;

/// The most spans kept closed below the current one. Only a span whose guard was dropped
/// before a guard opened inside it lands there; entries left by a guard that had already been
/// taken off the slot (one held across an `.await`) are forgotten when the outermost span on the
/// thread closes, and beyond this bound the oldest are.
pub(super) const MAX_CLOSED_BELOW: usize = 64;

// No field of the slot may need dropping: a thread-local with a destructor costs a
// registration check on every access (measured: 26 -> 57 instructions per unsampled root).
const _: () = assert!(!std::mem::needs_drop::<Slot>());

thread_local! {
    static CURRENT: UnsafeCell<Slot> = const {
        UnsafeCell::new(Slot { cur: std::mem::MaybeUninit::uninit(), state: 0 })
    };
    /// What the slot hides, off its fast paths: see [`Side`].
    static SIDE: RefCell<Side> = const {
        RefCell::new(Side { hidden: Vec::new(), closed_below: Vec::new() })
    };
}

/// The slot's rarely used companions.
pub(super) struct Side {
    /// The ids to put back when an unsampled child whose ids were drawn closes, innermost last.
    pub(super) hidden: Vec<Hidden>,
    /// Spans closed while a span opened inside them was still open, oldest first (see
    /// [`BELOW`]).
    pub(super) closed_below: Vec<ClosedBelow>,
}

/// Runs `f` on this thread's [`Side`]; `None` while the thread is exiting, or if `f` re-enters.
pub(super) fn with_side<R>(f: impl FnOnce(&mut Side) -> R) -> Option<R> {
    SIDE.try_with(|s| s.try_borrow_mut().ok().map(|mut s| f(&mut s)))
        .ok()
        .flatten()
}

/// A span closed out of order, and what its close would have made current.
pub(super) struct ClosedBelow {
    pub(super) trace_id: TraceId,
    pub(super) span_id: SpanId,
    pub(super) restore: Option<Current>,
}

/// Runs `f` on this thread's slot; `None` while the thread is exiting.
///
/// An `UnsafeCell` rather than a `RefCell` or `Cell`: a borrow flag's store and check on every
/// span cost more than an unsampled span's whole work, and a `Cell` copies the 72-byte context
/// in and out. Benchmark: ours/unsampled_child.
///
/// # Safety
///
/// `f` must touch this thread's slot only through the `&mut Slot` it is given: it must not call
/// `with_slot` again, directly or through anything that reads or changes the current span
/// (opening or closing a span, `current_context`, injection). The reference must not escape `f`.
#[inline(always)]
pub(super) unsafe fn with_slot<R>(f: impl FnOnce(&mut Slot) -> R) -> Option<R> {
    // SAFETY: the slot is only ever reached on its own thread, through this function, and the
    // caller promises that `f` does not come back here: this is the only reference to it.
    CURRENT.try_with(|c| f(unsafe { &mut *c.get() })).ok()
}

impl Slot {
    /// The current span, its ids drawn first if they were not.
    #[inline(always)]
    pub(super) fn current(&mut self) -> Option<&mut Current> {
        if self.state & OPEN == 0 {
            return None;
        }
        if self.state != OPEN {
            self.draw();
            if self.state & OPEN == 0 {
                return None;
            }
        }
        // Benchmark: ours/unsampled_root (an unsampled root writes four fields; the first reader draws the rest).
        // SAFETY: open with nothing left to draw: every field is written.
        Some(unsafe { self.cur.assume_init_mut() })
    }

    /// The current span, when it is written in full and nothing is left to draw.
    #[inline(always)]
    pub(super) fn drawn(&mut self) -> Option<&mut Current> {
        // Benchmark: ours/unsampled_root (an unsampled root writes four fields; the first reader draws the rest).
        // SAFETY: as in `current`.
        (self.state == OPEN).then(|| unsafe { self.cur.assume_init_mut() })
    }

    /// The current span when it is written in full, whether or not spans wait closed below it.
    #[inline]
    pub(super) fn drawn_below(&mut self) -> Option<&mut Current> {
        // Benchmark: ours/unsampled_root (an unsampled root writes four fields; the first reader draws the rest).
        // SAFETY: as in `current`.
        (self.state & !BELOW == OPEN).then(|| unsafe { self.cur.assume_init_mut() })
    }

    #[inline(always)]
    pub(super) fn get(&mut self) -> Option<Current> {
        self.current().copied()
    }

    /// Makes `cur` current. Spans closed out of order stay recorded below it.
    #[inline(always)]
    pub(super) fn set(&mut self, cur: Option<Current>) {
        let below = self.state & BELOW;
        match cur {
            Some(cur) => {
                self.cur.write(cur);
                self.state = OPEN | below;
            }
            None => self.state = below,
        }
    }

    /// Draws what the current span does not have yet, once, so that every later reader sees
    /// the same ids: the ids of an unsampled root opened by [`enter_unsampled_root`], then
    /// those of the unsampled children counted above it by [`enter_unsampled_child`], outermost
    /// first, each the parent of the next. The ids each child hides are saved for
    /// [`leave_unsampled_child`].
    #[cold]
    #[inline(never)]
    pub(super) fn draw(&mut self) {
        let p = self.cur.as_mut_ptr();
        if self.state & ROOT_UNDRAWN != 0 {
            // Benchmark: ours/unsampled_root (an unsampled root writes four fields; the first reader draws the rest).
            // SAFETY: the root wrote `tracer`; the other fields are written here, by pointer.
            unsafe {
                let tracer = (*p).tracer;
                let (trace_id, span_id) =
                    crate::id::unsampled_root_ids(tracer.config().trace_id_128bit);
                addr_of_mut!((*p).ctx.trace_id).write(trace_id);
                addr_of_mut!((*p).ctx.span_id).write(span_id);
                addr_of_mut!((*p).ctx.parent_id).write(None);
                addr_of_mut!((*p).service).write("");
                addr_of_mut!((*p).port).write(0);
                addr_of_mut!((*p).outgoing).write(false);
            }
        }
        let levels = self.state & LAZY;
        let below = self.state & BELOW;
        self.state = OPEN | below;
        // Benchmark: ours/unsampled_root (an unsampled root writes four fields; the first reader draws the rest).
        // SAFETY: open and written in full.
        let cur = unsafe { self.cur.assume_init_mut() };
        let _ = with_side(|side| {
            let hidden = &mut side.hidden;
            {
                for _ in 0..levels {
                    let child = SpanId::random();
                    hidden.push(Hidden {
                        ids: Saved {
                            span_id: cur.ctx.span_id,
                            parent_id: cur.ctx.parent_id,
                        },
                        child,
                    });
                    cur.ctx.parent_id = Some(cur.ctx.span_id);
                    cur.ctx.span_id = child;
                }
            }
        });
        if below != 0 {
            unwind(self);
        }
    }
}

/// What a child opened in place changes in the current span, and restores when it closes:
/// copying the whole `Current` in and out of TLS costs more than the rest of an unsampled span,
/// and a third of a sampled one (store-forwarding stalls on the wide copies).
#[derive(Clone, Copy)]
pub(crate) struct Saved {
    pub span_id: SpanId,
    pub parent_id: Option<SpanId>,
}

/// What a sampled child also changes: the service and port its children inherit, and whether
/// it is outgoing.
#[derive(Clone, Copy)]
pub(crate) struct SavedScope {
    pub ids: Saved,
    pub service: &'static str,
    pub port: u16,
    pub outgoing: bool,
}

/// While the current span is one that was closed below another, takes it off: what it replaced
/// becomes current, and so on down.
#[cold]
#[inline(never)]
pub(super) fn unwind(s: &mut Slot) {
    if s.state & BELOW == 0 {
        return;
    }
    loop {
        // Drawn ids only: `current` would come back here through `draw`.
        if s.state & OPEN == 0 {
            break;
        }
        if s.state & (ROOT_UNDRAWN | LAZY) != 0 {
            // Spans counted above an undrawn root are open; none of them was closed.
            return;
        }
        // Benchmark: ours/unsampled_root (an unsampled root writes four fields; the first reader draws the rest).
        // SAFETY: open with nothing left to draw: every field is written.
        let cur = unsafe { s.cur.assume_init_ref() };
        let (trace_id, span_id) = (cur.ctx.trace_id, cur.ctx.span_id);
        let found = with_side(|side| {
            let below = &mut side.closed_below;
            let at = below
                .iter()
                .rposition(|c| c.trace_id == trace_id && c.span_id == span_id)?;
            Some(below.remove(at).restore)
        })
        .flatten();
        match found {
            Some(Some(restore)) => s.set(Some(restore)),
            Some(None) => {
                s.set(None);
                break;
            }
            None => break,
        }
    }
    let empty = with_side(|side| side.closed_below.is_empty()).unwrap_or(true);
    if empty || s.state & OPEN == 0 {
        forget_closed_below(s);
    }
}

/// No span is current: none can be waiting below one.
#[inline]
pub(super) fn forget_closed_below(s: &mut Slot) {
    if s.state & BELOW != 0 {
        forget_closed_below_now(s);
    }
}

#[cold]
#[inline(never)]
pub(super) fn forget_closed_below_now(s: &mut Slot) {
    s.state &= !BELOW;
    let _ = with_side(|side| side.closed_below.clear());
}
