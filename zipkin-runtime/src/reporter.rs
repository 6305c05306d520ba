//! The reporter: takes finished spans off the application threads and delivers them in batches.
//!
//! Application threads only push into their own ring ([`crate::buffer`]). The reporter's own
//! thread drains every ring, encodes spans into batches cut by size and time, queues them within
//! a span and byte bound, and hands them to the transport. Every span offered is counted exactly
//! once as sent, dropped (by cause) or still queued.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::thread::{JoinHandle, Thread};
use std::time::{Duration, Instant};

use crate::buffer::Ring;
use crate::encode::Encoding;
use crate::span::SpanRecord;
use crate::transport::{Message, Transport};

/// Reporter limits and timings.
#[derive(Clone, Debug)]
pub struct ReporterConfig {
    /// Spans each application thread can hold before the reporter drains it.
    pub thread_buffer_spans: usize,
    /// Most spans waiting to be sent (encoded, not yet delivered).
    pub queue_max_spans: usize,
    /// Most bytes waiting to be sent.
    pub queue_max_bytes: usize,
    /// A message is sent once it reaches this many bytes.
    pub batch_max_bytes: usize,
    /// A span waits at most this long before its message is sent.
    pub batch_timeout: Duration,
    /// How often the reporter drains the thread buffers.
    pub drain_interval: Duration,
    /// Attempts per message for retryable failures (5xx, 429, connection errors).
    pub max_attempts: u32,
    /// First retry delay; doubles per attempt.
    pub retry_backoff: Duration,
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
        }
    }
}

/// Counters of the reporter. `spans_offered = spans_sent + spans_dropped + spans_queued`
/// holds whenever the reporter is idle (and is checked by the tests).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReporterMetrics {
    /// Spans handed to the reporter by finishing.
    pub spans_offered: u64,
    /// Spans the transport accepted.
    pub spans_sent: u64,
    /// Spans still buffered or queued.
    pub spans_queued: u64,
    /// All dropped spans (sum of the causes below).
    pub spans_dropped: u64,
    /// Dropped because a thread buffer or the queue was full.
    pub dropped_queue_full: u64,
    /// Dropped because one span was larger than a message may be.
    pub dropped_too_large: u64,
    /// Dropped because the transport failed (connection error, 5xx after retries).
    pub dropped_transport_error: u64,
    /// Dropped because the collector rejected them (4xx).
    pub dropped_rejected: u64,
    /// Dropped because the reporter was shut down (or shutdown timed out) before sending them.
    pub dropped_shutdown: u64,
    /// Messages the transport accepted.
    pub messages_sent: u64,
    /// Messages given up on.
    pub messages_dropped: u64,
    /// Bytes of accepted messages.
    pub bytes_sent: u64,
}

/// What a flush or shutdown achieved.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FlushReport {
    /// Spans sent since the reporter started.
    pub sent: u64,
    /// Spans dropped since the reporter started.
    pub dropped: u64,
    /// Spans still queued when it returned.
    pub queued: u64,
    /// Whether the timeout ran out first.
    pub timed_out: bool,
}

#[derive(Default)]
struct Counters {
    sent: AtomicU64,
    dropped_queue_full: AtomicU64,
    dropped_too_large: AtomicU64,
    dropped_transport_error: AtomicU64,
    dropped_rejected: AtomicU64,
    dropped_shutdown: AtomicU64,
    messages_sent: AtomicU64,
    messages_dropped: AtomicU64,
    bytes_sent: AtomicU64,
    /// Spans in the reporter's hands (drained from rings, not yet sent or dropped).
    in_queue: AtomicU64,
    /// Offered and dropped totals of rings whose threads exited.
    retired_offered: AtomicU64,
    retired_dropped_full: AtomicU64,
    /// Spans refused after shutdown or when the thread-local buffer was already destroyed.
    refused: AtomicU64,
}

#[derive(Default)]
struct Control {
    flush_requested: u64,
    flush_done: u64,
    shutdown: bool,
    stopped: bool,
}

pub(crate) struct Shared {
    id: u64,
    config: ReporterConfig,
    rings: Mutex<Vec<Arc<Ring>>>,
    thread: OnceLock<Thread>,
    counters: Counters,
    urgent: AtomicBool,
    closed: AtomicBool,
    control: Mutex<Control>,
    changed: Condvar,
}

/// The reporter of one tracer.
pub(crate) struct Reporter {
    shared: Arc<Shared>,
    handle: Mutex<Option<JoinHandle<()>>>,
}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

struct LocalRing {
    reporter: u64,
    ring: Arc<Ring>,
}

struct LocalRings(Vec<LocalRing>);

impl Drop for LocalRings {
    fn drop(&mut self) {
        for r in &self.0 {
            r.ring.close();
        }
    }
}

