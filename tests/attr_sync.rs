//! `#[zipkin_span]` on synchronous functions: the span tree, every exit path, and the options.

mod common;

use std::sync::atomic::{AtomicU32, Ordering};

use common::{collect, span, tag_of, tracer};
use zipkin_rs::testing::render_tree;
use zipkin_rs::*;

#[zipkin_span]
fn leaf() {}

#[zipkin_span]
fn middle() {
    leaf();
}

#[zipkin_span(span_name = "top")]
fn top() {
    middle();
    leaf();
    middle();
}

#[test]
fn nested_sync_calls_form_a_tree() {
    let (t, mem) = tracer();
    t.in_scope(top);
    let spans = collect(t, &mem);
    assert_eq!(
        render_tree(&spans),
        "top (svc)\n  middle (svc)\n    leaf (svc)\n  leaf (svc)\n  middle (svc)\n    leaf (svc)\n"
    );
    let root = span(&spans, "top");
    assert!(root.parent_id.is_none());
    assert!(spans.iter().all(|s| s.trace_id == root.trace_id));
    assert!(current_context().is_none(), "no span left current");
}

#[zipkin_span]
fn factorial(n: u64) -> u64 {
    if n <= 1 {
        return 1; // an early return closes the span like any other
    }
    n * factorial(n - 1)
}

#[test]
fn recursion_nests_each_call() {
    let (t, mem) = tracer();
    assert_eq!(t.in_scope(|| factorial(4)), 24);
    let spans = collect(t, &mem);
    assert_eq!(
        render_tree(&spans),
        "factorial (svc)\n  factorial (svc)\n    factorial (svc)\n      factorial (svc)\n"
    );
}

/// The address of a local in each of `depth` nested calls: their distance is the frame.
#[zipkin_span]
#[inline(never)]
fn framed_depth(depth: u32) -> usize {
    let here = 0u8;
    let at = std::hint::black_box(&here) as *const u8 as usize;
    if depth == 0 {
        at
    } else {
        std::hint::black_box(framed_depth(depth - 1))
    }
}

#[inline(never)]
fn plain_depth(depth: u32) -> usize {
    let here = 0u8;
    let at = std::hint::black_box(&here) as *const u8 as usize;
    if depth == 0 {
        at
    } else {
        std::hint::black_box(plain_depth(depth - 1))
    }
}

/// A recursive instrumented function must not need a large stack: its frame holds an index
/// into the thread's frames, not the span. Tests build without optimisations, where the frame
/// was 2,864 bytes (and 10,000 levels overflowed the main thread's 8 MiB); the release frame
/// is in BENCHMARKS.md. The deep run also crosses into boxed spans past the 32 frames.
#[test]
fn an_instrumented_frame_takes_little_stack() {
    let (t, mem) = tracer();
    for rate in [100.0, 0.0] {
        let per_call = |f: fn(u32) -> usize| (f(1) - f(101)) / 100;
        let (traced, plain) = t.in_scope(|| {
            let _root = SpanGuard::builder("root").sample_rate(rate).start();
            (per_call(framed_depth), per_call(plain_depth))
        });
        assert!(
            traced < 512,
            "sample rate {rate}: {traced} bytes a frame (plain function: {plain})"
        );
    }
    // Deep enough to have overflowed 8 MiB before, on a thread with a 2 MiB stack.
    let deep = std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(|| {
            let (t, mem) = tracer();
            t.in_scope(|| framed_depth(5_000));
            collect(t, &mem).len()
        })
        .unwrap()
        .join()
        .unwrap();
    assert_eq!(deep, 5_001);
    drop(collect(t, &mem));
}

struct Counter {
    n: u32,
}

impl Counter {
    #[zipkin_span]
    fn get(&self) -> u32 {
        self.n
    }

    #[zipkin_span]
    fn bump(&mut self) -> &mut u32 {
        self.n += 1;
        &mut self.n
    }

    #[zipkin_span]
    fn into_inner(self) -> u32 {
        self.get()
    }

    #[zipkin_span(err)]
    fn checked_bump(&mut self) -> Result<&mut u32, String> {
        if self.n > 100 {
            return Err("too big".into());
        }
        Ok(self.bump())
    }
}

