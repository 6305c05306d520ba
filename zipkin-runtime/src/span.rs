//! Spans: opening one (root, child or server continuing a caller), the sync guard, the
//! detached `Span` that futures carry, tags and annotations, and the record a finished span becomes.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;
use std::net::IpAddr;

use crate::clock;
use crate::context::{self, Current, RemoteContext, Sampling, SpanContext};
use crate::id::{SpanId, TraceId};
use crate::pending::{self, Captures};
use crate::tracer::Tracer;

/// The Zipkin span kind. `Local` is written as an absent `kind`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Kind {
    /// In-process work.
    #[default]
    Local,
    /// The caller side of a remote call.
    Client,
    /// The callee side of a remote call.
    Server,
    /// Sends a message to a broker.
    Producer,
    /// Receives a message from a broker.
    Consumer,
}

impl Kind {
    /// Client and producer spans: the side of a call or message that sends it.
    #[inline]
    pub(crate) fn is_outgoing(self) -> bool {
        matches!(self, Kind::Client | Kind::Producer)
    }

    /// Zipkin's upper-case name; `None` for local spans.
    pub fn as_zipkin_str(self) -> Option<&'static str> {
        match self {
            Kind::Local => None,
            Kind::Client => Some("CLIENT"),
            Kind::Server => Some("SERVER"),
            Kind::Producer => Some("PRODUCER"),
            Kind::Consumer => Some("CONSUMER"),
        }
    }
}

/// What `#[zipkin_span]` knows at compile time about a span. The macro emits one `static` of
/// this per function, so opening a span passes a single pointer.
#[derive(Debug)]
pub struct SpanMeta {
    /// The span name.
    pub name: &'static str,
    /// The local service; `None` inherits the parent's, or the tracer's default at a root.
    pub service_name: Option<&'static str>,
    /// The span kind.
    pub kind: Kind,
    /// The local endpoint port; 0 inherits.
    pub port: u16,
    /// Sample rate in percent for a new trace started here; `None` uses the tracer's.
    pub sample_rate: Option<f64>,
}

impl SpanMeta {
    /// A local span with the given name and nothing else set.
    pub const fn new(name: &'static str) -> SpanMeta {
        SpanMeta {
            name,
            service_name: None,
            kind: Kind::Local,
            port: 0,
            sample_rate: None,
        }
    }
}

/// A network endpoint, as Zipkin's `Endpoint`.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Endpoint {
    /// Lower-cased service name.
    pub service_name: Option<Cow<'static, str>>,
    /// IPv4 or IPv6 address.
    pub ip: Option<IpAddr>,
    /// Port; 0 means absent.
    pub port: u16,
}

