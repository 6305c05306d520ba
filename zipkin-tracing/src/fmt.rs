//! Log correlation: `trace_id=… span_id=…` at the start of every line `tracing_subscriber::fmt`
//! writes inside a traced span.

use std::fmt;

use tracing_core::{Event, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;
use zipkin_runtime::SpanContext;

use crate::layer::ZipkinData;

/// An event format that starts each line inside a traced span with `trace_id=<hex>
/// span_id=<hex> `, the ids Zipkin stores for that span, then writes the line as `inner` does.
/// Lines outside any span are written as `inner` writes them.
///
/// ```
/// # mod zipkin_rs { pub use ::zipkin_runtime::*; pub mod tracing { pub use ::zipkin_tracing::*; } }
/// use tracing_subscriber::layer::SubscriberExt;
/// use zipkin_rs::tracing::{TraceIds, ZipkinLayer};
///
/// let subscriber = tracing_subscriber::registry()
///     .with(ZipkinLayer::new())
///     .with(tracing_subscriber::fmt::layer().event_format(TraceIds::standard()));
/// tracing::subscriber::with_default(subscriber, || {
///     let _span = tracing::info_span!("checkout").entered();
///     tracing::info!("cart loaded"); // trace_id=… span_id=…  INFO checkout: cart loaded
/// });
/// ```
#[derive(Clone, Debug)]
pub struct TraceIds<F = tracing_subscriber::fmt::format::Format> {
    inner: F,
}

impl TraceIds {
    /// Wraps `tracing_subscriber::fmt`'s default format.
    pub fn standard() -> Self {
        TraceIds::new(tracing_subscriber::fmt::format())
    }
}

impl<F> TraceIds<F> {
    /// Wraps an event format (`tracing_subscriber::fmt::format()` and its variants, or yours).
    pub fn new(inner: F) -> Self {
        TraceIds { inner }
    }
}

/// The context of the span an event belongs to: its explicit parent's, else the span current
/// on this thread (a `tracing` span or a `#[zipkin_span]` function).
fn event_context<S>(
    ctx: &FmtContext<'_, S, impl for<'w> FormatFields<'w> + 'static>,
    event: &Event<'_>,
) -> Option<SpanContext>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    if event.is_contextual() {
        return zipkin_runtime::current_context();
    }
    let parent = event.parent().and_then(|id| ctx.span(id))?;
    let found = parent.scope().find_map(|s| {
        s.extensions()
            .get::<ZipkinData>()
            .and_then(|d| d.span.context())
    });
    found
}

impl<S, N, F> FormatEvent<S, N> for TraceIds<F>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'w> FormatFields<'w> + 'static,
    F: FormatEvent<S, N>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        if let Some(c) = event_context(ctx, event) {
            write!(writer, "trace_id={} span_id={} ", c.trace_id, c.span_id)?;
        }
        self.inner.format_event(ctx, writer, event)
    }
}
