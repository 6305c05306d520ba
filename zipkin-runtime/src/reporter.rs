//! The reporter: takes finished spans off the application threads and delivers them in batches.
//!
//! ```text
//! app threads ──push──> per-thread ring ──drain──> [drainer thread: encode, batch, bound]
//!                                                        │ closed batches (bounded queue)
//!                                                        v
//!                                                  [sender thread: transport, retries]
//! ```
//!
//! Application threads only push into their own ring (`buffer`): no lock, no
//! allocation, no syscall. When a ring is full because the drainer has not been scheduled yet,
//! the span goes to a shared overflow instead, within the queue's bound, through a lock that is
//! only ever tried (never waited for); see [`ReporterConfig::thread_buffer_spans`]. The reporter owns two threads and never touches the application's
//! async runtime, so it works with none and inside any flavour:
//!
//! - the **drainer** empties every ring, encodes spans straight into the batch being built, and
//!   closes a batch when it reaches `batch_max_bytes`, when its oldest span has waited
//!   `batch_timeout`, when a local root span ended (so a request trace leaves within about a
//!   drain interval, as with py_zipkin), or on flush. It enforces the queue bounds (spans and
//!   bytes) and drops, counted, what does not fit. It never waits on the network, so a hung
//!   collector cannot stop it draining and counting.
//! - the **sender** delivers closed batches one at a time. 5xx, 429 and connection errors are
//!   retried a bounded number of times with exponential backoff and jitter; after a batch is
//!   given up, the next attempt waits a growing cool-down (capped), so a dead collector sees at
//!   most one request per cool-down, not a storm. A `Retry-After` on a 429 or 503 is a floor
//!   for the next attempt and, if the batch is given up, for the next batch; no wait is ever
//!   longer than `retry_backoff_max` (see [`ReporterConfig::retry_backoff_max`]). 4xx is never
//!   retried, except that a 413 (payload too large) splits the message in halves at span
//!   boundaries, recursively, so only a span too large on its own is dropped.
//!
//! Every span offered is counted exactly once as sent, dropped (by cause) or queued, and
//! [`ReporterMetrics`] is read as one consistent snapshot: `spans_offered = spans_sent +
//! spans_dropped + spans_queued` holds at every read.
//!
//! At a normal process exit, every tracer still holding spans is flushed and stopped within its
//! `exit_flush_timeout` (see `process`). Spans still queued when the process ends without
//! `exit` (an abort, a fatal signal) are lost: the reporter threads do not keep the process
//! alive.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock, TryLockError};
use std::thread::{JoinHandle, Thread};
use std::time::{Duration, Instant};

use crate::buffer::{ring_capacity, Ring, RingCounts};
use crate::clock;
use crate::encode::SpanEncoder;
use crate::error::{ConfigError, Setting, TransportError};
use crate::span::SpanRecord;
use crate::transport::{Message, Transport};

/// Reporter limits and timings.
///
/// ```
/// use std::time::Duration;
/// use zipkin_runtime::ReporterConfig;
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
    /// that spans own come on top, wherever they wait.
    pub thread_buffer_spans: usize,
    /// Most spans waiting to be sent (encoded, including the batch in flight). Spans that
    /// application threads moved out of their full buffers are admitted only while encoded and
    /// not-yet-encoded spans together stay within this bound.
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
    /// use zipkin_runtime::ReporterConfig;
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

/// Counters of the reporter, read as one snapshot: `spans_offered = spans_sent + spans_dropped
/// + spans_queued` holds at every read.
///
/// ```
/// use zipkin_runtime::{SpanGuard, Tracer, transport::memory::MemoryTransport};
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
    /// [`crate::tracer::MAX_SERVICE_NAMES`] distinct names were already kept (the spans kept
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

/// Consumer-side counts, changed together under one lock so that a metrics read never sees a
/// span in two places or in none. Only the reporter's threads (and metrics readers) take it.
#[derive(Default)]
struct Ledger {
    /// Taken from a ring or the overflow, not yet encoded.
    in_drainer: u64,
    /// Spans the drainer has taken out of the overflow (see `Overflow::total`).
    spill_taken: u64,
    /// Encoded, waiting or in flight.
    in_queue: u64,
    sent: u64,
    too_large: u64,
    queue_full: u64,
    transport_error: u64,
    rejected: u64,
    shutdown: u64,
    messages_sent: u64,
    messages_dropped: u64,
    bytes_sent: u64,
    /// Totals of rings whose threads exited (the ring is gone from the list).
    retired_offered: u64,
    retired_dropped_full: u64,
    retired_dropped_queue: u64,
}

#[derive(Default)]
struct Control {
    flush_requested: u64,
    flush_done: u64,
    shutdown: bool,
    /// Set when shutdown gave up waiting: the sender drops what is left instead of sending.
    abandon: bool,
    /// The sender has exited.
    stopped: bool,
}

enum Item {
    Batch(Batch),
    /// Every batch before this one has been handled: acknowledge flush `n`.
    FlushMark(u64),
    /// The drainer has exited: nothing follows.
    Stop,
}

#[derive(Default)]
struct Overflow {
    /// At most `queue_max_spans` (see `budget`).
    spans: Vec<SpanRecord>,
    /// Spans ever put here. A metrics snapshot reads it (under the ledger's lock, as the
    /// drainer's `spill_taken` changes) and counts it both as offered and, less what the
    /// drainer took, as queued.
    total: u64,
    /// Spans that may still be added before the queue's room is looked at again. Set to at
    /// most the room then (`queue_max_spans` less the encoded queue, what the drainer is
    /// encoding and `spans`), so `spans` never exceeds the bound.
    budget: usize,
    /// The drainer has stopped for good: nothing may be added.
    closed: bool,
}

#[derive(Default)]
struct Outbox {
    items: VecDeque<Item>,
}

pub(crate) struct Shared {
    id: u64,
    config: ReporterConfig,
    rings: Mutex<Rings>,
    ledger: Mutex<Ledger>,
    /// Spans refused after shutdown. App-side, lock-free.
    refused: AtomicU64,
    /// Spans of threads whose buffer was already gone (ended by a thread-local's destructor
    /// after this reporter's per-thread buffer had been destroyed) that the overflow could not
    /// take: it was busy, or the queue full. Such spans are otherwise delivered through the
    /// overflow.
    ringless_dropped_full: AtomicU64,
    ringless_dropped_queue: AtomicU64,
    /// Mirrors for the drainer's bound checks (the ledger holds the truth for metrics). Written
    /// per span: on their own cache line, away from what application threads read.
    queued_spans: CacheLine<AtomicU64>,
    queued_bytes: AtomicU64,
    /// Spans that found their thread's ring full and went here instead, for the drainer.
    /// Lock order: `ledger`, then `overflow`; application threads only try it.
    overflow: Mutex<Overflow>,
    /// The overflow may hold spans: set by the thread that made it non-empty, cleared by the
    /// drainer when it takes them, so that idle drain passes leave the overflow's lock alone.
    spill_pending: AtomicBool,
    /// Spans the drainer took from the overflow and has not encoded yet: they count against
    /// `queue_max_spans` with the overflow and the encoded queue.
    spill_encoding: AtomicU64,
    /// Set by a producer that found no room in the queue; cleared when room opens (a drain
    /// pass, a message sent or given up). Lets full rings drop at the cost of one load of a
    /// line that is rarely written, instead of a lock attempt per span.
    spill_blocked: CacheLine<AtomicBool>,
    /// Set by the drainer while it is behind: the spans it took from the overflow did not
    /// shrink from one pass to the next. Spilling is for a drainer that is late (not yet
    /// scheduled), not for one that is slower than the application: then it would only turn
    /// cheap drops into costlier spills, with the same number of spans delivered. Cleared
    /// once a pass finds every ring below full.
    spill_behind: CacheLine<AtomicBool>,
    drainer: OnceLock<Thread>,
    /// Times an application thread woke the drainer at half full.
    #[cfg(test)]
    app_wakes: AtomicU64,
    urgent: AtomicBool,
    closed: AtomicBool,
    /// This reporter belongs to the parent of a forked process: its threads do not exist here,
    /// and its locks may have been held by them. Set (with `closed`) in the child, which then
    /// touches nothing else of it (see `process`).
    forked: AtomicBool,
    control: Mutex<Control>,
    control_changed: Condvar,
    outbox: Mutex<Outbox>,
    outbox_changed: Condvar,
    /// Buffers of messages already handled (body and span offsets), for the drainer to build
    /// the next ones in.
    spare_bodies: Mutex<Vec<(Vec<u8>, Vec<usize>)>>,
}

