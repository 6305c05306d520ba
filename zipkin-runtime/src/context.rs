//! The span context (ids, sampling, debug) and the current span of this thread or task.
//!
//! The current span is a thread-local slot. Sync guards set it on entry and restore the previous
//! value on exit; futures set it around every poll, so concurrent futures on one thread and tasks
//! that move between threads each see their own parent. Unsampled spans defer drawing their ids
//! to the first reader (see `Slot`), which is what keeps them cheaper than a do-nothing span
//! of other tracers.

use std::cell::{RefCell, UnsafeCell};
use std::ptr::{addr_of, addr_of_mut};

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
    /// A client or producer span: injection sends its own ids, for the other side to join (a
    /// server) or to continue as a child (a consumer). Other spans send a new child id.
    pub outgoing: bool,
}

/// This thread's current span. Unsampled spans write as little as they can: a root opened at
/// rate 0 writes only what its children look at, and an unsampled child only counts itself.
/// The rest is drawn by the first reader (see [`Slot::current`]).
struct Slot {
    /// Written in full while `state` is exactly [`OPEN`]. With [`ROOT_UNDRAWN`] set, only
    /// `ctx.sampling`, `ctx.debug` and `tracer` are.
    cur: std::mem::MaybeUninit<Current>,
    /// [`OPEN`], [`ROOT_UNDRAWN`], and in the low bits ([`LAZY`]) the number of unsampled children
    /// opened above `cur` whose ids are not drawn yet.
    state: u64,
}

/// What a drawn unsampled child hides of its parent, and the child's own id: the child closes
/// while it is the current span, which is how its entry is found again.
#[derive(Clone, Copy)]
struct Hidden {
    ids: Saved,
    child: SpanId,
}

/// A span is current.
const OPEN: u64 = 1 << 63;
/// The current span is an unsampled root whose ids are not drawn yet.
const ROOT_UNDRAWN: u64 = 1 << 62;
/// Spans closed out of order wait below the current one, in `CLOSED_BELOW`: whichever close
/// makes one of them current again puts back what that span had replaced ([`unwind`]). Set,
/// it also sends every reader and writer off the fast paths (which require `state == OPEN`).
const BELOW: u64 = 1 << 61;
/// Mask of the count of undrawn unsampled children.
const LAZY: u64 = u32::MAX as u64;

/// The most spans kept closed below the current one. Only a span whose guard was dropped
/// before a guard opened inside it lands there; entries left by a guard that had already been
/// taken off the slot (one held across an `.await`) are forgotten when the outermost span on the
/// thread closes, and beyond this bound the oldest are.
const MAX_CLOSED_BELOW: usize = 64;

// No field of the slot may need dropping: a thread-local with a destructor costs a
// registration check on every access (measured: 26 -> 57 instructions per unsampled root).
const _: () = assert!(!std::mem::needs_drop::<Slot>());

thread_local! {
    static CURRENT: UnsafeCell<Slot> = const {
        UnsafeCell::new(Slot { cur: std::mem::MaybeUninit::uninit(), state: 0 })
    };
    /// The ids to put back when an unsampled child whose ids were drawn closes, innermost last.
    static DRAWN_LAZY: RefCell<Vec<Hidden>> = const { RefCell::new(Vec::new()) };
    /// Spans closed while a span opened inside them was still open, oldest first (see [`BELOW`]).
    static CLOSED_BELOW: RefCell<Vec<ClosedBelow>> = const { RefCell::new(Vec::new()) };
}

/// A span closed out of order, and what its close would have made current.
struct ClosedBelow {
    trace_id: TraceId,
    span_id: SpanId,
    restore: Option<Current>,
}

/// Runs `f` on this thread's slot; `None` while the thread is exiting.
#[inline(always)]
fn with_slot<R>(f: impl FnOnce(&mut Slot) -> R) -> Option<R> {
    // SAFETY: the slot is only touched by this thread, through this function, and `f` never
    // re-enters it: no reference into the slot outlives a call.
    CURRENT.try_with(|c| f(unsafe { &mut *c.get() })).ok()
}

