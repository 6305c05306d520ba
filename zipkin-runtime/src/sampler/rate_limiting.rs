//! Sampling at most N new traces per second, whatever the load.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use super::decision::{Sampler, SamplingRequest};

/// Records at most `per_second` new traces each second, as Brave's `RateLimitingSampler` does:
/// a service's tracing cost stays flat when its traffic grows. At 10 per second and more, the
/// second's budget is released a tenth at a time, so a burst at the start of a second cannot
/// take all of it. One atomic compare-and-swap per decision; no lock.
///
/// ```
/// # extern crate zipkin_runtime as zipkin_rs;
/// use zipkin_rs::{RateLimitingSampler, Sampler, SamplingRequest, TraceId};
/// let sampler = RateLimitingSampler::new(2);
/// let request = SamplingRequest::new(TraceId::random(true), "job");
/// let taken = (0..10).filter(|_| sampler.sample(&request)).count();
/// assert!(taken <= 2);
/// ```
#[derive(Debug)]
pub struct RateLimitingSampler {
    per_second: u32,
    start: Instant,
    /// The second (since `start`) of the last decision, high 32 bits, and how many traces were
    /// taken in it, low 32 bits: one word, so that a new second resets the count atomically.
    state: AtomicU64,
}

impl RateLimitingSampler {
    /// At most `per_second` traces a second (0 samples none).
    pub fn new(per_second: u32) -> RateLimitingSampler {
        RateLimitingSampler {
            per_second,
            start: Instant::now(),
            state: AtomicU64::new(0),
        }
    }

    /// The budget of traces a second.
    pub fn per_second(&self) -> u32 {
        self.per_second
    }

    /// How many traces may have been taken in the current second by `nanos` into it.
    fn allowed(&self, nanos: u64) -> u64 {
        let n = u64::from(self.per_second);
        if n < 10 {
            return n;
        }
        let tenths = nanos / 100_000_000 + 1;
        (n * tenths).div_ceil(10)
    }
}

impl Sampler for RateLimitingSampler {
    fn never_samples(&self) -> bool {
        self.per_second == 0
    }

    fn sample(&self, _: &SamplingRequest<'_>) -> bool {
        if self.per_second == 0 {
            return false;
        }
        let elapsed = self.start.elapsed();
        let second = elapsed.as_secs() & 0xffff_ffff;
        let allowed = self.allowed(u64::from(elapsed.subsec_nanos()));
        let mut cur = self.state.load(Ordering::Relaxed);
        loop {
            let (at, taken) = (cur >> 32, cur & 0xffff_ffff);
            let taken = match at.cmp(&second) {
                std::cmp::Ordering::Equal => taken,
                std::cmp::Ordering::Less => 0,
                // Another thread already counts a later second: this decision is late.
                std::cmp::Ordering::Greater => return false,
            };
            if taken >= allowed {
                return false;
            }
            let next = (second << 32) | (taken + 1);
            match self
                .state
                .compare_exchange_weak(cur, next, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => return true,
                Err(actual) => cur = actual,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::id::TraceId;
    use std::time::Duration;

    /// Decides on `threads` threads as fast as they can until 50 ms before the sampler's
    /// `secs`-th second (stopping exactly at it would let a decision that started before it
    /// land in the next second, with a budget of its own).
    fn run(sampler: &RateLimitingSampler, threads: usize, secs: u64) -> usize {
        let request = SamplingRequest::new(TraceId::random(true), "x");
        let end = Duration::from_secs(secs) - Duration::from_millis(50);
        std::thread::scope(|s| {
            let handles: Vec<_> = (0..threads)
                .map(|_| {
                    s.spawn(|| {
                        let mut taken = 0;
                        while sampler.start.elapsed() < end {
                            taken += usize::from(sampler.sample(&request));
                        }
                        taken
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).sum()
        })
    }

    /// Four threads deciding as fast as they can for two seconds take two seconds' budget,
    /// within 10%, and never more.
    #[test]
    fn four_threads_at_full_speed_take_the_budget_within_ten_percent() {
        for per_second in [5, 100, 1000] {
            let sampler = RateLimitingSampler::new(per_second);
            let taken = run(&sampler, 4, 2) as f64;
            let budget = f64::from(per_second) * 2.0;
            assert!(
                taken <= budget && taken >= budget * 0.9,
                "{per_second}/s for 2 s: took {taken}"
            );
        }
    }

    #[test]
    fn a_burst_at_the_start_of_a_second_takes_a_tenth_of_it() {
        let sampler = RateLimitingSampler::new(100);
        let request = SamplingRequest::new(TraceId::random(true), "x");
        let taken = (0..10_000).filter(|_| sampler.sample(&request)).count() as u128;
        // A tenth of the second's budget per tenth of a second gone (one, unless the burst
        // was slowed past 100 ms).
        let tenths = sampler.start.elapsed().as_millis() / 100 + 1;
        assert!(
            taken >= 1 && taken <= 10 * tenths,
            "took {taken} in {tenths} tenth(s)"
        );
    }

    #[test]
    fn zero_samples_nothing() {
        let sampler = RateLimitingSampler::new(0);
        let request = SamplingRequest::new(TraceId::random(true), "x");
        assert!(!(0..100).any(|_| sampler.sample(&request)));
    }
}
