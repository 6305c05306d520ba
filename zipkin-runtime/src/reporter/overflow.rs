//! The overflow: where a span goes when its thread's ring is full because the drainer has not
//! run yet, within the queue's bound, through a lock that is only ever tried.

use std::sync::atomic::Ordering;
use std::sync::TryLockError;

use crate::clock;
use crate::record::SpanRecord;

use super::ring::{ring_capacity, Ring};
use super::shared::Shared;

/// Lock attempts on the overflow before a span is dropped (`dropped_thread_buffer_full`): a
/// bounded spin (a microsecond or two at most), never a sleep; the holder is normally done
/// first.
const SPILL_ATTEMPTS: u32 = 32;

impl Shared {
    /// A span whose thread has no ring of this reporter any more (its thread-locals are being
    /// destroyed, and the span ended in another thread-local's destructor), or that raced a
    /// shutdown: it goes to the overflow like a span that found its ring full, and is refused
    /// only once the drainer has stopped.
    #[cold]
    #[inline(never)]
    pub(super) fn record_without_ring(&self, rec: SpanRecord, keep: bool, local_root: bool) {
        if !keep {
            self.refused.fetch_add(1, Ordering::Relaxed);
            return;
        }
        if self.spill(None, rec) && local_root {
            self.urgent.store(true, Ordering::Relaxed);
        }
    }

    /// Whether [`Shared::record_without_ring`] will take a span (then its end is read).
    #[cold]
    #[inline(never)]
    pub(super) fn takes_ringless(&self) -> bool {
        !self.closed.load(Ordering::Acquire) && !super::sync::lock(&self.rings).stopped
    }

    /// The calling thread's ring is full: the drainer has not run since it was woken at half
    /// full (on a loaded machine it can wait for a CPU for milliseconds). The span goes to the
    /// overflow ([`Shared::spill`]) unless the queue has no room (`spill_blocked`) or the
    /// drainer is behind (`spill_behind`). Then it is dropped and counted before its record is
    /// built or its end read: that is what a saturated reporter does to most spans, and it
    /// should cost the application less than keeping them. Returns whether the span was kept.
    #[cold]
    #[inline(never)]
    pub(super) fn full(&self, ring: &Ring, make: impl FnOnce(u64) -> SpanRecord) -> bool {
        let queue_full = if self.spill_blocked.load(Ordering::Relaxed) {
            true
        } else if self.spill_behind.load(Ordering::Relaxed) {
            false
        } else {
            return self.spill(Some(ring), make(clock::now()));
        };
        drop(make(0));
        // Benchmark: ours/sampled_handoff (the lock-free per-thread ring).
        // SAFETY: called on the ring's producer thread (from `record_with`).
        unsafe { ring.count_dropped(queue_full) };
        false
    }

    /// Puts `rec` in the shared overflow for the drainer, as long as the queue's span bound
    /// has room for it. Only ever tries the overflow's lock, which is held just long enough to
    /// push, swap or read a counter (never during a drain, a send or an encode): if it stays
    /// taken for [`SPILL_ATTEMPTS`] tries, `rec` is dropped and counted. Returns whether `rec`
    /// was kept.
    ///
    /// Per span: a lock attempt, a push into a vector that grows only up to `queue_max_spans`
    /// and is then recycled, and no shared counter written; once per ring's worth of spans,
    /// a look at the queue's size. A wake-up of the drainer when the overflow was empty.
    /// Never a wait.
    #[cold]
    #[inline(never)]
    pub(super) fn spill(&self, ring: Option<&Ring>, rec: SpanRecord) -> bool {
        let queue_full = 'refused: {
            // Held only briefly, so a few attempts see it free unless its holder was
            // preempted; then the span is dropped rather than waited for.
            let mut attempts = 0;
            let mut o = loop {
                match self.overflow.try_lock() {
                    Ok(o) => break o,
                    Err(TryLockError::Poisoned(e)) => break e.into_inner(),
                    Err(TryLockError::WouldBlock) if attempts < SPILL_ATTEMPTS => {
                        attempts += 1;
                        std::hint::spin_loop();
                    }
                    Err(TryLockError::WouldBlock) => break 'refused false,
                }
            };
            if o.closed {
                break 'refused false;
            }
            let cfg = &self.config;
            if o.budget == 0 {
                let held = self.queued_spans.load(Ordering::Relaxed)
                    + self.spill_encoding.load(Ordering::Relaxed)
                    + o.spans.len() as u64;
                let room = (cfg.queue_max_spans as u64).saturating_sub(held) as usize;
                if room == 0
                    || self.queued_bytes.load(Ordering::Relaxed) >= cfg.queue_max_bytes as u64
                {
                    self.spill_blocked.store(true, Ordering::Relaxed);
                    break 'refused true;
                }
                o.budget = room.min(ring_capacity(cfg.thread_buffer_spans));
            }
            o.budget -= 1;
            if o.spans.len() == o.spans.capacity() {
                // Doubling from a ring's worth, never past the bound (`budget` keeps `spans`
                // within it).
                let len = o.spans.len();
                let cap = (len * 2)
                    .max(cfg.thread_buffer_spans)
                    .min(cfg.queue_max_spans)
                    .max(len + 1);
                o.spans.reserve_exact(cap - len);
            }
            let was_empty = o.spans.is_empty();
            o.spans.push(rec);
            o.total += 1;
            // The drainer read the next slot last, on another core: ask for it now, as the
            // ring does, so the next span here does not wait for its cache lines.
            if let Some(ring) = ring {
                ring.prefetch_for_write(o.spans.spare_capacity_mut().as_ptr());
            }
            if was_empty {
                self.spill_pending.store(true, Ordering::Relaxed);
            }
            drop(o);
            if was_empty {
                if let Some(t) = self.drainer.get() {
                    t.unpark();
                }
            }
            return true;
        };
        match ring {
            // Benchmark: ours/sampled_handoff (the lock-free per-thread ring).
            // SAFETY: called on the ring's producer thread (from `record_with`).
            Some(ring) => unsafe { ring.count_dropped(queue_full) },
            None if queue_full => {
                self.ringless_dropped_queue.fetch_add(1, Ordering::Relaxed);
            }
            None => {
                self.ringless_dropped_full.fetch_add(1, Ordering::Relaxed);
            }
        }
        false
    }
}
