//! Carrying the current span into work that runs elsewhere: a task, a thread, a blocking pool,
//! or any executor.
//!
//! A [`CapturedContext`] is the span current where it was taken. Work run in it (with
//! [`CapturedContext::run`] or a future wrapped by [`CapturedContext::wrap`]) sees that span as
//! current, so spans it opens are that span's children, with its service name and port, and
//! `inject_headers()` continues its trace. The free functions ([`crate::tag`],
//! [`crate::annotate`], ...) called there for the captured span itself reach it, from any thread,
//! while it is open; after it has finished they are dropped and counted
//! (`tags_dropped_after_finish` in [`crate::ReporterMetrics`]).
//!
//! A plain `tokio::spawn`, `tokio::task::spawn_blocking` or `std::thread::spawn` carries nothing:
//! the work runs with no current span, so its spans start new traces under the tracer's default
//! service name. Use [`spawn`], [`spawn_blocking`], [`spawn_thread`] or a [`CapturedContext`].

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use crate::context::{self, Current};
use crate::pending::{self, Inbox};
use crate::span_context::SpanContext;

/// The span current where this was taken, to run work in elsewhere. `Send`, and cheap to clone.
///
/// For executors without a helper here: capture in the caller, run in the task.
///
/// ```
/// # extern crate zipkin_runtime as zipkin_rs;
/// use zipkin_rs::{current_context, CapturedContext, SpanGuard};
/// # let tracer = zipkin_rs::Tracer::builder().service_name("svc")
/// #     .transport(zipkin_rs::transport::memory::MemoryTransport::new()).build().unwrap();
/// # let _default = tracer.set_default();
/// let parent = SpanGuard::new("request");
/// let captured = CapturedContext::current();
/// let seen = std::thread::spawn(move || captured.run(current_context)).join().unwrap();
/// assert_eq!(seen, parent.context());
///
/// // A future, for any executor (here tokio's):
/// let fut = CapturedContext::current().wrap(async { current_context() });
/// let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
/// assert_eq!(runtime.block_on(fut), parent.context());
/// ```
///
/// A plain `tokio::spawn` or `std::thread::spawn` carries nothing: spans opened in it start
/// new traces. Use [`crate::spawn`], [`crate::spawn_thread`], [`crate::FutureExt`] or this.
#[derive(Clone, Default)]
pub struct CapturedContext {
    cur: Option<Current>,
    /// Where the free functions called for the captured span go (sampled spans only).
    inbox: Option<Arc<Inbox>>,
}

impl std::fmt::Debug for CapturedContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CapturedContext")
            .field("context", &self.context())
            .finish()
    }
}

impl CapturedContext {
    /// The span current now (nothing, outside a span).
    pub fn current() -> CapturedContext {
        let cur = context::current_inner();
        let inbox = cur.as_ref().and_then(pending::inbox_for_capture);
        CapturedContext { cur, inbox }
    }

    /// The captured span's context, if a span was current.
    pub fn context(&self) -> Option<SpanContext> {
        self.cur.map(|c| c.ctx)
    }

    /// Runs `f` with the captured span current, restoring what was current afterwards (also on
    /// a panic).
    pub fn run<R>(&self, f: impl FnOnce() -> R) -> R {
        let mut inbox = self.inbox.clone();
        context::with_current(self.cur, || pending::with_inbox(&mut inbox, f))
    }

    /// Wraps `fut` so that the captured span is current on every poll.
    pub fn wrap<F: Future>(self, fut: F) -> WithContext<F> {
        WithContext {
            inner: fut,
            captured: self,
        }
    }
}

pin_project_lite::pin_project! {
    /// A future that runs in a [`CapturedContext`], without a span of its own. Made by
    /// [`CapturedContext::wrap`] and [`crate::FutureExt::in_current_span`].
    #[derive(Debug)]
    pub struct WithContext<F> {
        #[pin]
        inner: F,
        captured: CapturedContext,
    }
}

impl<F: Future> Future for WithContext<F> {
    type Output = F::Output;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let inner = this.inner;
        let captured = this.captured;
        context::with_current(captured.cur, || {
            pending::with_inbox(&mut captured.inbox, || inner.poll(cx))
        })
    }
}

/// Spawns a task on the current tokio runtime that runs in the current span: its spans are the
/// span's children, and [`crate::tag`] there tags the span while it is open.
///
/// ```
/// # extern crate zipkin_runtime as zipkin_rs;
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let handle = zipkin_rs::spawn(async { 1 + 1 });
/// assert_eq!(handle.await.unwrap(), 2);
/// # });
/// ```
#[cfg(feature = "tokio")]
pub fn spawn<F>(fut: F) -> tokio::task::JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    tokio::spawn(CapturedContext::current().wrap(fut))
}

/// Runs a blocking closure on tokio's blocking pool in the current span, as [`spawn`] does for
/// a task.
///
/// ```
/// # extern crate zipkin_runtime as zipkin_rs;
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let handle = zipkin_rs::spawn_blocking(|| 6 * 7);
/// assert_eq!(handle.await.unwrap(), 42);
/// # });
/// ```
#[cfg(feature = "tokio")]
pub fn spawn_blocking<F, R>(f: F) -> tokio::task::JoinHandle<R>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    let captured = CapturedContext::current();
    tokio::task::spawn_blocking(move || captured.run(f))
}

/// Runs a closure on a new thread in the current span, as [`spawn`] does for a task.
///
/// ```
/// # extern crate zipkin_runtime as zipkin_rs;
/// let h = zipkin_rs::spawn_thread(|| 7);
/// assert_eq!(h.join().unwrap(), 7);
/// ```
pub fn spawn_thread<F, R>(f: F) -> std::thread::JoinHandle<R>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    let captured = CapturedContext::current();
    std::thread::spawn(move || captured.run(f))
}

#[allow(dead_code)]
fn _assert_send() {
    fn is_send<T: Send + Sync>() {}
    is_send::<CapturedContext>();
    is_send::<WithContext<std::future::Ready<()>>>();
}
