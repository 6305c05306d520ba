//! The layer: every `tracing` span a Zipkin span, every event an annotation.

use std::borrow::Cow;
use std::cell::{Cell, RefCell};

use tracing_core::span::{Attributes, Id, Record};
use tracing_core::{Event, Level, Subscriber};
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::{LookupSpan, SpanRef};
use tracing_subscriber::Layer;
use zipkin_runtime::__bridge::{current_sampling, Entered};
use zipkin_runtime::{Kind, Span};

use crate::fields::{EventVisitor, KindVisitor, Status, TagVisitor, KIND_FIELDS};
use crate::parent;

/// Which span fields become tags. Whatever the choice, `error` always does, and the fields
/// that name a span or set its kind (`zipkin.name`, `otel.name`, `zipkin.kind`, `otel.kind`)
/// never do.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum TagFields {
    /// Every field (the default).
    #[default]
    All,
    /// No field.
    None,
    /// Only these fields.
    Only(Vec<&'static str>),
    /// Every field but these.
    Except(Vec<&'static str>),
}

impl TagFields {
    pub(crate) fn allows(&self, name: &str) -> bool {
        match self {
            TagFields::All => true,
            TagFields::None => false,
            TagFields::Only(v) => v.contains(&name),
            TagFields::Except(v) => !v.contains(&name),
        }
    }
}

/// A `tracing_subscriber` layer that turns `tracing` spans into Zipkin spans of the process's
/// tracer (the same `ZIPKIN_*` environment as `#[zipkin_span]`), their fields into tags and the
/// events inside them into annotations.
///
/// ```
/// # mod zipkin_rs { pub use ::zipkin_runtime::*; pub mod tracing { pub use ::zipkin_tracing::*; } }
/// use tracing_subscriber::layer::SubscriberExt;
/// use zipkin_rs::tracing::ZipkinLayer;
///
/// let subscriber = tracing_subscriber::registry().with(ZipkinLayer::new());
/// tracing::subscriber::with_default(subscriber, || {
///     let _span = tracing::info_span!("checkout", user = 42).entered();
///     tracing::info!(items = 3, "cart loaded");
/// });
/// ```
///
/// A span is named after the `tracing` span, or after its `zipkin.name` (or `otel.name`)
/// field; `zipkin.kind` (or `otel.kind`) makes it a `server`, `client`, `producer` or
/// `consumer` span. Its clock starts when it is first entered and stops when it closes.
#[derive(Clone, Debug)]
pub struct ZipkinLayer {
    span_level: Level,
    event_level: Level,
    service: Option<&'static str>,
    tags: TagFields,
}

impl Default for ZipkinLayer {
    fn default() -> Self {
        ZipkinLayer::new()
    }
}

/// What the layer keeps in a `tracing` span's extensions.
pub(crate) struct ZipkinData {
    pub(crate) span: Span,
    entered: bool,
    status: Status,
}

thread_local! {
    /// The spans this thread entered, innermost last, with what each replaced.
    static ENTERED: RefCell<Vec<(Id, Entered)>> = const { RefCell::new(Vec::new()) };
    /// The last spans this thread skipped (opened inside an unsampled trace, so without a
    /// Zipkin span): entering one again while the trace is still unsampled here costs no
    /// lookup in the registry.
    static SKIPPED: Skipped = const {
        Skipped { ids: [const { Cell::new(0) }; SKIPPED_LEN], at: Cell::new(0) }
    };
}

const SKIPPED_LEN: usize = 8;

struct Skipped {
    ids: [Cell<u64>; SKIPPED_LEN],
    at: Cell<usize>,
}

fn remember_skipped(id: &Id) {
    let _ = SKIPPED.try_with(|s| {
        let at = s.at.get();
        s.ids[at % SKIPPED_LEN].set(id.into_u64());
        s.at.set(at.wrapping_add(1));
    });
}

/// Whether `id` is a span this thread skipped, inside a trace that is still unsampled here.
/// (The registry's ids carry a generation, so a reused slot is another id; the check of the
/// current sampling covers the rest.)
#[inline]
fn skipped(id: &Id) -> bool {
    let id = id.into_u64();
    SKIPPED
        .try_with(|s| s.ids.iter().any(|c| c.get() == id))
        .unwrap_or(false)
        && current_sampling() == Some(false)
}

impl ZipkinLayer {
    /// A layer reporting every span and event (all levels), every field as a tag, under the
    /// service name of the process's tracer.
    pub fn new() -> ZipkinLayer {
        ZipkinLayer {
            span_level: Level::TRACE,
            event_level: Level::TRACE,
            service: None,
            tags: TagFields::All,
        }
    }

    /// Only spans at `level` or more severe become Zipkin spans (`Level::INFO`: info, warn and
    /// error spans). Spans below it are skipped: what opens inside them nests under the nearest
    /// span that was kept.
    ///
    /// ```
    /// # mod zipkin_rs { pub use ::zipkin_runtime::*; pub mod tracing { pub use ::zipkin_tracing::*; } }
    /// let layer = zipkin_rs::tracing::ZipkinLayer::new().with_span_level(tracing::Level::INFO);
    /// ```
    pub fn with_span_level(mut self, level: Level) -> Self {
        self.span_level = level;
        self
    }

    /// Only events at `level` or more severe become annotations.
    ///
    /// ```
    /// # mod zipkin_rs { pub use ::zipkin_runtime::*; pub mod tracing { pub use ::zipkin_tracing::*; } }
    /// let layer = zipkin_rs::tracing::ZipkinLayer::new().with_event_level(tracing::Level::WARN);
    /// ```
    pub fn with_event_level(mut self, level: Level) -> Self {
        self.event_level = level;
        self
    }

    /// The local service of the spans this layer opens (instead of the tracer's, which
    /// `ZIPKIN_SERVICE_NAME` sets). `#[zipkin_span]` functions called inside inherit it.
    ///
    /// ```
    /// # mod zipkin_rs { pub use ::zipkin_runtime::*; pub mod tracing { pub use ::zipkin_tracing::*; } }
    /// let layer = zipkin_rs::tracing::ZipkinLayer::new().with_service_name("checkout");
    /// ```
    pub fn with_service_name(mut self, name: impl Into<Cow<'static, str>>) -> Self {
        let name: &'static str = match name.into() {
            Cow::Borrowed(s) => s,
            // Once per layer, kept for the process as every service name is.
            Cow::Owned(s) => Box::leak(s.into_boxed_str()),
        };
        self.service = Some(name);
        self
    }

    /// Which span fields become tags.
    ///
    /// ```
    /// # mod zipkin_rs { pub use ::zipkin_runtime::*; pub mod tracing { pub use ::zipkin_tracing::*; } }
    /// use zipkin_rs::tracing::{TagFields, ZipkinLayer};
    /// let layer = ZipkinLayer::new().with_tag_fields(TagFields::Except(vec!["password"]));
    /// ```
    pub fn with_tag_fields(mut self, tags: TagFields) -> Self {
        self.tags = tags;
        self
    }

    fn open<S>(&self, attrs: &Attributes<'_>, ctx: &Context<'_, S>) -> Option<Span>
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
    {
        let remote = parent::take_remote();
        // The current span of the thread is the innermost of both worlds: a `tracing` span
        // entered here, or a `#[zipkin_span]` function called inside one. Inside an unsampled
        // trace there is nothing to open and nothing to report.
        if remote.is_none() && attrs.is_contextual() && current_sampling() == Some(false) {
            return None;
        }
        let meta = attrs.metadata();
        let mut kind = None;
        if meta
            .fields()
            .iter()
            .any(|f| KIND_FIELDS.contains(&f.name()))
        {
            let mut v = KindVisitor::default();
            attrs.record(&mut v);
            kind = v.0;
        }
        let mut builder = Span::builder(meta.name());
        if let Some(service) = self.service {
            builder = builder.service_name(service);
        }
        if let Some(remote) = remote {
            // A span continuing a caller is its server span unless it says otherwise.
            builder = builder.kind(kind.unwrap_or(Kind::Server)).parent(remote);
            return Some(builder.start_detached());
        }
        if let Some(kind) = kind {
            builder = builder.kind(kind);
        }
        if attrs.is_contextual() {
            Some(builder.start_detached())
        } else if attrs.is_root() {
            Some(builder.start_detached_under(None))
        } else {
            let parent = attrs.parent().and_then(|id| ctx.span(id))?;
            let found = parent
                .scope()
                .find(|s| s.extensions().get::<ZipkinData>().is_some());
            match found {
                Some(p) => {
                    let ext = p.extensions();
                    let data = ext.get::<ZipkinData>()?;
                    data.span
                        .is_recording()
                        .then(|| builder.start_detached_under(Some(&data.span)))
                }
                None => Some(builder.start_detached_under(None)),
            }
        }
    }
}

