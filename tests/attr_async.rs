//! `#[zipkin_span]` on async code: `async fn`, `fn -> impl Future`, `#[async_trait]`; concurrent
//! futures, tasks on a multi-thread runtime, cancellation, panics, and what the span measures.

mod common;

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::thread::ThreadId;
use std::time::Duration;

use async_trait::async_trait;
use common::{collect, span, tag_of, tracer};
use zipkin_rs::testing::render_tree;
use zipkin_rs::*;

fn current_thread_rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn assert_send<T: Send>(t: T) -> T {
    t
}

#[zipkin_span]
fn sync_leaf() {}

#[zipkin_span]
async fn step(ms: u64) {
    tokio::time::sleep(Duration::from_millis(ms)).await;
    sync_leaf();
}

// `left` starts first and also ends first, so the tree's order (start time, then report order)
// does not depend on whether both start within the same microsecond.
#[zipkin_span]
async fn left() {
    step(1).await;
}

#[zipkin_span]
async fn right() {
    tokio::task::yield_now().await;
    step(10).await;
}

#[zipkin_span]
async fn both() {
    tokio::join!(left(), right());
}

#[test]
fn join_of_two_futures_makes_siblings() {
    let (t, mem) = tracer();
    t.in_scope(|| current_thread_rt().block_on(assert_send(both())));
    let spans = collect(t, &mem);
    assert_eq!(
        render_tree(&spans),
        "both (svc)\n  left (svc)\n    step (svc)\n      sync_leaf (svc)\n  \
         right (svc)\n    step (svc)\n      sync_leaf (svc)\n"
    );
    assert!(current_context().is_none());
}

#[zipkin_span]
async fn hop(task: usize, threads: Arc<Mutex<Vec<(usize, ThreadId)>>>) -> usize {
    for i in 0..20 {
        threads
            .lock()
            .unwrap()
            .push((task, std::thread::current().id()));
        if i % 2 == 0 {
            tokio::task::yield_now().await;
        } else {
            tokio::time::sleep(Duration::from_micros(200)).await;
        }
        // After every resumption, wherever it runs, this task's span is the current one.
        let here = current_context().unwrap();
        tag(format!("seen.{i}"), here.span_id);
    }
    sync_leaf();
    task
}

#[zipkin_span]
async fn fan_out(threads: Arc<Mutex<Vec<(usize, ThreadId)>>>) -> usize {
    let handles: Vec<_> = (0..8)
        .map(|i| zipkin_rs::spawn(hop(i, threads.clone())))
        .collect();
    let mut sum = 0;
    for h in handles {
        sum += h.await.unwrap();
    }
    sum
}

#[test]
fn tasks_moving_between_worker_threads_keep_their_parents() {
    let (t, mem) = tracer();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let threads = Arc::new(Mutex::new(Vec::new()));
    let sum = t.in_scope(|| rt.block_on(fan_out(threads.clone())));
    assert_eq!(sum, 28);
    let spans = collect(t, &mem);
    let mut expected = String::from("fan_out (svc)\n");
    for _ in 0..8 {
        expected.push_str("  hop (svc)\n    sync_leaf (svc)\n");
    }
    assert_eq!(render_tree(&spans), expected);
    for hop in spans.iter().filter(|s| s.name.as_deref() == Some("hop")) {
        for i in 0..20 {
            assert_eq!(
                tag_of(hop, &format!("seen.{i}")),
                Some(hop.id.as_str()),
                "poll {i} of a task saw another span as current"
            );
        }
    }
    let seen = threads.lock().unwrap();
    let moved = (0..8)
        .filter(|task| {
            let mut ids: Vec<_> = seen
                .iter()
                .filter(|(t, _)| t == task)
                .map(|p| p.1)
                .collect();
            ids.dedup();
            ids.len() > 1
        })
        .count();
    println!("{moved} of 8 tasks ran on more than one worker thread");
}

