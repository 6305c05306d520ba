//! The layer against the runtime's memory transport: names, fields, events, errors, timing,
//! one tree with `#[zipkin_span]`, injection, remote parents, sampling, hostile values and log
//! correlation.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tracing_subscriber::layer::{Layered, SubscriberExt};
use tracing_subscriber::Registry;
use zipkin_rs_macros::zipkin_span;
use zipkin_runtime::model::Span;
use zipkin_runtime::transport::memory::MemoryTransport;
use zipkin_runtime::{Tracer, TracerBuilder};
use zipkin_tracing::{with_remote_parent, TagFields, TraceIds, ZipkinLayer};

fn tracer(b: TracerBuilder) -> (Tracer, MemoryTransport) {
    let mem = MemoryTransport::new();
    let t = b
        .service_name("bridge")
        .transport(mem.clone())
        .build()
        .unwrap();
    (t, mem)
}

/// Runs `f` with the layer as the default subscriber and `tracer` as the thread's tracer, then
/// returns what was reported.
fn run(layer: ZipkinLayer, b: TracerBuilder, f: impl FnOnce()) -> Vec<Span> {
    let (t, mem) = tracer(b);
    let subscriber = tracing_subscriber::registry().with(layer);
    tracing::subscriber::with_default(subscriber, || t.in_scope(f));
    t.flush(Duration::from_secs(5));
    mem.spans()
}

fn by_name<'a>(spans: &'a [Span], name: &str) -> &'a Span {
    spans
        .iter()
        .find(|s| s.name.as_deref() == Some(name))
        .unwrap_or_else(|| panic!("no span {name} in {spans:#?}"))
}

#[test]
fn spans_fields_events_and_errors() {
    let spans = run(ZipkinLayer::new(), Tracer::builder(), || {
        let outer = tracing::info_span!("outer", user = 42, late = tracing::field::Empty);
        let _g = outer.enter();
        outer.record("late", "recorded");
        tracing::info!(items = 3, "cart loaded");
        {
            let _inner =
                tracing::debug_span!("inner", zipkin.name = "renamed", otel.kind = "client")
                    .entered();
            tracing::error!("boom");
        }
        let _e = tracing::info_span!("with_error", error = "bad input").entered();
        tracing::warn!(error = "disk full", "write failed");
    });
    assert_eq!(spans.len(), 3, "{spans:#?}");
    let outer = by_name(&spans, "outer");
    assert_eq!(outer.tags["user"], "42");
    assert_eq!(outer.tags["late"], "recorded");
    assert_eq!(outer.annotations.len(), 1);
    assert_eq!(outer.annotations[0].value, "cart loaded items=3");
    assert!(!outer.tags.contains_key("error"));
    assert_eq!(
        outer
            .local_endpoint
            .as_ref()
            .unwrap()
            .service_name
            .as_deref(),
        Some("bridge")
    );

    let inner = by_name(&spans, "renamed");
    assert_eq!(inner.kind.as_deref(), Some("CLIENT"));
    assert_eq!(inner.parent_id.as_deref(), Some(outer.id.as_str()));
    assert_eq!(inner.trace_id, outer.trace_id);
    assert_eq!(inner.tags["error"], "boom");
    assert!(!inner.tags.contains_key("zipkin.name") && !inner.tags.contains_key("otel.kind"));
    assert_eq!(inner.annotations[0].value, "boom");

    let e = by_name(&spans, "with_error");
    assert_eq!(e.parent_id.as_deref(), Some(outer.id.as_str()));
    // The event's `error` field wins over the span's, set before it.
    assert_eq!(e.tags["error"], "disk full");
    assert_eq!(e.annotations[0].value, "write failed error=disk full");
}

