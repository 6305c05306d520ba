//! The drainer thread: empties every ring, encodes spans straight into the message being built,
//! closes messages by size, age, a local root or a flush, and keeps the queue within its bounds.

use std::borrow::Cow;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::encode::SpanEncoder;
use crate::record::SpanRecord;
use crate::span_handler::{FinishedSpan, SpanHandler};

use super::batch::Batch;
use super::ring::{ring_capacity, Ring, RingCounts};
use super::shared::{lock, set_flag, Item, Shared};
use super::sync;

#[derive(Default)]
pub(super) struct Pending {
    processed: u64,
    accepted: u64,
    too_large: u64,
    queue_full: u64,
    by_handler: u64,
    handler_panic: u64,
}

pub(super) struct Drainer {
    shared: Arc<Shared>,
    encoder: SpanEncoder,
    building: Batch,
    scratch: Vec<SpanRecord>,
    /// Swapped with the ledger's `overflow` on each pass (both keep their capacity).
    spilled: Vec<SpanRecord>,
    /// Spans taken from the overflow by the last pass that took any.
    last_spill: u64,
    pending: Pending,
    flush_marked: u64,
    /// When the last pass started.
    last_pass: Instant,
    /// The most spans the last pass took from one ring.
    busiest: usize,
    /// The user's hook on finished spans, if any.
    handler: Option<Arc<dyn SpanHandler>>,
}

/// The shortest wait [`refill_wait`] asks for: below it the drainer would mostly
/// poll, and a timer this short is late by about as much anyway (the default timer slack is
/// 50 µs).
pub(super) const MIN_REFILL_WAIT: Duration = Duration::from_micros(100);

/// When a thread fills its buffer steadily, the time until the busiest buffer (`busiest`
/// spans at the last pass, which came in over `since`) is a quarter full again. Waking up by
/// then means the thread never reaches the half-full mark, where it would wake the drainer
/// itself: a futex wake of a parked thread costs the waking thread 7–9 µs on this project's
/// 2-vCPU VM (14–18 ns a span at one wake per 512 spans). A timer wakes the drainer on its
/// own CPU at no cost to the application.
pub(super) fn refill_wait(
    since: Duration,
    busiest: usize,
    thread_buffer_spans: usize,
) -> Option<Duration> {
    if busiest == 0 {
        return None;
    }
    let quarter = ring_capacity(thread_buffer_spans) / 4;
    let refill = since.mul_f64(quarter as f64 / busiest as f64);
    Some(refill.max(MIN_REFILL_WAIT))
}

impl Drainer {
    pub(super) fn new(
        shared: Arc<Shared>,
        encoder: SpanEncoder,
        handler: Option<Arc<dyn SpanHandler>>,
    ) -> Drainer {
        Drainer {
            shared,
            encoder,
            building: Batch::default(),
            scratch: Vec::new(),
            spilled: Vec::new(),
            last_spill: 0,
            pending: Pending::default(),
            flush_marked: 0,
            last_pass: Instant::now(),
            busiest: 0,
            handler,
        }
    }

    pub(super) fn run(mut self) {
        loop {
            let pass_start = Instant::now();
            let since = pass_start.saturating_duration_since(self.last_pass);
            self.last_pass = pass_start;
            let (flush_want, shutdown) = {
                let c = lock(&self.shared.control);
                (c.flush_requested, c.shutdown)
            };
            self.drain_rings();
            let urgent = self.shared.urgent.swap(false, Ordering::Relaxed);
            let flushing = flush_want > self.flush_marked;
            if flushing || shutdown || urgent || self.batch_due() {
                self.close_batch();
            }
            if flushing {
                self.flush_marked = flush_want;
                self.shared.push(Item::FlushMark(flush_want));
            }
            if shutdown {
                self.stop();
                return;
            }
            let wait = match self.building.opened {
                Some(t) => self
                    .shared
                    .config
                    .batch_timeout
                    .saturating_sub(t.elapsed())
                    .min(self.shared.config.drain_interval),
                None => self.shared.config.drain_interval,
            };
            let wait = wait.max(Duration::from_millis(1));
            let refill = refill_wait(since, self.busiest, self.shared.config.thread_buffer_spans);
            std::thread::park_timeout(refill.map_or(wait, |r| wait.min(r)));
        }
    }

