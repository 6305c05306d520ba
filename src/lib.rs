//! Zipkin tracing for Rust, in the spirit of Python's `py_zipkin`: put `#[zipkin_span]` on a
//! function, and each call becomes a span of a trace that Zipkin shows as a tree.
//!
//! ```
//! use zipkin_rs::{tag, zipkin_span};
//!
//! #[zipkin_span(service_name = "webapp", span_name = "index")]
//! fn index() -> String {
//!     do_stuff(3)
//! }
//!
//! #[zipkin_span(tags("items" = n))]
//! fn do_stuff(n: u32) -> String {
//!     tag("cache", "miss"); // adds a tag to the current span
//!     "ok".repeat(n as usize)
//! }
//!
//! # let mem = zipkin_rs::transport::memory::MemoryTransport::new();
//! # let tracer = zipkin_rs::Tracer::builder().transport(mem.clone()).build().unwrap();
//! # let _default = tracer.set_default();
//! index(); // reports "index" (service webapp) with its child "do_stuff"
//! # tracer.flush(std::time::Duration::from_secs(5));
//! # assert_eq!(
//! #     zipkin_rs::testing::render_tree(&mem.spans()),
//! #     "index (webapp)\n  do_stuff (webapp)\n"
//! # );
//! ```
//!
//! With no setup, spans go to `http://localhost:9411/api/v2/spans` (or `ZIPKIN_ENDPOINT`); see
//! [`Tracer::builder`] and [`init`] for explicit configuration. Async functions work the same
//! way, and a span opened in one is the parent of the spans of everything it awaits:
//!
//! ```
//! use zipkin_rs::zipkin_span;
//!
//! #[zipkin_span(kind = "client", err)]
//! async fn fetch_user(id: u64) -> Result<String, std::fmt::Error> {
//!     Ok(format!("user {id}"))
//! }
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! assert_eq!(fetch_user(7).await.unwrap(), "user 7");
//! # });
//! ```
//!
//! # Where to go next
//!
//! - **Configuration**: the `ZIPKIN_*` variables are listed at [`TracerBuilder::from_env`];
//!   [`init`] reads them and returns a guard that flushes at the end of `main`.
//! - **Across services**: [`inject_headers`] before an outgoing call, [`extract`] (or
//!   `#[zipkin_span(parent = extract(&headers))]`) in the handler; the [`propagation`] module
//!   has the rest (B3 single and multi, W3C `traceparent`, Kafka record headers).
//! - **Other threads and tasks**: [`spawn`], [`spawn_thread`], [`FutureExt`] and
//!   [`CapturedContext`] carry the current span.
//! - **Sampling and finished spans**: [`Sampler`] and its implementations (per HTTP route:
//!   [`HttpRuleSampler`]), [`SpanHandler`] to redact, rename or drop spans.
//! - **Integrations**, each a feature: `tower` (`tower::ServerLayer` and `tower::ClientLayer`
//!   for axum, hyper and tonic; `axum` and `tonic` add route templates and peer addresses),
//!   `reqwest` (`reqwest::ZipkinMiddleware`), `tracing` (`tracing::ZipkinLayer`, and trace ids
//!   in log lines with `tracing::TraceIds`).
//! - **Transports**: HTTP (features `http` and `tls`, on by default), Kafka (feature `kafka`,
//!   `ZIPKIN_ENDPOINT=kafka://host:9092`), a file or standard output; see [`transport`].
//! - **What is measured**: the repository's BENCHMARKS.md and RELIABILITY.md.
#![warn(
    missing_docs,
    missing_debug_implementations,
    unreachable_pub,
    unsafe_code
)]
// docs.rs (`--cfg docsrs`, nightly): each item behind a feature shows which one.
#![cfg_attr(docsrs, feature(doc_cfg))]

// Lets `#[zipkin_span]` (which names `::zipkin_rs`) work inside this crate too.
extern crate self as zipkin_rs;

