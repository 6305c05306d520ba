//! A span open on this thread ([`SpanGuard`]): current until it drops, then reported.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;
use std::mem::MaybeUninit;

use crate::clock;
use crate::context;
use crate::span_context::{RemoteContext, SpanContext};
use crate::tracer::Tracer;

use super::builder::SpanBuilder;
use super::frames::{self, Open};
use super::live::LiveSpan;
use super::meta::SpanMeta;
use super::recording::recording_methods;

/// A span open on this thread: it is the current span until the guard drops, and then reports.
/// For code that cannot use the attribute. It is not `Send`; use [`crate::Span`] to carry a span into
/// a future or another thread.
///
/// ```
/// # extern crate zipkin_runtime as zipkin_rs;
/// use zipkin_rs::{Kind, SpanGuard};
/// let mut span = SpanGuard::builder("checkout").kind(Kind::Client).start();
/// span.tag("items", 3);
/// // ... the work; nested spans become children ...
/// drop(span); // ends and reports the span
/// ```
pub struct SpanGuard {
    /// Set alone by the unsampled paths, so that the compiler can keep it in a register.
    state: State,
    /// With `State::Framed`, the frame of this thread's stack that holds the span.
    frame: u32,
    /// With `State::Boxed` (guards nested deeper than the stack of frames), the span. Not an
    /// `Option`: a field with drop glue would be checked on every guard's drop, unsampled ones
    /// included (+34 instructions an unsampled child).
    boxed: MaybeUninit<Box<Open>>,
    _not_send: PhantomData<*const ()>,
}

/// What a guard is, and how it puts the current span back when it drops. The unsampled states
/// hold no span, so dropping them is a restore and nothing else.
#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    /// An unsampled child, counted in the current span (`context::enter_unsampled_child`).
    Unsampled,
    /// An unsampled local root opened with nothing current before it (see
    /// `context::enter_unsampled_root`).
    UnsampledRoot,
    /// A span with a context of its own, in frame `frame` of this thread's stack.
    Framed,
    /// A span with a context of its own, in `boxed`.
    Boxed,
}

impl fmt::Debug for SpanGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SpanGuard")
            .field("context", &self.context())
            .field("recording", &self.is_recording())
            .finish()
    }
}

impl SpanGuard {
    /// Opens a local span with this name as a child of the current span, or a new root.
    pub fn new(name: impl Into<Cow<'static, str>>) -> SpanGuard {
        SpanBuilder::new(name.into()).start()
    }

    /// A builder for kind, service, port, sample rate and remote parent.
    pub fn builder(name: impl Into<Cow<'static, str>>) -> SpanBuilder {
        SpanBuilder::new(name.into())
    }

    /// Opens the span described by a macro's static metadata: what `#[zipkin_span]` expands to.
    /// Use [`SpanGuard::new`] or [`SpanGuard::builder`] in code.
    #[doc(hidden)]
    #[inline(always)]
    pub fn from_meta(meta: &'static SpanMeta, parent: Option<RemoteContext>) -> SpanGuard {
        match parent {
            None => SpanGuard::local(meta),
            Some(parent) => SpanGuard::remote(meta, parent),
        }
    }

    /// What `#[zipkin_span]` without `parent` expands to: a child of the current span, or a
    /// root.
    ///
    /// Only the unsampled child's path is inlined into the instrumented function: a child in an
    /// unsampled trace is counted, its id drawn when first read. Everything else is a call,
    /// which keeps the caller's code, frame and register use small. In a debug
    /// build nothing is inlined, so that a recursive function's frames stay small. Because an
    /// unsampled child's ids are drawn on first read, [`SpanGuard::context`] of such a guard is
    /// the current span's: ask it while no span opened inside it is open (the attribute's own
    /// guard is never asked).
    #[doc(hidden)]
    #[cfg_attr(debug_assertions, inline(never))]
    #[cfg_attr(not(debug_assertions), inline(always))]
    pub fn local(meta: &'static SpanMeta) -> SpanGuard {
        match context::enter_unsampled_child() {
            context::Fast::Child => SpanGuard::unsampled(State::Unsampled),
            context::Fast::NoCurrent if SpanGuard::enter_unsampled_root(meta) => {
                SpanGuard::unsampled(State::UnsampledRoot)
            }
            _ => SpanGuard::open_local(meta),
        }
    }

    /// With nothing current: makes this thread's current span an unsampled root marker and
    /// returns true when the rate says no without an id. Out of line (inlined, the tracer
    /// lookup and the rate test doubled the code `#[zipkin_span]` adds to each function), and
    /// answering in a register, so that the guard is still built inline.
    #[inline(never)]
    fn enter_unsampled_root(meta: &'static SpanMeta) -> bool {
        let tracer = Tracer::current();
        let rate = match meta.sample_rate {
            Some(r) => r,
            None => tracer.config().sample_rate,
        };
        // A rate of 0 (or NaN) says no without looking at an id.
        if rate <= 0.0 || rate.is_nan() {
            context::enter_unsampled_root(tracer);
            return true;
        }
        false
    }

