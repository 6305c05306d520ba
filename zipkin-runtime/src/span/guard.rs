//! A span open on this thread ([`SpanGuard`]): current until it drops, then reported.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use crate::clock;
use crate::context::{self, Current};
use crate::record::Endpoint;
use crate::span_context::{RemoteContext, SpanContext};
use crate::tracer::Tracer;

use super::builder::SpanBuilder;
use super::live::LiveSpan;
use super::meta::SpanMeta;

/// A span open on this thread: it is the current span until the guard drops, and then reports.
/// For code that cannot use the attribute. It is not `Send`; use [`crate::Span`] to carry a span into
/// a future or another thread.
///
/// ```
/// use zipkin_runtime::{Kind, SpanGuard};
/// let mut span = SpanGuard::builder("checkout").kind(Kind::Client).start();
/// span.tag("items", 3);
/// // ... the work; nested spans become children ...
/// drop(span); // ends and reports the span
/// ```
pub struct SpanGuard {
    /// Set alone by the unsampled paths, apart from `open`, so that the compiler can keep it in
    /// a register instead of writing and reading it back through the stack.
    state: State,
    /// Written (and later dropped or consumed) only when `state` is `State::Open`.
    open: std::mem::MaybeUninit<Open>,
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
    /// A span with a context of its own: `open` holds it.
    Open,
}

/// A guard's span and what to put back.
enum Open {
    /// A sampled child opened in place: the parent's ids, service and port to put back.
    Child(LiveSpan, context::SavedScope),
    /// Any other span (a root, a remote parent): the whole previous current span.
    Entered(LiveSpan, Option<Current>),
}

impl Open {
    #[inline(always)]
    fn span(&self) -> &LiveSpan {
        match self {
            Open::Child(s, _) | Open::Entered(s, _) => s,
        }
    }
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
    ///
    /// Only the unsampled paths are inlined into the instrumented function: a child in an
    /// unsampled trace (counted, its id drawn when first read) and an unsampled local root that
    /// needed no id to decide (a marker). Everything else is a call, which keeps the caller's
    /// frame and register use small for the paths that must cost next to nothing. Because an
    /// unsampled child's ids are drawn on first read, [`SpanGuard::context`] of such a guard is
    /// the current span's: ask it while no span opened inside it is open (the attribute's own
    /// guard is never asked).
    #[doc(hidden)]
    #[inline(always)]
    pub fn from_meta(meta: &'static SpanMeta, parent: Option<RemoteContext>) -> SpanGuard {
        if parent.is_none() {
            match context::enter_unsampled_child() {
                context::Fast::Child => return SpanGuard::unsampled(State::Unsampled),
                context::Fast::NoCurrent => {
                    let tracer = Tracer::current();
                    let rate = match meta.sample_rate {
                        Some(r) => r,
                        None => tracer.config().sample_rate,
                    };
                    // A rate of 0 (or NaN) says no without looking at an id.
                    if rate <= 0.0 || rate.is_nan() {
                        context::enter_unsampled_root(tracer);
                        return SpanGuard::unsampled(State::UnsampledRoot);
                    }
                }
                context::Fast::Other => {}
            }
            return SpanGuard::with(SpanGuard::open_local(meta));
        }
        SpanGuard::with(SpanGuard::open_remote(meta, parent))
    }

    /// A sampled child (opened in place) or a local root.
    #[inline(never)]
    fn open_local(meta: &'static SpanMeta) -> Open {
        if let Some((cur, saved)) =
            context::enter_sampled_child(meta.service_name, meta.port, meta.kind.is_outgoing())
        {
            return Open::Child(
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
            );
        }
        SpanGuard::enter(LiveSpan::from_meta(meta, None))
    }

    /// A span continuing a remote parent. Apart from [`SpanGuard::open_local`] so that a local
    /// span passes no parent (nor builds one on the caller's stack).
    #[inline(never)]
    fn open_remote(meta: &'static SpanMeta, parent: Option<RemoteContext>) -> Open {
        SpanGuard::enter(LiveSpan::from_meta(meta, parent))
    }

    #[inline(always)]
    fn enter(span: LiveSpan) -> Open {
        let prev = context::replace(Some(span.cur));
        Open::Entered(span, prev)
    }

