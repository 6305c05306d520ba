//! The reporter: takes finished spans off the application threads and delivers them in batches.
//!
//! ```text
//! app threads ──push──> per-thread ring ──drain──> [drainer thread: encode, batch, bound]
//!                                                        │ closed batches (bounded queue)
//!                                                        v
//!                                                  [sender thread: transport, retries]
//! ```
//!
//! Application threads only push into their own ring (`ring.rs`): no lock, no
//! allocation, no syscall. When a ring is full because the drainer has not been scheduled yet,
//! the span goes to a shared overflow instead, within the queue's bound, through a lock that is
//! only ever tried (never waited for); see [`ReporterConfig::thread_buffer_spans`]. The
//! reporter owns two threads and never touches the application's async runtime, so it works
//! with none and inside any flavour:
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
//! `exit_flush_timeout` (see `tracer/registry.rs`). Spans still queued when the process ends without
//! `exit` (an abort, a fatal signal) are lost: the reporter threads do not keep the process
//! alive.

pub(crate) mod batch;
pub(crate) mod config;
pub(crate) mod drainer;
pub(crate) mod metrics;
pub(crate) mod outage;
pub(crate) mod overflow;
pub(crate) mod ring;
pub(crate) mod rings;
pub(crate) mod sender;
pub(crate) mod shared;
pub(crate) mod spares;
pub(crate) mod sync;

use std::net::IpAddr;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::clock;
use crate::encode::SpanEncoder;
use crate::record::{Extra, SpanRecord};
use crate::span_handler::SpanHandler;
use crate::transport::Transport;

use config::ReporterConfig;
use drainer::Drainer;
use metrics::{FlushReport, ReporterMetrics};
use ring::ring_capacity;
use rings::RINGS;
use sender::Sender;
use shared::{lock, Cause, Item, Shared};

/// The reporter of one tracer.
pub(crate) struct Reporter {
    shared: Arc<Shared>,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

impl Reporter {
    pub(crate) fn start(
        config: ReporterConfig,
        transport: Box<dyn Transport>,
        local_ip: Option<IpAddr>,
    ) -> Reporter {
        Reporter::start_with_handler(config, transport, local_ip, None)
    }

    /// [`Reporter::start`] with a span handler, which the drainer calls on each span.
    pub(crate) fn start_with_handler(
        config: ReporterConfig,
        transport: Box<dyn Transport>,
        local_ip: Option<IpAddr>,
        handler: Option<Arc<dyn SpanHandler>>,
    ) -> Reporter {
        let shared = Arc::new(Shared::new(config));
        let drainer = Drainer::new(
            shared.clone(),
            SpanEncoder::new(transport.encoding(), local_ip),
            handler,
        );
        let sender = Sender::new(shared.clone(), transport);
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
    pub(crate) fn record(&self, rec: SpanRecord, local_root: bool) {
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
    pub(crate) fn record_with<F>(&self, make: F, local_root: bool) -> Result<(), F>
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

    /// An empty tag box for a span of this thread: one the drainer gave back to this thread's
    /// ring (see [`spares`]), or a new one.
    #[inline]
    pub(crate) fn new_extra(&self) -> Box<Extra> {
        let id = self.shared.id;
        RINGS
            .try_with(|rings| {
                let rings = rings.try_borrow().ok()?;
                let r = rings.0.iter().find(|r| r.reporter == id)?;
                // Benchmark: http_layers/server_layer_sampled (boxes come back instead of
                // being freed on the drainer's thread).
                // SAFETY: a ring's spares are taken only here, on the thread whose
                // thread-local holds the ring.
                unsafe { r.ring.spares.take() }
            })
            .ok()
            .flatten()
            .unwrap_or_default()
    }

    /// In a forked child: this reporter is the parent's. Only atomics are written (this runs in
    /// `pthread_atfork`'s child handler).
    pub(crate) fn mark_forked(&self) {
        self.shared.forked.store(true, Ordering::Relaxed);
        self.shared.closed.store(true, Ordering::Release);
    }

    /// [`Reporter::record_with`] past its check that the reporter is open, which a shutdown
    /// may follow at any moment.
    #[inline(always)]
    fn push_record(&self, make: impl FnOnce(u64) -> SpanRecord, local_root: bool) {
        let s = &*self.shared;
        // The thread-local is only asked for the ring: the push runs outside its closure, so
        // that what the closure captures stays small and it is inlined (a push inside it was
        // left as a call, +120 instructions a span).
        let ring = RINGS
            .try_with(|rings| {
                let mut rings = rings.try_borrow_mut().ok()?;
                let idx = match rings.0.iter().position(|r| r.reporter == s.id) {
                    Some(i) => i,
                    None => s.register(&mut rings)?,
                };
                Some(sync::Arc::as_ptr(&rings.0[idx].ring))
            })
            .ok()
            .flatten();
        let Some(ring) = ring else {
            // Built here, not in a generic callee: that keeps this path from being
            // instantiated per span type, which had stopped the push from being inlined
            // (+88 instructions a span).
            let keep = s.takes_ringless();
            let rec = make(if keep { clock::now() } else { 0 });
            s.record_without_ring(rec, keep, local_root);
            return;
        };
        // Benchmark: ours/sampled_calling_thread (the ring is reached outside the thread-local's
        // closure).
        // SAFETY: the ring is kept alive by its `Arc` in this thread's `RINGS`, whose entries
        // are only removed by this thread: when it registers another ring (from this
        // function, which neither `make`, which builds a record, nor `full` reach) or when
        // the thread-local is destroyed (not while this thread runs this function).
        let ring = unsafe { &*ring };
        // Benchmark: ours/sampled_handoff (the lock-free per-thread ring).
        // SAFETY: this ring is only ever pushed to from this thread (it lives in a
        // thread-local and is never handed to another producer).
        let pushed =
            unsafe { ring.push_with(make, |make| make(clock::now()), |make| s.full(ring, make)) };
        match pushed {
            Ok(len) => {
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
            Err(true) => {
                // Kept in the overflow: still a local root to send soon.
                if local_root && !s.urgent.load(Ordering::Relaxed) {
                    s.urgent.store(true, Ordering::Relaxed);
                }
            }
            Err(false) => {} // counted by the ring, by cause
        }
    }

    pub(crate) fn metrics(&self) -> ReporterMetrics {
        self.shared.metrics()
    }

    /// Whether `shutdown` has run (or begun) for this reporter.
    pub(crate) fn is_closed(&self) -> bool {
        self.shared.closed.load(Ordering::SeqCst)
    }

    /// Why the collector's last attempt failed, if no message went through since.
    pub(crate) fn last_failure(&self) -> Option<String> {
        lock(&self.shared.ledger).last_failure.clone()
    }

    /// Sends everything finished so far; waits at most `timeout`.
    pub(crate) fn flush(&self, timeout: Duration) -> FlushReport {
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
    pub(crate) fn shutdown(&self, timeout: Duration) -> FlushReport {
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

#[cfg(test)]
mod pipeline_tests;
#[cfg(test)]
mod tests;
