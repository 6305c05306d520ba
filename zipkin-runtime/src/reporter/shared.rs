//! What the reporter's threads and the application threads share: the rings, the ledger of
//! counts, the overflow, the control state and the queue of closed messages.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard, OnceLock};
use std::thread::Thread;

use crate::record::SpanRecord;

use super::batch::Batch;
use super::config::ReporterConfig;
use super::ring::Ring;

/// Consumer-side counts, changed together under one lock so that a metrics read never sees a
/// span in two places or in none. Only the reporter's threads (and metrics readers) take it.
#[derive(Default)]
pub(super) struct Ledger {
    /// Taken from a ring or the overflow, not yet encoded.
    pub(super) in_drainer: u64,
    /// Spans the drainer has taken out of the overflow (see `Overflow::total`).
    pub(super) spill_taken: u64,
    /// Encoded, waiting or in flight.
    pub(super) in_queue: u64,
    pub(super) sent: u64,
    pub(super) too_large: u64,
    pub(super) queue_full: u64,
    pub(super) by_handler: u64,
    pub(super) handler_panic: u64,
    pub(super) transport_error: u64,
    pub(super) rejected: u64,
    pub(super) shutdown: u64,
    pub(super) messages_sent: u64,
    pub(super) messages_dropped: u64,
    pub(super) bytes_sent: u64,
    /// Totals of rings whose threads exited (the ring is gone from the list).
    pub(super) retired_offered: u64,
    pub(super) retired_dropped_full: u64,
    pub(super) retired_dropped_queue: u64,
    /// Why the collector's last attempt failed, until a message goes through: what a shutdown
    /// that leaves spans behind says (a hung collector fails no message within the wait).
    pub(super) last_failure: Option<String>,
}

#[derive(Default)]
pub(super) struct Control {
    pub(super) flush_requested: u64,
    pub(super) flush_done: u64,
    pub(super) shutdown: bool,
    /// Set when shutdown gave up waiting: the sender drops what is left instead of sending.
    pub(super) abandon: bool,
    /// The sender has exited.
    pub(super) stopped: bool,
}

pub(super) enum Item {
    Batch(Batch),
    /// Every batch before this one has been handled: acknowledge flush `n`.
    FlushMark(u64),
    /// The drainer has exited: nothing follows.
    Stop,
}

#[derive(Default)]
pub(super) struct Overflow {
    /// At most `queue_max_spans` (see `budget`).
    pub(super) spans: Vec<SpanRecord>,
    /// Spans ever put here. A metrics snapshot reads it (under the ledger's lock, as the
    /// drainer's `spill_taken` changes) and counts it both as offered and, less what the
    /// drainer took, as queued.
    pub(super) total: u64,
    /// Spans that may still be added before the queue's room is looked at again. Set to at
    /// most the room then (`queue_max_spans` less the encoded queue, what the drainer is
    /// encoding and `spans`), so `spans` never exceeds the bound.
    pub(super) budget: usize,
    /// The drainer has stopped for good: nothing may be added.
    pub(super) closed: bool,
}

#[derive(Default)]
pub(super) struct Outbox {
    pub(super) items: VecDeque<Item>,
}