    #[inline(always)]
    fn with(open: Open) -> SpanGuard {
        SpanGuard {
            state: State::Open,
            open: std::mem::MaybeUninit::new(open),
            _not_send: PhantomData,
        }
    }

    #[inline(always)]
    fn unsampled(state: State) -> SpanGuard {
        SpanGuard {
            state,
            open: std::mem::MaybeUninit::uninit(),
            _not_send: PhantomData,
        }
    }

    #[inline(always)]
    fn open_ref(&self) -> Option<&Open> {
        // Benchmark: ours/unsampled_child (the guard's state stays in a register apart from its span).
        // SAFETY: `open` is written whenever the state is `Open`.
        (self.state == State::Open).then(|| unsafe { self.open.assume_init_ref() })
    }

    #[inline]
    fn live(&self) -> Option<&LiveSpan> {
        self.open_ref().map(Open::span)
    }

    /// The span, if it records.
    #[inline]
    fn recording(&mut self) -> Option<&mut LiveSpan> {
        if self.state != State::Open {
            return None;
        }
        // Benchmark: ours/unsampled_child (the guard's state stays in a register apart from its span).
        // SAFETY: as in `open_ref`.
        match unsafe { self.open.assume_init_mut() } {
            Open::Child(s, _) | Open::Entered(s, _) if s.is_recording() => Some(s),
            _ => None,
        }
    }

    /// This span's context.
    pub fn context(&self) -> Option<SpanContext> {
        match self.state {
            State::Open => self.live().map(|s| s.cur.ctx),
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
    /// let mut span = zipkin_runtime::SpanGuard::new("render");
    /// if span.is_recording() {
    ///     span.tag("template", format!("{}/{}", "pages", "index"));
    /// }
    /// ```
    #[inline]
    pub fn is_recording(&self) -> bool {
        self.live().is_some_and(LiveSpan::is_recording)
    }

    /// Sets a tag.
    pub fn tag(
        &mut self,
        key: impl Into<Cow<'static, str>>,
        value: impl fmt::Display,
    ) -> &mut Self {
        if let Some(s) = self.recording() {
            s.set_tag(key.into(), value.to_string());
        }
        self
    }

    /// Sets the `error` tag to the error's Display text.
    pub fn error(&mut self, err: &dyn fmt::Display) -> &mut Self {
        self.tag("error", err)
    }

    /// Adds an annotation at the current time.
    pub fn annotate(&mut self, value: impl Into<Cow<'static, str>>) -> &mut Self {
        if let Some(s) = self.recording() {
            s.annotate(clock::now(), value.into());
        }
        self
    }

    /// Sets the remote endpoint.
    pub fn remote_endpoint(&mut self, endpoint: Endpoint) -> &mut Self {
        if let Some(s) = self.recording() {
            s.extra.get_or_insert_with(Default::default).remote_endpoint = Some(endpoint);
        }
        self
    }
}

impl Drop for SpanGuard {
    #[inline(always)]
    fn drop(&mut self) {
        match self.state {
            // Unsampled: nothing to record, nothing owned.
            State::Unsampled => context::leave_unsampled_child(),
            State::UnsampledRoot => context::leave_root(),
            State::Open => SpanGuard::close(&mut self.open),
        }
    }
}

impl SpanGuard {
    /// Puts the previous span back, then ends and reports this one if it records. Takes only
    /// `open`, so the guard's state never has to live in memory.
    #[inline(never)]
    fn close(open: &mut std::mem::MaybeUninit<Open>) {
        // Benchmark: ours/unsampled_child (the guard's state stays in a register apart from its span).
        // SAFETY: called once, from `drop`, in the `Open` state; `open` is not touched after.
        let span = match unsafe { open.assume_init_mut() } {
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
                span.set_tag(Cow::Borrowed("error"), "panic".to_owned());
            }
            // Takes the name and extras: nothing owned is left to drop.
            span.finish_in_place();
        } else {
            // Benchmark: ours/unsampled_child (the guard's state stays in a register apart from its span).
            // SAFETY: as above. An unrecorded span may still own its name.
            unsafe { open.assume_init_drop() };
        }
    }
}

impl SpanBuilder {
    /// Opens the span and makes it current on this thread.
    pub fn start(self) -> SpanGuard {
        SpanGuard::with(SpanGuard::enter(self.live()))
    }
}
