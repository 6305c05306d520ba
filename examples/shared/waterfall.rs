//! A trace drawn in the terminal the way the Zipkin UI draws it: one line per span, nested under
//! its parent, with its service, a bar for when it ran within the trace, and its duration.
//!
//! ```text
//! SERVICE   SPAN                        0ms                  105.1ms             210.1ms
//! webapp    index                      │████████████████████████████████████████████████│ 210.1ms
//! webapp    └─ do_stuff                │█████████████████████████                       │ 108.4ms
//! service1     └─ index_service1       │            █████████████                       │  51.4ms
//! service1        └─ service1_do_stuff │            █████████████                       │  51.3ms
//! ```

use std::collections::HashMap;
use std::fmt::Write as _;

use zipkin_rs::model::Span;

/// How to draw.
#[derive(Clone, Copy, Debug)]
pub struct Style {
    /// Cells of the timeline.
    pub width: usize,
    /// ANSI colours, one per service, as the UI colours spans by service.
    pub color: bool,
}

impl Default for Style {
    fn default() -> Self {
        Style {
            width: 48,
            color: false,
        }
    }
}

/// A span's place in the drawing.
struct Row<'a> {
    span: &'a Span,
    /// Tree guides drawn before the name (`│  `, `├─ `, `└─ `).
    prefix: String,
}

/// The spans of one trace as rows in tree order. A server span that shares its id with the
/// client span of the caller hangs under it, and the server's children under the server, as the
/// UI merges the two halves. Spans whose parent is missing are drawn as roots.
fn rows(spans: &[Span]) -> Vec<Row<'_>> {
    // Which span a child with `parent_id == id` belongs under: the server half if there is one.
    let mut by_id: HashMap<&str, usize> = HashMap::new();
    for (i, s) in spans.iter().enumerate() {
        let prefer = s.shared == Some(true) || !by_id.contains_key(s.id.as_str());
        if prefer {
            by_id.insert(s.id.as_str(), i);
        }
    }
    let mut children: Vec<Vec<usize>> = vec![Vec::new(); spans.len()];
    let mut roots = Vec::new();
    for (i, s) in spans.iter().enumerate() {
        let client_half = spans
            .iter()
            .position(|o| o.id == s.id && o.shared != Some(true));
        let parent = if s.shared == Some(true) && client_half.is_some_and(|c| c != i) {
            client_half
        } else {
            s.parent_id
                .as_deref()
                .and_then(|p| by_id.get(p).copied())
                .filter(|&p| p != i && spans[p].id != s.id)
        };
        match parent {
            Some(p) => children[p].push(i),
            None => roots.push(i),
        }
    }
    let start = |i: &usize| (spans[*i].timestamp.unwrap_or(0), *i);
    roots.sort_by_key(start);
    for c in &mut children {
        c.sort_by_key(start);
    }
    let mut out = Vec::with_capacity(spans.len());
    let mut seen = vec![false; spans.len()];
    fn walk<'a>(
        i: usize,
        guides: &str,
        last: Option<bool>,
        spans: &'a [Span],
        children: &[Vec<usize>],
        seen: &mut [bool],
        out: &mut Vec<Row<'a>>,
    ) {
        if std::mem::replace(&mut seen[i], true) {
            return; // a cycle in hostile input
        }
        let prefix = match last {
            None => String::new(),
            Some(true) => format!("{guides}└─ "),
            Some(false) => format!("{guides}├─ "),
        };
        out.push(Row {
            span: &spans[i],
            prefix,
        });
        let inner = match last {
            None => String::new(),
            Some(true) => format!("{guides}   "),
            Some(false) => format!("{guides}│  "),
        };
        let n = children[i].len();
        for (k, &c) in children[i].iter().enumerate() {
            walk(c, &inner, Some(k + 1 == n), spans, children, seen, out);
        }
    }
    for r in roots {
        walk(r, "", None, spans, &children, &mut seen, &mut out);
    }
    out
}

/// The services of a trace in the order their first span started.
pub fn services(spans: &[Span]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for r in rows(spans) {
        let s = r.span.service().to_owned();
        if !out.contains(&s) {
            out.push(s);
        }
    }
    out
}

/// First start and last end of the trace, in epoch microseconds.
pub fn bounds(spans: &[Span]) -> (u64, u64) {
    let start = spans.iter().filter_map(|s| s.timestamp).min().unwrap_or(0);
    let end = spans
        .iter()
        .filter_map(|s| s.timestamp.map(|t| t + s.duration.unwrap_or(0)))
        .max()
        .unwrap_or(start);
    (start, end.max(start))
}

/// A duration as the UI shows it: `850µs`, `201.3ms`, `20.05s`.
pub fn duration(micros: u64) -> String {
    if micros < 1_000 {
        format!("{micros}µs")
    } else if micros < 1_000_000 {
        format!("{:.1}ms", micros as f64 / 1e3)
    } else {
        format!("{:.2}s", micros as f64 / 1e6)
    }
}

const PALETTE: &[&str] = &["38;5;33", "38;5;208", "38;5;35", "38;5;170", "38;5;178"];

