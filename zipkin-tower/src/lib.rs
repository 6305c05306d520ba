//! Zipkin spans for [tower] services, without code in each handler: [`ServerLayer`] for servers
//! (an axum `Router`, a hyper service, a tonic server) and [`ClientLayer`] for clients (a
//! hyper-util client, a tonic `Channel`). Re-exported by `zipkin-rs` as `zipkin_rs::tower`
//! (feature `tower`).
//!
//! Both follow Brave's HTTP and gRPC instrumentation:
//!
//! - **Remote endpoint** (server): the caller's address, from axum's `ConnectInfo` (feature
//!   `axum`), tonic's `TcpConnectInfo` (feature `tonic`) or a `std::net::SocketAddr` request
//!   extension.
//! - **Names**: an HTTP span is the lower-case method and the route template when one is known
//!   (axum's `MatchedPath`, feature `axum`: `get /orders/{id}`), else the method alone (never
//!   the raw path, whose ids would explode Zipkin's name index). A gRPC span (content type
//!   `application/grpc`) is the method: `package.Service/Method`.
//! - **Tags**: `http.method`, `http.path`, `http.route` (when known); `http.status_code` when
//!   the status is not 2xx and `error` (the status code) when it is below 100 or above 399, as
//!   Brave's default parsers write them. gRPC: `grpc.status_code` (the code's name, from the
//!   `grpc-status` header or trailer) and `error` when it is not `OK`. A service error or a
//!   panic tags `error`.
//! - **When a span ends**: an HTTP span ends when the response head is ready (the service's
//!   future completes), not when the body has been sent: a body can stream for minutes (server
//!   events, downloads) and the handler's work is done; this also keeps the response body type
//!   unchanged in cost for plain HTTP. A gRPC span ends at the end of the body, when the
//!   trailers carry the status (or at the head, for a trailers-only response).
//!
//! [tower]: https://docs.rs/tower
#![warn(missing_docs, missing_debug_implementations, unreachable_pub)]
// docs.rs (`--cfg docsrs`, nightly): each item behind a feature shows which one.
#![cfg_attr(docsrs, feature(doc_cfg))]

mod body;
mod client;
mod grpc;
mod headers;
mod parse;
mod server;

pub use body::ResponseBody;
pub use client::{Client, ClientLayer, ClientResponseFuture};
pub use server::{ResponseFuture, Server, ServerLayer};