#[test]
fn builder_levels_service_and_tag_fields() {
    let layer = ZipkinLayer::new()
        .with_span_level(tracing::Level::INFO)
        .with_event_level(tracing::Level::WARN)
        .with_service_name("checkout")
        .with_tag_fields(TagFields::Except(vec!["password"]));
    let spans = run(layer, Tracer::builder(), || {
        let _a = tracing::info_span!("kept", user = 1, password = "hunter2").entered();
        let _b = tracing::debug_span!("skipped").entered();
        let _c = tracing::info_span!("child").entered();
        tracing::info!("not an annotation");
        tracing::warn!("an annotation");
    });
    assert_eq!(spans.len(), 2, "{spans:#?}");
    let kept = by_name(&spans, "kept");
    let child = by_name(&spans, "child");
    assert_eq!(child.parent_id.as_deref(), Some(kept.id.as_str()));
    assert_eq!(kept.tags.get("password"), None);
    assert_eq!(kept.tags["user"], "1");
    assert_eq!(child.annotations.len(), 1);
    assert_eq!(child.annotations[0].value, "an annotation");
    assert_eq!(kept.service(), "checkout");

    let spans = run(
        ZipkinLayer::new().with_tag_fields(TagFields::Only(vec!["a"])),
        Tracer::builder(),
        || {
            let _a = tracing::info_span!("only", a = 1, b = 2, error = "x").entered();
        },
    );
    let s = by_name(&spans, "only");
    assert_eq!(s.tags.len(), 2, "{:?}", s.tags);
    assert_eq!(s.tags["a"], "1");
    assert_eq!(s.tags["error"], "x");
}

#[zipkin_span(crate = zipkin_runtime)]
fn zipkin_fn() {
    let _t = tracing::info_span!("tracing_in_zipkin").entered();
    zipkin_runtime::tag("from_free_fn", "yes");
}

#[test]
fn one_tree_with_zipkin_span_both_ways() {
    let spans = run(ZipkinLayer::new(), Tracer::builder(), || {
        let _outer = tracing::info_span!("tracing_outer").entered();
        zipkin_fn();
        // A free function inside a tracing span reaches it.
        zipkin_runtime::tag("outer_tag", 1);
    });
    assert_eq!(spans.len(), 3, "{spans:#?}");
    let outer = by_name(&spans, "tracing_outer");
    let z = by_name(&spans, "zipkin_fn");
    let inner = by_name(&spans, "tracing_in_zipkin");
    assert_eq!(z.parent_id.as_deref(), Some(outer.id.as_str()));
    assert_eq!(inner.parent_id.as_deref(), Some(z.id.as_str()));
    assert_eq!(inner.tags["from_free_fn"], "yes");
    assert_eq!(outer.tags["outer_tag"], "1");
    assert!(outer.trace_id == z.trace_id && z.trace_id == inner.trace_id);
}

#[test]
fn explicit_parents_and_roots() {
    let spans = run(ZipkinLayer::new(), Tracer::builder(), || {
        let a = tracing::info_span!("a");
        let _b = tracing::info_span!("b").entered();
        let _c = tracing::info_span!(parent: &a, "c").entered();
        tracing::info!(parent: &a, "to a");
        let _d = tracing::info_span!(parent: None, "d").entered();
    });
    let (a, b, c, d) = (
        by_name(&spans, "a"),
        by_name(&spans, "b"),
        by_name(&spans, "c"),
        by_name(&spans, "d"),
    );
    assert_eq!(c.parent_id.as_deref(), Some(a.id.as_str()));
    assert_eq!(c.trace_id, a.trace_id);
    assert_eq!(a.annotations[0].value, "to a");
    assert!(b.parent_id.is_none() && a.parent_id.is_none() && d.parent_id.is_none());
    assert_ne!(d.trace_id, c.trace_id);
}