/// Traces a function: every call opens a span, which is the current span (the parent of spans
/// opened inside) until the function returns, and is then reported.
///
/// ```
/// use zipkin_rs::zipkin_span;
///
/// #[zipkin_span(service_name = "webapp", span_name = "do_stuff")]
/// fn do_stuff() {}
/// # do_stuff();
/// ```
///
/// # Where it works
///
/// Free functions; methods taking `&self`, `&mut self` or `self`; generic functions with `where`
/// clauses; `unsafe` and `extern` functions; `async fn`; functions returning `impl Future` whose
/// body ends in an `async` block; `#[async_trait]` methods. Other attributes (`#[must_use]`,
/// `#[inline]`, ...) and inner attributes are kept.
///
/// The span closes on every exit: return, early return, `?`, and a panic (the span gets the tag
/// `error = panic`).
///
/// For async code the span opens when the function's future is first polled, as a child of the
/// span current then (normally the caller that awaits it; for a task, the span it was spawned
/// from with [`spawn`] or [`FutureExt::in_current_span`]). It is current during every poll, so
/// concurrent futures (`join!`, `select!`) and tasks that move between threads each see their
/// own parent, and it closes when the future completes, or when the future is dropped before
/// completing (tag `cancelled = true`). A future never polled records nothing. The future is
/// `Send` whenever the body is.
///
/// ```
/// use zipkin_rs::zipkin_span;
///
/// struct Cart { items: Vec<u32> }
///
/// impl Cart {
///     #[zipkin_span]
///     fn add(&mut self, item: u32) -> &mut Self { self.items.push(item); self }
///
///     #[zipkin_span(span_name = "cart.total")]
///     fn total<T>(&self, scale: T) -> u64 where T: Into<u64> {
///         self.items.iter().map(|&i| u64::from(i)).sum::<u64>() * scale.into()
///     }
/// }
///
/// #[zipkin_span]
/// fn parse(s: &str) -> Result<u32, std::num::ParseIntError> {
///     let n = s.trim().parse::<u32>()?; // an early return closes the span too
///     Ok(n * 2)
/// }
///
/// // A function that builds a future: the span covers the future's whole run.
/// #[zipkin_span]
/// fn later(n: u32) -> impl std::future::Future<Output = u32> {
///     async move { n + 1 }
/// }
/// # let mut cart = Cart { items: vec![] };
/// # cart.add(2).add(3);
/// # assert_eq!(cart.total(2u8), 10);
/// # assert!(parse("x").is_err());
/// # assert_eq!(tokio::runtime::Runtime::new().unwrap().block_on(later(1)), 2);
/// ```
///
/// With `#[async_trait]`, put `#[async_trait]` on the `trait` or `impl` block and
/// `#[zipkin_span]` on the method. The block's attribute always expands first (an attribute on
/// an item expands before the attributes inside it), turning the method into a plain `fn`
/// returning `Box::pin(async move { .. })`; `#[zipkin_span]` recognises that shape and traces
/// the boxed future, not its construction:
///
/// ```
/// use async_trait::async_trait;
/// use zipkin_rs::zipkin_span;
///
/// #[async_trait]
/// trait Store {
///     async fn get(&self, key: &str) -> Option<String>;
/// }
///
/// struct Memory;
///
/// #[async_trait]
/// impl Store for Memory {
///     #[zipkin_span(kind = "client", tags("key" = key))]
///     async fn get(&self, key: &str) -> Option<String> {
///         Some(key.to_uppercase())
///     }
/// }
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// # assert_eq!(Memory.get("a").await.as_deref(), Some("A"));
/// # });
/// ```
///
/// The other order, `#[zipkin_span]` expanding before `#[async_trait]`, happens only when both
/// sit on the same item, which `#[async_trait]` rejects (it takes a trait or an impl block), and
/// `#[zipkin_span]` on an `impl` block is a compile error. Were an `async fn` traced first and
/// rewritten by another macro afterwards, it would still be traced over its body, since the span
/// wraps the body's own future. A function that returns a future built some other way than a trailing `async` block (say, by
/// calling another function) gets a span that covers only building the future; make it an
/// `async fn` instead.
///
/// # Options
///
/// All options are optional and may come in any order, each at most once.
///
/// ## `service_name = "..."`
///
/// The local service of this span and, unless they set their own, of its children. Without it
/// the span inherits its parent's service, or the tracer's at a root.
///
/// ```
/// #[zipkin_rs::zipkin_span(service_name = "billing")]
/// fn charge() {}
/// # charge();
/// ```
///
/// ## `span_name = "..."`
///
/// The span name; the function's name by default. Keep it low-cardinality (no ids in it).
///
/// ```
/// #[zipkin_rs::zipkin_span(span_name = "GET /users")]
/// fn get_users() {}
/// # get_users();
/// ```
///
/// ## `kind = "client" | "server" | "producer" | "consumer" | "local"`
///
/// The Zipkin span kind, case-insensitive; `local` (the default) writes no kind.
///
/// ```
/// #[zipkin_rs::zipkin_span(kind = "CLIENT")]
/// fn call_inventory() {}
/// # call_inventory();
/// ```
///
/// ## `tags("key" = expr, ...)`
///
/// Tags set when the span opens. Each value is any `Display` expression, which may use the
/// arguments; it is evaluated when the span opens, and only if the span is sampled. (For a
/// function that returns a future, that is inside the future, so a value can only use what the
/// future may capture.) A key may also be an identifier
/// (`tags(user = id)`). Arguments are never recorded otherwise.
///
/// ```
/// #[zipkin_rs::zipkin_span(tags("user.id" = user_id, "retry" = attempt > 0))]
/// fn load(user_id: u64, attempt: u32, _password: &str) {}
/// # load(1, 0, "secret");
/// ```
///
/// ## `err`
///
/// The function returns `Result<_, E>` with `E: Display`; when it returns an `Err`, the span gets
/// the tag `error` with the error's Display text. Works for sync and async functions.
///
/// ```
/// #[zipkin_rs::zipkin_span(err)]
/// fn port(s: &str) -> Result<u16, std::num::ParseIntError> {
///     s.parse()
/// }
/// # assert!(port("http").is_err());
/// ```
///
/// ## `sample_rate = 0..=100`
///
/// The percentage of traces sampled when this span starts a trace (it is a root); spans that
/// continue a trace follow the trace's decision. Without it, the tracer's rate applies.
///
/// ```
/// #[zipkin_rs::zipkin_span(sample_rate = 12.5)]
/// fn handle() {}
/// # handle();
/// ```
///
/// ## `port = 1..=65535`
///
/// The port of the local endpoint; children inherit it.
///
/// ```
/// #[zipkin_rs::zipkin_span(service_name = "webapp", port = 8080, kind = "server")]
/// fn serve() {}
/// # serve();
/// ```
///
/// ## `parent = expr`
///
/// Continues a caller's trace instead of the current span: anything that converts into a
/// [`RemoteContext`] (an extracted B3 context, a [`SpanContext`], or an `Option<RemoteContext>`).
/// With `kind = "server"` the span joins the caller's span id (`shared`), as Zipkin expects of
/// the server half of an RPC. A context that carries nothing (no ids, no sampling decision, or
/// `None`) is ignored: the span nests under the current span or starts a trace.
///
/// ```
/// use zipkin_rs::{RemoteContext, zipkin_span};
///
/// #[zipkin_span(kind = "server", parent = caller)]
/// fn handle_request(caller: Option<RemoteContext>) {}
/// # handle_request(None);
/// ```
///
/// ## `crate = path`
///
/// Where the `zipkin-rs` crate is, when it is renamed or re-exported (default `::zipkin_rs`).
///
/// ```
/// // A crate of shared telemetry helpers that re-exports zipkin-rs:
/// mod telemetry {
///     pub mod zipkin {
///         pub use zipkin_rs::*;
///     }
/// }
///
/// #[telemetry::zipkin::zipkin_span(crate = telemetry::zipkin)]
/// fn work() {}
/// # work();
/// ```
///
/// # Mistakes are compile errors
///
/// Each points at the offending token.
///
/// An unknown option:
/// ```compile_fail
/// #[zipkin_rs::zipkin_span(name = "x")] // `name` is spelled `span_name`
/// fn f() {}
/// ```
/// A duplicate option:
/// ```compile_fail
/// #[zipkin_rs::zipkin_span(kind = "client", kind = "server")]
/// fn f() {}
/// ```
/// A literal of the wrong type:
/// ```compile_fail
/// #[zipkin_rs::zipkin_span(service_name = webapp)]
/// fn f() {}
/// ```
/// An empty service name:
/// ```compile_fail
/// #[zipkin_rs::zipkin_span(service_name = "")]
/// fn f() {}
/// ```
/// A sample rate outside 0 to 100:
/// ```compile_fail
/// #[zipkin_rs::zipkin_span(sample_rate = 150)]
/// fn f() {}
/// ```
/// An unknown kind:
/// ```compile_fail
/// #[zipkin_rs::zipkin_span(kind = "serve")]
/// fn f() {}
/// ```
/// `err` on a function that does not return a `Result`:
/// ```compile_fail
/// #[zipkin_rs::zipkin_span(err)]
/// fn f() -> u32 { 1 }
/// ```
/// Something that is not a function:
/// ```compile_fail
/// #[zipkin_rs::zipkin_span]
/// struct Config;
/// ```
/// A `const fn`:
/// ```compile_fail
/// #[zipkin_rs::zipkin_span]
/// const fn f() {}
/// ```
pub use zipkin_rs_macros::zipkin_span;

