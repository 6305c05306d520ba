//! Head sampling: whether a new trace is recorded. Decided once, where the trace starts (a
//! root span, or a server span whose caller sent no decision); every span of the trace, here
//! and downstream, follows that decision.
//!
//! The tracer's sampler is a percentage unless one is set ([`crate::TracerBuilder::sampler`],
//! `ZIPKIN_SAMPLER`): [`PercentageSampler`], [`RateLimitingSampler`], [`HttpRuleSampler`], or
//! any [`Sampler`].

mod decision;
mod http_rule;
mod percentage;
mod rate_limiting;

pub use decision::{HttpRequest, Sampler, SamplingRequest};
pub use http_rule::{HttpRule, HttpRuleSampler};
pub(crate) use percentage::is_sampled;
pub use percentage::PercentageSampler;
pub use rate_limiting::RateLimitingSampler;