#[test]
fn inject_sends_the_tracing_span_and_a_new_child_id() {
    let mut seen = None;
    let spans = run(ZipkinLayer::new(), Tracer::builder(), || {
        let _s = tracing::info_span!("caller").entered();
        seen = Some(zipkin_runtime::extract(&zipkin_runtime::inject_headers()));
    });
    let caller = by_name(&spans, "caller");
    let ids = seen.unwrap().ids.unwrap();
    assert_eq!(ids.trace_id.to_string(), caller.trace_id);
    assert_eq!(
        ids.parent_id.map(|p| p.to_string()).as_deref(),
        Some(caller.id.as_str())
    );
    assert_ne!(ids.span_id.to_string(), caller.id);
}

#[test]
fn remote_parent_from_extract() {
    let mut headers = http::HeaderMap::new();
    headers.insert(
        "b3",
        "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1"
            .parse()
            .unwrap(),
    );
    let spans = run(ZipkinLayer::new(), Tracer::builder(), || {
        let remote = zipkin_runtime::extract(&headers);
        let s = with_remote_parent(remote, || tracing::info_span!("handle"));
        let _g = s.enter();
        let _c = tracing::info_span!("work").entered();
    });
    let h = by_name(&spans, "handle");
    assert_eq!(h.trace_id, "80f198ee56343ba864fe8b2a57d3eff7");
    assert_eq!(h.kind.as_deref(), Some("SERVER"));
    let w = by_name(&spans, "work");
    assert_eq!(w.trace_id, h.trace_id);
    assert_eq!(w.parent_id.as_deref(), Some(h.id.as_str()));
}

#[test]
fn unsampled_traces_report_nothing_and_propagate_the_decision() {
    let mut seen = None;
    let spans = run(
        ZipkinLayer::new(),
        Tracer::builder().sample_rate(0.0),
        || {
            let _a = tracing::info_span!("a", x = 1).entered();
            let _b = tracing::info_span!("b").entered();
            tracing::error!("not recorded");
            zipkin_fn();
            seen = Some(zipkin_runtime::extract(&zipkin_runtime::inject_headers()));
        },
    );
    assert!(spans.is_empty(), "{spans:#?}");
    assert_eq!(seen.unwrap().sampling, zipkin_runtime::Sampling::NotSampled);
}

#[test]
fn timing_from_first_enter_to_close() {
    use zipkin_runtime::__unstable::clock;
    let (mut created, mut entered, mut closed) = (0, 0, 0);
    let spans = run(ZipkinLayer::new(), Tracer::builder(), || {
        created = clock::epoch_micros(clock::now());
        let s = tracing::info_span!("late_start");
        std::thread::sleep(Duration::from_millis(20));
        entered = clock::epoch_micros(clock::now());
        s.in_scope(|| std::thread::sleep(Duration::from_millis(5)));
        drop(s);
        closed = clock::epoch_micros(clock::now());
    });
    let s = by_name(&spans, "late_start");
    // Ordered readings of one clock, not timed: the span starts after the reading taken once
    // the 20 ms before its first enter had passed, and ends before the one after its close.
    assert!(entered >= created + 20_000);
    let (ts, d) = (s.timestamp.unwrap(), s.duration.unwrap());
    assert!(
        ts >= entered,
        "{s:?} starts before its first enter ({entered})"
    );
    assert!(
        ts + d <= closed + 1,
        "{s:?} ends after its close ({closed})"
    );
    assert!(d >= 5_000, "{s:?}");
}

