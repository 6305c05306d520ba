//! Log correlation: the trace and span ids on every line `tracing_subscriber::fmt` writes
//! inside a traced span, as a `trace_id=… span_id=…` prefix or as the first members of a JSON
//! line.

use std::fmt;
use std::sync::OnceLock;

use tracing_core::{Event, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;
use zipkin_runtime::SpanContext;

use crate::layer::ZipkinData;

/// An event format that puts the ids Zipkin stores for the span an event belongs to on its
/// line, then writes the line as `inner` does. A text line starts with `trace_id=<hex>
/// span_id=<hex> `; a JSON line (`fmt::layer().json()`) gets `"trace_id"` and `"span_id"` as
/// the first members of its object, so that it stays one JSON object. Lines outside any span
/// are written as `inner` writes them.
///
/// Wrap the format of a configured layer with `map_event_format`, which keeps the field
/// formatter the format needs (`.json()` sets both; `event_format(TraceIds::new(format().json()))`
/// on a text layer would pair JSON events with text fields, which `tracing_subscriber` refuses):
///
/// ```
/// # mod zipkin_rs { pub use ::zipkin_runtime::*; pub mod tracing { pub use ::zipkin_tracing::*; } }
/// use tracing_subscriber::layer::SubscriberExt;
/// use zipkin_rs::tracing::{TraceIds, ZipkinLayer};
///
/// // The `json` feature of tracing-subscriber.
/// let json = tracing_subscriber::fmt::layer().json().map_event_format(TraceIds::new);
/// let subscriber = tracing_subscriber::registry().with(ZipkinLayer::new()).with(json);
/// tracing::subscriber::with_default(subscriber, || {
///     let _span = tracing::info_span!("checkout").entered();
///     tracing::info!("cart loaded"); // {"trace_id":"…","span_id":"…","timestamp":…}
/// });
/// // Or any other format of the layer: `.compact().map_event_format(TraceIds::new)`.
/// ```
///
/// The default format:
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
    /// Whether `inner` writes JSON, found on the first line with colours on (see
    /// `format_event`); a format writes one or the other for good.
    json: OnceLock<bool>,
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
        TraceIds {
            inner,
            json: OnceLock::new(),
        }
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
        let Some(c) = event_context(ctx, event) else {
            return self.inner.format_event(ctx, writer, event);
        };
        // A writer with colours cannot be rebuilt around the splice below (its ANSI flag is
        // private), and text written through the splice would lose them. With colours on,
        // the first line is written once into a buffer to learn whether the format is JSON
        // (which ignores colours: `.json().with_ansi(true)`); text lines then get the prefix
        // on the writer itself.
        if writer.has_ansi_escapes() {
            let json = match self.json.get() {
                Some(&json) => json,
                None => {
                    let mut probe = String::new();
                    self.inner
                        .format_event(ctx, Writer::new(&mut probe), event)?;
                    *self.json.get_or_init(|| probe.starts_with('{'))
                }
            };
            if !json {
                write!(writer, "trace_id={} span_id={} ", c.trace_id, c.span_id)?;
                return self.inner.format_event(ctx, writer, event);
            }
        }
        let mut with_ids = WithIds {
            out: writer,
            ids: c,
            state: Splice::Start,
        };
        self.inner
            .format_event(ctx, Writer::new(&mut with_ids), event)
    }
}

/// Where a line stands in [`WithIds`].
enum Splice {
    /// Nothing written yet.
    Start,
    /// A JSON object's `{` and the ids written; a `,` is due unless the object ends here.
    AfterIds,
    /// The rest of the line, as it comes.
    Through,
}

/// Passes a line through to `out`, putting the ids first: as members of the object when the
/// line starts with `{`, else as a text prefix. Streaming, so that a line is not copied.
struct WithIds<'w> {
    out: Writer<'w>,
    ids: SpanContext,
    state: Splice,
}

impl fmt::Write for WithIds<'_> {
    fn write_str(&mut self, mut s: &str) -> fmt::Result {
        if let Splice::Start = self.state {
            if s.is_empty() {
                return Ok(());
            }
            match s.strip_prefix('{') {
                Some(rest) => {
                    write!(
                        self.out,
                        "{{\"trace_id\":\"{}\",\"span_id\":\"{}\"",
                        self.ids.trace_id, self.ids.span_id
                    )?;
                    self.state = Splice::AfterIds;
                    s = rest;
                }
                None => {
                    write!(
                        self.out,
                        "trace_id={} span_id={} ",
                        self.ids.trace_id, self.ids.span_id
                    )?;
                    self.state = Splice::Through;
                }
            }
        }
        if let Splice::AfterIds = self.state {
            if s.is_empty() {
                return Ok(());
            }
            if !s.starts_with('}') {
                self.out.write_char(',')?;
            }
            self.state = Splice::Through;
        }
        self.out.write_str(s)
    }
}

#[cfg(test)]
mod tests {
    use std::fmt::Write as _;

    use zipkin_runtime::{Sampling, SpanContext};

    use super::*;

    /// What `inner` writes, in these pieces, once through [`WithIds`].
    fn spliced(pieces: &[&str]) -> String {
        let mut out = String::new();
        let mut w = WithIds {
            out: Writer::new(&mut out),
            ids: SpanContext {
                trace_id: "1000000000000000000000000000000a".parse().unwrap(),
                span_id: "000000000000000b".parse().unwrap(),
                parent_id: None,
                sampling: Sampling::Sampled,
                debug: false,
            },
            state: Splice::Start,
        };
        for p in pieces {
            w.write_str(p).unwrap();
        }
        out
    }

    const IDS: &str =
        r#""trace_id":"1000000000000000000000000000000a","span_id":"000000000000000b""#;

    #[test]
    fn the_ids_go_first_in_an_object_in_whatever_pieces_it_comes() {
        assert_eq!(spliced(&[r#"{"a":1}"#]), format!("{{{IDS},\"a\":1}}"));
        assert_eq!(
            spliced(&["", "{", "", r#""a":1}"#]),
            format!("{{{IDS},\"a\":1}}")
        );
        assert_eq!(spliced(&["{", "}"]), format!("{{{IDS}}}"));
        assert_eq!(spliced(&["{}\n"]), format!("{{{IDS}}}\n"));
    }

    #[test]
    fn text_gets_a_prefix() {
        assert_eq!(
            spliced(&["", " INFO x", ": y"]),
            "trace_id=1000000000000000000000000000000a span_id=000000000000000b  INFO x: y"
        );
    }
}