thread_local! {
    static RINGS: RefCell<LocalRings> = const { RefCell::new(LocalRings(Vec::new())) };
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
            rings: Mutex::new(Vec::new()),
            thread: OnceLock::new(),
            counters: Counters::default(),
            urgent: AtomicBool::new(false),
            closed: AtomicBool::new(false),
            control: Mutex::new(Control::default()),
            changed: Condvar::new(),
        });
        let worker = Worker {
            shared: shared.clone(),
            transport,
            encoding: Encoding::Json,
            local_ip,
            queue: VecDeque::new(),
            building: Batch::default(),
            scratch: Vec::new(),
        };
        let handle = std::thread::Builder::new()
            .name("zipkin-reporter".into())
            .spawn(move || worker.run())
            .ok();
        if let Some(h) = &handle {
            let _ = shared.thread.set(h.thread().clone());
        }
        Reporter {
            shared,
            handle: Mutex::new(handle),
        }
    }

    /// Hands a finished span to this thread's buffer. Never blocks.
    #[inline]
    pub fn record(&self, rec: SpanRecord, local_root: bool) {
        let s = &*self.shared;
        if s.closed.load(Ordering::Relaxed) {
            s.counters.refused.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let pushed = RINGS.try_with(|rings| {
            let Ok(mut rings) = rings.try_borrow_mut() else {
                return None;
            };
            let idx = match rings.0.iter().position(|r| r.reporter == s.id) {
                Some(i) => i,
                None => {
                    // Forget rings of reporters that have stopped, so threads that outlive many
                    // tracers (tests, init/shutdown cycles) do not accumulate buffers.
                    rings.0.retain(|r| !r.ring.is_orphaned());
                    let ring = Arc::new(Ring::with_capacity(s.config.thread_buffer_spans));
                    if let Ok(mut all) = s.rings.lock() {
                        all.push(ring.clone());
                    }
                    rings.0.push(LocalRing {
                        reporter: s.id,
                        ring,
                    });
                    rings.0.len() - 1
                }
            };
            // SAFETY: this ring is only ever pushed to from this thread (it lives in a
            // thread-local and is never handed to another producer).
            Some(unsafe { rings.0[idx].ring.push(rec) })
        });
        match pushed {
            Ok(Some(Some(len))) => {
                let cap = s.config.thread_buffer_spans;
                if len * 2 >= cap || local_root {
                    self.nudge(len * 2 >= cap);
                }
            }
            Ok(Some(None)) => {} // counted by the ring as dropped_full
            _ => {
                s.counters.refused.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Tells the worker there is work: wake it now when a buffer is filling, otherwise at its
    /// next tick (a local root ending makes that tick send at once).
    #[inline]
    fn nudge(&self, wake: bool) {
        let s = &*self.shared;
        if !s.urgent.load(Ordering::Relaxed) {
            s.urgent.store(true, Ordering::Relaxed);
        }
        if wake {
            if let Some(t) = s.thread.get() {
                t.unpark();
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
        let Ok(mut c) = s.control.lock() else {
            return self.report(true);
        };
        if c.stopped {
            drop(c);
            return self.report(false);
        }
        c.flush_requested += 1;
        let want = c.flush_requested;
        if let Some(t) = s.thread.get() {
            t.unpark();
        }
        while c.flush_done < want && !c.stopped {
            let now = Instant::now();
            if now >= deadline {
                drop(c);
                return self.report(true);
            }
            c = match s.changed.wait_timeout(c, deadline - now) {
                Ok((c, _)) => c,
                Err(_) => return self.report(true),
            };
        }
        drop(c);
        self.report(false)
    }

    /// Flushes, stops the worker and refuses further spans. Safe to call twice.
    pub fn shutdown(&self, timeout: Duration) -> FlushReport {
        let s = &*self.shared;
        let deadline = Instant::now() + timeout;
        s.closed.store(true, Ordering::SeqCst);
        let timed_out = {
            let Ok(mut c) = s.control.lock() else {
                return self.report(true);
            };
            c.shutdown = true;
            if let Some(t) = s.thread.get() {
                t.unpark();
            }
            let mut timed_out = false;
            while !c.stopped {
                let now = Instant::now();
                if now >= deadline {
                    timed_out = true;
                    break;
                }
                c = match s.changed.wait_timeout(c, deadline - now) {
                    Ok((c, _)) => c,
                    Err(_) => return self.report(true),
                };
            }
            timed_out
        };
        if !timed_out {
            if let Ok(mut h) = self.handle.lock() {
                if let Some(h) = h.take() {
                    let _ = h.join();
                }
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

impl Shared {
    fn metrics(&self) -> ReporterMetrics {
        let c = &self.counters;
        let (mut offered, mut full, mut in_rings) = (
            c.retired_offered.load(Ordering::Acquire),
            c.retired_dropped_full.load(Ordering::Acquire),
            0u64,
        );
        // Spans left in a ring after the worker stopped will never be sent.
        let mut stranded = 0u64;
        if let Ok(rings) = self.rings.lock() {
            for r in rings.iter() {
                let d = r.dropped_full();
                offered += r.pushed() + d;
                full += d;
                if r.is_orphaned() {
                    stranded += r.len() as u64;
                } else {
                    in_rings += r.len() as u64;
                }
            }
        }
        let refused = c.refused.load(Ordering::Relaxed);
        offered += refused;
        let m = ReporterMetrics {
            spans_offered: offered,
            spans_sent: c.sent.load(Ordering::Acquire),
            spans_queued: in_rings + c.in_queue.load(Ordering::Acquire),
            spans_dropped: 0,
            dropped_queue_full: full + c.dropped_queue_full.load(Ordering::Acquire),
            dropped_too_large: c.dropped_too_large.load(Ordering::Acquire),
            dropped_transport_error: c.dropped_transport_error.load(Ordering::Acquire),
            dropped_rejected: c.dropped_rejected.load(Ordering::Acquire),
            dropped_shutdown: c.dropped_shutdown.load(Ordering::Acquire) + refused + stranded,
            messages_sent: c.messages_sent.load(Ordering::Acquire),
            messages_dropped: c.messages_dropped.load(Ordering::Acquire),
            bytes_sent: c.bytes_sent.load(Ordering::Acquire),
        };
        ReporterMetrics {
            spans_dropped: m.dropped_queue_full
                + m.dropped_too_large
                + m.dropped_transport_error
                + m.dropped_rejected
                + m.dropped_shutdown,
            ..m
        }
    }
}

#[derive(Default)]
struct Batch {
    body: Vec<u8>,
    spans: usize,
    opened: Option<Instant>,
}

struct Worker {
    shared: Arc<Shared>,
    transport: Box<dyn Transport>,
    encoding: Encoding,
    local_ip: Option<IpAddr>,
    /// Closed batches waiting for the transport.
    queue: VecDeque<Batch>,
    building: Batch,
    scratch: Vec<SpanRecord>,
}

impl Worker {
    fn run(mut self) {
        self.encoding = self.transport.encoding();
        loop {
            let (flush_want, shutdown) = match self.shared.control.lock() {
                Ok(c) => (c.flush_requested, c.shutdown),
                Err(_) => (0, true),
            };
            self.drain_rings();
            let urgent = self.shared.urgent.swap(false, Ordering::Relaxed);
            let flushing = flush_want > self.flushed_seq();
            if flushing || shutdown || urgent || self.batch_due() {
                self.close_batch();
            }
            self.send_queue();
            if flushing {
                self.ack_flush(flush_want);
            }
            if shutdown {
                self.stop();
                return;
            }
            std::thread::park_timeout(self.shared.config.drain_interval);
        }
    }

    fn flushed_seq(&self) -> u64 {
        self.shared
            .control
            .lock()
            .map(|c| c.flush_done)
            .unwrap_or(0)
    }

    fn ack_flush(&self, seq: u64) {
        if let Ok(mut c) = self.shared.control.lock() {
            c.flush_done = c.flush_done.max(seq);
        }
        self.shared.changed.notify_all();
    }

    fn stop(&mut self) {
        let shared = self.shared.clone();
        let c = &shared.counters;
        // Spans that arrived after the last drain (racing the shutdown) are counted, not lost.
        self.drain_rings();
        self.close_batch();
        self.send_queue();
        let left: u64 = self.queue.iter().map(|b| b.spans as u64).sum();
        if left > 0 {
            c.dropped_shutdown.fetch_add(left, Ordering::Relaxed);
            c.in_queue.fetch_sub(left, Ordering::Relaxed);
            self.queue.clear();
        }
        if let Ok(all) = self.shared.rings.lock() {
            for r in all.iter() {
                r.orphan();
            }
        }
        if let Ok(mut ctl) = self.shared.control.lock() {
            ctl.stopped = true;
        }
        self.shared.changed.notify_all();
    }

    fn batch_due(&self) -> bool {
        self.building
            .opened
            .is_some_and(|t| t.elapsed() >= self.shared.config.batch_timeout)
    }

    fn drain_rings(&mut self) {
        let rings: Vec<Arc<Ring>> = match self.shared.rings.lock() {
            Ok(r) => r.clone(),
            Err(_) => return,
        };
        let mut retired = Vec::new();
        for ring in &rings {
            let closed = ring.is_closed();
            // SAFETY: this worker is the only consumer of every ring.
            unsafe { ring.drain_into(&mut self.scratch) };
            if closed {
                retired.push(ring.clone());
            }
            let mut recs = std::mem::take(&mut self.scratch);
            for rec in recs.drain(..) {
                self.enqueue(&rec);
            }
            self.scratch = recs;
        }
        if !retired.is_empty() {
            if let Ok(mut all) = self.shared.rings.lock() {
                all.retain(|r| {
                    let gone = retired.iter().any(|x| Arc::ptr_eq(x, r));
                    if gone {
                        let c = &self.shared.counters;
                        // SAFETY: still the only consumer; catch anything pushed before close.
                        unsafe { r.drain_into(&mut self.scratch) };
                        c.retired_offered
                            .fetch_add(r.pushed() + r.dropped_full(), Ordering::AcqRel);
                        c.retired_dropped_full
                            .fetch_add(r.dropped_full(), Ordering::AcqRel);
                    }
                    !gone
                });
            }
            let mut recs = std::mem::take(&mut self.scratch);
            for rec in recs.drain(..) {
                self.enqueue(&rec);
            }
            self.scratch = recs;
        }
    }

    fn queued_bytes(&self) -> usize {
        self.queue.iter().map(|b| b.body.len()).sum::<usize>() + self.building.body.len()
    }

    /// Encodes one span into the batch being built, within the queue's bounds.
    fn enqueue(&mut self, rec: &SpanRecord) {
        let shared = self.shared.clone();
        let cfg = &shared.config;
        let c = &shared.counters;
        let queued_spans = c.in_queue.load(Ordering::Relaxed) as usize;
        let mut tmp = std::mem::take(&mut self.building.body);
        let start = tmp.len();
        if tmp.is_empty() {
            tmp.extend_from_slice(self.encoding.prefix());
        } else {
            tmp.extend_from_slice(self.encoding.separator());
        }
        self.encoding.encode_span(rec, self.local_ip, &mut tmp);
        let added = tmp.len() - start;
        let single = added + self.encoding.prefix().len() + self.encoding.suffix().len();
        if single > cfg.batch_max_bytes {
            tmp.truncate(start);
            self.building.body = tmp;
            c.dropped_too_large.fetch_add(1, Ordering::Relaxed);
            return;
        }
        if queued_spans >= cfg.queue_max_spans || self.queued_bytes() + added > cfg.queue_max_bytes
        {
            tmp.truncate(start);
            self.building.body = tmp;
            c.dropped_queue_full.fetch_add(1, Ordering::Relaxed);
            return;
        }
        if tmp.len() + self.encoding.suffix().len() > cfg.batch_max_bytes {
            // This span does not fit: close the batch without it and start a new one.
            tmp.truncate(start);
            self.building.body = tmp;
            self.close_batch();
            self.building.body.extend_from_slice(self.encoding.prefix());
            self.encoding
                .encode_span(rec, self.local_ip, &mut self.building.body);
        } else {
            self.building.body = tmp;
        }
        self.building.spans += 1;
        self.building.opened.get_or_insert_with(Instant::now);
        c.in_queue.fetch_add(1, Ordering::Relaxed);
    }

    fn close_batch(&mut self) {
        if self.building.spans == 0 {
            return;
        }
        let mut b = std::mem::take(&mut self.building);
        b.body.extend_from_slice(self.encoding.suffix());
        self.queue.push_back(b);
    }

    fn send_queue(&mut self) {
        while let Some(batch) = self.queue.pop_front() {
            self.send(batch);
        }
    }

    fn send(&mut self, batch: Batch) {
        let cfg = &self.shared.config;
        let c = &self.shared.counters;
        let msg = Message {
            body: batch.body,
            spans: batch.spans,
            encoding: self.encoding,
        };
        let mut backoff = cfg.retry_backoff;
        let mut attempt = 1;
        let outcome = loop {
            match self.transport.send(&msg) {
                Ok(()) => break Ok(()),
                Err(e) if e.is_retryable() && attempt < cfg.max_attempts => {
                    attempt += 1;
                    std::thread::sleep(backoff);
                    backoff = backoff.saturating_mul(2);
                }
                Err(e) => break Err(e),
            }
        };
        let n = msg.spans as u64;
        c.in_queue.fetch_sub(n, Ordering::AcqRel);
        match outcome {
            Ok(()) => {
                c.sent.fetch_add(n, Ordering::AcqRel);
                c.messages_sent.fetch_add(1, Ordering::Relaxed);
                c.bytes_sent
                    .fetch_add(msg.body.len() as u64, Ordering::Relaxed);
            }
            Err(e) => {
                let rejected = matches!(e, crate::TransportError::Status { status } if (400..500).contains(&status) && status != 429);
                if rejected {
                    c.dropped_rejected.fetch_add(n, Ordering::AcqRel);
                } else {
                    c.dropped_transport_error.fetch_add(n, Ordering::AcqRel);
                }
                c.messages_dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}