#[test]
fn instrumented_futures_moving_between_threads() {
    use tracing::Instrument;
    let (t, mem) = tracer(Tracer::builder());
    let dispatch = tracing::Dispatch::new(tracing_subscriber::registry().with(ZipkinLayer::new()));
    let _d = tracing::dispatcher::set_default(&dispatch);
    // The registry closes a span's parent through the thread's default dispatcher: workers get
    // this one for good (as with a global subscriber), or parents closed there would leak.
    let worker_dispatch = dispatch.clone();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .on_thread_start(move || {
            std::mem::forget(tracing::dispatcher::set_default(&worker_dispatch));
        })
        .enable_all()
        .build()
        .unwrap();
    let _tg = t.set_default();
    let root = tracing::info_span!("root");
    rt.block_on(
        async {
            let mut handles = Vec::new();
            for i in 0..4 {
                let span = tracing::info_span!("task", i);
                handles.push(tokio::spawn(
                    async move {
                        for _ in 0..5 {
                            tokio::task::yield_now().await;
                            zipkin_inner().await;
                        }
                    }
                    .instrument(span),
                ));
            }
            for h in handles {
                h.await.unwrap();
            }
        }
        .instrument(root.clone()),
    );
    drop(rt);
    drop(root);
    t.flush(Duration::from_secs(5));
    let spans = mem.spans();
    let root = by_name(&spans, "root");
    let tasks: Vec<_> = spans
        .iter()
        .filter(|s| s.name.as_deref() == Some("task"))
        .collect();
    assert_eq!(tasks.len(), 4);
    let inner: Vec<_> = spans
        .iter()
        .filter(|s| s.name.as_deref() == Some("zipkin_inner"))
        .collect();
    assert_eq!(inner.len(), 20, "{spans:#?}");
    for t in &tasks {
        assert_eq!(t.parent_id.as_deref(), Some(root.id.as_str()));
        // Inside the root's time.
        assert!(t.timestamp.unwrap() >= root.timestamp.unwrap());
        assert!(
            t.timestamp.unwrap() + t.duration.unwrap()
                <= root.timestamp.unwrap() + root.duration.unwrap()
        );
    }
    for z in &inner {
        let parent = tasks
            .iter()
            .find(|t| Some(t.id.as_str()) == z.parent_id.as_deref());
        let parent = parent.unwrap_or_else(|| panic!("{z:?} not under a task"));
        assert!(z.timestamp.unwrap() >= parent.timestamp.unwrap());
    }
}

#[zipkin_span(crate = zipkin_runtime)]
async fn zipkin_inner() {
    tokio::task::yield_now().await;
}

#[test]
fn hostile_values_are_valid_truncated_and_counted() {
    let (t, mem) = tracer(Tracer::builder());
    let subscriber = tracing_subscriber::registry().with(ZipkinLayer::new());
    let huge = "x".repeat(100_000);
    // Three bytes a character: a cut at the limit falls inside one unless it backs off.
    let wide = "€".repeat(40_000);
    let bytes: &[u8] = &[0xff, 0xfe, 0x00, 0x1b];
    let before = t.tag_truncations();
    tracing::subscriber::with_default(subscriber, || {
        t.in_scope(|| {
            let _s = tracing::info_span!("hostile", ctl = "a\u{0}b\u{1b}[31m\r\n\"", huge = %huge, bytes = ?bytes, wide = %wide)
                .entered();
            tracing::info!(huge = %huge, "big event\u{7}");
        })
    });
    t.flush(Duration::from_secs(5));
    // The memory transport decoded valid JSON; check what it holds.
    let spans = mem.spans();
    let s = by_name(&spans, "hostile");
    assert_eq!(s.tags["ctl"], "a\u{0}b\u{1b}[31m\r\n\"");
    assert_eq!(s.tags["huge"].len(), t.config().max_tag_bytes());
    assert_eq!(s.tags["bytes"], "[255, 254, 0, 27]");
    let max = t.config().max_tag_bytes();
    assert!(
        max % 3 != 0,
        "the limit must fall inside a character for this check"
    );
    let cut = &s.tags["wide"];
    assert_eq!(cut.len(), max / 3 * 3, "cut at the last whole character");
    assert!(cut.chars().all(|c| c == '€'));
    assert_eq!(s.annotations[0].value.len(), max);
    assert!(s.annotations[0].value.starts_with("big event\u{7} huge=x"));
    assert_eq!(t.tag_truncations() - before, 3);
}