/// The rings of the application threads, and whether the drainer has stopped for good (then no
/// ring may be added: nothing would ever drain or orphan it).
#[derive(Default)]
struct Rings {
    list: Vec<Arc<Ring>>,
    stopped: bool,
}

/// Stores only on a change, so readers' copies of the line stay valid.
fn set_flag(f: &AtomicBool, v: bool) {
    if f.load(Ordering::Relaxed) != v {
        f.store(v, Ordering::Relaxed);
    }
}

/// Keeps a value on its own cache line (and the next field off it).
#[repr(align(64))]
struct CacheLine<T>(T);

impl<T> std::ops::Deref for CacheLine<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

/// The reporter of one tracer.
pub(crate) struct Reporter {
    shared: Arc<Shared>,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

struct LocalRing {
    reporter: u64,
    ring: Arc<Ring>,
}

struct LocalRings(Vec<LocalRing>);

impl LocalRings {
    /// Forgets the rings of reporters that have stopped, freeing their buffers.
    fn forget_orphans(&mut self) {
        self.0.retain(|r| {
            if !r.ring.is_orphaned() {
                return true;
            }
            // SAFETY: this thread is the ring's only producer, its consumer has stopped, and
            // the ring is forgotten here, so it is never pushed to again.
            unsafe { r.ring.release_storage() };
            false
        });
    }
}

impl Drop for LocalRings {
    fn drop(&mut self) {
        self.forget_orphans();
        for r in &self.0 {
            r.ring.close();
        }
    }
}

thread_local! {
    static RINGS: RefCell<LocalRings> = const { RefCell::new(LocalRings(Vec::new())) };
}

/// In a forked child, on the thread that forked: its rings belong to reporters of the parent;
/// orphaned, they are freed when the thread next registers a ring. Only atomics are written
/// (this runs in `pthread_atfork`'s child handler).
pub(crate) fn orphan_rings_after_fork() {
    let _ = RINGS.try_with(|rings| {
        if let Ok(rings) = rings.try_borrow() {
            for r in &rings.0 {
                r.ring.orphan();
            }
        }
    });
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding one of these locks leaves counts that are still usable.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Reporter {
    pub fn start(
        config: ReporterConfig,
        transport: Box<dyn Transport>,
        local_ip: Option<IpAddr>,
    ) -> Reporter {
        let shared = Arc::new(Shared {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            config,
            rings: Mutex::new(Rings::default()),
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
        });
        let drainer = Drainer {
            shared: shared.clone(),
            encoder: SpanEncoder::new(transport.encoding(), local_ip),
            building: Batch::default(),
            scratch: Vec::new(),
            spilled: Vec::new(),
            last_spill: 0,
            pending: Pending::default(),
            flush_marked: 0,
            last_pass: Instant::now(),
            busiest: 0,
        };
        let sender = Sender {
            shared: shared.clone(),
            transport,
            cooldown: Duration::ZERO,
            not_before: None,
            warned: false,
        };
        let mut threads = Vec::new();
        let spawned = std::thread::Builder::new()
            .name("zipkin-sender".into())
            .spawn(move || sender.run())
            .and_then(|s| {
                threads.push(s);
                std::thread::Builder::new()
                    .name("zipkin-reporter".into())
                    .spawn(move || drainer.run())
            });
        match spawned {
            Ok(d) => {
                let _ = shared.drainer.set(d.thread().clone());
                threads.push(d);
            }
            Err(e) => {
                // No reporter thread: refuse (and count) every span rather than buffer them.
                eprintln!(
                    "zipkin: could not start the reporter thread ({e}); spans will be dropped"
                );
                shared.closed.store(true, Ordering::SeqCst);
                let mut c = lock(&shared.control);
                c.shutdown = true;
                c.stopped = true;
                drop(c);
                lock(&shared.outbox).items.push_back(Item::Stop);
                shared.outbox_changed.notify_all();
            }
        }
        Reporter {
            shared,
            threads: Mutex::new(threads),
        }
    }

    /// Hands a finished span to this thread's buffer. Never blocks; no lock, allocation or
    /// syscall except the first time a thread reports to this reporter, and when the buffer is
    /// full (see [`Shared::spill`]).
    #[inline(always)]
    #[cfg(test)]
    pub fn record(&self, rec: SpanRecord, local_root: bool) {
        let _ = self.record_with(|_| rec, local_root);
    }

    /// [`Reporter::record`] of the record `make` builds from the span's end tick, built in
    /// its ring slot. `make` is called exactly once: with the clock read then if the span is
    /// kept, with 0 if it is dropped or refused (its end is never needed then, and the clock
    /// read is a third of a span's cost), so that whatever it moves is still dropped.
    ///
    /// In a forked child this reporter is the parent's and does nothing: `make` comes back, for
    /// the child's own reporter.
    #[inline(always)]
    pub fn record_with<F>(&self, make: F, local_root: bool) -> Result<(), F>
    where
        F: FnOnce(u64) -> SpanRecord,
    {
        let s = &*self.shared;
        if s.closed.load(Ordering::Acquire) {
            if s.forked.load(Ordering::Relaxed) {
                return Err(make);
            }
            s.refused.fetch_add(1, Ordering::Relaxed);
            drop(make(0));
            return Ok(());
        }
        self.push_record(make, local_root);
        Ok(())
    }

    /// In a forked child: this reporter is the parent's. Only atomics are written (this runs in
    /// `pthread_atfork`'s child handler).
    pub(crate) fn mark_forked(&self) {
        self.shared.forked.store(true, Ordering::Relaxed);
        self.shared.closed.store(true, Ordering::Release);
    }

    /// Whether this reporter belongs to the parent of this (forked) process.
    pub(crate) fn is_forked(&self) -> bool {
        self.shared.forked.load(Ordering::Relaxed)
    }

    /// [`Reporter::record_with`] past its check that the reporter is open, which a shutdown
    /// may follow at any moment.
    #[inline(always)]
    fn push_record(&self, make: impl FnOnce(u64) -> SpanRecord, local_root: bool) {
        let s = &*self.shared;
        let mut make = Some(make);
        let pushed = RINGS.try_with(|rings| {
            let Ok(mut rings) = rings.try_borrow_mut() else {
                return None;
            };
            let idx = match rings.0.iter().position(|r| r.reporter == s.id) {
                Some(i) => i,
                None => s.register(&mut rings)?,
            };
            let ring = &rings.0[idx].ring;
            // SAFETY: this ring is only ever pushed to from this thread (it lives in a
            // thread-local and is never handed to another producer).
            let make = make.take()?;
            Some(unsafe {
                ring.push_with(make, |make| make(clock::now()), |make| s.full(ring, make))
            })
        });
        match pushed {
            Ok(Some(Ok(len))) => {
                let half = ring_capacity(s.config.thread_buffer_spans) / 2;
                if local_root && !s.urgent.load(Ordering::Relaxed) {
                    s.urgent.store(true, Ordering::Relaxed);
                }
                // Wake the drainer once, as the buffer crosses half full.
                if len == half {
                    #[cfg(test)]
                    s.app_wakes.fetch_add(1, Ordering::Relaxed);
                    if let Some(t) = s.drainer.get() {
                        t.unpark();
                    }
                }
            }
            Ok(Some(Err(true))) => {
                // Kept in the overflow: still a local root to send soon.
                if local_root && !s.urgent.load(Ordering::Relaxed) {
                    s.urgent.store(true, Ordering::Relaxed);
                }
            }
            Ok(Some(Err(false))) => {} // counted by the ring, by cause
            _ => {
                if let Some(make) = make.take() {
                    // Built here, not in a generic callee: that keeps this path from being
                    // instantiated per span type, which had stopped the push above from being
                    // inlined (+88 instructions a span).
                    let keep = s.takes_ringless();
                    let rec = make(if keep { clock::now() } else { 0 });
                    s.record_without_ring(rec, keep, local_root);
                }
            }
        }
    }

    pub fn metrics(&self) -> ReporterMetrics {
        self.shared.metrics()
    }

    /// Sends everything finished so far; waits at most `timeout`.
    pub fn flush(&self, timeout: Duration) -> FlushReport {
        let s = &*self.shared;
        let deadline = Instant::now() + timeout;
        let mut c = lock(&s.control);
        if c.stopped || c.shutdown {
            drop(c);
            return self.report(false);
        }
        c.flush_requested += 1;
        let want = c.flush_requested;
        if let Some(t) = s.drainer.get() {
            t.unpark();
        }
        while c.flush_done < want && !c.stopped {
            let now = Instant::now();
            if now >= deadline {
                drop(c);
                return self.report(true);
            }
            c = match s.control_changed.wait_timeout(c, deadline - now) {
                Ok((c, _)) => c,
                Err(e) => e.into_inner().0,
            };
        }
        drop(c);
        self.report(false)
    }

    /// Flushes, stops both threads and refuses further spans, within `timeout`. What could not
    /// be sent in time is dropped and counted (`dropped_shutdown`); a message already in flight
    /// is left to finish (it ends within the transport's timeout). Safe to call twice.
    pub fn shutdown(&self, timeout: Duration) -> FlushReport {
        let s = &*self.shared;
        let deadline = Instant::now() + timeout;
        s.closed.store(true, Ordering::SeqCst);
        let mut c = lock(&s.control);
        c.shutdown = true;
        if let Some(t) = s.drainer.get() {
            t.unpark();
        }
        let mut timed_out = false;
        while !c.stopped {
            let now = Instant::now();
            if now >= deadline {
                timed_out = true;
                c.abandon = true;
                break;
            }
            c = match s.control_changed.wait_timeout(c, deadline - now) {
                Ok((c, _)) => c,
                Err(e) => e.into_inner().0,
            };
        }
        drop(c);
        if timed_out {
            // Wake the sender out of any backoff, and drop what it has not started.
            s.outbox_changed.notify_all();
            s.control_changed.notify_all();
            let items = std::mem::take(&mut lock(&s.outbox).items);
            let mut stop = false;
            for item in items {
                match item {
                    Item::Batch(b) => s.give_up(&b, Cause::Shutdown),
                    Item::FlushMark(_) => {}
                    Item::Stop => stop = true,
                }
            }
            if stop {
                lock(&s.outbox).items.push_back(Item::Stop);
            }
        } else {
            for h in lock(&self.threads).drain(..) {
                let _ = h.join();
            }
        }
        self.report(timed_out)
    }

    fn report(&self, timed_out: bool) -> FlushReport {
        let m = self.metrics();
        FlushReport {
            sent: m.spans_sent,
            dropped: m.spans_dropped,
            queued: m.spans_queued,
            timed_out,
        }
    }
}

#[derive(Clone, Copy)]
enum Cause {
    Transport,
    Rejected,
    Shutdown,
}

/// Message buffers kept for reuse (each up to `batch_max_bytes`).
const SPARE_BODIES: usize = 2;

/// Lock attempts on the overflow before a span is dropped (`dropped_thread_buffer_full`): a
/// bounded spin (a microsecond or two at most), never a sleep; the holder is normally done
/// first.
const SPILL_ATTEMPTS: u32 = 32;

impl Shared {
    /// Gives this thread a ring of this reporter, returning its index in `rings`; `None` once
    /// the drainer has stopped (the span is then refused). Checked under the same lock as the
    /// drainer's last pass orphans every ring, so a thread racing a shutdown with its first
    /// span never leaves a ring that is neither drained nor orphaned.
    #[cold]
    #[inline(never)]
    fn register(&self, rings: &mut LocalRings) -> Option<usize> {
        // Forget rings of reporters that have stopped, so threads that outlive many tracers
        // (tests, init/shutdown cycles) do not accumulate buffers.
        rings.forget_orphans();
        let ring = Arc::new(Ring::with_capacity(self.config.thread_buffer_spans));
        {
            let mut all = lock(&self.rings);
            if all.stopped {
                return None;
            }
            all.list.push(ring.clone());
        }
        rings.0.push(LocalRing {
            reporter: self.id,
            ring,
        });
        Some(rings.0.len() - 1)
    }

    /// A span whose thread has no ring of this reporter any more (its thread-locals are being
    /// destroyed, and the span ended in another thread-local's destructor), or that raced a
    /// shutdown: it goes to the overflow like a span that found its ring full, and is refused
    /// only once the drainer has stopped.
    #[cold]
    #[inline(never)]
    fn record_without_ring(&self, rec: SpanRecord, keep: bool, local_root: bool) {
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
    fn takes_ringless(&self) -> bool {
        !self.closed.load(Ordering::Acquire) && !lock(&self.rings).stopped
    }

    /// The calling thread's ring is full: the drainer has not run since it was woken at half
    /// full (on a loaded machine it can wait for a CPU for milliseconds). The span goes to the
    /// overflow ([`Shared::spill`]) unless the queue has no room (`spill_blocked`) or the
    /// drainer is behind (`spill_behind`). Then it is dropped and counted before its record is
    /// built or its end read: that is what a saturated reporter does to most spans, and it
    /// should cost the application less than keeping them. Returns whether the span was kept.
    #[cold]
    #[inline(never)]
    fn full(&self, ring: &Ring, make: impl FnOnce(u64) -> SpanRecord) -> bool {
        let queue_full = if self.spill_blocked.load(Ordering::Relaxed) {
            true
        } else if self.spill_behind.load(Ordering::Relaxed) {
            false
        } else {
            return self.spill(Some(ring), make(clock::now()));
        };
        drop(make(0));
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
    fn spill(&self, ring: Option<&Ring>, rec: SpanRecord) -> bool {
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

    fn metrics(&self) -> ReporterMetrics {
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
        for r in lock(&self.rings).list.iter() {
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
                + m.dropped_transport_error
                + m.dropped_rejected
                + m.dropped_shutdown,
            ..m
        }
    }

    /// Counts a queued batch as dropped.
    fn give_up(&self, b: &Batch, cause: Cause) {
        self.give_up_spans(b.spans, cause);
        self.dequeued(b.spans, b.body.len());
    }

    /// Counts `spans` of a queued batch, sent as one message, as dropped in the ledger (the
    /// bound mirrors are left to [`Shared::dequeued`]).
    fn give_up_spans(&self, spans: usize, cause: Cause) {
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
    fn sent(&self, spans: usize, bytes: usize) {
        let n = spans as u64;
        let mut l = lock(&self.ledger);
        l.in_queue -= n;
        l.sent += n;
        l.messages_sent += 1;
        l.bytes_sent += bytes as u64;
    }

    /// A batch of `spans` spans and `bytes` bytes has left the queue (sent or dropped).
    fn dequeued(&self, spans: usize, bytes: usize) {
        self.queued_spans.fetch_sub(spans as u64, Ordering::Relaxed);
        self.queued_bytes.fetch_sub(bytes as u64, Ordering::Relaxed);
        self.unblock_spill();
    }

    /// Keeps a sent (or given up) message's buffer for the drainer's next message: growing a
    /// fresh one to `batch_max_bytes` and freeing it for every message made the allocator
    /// map and unmap those pages each time (page faults on the reporter thread).
    fn recycle(&self, mut body: Vec<u8>, mut starts: Vec<usize>) {
        body.clear();
        starts.clear();
        let mut spare = lock(&self.spare_bodies);
        if spare.len() < SPARE_BODIES {
            spare.push((body, starts));
        }
    }

    fn spare_body(&self) -> (Vec<u8>, Vec<usize>) {
        lock(&self.spare_bodies).pop().unwrap_or_default()
    }

    /// Room may have opened in the queue: full rings may try to spill again.
    fn unblock_spill(&self) {
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

    fn push(&self, item: Item) {
        lock(&self.outbox).items.push_back(item);
        self.outbox_changed.notify_all();
    }
}

#[derive(Default)]
struct Batch {
    body: Vec<u8>,
    spans: usize,
    /// Where each span's encoding starts in `body`: the message can be split at span
    /// boundaries when the collector finds it too large (413).
    starts: Vec<usize>,
    opened: Option<Instant>,
}

/// Per-drain changes not yet applied to the ledger.
#[derive(Default)]
struct Pending {
    processed: u64,
    accepted: u64,
    too_large: u64,
    queue_full: u64,
}

struct Drainer {
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
}

/// The shortest wait [`refill_wait`] asks for: below it the drainer would mostly
/// poll, and a timer this short is late by about as much anyway (the default timer slack is
/// 50 µs).
const MIN_REFILL_WAIT: Duration = Duration::from_micros(100);

/// When a thread fills its buffer steadily, the time until the busiest buffer (`busiest`
/// spans at the last pass, which came in over `since`) is a quarter full again. Waking up by
/// then means the thread never reaches the half-full mark, where it would wake the drainer
/// itself: a futex wake of a parked thread costs the waking thread 7–9 µs on this project's
/// 2-vCPU VM (14–18 ns a span at one wake per 512 spans). A timer wakes the drainer on its
/// own CPU at no cost to the application.
fn refill_wait(since: Duration, busiest: usize, thread_buffer_spans: usize) -> Option<Duration> {
    if busiest == 0 {
        return None;
    }
    let quarter = ring_capacity(thread_buffer_spans) / 4;
    let refill = since.mul_f64(quarter as f64 / busiest as f64);
    Some(refill.max(MIN_REFILL_WAIT))
}

impl Drainer {
    fn run(mut self) {
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

    fn stop(&mut self) {
        // No more spills: the drain below is the last to take the overflow.
        lock(&self.shared.overflow).closed = true;
        // Spans that arrived after the last drain (racing the shutdown) are counted, not lost.
        self.drain_rings();
        self.close_batch();
        // Empty and closed now: free its capacity (the reporter itself is never freed).
        lock(&self.shared.overflow).spans = Vec::new();
        // Under the lock that registration takes: no ring can be added after this.
        let mut rings = lock(&self.shared.rings);
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

    fn drain_rings(&mut self) {
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
            for rec in recs.drain(..) {
                self.enqueue(&rec);
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
        let rings: Vec<Arc<Ring>> = lock(&self.shared.rings).list.clone();
        let per_ring = ring_capacity(self.shared.config.thread_buffer_spans);
        for ring in &rings {
            // A closed ring gets no more pushes (its thread has exited, and the close was
            // released after its last push), so draining it now empties it for good.
            let closed = ring.is_closed();
            {
                let mut l = lock(&self.shared.ledger);
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
                    lock(&self.shared.rings)
                        .list
                        .retain(|r| !Arc::ptr_eq(r, ring));
                }
            }
            let mut recs = std::mem::take(&mut self.scratch);
            for rec in recs.drain(..) {
                self.enqueue(&rec);
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

struct Sender {
    shared: Arc<Shared>,
    transport: Box<dyn Transport>,
    /// Wait before the next message after one was given up; grows while the collector fails.
    cooldown: Duration,
    /// Nothing is sent before this instant: the `Retry-After` of the collector's last answer
    /// when a message was given up (at most `retry_backoff_max` after it). Unlike the
    /// cool-down, it holds while shutting down too: the collector asked.
    not_before: Option<Instant>,
    warned: bool,
}

impl Sender {
    fn run(mut self) {
        loop {
            let item = {
                let mut o = lock(&self.shared.outbox);
                loop {
                    if let Some(item) = o.items.pop_front() {
                        break item;
                    }
                    o = match self.shared.outbox_changed.wait(o) {
                        Ok(o) => o,
                        Err(e) => e.into_inner(),
                    };
                }
            };
            match item {
                Item::Batch(b) => self.deliver(b),
                Item::FlushMark(n) => {
                    let mut c = lock(&self.shared.control);
                    c.flush_done = c.flush_done.max(n);
                    drop(c);
                    self.shared.control_changed.notify_all();
                }
                Item::Stop => {
                    // The reporter itself is never freed: keep no buffers past its end.
                    *lock(&self.shared.spare_bodies) = Vec::new();
                    lock(&self.shared.control).stopped = true;
                    self.shared.control_changed.notify_all();
                    return;
                }
            }
        }
    }

    fn abandoned(&self) -> bool {
        lock(&self.shared.control).abandon
    }

    /// Sleeps up to `d`, returning early when shutdown gives up. Returns false if it did.
    fn pause(&self, d: Duration) -> bool {
        // A `Duration` too long to add to now (a huge `retry_backoff_max`) waits for shutdown.
        let deadline = Instant::now().checked_add(d);
        let mut c = lock(&self.shared.control);
        loop {
            if c.abandon {
                return false;
            }
            let now = Instant::now();
            let left = match deadline {
                Some(t) if now >= t => return true,
                Some(t) => t - now,
                None => Duration::from_secs(3600),
            };
            c = match self.shared.control_changed.wait_timeout(c, left) {
                Ok((c, _)) => c,
                Err(e) => e.into_inner().0,
            };
        }
    }

    /// Waits out the cool-down and any `Retry-After` still running before a message. False
    /// if shutdown gave up meanwhile.
    fn wait_turn(&self) -> bool {
        if self.abandoned() {
            return false;
        }
        // While shutting down, send at once: the caller's timeout bounds the wait instead.
        // A wait the collector asked for is still kept (within that timeout).
        let shutting_down = lock(&self.shared.control).shutdown;
        let mut wait = if shutting_down {
            Duration::ZERO
        } else {
            self.cooldown
        };
        if let Some(t) = self.not_before {
            wait = wait.max(t.saturating_duration_since(Instant::now()));
        }
        wait.is_zero() || self.pause(wait)
    }

    /// One call of the transport. A panic in a user's transport would end the sender thread
    /// for good (nothing sent again, every flush waiting out its timeout): it fails this
    /// message instead.
    fn send_once(&self, msg: &Message) -> Result<(), TransportError> {
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.transport.send(msg))) {
            Ok(result) => result,
            Err(payload) => {
                let what = payload
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| payload.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "a panic without a message".to_owned());
                Err(TransportError::Panicked(what))
            }
        }
    }

    /// Sends one message, retrying what may succeed later, at most `max_attempts` times.
    /// Returns the last error when it gives up.
    fn send_with_retries(&self, msg: &Message) -> Result<(), TransportError> {
        let cfg = &self.shared.config;
        let mut attempt = 1;
        let mut backoff = cfg.retry_backoff;
        loop {
            let e = match self.send_once(msg) {
                Ok(()) => return Ok(()),
                Err(e) => e,
            };
            if !e.is_retryable() || attempt >= cfg.max_attempts {
                return Err(e);
            }
            let asked = e.retry_after().unwrap_or_default();
            if asked > cfg.retry_backoff_max {
                // Retrying sooner than asked would only be refused again, and waiting longer
                // than `retry_backoff_max` holds the queue past its bound: give this message
                // up now; `not_before` keeps the collector waited for.
                return Err(e);
            }
            attempt += 1;
            // Full jitter: anywhere in [backoff/2, backoff], so reporters that failed
            // together do not retry together; never sooner than the collector asked.
            let half = backoff / 2;
            let jitter = half.mul_f64(crate::id::next_u64() as f64 / u64::MAX as f64);
            if !self.pause((half + jitter).max(asked)) {
                return Err(e);
            }
            backoff = backoff.saturating_mul(2).min(cfg.retry_backoff_max);
        }
    }

    /// Delivers a batch as one message or, if the collector answers 413, as halves split at
    /// span boundaries (recursively, down to single spans), so that only a span too large on
    /// its own is dropped. Each part sent or given up counts as one message.
    fn deliver(&mut self, batch: Batch) {
        let Batch {
            mut body,
            spans,
            starts,
            ..
        } = batch;
        let queued_bytes = body.len();
        let encoding = self.transport.encoding();
        // Offsets are recorded for every span the drainer encodes; without them (never
        // expected) a 413 drops the message as before.
        let splittable = starts.len() == spans;
        // Parts still to send, as ranges of span indices; the next one is last.
        let mut todo = vec![(0, spans)];
        while let Some((a, b)) = todo.pop() {
            let n = b - a;
            if !self.wait_turn() {
                self.shared.give_up_spans(n, Cause::Shutdown);
                for (a, b) in todo.drain(..) {
                    self.shared.give_up_spans(b - a, Cause::Shutdown);
                }
                break;
            }
            let whole = n == spans;
            let msg = Message {
                body: if whole {
                    std::mem::take(&mut body)
                } else {
                    part(&body, &starts, a, b, encoding)
                },
                spans: n,
                encoding,
            };
            let outcome = self.send_with_retries(&msg);
            let sent_bytes = msg.body.len();
            if whole {
                body = msg.body;
            }
            let e = match outcome {
                Ok(()) => {
                    self.cooldown = Duration::ZERO;
                    self.not_before = None;
                    self.shared.sent(n, sent_bytes);
                    continue;
                }
                Err(e) => e,
            };
            let status = match e {
                TransportError::Status { status, .. } => Some(status),
                _ => None,
            };
            if status == Some(413) && n > 1 && splittable {
                let mid = a + n / 2;
                todo.push((mid, b));
                todo.push((a, mid));
                continue;
            }
            let rejected = status.is_some_and(|s| (400..500).contains(&s) && s != 429);
            if !rejected {
                let cfg = &self.shared.config;
                self.cooldown = if self.cooldown.is_zero() {
                    cfg.retry_backoff
                } else {
                    self.cooldown.saturating_mul(2)
                }
                .min(cfg.retry_backoff_max);
                if let Some(asked) = e.retry_after() {
                    let wait = asked.min(cfg.retry_backoff_max);
                    match Instant::now().checked_add(wait) {
                        Some(t) => self.not_before = Some(t),
                        None => self.cooldown = self.cooldown.max(wait),
                    }
                }
            }
            if !self.warned {
                self.warned = true;
                eprintln!(
                    "zipkin: dropped {n} spans: {e}; later failures are only counted \
                     (see Tracer::metrics)"
                );
            }
            let cause = if rejected {
                Cause::Rejected
            } else {
                Cause::Transport
            };
            self.shared.give_up_spans(n, cause);
        }
        self.shared.dequeued(spans, queued_bytes);
        self.shared.recycle(body, starts);
    }
}

/// The message of spans `a..b` of an encoded batch `body` whose spans start at `starts`.
fn part(
    body: &[u8],
    starts: &[usize],
    a: usize,
    b: usize,
    enc: crate::encode::Encoding,
) -> Vec<u8> {
    let from = starts[a];
    let to = match starts.get(b) {
        Some(next) => next - enc.separator().len(),
        None => body.len() - enc.suffix().len(),
    };
    let mut out = Vec::with_capacity(enc.prefix().len() + (to - from) + enc.suffix().len());
    out.extend_from_slice(enc.prefix());
    out.extend_from_slice(&body[from..to]);
    out.extend_from_slice(enc.suffix());
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::id::{SpanId, TraceId};
    use crate::span::Kind;
    use std::borrow::Cow;

    fn rec() -> SpanRecord {
        numbered(1)
    }

    /// A span whose id is `i` (unique per burst, so deliveries can be checked one by one).
    fn numbered(i: u64) -> SpanRecord {
        SpanRecord {
            trace_id: TraceId::new(0, 1).unwrap(),
            span_id: SpanId::new(i).unwrap(),
            parent_id: None,
            name: Cow::Borrowed("s"),
            kind: Kind::Local,
            service_name: "svc",
            port: 0,
            start: 1,
            end: 2,
            debug: false,
            shared: false,
            extra: None,
        }
    }

    /// A reporter with 16-span thread buffers whose drainer runs only when woken, and this
    /// thread's buffer already registered with it (one span, sent).
    fn small_rings(queue_max_spans: usize, t: impl Transport + 'static) -> Reporter {
        let cfg = ReporterConfig {
            thread_buffer_spans: 16,
            queue_max_spans,
            drain_interval: Duration::from_secs(3600),
            batch_timeout: Duration::from_secs(3600),
            ..Default::default()
        };
        let r = Reporter::start(cfg, Box::new(t), None);
        r.record(numbered(1), false);
        assert!(!r.flush(Duration::from_secs(20)).timed_out);
        assert_eq!(r.metrics().spans_sent, 1);
        r
    }

    /// Holds the drainer off: it takes the control lock at the top of every pass, and
    /// `flush` has returned, so its last pass (the one that pushed the flush mark) is over.
    /// Spans pushed while this is held stay where the application threads put them.
    fn hold_drainer(r: &Reporter) -> MutexGuard<'_, Control> {
        lock(&r.shared.control)
    }

    /// The time from the first request `t` saw to the second, when it saw exactly two.
    fn gap_between_the_two_requests(t: &Fake) -> Duration {
        let sent = t.sent();
        assert_eq!(sent.len(), 2);
        sent[1].at - sent[0].at
    }

    fn assert_balanced(m: &ReporterMetrics) {
        assert_eq!(
            m.spans_offered,
            m.spans_sent + m.spans_dropped + m.spans_queued,
            "{m:?}"
        );
        assert_eq!(
            m.spans_dropped,
            m.dropped_thread_buffer_full
                + m.dropped_queue_full
                + m.dropped_too_large
                + m.dropped_transport_error
                + m.dropped_rejected
                + m.dropped_shutdown,
            "{m:?}"
        );
    }

    /// The e2e bench dropped 6-11 % of a 1.1 M spans/s run: on a loaded machine the drainer
    /// was not scheduled before a 1024-span buffer filled, though the queue was nearly empty.
    #[test]
    fn a_burst_larger_than_the_thread_buffer_loses_nothing_while_the_queue_has_room() {
        let transport = crate::transport::memory::MemoryTransport::new();
        let r = small_rings(1000, transport.clone());
        let held = hold_drainer(&r);
        for i in 2..=201 {
            r.record(numbered(i), false);
        }
        let m = r.metrics();
        assert_balanced(&m);
        assert_eq!(
            (
                m.spans_offered,
                m.spans_dropped,
                m.spans_queued,
                m.spans_sent
            ),
            (201, 0, 200, 1),
            "{m:?}"
        );
        assert!(m.spans_buffered <= 16, "the rest waits in the queue: {m:?}");
        drop(held);
        assert!(!r.flush(Duration::from_secs(20)).timed_out);
        let m = r.metrics();
        assert_balanced(&m);
        assert_eq!((m.spans_sent, m.spans_dropped, m.spans_queued), (201, 0, 0));
        let mut ids: Vec<String> = transport.spans().into_iter().map(|s| s.id).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), 201, "every span delivered once");
        r.shutdown(Duration::from_secs(20));
    }

    #[test]
    fn a_full_thread_buffer_with_no_room_in_the_queue_drops_as_queue_full() {
        let r = small_rings(40, crate::transport::Discard);
        let held = hold_drainer(&r);
        for i in 2..=201 {
            r.record(numbered(i), false);
        }
        // 16 in the ring, 40 in the overflow (the queue's bound); the other 144 find no room.
        let m = r.metrics();
        assert_balanced(&m);
        assert_eq!(
            (m.dropped_queue_full, m.dropped_thread_buffer_full),
            (144, 0),
            "{m:?}"
        );
        assert_eq!((m.spans_queued, m.spans_buffered), (56, 16), "{m:?}");
        drop(held);
        assert!(!r.flush(Duration::from_secs(20)).timed_out);
        // The drainer encodes within the same bound: 40 of the 56 fit.
        let m = r.metrics();
        assert_balanced(&m);
        assert_eq!(
            (
                m.spans_sent,
                m.dropped_queue_full,
                m.dropped_thread_buffer_full
            ),
            (41, 160, 0),
            "{m:?}"
        );
        r.shutdown(Duration::from_secs(20));
    }

    #[test]
    fn the_drainer_comes_back_when_the_busiest_buffer_is_a_quarter_full() {
        let ms = Duration::from_millis;
        // 512 spans in 2 ms into a 1024-span buffer: 256 more take 1 ms.
        assert_eq!(refill_wait(ms(2), 512, 1024), Some(ms(1)));
        assert_eq!(refill_wait(ms(2), 128, 1024), Some(ms(4)));
        // Capacity is rounded up to a power of two, as the buffers are.
        assert_eq!(refill_wait(ms(2), 512, 1000), Some(ms(1)));
        // Nothing came in: no rate to go by.
        assert_eq!(refill_wait(ms(2), 0, 1024), None);
        // Faster than the floor: the floor.
        assert_eq!(
            refill_wait(Duration::from_micros(10), 512, 1024),
            Some(MIN_REFILL_WAIT)
        );
    }

    /// A thread that reports steadily (here 200k spans/s into a 1024-span buffer) is drained
    /// on the drainer's own timer before its buffer is half full, so it does not pay for
    /// waking the drainer. Without the timer it woke the drainer once per 512 spans (192
    /// times here); with it, a few times on an idle machine.
    #[test]
    fn a_steady_producer_does_not_have_to_wake_the_drainer() {
        let r = Reporter::start(
            ReporterConfig::default(),
            Box::new(crate::transport::Discard),
            None,
        );
        let n = 100_000u64;
        let start = Instant::now();
        for i in 1..=n {
            // One span every 5 µs, whatever the time the span itself took.
            let due = start + Duration::from_micros(5 * i);
            while Instant::now() < due {
                std::hint::spin_loop();
            }
            r.record(numbered(i), false);
        }
        assert!(!r.flush(Duration::from_secs(20)).timed_out);
        let wakes = r.shared.app_wakes.load(Ordering::Relaxed);
        let m = r.metrics();
        // Every span accounted for. Not "none dropped": with the test binary's other threads
        // and other processes on the 2 cores, the drainer is sometimes not scheduled before a
        // ring fills (seen: 978 of 100,000 dropped as thread_buffer_full), which is what the
        // drop counters are for; the wake-ups are this test's subject.
        assert_eq!(m.spans_sent + m.spans_dropped, n, "{m:?}");
        assert_eq!(m.spans_dropped, m.dropped_thread_buffer_full, "{m:?}");
        // The first half-full mark comes before the drainer has a rate to go by, and a loaded
        // machine makes its timer late at times (2 busy loops on the 2 cores: 40-89 wakes).
        assert!(
            wakes <= n / 512 / 2,
            "the producer woke the drainer {wakes} times"
        );
        r.shutdown(Duration::from_secs(20));
    }

    /// A span the reporter will not keep is dropped before its record is built: its end
    /// tick is never read (`make` gets 0), and `make` still runs once, to drop what it moves.
    #[test]
    fn a_span_refused_for_a_full_queue_is_dropped_without_reading_its_end() {
        let r = small_rings(40, crate::transport::Discard);
        let held = hold_drainer(&r);
        let ends = std::cell::RefCell::new(Vec::new());
        for i in 2..=201 {
            let kept = r.record_with(
                |end| {
                    ends.borrow_mut().push(end);
                    SpanRecord { end, ..numbered(i) }
                },
                false,
            );
            assert!(kept.is_ok(), "not a forked child");
        }
        let ends = ends.into_inner();
        assert_eq!(ends.len(), 200, "make runs once per span");
        // 16 in the ring and 40 in the overflow are kept; the 57th is built before the
        // overflow finds the queue's bound reached; the other 143 are refused at the flag.
        let read = ends.iter().take_while(|&&e| e != 0).count();
        assert_eq!(read, 57, "{ends:?}");
        assert!(ends[read..].iter().all(|&e| e == 0), "{ends:?}");
        let m = r.metrics();
        assert_balanced(&m);
        assert_eq!((m.dropped_queue_full, m.spans_queued), (144, 56), "{m:?}");
        drop(held);
        r.shutdown(Duration::from_secs(20));
    }

    #[test]
    fn a_full_thread_buffer_that_cannot_reach_the_queue_drops_as_thread_buffer_full() {
        let r = small_rings(1000, crate::transport::Discard);
        // Another thread holds the overflow (as a spilling thread or the drainer might, for an
        // instant): the app thread must not wait for it.
        let (locked_tx, locked_rx) = std::sync::mpsc::channel();
        let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
        let shared = r.shared.clone();
        let holder = std::thread::spawn(move || {
            let _o = lock(&shared.overflow);
            locked_tx.send(()).unwrap();
            let _ = release_rx.recv();
        });
        locked_rx.recv().unwrap();
        let held = hold_drainer(&r);
        for i in 2..=41 {
            r.record(numbered(i), false);
        }
        release_tx.send(()).unwrap();
        holder.join().unwrap();
        let m = r.metrics();
        drop(held);
        assert_balanced(&m);
        assert_eq!(
            (m.dropped_thread_buffer_full, m.dropped_queue_full),
            (24, 0),
            "{m:?}"
        );
        assert!(!r.flush(Duration::from_secs(20)).timed_out);
        let m = r.metrics();
        assert_balanced(&m);
        assert_eq!(
            (m.spans_offered, m.spans_sent, m.spans_dropped),
            (41, 17, 24)
        );
        r.shutdown(Duration::from_secs(20));
    }

    #[test]
    fn spans_moved_out_of_a_full_buffer_before_shutdown_are_sent_by_it() {
        let r = small_rings(1000, crate::transport::Discard);
        let held = hold_drainer(&r);
        for i in 2..=101 {
            r.record(numbered(i), false);
        }
        drop(held);
        let f = r.shutdown(Duration::from_secs(20));
        assert!(!f.timed_out);
        let m = r.metrics();
        assert_balanced(&m);
        assert_eq!((m.spans_sent, m.spans_dropped, m.spans_queued), (101, 0, 0));
        // Nothing can go to the overflow after the drainer stopped.
        assert!(lock(&r.shared.overflow).closed);
    }

    /// Regression: every stopped reporter kept the full-size buffer of each thread that had
    /// reported to it for the rest of the process (about 100 KiB per tracer built and shut
    /// down), because the reporter itself is never freed.
    #[test]
    fn stopped_reporters_do_not_keep_a_thread_buffer_each() {
        let cfg = ReporterConfig {
            drain_interval: Duration::from_millis(1),
            ..Default::default()
        };
        let first = Reporter::start(cfg.clone(), Box::new(crate::transport::Discard), None);
        first.record(rec(), true);
        assert!(!first.shutdown(Duration::from_secs(10)).timed_out);
        let ring = lock(&first.shared.rings).list[0].clone();
        assert!(
            ring.storage_len() > 0,
            "freed only when this thread moves on"
        );
        // This thread reports to a new reporter: it forgets the stopped one's ring.
        let second = Reporter::start(cfg, Box::new(crate::transport::Discard), None);
        second.record(rec(), true);
        assert_eq!(ring.storage_len(), 0);
        let m = first.metrics();
        assert_eq!((m.spans_offered, m.spans_sent, m.spans_queued), (1, 1, 0));
        second.shutdown(Duration::from_secs(10));
    }

    /// What a [`Fake`] was sent, and whether it accepted it.
    #[derive(Clone, Debug)]
    struct Sent {
        at: Instant,
        body: Vec<u8>,
        spans: usize,
        accepted: bool,
    }

    type Answer = Box<dyn Fn(usize, &Message) -> Result<(), TransportError> + Send + Sync>;

    /// A transport in either encoding that answers as `answer` says (by call number, from 1)
    /// and records every call.
    #[derive(Clone)]
    struct Fake {
        encoding: crate::encode::Encoding,
        answer: Arc<Answer>,
        sent: Arc<Mutex<Vec<Sent>>>,
    }

    impl Fake {
        fn new(
            encoding: crate::encode::Encoding,
            answer: impl Fn(usize, &Message) -> Result<(), TransportError> + Send + Sync + 'static,
        ) -> Fake {
            Fake {
                encoding,
                answer: Arc::new(Box::new(answer)),
                sent: Default::default(),
            }
        }

        fn sent(&self) -> Vec<Sent> {
            lock(&self.sent).clone()
        }
    }

    impl Transport for Fake {
        fn encoding(&self) -> crate::encode::Encoding {
            self.encoding
        }

        fn send(&self, msg: &Message) -> Result<(), TransportError> {
            let n = lock(&self.sent).len() + 1;
            let r = (self.answer)(n, msg);
            lock(&self.sent).push(Sent {
                at: Instant::now(),
                body: msg.body.clone(),
                spans: msg.spans,
                accepted: r.is_ok(),
            });
            r
        }
    }

    fn throttled(status: u16, after: Duration) -> TransportError {
        TransportError::Status {
            status,
            retry_after: Some(after),
        }
    }

    /// A reporter whose messages leave only on flush (or shutdown).
    fn on_flush(t: Fake, cfg: ReporterConfig) -> Reporter {
        let cfg = ReporterConfig {
            drain_interval: Duration::from_millis(5),
            batch_timeout: Duration::from_secs(3600),
            ..cfg
        };
        Reporter::start(cfg, Box::new(t), None)
    }

    fn json() -> crate::encode::Encoding {
        crate::encode::Encoding::Json
    }

    #[test]
    fn retry_after_is_waited_before_the_next_attempt() {
        // Our own backoff is 1 ms: only the collector's 400 ms can space the attempts.
        let after = Duration::from_millis(400);
        let t = Fake::new(json(), move |n, _| match n {
            1 => Err(throttled(503, after)),
            _ => Ok(()),
        });
        let r = on_flush(
            t.clone(),
            ReporterConfig {
                retry_backoff: Duration::from_millis(1),
                ..Default::default()
            },
        );
        r.record(rec(), false);
        assert!(!r.flush(Duration::from_secs(20)).timed_out);
        let gap = gap_between_the_two_requests(&t);
        assert!(gap >= after, "retried after {gap:?}");
        // Loosely: not some longer wait of our own (the bound is 5 s).
        assert!(gap < Duration::from_secs(4), "retried after {gap:?}");
        let m = r.metrics();
        assert_balanced(&m);
        assert_eq!((m.spans_sent, m.messages_sent, m.spans_dropped), (1, 1, 0));
        r.shutdown(Duration::from_secs(20));
    }

    #[test]
    fn retry_after_on_the_last_attempt_holds_back_the_next_message_even_at_shutdown() {
        let after = Duration::from_millis(400);
        let t = Fake::new(json(), move |n, _| match n {
            1 => Err(throttled(429, after)),
            _ => Ok(()),
        });
        let r = on_flush(
            t.clone(),
            ReporterConfig {
                max_attempts: 1,
                retry_backoff: Duration::from_millis(1),
                ..Default::default()
            },
        );
        r.record(numbered(1), false);
        assert!(!r.flush(Duration::from_secs(20)).timed_out);
        let m = r.metrics();
        assert_eq!((m.dropped_transport_error, m.messages_dropped), (1, 1));
        // Shutdown sends at once, past any cool-down of ours, but not before the collector
        // said it would take more.
        r.record(numbered(2), false);
        assert!(!r.shutdown(Duration::from_secs(20)).timed_out);
        let gap = gap_between_the_two_requests(&t);
        assert!(gap >= after, "next message after {gap:?}");
        let m = r.metrics();
        assert_balanced(&m);
        assert_eq!((m.spans_sent, m.spans_dropped, m.messages_sent), (1, 1, 1));
    }

    #[test]
    fn a_retry_after_beyond_the_bound_gives_the_message_up_and_waits_only_the_bound() {
        let bound = Duration::from_millis(300);
        let t = Fake::new(json(), |n, _| match n {
            1 => Err(throttled(503, Duration::from_secs(3600))),
            _ => Ok(()),
        });
        let r = on_flush(
            t.clone(),
            ReporterConfig {
                max_attempts: 3,
                retry_backoff: Duration::from_millis(1),
                retry_backoff_max: bound,
                ..Default::default()
            },
        );
        r.record(numbered(1), false);
        assert!(!r.flush(Duration::from_secs(20)).timed_out);
        // No attempt the collector said was pointless: one request, counted as a failure.
        assert_eq!(t.sent().len(), 1);
        let m = r.metrics();
        assert_balanced(&m);
        assert_eq!(
            (m.dropped_transport_error, m.messages_dropped, m.spans_sent),
            (1, 1, 0)
        );
        r.record(numbered(2), false);
        assert!(!r.flush(Duration::from_secs(20)).timed_out);
        let gap = gap_between_the_two_requests(&t);
        assert!(gap >= bound, "next message after {gap:?}");
        assert!(gap < Duration::from_secs(60), "waited the hour: {gap:?}");
        assert_eq!(r.metrics().spans_sent, 1);
        r.shutdown(Duration::from_secs(20));
    }

    #[test]
    fn while_the_collector_is_waited_for_the_app_never_blocks_and_the_queue_stays_bounded() {
        let wait = Duration::from_secs(2);
        let t = Fake::new(json(), move |n, _| match n {
            1 => Err(throttled(503, wait)),
            _ => Ok(()),
        });
        let r = on_flush(
            t.clone(),
            ReporterConfig {
                queue_max_spans: 20,
                ..Default::default()
            },
        );
        r.record(numbered(1), false);
        // Closes its batch; the answer is not awaited (the sender will be waiting 2 s).
        r.flush(Duration::from_millis(1));
        let start = Instant::now();
        while t.sent().is_empty() {
            assert!(start.elapsed() < Duration::from_secs(20));
            std::thread::sleep(Duration::from_millis(2));
        }
        // The sender is waiting out the 2 s: spans keep coming, without waiting for it.
        let start = Instant::now();
        for i in 2..=201 {
            r.record(numbered(i), false);
        }
        let took = start.elapsed();
        assert!(took < Duration::from_secs(1), "recording took {took:?}");
        assert!(!r.flush(Duration::from_secs(20)).timed_out);
        let m = r.metrics();
        assert_balanced(&m);
        // 20 fit in the queue (the waiting message among them); the rest was counted.
        assert_eq!(m.spans_sent + m.dropped_queue_full, 201, "{m:?}");
        assert!(m.spans_sent <= 20 && m.dropped_queue_full >= 181, "{m:?}");
        assert_eq!((m.spans_queued, m.dropped_transport_error), (0, 0), "{m:?}");
        r.shutdown(Duration::from_secs(20));
    }

    /// Span ids of a message, read from either encoding.
    fn ids_of(enc: crate::encode::Encoding, body: &[u8]) -> Vec<u64> {
        match enc {
            crate::encode::Encoding::Json => {
                let spans: Vec<crate::model::Span> = serde_json::from_slice(body).unwrap();
                spans
                    .iter()
                    .map(|s| u64::from_str_radix(&s.id, 16).unwrap())
                    .collect()
            }
            crate::encode::Encoding::Proto => {
                fn varint(b: &[u8], i: &mut usize) -> u64 {
                    let mut v = 0;
                    let mut shift = 0;
                    loop {
                        let byte = b[*i];
                        *i += 1;
                        v |= ((byte & 0x7f) as u64) << shift;
                        if byte < 0x80 {
                            return v;
                        }
                        shift += 7;
                    }
                }
                let mut ids = Vec::new();
                let mut i = 0;
                while i < body.len() {
                    assert_eq!(body[i], 0x0a, "ListOfSpans field 1 at {i}");
                    i += 1;
                    let len = varint(body, &mut i) as usize;
                    let span = &body[i..i + len];
                    i += len;
                    let mut j = 0;
                    while j < span.len() {
                        let key = varint(span, &mut j);
                        match key & 7 {
                            0 => {
                                varint(span, &mut j);
                            }
                            1 => j += 8,
                            2 => {
                                let n = varint(span, &mut j) as usize;
                                if key >> 3 == 3 {
                                    let id: [u8; 8] = span[j..j + n].try_into().unwrap();
                                    ids.push(u64::from_be_bytes(id));
                                }
                                j += n;
                            }
                            w => panic!("wire type {w}"),
                        }
                    }
                }
                ids
            }
        }
    }

    #[test]
    fn payload_too_large_is_split_at_span_boundaries_and_only_the_oversized_span_is_dropped() {
        use crate::encode::Encoding;
        const LIMIT: usize = 700;
        for enc in [Encoding::Json, Encoding::Proto] {
            let t = Fake::new(enc, |_, msg| {
                if msg.body.len() > LIMIT {
                    Err(TransportError::status(413))
                } else {
                    Ok(())
                }
            });
            let r = on_flush(t.clone(), ReporterConfig::default());
            for i in 1..=11 {
                let mut s = numbered(i);
                if i == 6 {
                    s.name = Cow::Owned("x".repeat(2 * LIMIT));
                }
                r.record(s, false);
            }
            assert!(!r.flush(Duration::from_secs(20)).timed_out);
            let sent = t.sent();
            assert!(
                sent[0].spans == 11 && !sent[0].accepted,
                "{enc:?}: one message first"
            );
            let accepted: Vec<&Sent> = sent.iter().filter(|s| s.accepted).collect();
            let mut ids: Vec<u64> = accepted.iter().flat_map(|s| ids_of(enc, &s.body)).collect();
            // Every part is a whole message whose count is right.
            for s in &sent {
                assert_eq!(ids_of(enc, &s.body).len(), s.spans, "{enc:?}");
            }
            ids.sort();
            assert_eq!(ids, [1, 2, 3, 4, 5, 7, 8, 9, 10, 11], "{enc:?}");
            let m = r.metrics();
            assert_balanced(&m);
            assert_eq!(
                (m.spans_sent, m.dropped_rejected, m.spans_queued),
                (10, 1, 0),
                "{enc:?} {m:?}"
            );
            assert_eq!(m.messages_sent, accepted.len() as u64, "{enc:?}");
            assert_eq!(
                m.bytes_sent,
                accepted.iter().map(|s| s.body.len() as u64).sum::<u64>(),
                "{enc:?}"
            );
            // Only the oversized span alone was given up; the parts split were not counted.
            let refused_alone: Vec<&Sent> = sent
                .iter()
                .filter(|s| !s.accepted && s.spans == 1)
                .collect();
            assert_eq!(refused_alone.len(), 1, "{enc:?}");
            assert_eq!(ids_of(enc, &refused_alone[0].body), [6]);
            assert_eq!(m.messages_dropped, 1, "{enc:?}");
            assert_eq!(m.bytes_queued, 0, "{enc:?}");
            r.shutdown(Duration::from_secs(20));
        }
    }

    /// Regression: a user's transport that panicked ended the sender thread for good: nothing
    /// was sent again, and every flush waited out its timeout.
    #[test]
    fn a_panicking_transport_fails_one_message_and_the_next_is_sent() {
        // Counted here: the fake numbers calls by what it recorded, and a panic records nothing.
        let calls = AtomicU64::new(0);
        let t = Fake::new(json(), move |_, _| {
            if calls.fetch_add(1, Ordering::Relaxed) == 0 {
                panic!("the collector client's bug");
            }
            Ok(())
        });
        let r = on_flush(t.clone(), ReporterConfig::default());
        r.record(numbered(1), false);
        assert!(!r.flush(Duration::from_secs(20)).timed_out);
        r.record(numbered(2), false);
        let f = r.flush(Duration::from_secs(20));
        assert!(!f.timed_out, "{f:?}");
        let m = r.metrics();
        assert_balanced(&m);
        assert_eq!(
            (m.spans_sent, m.dropped_transport_error, m.messages_dropped),
            (1, 1, 1),
            "{m:?}"
        );
        let sent = t.sent();
        assert_eq!(ids_of(json(), &sent[0].body), [2]);
        assert!(!r.shutdown(Duration::from_secs(20)).timed_out);
    }

    /// Regression: a thread whose first span raced a shutdown (past the open check, before the
    /// drainer's last pass) registered a ring that was never drained nor orphaned, and its
    /// span counted as queued for good.
    #[test]
    fn a_first_span_racing_the_shutdown_is_refused_and_counted() {
        let r = Reporter::start(
            ReporterConfig::default(),
            Box::new(crate::transport::Discard),
            None,
        );
        assert!(!r.shutdown(Duration::from_secs(20)).timed_out);
        // A new thread (no ring of this reporter yet) that saw the reporter open just before.
        std::thread::scope(|scope| {
            scope.spawn(|| r.push_record(|_| numbered(1), true));
        });
        let m = r.metrics();
        assert_balanced(&m);
        assert_eq!(
            (m.spans_offered, m.spans_queued, m.dropped_shutdown),
            (1, 0, 1),
            "{m:?}"
        );
        assert!(lock(&r.shared.rings).list.is_empty());
    }
}