/// Polls a future to completion by hand, a first time on this thread and the rest on another:
/// a move between threads that does not depend on a scheduler's choices.
#[test]
fn a_future_polled_on_two_threads_keeps_its_span() {
    struct Noop;
    impl Wake for Noop {
        fn wake(self: Arc<Self>) {}
    }
    struct YieldOnce(bool);
    impl Future for YieldOnce {
        type Output = ();
        fn poll(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<()> {
            if self.0 {
                Poll::Ready(())
            } else {
                self.0 = true;
                Poll::Pending
            }
        }
    }
    #[zipkin_span]
    async fn two_halves() -> (ThreadId, ThreadId) {
        let first = std::thread::current().id();
        sync_leaf();
        YieldOnce(false).await;
        sync_leaf();
        (first, std::thread::current().id())
    }

    let (t, mem) = tracer();
    let waker = Waker::from(Arc::new(Noop));
    let mut fut = Box::pin(assert_send(two_halves()));
    t.in_scope(|| {
        // The span opens on the first poll, under the span current then.
        let _root = SpanGuard::new("root");
        assert!(fut
            .as_mut()
            .poll(&mut Context::from_waker(&waker))
            .is_pending());
    });
    assert!(current_context().is_none());
    let (a, b) = std::thread::spawn(move || {
        // Another thread, with a span of its own current: the future still sees its own.
        let _default = t.set_default();
        let _other = SpanGuard::new("unrelated");
        loop {
            if let Poll::Ready(v) = fut.as_mut().poll(&mut Context::from_waker(&waker)) {
                assert_eq!(
                    current_context(),
                    _other.context(),
                    "left the span after the poll"
                );
                break v;
            }
        }
    })
    .join()
    .unwrap();
    assert_ne!(a, b);
    let spans = collect(t, &mem);
    assert_eq!(
        render_tree(&spans),
        "root (svc)\n  two_halves (svc)\n    sync_leaf (svc)\n    sync_leaf (svc)\nunrelated (svc)\n"
    );
}

#[test]
fn an_async_span_opens_at_the_first_poll() {
    #[zipkin_span]
    fn make() -> impl Future<Output = ()> {
        async {}
    }
    #[zipkin_span]
    async fn make_async() {}

    let (t, mem) = tracer();
    let rt = current_thread_rt();
    t.in_scope(|| {
        let (f, g) = {
            let _built = SpanGuard::new("built");
            (make(), make_async())
        };
        let _polled = SpanGuard::new("polled");
        rt.block_on(async { tokio::join!(f, g) });
        // Never polled: no span at all.
        drop((make(), make_async()));
    });
    let spans = collect(t, &mem);
    assert_eq!(
        render_tree(&spans),
        "built (svc)\npolled (svc)\n  make (svc)\n  make_async (svc)\n"
    );
}

#[zipkin_span]
async fn hangs() {
    sync_leaf();
    std::future::pending::<()>().await;
}

#[zipkin_span]
async fn gives_up() -> bool {
    tokio::time::timeout(Duration::from_millis(5), hangs())
        .await
        .is_err()
}

#[test]
fn a_dropped_future_is_closed_and_tagged_cancelled() {
    let (t, mem) = tracer();
    assert!(t.in_scope(|| current_thread_rt().block_on(gives_up())));
    let spans = collect(t, &mem);
    assert_eq!(
        render_tree(&spans),
        "gives_up (svc)\n  hangs (svc)\n    sync_leaf (svc)\n"
    );
    assert_eq!(tag_of(span(&spans, "hangs"), "cancelled"), Some("true"));
    assert_eq!(tag_of(span(&spans, "gives_up"), "cancelled"), None);
}

#[zipkin_span]
async fn panics_after_await() {
    tokio::task::yield_now().await;
    panic!("boom");
}

#[zipkin_span]
async fn survives() -> bool {
    let joined = zipkin_rs::spawn(panics_after_await()).await;
    sync_leaf();
    joined.unwrap_err().is_panic()
}

#[test]
fn a_panic_in_an_async_fn_tags_error_and_closes_the_span() {
    let (t, mem) = tracer();
    assert!(t.in_scope(|| current_thread_rt().block_on(survives())));
    let spans = collect(t, &mem);
    assert_eq!(
        render_tree(&spans),
        "survives (svc)\n  panics_after_await (svc)\n  sync_leaf (svc)\n"
    );
    let p = span(&spans, "panics_after_await");
    assert_eq!(tag_of(p, "error"), Some("panic"));
    assert_eq!(tag_of(p, "cancelled"), None);
}

#[zipkin_span(err)]
async fn load(key: &str) -> Result<u32, std::num::ParseIntError> {
    tokio::task::yield_now().await;
    let n: u32 = key.parse()?;
    sync_leaf();
    Ok(n)
}

#[zipkin_span]
async fn load_all() -> Vec<bool> {
    vec![load("x").await.is_ok(), load("7").await.is_ok()]
}

#[test]
fn question_mark_and_err_in_an_async_fn() {
    let (t, mem) = tracer();
    let out = t.in_scope(|| current_thread_rt().block_on(load_all()));
    assert_eq!(out, [false, true]);
    let spans = collect(t, &mem);
    assert_eq!(
        render_tree(&spans),
        "load_all (svc)\n  load (svc)\n  load (svc)\n    sync_leaf (svc)\n"
    );
    let errors: Vec<_> = spans
        .iter()
        .filter(|s| s.name.as_deref() == Some("load"))
        .map(|s| tag_of(s, "error"))
        .collect();
    assert_eq!(errors, [Some("invalid digit found in string"), None]);
}

#[async_trait]
trait Repo {
    async fn fetch(&self, id: u32) -> Result<String, String>;
    async fn slow(&self) -> u32;
}

struct Db {
    prefix: String,
}

#[async_trait]
impl Repo for Db {
    #[zipkin_span(kind = "client", err, tags("id" = id, "db" = self.prefix))]
    async fn fetch(&self, id: u32) -> Result<String, String> {
        tokio::task::yield_now().await;
        sync_leaf();
        if id == 0 {
            return Err("no such row".into());
        }
        Ok(format!("{}{id}", self.prefix))
    }

    #[zipkin_span]
    async fn slow(&self) -> u32 {
        tokio::time::sleep(Duration::from_millis(30)).await;
        sync_leaf();
        30
    }
}

#[zipkin_span]
async fn use_repo(repo: &dyn Repo) -> (Result<String, String>, Result<String, String>, u32) {
    (repo.fetch(1).await, repo.fetch(0).await, repo.slow().await)
}

#[test]
fn async_trait_methods_are_traced_over_the_body() {
    let (t, mem) = tracer();
    let db = Db {
        prefix: "row-".into(),
    };
    let (a, b, c) = t.in_scope(|| current_thread_rt().block_on(use_repo(&db)));
    assert_eq!(a.as_deref(), Ok("row-1"));
    assert_eq!(b, Err("no such row".to_string()));
    assert_eq!(c, 30);
    let spans = collect(t, &mem);
    assert_eq!(
        render_tree(&spans),
        "use_repo (svc)\n  fetch [CLIENT] (svc)\n    sync_leaf (svc)\n  \
         fetch [CLIENT] (svc)\n    sync_leaf (svc)\n  slow (svc)\n    sync_leaf (svc)\n"
    );
    let fetches: Vec<_> = spans
        .iter()
        .filter(|s| s.name.as_deref() == Some("fetch"))
        .map(|s| (tag_of(s, "id"), tag_of(s, "db"), tag_of(s, "error")))
        .collect();
    assert_eq!(
        fetches,
        [
            (Some("1"), Some("row-"), None),
            (Some("0"), Some("row-"), Some("no such row"))
        ]
    );
    let slow = span(&spans, "slow").duration.unwrap();
    assert!(slow >= 30_000, "slow slept 30ms, its span lasted {slow}us");
}

#[zipkin_span(tags("ms" = ms))]
fn sleeper(ms: u64) -> impl Future<Output = u64> + Send {
    let d = Duration::from_millis(ms);
    async move {
        tokio::time::sleep(d).await;
        sync_leaf();
        ms
    }
}

#[zipkin_span(err)]
fn boxed(fail: bool) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send>> {
    Box::pin(async move {
        tokio::time::sleep(Duration::from_millis(20)).await;
        if fail {
            Err("failed late".to_string())
        } else {
            Ok(())
        }
    })
}

#[zipkin_span]
async fn sleep_directly() {
    tokio::time::sleep(Duration::from_millis(25)).await;
}

#[test]
fn future_returning_fns_measure_the_futures_whole_run() {
    let (t, mem) = tracer();
    t.in_scope(|| {
        current_thread_rt().block_on(async {
            assert_eq!(assert_send(sleeper(30)).await, 30);
            assert!(assert_send(boxed(true)).await.is_err());
            assert!(boxed(false).await.is_ok());
            assert_send(sleep_directly()).await;
        })
    });
    let spans = collect(t, &mem);
    assert_eq!(
        render_tree(&spans),
        "sleeper (svc)\n  sync_leaf (svc)\nboxed (svc)\nboxed (svc)\nsleep_directly (svc)\n"
    );
    let s = span(&spans, "sleeper");
    assert!(s.duration.unwrap() >= 30_000, "{s:?}");
    assert_eq!(tag_of(s, "ms"), Some("30"));
    let boxed: Vec<_> = spans
        .iter()
        .filter(|s| s.name.as_deref() == Some("boxed"))
        .collect();
    assert!(
        boxed.iter().all(|s| s.duration.unwrap() >= 20_000),
        "{boxed:?}"
    );
    assert_eq!(tag_of(boxed[0], "error"), Some("failed late"));
    assert_eq!(tag_of(boxed[1], "error"), None);
    assert!(span(&spans, "sleep_directly").duration.unwrap() >= 25_000);
}

struct Service {
    name: &'static str,
}

impl Service {
    #[zipkin_span]
    async fn by_ref(&self) -> &'static str {
        tokio::task::yield_now().await;
        self.name
    }

    #[zipkin_span]
    async fn by_mut(&mut self) -> &mut &'static str {
        tokio::task::yield_now().await;
        &mut self.name
    }

    #[zipkin_span]
    async fn by_value(self) -> &'static str {
        self.by_ref().await
    }

    #[zipkin_span(span_name = "generic")]
    async fn generic<T>(&self, items: Vec<T>) -> usize
    where
        T: Send + std::fmt::Debug,
    {
        tokio::task::yield_now().await;
        items.len()
    }
}