/// The Zipkin span a `tracing` span's events and records go to: its own, or its nearest
/// ancestor's.
fn recorded<'a, S>(span: SpanRef<'a, S>) -> Option<SpanRef<'a, S>>
where
    S: Subscriber + for<'b> LookupSpan<'b>,
{
    span.scope()
        .find(|s| s.extensions().get::<ZipkinData>().is_some())
}

impl<S> Layer<S> for ZipkinLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        if *attrs.metadata().level() > self.span_level {
            return;
        }
        let Some(mut span) = self.open(attrs, &ctx) else {
            remember_skipped(id);
            return;
        };
        let mut status = Status::default();
        if span.is_recording() {
            let mut v = TagVisitor::new(&mut span, &self.tags, &mut status);
            attrs.record(&mut v);
            v.finish();
        }
        if let Some(s) = ctx.span(id) {
            s.extensions_mut().insert(ZipkinData {
                span,
                entered: false,
                status,
            });
        }
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let Some(s) = ctx.span(id) else { return };
        let mut ext = s.extensions_mut();
        if let Some(data) = ext.get_mut::<ZipkinData>() {
            if data.span.is_recording() {
                let mut v = TagVisitor::new(&mut data.span, &self.tags, &mut data.status);
                values.record(&mut v);
                v.finish();
            }
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let level = *event.metadata().level();
        if level > self.event_level {
            return;
        }
        let target = if event.is_contextual() {
            if current_sampling() != Some(true) {
                return;
            }
            None
        } else {
            match event
                .parent()
                .and_then(|id| ctx.span(id))
                .and_then(recorded)
            {
                Some(s) => Some(s),
                None => return,
            }
        };
        let mut v = EventVisitor::default();
        event.record(&mut v);
        let (text, error) = v.text();
        let error = error.or_else(|| (level == Level::ERROR).then(|| text.clone()));
        let target = target.or_else(|| {
            // The event's span when it is the current one; else a `#[zipkin_span]` function
            // (or a skipped span's nearest recorded ancestor) is innermost, and the free
            // functions reach it.
            let s = ctx.event_span(event).and_then(recorded)?;
            let cur = zipkin_runtime::current_context()?;
            let same = s
                .extensions()
                .get::<ZipkinData>()
                .and_then(|d| d.span.context())
                .is_some_and(|c| c.span_id == cur.span_id);
            same.then_some(s)
        });
        match target {
            Some(s) => {
                let mut ext = s.extensions_mut();
                if let Some(data) = ext.get_mut::<ZipkinData>() {
                    data.span.annotate_limited(text);
                    if let Some(e) = error {
                        data.span.tag("error", e);
                    }
                }
            }
            None => {
                zipkin_runtime::annotate(text);
                if let Some(e) = error {
                    zipkin_runtime::tag("error", e);
                }
            }
        }
    }

    fn on_enter(&self, id: &Id, ctx: Context<'_, S>) {
        if skipped(id) {
            return;
        }
        let Some(s) = ctx.span(id) else { return };
        let mut ext = s.extensions_mut();
        let Some(data) = ext.get_mut::<ZipkinData>() else {
            return;
        };
        if !data.entered {
            data.entered = true;
            data.span.restart_clock();
        }
        let entered = data.span.enter_here();
        let _ = ENTERED.try_with(|e| {
            if let Ok(mut e) = e.try_borrow_mut() {
                e.push((id.clone(), entered));
            }
        });
    }

    fn on_exit(&self, id: &Id, ctx: Context<'_, S>) {
        let entered = ENTERED
            .try_with(|e| {
                let mut e = e.try_borrow_mut().ok()?;
                let at = e.iter().rposition(|(i, _)| i == id)?;
                Some(e.remove(at).1)
            })
            .ok()
            .flatten();
        let Some(entered) = entered else { return };
        if !entered.exit() {
            return;
        }
        if let Some(s) = ctx.span(id) {
            if let Some(data) = s.extensions_mut().get_mut::<ZipkinData>() {
                data.span.collect_pending();
            }
        }
    }

    // No `on_close`: the registry drops a closed span's extensions, and the Zipkin span in them
    // finishes when dropped, so a close costs no lookup of its own.
}