    /// What `#[zipkin_span(parent = ..)]` expands to: a span continuing a remote caller.
    #[doc(hidden)]
    #[inline(never)]
    pub fn remote(meta: &'static SpanMeta, parent: RemoteContext) -> SpanGuard {
        SpanGuard::with(|frame| {
            frame.write(SpanGuard::enter(LiveSpan::from_meta(meta, Some(parent))));
        })
    }

    /// A sampled child (opened in place) or a local root. A call of its own, so that
    /// `open_slow` stays small for the unsampled root (no registers to save).
    #[inline(never)]
    fn open_local(meta: &'static SpanMeta) -> SpanGuard {
        SpanGuard::with(|frame| SpanGuard::write_local(meta, frame))
    }

    /// Inlined by hand: as the closure of two callers (a frame, a box) it was left as a call.
    #[inline(always)]
    fn write_local(meta: &'static SpanMeta, frame: &mut MaybeUninit<Open>) {
        match context::enter_sampled_child(meta.service_name, meta.port, meta.kind.is_outgoing()) {
            Some((cur, saved)) => {
                frame.write(Open::Child(
                    LiveSpan {
                        cur,
                        name: Cow::Borrowed(meta.name),
                        kind: meta.kind,
                        shared: false,
                        local_root: false,
                        start: clock::now(),
                        extra: None,
                        captured: None,
                    },
                    saved,
                ));
            }
            None => SpanGuard::open_root(meta, frame),
        }
    }

    /// A local root, or a child of a span current on this thread that is not sampled, written
    /// into `frame`: out of line, so that its code stays out of the sampled child's path.
    #[inline(never)]
    fn open_root(meta: &'static SpanMeta, frame: &mut MaybeUninit<Open>) {
        frame.write(SpanGuard::enter(LiveSpan::from_meta(meta, None)));
    }

    #[inline(always)]
    fn enter(span: LiveSpan) -> Open {
        let prev = context::replace(Some(span.cur));
        Open::Entered(span, prev)
    }

    /// The guard of the span `build` writes in this thread's next frame (or in a box). `build`
    /// has one call site, so that it is inlined.
    #[inline(always)]
    fn with(build: impl FnOnce(&mut MaybeUninit<Open>)) -> SpanGuard {
        let (state, frame, slot) = match frames::reserve() {
            Some((frame, slot)) => (State::Framed, frame, slot),
            None => (State::Boxed, 0, SpanGuard::new_box()),
        };
        // Benchmark: ours/sampled_calling_thread (the span is built straight into its frame).
        // SAFETY: `slot` is the frame just reserved on this thread (its stack never moves) or
        // a fresh box: nothing else refers to it.
        build(unsafe { &mut *slot });
        let boxed = match state {
            // Benchmark: ours/sampled_calling_thread (the span is built straight into its
            // frame).
            // SAFETY: `slot` came from `Box::into_raw` in `new_box`, and `build` wrote the span.
            State::Boxed => MaybeUninit::new(unsafe { Box::from_raw(slot.cast::<Open>()) }),
            _ => MaybeUninit::uninit(),
        };
        SpanGuard {
            state,
            frame,
            boxed,
            _not_send: PhantomData,
        }
    }

    /// Room for a span nested deeper than the stack of frames.
    #[cold]
    #[inline(never)]
    fn new_box() -> *mut MaybeUninit<Open> {
        Box::into_raw(Box::new(MaybeUninit::uninit()))
    }

    #[inline(always)]
    fn unsampled(state: State) -> SpanGuard {
        SpanGuard {
            state,
            frame: 0,
            boxed: MaybeUninit::uninit(),
            _not_send: PhantomData,
        }
    }

    /// The guard's span and what it restores, if it has one.
    #[inline]
    fn open_mut(&mut self) -> Option<&mut Open> {
        match self.state {
            // Benchmark: ours/sampled_calling_thread (the guard reaches its span by index).
            // SAFETY: a framed guard's frame holds its span until the guard drops; the guard
            // is not `Send`, so this is the thread that reserved it, and `&mut self` is the
            // only way to it.
            State::Framed => frames::frame(self.frame).map(|p| unsafe { &mut *p }),
            // Benchmark: ours/unsampled_child (no drop glue on every guard).
            // SAFETY: `boxed` is written whenever the state is `Boxed`.
            State::Boxed => Some(unsafe { self.boxed.assume_init_mut() }),
            State::Unsampled | State::UnsampledRoot => None,
        }
    }

