//! A `tracing` span's remote parent: the caller's context, read from its headers with
//! [`extract`](zipkin_runtime::extract), given to the spans opened inside [`with_remote_parent`].

use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};

use zipkin_runtime::RemoteContext;

thread_local! {
    static REMOTE: Cell<Option<RemoteContext>> = const { Cell::new(None) };
}

/// Threads inside [`with_remote_parent`] right now: while none is, opening a span does not
/// look at the thread-local.
static ACTIVE: AtomicUsize = AtomicUsize::new(0);

/// Runs `f`; the first `tracing` span it opens continues the caller's trace `remote` (a server
/// span by default, which joins the caller's span id when the tracer joins server spans, as
/// Brave and py_zipkin do; `otel.kind`/`zipkin.kind` says otherwise). An empty context (no
/// headers) leaves the span to start its own trace, or nest under the current span.
///
/// With tower-http's `TraceLayer`:
///
/// ```
/// # mod zipkin_rs { pub use ::zipkin_runtime::*; pub mod tracing { pub use ::zipkin_tracing::*; } }
/// use zipkin_rs::tracing::with_remote_parent;
/// let make_span = |req: &http::Request<()>| {
///     with_remote_parent(zipkin_rs::extract(req.headers()), || {
///         tracing::info_span!("request", method = %req.method(), uri = %req.uri())
///     })
/// };
/// let _span = make_span(&http::Request::new(()));
/// ```
pub fn with_remote_parent<R>(remote: RemoteContext, f: impl FnOnce() -> R) -> R {
    struct Reset(Option<RemoteContext>);
    impl Drop for Reset {
        fn drop(&mut self) {
            let _ = REMOTE.try_with(|r| r.set(self.0));
            ACTIVE.fetch_sub(1, Ordering::Relaxed);
        }
    }
    if remote.is_empty() {
        return f();
    }
    ACTIVE.fetch_add(1, Ordering::Relaxed);
    let prev = REMOTE.try_with(|r| r.replace(Some(remote))).ok().flatten();
    let _reset = Reset(prev);
    f()
}

/// The remote parent [`with_remote_parent`] set for the next span, taken.
#[inline]
pub(crate) fn take_remote() -> Option<RemoteContext> {
    if ACTIVE.load(Ordering::Relaxed) == 0 {
        return None;
    }
    REMOTE.try_with(|r| r.take()).ok().flatten()
}
