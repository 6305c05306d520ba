//! Sampling a percentage of traces, decided from the trace id: every service that samples at the
//! same rate makes the same decision for the same trace.

use crate::id::TraceId;

use super::decision::{Sampler, SamplingRequest};

/// Records `percent` (0 to 100) of new traces, deterministically from their id. What the
/// tracer uses unless another sampler is set (`ZIPKIN_SAMPLE_RATE`,
/// [`crate::TracerBuilder::sample_rate`]).
///
/// ```
/// # extern crate zipkin_runtime as zipkin_rs;
/// use zipkin_rs::{PercentageSampler, Sampler, SamplingRequest, TraceId};
/// let half = PercentageSampler::new(50.0);
/// let id = TraceId::random(true);
/// let request = SamplingRequest::new(id, "job");
/// assert_eq!(half.sample(&request), half.sample(&request));
/// assert!(PercentageSampler::new(100.0).sample(&request));
/// assert!(!PercentageSampler::new(0.0).sample(&request));
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PercentageSampler {
    percent: f64,
}

impl PercentageSampler {
    /// Samples `percent` of traces, clamped to 0..=100 (NaN samples none).
    pub fn new(percent: f64) -> PercentageSampler {
        PercentageSampler {
            percent: if percent.is_nan() {
                0.0
            } else {
                percent.clamp(0.0, 100.0)
            },
        }
    }

    /// The percentage sampled.
    pub fn percent(&self) -> f64 {
        self.percent
    }
}

impl Sampler for PercentageSampler {
    #[inline]
    fn sample(&self, request: &SamplingRequest<'_>) -> bool {
        is_sampled(request.trace_id, self.percent)
    }

    fn never_samples(&self) -> bool {
        self.percent <= 0.0
    }
}

/// Whether a trace is sampled at `percent` (0 to 100), deterministically from its id.
#[inline]
pub(crate) fn is_sampled(trace_id: TraceId, percent: f64) -> bool {
    if percent >= 100.0 {
        return true;
    }
    if percent.is_nan() || percent <= 0.0 {
        return false;
    }
    // Compare the low 64 bits (random in every implementation) against rate * 2^64.
    let threshold = (percent / 100.0 * 18_446_744_073_709_551_616.0) as u64;
    trace_id.low() < threshold
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_is_respected_within_a_percent() {
        for rate in [1.0, 10.0, 50.0, 90.0] {
            let n = 100_000;
            let hits = (0..n)
                .filter(|_| is_sampled(TraceId::random(true), rate))
                .count() as f64;
            let got = hits / n as f64 * 100.0;
            assert!((got - rate).abs() < 1.0, "rate {rate}% sampled {got}%");
        }
    }

    #[test]
    fn edges() {
        let id = TraceId::new(0, u64::MAX).unwrap();
        assert!(is_sampled(id, 100.0));
        assert!(!is_sampled(id, 99.999));
        assert!(!is_sampled(TraceId::new(0, 1).unwrap(), 0.0));
        assert!(is_sampled(TraceId::new(0, 1).unwrap(), 0.001));
        assert!(!is_sampled(id, f64::NAN));
    }

    #[test]
    fn same_id_same_decision() {
        for _ in 0..1000 {
            let id = TraceId::random(true);
            assert_eq!(is_sampled(id, 33.3), is_sampled(id, 33.3));
        }
    }
}