/// Rarely used parts of a span, boxed so that a span without them stays small.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Extra {
    /// Tags in insertion order; a repeated key keeps the last value.
    pub tags: Vec<(Cow<'static, str>, String)>,
    /// Annotations: (tick reading, value).
    pub annotations: Vec<(u64, Cow<'static, str>)>,
    /// The other side of a client or server span.
    pub remote_endpoint: Option<Endpoint>,
}

impl Extra {
    fn set_tag(&mut self, key: Cow<'static, str>, value: String) {
        if let Some(slot) = self.tags.iter_mut().find(|(k, _)| *k == key) {
            slot.1 = value;
        } else {
            self.tags.push((key, value));
        }
    }
}

/// A finished span, as it travels from the application thread to the reporter.
/// Times are raw clock ticks; the encoder converts them off the hot path.
#[derive(Clone, Debug, PartialEq)]
pub struct SpanRecord {
    /// Trace id.
    pub trace_id: TraceId,
    /// Span id.
    pub span_id: SpanId,
    /// Parent span id; `None` for a root.
    pub parent_id: Option<SpanId>,
    /// Span name.
    pub name: Cow<'static, str>,
    /// Span kind.
    pub kind: Kind,
    /// Local service name.
    pub service_name: &'static str,
    /// Local port (0: absent).
    pub port: u16,
    /// Start tick.
    pub start: u64,
    /// End tick.
    pub end: u64,
    /// Reported with `debug: true`.
    pub debug: bool,
    /// The server half of a span id shared with the client.
    pub shared: bool,
    /// Tags, annotations, remote endpoint.
    pub extra: Option<Box<Extra>>,
}

impl SpanRecord {
    /// Start in microseconds since the Unix epoch.
    pub fn timestamp_micros(&self) -> u64 {
        clock::epoch_micros(self.start)
    }

    /// Duration in microseconds, at least 1.
    pub fn duration_micros(&self) -> u64 {
        clock::duration_micros(self.start, self.end)
    }

    /// The tag with this key.
    pub fn tag(&self, key: &str) -> Option<&str> {
        self.extra
            .as_ref()?
            .tags
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// A span being recorded: what it will report, minus its end time.
pub(crate) struct LiveSpan {
    pub cur: Current,
    pub name: Cow<'static, str>,
    pub kind: Kind,
    pub shared: bool,
    pub local_root: bool,
    pub start: u64,
    pub extra: Option<Box<Extra>>,
    /// The inboxes of tasks and threads this span was captured into (see `pending`). Boxed: a
    /// span that is never captured pays one null pointer.
    pub captured: Option<Box<Captures>>,
}

impl LiveSpan {
    /// Opens a span: a child of `parent`, else of the current span, else a new root.
    #[inline(always)]
    pub fn open(
        name: Cow<'static, str>,
        meta_service: Option<&'static str>,
        kind: Kind,
        port: u16,
        sample_rate: Option<f64>,
        parent: Option<RemoteContext>,
    ) -> LiveSpan {
        // A caller that sent nothing (no ids, no decision, no debug) is not a parent: the span
        // nests under the current span, or starts a trace, as if no parent had been given.
        let parent = parent.filter(|r| !r.is_empty());
        let (cur, shared, local_root) = match parent {
            Some(remote) => {
                let tracer = context::current_tracer().unwrap_or_else(Tracer::current);
                continue_remote(tracer, remote, kind, sample_rate, meta_service, port)
            }
            // Read in place: copying the whole current span out first costs more than the rest.
            None => match context::peek(|p| Current {
                ctx: SpanContext {
                    trace_id: p.ctx.trace_id,
                    span_id: SpanId::random(),
                    parent_id: Some(p.ctx.span_id),
                    sampling: p.ctx.sampling,
                    debug: p.ctx.debug,
                },
                tracer: p.tracer,
                service: meta_service.unwrap_or(p.service),
                port: if port != 0 { port } else { p.port },
                outgoing: kind.is_outgoing(),
            }) {
                Some(cur) => (cur, false, false),
                None => {
                    let tracer = Tracer::current();
                    let rate = sample_rate.unwrap_or(tracer.config().sample_rate);
                    let (trace_id, span_id, sampled) =
                        crate::id::root_ids(tracer.config().trace_id_128bit, |id| {
                            tracer.sample(id, rate)
                        });
                    (
                        Current {
                            ctx: SpanContext {
                                trace_id,
                                span_id,
                                parent_id: None,
                                sampling: Sampling::from_decision(Some(sampled)),
                                debug: false,
                            },
                            tracer,
                            service: meta_service.unwrap_or(tracer.config().service_name),
                            port: if port != 0 {
                                port
                            } else {
                                tracer.config().port
                            },
                            outgoing: kind.is_outgoing(),
                        },
                        false,
                        true,
                    )
                }
            },
        };
        // Unsampled spans skip the clock: they only carry ids for propagation.
        let start = if cur.ctx.is_sampled() {
            clock::now()
        } else {
            0
        };
        LiveSpan {
            cur,
            name,
            kind,
            shared,
            local_root,
            start,
            extra: None,
            captured: None,
        }
    }

    #[inline(always)]
    pub fn from_meta(meta: &'static SpanMeta, parent: Option<RemoteContext>) -> LiveSpan {
        LiveSpan::open(
            Cow::Borrowed(meta.name),
            meta.service_name,
            meta.kind,
            meta.port,
            meta.sample_rate,
            parent,
        )
    }

    #[inline]
    pub fn is_recording(&self) -> bool {
        self.cur.ctx.is_sampled()
    }

    pub fn set_tag(&mut self, key: Cow<'static, str>, value: String) {
        if self.is_recording() {
            let value = self.cur.tracer.limit_tag(value);
            self.extra
                .get_or_insert_with(Default::default)
                .set_tag(key, value);
        }
    }

    pub fn annotate(&mut self, at: u64, value: Cow<'static, str>) {
        if self.is_recording() {
            self.extra
                .get_or_insert_with(Default::default)
                .annotations
                .push((at, value));
        }
    }

    /// Moves tags and annotations that code added through the free functions while this span
    /// was current into the span.
    #[inline]
    pub fn take_pending(&mut self) {
        pending::collect(self);
    }

    /// Ends the span and hands its record to the tracer's reporter.
    #[inline(always)]
    pub fn finish(mut self) {
        self.finish_in_place();
    }

    /// [`LiveSpan::finish`] without moving the span first: the name and extras are taken out,
    /// the rest is copied field by field into the record (a whole-span move was a fifth of the
    /// instructions of a sampled span).
    #[inline(always)]
    pub fn finish_in_place(&mut self) {
        if !self.is_recording() {
            return;
        }
        if self.captured.is_some() {
            pending::close_inboxes(self);
        }
        let tracer = self.cur.tracer;
        let local_root = self.local_root;
        tracer.record_with(
            |end| SpanRecord {
                trace_id: self.cur.ctx.trace_id,
                span_id: self.cur.ctx.span_id,
                parent_id: self.cur.ctx.parent_id,
                name: take_name(&mut self.name),
                kind: self.kind,
                service_name: self.cur.service,
                port: self.cur.port,
                start: self.start,
                end,
                debug: self.cur.ctx.debug,
                shared: self.shared,
                extra: self.extra.take(),
            },
            local_root,
        );
    }
}

/// Moves a span's name out. A static name (the attribute's) is copied as its two words: a
/// 16-byte copy of the whole `Cow` right after the span was opened waited on the narrower
/// stores that built it (`perf`: most of an async span's samples on that one load).
#[inline(always)]
fn take_name(name: &mut Cow<'static, str>) -> Cow<'static, str> {
    match name {
        Cow::Borrowed(s) => {
            // Pointer and length taken one at a time (the volatile reads keep the compiler
            // from fusing them back into one 16-byte load), then put back together.
            // SAFETY: `p` and `n` are the pointer and length of the `&'static str` in `name`.
            let s: &'static str = unsafe {
                let p = std::ptr::read_volatile(&s.as_ptr());
                let n = std::ptr::read_volatile(&s.len());
                std::str::from_utf8_unchecked(std::slice::from_raw_parts(p, n))
            };
            Cow::Borrowed(s)
        }
        Cow::Owned(_) => std::mem::replace(name, Cow::Borrowed("")),
    }
}

fn continue_remote(
    tracer: Tracer,
    remote: RemoteContext,
    kind: Kind,
    sample_rate: Option<f64>,
    service: Option<&'static str>,
    port: u16,
) -> (Current, bool, bool) {
    let cfg = tracer.config();
    let debug = remote.debug && cfg.accept_debug;
    // A refused debug request must not force sampling either: B3 peers fold debug into the
    // sampled state (`b3: d`, `X-B3-Flags: 1`), so the local sampler decides instead.
    let requested = if remote.debug && !debug {
        Sampling::Deferred
    } else {
        remote.sampling
    };
    let rate = sample_rate.unwrap_or(cfg.sample_rate);
    let mk = |ctx| Current {
        ctx,
        tracer,
        service: service.unwrap_or(cfg.service_name),
        port: if port != 0 { port } else { cfg.port },
        outgoing: kind.is_outgoing(),
    };
    match remote.ids {
        Some(ids) => {
            let sampling = if debug {
                Sampling::Sampled
            } else {
                match requested {
                    Sampling::Deferred => {
                        Sampling::from_decision(Some(tracer.sample(ids.trace_id, rate)))
                    }
                    decided => decided,
                }
            };
            // A server joins the caller's span id (one span, two halves), as Brave and
            // py_zipkin do; other kinds become children of the caller's span.
            let join = kind == Kind::Server && cfg.join_server_spans;
            let ctx = if join {
                SpanContext {
                    trace_id: ids.trace_id,
                    span_id: ids.span_id,
                    parent_id: ids.parent_id,
                    sampling,
                    debug,
                }
            } else {
                SpanContext {
                    trace_id: ids.trace_id,
                    span_id: SpanId::random(),
                    parent_id: Some(ids.span_id),
                    sampling,
                    debug,
                }
            };
            (mk(ctx), join, true)
        }
        None => {
            let trace_id = TraceId::random(cfg.trace_id_128bit);
            let sampling = if debug {
                Sampling::Sampled
            } else {
                match requested {
                    Sampling::Deferred => {
                        Sampling::from_decision(Some(tracer.sample(trace_id, rate)))
                    }
                    decided => decided,
                }
            };
            let ctx = SpanContext {
                trace_id,
                span_id: SpanId::random(),
                parent_id: None,
                sampling,
                debug,
            };
            (mk(ctx), false, true)
        }
    }
}

/// A function result whose error `#[zipkin_span(err)]` records: `Result<T, E>` with
/// `E: Display`. Used by the attribute's expansion; not meant to be implemented by users.
#[diagnostic::on_unimplemented(
    message = "`#[zipkin_span(err)]` needs a function returning `Result<_, E>` with `E: Display`, found `{Self}`",
    label = "`err` needs a `Result` return type"
)]
pub trait ErrResult {
    /// The error to record, if this result is one.
    fn zipkin_error(&self) -> Option<&dyn fmt::Display>;
}

impl<T, E: fmt::Display> ErrResult for Result<T, E> {
    #[inline]
    fn zipkin_error(&self) -> Option<&dyn fmt::Display> {
        self.as_ref().err().map(|e| e as &dyn fmt::Display)
    }
}

/// A span open on this thread: it is the current span until the guard drops, and then reports.
/// For code that cannot use the attribute. It is not `Send`; use [`Span`] to carry a span into
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
            // SAFETY: as above. An unrecorded span may still own its name.
            unsafe { open.assume_init_drop() };
        }
    }
}

