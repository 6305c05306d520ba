//! A user's hook on finished spans ([`SpanHandler`]), like Brave's `SpanHandler`, and the view of
//! a span it gets ([`FinishedSpan`]).

use std::borrow::Cow;
use std::fmt;

use crate::id::{SpanId, TraceId};
use crate::record::{Kind, SpanRecord};
use crate::tag_value::TagValue;

/// Sees each finished, sampled span before it is encoded and reported, and may rename it,
/// remove or rewrite its tags (mask an e-mail address the application tagged), or drop it.
///
/// It runs on the reporter's thread, never on the application's: it may take its time, but it
/// delays every span behind it. A span it drops is counted in
/// [`crate::ReporterMetrics::dropped_by_handler`]; a panic in it drops that span, is counted in
/// [`crate::ReporterMetrics::dropped_handler_panic`], and the reporter goes on. Set with
/// [`crate::TracerBuilder::span_handler`]; a tracer without one pays nothing for the feature.
///
/// ```
/// # extern crate zipkin_runtime as zipkin_rs;
/// use zipkin_rs::{FinishedSpan, SpanGuard, SpanHandler, Tracer};
/// use zipkin_rs::transport::memory::MemoryTransport;
///
/// /// Drops health checks and masks e-mail addresses.
/// #[derive(Debug)]
/// struct Privacy;
///
/// impl SpanHandler for Privacy {
///     fn end(&self, span: &mut FinishedSpan<'_>) -> bool {
///         if span.name() == "get /health" {
///             return false;
///         }
///         if span.tag("user.email").is_some() {
///             span.set_tag("user.email", "<redacted>");
///         }
///         true
///     }
/// }
///
/// let mem = MemoryTransport::new();
/// let tracer = Tracer::builder().span_handler(Privacy).transport(mem.clone()).build().unwrap();
/// tracer.in_scope(|| {
///     let mut s = SpanGuard::new("post /login");
///     s.tag("user.email", "ada@example.com");
///     drop(s);
///     drop(SpanGuard::new("get /health"));
/// });
/// tracer.flush(std::time::Duration::from_secs(5));
/// let spans = mem.spans();
/// assert_eq!(spans.len(), 1);
/// assert_eq!(spans[0].tags["user.email"], "<redacted>");
/// assert_eq!(tracer.metrics().dropped_by_handler, 1);
/// ```
pub trait SpanHandler: Send + Sync + fmt::Debug + 'static {
    /// Called once per finished sampled span; `false` drops it.
    fn end(&self, span: &mut FinishedSpan<'_>) -> bool;
}

/// A shared handler is a handler.
impl<H: SpanHandler + ?Sized> SpanHandler for std::sync::Arc<H> {
    fn end(&self, span: &mut FinishedSpan<'_>) -> bool {
        (**self).end(span)
    }
}

/// A finished span as a [`SpanHandler`] sees it: its ids, kind and service to read, its name
/// and tags to change.
pub struct FinishedSpan<'a> {
    record: &'a mut SpanRecord,
}

impl fmt::Debug for FinishedSpan<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FinishedSpan")
            .field("trace_id", &self.record.trace_id)
            .field("span_id", &self.record.span_id)
            .field("name", &self.record.name)
            .field("kind", &self.record.kind)
            .finish_non_exhaustive()
    }
}

impl<'a> FinishedSpan<'a> {
    pub(crate) fn new(record: &'a mut SpanRecord) -> FinishedSpan<'a> {
        FinishedSpan { record }
    }

    /// The trace id.
    pub fn trace_id(&self) -> TraceId {
        self.record.trace_id
    }

    /// The span id.
    pub fn span_id(&self) -> SpanId {
        self.record.span_id
    }

    /// The parent's span id, `None` for a root.
    pub fn parent_id(&self) -> Option<SpanId> {
        self.record.parent_id
    }

    /// The kind.
    pub fn kind(&self) -> Kind {
        self.record.kind
    }

    /// The local service name.
    pub fn service_name(&self) -> &str {
        self.record.service_name
    }

    /// The name.
    pub fn name(&self) -> &str {
        &self.record.name
    }

    /// Renames the span.
    pub fn set_name(&mut self, name: impl Into<Cow<'static, str>>) {
        self.record.name = name.into();
    }

    /// A tag's value.
    pub fn tag(&self, key: &str) -> Option<&str> {
        self.record.tag(key)
    }

    /// Every tag, in the order they were set.
    pub fn tags(&self) -> impl Iterator<Item = (&str, &str)> {
        self.record
            .extra
            .iter()
            .flat_map(|e| e.tags.iter().map(|(k, v)| (k.as_ref(), v.as_str())))
    }

    /// Sets a tag, replacing a value set before.
    pub fn set_tag(&mut self, key: impl Into<Cow<'static, str>>, value: impl Into<String>) {
        self.record
            .extra
            .get_or_insert_with(Default::default)
            .set_tag(key.into(), TagValue::from(value.into()));
    }

    /// Removes a tag; returns its value.
    pub fn remove_tag(&mut self, key: &str) -> Option<String> {
        let tags = &mut self.record.extra.as_mut()?.tags;
        let at = tags.iter().position(|(k, _)| k == key)?;
        Some(tags.remove(at).1.into_string())
    }
}
