//! The sender thread: delivers closed messages, with bounded retries, backoff and jitter,
//! cool-downs after a message is given up, `Retry-After`, and 413 splitting. Through a
//! transport with a [`crate::transport::Pipeline`], it keeps several messages in flight while
//! they go through (first attempts only); retries and halves go one at a time, with nothing
//! else in flight.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::error::TransportError;
use crate::transport::{Message, Transport};

use super::batch::{part, Batch};
use super::outage::Outages;
use super::shared::{lock, Cause, Item, Shared};

pub(super) struct Sender {
    shared: Arc<Shared>,
    transport: Box<dyn Transport>,
    /// Wait before the next message after one was given up; grows while the collector fails.
    cooldown: Duration,
    /// Nothing is sent before this instant: the `Retry-After` of the collector's last answer
    /// when a message was given up (at most `retry_backoff_max` after it). Unlike the
    /// cool-down, it holds while shutting down too: the collector asked.
    not_before: Option<Instant>,
    /// What has been said about the collector failing.
    outages: Outages,
    /// Messages started through the transport's pipeline, oldest first, each with its span
    /// offsets (for 413 halves). Their spans and bytes stay queued until their outcome.
    in_flight: VecDeque<(Message, Vec<usize>)>,
}

impl Sender {
    pub(super) fn new(shared: Arc<Shared>, transport: Box<dyn Transport>) -> Sender {
        Sender {
            shared,
            transport,
            cooldown: Duration::ZERO,
            not_before: None,
            outages: Outages::default(),
            in_flight: VecDeque::new(),
        }
    }