/// Describes a span before it starts. Made by [`SpanGuard::builder`] or [`Span::builder`].
pub struct SpanBuilder {
    name: Cow<'static, str>,
    kind: Kind,
    service: Option<&'static str>,
    port: u16,
    sample_rate: Option<f64>,
    parent: Option<RemoteContext>,
}

impl SpanBuilder {
    fn new(name: Cow<'static, str>) -> SpanBuilder {
        SpanBuilder {
            name,
            kind: Kind::Local,
            service: None,
            port: 0,
            sample_rate: None,
            parent: None,
        }
    }

    /// The span kind.
    pub fn kind(mut self, kind: Kind) -> Self {
        self.kind = kind;
        self
    }

    /// The local service name (lower-cased on the wire). A name built at run time is kept for
    /// the rest of the process; past [`crate::tracer::MAX_SERVICE_NAMES`] distinct ones, a new
    /// name is refused (counted in [`crate::ReporterMetrics::service_names_refused`]) and the
    /// span inherits its parent's service.
    pub fn service_name(mut self, name: impl Into<Cow<'static, str>>) -> Self {
        self.service = crate::tracer::intern_bounded(name.into());
        self
    }

    /// The local port.
    pub fn port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }

    /// Sample rate in percent when this span starts a trace.
    pub fn sample_rate(mut self, percent: f64) -> Self {
        self.sample_rate = Some(percent.clamp(0.0, 100.0));
        self
    }

    /// Continue a caller's trace (server side) instead of the current span.
    pub fn parent(mut self, parent: impl Into<RemoteContext>) -> Self {
        self.parent = Some(parent.into());
        self
    }

    fn live(self) -> LiveSpan {
        LiveSpan::open(
            self.name,
            self.service,
            self.kind,
            self.port,
            self.sample_rate,
            self.parent,
        )
    }

    /// Opens the span and makes it current on this thread.
    pub fn start(self) -> SpanGuard {
        SpanGuard::with(SpanGuard::enter(self.live()))
    }

    /// Opens the span without making it current, to carry into a future or thread.
    pub fn start_detached(self) -> Span {
        Span {
            inner: Some(self.live()),
        }
    }
}

