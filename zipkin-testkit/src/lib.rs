//! Test-only support for zipkin-rs's reliability suite (never published):
//!
//! - [`collector`]: a fault-injecting Zipkin collector on loopback that decodes every body by
//!   Zipkin's rules ([`validate`]) and can accept, answer slowly, hang, answer 4xx/5xx, reset
//!   mid-body, refuse, stream a huge response, redirect, flap, throttle with `Retry-After`,
//!   refuse large bodies with 413, and serve TLS ([`tls`]);
//! - [`probe`]: threads, file descriptors and RSS of the process, and a latency histogram;
//! - [`figures`]: the figures each test reports, collected by `scripts/reliability.sh` into
//!   RELIABILITY.md.
//!
//! The tests themselves are in this crate's `tests/`.

pub mod collector;
pub mod figures;
pub mod probe;
pub mod proto_list;
pub mod tls;
pub mod validate;

pub use collector::{Collector, Keep, Mode, Request};
pub use figures::Report;
pub use probe::Histogram;