    pub(super) fn stop(&mut self) {
        // No more spills: the drain below is the last to take the overflow.
        lock(&self.shared.overflow).closed = true;
        // Spans that arrived after the last drain (racing the shutdown) are counted, not lost.
        self.drain_rings();
        self.close_batch();
        // Empty and closed now: free its capacity (the reporter itself is never freed).
        lock(&self.shared.overflow).spans = Vec::new();
        // Under the lock that registration takes: no ring can be added after this.
        let mut rings = sync::lock(&self.shared.rings);
        rings.stopped = true;
        for r in rings.list.iter() {
            r.orphan();
        }
        drop(rings);
        self.shared.push(Item::Stop);
    }

    fn batch_due(&self) -> bool {
        self.building
            .opened
            .is_some_and(|t| t.elapsed() >= self.shared.config.batch_timeout)
    }

    pub(super) fn drain_rings(&mut self) {
        // First what found a full ring (older than what those rings hold now).
        let n = if self.shared.spill_pending.load(Ordering::Relaxed) {
            let mut l = lock(&self.shared.ledger);
            let mut o = lock(&self.shared.overflow);
            std::mem::swap(&mut o.spans, &mut self.spilled);
            self.shared.spill_pending.store(false, Ordering::Relaxed);
            let n = self.spilled.len() as u64;
            l.spill_taken += n;
            l.in_drainer += n;
            self.shared.spill_encoding.store(n, Ordering::Relaxed);
            n
        } else {
            0
        };
        if n > 0 {
            let mut recs = std::mem::take(&mut self.spilled);
            for mut rec in recs.drain(..) {
                if self.keep(&mut rec) {
                    self.enqueue(&rec);
                }
            }
            self.spilled = recs;
            self.commit();
            // Encoded (or dropped): they count in `queued_spans` now, if anywhere.
            self.shared.spill_encoding.store(0, Ordering::Relaxed);
            // A backlog of at least a ring's worth that did not shrink: not a late wake-up.
            let ring = ring_capacity(self.shared.config.thread_buffer_spans);
            if n >= self.last_spill && self.last_spill >= ring as u64 {
                set_flag(&self.shared.spill_behind, true);
            }
            self.last_spill = n;
        }
        let mut caught_up = true;
        self.busiest = 0;
        let rings: Vec<sync::Arc<Ring>> = sync::lock(&self.shared.rings).list.clone();
        let per_ring = ring_capacity(self.shared.config.thread_buffer_spans);
        for ring in &rings {
            // A closed ring gets no more pushes (its thread has exited, and the close was
            // released after its last push), so draining it now empties it for good.
            let closed = ring.is_closed();
            {
                let mut l = lock(&self.shared.ledger);
                // Benchmark: ours/sampled_handoff (the lock-free per-thread ring).
                // SAFETY: the drainer is the only consumer of every ring.
                let n = unsafe { ring.drain_into(&mut self.scratch) };
                caught_up &= n < per_ring;
                self.busiest = self.busiest.max(n);
                l.in_drainer += n as u64;
                if closed {
                    let c: RingCounts = ring.counts();
                    l.retired_offered += c.offered();
                    l.retired_dropped_full += c.dropped_full;
                    l.retired_dropped_queue += c.dropped_queue;
                    sync::lock(&self.shared.rings)
                        .list
                        .retain(|r| !sync::Arc::ptr_eq(r, ring));
                }
            }
            let mut recs = std::mem::take(&mut self.scratch);
            for mut rec in recs.drain(..) {
                if self.keep(&mut rec) {
                    self.enqueue(&rec);
                }
                // The tag box goes back to the thread that filled it, unless that thread is
                // gone.
                if !closed {
                    if let Some(extra) = rec.extra.take() {
                        let name = std::mem::replace(&mut rec.name, Cow::Borrowed(""));
                        // Benchmark: http_layers/server_layer_sampled.
                        // SAFETY: this drainer is the only one that gives to its rings' spares.
                        unsafe { ring.spares.give(extra, name) };
                    }
                }
            }
            self.scratch = recs;
            self.commit();
        }
        if caught_up {
            set_flag(&self.shared.spill_behind, false);
            self.last_spill = 0;
        }
        self.shared.unblock_spill();
    }

