//! The two services of py_zipkin's blog demo ("Introducing distributed tracing in your Python
//! application via Zipkin", 2017), in Rust, and what runs them. Shared by the examples
//! (`webapp`, `service1`, `demo`) and by `tests/e2e_demo.rs`, which include this folder as a
//! module.
//!
//! The originals are `tests/interop/python/demo.py` and `service1.py`; the settings use the same
//! environment variables, so either implementation of either service can stand in for the other.
#![allow(dead_code)] // each example uses a different part

pub mod config;
pub mod layers;
pub mod readback;
pub mod runner;
pub mod serve;
pub mod service1;
pub mod waterfall;
pub mod webapp;

/// A response header of the webapp carrying the trace id of the request it served, so the
/// demo and the tests know which trace to look up. The trace itself does not change.
pub const TRACE_ID_HEADER: &str = "zipkin-trace-id";