#[zipkin_span(span_name = "sum")]
fn sum<T, I>(items: I) -> T
where
    T: std::iter::Sum<T>,
    I: IntoIterator<Item = T>,
{
    items.into_iter().sum()
}

#[zipkin_span]
fn describe(x: impl std::fmt::Display) -> impl std::fmt::Display {
    format!("<{x}>")
}

#[test]
fn methods_and_generics() {
    let (t, mem) = tracer();
    t.in_scope(|| {
        let mut c = Counter { n: 1 };
        *c.bump() += 10;
        assert_eq!(*c.checked_bump().unwrap(), 13);
        assert_eq!(c.get(), 13);
        assert_eq!(c.into_inner(), 13);
        assert_eq!(sum(vec![1u8, 2, 3]), 6);
        assert_eq!(sum::<f64, _>([0.5, 0.25]), 0.75);
        assert_eq!(describe(7).to_string(), "<7>");
    });
    let spans = collect(t, &mem);
    assert_eq!(
        render_tree(&spans),
        "bump (svc)\n\
         checked_bump (svc)\n  bump (svc)\n\
         get (svc)\n\
         into_inner (svc)\n  get (svc)\n\
         sum (svc)\n\
         sum (svc)\n\
         describe (svc)\n"
    );
}

#[zipkin_span]
fn explode(at: u32) {
    if at == 0 {
        panic!("boom");
    }
    explode(at - 1);
}

#[zipkin_span]
fn survives_panic() {
    let r = std::panic::catch_unwind(|| explode(1));
    assert!(r.is_err());
    leaf(); // the context is back to this span: leaf is its child, not explode's
}

#[test]
fn panic_tags_error_and_closes_every_span() {
    let (t, mem) = tracer();
    t.in_scope(survives_panic);
    let spans = collect(t, &mem);
    assert_eq!(
        render_tree(&spans),
        "survives_panic (svc)\n  explode (svc)\n    explode (svc)\n  leaf (svc)\n"
    );
    let errors: Vec<_> = spans.iter().filter_map(|s| tag_of(s, "error")).collect();
    assert_eq!(errors, ["panic", "panic"], "both unwound spans say so");
    assert_eq!(tag_of(span(&spans, "survives_panic"), "error"), None);
}

#[zipkin_span]
fn parse_pair(s: &str) -> Result<(u8, u8), std::num::ParseIntError> {
    let (a, b) = s.split_once(',').unwrap_or((s, ""));
    let a = a.parse()?;
    leaf(); // only reached when the first half parses
    let b = b.parse()?;
    Ok((a, b))
}

#[zipkin_span]
fn parse_both() {
    assert!(parse_pair("x,1").is_err());
    assert!(parse_pair("1,x").is_err());
    assert_eq!(parse_pair("1,2"), Ok((1, 2)));
    leaf();
}

#[test]
fn early_return_through_question_mark_closes_the_span() {
    let (t, mem) = tracer();
    t.in_scope(parse_both);
    let spans = collect(t, &mem);
    assert_eq!(
        render_tree(&spans),
        "parse_both (svc)\n  parse_pair (svc)\n  parse_pair (svc)\n    leaf (svc)\n  \
         parse_pair (svc)\n    leaf (svc)\n  leaf (svc)\n"
    );
    // Without `err`, a returned error is not a span error.
    assert!(spans.iter().all(|s| tag_of(s, "error").is_none()));
}

#[zipkin_span(err)]
fn parse_err(s: &str) -> Result<u8, std::num::ParseIntError> {
    let n: u8 = s.parse()?;
    Ok(n + 1)
}

#[zipkin_span(err, span_name = "boxed")]
fn boxed_err(fail: bool) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    if fail {
        Err("went wrong")?;
    }
    Ok(())
}

