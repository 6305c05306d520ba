//! What the reporter counts ([`ReporterMetrics`], one consistent snapshot) and what a flush
//! achieved ([`FlushReport`]).

use std::sync::atomic::Ordering;

use super::shared::{lock, Shared};

/// Counters of the reporter, read as one snapshot: `spans_offered = spans_sent + spans_dropped
/// + spans_queued` holds at every read.
///
/// ```
/// # extern crate zipkin_runtime as zipkin_rs;
/// use zipkin_rs::{SpanGuard, Tracer, transport::memory::MemoryTransport};
/// let tracer = Tracer::builder().service_name("svc").transport(MemoryTransport::new()).build().unwrap();
/// tracer.in_scope(|| drop(SpanGuard::new("work")));
/// tracer.flush(std::time::Duration::from_secs(5));
/// let m = tracer.metrics();
/// assert_eq!((m.spans_offered, m.spans_sent, m.messages_sent), (1, 1, 1));
/// assert_eq!(m.spans_offered, m.spans_sent + m.spans_dropped + m.spans_queued);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReporterMetrics {
    /// Spans handed to the reporter by finishing (sampled spans only).
    pub spans_offered: u64,
    /// Spans the transport accepted.
    pub spans_sent: u64,
    /// Spans still buffered, queued or in flight.
    pub spans_queued: u64,
    /// Of `spans_queued`, those still in the application threads' buffers (not yet drained).
    pub spans_buffered: u64,
    /// All dropped spans (sum of the causes below).
    pub spans_dropped: u64,
    /// Dropped because an application thread's buffer was full and the span could not go to
    /// the shared overflow: the reporter thread is behind (spans are produced faster than it
    /// encodes them), or another thread held the overflow at that instant. A burst that only
    /// outruns the reporter thread's scheduling, while the queue has room, is not dropped.
    pub dropped_thread_buffer_full: u64,
    /// Dropped because the queue (spans or bytes) was full: when the reporter encoded them, or
    /// when a full thread buffer found no room in the queue.
    pub dropped_queue_full: u64,
    /// Dropped because one span was larger than a message may be.
    pub dropped_too_large: u64,
    /// Dropped by the tracer's [`crate::SpanHandler`] (it returned `false`).
    pub dropped_by_handler: u64,
    /// Dropped because the tracer's [`crate::SpanHandler`] panicked on them.
    pub dropped_handler_panic: u64,
    /// Dropped because the transport failed (connection error, timeout, 5xx/429 after retries,
    /// or a `Retry-After` longer than `retry_backoff_max`).
    pub dropped_transport_error: u64,
    /// Dropped because the collector rejected them (4xx other than 429); never retried. For
    /// 413, only spans refused on their own, after the message was split.
    pub dropped_rejected: u64,
    /// Dropped because they ended after shutdown, or shutdown timed out before sending them.
    pub dropped_shutdown: u64,
    /// Messages the transport accepted. A message split after a 413 counts as its parts.
    pub messages_sent: u64,
    /// Messages given up on (transport error, rejection, shutdown timeout). A message split
    /// after a 413 counts as its parts given up.
    pub messages_dropped: u64,
    /// Bytes of accepted messages (before any compression the transport applies).
    pub bytes_sent: u64,
    /// Encoded bytes of closed messages waiting to be sent, including the one in flight.
    pub bytes_queued: u64,
    /// Tags, annotations and remote endpoints that a task or thread running in a captured
    /// context added after its span had finished: dropped, never kept. Not spans: outside
    /// `spans_offered`.
    pub tags_dropped_after_finish: u64,
    /// Service names refused by `SpanBuilder::service_name` since the process started, because
    /// [`crate::MAX_SERVICE_NAMES`] distinct names were already kept (the spans kept
    /// their parent's service). Process-wide, not per tracer.
    pub service_names_refused: u64,
}

/// What a flush or shutdown achieved. Counts are totals since the reporter started.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FlushReport {
    /// Spans sent.
    pub sent: u64,
    /// Spans dropped, for any cause.
    pub dropped: u64,
    /// Spans still queued (or in flight) when it returned.
    pub queued: u64,
    /// Whether the timeout ran out first.
    pub timed_out: bool,
}

impl Shared {
    pub(super) fn metrics(&self) -> ReporterMetrics {
        // Ledger first, then rings: the drainer moves spans out of a ring only under the ledger
        // lock, so ring heads and ledger counts are read at one instant. Producers only move
        // tails, and each ring's tail is read once for both offered and in-ring counts.
        let l = lock(&self.ledger);
        let (mut offered, mut thread_full, mut queue_full) = (
            l.retired_offered,
            l.retired_dropped_full,
            l.retired_dropped_queue,
        );
        let (mut in_rings, mut stranded) = (0u64, 0u64);
        // Read once: offered and queued both include it.
        let spilled = lock(&self.overflow).total;
        offered += spilled;
        let ringless_full = self.ringless_dropped_full.load(Ordering::Relaxed);
        let ringless_queue = self.ringless_dropped_queue.load(Ordering::Relaxed);
        offered += ringless_full + ringless_queue;
        thread_full += ringless_full;
        queue_full += ringless_queue;
        for r in super::sync::lock(&self.rings).list.iter() {
            let c = r.counts();
            offered += c.offered();
            thread_full += c.dropped_full;
            queue_full += c.dropped_queue;
            // Spans left in a ring after the drainer stopped will never be sent.
            if r.is_orphaned() {
                stranded += c.len;
            } else {
                in_rings += c.len;
            }
        }
        let refused = self.refused.load(Ordering::Relaxed);
        offered += refused;
        let m = ReporterMetrics {
            spans_offered: offered,
            spans_sent: l.sent,
            spans_queued: in_rings + l.in_drainer + l.in_queue + (spilled - l.spill_taken),
            spans_buffered: in_rings,
            spans_dropped: 0,
            dropped_thread_buffer_full: thread_full,
            dropped_queue_full: queue_full + l.queue_full,
            dropped_too_large: l.too_large,
            dropped_by_handler: l.by_handler,
            dropped_handler_panic: l.handler_panic,
            dropped_transport_error: l.transport_error,
            dropped_rejected: l.rejected,
            dropped_shutdown: l.shutdown + refused + stranded,
            messages_sent: l.messages_sent,
            messages_dropped: l.messages_dropped,
            bytes_sent: l.bytes_sent,
            bytes_queued: self.queued_bytes.load(Ordering::Relaxed),
            tags_dropped_after_finish: 0,
            service_names_refused: 0,
        };
        ReporterMetrics {
            spans_dropped: m.dropped_thread_buffer_full
                + m.dropped_queue_full
                + m.dropped_too_large
                + m.dropped_by_handler
                + m.dropped_handler_panic
                + m.dropped_transport_error
                + m.dropped_rejected
                + m.dropped_shutdown,
            ..m
        }
    }
}