/// A `Write` into a shared buffer, for the fmt layer.
#[derive(Clone, Default)]
struct Buf(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Buf {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Runs `f` with the layer and the fmt layer `fmt` builds around a writer; returns what was
/// reported and what was logged.
fn logged<L>(fmt: impl FnOnce(Buf) -> L, f: impl FnOnce()) -> (Vec<Span>, String)
where
    L: tracing_subscriber::Layer<Layered<ZipkinLayer, Registry>> + Send + Sync + 'static,
{
    let (t, mem) = tracer(Tracer::builder());
    let buf = Buf::default();
    let subscriber = tracing_subscriber::registry()
        .with(ZipkinLayer::new())
        .with(fmt(buf.clone()));
    tracing::subscriber::with_default(subscriber, || t.in_scope(f));
    t.flush(Duration::from_secs(5));
    let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
    (mem.spans(), text)
}

#[test]
fn log_lines_carry_the_ids_of_their_span() {
    let (spans, text) = logged(
        |out| {
            tracing_subscriber::fmt::layer()
                .with_ansi(false)
                .with_writer(move || out.clone())
                .event_format(TraceIds::standard())
        },
        || {
            tracing::info!("outside");
            let _a = tracing::info_span!("logged").entered();
            tracing::info!("in logged");
            zipkin_logged();
        },
    );
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert!(!lines[0].contains("trace_id="), "{text}");
    let logged = by_name(&spans, "logged");
    let z = by_name(&spans, "zipkin_logged");
    assert!(
        lines[1].starts_with(&format!(
            "trace_id={} span_id={} ",
            logged.trace_id, logged.id
        )),
        "{text}"
    );
    assert!(lines[1].ends_with("in logged"), "{text}");
    assert!(
        lines[2].starts_with(&format!("trace_id={} span_id={} ", z.trace_id, z.id)),
        "{text}"
    );
}

#[zipkin_span(crate = zipkin_runtime)]
fn zipkin_logged() {
    tracing::info!("in zipkin fn");
}

#[test]
fn otel_conventions_recorded_later() {
    let spans = run(ZipkinLayer::new(), Tracer::builder(), || {
        let s = tracing::info_span!(
            "generic",
            otel.name = tracing::field::Empty,
            otel.status_code = tracing::field::Empty,
            otel.status_message = tracing::field::Empty,
        );
        let _g = s.enter();
        s.record("otel.name", "GET /items/{id}");
        s.record("otel.status_code", "ERROR");
        s.record("otel.status_message", "upstream timed out");
    });
    let s = by_name(&spans, "GET /items/{id}");
    assert_eq!(s.tags["error"], "upstream timed out");
    assert!(!s.tags.contains_key("otel.status_code"), "{:?}", s.tags);
    assert!(!s.tags.contains_key("otel.name"), "{:?}", s.tags);
}

/// A value that counts how often it is rendered.
struct Rendered<'a>(&'a std::sync::atomic::AtomicUsize);

impl std::fmt::Debug for Rendered<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        f.write_str("rendered")
    }
}

#[test]
fn fields_left_out_are_never_rendered() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let (secret, kept) = (AtomicUsize::new(0), AtomicUsize::new(0));
    let layer = ZipkinLayer::new().with_tag_fields(TagFields::Except(vec!["secret"]));
    let spans = run(layer, Tracer::builder(), || {
        let s = tracing::info_span!(
            "filtered",
            secret = ?Rendered(&secret),
            kept = ?Rendered(&kept),
            late = tracing::field::Empty
        );
        s.record("secret", tracing::field::debug(Rendered(&secret)));
        s.record("late", tracing::field::debug(Rendered(&kept)));
    });
    let s = by_name(&spans, "filtered");
    assert_eq!(secret.load(Ordering::Relaxed), 0);
    assert_eq!(kept.load(Ordering::Relaxed), 2);
    assert_eq!(s.tags["kept"], "rendered");
    assert_eq!(s.tags["late"], "rendered");
    assert!(!s.tags.contains_key("secret"), "{:?}", s.tags);
}

