//! A span not tied to a thread ([`Span`]): it moves into a future or another thread, can be
//! entered for a while, and reports when it drops.

use std::borrow::Cow;
use std::fmt;
use std::mem::ManuallyDrop;

use crate::context::{self, Current};
use crate::sampler::HttpRequest;
use crate::span_context::{RemoteContext, SpanContext};

use super::builder::SpanBuilder;
use super::live::LiveSpan;
use super::meta::SpanMeta;
use super::recording::recording_methods;

/// An open span that is not tied to a thread: it can move into a future or another thread, be
/// entered for a while, and reports when it drops (or on [`Span::finish`]).
///
/// ```
/// # extern crate zipkin_runtime as zipkin_rs;
/// use zipkin_rs::Span;
/// let mut span = Span::builder("background-job").start_detached();
/// std::thread::spawn(move || {
///     span.in_scope(|| { /* children opened here nest under background-job */ });
/// })
/// .join()
/// .unwrap();
/// ```
pub struct Span {
    /// Dropped by [`Span`]'s `Drop` itself: a span that never recorded and owns nothing ends
    /// without a call (benchmark: http_layers/server_layer_unsampled). Assign through the
    /// `ManuallyDrop` (`*span.inner = None`) so that the old value is dropped.
    pub(crate) inner: ManuallyDrop<Option<LiveSpan>>,
}

impl fmt::Debug for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Span")
            .field("context", &self.context())
            .field("recording", &self.is_recording())
            .finish()
    }
}

impl Span {
    /// A builder for a detached span.
    pub fn builder(name: impl Into<Cow<'static, str>>) -> SpanBuilder {
        SpanBuilder::new(name.into())
    }

    /// Opens a detached span from a macro's static metadata: what `#[zipkin_span]` on an
    /// `async fn` expands to. Use [`Span::builder`] in code.
    #[doc(hidden)]
    #[inline]
    pub fn from_meta(meta: &'static SpanMeta, parent: Option<RemoteContext>) -> Span {
        Span {
            inner: ManuallyDrop::new(Some(LiveSpan::from_meta(meta, parent))),
        }
    }

    /// This span's context.
    pub fn context(&self) -> Option<SpanContext> {
        self.inner.as_ref().map(|s| s.cur.ctx)
    }

    /// Whether this span is sampled, so that tags and annotations are kept.
    ///
    /// ```
    /// # extern crate zipkin_runtime as zipkin_rs;
    /// let span = zipkin_rs::Span::builder("job").start_detached();
    /// assert_eq!(span.is_recording(), span.context().unwrap().is_sampled());
    /// ```
    #[inline]
    pub fn is_recording(&self) -> bool {
        self.inner.as_ref().is_some_and(LiveSpan::is_recording)
    }

    /// Runs `f` with this span current; spans opened inside become its children.
    pub fn in_scope<R>(&mut self, f: impl FnOnce() -> R) -> R {
        let cur = self.inner.as_ref().map(|s| s.cur);
        let r = context::with_current(cur, f);
        if let Some(s) = self.inner.as_mut() {
            s.take_pending();
        }
        r
    }

    /// The span, if it records.
    #[inline]
    fn recording(&mut self) -> Option<&mut LiveSpan> {
        self.inner.as_mut().filter(|s| s.is_recording())
    }

    /// Ends the span now.
    pub fn finish(mut self) {
        if let Some(s) = self.inner.take() {
            s.finish();
        }
    }

    #[inline]
    pub(crate) fn current(&self) -> Option<Current> {
        self.inner.as_ref().map(|s| s.cur)
    }

    #[inline]
    pub(crate) fn take_pending(&mut self) {
        if let Some(s) = self.inner.as_mut() {
            s.take_pending();
        }
    }
}

recording_methods!(Span);

impl Drop for Span {
    #[inline]
    fn drop(&mut self) {
        if let Some(s) = &*self.inner {
            if s.is_recording() || !s.owns_nothing() {
                self.end();
            }
        }
    }
}

impl Span {
    /// Reports the span if it records, and frees what it owns. Ended in place: moving the
    /// span out first copied all of it, also for a span that never recorded (benchmark:
    /// http_layers/server_layer_unsampled).
    #[inline(never)]
    fn end(&mut self) {
        if let Some(s) = self.inner.as_mut() {
            s.finish_in_place();
        }
        // Benchmark: http_layers/server_layer_unsampled (an unsampled span that owns nothing ends without a call).
        // SAFETY: `inner` is dropped here, once: this runs only from `drop`, and nothing reads
        // the span afterwards.
        unsafe { ManuallyDrop::drop(&mut self.inner) };
    }
}

impl SpanBuilder {
    /// Opens the span without making it current, to carry into a future or thread.
    pub fn start_detached(self) -> Span {
        Span {
            inner: ManuallyDrop::new(Some(self.live())),
        }
    }

    /// [`SpanBuilder::start_detached`] for a span serving an HTTP request: when the span
    /// starts a new trace (no parent, or a caller that sent no decision), the tracer's
    /// [`crate::Sampler`] sees the request's method, path and route. What the server
    /// integrations call.
    ///
    /// ```
    /// # extern crate zipkin_runtime as zipkin_rs;
    /// use zipkin_rs::{HttpRequest, Kind, Span};
    /// let span = Span::builder("get /orders/{id}")
    ///     .kind(Kind::Server)
    ///     .start_detached_for_http(&HttpRequest::new("GET", "/orders/42").with_route("/orders/{id}"));
    /// assert!(span.context().is_some());
    /// ```
    #[inline]
    pub fn start_detached_for_http(self, http: &HttpRequest<'_>) -> Span {
        Span {
            inner: ManuallyDrop::new(Some(self.live_for(Some(http)))),
        }
    }
}