    #[inline]
    fn live(&self) -> Option<&LiveSpan> {
        match self.state {
            // Benchmark: ours/sampled_calling_thread (the guard reaches its span by index).
            // SAFETY: as in `open_mut`; a shared reference, while `&self` keeps `open_mut`
            // from making another.
            State::Framed => frames::frame(self.frame).map(|p| unsafe { &*p }.span()),
            // Benchmark: ours/unsampled_child (no drop glue on every guard).
            // SAFETY: `boxed` is written whenever the state is `Boxed`.
            State::Boxed => Some(unsafe { self.boxed.assume_init_ref() }.span()),
            State::Unsampled | State::UnsampledRoot => None,
        }
    }

    /// The span, if it records.
    #[inline]
    fn recording(&mut self) -> Option<&mut LiveSpan> {
        self.open_mut()
            .map(Open::span_mut)
            .filter(|s| s.is_recording())
    }

    /// This span's context.
    pub fn context(&self) -> Option<SpanContext> {
        match self.state {
            State::Framed | State::Boxed => self.live().map(|s| s.cur.ctx),
            // Its ids are drawn on this first read. It is the current span unless a span opened
            // inside it is still open; the attribute's guard is never read there.
            State::Unsampled => context::current_context(),
            // The root's ids may have been drawn by a reader since it opened, and a child may
            // be current now: the root's span id is its trace id's low half.
            State::UnsampledRoot => context::current_context().map(|c| SpanContext {
                span_id: crate::id::unsampled_root_span(c.trace_id),
                parent_id: None,
                ..c
            }),
        }
    }

    /// Whether this span is sampled, so that tags and annotations are kept. Check it before
    /// computing an expensive tag value.
    ///
    /// ```
    /// # extern crate zipkin_runtime as zipkin_rs;
    /// let mut span = zipkin_rs::SpanGuard::new("render");
    /// if span.is_recording() {
    ///     span.tag("template", format!("{}/{}", "pages", "index"));
    /// }
    /// ```
    #[inline]
    pub fn is_recording(&self) -> bool {
        self.live().is_some_and(LiveSpan::is_recording)
    }
}

recording_methods!(SpanGuard);

impl Drop for SpanGuard {
    #[cfg_attr(debug_assertions, inline(never))]
    #[cfg_attr(not(debug_assertions), inline(always))]
    fn drop(&mut self) {
        match self.state {
            // Unsampled: nothing to record, nothing owned.
            State::Unsampled => context::leave_unsampled_child(),
            _ => self.close_slow(),
        }
    }
}

impl SpanGuard {
    /// Closes any guard but an unsampled child's. One call at the drop site, whatever the
    /// state, so that each instrumented function carries one branch and one call for it.
    #[inline(never)]
    fn close_slow(&mut self) {
        match self.state {
            State::UnsampledRoot => context::leave_root(),
            State::Boxed => SpanGuard::close_boxed(&mut self.boxed),
            _ => SpanGuard::close_frame(self.frame),
        }
    }

    /// Closes the span in frame `i`, then frees the frame.
    #[inline(never)]
    fn close_frame(i: u32) {
        if let Some(p) = frames::frame(i) {
            // Benchmark: ours/sampled_calling_thread (the guard reaches its span by index).
            // SAFETY: called once, from `drop`, for a framed guard: the frame holds its span,
            // on this thread, and nothing else refers to it.
            SpanGuard::close(unsafe { &mut *p });
            // Benchmark: ours/sampled_calling_thread (the guard reaches its span by index).
            // SAFETY: `close` moved the span out or dropped it; the frame is this guard's.
            unsafe { frames::free(i) };
        }
    }

    /// Closes a boxed span (a guard nested deeper than the stack of frames).
    #[cold]
    #[inline(never)]
    fn close_boxed(boxed: &mut MaybeUninit<Box<Open>>) {
        // Benchmark: ours/unsampled_child (no drop glue on every guard).
        // SAFETY: called once, from `drop`, for a boxed guard: `boxed` is written, and read
        // here only.
        let mut open = unsafe { boxed.assume_init_read() };
        SpanGuard::close(&mut open);
    }

    /// Puts the previous span back, then ends and reports this one if it records. Leaves
    /// nothing owned in `open`: its name and extras are taken, or dropped in place.
    #[inline(always)]
    fn close(open: &mut Open) {
        let span = match open {
            Open::Child(span, saved) => {
                context::restore_scope(&span.cur, saved);
                span
            }
            Open::Entered(span, prev) => {
                context::leave(&span.cur, *prev);
                span
            }
        };
        if span.is_recording() {
            span.take_pending();
            if std::thread::panicking() {
                span.set_tag(Cow::Borrowed("error"), "panic".into());
            }
            // Takes the name and extras: nothing owned is left to drop.
            span.finish_in_place();
        } else {
            // An unrecorded span may still own its name.
            span.name = Cow::Borrowed("");
        }
    }
}

impl SpanBuilder {
    /// Opens the span and makes it current on this thread.
    pub fn start(self) -> SpanGuard {
        let span = self.live();
        SpanGuard::with(|frame| {
            frame.write(SpanGuard::enter(span));
        })
    }
}
