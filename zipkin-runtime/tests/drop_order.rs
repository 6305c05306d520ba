//! Guards dropped out of order: closing a span pops it by id, so the current span is always the
//! innermost span still open, whatever order guards are dropped in, and nothing finished stays
//! current afterwards.
//!
//! Regression: with guards `a` then `b` open, dropping `a` and then `b` left `a`, already
//! finished, as the current span for good, and every later span on the thread nested under it.

use zipkin_runtime::__private::SpanMeta;
use zipkin_runtime::*;

mod support;
use support::tracer;

static ROOT: SpanMeta = SpanMeta::new("root");
static A: SpanMeta = SpanMeta::new("a");
static B: SpanMeta = SpanMeta::new("b");
static C: SpanMeta = SpanMeta::new("c");
static AFTER: SpanMeta = SpanMeta::new("after");

/// How a guard is opened.
#[derive(Clone, Copy, Debug)]
enum How {
    /// What `#[zipkin_span]` emits: a child opened in place, or a root.
    Attribute,
    /// `SpanGuard::builder(..).start()`: the whole current span is replaced.
    Builder,
    /// A server span continuing a remote caller of another trace.
    Remote,
}

fn open(how: How, meta: &'static SpanMeta, remote: RemoteContext) -> SpanGuard {
    match how {
        How::Attribute => SpanGuard::from_meta(meta, None),
        How::Builder => SpanGuard::builder(meta.name).start(),
        How::Remote => SpanGuard::builder(meta.name)
            .kind(Kind::Server)
            .parent(remote)
            .start(),
    }
}

/// A caller of another trace, with a span id of its own (each server span joins its caller's).
fn remote_caller() -> RemoteContext {
    let headers = vec![
        (
            "X-B3-TraceId".to_owned(),
            "463ac35c9f6413ad48485a3953bb6124".to_owned(),
        ),
        ("X-B3-SpanId".to_owned(), SpanId::random().to_string()),
        ("X-B3-Sampled".to_owned(), "1".to_owned()),
    ];
    propagation::extract_from(&headers)
}

/// All orders of `0..n`.
fn orders(n: usize) -> Vec<Vec<usize>> {
    if n == 0 {
        return vec![vec![]];
    }
    let mut out = Vec::new();
    for rest in orders(n - 1) {
        for at in 0..=rest.len() {
            let mut o = rest.clone();
            o.insert(at, n - 1);
            out.push(o);
        }
    }
    out
}

/// Opens three guards (`hows`) inside an optional root, drops them in `order`, and checks after
/// every drop that the current span is the innermost one still open. Returns nothing; panics
/// with the case on a mismatch.
fn check(hows: [How; 3], with_root: bool, order: &[usize]) {
    let case = format!("{hows:?}, root {with_root}, drop order {order:?}");
    let root = with_root.then(|| SpanGuard::from_meta(&ROOT, None));
    let base = current_context();
    let mut guards: Vec<Option<SpanGuard>> = Vec::new();
    let mut contexts = Vec::new();
    for (how, meta) in hows.into_iter().zip([&A, &B, &C]) {
        let g = open(how, meta, remote_caller());
        let ctx = g.context().expect("an open guard has a context");
        assert_eq!(current_context(), Some(ctx), "{case}: opened {}", meta.name);
        contexts.push(ctx);
        guards.push(Some(g));
    }
    for &i in order {
        drop(guards[i].take());
        let innermost = (0..3).rev().find(|&j| guards[j].is_some());
        let want = match innermost {
            Some(j) => Some(contexts[j]),
            None => base,
        };
        assert_eq!(current_context(), want, "{case}: after dropping {i}");
    }
    drop(root);
    assert_eq!(current_context(), None, "{case}: all closed");
    // A span opened afterwards starts a trace of its own.
    let after = SpanGuard::from_meta(&AFTER, None);
    assert_eq!(
        after.context().unwrap().parent_id,
        None,
        "{case}: later span"
    );
    drop(after);
    assert_eq!(current_context(), None, "{case}: later span closed");
}

#[test]
fn every_drop_order_of_three_guards_leaves_the_innermost_open_span_current() {
    use How::*;
    let (t, _mem) = tracer(100.0);
    let _default = t.set_default();
    // Under Miri (which interprets every step) two kinds cover the in-place and the
    // whole-context paths.
    let kinds: &[How] = if cfg!(miri) {
        &[Attribute, Remote]
    } else {
        &[Attribute, Builder, Remote]
    };
    let mut cases = 0;
    for &a in kinds {
        for &b in kinds {
            for &c in kinds {
                for with_root in [false, true] {
                    for order in orders(3) {
                        check([a, b, c], with_root, &order);
                        cases += 1;
                    }
                }
            }
        }
    }
    assert_eq!(cases, kinds.len().pow(3) * 2 * 6);
}