// Spans and what they carry.
pub use zipkin_runtime::{
    annotate, record_error, set_remote_endpoint, tag, Endpoint, ErrorChain, Kind, Span,
    SpanBuilder, SpanGuard,
};
// The current span, and work carried into other tasks and threads.
pub use zipkin_runtime::{
    current_context, spawn_thread, CapturedContext, FutureExt, Instrumented, WithContext,
};
#[cfg(feature = "tokio")]
pub use zipkin_runtime::{spawn, spawn_blocking};
// Ids and contexts.
pub use zipkin_runtime::{
    HexId, IdError, RemoteContext, RemoteIds, Sampling, SpanContext, SpanId, TraceId,
};
// Propagation across processes (the rest is in `propagation`).
pub use zipkin_runtime::{extract, extract_from, inject_context, inject_headers, inject_into};
// The tracer, its configuration and its reporter.
#[cfg(feature = "serde")]
pub use zipkin_runtime::model;
#[cfg(feature = "testing")]
pub use zipkin_runtime::testing;
pub use zipkin_runtime::{
    init, Config, ConfigError, DefaultGuard, Encoding, FlushReport, ReporterConfig,
    ReporterMetrics, Setting, Tracer, TracerBuilder, TracerGuard, TransportError, DEFAULT_ENDPOINT,
    MAX_SERVICE_NAMES, MAX_THREAD_BUFFER_SPANS,
};
pub use zipkin_runtime::{propagation, transport};
/// SERVER and CLIENT spans for tower services (axum, hyper, tonic): [`tower::ServerLayer`],
/// [`tower::ClientLayer`]. Feature `tower` (and `axum` for route templates in span names).
#[cfg(feature = "tower")]
#[doc(inline)]
pub use zipkin_tower as tower;

/// CLIENT spans for reqwest: [`reqwest::ZipkinMiddleware`], a reqwest-middleware middleware.
/// Feature `reqwest`.
#[cfg(feature = "reqwest")]
#[doc(inline)]
pub use zipkin_reqwest as reqwest;

// Which new traces are recorded, and what is done with finished spans.
pub use zipkin_runtime::{
    FinishedSpan, HttpRequest, HttpRule, HttpRuleSampler, PercentageSampler, RateLimitingSampler,
    Sampler, SamplingRequest, SpanHandler,
};

/// `tracing` spans and events to Zipkin: [`tracing::ZipkinLayer`], a `tracing_subscriber`
/// layer sharing one trace tree with `#[zipkin_span]`, and [`tracing::TraceIds`], trace ids in
/// every log line.
#[cfg(feature = "tracing")]
pub mod tracing {
    pub use zipkin_tracing::*;
}

#[doc(hidden)]
pub use zipkin_runtime::{__private, __unstable};