pub(crate) struct Shared {
    pub(super) id: u64,
    pub(super) config: ReporterConfig,
    /// Loom's lock under `--cfg zipkin_loom` (see `sync`).
    pub(super) rings: super::sync::Mutex<Rings>,
    pub(super) ledger: Mutex<Ledger>,
    /// Spans refused after shutdown. App-side, lock-free.
    pub(super) refused: AtomicU64,
    /// Spans of threads whose buffer was already gone (ended by a thread-local's destructor
    /// after this reporter's per-thread buffer had been destroyed) that the overflow could not
    /// take: it was busy, or the queue full. Such spans are otherwise delivered through the
    /// overflow.
    pub(super) ringless_dropped_full: AtomicU64,
    pub(super) ringless_dropped_queue: AtomicU64,
    /// Mirrors for the drainer's bound checks (the ledger holds the truth for metrics). Written
    /// per span: on their own cache line, away from what application threads read.
    pub(super) queued_spans: CacheLine<AtomicU64>,
    pub(super) queued_bytes: AtomicU64,
    /// Spans that found their thread's ring full and went here instead, for the drainer.
    /// Lock order: `ledger`, then `overflow`; application threads only try it.
    pub(super) overflow: Mutex<Overflow>,
    /// The overflow may hold spans: set by the thread that made it non-empty, cleared by the
    /// drainer when it takes them, so that idle drain passes leave the overflow's lock alone.
    pub(super) spill_pending: AtomicBool,
    /// Spans the drainer took from the overflow and has not encoded yet: they count against
    /// `queue_max_spans` with the overflow and the encoded queue.
    pub(super) spill_encoding: AtomicU64,
    /// Set by a producer that found no room in the queue; cleared when room opens (a drain
    /// pass, a message sent or given up). Lets full rings drop at the cost of one load of a
    /// line that is rarely written, instead of a lock attempt per span.
    pub(super) spill_blocked: CacheLine<AtomicBool>,
    /// Set by the drainer while it is behind: the spans it took from the overflow did not
    /// shrink from one pass to the next. Spilling is for a drainer that is late (not yet
    /// scheduled), not for one that is slower than the application: then it would only turn
    /// cheap drops into costlier spills, with the same number of spans delivered. Cleared
    /// once a pass finds every ring below full.
    pub(super) spill_behind: CacheLine<AtomicBool>,
    pub(super) drainer: OnceLock<Thread>,
    /// Times an application thread woke the drainer at half full.
    #[cfg(test)]
    pub(super) app_wakes: AtomicU64,
    pub(super) urgent: AtomicBool,
    pub(super) closed: AtomicBool,
    /// This reporter belongs to the parent of a forked process: its threads do not exist here,
    /// and its locks may have been held by them. Set (with `closed`) in the child, which then
    /// touches nothing else of it (see `process`).
    pub(super) forked: AtomicBool,
    pub(super) control: Mutex<Control>,
    pub(super) control_changed: Condvar,
    pub(super) outbox: Mutex<Outbox>,
    pub(super) outbox_changed: Condvar,
    /// Buffers of messages already handled (body and span offsets), for the drainer to build
    /// the next ones in.
    pub(super) spare_bodies: Mutex<Vec<(Vec<u8>, Vec<usize>)>>,
}

/// The rings of the application threads, and whether the drainer has stopped for good (then no
/// ring may be added: nothing would ever drain or orphan it).
#[derive(Default)]
pub(super) struct Rings {
    pub(super) list: Vec<super::sync::Arc<Ring>>,
    pub(super) stopped: bool,
}

/// Stores only on a change, so readers' copies of the line stay valid.
pub(super) fn set_flag(f: &AtomicBool, v: bool) {
    if f.load(Ordering::Relaxed) != v {
        f.store(v, Ordering::Relaxed);
    }
}

/// Keeps a value on its own cache line (and the next field off it).
#[repr(align(64))]
pub(super) struct CacheLine<T>(pub(super) T);

impl<T> std::ops::Deref for CacheLine<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

pub(super) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding one of these locks leaves counts that are still usable.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[derive(Clone, Copy)]
pub(super) enum Cause {
    Transport,
    Rejected,
    Shutdown,
}

/// Message buffers kept for reuse (each up to `batch_max_bytes`).
const SPARE_BODIES: usize = 2;

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