#[test]
fn out_of_order_drops_keep_every_reported_parent() {
    let (t, mem) = tracer(100.0);
    let _default = t.set_default();
    let root = SpanGuard::from_meta(&ROOT, None);
    let a = SpanGuard::from_meta(&A, None);
    let b = SpanGuard::from_meta(&B, None);
    drop(a);
    // Opened while `a` is closed below `b`: a child of `b`.
    let c = SpanGuard::from_meta(&C, None);
    drop(b);
    drop(c);
    // `a` and `b` are closed: the next child is the root's.
    drop(SpanGuard::from_meta(&AFTER, None));
    drop(root);
    let spans = support::collect(t, &mem);
    assert_eq!(
        testing::render_tree(&spans),
        "root (svc)\n  a (svc)\n    b (svc)\n      c (svc)\n  after (svc)\n"
    );
}

/// Unsampled children are counted, not identified, until their ids are read: whatever the
/// order, the thread ends with nothing current, and spans in between stay in the trace.
#[test]
fn unsampled_guards_dropped_in_any_order_leave_nothing_current() {
    let (t, _mem) = tracer(0.0);
    let _default = t.set_default();
    for read_ids in [false, true] {
        for order in orders(3) {
            let case = format!("read ids {read_ids}, order {order:?}");
            let mut guards: Vec<Option<SpanGuard>> = [&A, &B, &C]
                .into_iter()
                .map(|m| {
                    let g = SpanGuard::from_meta(m, None);
                    if read_ids {
                        let _ = g.context();
                    }
                    Some(g)
                })
                .collect();
            let trace_id = current_context().unwrap().trace_id;
            for &i in &order {
                drop(guards[i].take());
                if guards.iter().any(Option::is_some) {
                    let now = current_context().expect(&case);
                    assert_eq!(now.trace_id, trace_id, "{case}");
                    assert!(!now.is_sampled(), "{case}");
                }
            }
            assert_eq!(current_context(), None, "{case}");
        }
    }
}

/// Deeper than a thread's frames (32), guards hold their spans in boxes: every level still
/// reports, under its parent, and guards dropped out of order across that boundary leave the
/// innermost open span current.
#[test]
fn nesting_deeper_than_the_frames_keeps_every_span_and_parent() {
    let depth = if cfg!(miri) { 36 } else { 100 };
    let (t, mem) = tracer(100.0);
    let _default = t.set_default();
    let root = SpanGuard::from_meta(&ROOT, None);
    let mut guards: Vec<Option<SpanGuard>> = (0..depth)
        .map(|i| {
            let mut g = SpanGuard::from_meta(&A, None);
            g.tag("level", i);
            Some(g)
        })
        .collect();
    let contexts: Vec<SpanContext> = guards
        .iter()
        .map(|g| g.as_ref().and_then(SpanGuard::context).unwrap())
        .collect();
    // Out of order around the boundary, then the rest innermost first.
    let mut order: Vec<usize> = vec![30, 33, 31, 35, 32, 34];
    order.extend((0..depth).rev().filter(|i| !(30..36).contains(i)));
    for &i in &order {
        drop(guards[i].take());
        let innermost = (0..depth).rev().find(|&j| guards[j].is_some());
        assert_eq!(
            current_context(),
            Some(innermost.map_or_else(|| root.context().unwrap(), |j| contexts[j])),
            "after dropping {i}"
        );
    }
    drop(root);
    assert_eq!(current_context(), None);
    let spans = support::collect(t, &mem);
    assert_eq!(spans.len(), depth + 1);
    for (i, ctx) in contexts.iter().enumerate() {
        let s = spans
            .iter()
            .find(|s| s.id == ctx.span_id.to_string())
            .unwrap_or_else(|| panic!("level {i} was not reported"));
        let level = i.to_string();
        assert_eq!(s.tags.get("level"), Some(&level));
        let parent = if i == 0 {
            spans
                .iter()
                .find(|s| s.name.as_deref() == Some("root"))
                .unwrap()
                .id
                .clone()
        } else {
            contexts[i - 1].span_id.to_string()
        };
        assert_eq!(s.parent_id.as_ref(), Some(&parent), "level {i}");
    }
}
