//! The runtime of zipkin-rs: trace and span ids, the current-span context, sampling, B3
//! propagation, the Zipkin v2 model and encodings, and a reporter that batches spans off the
//! request path.
//!
//! Most users depend on the `zipkin-rs` facade and use `#[zipkin_span]`; everything the
//! attribute does is an ordinary call into this crate, usable by hand:
//!
//! ```
//! use zipkin_runtime::{SpanGuard, Tracer, transport::memory::MemoryTransport};
//! let mem = MemoryTransport::new();
//! let tracer = Tracer::builder().service_name("webapp").transport(mem.clone()).build().unwrap();
//! tracer.in_scope(|| {
//!     let _index = SpanGuard::new("index");
//!     let _child = SpanGuard::new("do_stuff");
//! });
//! tracer.flush(std::time::Duration::from_secs(5));
//! assert_eq!(mem.spans().len(), 2);
//! ```
#![warn(missing_docs)]

mod buffer;
mod capture;
pub mod clock;
mod context;
pub mod encode;
mod endpoint;
mod error;
mod future;
mod id;
pub mod model;
mod pending;
mod process;
pub mod propagation;
pub mod reporter;
pub mod sampler;
mod span;
pub mod testing;
pub mod tracer;
pub mod transport;

#[cfg(feature = "tokio")]
pub use capture::{spawn, spawn_blocking};
pub use capture::{spawn_thread, CapturedContext, WithContext};
pub use context::{current_context, RemoteContext, RemoteIds, Sampling, SpanContext};
pub use error::{ConfigError, IdError, Setting, TransportError};
pub use future::{instrument, FutureExt, Instrumented};
pub use id::{HexId, SpanId, TraceId};
pub use pending::{annotate, record_error, set_remote_endpoint, tag};
pub use propagation::{extract, extract_from, inject_context, inject_headers, inject_into};
pub use reporter::{FlushReport, ReporterConfig, ReporterMetrics};
pub use span::{Endpoint, Extra, Kind, Span, SpanBuilder, SpanGuard, SpanMeta, SpanRecord};
pub use tracer::{init, Config, DefaultGuard, Tracer, TracerBuilder, TracerGuard};

/// What `#[zipkin_span]` expands to. Not a stable API: call the public items instead.
#[doc(hidden)]
pub mod __private {
    pub use crate::context::RemoteContext;
    pub use crate::future::{instrument, instrument_err, RecordErr};
    pub use crate::pending::record_error;
    pub use crate::span::{ErrResult, Kind, Span, SpanGuard, SpanMeta};

    /// Converts whatever `parent = expr` gives into a remote context.
    #[inline]
    pub fn parent(p: impl Into<RemoteContext>) -> Option<RemoteContext> {
        Some(p.into())
    }

    /// Calls `f` once. The `FnOnce` bound makes the closure the attribute wraps a sync body in
    /// (for `err`) own its captures, so the body can return borrows of `&mut self`.
    #[inline(always)]
    pub fn call_once<R>(f: impl FnOnce() -> R) -> R {
        f()
    }

    /// Sets the `error` tag of a sync span when the function returned an `Err`.
    #[inline]
    pub fn record_err<R: ErrResult>(guard: &mut SpanGuard, ret: &R) {
        if let Some(e) = ret.zipkin_error() {
            guard.error(e);
        }
    }
}