/// An open span that is not tied to a thread: it can move into a future or another thread, be
/// entered for a while, and reports when it drops (or on [`Span::finish`]).
///
/// ```
/// use zipkin_runtime::Span;
/// let mut span = Span::builder("background-job").start_detached();
/// std::thread::spawn(move || {
///     span.in_scope(|| { /* children opened here nest under background-job */ });
/// })
/// .join()
/// .unwrap();
/// ```
pub struct Span {
    pub(crate) inner: Option<LiveSpan>,
}

impl Span {
    /// A builder for a detached span.
    pub fn builder(name: impl Into<Cow<'static, str>>) -> SpanBuilder {
        SpanBuilder::new(name.into())
    }

    /// Opens a detached span from a macro's static metadata.
    #[inline]
    pub fn from_meta(meta: &'static SpanMeta, parent: Option<RemoteContext>) -> Span {
        Span {
            inner: Some(LiveSpan::from_meta(meta, parent)),
        }
    }

    /// This span's context.
    pub fn context(&self) -> Option<SpanContext> {
        self.inner.as_ref().map(|s| s.cur.ctx)
    }

    /// Whether this span is sampled, so that tags and annotations are kept.
    ///
    /// ```
    /// let span = zipkin_runtime::Span::builder("job").start_detached();
    /// assert_eq!(span.is_recording(), span.context().unwrap().is_sampled());
    /// ```
    #[inline]
    pub fn is_recording(&self) -> bool {
        self.inner.as_ref().is_some_and(LiveSpan::is_recording)
    }

    /// Runs `f` with this span current; spans opened inside become its children.
    pub fn in_scope<R>(&mut self, f: impl FnOnce() -> R) -> R {
        let cur = self.inner.as_ref().map(|s| s.cur);
        let r = context::with_current(cur, f);
        if let Some(s) = self.inner.as_mut() {
            s.take_pending();
        }
        r
    }

    /// The span, if it records.
    #[inline]
    fn recording(&mut self) -> Option<&mut LiveSpan> {
        self.inner.as_mut().filter(|s| s.is_recording())
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

    /// Ends the span now.
    pub fn finish(mut self) {
        if let Some(s) = self.inner.take() {
            s.finish();
        }
    }

    #[inline]
    pub(crate) fn current(&self) -> Option<Current> {
        self.inner.as_ref().map(|s| s.cur)
    }

    #[inline]
    pub(crate) fn take_pending(&mut self) {
        if let Some(s) = self.inner.as_mut() {
            s.take_pending();
        }
    }
}

impl Drop for Span {
    fn drop(&mut self) {
        if let Some(s) = self.inner.take() {
            s.finish();
        }
    }
}