    /// Applies the pending counts to the ledger. Runs before any batch reaches the sender, so
    /// the sender never takes away spans the ledger does not yet hold as queued.
    fn commit(&mut self) {
        let p = std::mem::take(&mut self.pending);
        if p.processed == 0 {
            return;
        }
        let mut l = lock(&self.shared.ledger);
        l.in_drainer -= p.processed;
        l.in_queue += p.accepted;
        l.too_large += p.too_large;
        l.queue_full += p.queue_full;
        l.by_handler += p.by_handler;
        l.handler_panic += p.handler_panic;
    }

    /// Whether the span handler (if any) keeps `rec`, which it may change first. A span it
    /// drops, or panics on, is counted and not encoded.
    #[inline]
    fn keep(&mut self, rec: &mut SpanRecord) -> bool {
        let Some(handler) = &self.handler else {
            return true;
        };
        let kept = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            handler.end(&mut FinishedSpan::new(rec))
        }));
        match kept {
            Ok(true) => return true,
            Ok(false) => self.pending.by_handler += 1,
            Err(_) => self.pending.handler_panic += 1,
        }
        self.pending.processed += 1;
        false
    }

    /// Encodes one span into the batch being built, within the queue's bounds.
    fn enqueue(&mut self, rec: &SpanRecord) {
        let cfg = &self.shared.config;
        let enc = self.encoder.encoding();
        let body = &mut self.building.body;
        let start = body.len();
        body.extend_from_slice(if start == 0 {
            enc.prefix()
        } else {
            enc.separator()
        });
        let span_start = body.len();
        self.encoder.encode_span(rec, body);
        let span_len = body.len() - span_start;
        let framing = enc.prefix().len() + enc.suffix().len();
        if span_len + framing > cfg.batch_max_bytes {
            body.truncate(start);
            self.pending.processed += 1;
            self.pending.too_large += 1;
            return;
        }
        let added = (body.len() - start) as u64;
        let queued = self.shared.queued_spans.load(Ordering::Relaxed);
        let queued_bytes = self.shared.queued_bytes.load(Ordering::Relaxed);
        if queued >= cfg.queue_max_spans as u64
            || queued_bytes + start as u64 + added > cfg.queue_max_bytes as u64
        {
            body.truncate(start);
            self.pending.processed += 1;
            self.pending.queue_full += 1;
            return;
        }
        let mut span_at = span_start;
        if body.len() + enc.suffix().len() > cfg.batch_max_bytes {
            // Does not fit: close the batch without it and start the next one with it.
            let encoded = body[span_start..].to_vec();
            body.truncate(start);
            self.close_batch();
            let body = &mut self.building.body;
            body.extend_from_slice(enc.prefix());
            span_at = body.len();
            body.extend_from_slice(&encoded);
        }
        self.building.starts.push(span_at);
        self.building.spans += 1;
        self.building.opened.get_or_insert_with(Instant::now);
        // Counted only now: a batch closed above must not carry this span in its commit.
        self.pending.processed += 1;
        self.pending.accepted += 1;
        self.shared.queued_spans.fetch_add(1, Ordering::Relaxed);
    }

    fn close_batch(&mut self) {
        if self.building.spans == 0 {
            return;
        }
        let mut b = std::mem::take(&mut self.building);
        (self.building.body, self.building.starts) = self.shared.spare_body();
        b.body.extend_from_slice(self.encoder.encoding().suffix());
        // Bytes are counted when the batch closes; until then the bound check adds the
        // building batch's length itself.
        self.shared
            .queued_bytes
            .fetch_add(b.body.len() as u64, Ordering::Relaxed);
        self.commit();
        self.shared.push(Item::Batch(b));
    }
}
