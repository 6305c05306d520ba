//! The tracer's sampler through the public API: asked once where a new trace starts (a local
//! root, a server span whose caller sent no decision), never when a caller decided, overridden
//! by a span's own rate, never called when it never samples, and a panic in it is a "no".

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use zipkin_runtime::{
    HttpRequest, HttpRule, HttpRuleSampler, Kind, PercentageSampler, RemoteContext, RemoteIds,
    Sampler, Sampling, SamplingRequest, Span, SpanGuard, SpanId, TraceId,
};

mod support;
use support::{collect, tracer_with};

/// Says `answer`, counting the calls and remembering the last span name and HTTP path.
#[derive(Debug, Default)]
struct Spy {
    answer: bool,
    never: bool,
    calls: AtomicUsize,
    last: std::sync::Mutex<Option<(String, Option<String>)>>,
}

impl Sampler for Spy {
    fn sample(&self, r: &SamplingRequest<'_>) -> bool {
        self.calls.fetch_add(1, Ordering::Relaxed);
        *self.last.lock().unwrap() =
            Some((r.span_name.to_owned(), r.http.map(|h| h.path.to_owned())));
        self.answer
    }

    fn never_samples(&self) -> bool {
        self.never
    }
}

fn spy(answer: bool) -> Arc<Spy> {
    Arc::new(Spy {
        answer,
        ..Default::default()
    })
}

#[test]
fn a_root_asks_the_sampler_once_and_children_follow() {
    let s = spy(true);
    let (t, mem) = tracer_with(|b| b.sample_rate(0.0).sampler(s.clone()));
    t.in_scope(|| {
        let _root = SpanGuard::new("root");
        let _child = SpanGuard::new("child");
    });
    assert_eq!(s.calls.load(Ordering::Relaxed), 1);
    assert_eq!(s.last.lock().unwrap().clone(), Some(("root".into(), None)));
    assert_eq!(collect(t, &mem).len(), 2);
}

#[test]
fn a_no_from_the_sampler_records_nothing() {
    let s = spy(false);
    let (t, mem) = tracer_with(|b| b.sampler(s.clone()));
    t.in_scope(|| {
        let _root = SpanGuard::new("root");
        let _child = SpanGuard::new("child");
    });
    assert_eq!(s.calls.load(Ordering::Relaxed), 1);
    assert!(collect(t, &mem).is_empty());
}

#[test]
fn a_sampler_that_never_samples_is_not_called() {
    let s = Arc::new(Spy {
        answer: true,
        never: true,
        ..Default::default()
    });
    let (t, mem) = tracer_with(|b| b.sampler(s.clone()));
    assert!(t.config().never_samples());
    t.in_scope(|| {
        let _root = SpanGuard::new("root");
        let _detached = Span::builder("detached").start_detached();
    });
    assert_eq!(s.calls.load(Ordering::Relaxed), 0);
    assert!(collect(t, &mem).is_empty());
}

#[test]
fn a_span_rate_overrides_the_sampler() {
    let s = spy(false);
    let (t, mem) = tracer_with(|b| b.sampler(s.clone()));
    t.in_scope(|| {
        let _root = SpanGuard::builder("root").sample_rate(100.0).start();
    });
    assert_eq!(s.calls.load(Ordering::Relaxed), 0);
    assert_eq!(collect(t, &mem).len(), 1);
}