#[test]
fn err_sets_the_error_tag_to_the_display_text() {
    let (t, mem) = tracer();
    t.in_scope(|| {
        let _outer = SpanGuard::new("outer");
        assert!(parse_err("x").is_err());
        assert_eq!(parse_err("1"), Ok(2));
        assert!(boxed_err(true).is_err());
        assert!(boxed_err(false).is_ok());
    });
    let spans = collect(t, &mem);
    let errs: Vec<_> = spans
        .iter()
        .filter(|s| s.name.as_deref() != Some("outer"))
        .map(|s| (s.name.as_deref().unwrap(), tag_of(s, "error")))
        .collect();
    assert_eq!(
        errs,
        [
            ("parse_err", Some("invalid digit found in string")),
            ("parse_err", None),
            ("boxed", Some("went wrong")),
            ("boxed", None),
        ]
    );
    assert!(tag_of(span(&spans, "outer"), "error").is_none());
}

#[test]
fn err_with_borrowed_mut_self_result() {
    let (t, mem) = tracer();
    t.in_scope(|| {
        let mut c = Counter { n: 200 };
        assert_eq!(c.checked_bump(), Err("too big".to_string()));
    });
    let spans = collect(t, &mem);
    assert_eq!(
        tag_of(span(&spans, "checked_bump"), "error"),
        Some("too big")
    );
}

#[zipkin_span(service_name = "inventory", port = 8081, kind = "Client")]
fn call_inventory() {
    leaf();
}

#[zipkin_span(kind = "server", tags("user.id" = user, "items" = items.len(), retry = false))]
fn handle(user: u64, items: &[u8], _password: &str) {
    call_inventory();
}

#[zipkin_span(kind = "producer")]
fn publish() {}

#[zipkin_span(kind = "CONSUMER")]
fn consume() {}

#[zipkin_span(kind = "local")]
fn local() {}

#[test]
fn kind_port_service_name_and_tags() {
    let (t, mem) = tracer();
    t.in_scope(|| {
        handle(42, &[1, 2, 3], "hunter2");
        publish();
        consume();
        local();
    });
    let spans = collect(t, &mem);
    assert_eq!(
        render_tree(&spans),
        "handle [SERVER] (svc)\n  call_inventory [CLIENT] (inventory)\n    leaf (inventory)\n\
         publish [PRODUCER] (svc)\nconsume [CONSUMER] (svc)\nlocal (svc)\n"
    );
    let h = span(&spans, "handle");
    let tags: Vec<_> = h
        .tags
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(
        tags,
        [("items", "3"), ("retry", "false"), ("user.id", "42")]
    );
    assert!(
        !format!("{spans:?}").contains("hunter2"),
        "arguments are never recorded unless asked for"
    );
    let port = |name| {
        span(&spans, name)
            .local_endpoint
            .as_ref()
            .and_then(|e| e.port)
    };
    assert_eq!(port("handle"), None);
    assert_eq!(port("call_inventory"), Some(8081));
    assert_eq!(port("leaf"), Some(8081), "children inherit the port");
    assert_eq!(span(&spans, "local").kind, None);
}

/// Counts how often a tag value was computed.
fn counted(v: u32, evaluations: &AtomicU32) -> u32 {
    evaluations.fetch_add(1, Ordering::SeqCst);
    v
}

#[zipkin_span(sample_rate = 0, tags("v" = counted(v, evaluations)))]
fn never_sampled(v: u32, evaluations: &AtomicU32) -> Option<SpanContext> {
    middle();
    current_context()
}

#[zipkin_span(sample_rate = 100.0)]
fn always_sampled() {
    leaf();
}

#[test]
fn sample_rate_zero_propagates_ids_but_reports_nothing() {
    let (t, mem) = tracer();
    let evaluations = AtomicU32::new(0);
    let ctx = t.in_scope(|| never_sampled(1, &evaluations)).unwrap();
    assert_eq!(ctx.sampling, Sampling::NotSampled);
    assert!(ctx.parent_id.is_none(), "it is a root");
    assert_eq!(
        evaluations.load(Ordering::SeqCst),
        0,
        "tag values of unsampled spans are not computed"
    );
    t.in_scope(always_sampled);
    let spans = collect(t, &mem);
    assert_eq!(render_tree(&spans), "always_sampled (svc)\n  leaf (svc)\n");
}