#[test]
fn async_methods_and_generics() {
    let (t, mem) = tracer();
    t.in_scope(|| {
        current_thread_rt().block_on(async {
            let mut s = Service { name: "a" };
            *assert_send(s.by_mut()).await = "b";
            assert_eq!(assert_send(s.by_ref()).await, "b");
            assert_eq!(assert_send(s.generic(vec![1, 2])).await, 2);
            assert_eq!(assert_send(s.by_value()).await, "b");
        })
    });
    let spans = collect(t, &mem);
    assert_eq!(
        render_tree(&spans),
        "by_mut (svc)\nby_ref (svc)\ngeneric (svc)\nby_value (svc)\n  by_ref (svc)\n"
    );
}

#[zipkin_span(kind = "server", service_name = "backend", port = 8080, parent = remote)]
async fn serve(remote: Option<RemoteContext>) {
    tokio::task::yield_now().await;
    step(1).await;
}

#[test]
fn an_async_server_span_joins_the_caller() {
    let (t, mem) = tracer();
    let (caller_ctx, spans) = {
        let caller = t.in_scope(|| {
            let client = SpanGuard::builder("call")
                .kind(Kind::Client)
                .service_name("frontend")
                .start();
            client.context().unwrap()
        });
        let remote = RemoteContext::from_span_context(&caller);
        t.in_scope(|| current_thread_rt().block_on(serve(Some(remote))));
        (caller, collect(t, &mem))
    };
    assert_eq!(
        render_tree(&spans),
        "call [CLIENT] (frontend)\n  serve [SERVER] (backend) shared\n    step (backend)\n      \
         sync_leaf (backend)\n"
    );
    let s = span(&spans, "serve");
    assert_eq!(s.id, caller_ctx.span_id.to_string());
    assert_eq!(s.trace_id, caller_ctx.trace_id.to_string());
    assert_eq!(s.shared, Some(true));
    let e = span(&spans, "sync_leaf").local_endpoint.clone().unwrap();
    assert_eq!(
        (e.service_name.as_deref(), e.port),
        (Some("backend"), Some(8080))
    );
}
