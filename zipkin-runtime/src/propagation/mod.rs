//! Context propagation across processes: B3 (multi and single header) and W3C traceparent.
//!
//! A client calls [`inject_headers`] (or [`inject_into`] for another carrier) before a call; a
//! server calls [`extract`] (or [`extract_from`]) on the incoming headers and passes the result
//! as the parent of its server span. Both are allocation-free apart from the header map itself.
//!
//! ```
//! # extern crate zipkin_runtime as zipkin_rs;
//! use zipkin_rs::propagation::{extract, inject_headers};
//! use zipkin_rs::{Kind, SpanGuard, Tracer};
//! # let tracer = Tracer::builder().service_name("webapp")
//! #     .transport(zipkin_rs::transport::memory::MemoryTransport::new()).build().unwrap();
//! # let _default = tracer.set_default();
//! let client = SpanGuard::new("index");
//! let headers = inject_headers(); // sent with the request
//! // ... in the called service:
//! let server = SpanGuard::builder("get /api").kind(Kind::Server).parent(extract(&headers)).start();
//! let (c, s) = (client.context().unwrap(), server.context().unwrap());
//! assert_eq!(s.trace_id, c.trace_id);
//! assert_eq!(s.parent_id, Some(c.span_id));
//! ```

pub mod b3;
mod carrier;
mod error;
mod extract;
mod header_text;
mod inject;
pub mod kafka;
mod metrics;
pub mod w3c;

pub use b3::B3Format;
pub use carrier::{Extractor, Field, Injector};
pub use error::HeaderError;
pub use extract::{extract, extract_from};
pub use header_text::HeaderText;
pub use http::HeaderMap;
pub use inject::{inject_context, inject_headers, inject_into, InjectOptions};
pub use metrics::{metrics, PropagationMetrics};