impl Shared {
    /// A reporter's shared state, with its threads not started yet.
    pub(super) fn new(config: ReporterConfig) -> Shared {
        Shared {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            config,
            rings: super::sync::Mutex::new(Rings::default()),
            ledger: Mutex::new(Ledger::default()),
            refused: AtomicU64::new(0),
            ringless_dropped_full: AtomicU64::new(0),
            ringless_dropped_queue: AtomicU64::new(0),
            queued_spans: CacheLine(AtomicU64::new(0)),
            queued_bytes: AtomicU64::new(0),
            overflow: Mutex::new(Overflow::default()),
            spill_pending: AtomicBool::new(false),
            spill_encoding: AtomicU64::new(0),
            spill_blocked: CacheLine(AtomicBool::new(false)),
            spill_behind: CacheLine(AtomicBool::new(false)),
            drainer: OnceLock::new(),
            #[cfg(test)]
            app_wakes: AtomicU64::new(0),
            urgent: AtomicBool::new(false),
            closed: AtomicBool::new(false),
            forked: AtomicBool::new(false),
            control: Mutex::new(Control::default()),
            control_changed: Condvar::new(),
            outbox: Mutex::new(Outbox::default()),
            outbox_changed: Condvar::new(),
            spare_bodies: Mutex::new(Vec::new()),
        }
    }

    /// Counts a queued batch as dropped.
    pub(super) fn give_up(&self, b: &Batch, cause: Cause) {
        self.give_up_spans(b.spans, cause);
        self.dequeued(b.spans, b.body.len());
    }

    /// Counts `spans` of a queued batch, sent as one message, as dropped in the ledger (the
    /// bound mirrors are left to [`Shared::dequeued`]).
    pub(super) fn give_up_spans(&self, spans: usize, cause: Cause) {
        let n = spans as u64;
        let mut l = lock(&self.ledger);
        l.in_queue -= n;
        match cause {
            Cause::Transport => l.transport_error += n,
            Cause::Rejected => l.rejected += n,
            Cause::Shutdown => l.shutdown += n,
        }
        l.messages_dropped += 1;
    }

    /// Counts `spans` of a queued batch, sent as one message of `bytes`, as sent.
    pub(super) fn sent(&self, spans: usize, bytes: usize) {
        let n = spans as u64;
        let mut l = lock(&self.ledger);
        l.in_queue -= n;
        l.sent += n;
        l.messages_sent += 1;
        l.bytes_sent += bytes as u64;
        l.last_failure = None;
    }

    /// An attempt to send a message failed with `why` (it may be retried).
    pub(super) fn attempt_failed(&self, why: &dyn std::fmt::Display) {
        lock(&self.ledger).last_failure = Some(why.to_string());
    }

    /// A batch of `spans` spans and `bytes` bytes has left the queue (sent or dropped).
    pub(super) fn dequeued(&self, spans: usize, bytes: usize) {
        self.queued_spans.fetch_sub(spans as u64, Ordering::Relaxed);
        self.queued_bytes.fetch_sub(bytes as u64, Ordering::Relaxed);
        self.unblock_spill();
    }

    /// Keeps a sent (or given up) message's buffer for the drainer's next message: growing a
    /// fresh one to `batch_max_bytes` and freeing it for every message made the allocator
    /// map and unmap those pages each time (page faults on the reporter thread).
    pub(super) fn recycle(&self, mut body: Vec<u8>, mut starts: Vec<usize>) {
        body.clear();
        starts.clear();
        let mut spare = lock(&self.spare_bodies);
        if spare.len() < SPARE_BODIES {
            spare.push((body, starts));
        }
    }

    pub(super) fn spare_body(&self) -> (Vec<u8>, Vec<usize>) {
        lock(&self.spare_bodies).pop().unwrap_or_default()
    }

    /// Room may have opened in the queue: full rings may try to spill again.
    pub(super) fn unblock_spill(&self) {
        // Written only when set, so the producers' copy of the line stays valid.
        if self.spill_blocked.load(Ordering::Relaxed)
            && self.queued_spans.load(Ordering::Relaxed)
                + self.spill_encoding.load(Ordering::Relaxed)
                < self.config.queue_max_spans as u64
            && self.queued_bytes.load(Ordering::Relaxed) < self.config.queue_max_bytes as u64
        {
            self.spill_blocked.store(false, Ordering::Relaxed);
        }
    }

    pub(super) fn push(&self, item: Item) {
        lock(&self.outbox).items.push_back(item);
        self.outbox_changed.notify_all();
    }
}