    pub(super) fn run(mut self) {
        loop {
            let item = {
                let mut o = lock(&self.shared.outbox);
                loop {
                    if let Some(item) = o.items.pop_front() {
                        break Some(item);
                    }
                    if !self.in_flight.is_empty() {
                        break None;
                    }
                    o = match self.shared.outbox_changed.wait(o) {
                        Ok(o) => o,
                        Err(e) => e.into_inner(),
                    };
                }
            };
            let Some(item) = item else {
                // Nothing new to start: collect the oldest outcome.
                self.finish_oldest();
                continue;
            };
            match item {
                Item::Batch(b) => self.start(b),
                Item::FlushMark(n) => {
                    // Flushed means sent or dropped: everything before the mark is settled.
                    self.finish_all();
                    let mut c = lock(&self.shared.control);
                    c.flush_done = c.flush_done.max(n);
                    drop(c);
                    self.shared.control_changed.notify_all();
                }
                Item::Stop => {
                    self.finish_all();
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
        catch(|| self.transport.send(msg))
    }

    /// Starts a message through the transport's pipeline; a panic fails it, as in
    /// [`Sender::send_once`]. None: the transport has no pipeline.
    fn start_once(&self, msg: &Message) -> Option<Result<(), TransportError>> {
        let p = self.transport.pipeline()?;
        Some(catch(|| p.start(msg)))
    }

    /// The outcome of the oldest message in flight; a panic fails it.
    fn finish_once(&self) -> Result<(), TransportError> {
        match self.transport.pipeline() {
            Some(p) => catch(|| p.finish()),
            None => Err(TransportError::Io(
                "the transport no longer offers the pipeline a message was started on".into(),
            )),
        }
    }

    /// How many messages may be in flight now: 1 (no pipeline) while the collector fails, so
    /// that cool-downs, `Retry-After` and shutdown are waited for as without a pipeline.
    fn pipeline_depth(&self) -> usize {
        let Some(p) = self.transport.pipeline() else {
            return 1;
        };
        if !self.cooldown.is_zero() || self.not_before.is_some() {
            return 1;
        }
        let c = lock(&self.shared.control);
        if c.shutdown || c.abandon {
            return 1;
        }
        drop(c);
        p.max_in_flight()
    }

    /// A batch from the queue: started through the pipeline when it has room, else delivered
    /// (retries, halves) with nothing else in flight.
    fn start(&mut self, batch: Batch) {
        let mut depth = self.pipeline_depth();
        while depth > 1 && self.in_flight.len() >= depth {
            self.finish_oldest();
            depth = self.pipeline_depth();
        }
        if depth <= 1 {
            self.finish_all();
            self.deliver(batch, None);
            return;
        }
        let Batch {
            body,
            spans,
            starts,
            ..
        } = batch;
        let msg = Message {
            body,
            spans,
            encoding: self.transport.encoding(),
        };
        match self.start_once(&msg) {
            Some(Ok(())) => self.in_flight.push_back((msg, starts)),
            outcome => {
                // Not in flight: its outcome is known. Settle the others first, so that its
                // retries go alone.
                self.finish_all();
                let outcome = outcome.unwrap_or_else(|| self.send_once(&msg));
                self.redeliver(msg, starts, outcome);
            }
        }
    }

    /// Collects the oldest outcome. A success is counted at once; a failure first settles
    /// every other message in flight (retries go alone), then is delivered as after a first
    /// attempt, as are the others that failed.
    fn finish_oldest(&mut self) {
        let Some((msg, starts)) = self.in_flight.pop_front() else {
            return;
        };
        let outcome = self.finish_once();
        if outcome.is_ok() {
            self.redeliver(msg, starts, Ok(()));
            return;
        }
        let mut settled = vec![(msg, starts, outcome)];
        while let Some((msg, starts)) = self.in_flight.pop_front() {
            let outcome = self.finish_once();
            settled.push((msg, starts, outcome));
        }
        for (msg, starts, outcome) in settled {
            self.redeliver(msg, starts, outcome);
        }
    }

    /// Collects every outcome still in flight.
    fn finish_all(&mut self) {
        while !self.in_flight.is_empty() {
            self.finish_oldest();
        }
    }

    /// Delivers a whole message whose first attempt has this outcome.
    fn redeliver(&mut self, msg: Message, starts: Vec<usize>, first: Result<(), TransportError>) {
        let batch = Batch {
            body: msg.body,
            spans: msg.spans,
            starts,
            opened: None,
        };
        self.deliver(batch, Some(first));
    }

    /// Sends one message, retrying what may succeed later, at most `max_attempts` times
    /// (`first`: the outcome of the first attempt, when already made). Returns the last error
    /// when it gives up.
    fn send_with_retries(
        &self,
        msg: &Message,
        mut first: Option<Result<(), TransportError>>,
    ) -> Result<(), TransportError> {
        let cfg = &self.shared.config;
        let mut attempt = 1;
        let mut backoff = cfg.retry_backoff;
        loop {
            let outcome = match first.take() {
                Some(outcome) => outcome,
                None => self.send_once(msg),
            };
            let e = match outcome {
                Ok(()) => return Ok(()),
                Err(e) => e,
            };
            // A message too large is its spans' fault, not the collector's (as for outages).
            if !matches!(e, TransportError::Status { status: 413, .. }) {
                self.shared.attempt_failed(&e);
            }
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
            let jitter = half.mul_f64(crate::rng::next_u64() as f64 / u64::MAX as f64);
            if !self.pause((half + jitter).max(asked)) {
                return Err(e);
            }
            backoff = backoff.saturating_mul(2).min(cfg.retry_backoff_max);
        }
    }

    /// Delivers a batch as one message or, if the collector answers 413, as halves split at
    /// span boundaries (recursively, down to single spans), so that only a span too large on
    /// its own is dropped. Each part sent or given up counts as one message. `first`: the
    /// outcome of the whole message's first attempt, when it went through the pipeline.
    fn deliver(&mut self, batch: Batch, mut first: Option<Result<(), TransportError>>) {
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
            let whole = n == spans;
            // A first attempt already made is not waited for again (it may have succeeded).
            let made = if whole { first.take() } else { None };
            if made.is_none() && !self.wait_turn() {
                self.shared.give_up_spans(n, Cause::Shutdown);
                for (a, b) in todo.drain(..) {
                    self.shared.give_up_spans(b - a, Cause::Shutdown);
                }
                break;
            }
            let msg = Message {
                body: if whole {
                    std::mem::take(&mut body)
                } else {
                    part(&body, &starts, a, b, encoding)
                },
                spans: n,
                encoding,
            };
            let outcome = self.send_with_retries(&msg, made);
            let sent_bytes = msg.body.len();
            if whole {
                body = msg.body;
            }
            let e = match outcome {
                Ok(()) => {
                    self.cooldown = Duration::ZERO;
                    self.not_before = None;
                    self.shared.sent(n, sent_bytes);
                    if self.outages.in_outage() {
                        let dropped = self.shared.metrics().spans_dropped;
                        if let Some(line) = self.outages.sent(Instant::now(), dropped) {
                            eprintln!("{line}");
                        }
                    }
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
            // A span too large even alone is that span's fault, not the collector's.
            if status != Some(413) {
                let dropped = self.shared.metrics().spans_dropped;
                if let Some(line) = self.outages.failed(Instant::now(), n, &e, dropped) {
                    eprintln!("{line}");
                }
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

/// Runs a call of the transport; a panic in a user's transport would end the sender thread for
/// good (nothing sent again, every flush waiting out its timeout): it fails this message
/// instead.
fn catch(call: impl FnOnce() -> Result<(), TransportError>) -> Result<(), TransportError> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(call)) {
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