/// Draws one trace.
pub fn render(spans: &[Span], style: Style) -> String {
    let width = style.width.max(8);
    let rows = rows(spans);
    let (t0, t1) = bounds(spans);
    let total = (t1 - t0).max(1);
    let services = services(spans);
    let paint = |service: &str, text: &str| -> String {
        match services.iter().position(|s| s == service) {
            Some(i) if style.color => format!("\x1b[{}m{text}\x1b[0m", PALETTE[i % PALETTE.len()]),
            _ => text.to_owned(),
        }
    };
    let sw = rows
        .iter()
        .map(|r| r.span.service().chars().count())
        .chain(["SERVICE".len()])
        .max()
        .unwrap_or(7);
    let names: Vec<String> = rows
        .iter()
        .map(|r| {
            format!(
                "{}{}",
                r.prefix,
                r.span.name.as_deref().unwrap_or("<unnamed>")
            )
        })
        .collect();
    let nw = names
        .iter()
        .map(|n| n.chars().count())
        .chain(["SPAN".len()])
        .max()
        .unwrap_or(4);
    let durations: Vec<String> = rows
        .iter()
        .map(|r| r.span.duration.map(duration).unwrap_or_else(|| "?".into()))
        .collect();
    let dw = durations
        .iter()
        .map(|d| d.chars().count())
        .max()
        .unwrap_or(1);

    let mut out = String::new();
    // The time axis: 0, the middle and the end of the trace, over the bars.
    let (mid, end) = (duration(total / 2), duration(total));
    let mut axis = vec![' '; width + 2];
    let mut put = |at: usize, text: &str| {
        for (k, ch) in text.chars().enumerate() {
            if let Some(c) = axis.get_mut(at + k) {
                *c = ch;
            }
        }
    };
    let (mid_len, end_len) = (mid.chars().count(), end.chars().count());
    let (mid_at, end_at) = (
        (width + 2) / 2 - mid_len / 2,
        (width + 1).saturating_sub(end_len),
    );
    put(1, "0ms");
    if mid_at > 5 && mid_at + mid_len < end_at {
        put(mid_at, &mid); // only where it has room
    }
    put(end_at.max(5), &end);
    let axis: String = axis.into_iter().collect();
    let _ = writeln!(
        out,
        "{:<sw$}  {:<nw$} {}",
        "SERVICE",
        "SPAN",
        axis.trim_end()
    );
    for (k, r) in rows.iter().enumerate() {
        let s = r.span;
        let start = s.timestamp.unwrap_or(t0).saturating_sub(t0);
        let end = start + s.duration.unwrap_or(0);
        let cell = |t: u64| t as f64 * width as f64 / total as f64;
        let from = (cell(start).floor() as usize).min(width - 1);
        let to = (cell(end).ceil() as usize).clamp(from + 1, width);
        let bar: String = (0..width)
            .map(|c| if (from..to).contains(&c) { '█' } else { ' ' })
            .collect();
        let service = s.service();
        let _ = writeln!(
            out,
            "{}  {:<nw$} │{}│ {:>dw$}",
            paint(service, &format!("{service:<sw$}")),
            names[k],
            paint(service, &bar),
            durations[k],
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use zipkin_rs::model::Endpoint;

    fn span(id: &str, parent: Option<&str>, name: &str, service: &str, ts: u64, dur: u64) -> Span {
        Span {
            trace_id: "1".repeat(16),
            id: id.repeat(16),
            parent_id: parent.map(|p| p.repeat(16)),
            name: Some(name.into()),
            timestamp: Some(ts),
            duration: Some(dur),
            local_endpoint: Some(Endpoint {
                service_name: Some(service.into()),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    /// The blog demo's trace: the server half of the call to service1 shares an id that only
    /// service1 reports, under webapp's do_stuff.
    #[test]
    fn the_demo_trace_nests_four_spans_with_bars_in_proportion() {
        let mut server = span(
            "c",
            Some("b"),
            "index_service1",
            "service1",
            1_050_000,
            50_000,
        );
        server.shared = Some(true);
        let spans = vec![
            span(
                "d",
                Some("c"),
                "service1_do_stuff",
                "service1",
                1_050_000,
                50_000,
            ),
            server,
            span("b", Some("a"), "do_stuff", "webapp", 1_000_000, 100_000),
            span("a", None, "index", "webapp", 1_000_000, 200_000),
        ];
        let got = render(
            &spans,
            Style {
                width: 20,
                color: false,
            },
        );
        let want = "\
SERVICE   SPAN                        0ms          200.0ms
webapp    index                      │████████████████████│ 200.0ms
webapp    └─ do_stuff                │██████████          │ 100.0ms
service1     └─ index_service1       │     █████          │  50.0ms
service1        └─ service1_do_stuff │     █████          │  50.0ms
";
        assert_eq!(got, want, "\n{got}");
        assert_eq!(services(&spans), ["webapp", "service1"]);
        assert_eq!(bounds(&spans), (1_000_000, 1_200_000));
    }

    /// A call traced on both sides: the server half (same id, `shared`) hangs under the client
    /// half and the server's children under the server, as the UI merges them; a span whose
    /// parent was never reported is drawn as a root.
    #[test]
    fn a_shared_server_half_nests_under_its_client_half() {
        let mut client = span("c", Some("a"), "get", "web", 10, 80);
        client.kind = Some("CLIENT".into());
        let mut server = span("c", Some("a"), "get", "api", 20, 60);
        server.shared = Some(true);
        let spans = vec![
            span("d", Some("c"), "query", "api", 30, 20),
            server,
            client,
            span("a", None, "root", "web", 0, 100),
            span("e", Some("f"), "orphan", "api", 50, 10),
        ];
        let got = render(
            &spans,
            Style {
                width: 10,
                color: false,
            },
        );
        let names: Vec<&str> = got
            .lines()
            .skip(1)
            .map(|l| l.split('│').next().unwrap()[9..].trim_end())
            .collect();
        assert_eq!(
            names,
            ["root", "└─ get", "   └─ get", "      └─ query", "orphan"],
            "\n{got}"
        );
    }
}