/// Regression: the README told JSON users to wrap `fmt::format().json()`, which panicked on the
/// first line in a span (JSON events with text fields), and the working setup wrote
/// `trace_id=… span_id=… {…}`, which no JSON log pipeline parses.
#[test]
fn json_log_lines_stay_json_and_carry_the_ids_as_members() {
    let (spans, text) = logged(
        |out| {
            tracing_subscriber::fmt::layer()
                .json()
                .with_writer(move || out.clone())
                .map_event_format(TraceIds::new)
        },
        || {
            tracing::info!("outside");
            let _a = tracing::info_span!("logged_json", user = 7).entered();
            tracing::info!(items = 3, "in logged_json");
            zipkin_logged();
        },
    );
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert!(lines[0].get("trace_id").is_none(), "{text}");
    assert_eq!(lines[0]["fields"]["message"], "outside", "{text}");
    let logged = by_name(&spans, "logged_json");
    let z = by_name(&spans, "zipkin_logged");
    for (line, span) in [(&lines[1], logged), (&lines[2], z)] {
        assert_eq!(line["trace_id"], span.trace_id.as_str(), "{text}");
        assert_eq!(line["span_id"], span.id.as_str(), "{text}");
    }
    // The inner format's members are all still there.
    assert_eq!(lines[1]["fields"]["message"], "in logged_json", "{text}");
    assert_eq!(lines[1]["fields"]["items"], 3, "{text}");
    assert_eq!(lines[1]["level"], "INFO", "{text}");
    assert_eq!(lines[1]["span"]["name"], "logged_json", "{text}");
}

/// With colours on, the ids still start the line (the text path, without the splice).
#[test]
fn coloured_log_lines_start_with_the_ids() {
    let (spans, text) = logged(
        |out| {
            tracing_subscriber::fmt::layer()
                .with_ansi(true)
                .with_writer(move || out.clone())
                .map_event_format(TraceIds::new)
        },
        || {
            let _a = tracing::info_span!("coloured").entered();
            tracing::info!("in coloured");
        },
    );
    let s = by_name(&spans, "coloured");
    assert!(
        text.starts_with(&format!("trace_id={} span_id={} ", s.trace_id, s.id)),
        "{text}"
    );
    assert!(text.contains('\x1b'), "colours expected: {text:?}");
}

/// Regression: a `log` record bridged by tracing-log (hyper's and reqwest's lines) became an
/// annotation ending in `log.target=… log.module_path=… log.file=… log.line=…`.
#[test]
fn the_fields_tracing_log_adds_stay_out_of_annotations() {
    let spans = run(ZipkinLayer::new(), Tracer::builder(), || {
        let _s = tracing::info_span!("bridged").entered();
        tracing::info!(
            log.target = "reqwest::connect",
            log.module_path = "reqwest::connect",
            log.file = "src/connect.rs",
            log.line = 929u32,
            "starting new connection"
        );
        tracing::info!(
            log.target = "x",
            peer = "10.0.0.1",
            "with a field of its own"
        );
    });
    let s = by_name(&spans, "bridged");
    let values: Vec<&str> = s.annotations.iter().map(|a| a.value.as_str()).collect();
    assert_eq!(
        values,
        [
            "starting new connection",
            "with a field of its own peer=10.0.0.1"
        ]
    );
}

/// `.json().with_ansi(true)` turns colours back on, which JSON ignores: its lines stay JSON.
#[test]
fn json_lines_with_colours_on_stay_json() {
    let (spans, text) = logged(
        |out| {
            tracing_subscriber::fmt::layer()
                .json()
                .with_ansi(true)
                .with_writer(move || out.clone())
                .map_event_format(TraceIds::new)
        },
        || {
            let _a = tracing::info_span!("json_coloured").entered();
            tracing::info!("first");
            tracing::info!("second");
        },
    );
    let s = by_name(&spans, "json_coloured");
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    assert_eq!(lines.len(), 2, "{text}");
    for line in &lines {
        assert_eq!(line["span_id"], s.id.as_str(), "{text}");
    }
}
