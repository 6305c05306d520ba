//! Test-only support for zipkin-rs's reliability suite (never published):
//!
//! - [`alloc_count`]: allocations made by the calling thread, for tests that hold a path to
//!   its heap use;
//! - [`collector`]: a fault-injecting Zipkin collector on loopback that decodes every body by
//!   Zipkin's rules ([`validate`]) and can accept, answer slowly, hang, answer 4xx/5xx, reset
//!   mid-body, refuse, stream a huge response, redirect, flap, throttle with `Retry-After`,
//!   refuse large bodies with 413, and serve TLS ([`tls`]);
//! - [`port`]: loopback ports for the servers a test starts;
//! - [`probe`]: threads, file descriptors and RSS of the process, and a latency histogram;
//! - [`zipkin_server`]: the real Zipkin server of the end-to-end tests, and a trace read back
//!   from it;
//! - [`figures`]: the figures each test reports, collected by `scripts/reliability.sh` into
//!   RELIABILITY.md.
//!
//! The tests themselves are in this crate's `tests/`.

pub mod alloc_count;
pub mod collector;
pub mod figures;
pub mod port;
pub mod probe;
pub mod proto_list;
pub mod tls;
pub mod validate;
pub mod zipkin_server;

pub use collector::{Collector, Keep, Mode, Request};
pub use figures::Report;
pub use probe::Histogram;