#[test]
fn a_callers_decision_wins_and_a_deferred_one_asks_with_the_request() {
    let s = spy(false);
    let (t, mem) = tracer_with(|b| b.sampler(s.clone()));
    let trace_id = TraceId::new(1, 2).unwrap();
    let span_id = SpanId::new(3).unwrap();
    let remote = |sampling| RemoteContext {
        ids: Some(RemoteIds {
            trace_id,
            span_id,
            parent_id: None,
        }),
        sampling,
        debug: false,
    };
    let (decided, deferred) = (remote(Sampling::Sampled), remote(Sampling::Deferred));
    let http = HttpRequest::new("GET", "/orders/7").with_route("/orders/{id}");
    t.in_scope(|| {
        Span::builder("get /orders/{id}")
            .kind(Kind::Server)
            .parent(decided)
            .start_detached_for_http(&http)
            .finish();
        assert_eq!(s.calls.load(Ordering::Relaxed), 0);
        let span = Span::builder("get /orders/{id}")
            .kind(Kind::Server)
            .parent(deferred)
            .start_detached_for_http(&http);
        assert!(!span.is_recording());
        span.finish();
    });
    assert_eq!(s.calls.load(Ordering::Relaxed), 1);
    assert_eq!(
        s.last.lock().unwrap().clone(),
        Some(("get /orders/{id}".into(), Some("/orders/7".into())))
    );
    let spans = collect(t, &mem);
    assert_eq!(spans.len(), 1);
    assert_eq!(spans[0].id, span_id.to_string());
}

#[test]
fn the_rule_sampler_sees_the_http_request_of_a_new_trace() {
    let rules = HttpRuleSampler::new(PercentageSampler::new(100.0))
        .rule(HttpRule::path("/health"), PercentageSampler::new(0.0));
    let (t, mem) = tracer_with(|b| b.sampler(rules));
    t.in_scope(|| {
        for path in ["/health", "/orders/1", "/health/deep"] {
            Span::builder("get")
                .kind(Kind::Server)
                .start_detached_for_http(&HttpRequest::new("GET", path))
                .finish();
        }
    });
    assert_eq!(collect(t, &mem).len(), 1);
}

#[derive(Debug)]
struct Panics;

impl Sampler for Panics {
    fn sample(&self, _: &SamplingRequest<'_>) -> bool {
        panic!("a sampler's bug")
    }
}

#[test]
fn a_panicking_sampler_says_no() {
    let (t, mem) = tracer_with(|b| b.sampler(Panics));
    t.in_scope(|| {
        let root = SpanGuard::new("root");
        assert!(!root.is_recording());
    });
    assert!(collect(t, &mem).is_empty());
}

/// `ZIPKIN_SAMPLER` through `TracerBuilder::from_env`, in a child process (this test run again
/// with the variable set, so that no other test sees it): the README's rules decide new
/// traces, and a malformed value is an error naming the variable.
#[test]
fn the_environment_sets_the_sampler() {
    match std::env::var("SAMPLER_TEST_CHILD").as_deref() {
        Ok("rules") => {
            let t = zipkin_runtime::Tracer::builder()
                .from_env()
                .unwrap()
                .endpoint("none")
                .unwrap()
                .build()
                .unwrap();
            let _default = t.set_default();
            let sampled = |method, path| {
                Span::builder("s")
                    .kind(Kind::Server)
                    .start_detached_for_http(&HttpRequest::new(method, path))
                    .is_recording()
            };
            assert!(!sampled("GET", "/health"));
            assert!(sampled("POST", "/orders/42"));
            assert!(!sampled("GET", "/other"), "the `*` rule says 0%");
            println!("child: checked");
        }
        Ok("malformed") => {
            let e = zipkin_runtime::Tracer::builder().from_env().unwrap_err();
            assert!(e.to_string().contains("ZIPKIN_SAMPLER"), "{e}");
            assert!(e.to_string().contains("often"), "{e}");
            println!("child: checked");
        }
        _ => {
            for (mode, value) in [
                ("rules", "GET /health=0%; /orders=100%; *=0%"),
                ("malformed", "GET /health=often"),
            ] {
                let out = std::process::Command::new(std::env::current_exe().unwrap())
                    .args(["--exact", "the_environment_sets_the_sampler", "--nocapture"])
                    .env("SAMPLER_TEST_CHILD", mode)
                    .env("ZIPKIN_SAMPLER", value)
                    .env("ZIPKIN_SAMPLE_RATE", "100")
                    .output()
                    .unwrap();
                let stdout = String::from_utf8_lossy(&out.stdout);
                assert!(
                    out.status.success() && stdout.contains("child: checked"),
                    "{mode}: {stdout}\n{}",
                    String::from_utf8_lossy(&out.stderr)
                );
            }
        }
    }
}
