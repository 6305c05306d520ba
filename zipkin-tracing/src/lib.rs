//! `tracing` spans and events to Zipkin, through the zipkin-rs reporter: a `tracing_subscriber`
//! layer ([`ZipkinLayer`]) that shares one trace tree with `#[zipkin_span]`, and log lines that
//! carry their trace id ([`TraceIds`]).
//!
//! ```
//! # mod zipkin_rs { pub use ::zipkin_runtime::*; pub mod tracing { pub use ::zipkin_tracing::*; } }
//! use tracing_subscriber::layer::SubscriberExt;
//! use zipkin_rs::tracing::ZipkinLayer;
//!
//! let subscriber = tracing_subscriber::registry().with(ZipkinLayer::new());
//! tracing::subscriber::with_default(subscriber, || {
//!     let span = tracing::info_span!("checkout", order = 7).entered();
//!     tracing::info!(items = 3, "cart loaded"); // an annotation "cart loaded items=3"
//!     // inject_headers() here sends checkout's trace; #[zipkin_span] functions nest under it
//!     let _ = zipkin_rs::inject_headers();
//!     drop(span);
//! });
//! ```
//!
//! What the layer reads:
//! - a span's name, or its `zipkin.name` / `otel.name` field;
//! - `zipkin.kind` / `otel.kind` (`server`, `client`, `producer`, `consumer`), read when the
//!   span opens;
//! - every other field as a tag (see [`TagFields`]), including values recorded later with
//!   `Span::record`; `error` always; `otel.status_code = "ERROR"` as the `error` tag (its text
//!   from `otel.status_message`);
//! - events as annotations (`message field=value ...`); an ERROR event, or one with an `error`
//!   field, tags `error`.
#![warn(missing_docs, missing_debug_implementations, unreachable_pub)]

mod fields;
mod fmt;
mod layer;
mod parent;

pub use fmt::TraceIds;
pub use layer::{TagFields, ZipkinLayer};
pub use parent::with_remote_parent;
/// The context of the current span (a `tracing` span entered on this thread, or a
/// `#[zipkin_span]` function): its trace and span ids, for loggers other than
/// `tracing_subscriber::fmt`.
///
/// ```
/// # mod zipkin_rs { pub use ::zipkin_runtime::*; pub mod tracing { pub use ::zipkin_tracing::*; } }
/// use tracing_subscriber::layer::SubscriberExt;
/// let subscriber = tracing_subscriber::registry().with(zipkin_rs::tracing::ZipkinLayer::new());
/// tracing::subscriber::with_default(subscriber, || {
///     let _span = tracing::info_span!("job").entered();
///     let ctx = zipkin_rs::tracing::current_context().unwrap();
///     println!("trace_id={} span_id={}", ctx.trace_id, ctx.span_id);
/// });
/// ```
pub use zipkin_runtime::current_context;