#[test]
fn sample_rate_applies_only_to_roots() {
    let (t, mem) = tracer();
    t.in_scope(|| {
        let _root = SpanGuard::new("root");
        let evaluations = AtomicU32::new(0);
        let ctx = never_sampled(5, &evaluations).unwrap();
        assert!(ctx.is_sampled(), "a child follows its trace");
        assert_eq!(evaluations.load(Ordering::SeqCst), 1);
    });
    let spans = collect(t, &mem);
    assert_eq!(
        render_tree(&spans),
        "root (svc)\n  never_sampled (svc)\n    middle (svc)\n      leaf (svc)\n"
    );
    assert_eq!(tag_of(span(&spans, "never_sampled"), "v"), Some("5"));
}

fn caller() -> RemoteContext {
    RemoteContext {
        ids: Some(RemoteIds {
            trace_id: "463ac35c9f6413ad48485a3953bb6124".parse().unwrap(),
            span_id: "a2fb4a1d1a96d312".parse().unwrap(),
            parent_id: Some("0020000000000001".parse().unwrap()),
        }),
        sampling: Sampling::Sampled,
        debug: false,
    }
}

#[zipkin_span(kind = "server", service_name = "backend", port = 9000, parent = remote)]
fn serve(remote: RemoteContext) {
    middle();
}

#[zipkin_span(parent = remote)]
fn consume_from(remote: Option<RemoteContext>) {}

#[test]
fn parent_joins_the_callers_span_as_a_shared_server_span() {
    let (t, mem) = tracer();
    t.in_scope(|| {
        // A local span is current, but `parent` wins: the server continues the caller.
        let _local = SpanGuard::new("local");
        serve(caller());
    });
    let spans = collect(t, &mem);
    let s = span(&spans, "serve");
    assert_eq!(s.trace_id, "463ac35c9f6413ad48485a3953bb6124");
    assert_eq!(s.id, "a2fb4a1d1a96d312", "joins the caller's span id");
    assert_eq!(s.parent_id.as_deref(), Some("0020000000000001"));
    assert_eq!(s.shared, Some(true));
    assert_eq!(s.kind.as_deref(), Some("SERVER"));
    let m = span(&spans, "middle");
    assert_eq!(m.parent_id.as_deref(), Some("a2fb4a1d1a96d312"));
    assert_eq!(m.trace_id, s.trace_id);
    // Children inherit the server's service and port.
    for name in ["middle", "leaf"] {
        let e = span(&spans, name).local_endpoint.clone().unwrap();
        assert_eq!(e.service_name.as_deref(), Some("backend"));
        assert_eq!(e.port, Some(9000));
    }
    assert_ne!(span(&spans, "local").trace_id, s.trace_id);
}

#[test]
fn parent_of_another_kind_becomes_a_child_of_the_caller() {
    let (t, mem) = tracer();
    t.in_scope(|| consume_from(Some(caller())));
    let spans = collect(t, &mem);
    let s = span(&spans, "consume_from");
    assert_eq!(s.trace_id, "463ac35c9f6413ad48485a3953bb6124");
    assert_ne!(s.id, "a2fb4a1d1a96d312");
    assert_eq!(s.parent_id.as_deref(), Some("a2fb4a1d1a96d312"));
    assert_eq!(s.shared, None);
}

#[test]
fn an_empty_parent_nests_under_the_current_span() {
    let (t, mem) = tracer();
    t.in_scope(|| {
        let _local = SpanGuard::new("local");
        consume_from(None);
        consume_from(Some(RemoteContext::default()));
    });
    let spans = collect(t, &mem);
    assert_eq!(
        render_tree(&spans),
        "local (svc)\n  consume_from (svc)\n  consume_from (svc)\n"
    );
}

#[test]
fn a_sampling_only_parent_decides_a_new_trace() {
    let (t, mem) = tracer();
    let unsampled = RemoteContext {
        sampling: Sampling::NotSampled,
        ..Default::default()
    };
    t.in_scope(|| consume_from(Some(unsampled)));
    assert!(
        collect(t, &mem).is_empty(),
        "the caller said: do not sample"
    );
}

#[allow(non_snake_case)]
#[zipkin_span]
fn r#type() -> &'static str {
    "raw"
}

#[test]
fn raw_identifiers_name_the_span_without_r_hash() {
    let (t, mem) = tracer();
    t.in_scope(r#type);
    assert_eq!(render_tree(&collect(t, &mem)), "type (svc)\n");
}
