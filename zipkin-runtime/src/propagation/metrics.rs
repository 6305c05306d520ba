//! Process-wide counts of malformed propagation headers. Only the malformed path touches them,
//! so a well-formed extraction costs no shared write.

use std::sync::atomic::{AtomicU64, Ordering};

/// Which format a malformed header was in.
#[derive(Clone, Copy)]
pub(crate) enum Format {
    B3Single = 0,
    B3Multi = 1,
    Traceparent = 2,
}

static MALFORMED: [AtomicU64; 3] = [AtomicU64::new(0), AtomicU64::new(0), AtomicU64::new(0)];

#[cold]
pub(crate) fn count_malformed(format: Format) {
    MALFORMED[format as usize].fetch_add(1, Ordering::Relaxed);
}

/// How many malformed propagation headers this process has seen, by format. Each was ignored:
/// the request went on and its trace either fell back to another format or started anew.
///
/// ```
/// # extern crate zipkin_runtime as zipkin_rs;
/// use zipkin_rs::propagation::{extract, metrics};
/// let before = metrics().malformed_b3_single;
/// let mut headers = http::HeaderMap::new();
/// headers.insert("b3", "not-a-trace".parse().unwrap());
/// let ctx = extract(&headers);
/// assert_eq!(ctx, Default::default()); // a new trace starts
/// assert!(metrics().malformed_b3_single > before);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PropagationMetrics {
    /// Malformed single `b3` headers (extraction then tried `X-B3-*`).
    pub malformed_b3_single: u64,
    /// Malformed `X-B3-*` header sets.
    pub malformed_b3_multi: u64,
    /// Malformed `traceparent` headers.
    pub malformed_traceparent: u64,
}

impl PropagationMetrics {
    /// Malformed headers of every format.
    pub fn malformed_total(&self) -> u64 {
        self.malformed_b3_single + self.malformed_b3_multi + self.malformed_traceparent
    }
}

/// The process-wide counts. Counting is relaxed: read them for monitoring, not synchronisation.
///
/// ```
/// # extern crate zipkin_runtime as zipkin_rs;
/// let m = zipkin_rs::propagation::metrics();
/// assert!(m.malformed_total() >= m.malformed_b3_multi);
/// ```
pub fn metrics() -> PropagationMetrics {
    PropagationMetrics {
        malformed_b3_single: MALFORMED[Format::B3Single as usize].load(Ordering::Relaxed),
        malformed_b3_multi: MALFORMED[Format::B3Multi as usize].load(Ordering::Relaxed),
        malformed_traceparent: MALFORMED[Format::Traceparent as usize].load(Ordering::Relaxed),
    }
}
