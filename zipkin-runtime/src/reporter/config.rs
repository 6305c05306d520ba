//! The reporter's limits and timings ([`ReporterConfig`]).

use std::time::Duration;

use crate::error::{ConfigError, Setting};

/// Reporter limits and timings.
///
/// ```
/// # extern crate zipkin_runtime as zipkin_rs;
/// use std::time::Duration;
/// use zipkin_rs::ReporterConfig;
/// let cfg = ReporterConfig { batch_timeout: Duration::from_millis(200), ..Default::default() };
/// assert_eq!(cfg.queue_max_spans, 10_000);
/// ```
#[derive(Clone, Debug)]
pub struct ReporterConfig {
    /// Spans each application thread can hold before the reporter drains it (rounded up to a
    /// power of two; the reporter is woken when it is half full). When a thread's buffer is
    /// full because the reporter thread has not run yet (on a loaded machine it can wait
    /// milliseconds for a CPU), the span goes to a shared overflow instead, as long as the
    /// queue has room (spans there count against `queue_max_spans`), without waiting. It is
    /// dropped as `dropped_queue_full` if the queue has no room, and as
    /// `dropped_thread_buffer_full` if the reporter thread is behind (the overflow it takes
    /// does not shrink from one pass to the next: the application produces faster than it can
    /// encode, and spilling would not deliver more) or another thread holds the overflow at
    /// that instant.
    ///
    /// Memory: each thread's buffer is `thread_buffer_spans` slots of
    /// `size_of::<SpanRecord>()` (104 bytes on 64-bit targets), allocated when the thread
    /// first reports. The overflow is at most two vectors (one filling, one being encoded) of
    /// at most `queue_max_spans` slots each, allocated only when buffers overflow, then kept;
    /// the encoded queue is bounded by `queue_max_spans` and `queue_max_bytes`. Names and tags
    /// that spans own come on top, wherever they wait. A thread whose spans have tags also
    /// keeps up to `thread_buffer_spans` emptied tag boxes that the reporter gave back for its
    /// next spans, so that neither thread allocates or frees them: 120 bytes each plus the
    /// room of their tags (56 bytes a tag, 4 or 8 of them) and annotations (32 bytes each),
    /// and up to 4 emptied strings of at most 256 bytes (owned names, long tag values) for the
    /// next spans' text; a box with room for more than 8 tags is freed instead.
    pub thread_buffer_spans: usize,
    /// Most spans waiting to be sent (encoded, including the batch in flight). Spans that
    /// application threads moved out of their full buffers are admitted only while encoded and
    /// not-yet-encoded spans together stay within this bound. It is how long the reporter's
    /// threads (and the collector) may stall before spans are dropped: 10,000 spans are 20 ms at
    /// 500k spans/s; raise it (with `queue_max_bytes`) for such rates.
    pub queue_max_spans: usize,
    /// Most encoded bytes waiting to be sent (including the batch in flight).
    pub queue_max_bytes: usize,
    /// A message is closed before it would exceed this many bytes; a single span larger than
    /// this is dropped (`dropped_too_large`).
    pub batch_max_bytes: usize,
    /// A span waits at most this long before its message is sent.
    pub batch_timeout: Duration,
    /// How often the reporter drains the thread buffers (it is also woken when one is half
    /// full). A local root span that ends is sent at the next drain.
    pub drain_interval: Duration,
    /// Attempts per message for retryable failures (5xx, 429, connection errors); 1 = no retry.
    /// Other 4xx answers are never retried; a 413 (payload too large) sends the message again
    /// as two halves split at span boundaries (each with its own attempts, split again on 413),
    /// so only a span too large on its own is dropped (`dropped_rejected`).
    pub max_attempts: u32,
    /// First retry delay; doubles per attempt, with jitter.
    pub retry_backoff: Duration,
    /// The longest the sender ever waits: between attempts, in the cool-down after a message
    /// was given up, and for a collector's `Retry-After`.
    ///
    /// A 429 or 503 with `Retry-After` (seconds or an HTTP-date) is waited at least that long
    /// before the next attempt, and, when the message is given up (attempts spent), before
    /// the next message, also while shutting down (within the shutdown's timeout). A
    /// `Retry-After` longer than this bound gives the message up at once
    /// (`dropped_transport_error`) rather than retry before the collector is ready, and the
    /// next message waits this bound: such a collector sees at most one request per
    /// `retry_backoff_max`. An unreadable `Retry-After` counts as absent. Meanwhile only the
    /// reporter's sender waits: spans keep queueing within `queue_max_spans` /
    /// `queue_max_bytes`, and beyond that are dropped and counted (`dropped_queue_full`).
    /// Raise this to honour longer `Retry-After`s, at the cost of longer cool-downs for a dead
    /// collector.
    pub retry_backoff_max: Duration,
}

/// The largest `thread_buffer_spans`: 1,048,576 spans, about 104 MiB per reporting thread.
pub const MAX_THREAD_BUFFER_SPANS: usize = 1 << 20;

impl ReporterConfig {
    /// Checks that every limit can be used, as [`crate::TracerBuilder::build`] does: an error
    /// names the field, its value and the accepted range.
    ///
    /// ```
    /// # extern crate zipkin_runtime as zipkin_rs;
    /// use zipkin_rs::ReporterConfig;
    /// assert!(ReporterConfig::default().validate().is_ok());
    /// let huge = ReporterConfig { thread_buffer_spans: usize::MAX, ..Default::default() };
    /// assert!(huge.validate().unwrap_err().to_string().contains("thread_buffer_spans"));
    /// ```
    pub fn validate(&self) -> Result<(), ConfigError> {
        let check = |ok: bool, field: &'static str, value: usize, expected: &'static str| {
            if ok {
                Ok(())
            } else {
                Err(ConfigError::new(
                    Setting::Code(field),
                    value.to_string(),
                    expected,
                ))
            }
        };
        check(
            (2..=MAX_THREAD_BUFFER_SPANS).contains(&self.thread_buffer_spans),
            "ReporterConfig::thread_buffer_spans",
            self.thread_buffer_spans,
            "from 2 to 1048576 spans (it is rounded up to a power of two)",
        )?;
        check(
            self.queue_max_spans >= 1,
            "ReporterConfig::queue_max_spans",
            self.queue_max_spans,
            "at least 1 span",
        )?;
        check(
            self.queue_max_bytes >= 1,
            "ReporterConfig::queue_max_bytes",
            self.queue_max_bytes,
            "at least 1 byte",
        )?;
        check(
            self.batch_max_bytes >= 1,
            "ReporterConfig::batch_max_bytes",
            self.batch_max_bytes,
            "at least 1 byte (a span larger than a message is dropped)",
        )?;
        check(
            self.max_attempts >= 1,
            "ReporterConfig::max_attempts",
            self.max_attempts as usize,
            "at least 1 attempt per message",
        )
    }
}

impl Default for ReporterConfig {
    fn default() -> Self {
        ReporterConfig {
            thread_buffer_spans: 1024,
            queue_max_spans: 10_000,
            queue_max_bytes: 8 * 1024 * 1024,
            batch_max_bytes: 500_000,
            batch_timeout: Duration::from_secs(1),
            drain_interval: Duration::from_millis(50),
            max_attempts: 3,
            retry_backoff: Duration::from_millis(100),
            retry_backoff_max: Duration::from_secs(5),
        }
    }
}
