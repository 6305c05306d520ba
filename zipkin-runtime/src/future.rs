//! Futures that carry a span: the span is current during every poll (and while the future is
//! dropped), and ends when the future completes or is dropped before completing.

use std::borrow::Cow;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use crate::capture::{CapturedContext, WithContext};
use crate::context;
use crate::pending::record_error;
use crate::span::detached::Span;
use crate::span::live::LiveSpan;
use crate::span::meta::{ErrResult, SpanMeta};
use crate::span_context::RemoteContext;

pin_project_lite::pin_project! {
    /// A future that runs inside a span. Made by [`Span::instrument`] or the attribute.
    pub struct Instrumented<F> {
        #[pin]
        inner: Option<F>,
        span: Span,
        panicked: bool,
    }

    impl<F> PinnedDrop for Instrumented<F> {
        fn drop(this: Pin<&mut Self>) {
            let mut this = this.project();
            if this.inner.is_some() {
                // Dropped before completion: the body's destructors still see the span.
                context::with_current(this.span.current(), || this.inner.set(None));
                // A future that panicked was not cancelled: its span already says `error`.
                if !*this.panicked {
                    this.span.tag("cancelled", "true");
                }
            }
            this.span.take_pending();
        }
    }
}

/// Leaves the span after a poll, also when the poll unwinds: restores the previous context,
/// tags a panic, and collects the tags the body added through the free functions (they sit in a
/// thread-local, and the future may next be polled or dropped on another thread).
struct PollExit<'a> {
    swap: context::Swap,
    span: &'a mut Span,
    panicked: &'a mut bool,
}

impl Drop for PollExit<'_> {
    #[inline]
    fn drop(&mut self) {
        context::swap_out(self.span.inner.as_ref().map(|s| &s.cur), &self.swap);
        if std::thread::panicking() {
            *self.panicked = true;
            self.span.tag("error", "panic");
        }
        self.span.take_pending();
    }
}

impl<F: Future> Future for Instrumented<F> {
    type Output = F::Output;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let mut this = self.project();
        let Some(inner) = this.inner.as_mut().as_pin_mut() else {
            // As std's futures do: returning `Pending` without a waker would hang the caller.
            panic!("`Instrumented` polled after completion");
        };
        let res = {
            let mut exit = PollExit {
                swap: context::Swap::new(),
                span: &mut *this.span,
                panicked: &mut *this.panicked,
            };
            context::swap_in(exit.span.inner.as_ref().map(|s| &s.cur), &mut exit.swap);
            inner.poll(cx)
        };
        if res.is_ready() {
            this.inner.set(None);
            // Recorded in place: moving the span out first made the record's reads wait on
            // the move's stores.
            if let Some(s) = this.span.inner.as_mut() {
                s.finish_in_place();
            }
            *this.span.inner = None;
        }
        res
    }
}

impl Span {
    /// Wraps a future so that it runs inside this span, which ends when the future completes
    /// (or is dropped, tagged `cancelled`).
    ///
    /// ```
    /// # extern crate zipkin_runtime as zipkin_rs;
    /// use zipkin_rs::Span;
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let answer = Span::builder("compute").start_detached().instrument(async { 42 }).await;
    /// assert_eq!(answer, 42);
    /// # });
    /// ```
    pub fn instrument<F: Future>(self, fut: F) -> Instrumented<F> {
        Instrumented {
            inner: Some(fut),
            span: self,
            panicked: false,
        }
    }
}

/// Opens a span from static metadata and wraps `fut` in it (what `#[zipkin_span]` emits for
/// async bodies). The span starts now; it is current on each poll of `fut`.
#[inline]
pub fn instrument<F: Future>(
    meta: &'static SpanMeta,
    parent: Option<RemoteContext>,
    fut: F,
) -> Instrumented<F> {
    Span::from_meta(meta, parent).instrument(fut)
}

pin_project_lite::pin_project! {
    /// A future that sets the `error` tag of the current span when its output is an `Err`
    /// (what `#[zipkin_span(err)]` wraps async bodies in, inside their [`Instrumented`]).
    pub struct RecordErr<F, O> {
        #[pin]
        inner: F,
        // Chosen where the `ErrResult` bound is checked, so that a function that does not return
        // a `Result` gets one error (at `instrument_err`), not a second one at its `.await`.
        error_of: fn(&O) -> Option<&dyn fmt::Display>,
    }
}

impl<F, O> Future for RecordErr<F, O>
where
    F: Future<Output = O>,
{
    type Output = O;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<O> {
        let this = self.project();
        let out = std::task::ready!(this.inner.poll(cx));
        if let Some(e) = (this.error_of)(&out) {
            record_error(e);
        }
        Poll::Ready(out)
    }
}

/// Wraps `fut` so that an `Err` output sets the `error` tag, then runs it inside `span`.
#[inline]
pub fn instrument_err<F>(span: Span, fut: F) -> Instrumented<RecordErr<F, F::Output>>
where
    F: Future,
    F::Output: ErrResult,
{
    span.instrument(RecordErr {
        inner: fut,
        error_of: <F::Output as ErrResult>::zipkin_error,
    })
}

/// Extension methods for futures.
pub trait FutureExt: Future + Sized {
    /// Captures the current span now and makes it current on every poll of this future, so a
    /// spawned task's spans nest under the span that spawned it.
    ///
    /// ```
    /// # extern crate zipkin_runtime as zipkin_rs;
    /// use zipkin_rs::FutureExt;
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let task = tokio::spawn(async { zipkin_rs::current_context() }.in_current_span());
    /// assert!(task.await.unwrap().is_none()); // no span was current when it was spawned
    /// # });
    /// ```
    fn in_current_span(self) -> WithContext<Self> {
        CapturedContext::current().wrap(self)
    }

    /// Runs this future inside a new span named `name`, a child of the current span.
    fn in_new_span(self, name: impl Into<Cow<'static, str>>) -> Instrumented<Self> {
        Span::builder(name).start_detached().instrument(self)
    }
}

impl<F: Future> FutureExt for F {}

// LiveSpan and Span carry this data across threads already; the context is plain ids plus a
// `&'static` tracer.
#[allow(dead_code)]
fn _assert_send() {
    fn is_send<T: Send>() {}
    is_send::<Span>();
    is_send::<Instrumented<std::future::Ready<()>>>();
    is_send::<Instrumented<RecordErr<std::future::Ready<Result<(), String>>, Result<(), String>>>>(
    );
    is_send::<LiveSpan>();
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Regression: a second poll returned `Pending` without registering a waker, so whoever
    /// polled it waited forever.
    #[test]
    #[should_panic(expected = "`Instrumented` polled after completion")]
    fn polling_after_completion_panics_as_std_futures_do() {
        let tracer = crate::Tracer::builder()
            .transport(crate::transport::Discard)
            .build()
            .unwrap();
        let _default = tracer.set_default();
        let mut fut = std::pin::pin!(Span::builder("once").start_detached().instrument(async {}));
        let mut cx = Context::from_waker(std::task::Waker::noop());
        assert!(fut.as_mut().poll(&mut cx).is_ready());
        let _ = fut.as_mut().poll(&mut cx);
    }
}