impl Slot {
    /// The current span, its ids drawn first if they were not.
    #[inline(always)]
    fn current(&mut self) -> Option<&mut Current> {
        if self.state & OPEN == 0 {
            return None;
        }
        if self.state != OPEN {
            self.draw();
            if self.state & OPEN == 0 {
                return None;
            }
        }
        // SAFETY: open with nothing left to draw: every field is written.
        Some(unsafe { self.cur.assume_init_mut() })
    }

    /// The current span, when it is written in full and nothing is left to draw.
    #[inline(always)]
    fn drawn(&mut self) -> Option<&mut Current> {
        // SAFETY: as in `current`.
        (self.state == OPEN).then(|| unsafe { self.cur.assume_init_mut() })
    }

    /// The current span when it is written in full, whether or not spans wait closed below it.
    #[inline]
    fn drawn_below(&mut self) -> Option<&mut Current> {
        // SAFETY: as in `current`.
        (self.state & !BELOW == OPEN).then(|| unsafe { self.cur.assume_init_mut() })
    }

    #[inline(always)]
    fn get(&mut self) -> Option<Current> {
        self.current().copied()
    }

    /// Makes `cur` current. Spans closed out of order stay recorded below it.
    #[inline(always)]
    fn set(&mut self, cur: Option<Current>) {
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
    fn draw(&mut self) {
        let p = self.cur.as_mut_ptr();
        if self.state & ROOT_UNDRAWN != 0 {
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
        // SAFETY: open and written in full.
        let cur = unsafe { self.cur.assume_init_mut() };
        let _ = DRAWN_LAZY.try_with(|hidden| {
            if let Ok(mut hidden) = hidden.try_borrow_mut() {
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

/// Makes `cur` current, returning what was current before.
#[inline]
pub(crate) fn replace(cur: Option<Current>) -> Option<Current> {
    with_slot(|s| {
        let prev = s.get();
        s.set(cur);
        prev
    })
    .flatten()
}

/// Makes an unsampled local root current without drawing its ids: most unsampled requests never
/// read them, and drawing and writing a whole context was most of the cost of such a root. Only
/// what a child looks at is written (sampling, debug, tracer); the first reader draws the rest
/// ([`Slot::draw`]). Close with [`leave_root`].
#[inline(always)]
pub(crate) fn enter_unsampled_root(tracer: Tracer) {
    use std::ptr::write_volatile as wr;
    with_slot(|s| {
        let p = s.cur.as_mut_ptr();
        // SAFETY: writes by pointer into this thread's slot, no reference to `cur` taken.
        unsafe {
            wr(addr_of_mut!((*p).ctx.sampling), Sampling::NotSampled);
            wr(addr_of_mut!((*p).ctx.debug), false);
            wr(addr_of_mut!((*p).tracer), tracer);
            wr(&mut s.state, OPEN | ROOT_UNDRAWN);
        }
    });
}

/// Closes a root opened by [`enter_unsampled_root`] (with nothing current before it).
#[inline(always)]
pub(crate) fn leave_root() {
    use std::ptr::{read_volatile as rd, write_volatile as wr};
    with_slot(|s| {
        // SAFETY: a read and a write of the state through a valid, exclusive reference.
        unsafe {
            if rd(&s.state) == OPEN | ROOT_UNDRAWN {
                wr(&mut s.state, 0);
            } else {
                leave_root_late(s);
            }
        }
    });
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

/// Runs `f` on the current span in place, without copying it out of the thread-local. `f` must
/// not open or close spans.
#[inline(always)]
pub(crate) fn peek<R>(f: impl FnOnce(&Current) -> R) -> Option<R> {
    with_slot(|s| s.current().map(|c| f(c))).flatten()
}

/// Restores a value returned by [`replace`].
#[inline]
pub(crate) fn restore(prev: Option<Current>) {
    with_slot(|s| {
        s.set(prev);
        if prev.is_none() {
            // Nothing was current before: nothing is below now either.
            forget_closed_below(s);
        }
    });
}

/// Closes `own`, a span made current with [`replace`]: puts back `prev`, what it replaced, if
/// it is the current span. If a span opened inside it is still open, `own` is closed below it
/// instead ([`close`]).
#[inline]
pub(crate) fn leave(own: &Current, prev: Option<Current>) {
    with_slot(|s| match s.drawn() {
        Some(cur) if cur.ctx.span_id == own.ctx.span_id => {
            s.set(prev);
            if prev.is_none() {
                forget_closed_below(s);
            }
        }
        _ => close_late(s, own, prev),
    });
}

#[cold]
#[inline(never)]
fn close_late(s: &mut Slot, own: &Current, prev: Option<Current>) {
    close(s, own.ctx.trace_id, own.ctx.span_id, prev);
}

/// Closes the span `trace_id`/`span_id` off the fast paths, popping by id: if it is the current
/// span (once undrawn ids are drawn), `restore` becomes current, and then whatever was closed
/// below comes off too ([`unwind`]). If a span opened inside it is still current, it stays
/// current and the closed span waits below it, in `CLOSED_BELOW`. With no span current (a guard
/// that was taken off the slot, such as one held across an `.await`) nothing changes.
fn close(s: &mut Slot, trace_id: TraceId, span_id: SpanId, restore: Option<Current>) {
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
    let kept = CLOSED_BELOW.try_with(|below| {
        let Ok(mut below) = below.try_borrow_mut() else {
            return false;
        };
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
    if kept == Ok(true) {
        s.state |= BELOW;
    }
}

/// While the current span is one that was closed below another, takes it off: what it replaced
/// becomes current, and so on down.
#[cold]
#[inline(never)]
fn unwind(s: &mut Slot) {
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
        // SAFETY: open with nothing left to draw: every field is written.
        let cur = unsafe { s.cur.assume_init_ref() };
        let (trace_id, span_id) = (cur.ctx.trace_id, cur.ctx.span_id);
        let found = CLOSED_BELOW
            .try_with(|below| {
                let mut below = below.try_borrow_mut().ok()?;
                let at = below
                    .iter()
                    .rposition(|c| c.trace_id == trace_id && c.span_id == span_id)?;
                Some(below.remove(at).restore)
            })
            .ok()
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
    let empty = CLOSED_BELOW
        .try_with(|below| below.try_borrow().is_ok_and(|b| b.is_empty()))
        .unwrap_or(true);
    if empty || s.state & OPEN == 0 {
        forget_closed_below(s);
    }
}

/// No span is current: none can be waiting below one.
#[inline]
fn forget_closed_below(s: &mut Slot) {
    if s.state & BELOW != 0 {
        forget_closed_below_now(s);
    }
}

#[cold]
#[inline(never)]
fn forget_closed_below_now(s: &mut Slot) {
    s.state &= !BELOW;
    let _ = CLOSED_BELOW.try_with(|below| {
        if let Ok(mut below) = below.try_borrow_mut() {
            below.clear();
        }
    });
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
    with_slot(|s| {
        // A sampled span is never left undrawn: only unsampled roots and children are.
        let cur = s.drawn()?;
        if !cur.ctx.is_sampled() {
            return None;
        }
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
    })
    .flatten()
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
    with_slot(|s| {
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
    })
    .unwrap_or(Fast::Other)
}

/// Closes a child opened by [`enter_unsampled_child`]: uncounts it, or, if its ids were drawn
/// since, puts back the ids it hid.
#[inline(always)]
pub(crate) fn leave_unsampled_child() {
    use std::ptr::{read_volatile as rd, write_volatile as wr};
    with_slot(|s| {
        // SAFETY: the state is always initialised.
        unsafe {
            let state = rd(&s.state);
            if state & LAZY != 0 {
                wr(&mut s.state, state - 1);
            } else {
                leave_drawn_child(s);
            }
        }
    });
}

/// Closes a drawn unsampled child: it is the current span, so its entry is the innermost whose
/// `child` is the current id. Entries above it belong to children that never closed in this
/// scope (a guard held across an `.await` and dropped in another poll) and are discarded;
/// with no entry for the current span (such a guard, dropped later), nothing changes.
#[cold]
#[inline(never)]
fn leave_drawn_child(s: &mut Slot) {
    let Some(cur) = s.drawn_below() else {
        return;
    };
    let current = cur.ctx.span_id;
    let found = DRAWN_LAZY
        .try_with(|hidden| {
            let mut hidden = hidden.try_borrow_mut().ok()?;
            let at = hidden.iter().rposition(|h| h.child == current)?;
            let entry = hidden[at];
            hidden.truncate(at);
            Some(entry.ids)
        })
        .ok()
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
    with_slot(|s| {
        if let Some(cur) = s.drawn() {
            // SAFETY: reads of initialised fields through valid references.
            if unsafe { rd(&cur.ctx.span_id) == rd(&own.ctx.span_id) } {
                put_back_scope(cur, saved);
                return;
            }
        }
        restore_scope_late(s, own, saved);
    });
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
fn put_back_scope(cur: &mut Current, saved: &SavedScope) {
    use std::ptr::{read_volatile as rd, write_volatile as wr};
    // SAFETY: reads and writes of initialised fields through valid references.
    unsafe {
        wr(&mut cur.ctx.span_id, rd(&saved.ids.span_id));
        wr(&mut cur.ctx.parent_id, rd(&saved.ids.parent_id));
        wr(&mut cur.service, rd(&saved.service));
        wr(&mut cur.port, rd(&saved.port));
        wr(&mut cur.outgoing, rd(&saved.outgoing));
    }
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
    with_slot(|s| {
        // `current` draws the ids of unsampled spans the poller opened, so that none stay
        // counted above `span` while it is current.
        if let (Some(span), Some(cur)) = (span, s.current()) {
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
        out.prev = s.get();
        s.set(span.copied());
    });
}

/// Undoes [`swap_in`] for the same `span`.
#[inline(always)]
pub(crate) fn swap_out(span: Option<&Current>, swap: &Swap) {
    if swap.in_place {
        // SAFETY: written by swap_in before it set `in_place`.
        let saved = unsafe { swap.saved.assume_init_ref() };
        with_slot(|s| match (s.drawn(), span) {
            (Some(cur), _) => put_back_scope(cur, saved),
            // A child left counted or open by the poll (a guard held across an `.await`): the
            // poller's span is written whole instead. It is `span` with the saved ids, service
            // and port, since swapping in place needed the same trace, tracer and sampling.
            (None, Some(span)) => swap_out_whole(s, span, saved),
            (None, None) => {}
        });
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

/// Whether the current span records. Reads only sampling and debug, which every open span has
/// written, so it draws no undrawn ids: tagging inside an unsampled span stays free.
#[inline]
pub(crate) fn current_is_sampled() -> bool {
    with_slot(|s| {
        let p = s.cur.as_ptr();
        // SAFETY: sampling and debug are written whenever the slot is open.
        s.state & OPEN != 0
            && unsafe {
                addr_of!((*p).ctx.debug).read()
                    || addr_of!((*p).ctx.sampling).read() == Sampling::Sampled
            }
    })
    .unwrap_or(false)
}

/// The current span's tracer, without drawing undrawn ids (every open span has written it).
#[inline]
pub(crate) fn current_tracer() -> Option<Tracer> {
    with_slot(|s| {
        // SAFETY: the tracer is written whenever the slot is open.
        (s.state & OPEN != 0).then(|| unsafe { addr_of!((*s.cur.as_ptr()).tracer).read() })
    })
    .flatten()
}

#[inline]
pub(crate) fn current_inner() -> Option<Current> {
    with_slot(Slot::get).flatten()
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
