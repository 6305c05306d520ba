//! A span being recorded ([`LiveSpan`]): how one opens (a child of the current span, a root,
//! or a server continuing a remote caller), its tags and annotations, and how it ends, as a
//! record handed to its tracer's reporter.

use std::borrow::Cow;

use crate::clock;
use crate::context::{self, Current};
use crate::id::{SpanId, TraceId};
use crate::pending::{self, Captures, Collect, Pending};
use crate::record::{Extra, Kind, SpanRecord};
use crate::sampler::HttpRequest;
use crate::span_context::{RemoteContext, Sampling, SpanContext};
use crate::tag_value::TagValue;
use crate::tracer::Tracer;

use super::meta::SpanMeta;

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
    /// A child of the current span, if one is current, read in place: copying the whole
    /// current span out first cost more than the rest of opening it.
    #[inline(always)]
    fn child_of_current(
        meta_service: Option<&'static str>,
        kind: Kind,
        port: u16,
    ) -> Option<Current> {
        let child_of = |p: &Current| Current {
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
        };
        // Benchmark: ours/sampled_calling_thread.
        // SAFETY: `child_of` only reads the span it is given and draws an id.
        unsafe { context::peek(child_of) }
    }

    /// Opens a span: a child of `parent`, else of the current span, else a new root.
    #[inline(always)]
    pub(crate) fn open(
        name: Cow<'static, str>,
        meta_service: Option<&'static str>,
        kind: Kind,
        port: u16,
        sample_rate: Option<f64>,
        parent: Option<RemoteContext>,
        http: Option<&HttpRequest<'_>>,
    ) -> LiveSpan {
        // A caller that sent nothing (no ids, no decision, no debug) is not a parent: the span
        // nests under the current span, or starts a trace, as if no parent had been given.
        let parent = parent.filter(|r| !r.is_empty());
        // Each arm builds the span where it returns it: an arm that yielded its context for a
        // shared tail made the compiler write it into a temporary and copy it out with wide loads
        // straddling the narrow stores just made (benchmark: http_layers/server_layer_unsampled).
        match parent {
            Some(remote) => {
                let tracer = context::current_tracer().unwrap_or_else(Tracer::current);
                let new = NewTrace {
                    explicit: sample_rate,
                    name: &name,
                    http,
                };
                let (cur, shared, local_root) =
                    continue_remote(tracer, remote, kind, new, meta_service, port);
                Self::opened(cur, name, kind, shared, local_root)
            }
            None => match Self::child_of_current(meta_service, kind, port) {
                Some(cur) => Self::opened(cur, name, kind, false, false),
                None => {
                    let tracer = Tracer::current();
                    let (trace_id, span_id, sampled) =
                        crate::id::root_ids(tracer.config().trace_id_128bit, |id| {
                            tracer.sample_new_trace(sample_rate, id, &name, http)
                        });
                    let cur = Current {
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
                    };
                    Self::opened(cur, name, kind, false, true)
                }
            },
        }
    }

    /// The span opened as `cur`, its clock started if it records.
    #[inline(always)]
    fn opened(
        cur: Current,
        name: Cow<'static, str>,
        kind: Kind,
        shared: bool,
        local_root: bool,
    ) -> LiveSpan {
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
    pub(crate) fn from_meta(meta: &'static SpanMeta, parent: Option<RemoteContext>) -> LiveSpan {
        LiveSpan::open(
            Cow::Borrowed(meta.name),
            meta.service_name,
            meta.kind,
            meta.port,
            meta.sample_rate,
            parent,
            None,
        )
    }

    /// Whether dropping the span would free nothing: a borrowed name, no tag box, no
    /// captures (what an unsampled span has).
    #[inline]
    pub(crate) fn owns_nothing(&self) -> bool {
        matches!(self.name, Cow::Borrowed(_)) && self.extra.is_none() && self.captured.is_none()
    }

    #[inline]
    pub(crate) fn is_recording(&self) -> bool {
        self.cur.ctx.is_sampled()
    }

    pub(crate) fn set_tag(&mut self, key: Cow<'static, str>, value: TagValue) {
        if self.is_recording() {
            let tracer = self.cur.tracer;
            let value = tracer.limit_tag_value(value);
            self.extra
                .get_or_insert_with(|| tracer.new_extra())
                .set_tag(key, value);
        }
    }

    /// An empty string for this span's text: one that came back with its tag box, or a new
    /// one.
    pub(crate) fn spare_string(&mut self) -> String {
        let tracer = self.cur.tracer;
        self.extra
            .get_or_insert_with(|| tracer.new_extra())
            .spare_text
            .pop()
            .unwrap_or_default()
    }

    /// [`LiveSpan::set_tag`] of a copy of `value`, long text in a string that came back.
    pub(crate) fn set_tag_str(&mut self, key: &'static str, value: &str) {
        if self.is_recording() {
            let value = TagValue::copied_into(value, || self.spare_string());
            self.set_tag(Cow::Borrowed(key), value);
        }
    }

    /// Renames the span to `parts` joined, in a string that came back.
    pub(crate) fn set_name_parts(&mut self, parts: &[&str]) {
        if self.is_recording() {
            let mut name = self.spare_string();
            for p in parts {
                name.push_str(p);
            }
            self.name = Cow::Owned(name);
        }
    }

    pub(crate) fn annotate(&mut self, at: u64, value: Cow<'static, str>) {
        if self.is_recording() {
            let tracer = self.cur.tracer;
            self.extra
                .get_or_insert_with(|| tracer.new_extra())
                .annotations
                .push((at, value));
        }
    }

    /// Moves tags and annotations that code added through the free functions while this span
    /// was current into the span.
    #[inline]
    pub(crate) fn take_pending(&mut self) {
        pending::collect(self);
    }

    /// Ends the span and hands its record to the tracer's reporter.
    #[inline(always)]
    pub(crate) fn finish(mut self) {
        self.finish_in_place();
    }

    /// [`LiveSpan::finish`] without moving the span first: the name and extras are taken out,
    /// the rest is copied field by field into the record (a whole-span move was a fifth of the
    /// instructions of a sampled span).
    #[inline(always)]
    pub(crate) fn finish_in_place(&mut self) {
        if !self.is_recording() {
            return;
        }
        if self.captured.is_some() {
            pending::close_inboxes(self);
        }
        let tracer = self.cur.tracer;
        let local_root = self.local_root;
        // A `move` closure of the one reference: a closure naming the fields would capture a
        // reference to each (+20 instructions a span).
        let span = self;
        tracer.record_with(
            move |end| SpanRecord {
                trace_id: span.cur.ctx.trace_id,
                span_id: span.cur.ctx.span_id,
                parent_id: span.cur.ctx.parent_id,
                name: take_name(&mut span.name),
                kind: span.kind,
                service_name: span.cur.service,
                port: span.cur.port,
                start: span.start,
                end,
                debug: span.cur.ctx.debug,
                shared: span.shared,
                extra: span.extra.take(),
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
            // Benchmark: ours/async_handoff (a static name moves as two words, without a store-forwarding stall).
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

/// What the sampler of a new trace is told.
pub(crate) struct NewTrace<'a> {
    explicit: Option<f64>,
    name: &'a str,
    http: Option<&'a HttpRequest<'a>>,
}

fn continue_remote(
    tracer: Tracer,
    remote: RemoteContext,
    kind: Kind,
    new: NewTrace<'_>,
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
    let sample = |trace_id| tracer.sample_new_trace(new.explicit, trace_id, new.name, new.http);
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
                    Sampling::Deferred => Sampling::from_decision(Some(sample(ids.trace_id))),
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
                    Sampling::Deferred => Sampling::from_decision(Some(sample(trace_id))),
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

impl Collect for LiveSpan {
    fn span_id(&self) -> SpanId {
        self.cur.ctx.span_id
    }

    fn apply(&mut self, p: Pending) {
        match p {
            Pending::Tag(k, v) => self.set_tag(k, v),
            Pending::Annotation(at, a) => self.annotate(at, a),
            Pending::Remote(e) => {
                if self.is_recording() {
                    let tracer = self.cur.tracer;
                    self.extra
                        .get_or_insert_with(|| tracer.new_extra())
                        .remote_endpoint = Some(e);
                }
            }
        }
    }

    fn captures(&mut self) -> &mut Option<Box<Captures>> {
        &mut self.captured
    }
}
