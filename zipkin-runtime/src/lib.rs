//! The runtime of zipkin-rs: trace and span ids, the current-span context, sampling, B3
//! propagation, the Zipkin v2 model and encodings, and a reporter that batches spans off the
//! request path.
//!
//! Most users depend on the `zipkin-rs` facade and use `#[zipkin_span]`; everything the
//! attribute does is an ordinary call into this crate, usable by hand:
//!
//! ```
//! # extern crate zipkin_runtime as zipkin_rs;
//! use zipkin_rs::{SpanGuard, Tracer, transport::memory::MemoryTransport};
//! let mem = MemoryTransport::new();
//! let tracer = Tracer::builder().service_name("webapp").transport(mem.clone()).build().unwrap();
//! tracer.in_scope(|| {
//!     let _index = SpanGuard::new("index");
//!     let _child = SpanGuard::new("do_stuff");
//! });
//! tracer.flush(std::time::Duration::from_secs(5));
//! assert_eq!(mem.spans().len(), 2);
//! ```
#![warn(
    missing_docs,
    missing_debug_implementations,
    unreachable_pub,
    unsafe_op_in_unsafe_fn
)]
#![warn(clippy::undocumented_unsafe_blocks)]
// docs.rs (`--cfg docsrs`, nightly): each item behind a feature shows which one.
#![cfg_attr(docsrs, feature(doc_cfg))]

mod capture;
mod clock;
mod config;
mod context;
mod encode;
mod error;
mod future;
mod id;
mod intern;
#[cfg(feature = "serde")]
pub mod model;
mod pending;
pub mod propagation;
mod record;
mod reporter;
mod rng;
mod sampler;
mod span;
mod span_context;
mod span_handler;
mod tag_value;
#[cfg(feature = "testing")]
pub mod testing;
mod tracer;
pub mod transport;

#[cfg(feature = "tokio")]
pub use capture::{spawn, spawn_blocking};
pub use capture::{spawn_thread, CapturedContext, WithContext};
pub use config::{Config, DEFAULT_ENDPOINT};
pub use context::current_context;
pub use encode::Encoding;
pub use error::{ConfigError, ErrorChain, IdError, Setting, TransportError};
pub use future::{FutureExt, Instrumented};
pub use id::{HexId, SpanId, TraceId};
pub use intern::MAX_SERVICE_NAMES;
pub use pending::{annotate, record_error, set_remote_endpoint, tag};
pub use propagation::{extract, extract_from, inject_context, inject_headers, inject_into};
pub use record::{Endpoint, Kind};
pub use reporter::config::{ReporterConfig, MAX_THREAD_BUFFER_SPANS};
pub use reporter::metrics::{FlushReport, ReporterMetrics};
pub use sampler::{
    HttpRequest, HttpRule, HttpRuleSampler, PercentageSampler, RateLimitingSampler, Sampler,
    SamplingRequest,
};
pub use span::builder::SpanBuilder;
pub use span::detached::Span;
pub use span::guard::SpanGuard;
pub use span_context::{RemoteContext, RemoteIds, Sampling, SpanContext};
pub use span_handler::{FinishedSpan, SpanHandler};
pub use tracer::builder::{TracerBuilder, TracerGuard};
pub use tracer::global::{init, DefaultGuard};
pub use tracer::Tracer;

/// For this repository's benchmarks and tests of the encoders: a finished span's record and the
/// encoder. Not an API: it changes without notice.
#[doc(hidden)]
pub mod __unstable {
    pub use crate::encode::SpanEncoder;
    pub use crate::record::{Extra, SpanRecord, Tags};
    pub use crate::tag_value::TagValue;

    /// The span clock's raw ticks, which records hold.
    pub mod clock {
        pub use crate::clock::{duration_micros, epoch_micros, now, warm_up};
    }
}

/// What bridges from other instrumentation APIs (the `tracing` layer of `zipkin-tracing`) use
/// beyond the public API: see `span/entered.rs`. Not a stable API.
#[doc(hidden)]
pub mod __bridge {
    pub use crate::span::entered::{current_sampling, Entered, SpanScope};
}

/// What `#[zipkin_span]` expands to. Not a stable API: call the public items instead.
#[doc(hidden)]
pub mod __private {
    pub use crate::future::{instrument, instrument_err, RecordErr};
    pub use crate::pending::record_error;
    pub use crate::record::Kind;
    pub use crate::span::detached::Span;
    pub use crate::span::guard::SpanGuard;
    pub use crate::span::meta::{ErrResult, SpanMeta};
    pub use crate::span_context::RemoteContext;

    /// Converts whatever `parent = expr` gives into a remote context.
    #[inline]
    pub fn parent(p: impl Into<RemoteContext>) -> Option<RemoteContext> {
        Some(p.into())
    }

    /// [`parent`] for a sync guard, which takes the context itself.
    #[inline]
    pub fn remote_parent(p: impl Into<RemoteContext>) -> RemoteContext {
        p.into()
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
