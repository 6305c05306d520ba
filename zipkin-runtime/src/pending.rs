//! Tags, annotations and remote endpoints added through the free functions ([`tag`],
//! [`annotate`], ...), on their way to the span they were meant for: the current span when they
//! were called.
//!
//! - While that span is owned on this thread (a guard, or a future being polled here), they wait
//!   in a thread-local list keyed by its id, and the owner collects them when it closes or after
//!   each poll. Nothing is shared or locked.
//! - A task or thread that runs in a *captured* context (see [`crate::CapturedContext`]) runs in a
//!   span that lives elsewhere. Its calls go to that span's inbox, from any thread, for as long
//!   as the span is open; the span empties the inbox when it finishes and closes it. Whatever
//!   reaches a closed inbox is dropped and counted (`tags_dropped_after_finish` in
//!   [`crate::ReporterMetrics`]), never kept.

use std::borrow::Cow;
use std::cell::RefCell;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::clock;
use crate::context::{self, Current};
use crate::id::SpanId;
use crate::record::Endpoint;
use crate::tag_value::TagValue;
use crate::tracer::Tracer;

/// One thing added to a span through the free functions.
pub(crate) enum Pending {
    Tag(Cow<'static, str>, TagValue),
    Annotation(u64, Cow<'static, str>),
    Remote(Endpoint),
}

/// What a span that collects pending items offers: implemented by the span (`span/live.rs`),
/// so that this module does not depend on it.
pub(crate) trait Collect {
    /// The span's id, which the items are keyed by.
    fn span_id(&self) -> SpanId;
    /// Adds one item to the span.
    fn apply(&mut self, p: Pending);
    /// Where the span keeps the inboxes it gave out.
    fn captures(&mut self) -> &mut Option<Box<Captures>>;
}

/// The inbox of a span captured into a task or thread.
pub(crate) struct Inbox {
    span_id: SpanId,
    tracer: Tracer,
    state: Mutex<InboxState>,
}

#[derive(Default)]
struct InboxState {
    /// Cleared when the span finishes: nothing is kept after.
    closed: bool,
    items: Vec<Pending>,
}

impl Inbox {
    fn lock(&self) -> MutexGuard<'_, InboxState> {
        // The state stays usable after a panic elsewhere: a vector and a flag.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn push(&self, p: Pending) {
        let mut st = self.lock();
        if st.closed {
            drop(st);
            self.tracer.count_dropped_after_finish(1);
        } else {
            st.items.push(p);
        }
    }

    /// Closes the inbox, moving what it holds into `span`.
    fn close_into(&self, span: &mut impl Collect) {
        let items = {
            let mut st = self.lock();
            st.closed = true;
            std::mem::take(&mut st.items)
        };
        for p in items {
            span.apply(p);
        }
    }
}

/// The inboxes a span gave out, closed when it finishes.
#[derive(Default)]
pub(crate) struct Captures(Vec<Arc<Inbox>>);

/// What the thread-local list holds for a span owned on this thread.
enum Entry {
    Item(Pending),
    /// The span was captured into a task or thread: its owner keeps this inbox until it finishes.
    Inbox(Arc<Inbox>),
}

struct Local {
    /// For spans owned on this thread, in the order added.
    pending: Vec<(SpanId, Entry)>,
    /// The inboxes of the captured contexts this thread is running in, innermost last.
    captured: Vec<Arc<Inbox>>,
}

thread_local! {
    // Empty (no allocation) unless the free functions or captured contexts are used.
    static LOCAL: RefCell<Local> = const {
        RefCell::new(Local { pending: Vec::new(), captured: Vec::new() })
    };
}

/// Whether anything added through the free functions waits on this thread for its span (for
/// bridges, `span/entered.rs`: collecting is only worth a lookup of the span when it does).
#[inline]
pub(crate) fn any_pending() -> bool {
    LOCAL
        .try_with(|l| l.try_borrow().map_or(true, |l| !l.pending.is_empty()))
        .unwrap_or(false)
}

/// Sends `p` to the current span, if one is current and sampled.
fn push(p: Pending) {
    let Some(cur) = context::current_inner() else {
        return;
    };
    if !cur.ctx.is_sampled() {
        return;
    }
    let id = cur.ctx.span_id;
    let mut p = Some(p);
    let captured = LOCAL
        .try_with(|l| {
            let mut l = l.try_borrow_mut().ok()?;
            match l.captured.last() {
                Some(inbox) if inbox.span_id == id => Some(inbox.clone()),
                _ => {
                    if let Some(p) = p.take() {
                        l.pending.push((id, Entry::Item(p)));
                    }
                    None
                }
            }
        })
        .ok()
        .flatten();
    // The inbox's lock is taken outside the thread-local's borrow.
    if let (Some(inbox), Some(p)) = (captured, p) {
        inbox.push(p);
    }
}

/// Moves what was added for `span` on this thread into it. Called by the span's owner when it
/// closes and after each poll; the inbox of a capture is kept until the span finishes.
#[inline]
pub(crate) fn collect(span: &mut impl Collect) {
    let _ = LOCAL.try_with(|l| {
        let Ok(mut l) = l.try_borrow_mut() else {
            return;
        };
        if l.pending.is_empty() {
            return;
        }
        collect_from(&mut l.pending, span);
    });
}

#[cold]
#[inline(never)]
fn collect_from(pending: &mut Vec<(SpanId, Entry)>, span: &mut impl Collect) {
    let id = span.span_id();
    // In the order they were added (a repeated tag keeps the last value).
    let mut i = 0;
    while i < pending.len() {
        if pending[i].0 != id {
            i += 1;
            continue;
        }
        match pending.remove(i).1 {
            Entry::Item(p) => span.apply(p),
            Entry::Inbox(inbox) => span
                .captures()
                .get_or_insert_with(Default::default)
                .0
                .push(inbox),
        }
    }
}

/// Empties and closes the inboxes of `span`'s captures: called once, as it finishes.
#[cold]
#[inline(never)]
pub(crate) fn close_inboxes(span: &mut impl Collect) {
    if let Some(inboxes) = span.captures().take() {
        for inbox in inboxes.0.iter() {
            inbox.close_into(span);
        }
    }
}

/// The inbox a capture of `cur` sends to: the one of the captured context this thread runs in,
/// when `cur` is that span; else one the owner on this thread already gave out; else a new one,
/// which the owner collects with the rest. `None` for spans that record nothing.
pub(crate) fn inbox_for_capture(cur: &Current) -> Option<Arc<Inbox>> {
    if !cur.ctx.is_sampled() {
        return None;
    }
    let id = cur.ctx.span_id;
    LOCAL
        .try_with(|l| {
            let mut l = l.try_borrow_mut().ok()?;
            if let Some(inbox) = l.captured.iter().rev().find(|i| i.span_id == id) {
                return Some(inbox.clone());
            }
            let given = l.pending.iter().find_map(|(sid, e)| match e {
                Entry::Inbox(inbox) if *sid == id => Some(inbox.clone()),
                _ => None,
            });
            if given.is_some() {
                return given;
            }
            let inbox = Arc::new(Inbox {
                span_id: id,
                tracer: cur.tracer,
                state: Mutex::new(InboxState::default()),
            });
            l.pending.push((id, Entry::Inbox(inbox.clone())));
            Some(inbox)
        })
        .ok()
        .flatten()
}

/// Runs `f` in a captured context whose span's inbox is `inbox`: the free functions called for
/// that span inside `f` go to the inbox. The inbox is moved in and back, not cloned (a future
/// keeps it between polls).
pub(crate) fn with_inbox<R>(inbox: &mut Option<Arc<Inbox>>, f: impl FnOnce() -> R) -> R {
    let Some(taken) = inbox.take() else {
        return f();
    };
    let mut taken = Some(taken);
    let pushed = LOCAL
        .try_with(|l| match l.try_borrow_mut() {
            Ok(mut l) => {
                l.captured.extend(taken.take());
                true
            }
            Err(_) => false,
        })
        .unwrap_or(false);
    if !pushed {
        // The thread is tearing down its thread-locals: it reports nothing more anyway.
        *inbox = taken;
        return f();
    }
    struct Pop<'a>(&'a mut Option<Arc<Inbox>>);
    impl Drop for Pop<'_> {
        fn drop(&mut self) {
            *self.0 = LOCAL
                .try_with(|l| l.try_borrow_mut().ok()?.captured.pop())
                .ok()
                .flatten();
        }
    }
    let _pop = Pop(inbox);
    f()
}

