pub use zipkin_macros::zipkin_span;
pub use zipkin_runtime::*;