/// Sets a tag on the current span, if it is sampled. Does nothing outside a span.
///
/// From a task or thread started with [`crate::spawn`], [`crate::spawn_thread`],
/// [`crate::spawn_blocking`] or a [`crate::CapturedContext`], the tag reaches the span that
/// spawned it as long as that span is open; once it has finished, the tag is dropped and counted
/// (`tags_dropped_after_finish`).
///
/// ```
/// # extern crate zipkin_runtime as zipkin_rs;
/// use zipkin_rs::{tag, SpanGuard};
/// let _span = SpanGuard::new("lookup");
/// tag("db.rows", 3);
/// ```
pub fn tag(key: impl Into<Cow<'static, str>>, value: impl fmt::Display) {
    if context::current_is_sampled() {
        push(Pending::Tag(key.into(), TagValue::display(&value)));
    }
}

/// Sets the `error` tag on the current span to `err`'s Display text.
///
/// ```
/// # extern crate zipkin_runtime as zipkin_rs;
/// let _span = zipkin_rs::SpanGuard::new("parse");
/// if let Err(e) = "x".parse::<u8>() {
///     zipkin_rs::record_error(&e);
/// }
/// ```
pub fn record_error(err: &dyn fmt::Display) {
    tag("error", err);
}

/// Adds a timestamped annotation (an event) to the current span. Reaches the span as [`tag`]
/// does.
///
/// ```
/// # extern crate zipkin_runtime as zipkin_rs;
/// let _span = zipkin_rs::SpanGuard::new("upload");
/// zipkin_rs::annotate("cache miss");
/// ```
pub fn annotate(value: impl Into<Cow<'static, str>>) {
    if context::current_is_sampled() {
        push(Pending::Annotation(clock::now(), value.into()));
    }
}

/// Sets the remote endpoint of the current span (the other side of a client or server span).
/// Reaches the span as [`tag`] does.
pub fn set_remote_endpoint(endpoint: Endpoint) {
    if context::current_is_sampled() {
        push(Pending::Remote(endpoint));
    }
}
