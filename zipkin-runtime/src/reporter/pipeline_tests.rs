//! The sender with a pipelined transport: every message in flight gets exactly one outcome,
//! so that `offered = sent + dropped` holds whatever fails, and sent counts exactly what the
//! transport acknowledged.

use std::collections::VecDeque;
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use super::tests::numbered;
use super::*;
use crate::error::TransportError;
use crate::transport::{Message, Pipeline, Transport};

#[derive(Default)]
struct State {
    /// Spans of each message in flight, oldest first.
    flight: VecDeque<usize>,
    /// Calls of start, finish and send so far: which of them fail is scripted on it.
    calls: usize,
    /// Spans of the messages this transport answered with success.
    acked: u64,
    most_in_flight: usize,
    /// Whether the first start may go on.
    open: bool,
    /// Whether `send` was called with messages in flight (the contract says never).
    send_while_in_flight: bool,
}

/// A pipelined transport whose outcomes are scripted on its call count: every third finish,
/// every seventh start and every other send fails (retryably). Its first start waits for
/// [`Scripted::open`], so that the test can queue many messages first.
#[derive(Default)]
struct Scripted {
    state: Mutex<State>,
    changed: Condvar,
}

impl Scripted {
    fn open(&self) {
        self.state.lock().unwrap().open = true;
        self.changed.notify_all();
    }
}

fn io() -> TransportError {
    TransportError::Io("scripted failure".into())
}

impl Transport for &'static Scripted {
    fn send(&self, msg: &Message) -> Result<(), TransportError> {
        let mut s = self.state.lock().unwrap();
        s.send_while_in_flight |= !s.flight.is_empty();
        s.calls += 1;
        if s.calls % 2 == 0 {
            s.acked += msg.spans as u64;
            Ok(())
        } else {
            Err(io())
        }
    }

    fn pipeline(&self) -> Option<&dyn Pipeline> {
        Some(*self)
    }
}

impl Pipeline for Scripted {
    fn max_in_flight(&self) -> usize {
        4
    }

    fn start(&self, msg: &Message) -> Result<(), TransportError> {
        let mut s = self.state.lock().unwrap();
        while !s.open {
            s = self.changed.wait(s).unwrap();
        }
        s.calls += 1;
        if s.calls % 7 == 0 {
            return Err(io());
        }
        s.flight.push_back(msg.spans);
        s.most_in_flight = s.most_in_flight.max(s.flight.len());
        Ok(())
    }

    fn finish(&self) -> Result<(), TransportError> {
        let mut s = self.state.lock().unwrap();
        let Some(spans) = s.flight.pop_front() else {
            return Err(TransportError::Io("finish with nothing in flight".into()));
        };
        s.calls += 1;
        if s.calls % 3 == 0 {
            Err(io())
        } else {
            s.acked += spans as u64;
            Ok(())
        }
    }
}

#[test]
fn every_message_in_flight_is_counted_once_whatever_fails() {
    let t: &'static Scripted = Box::leak(Box::default());
    let cfg = ReporterConfig {
        // One span per message: each span's fate is one outcome.
        batch_max_bytes: 200,
        max_attempts: 2,
        retry_backoff: Duration::from_millis(1),
        retry_backoff_max: Duration::from_millis(2),
        ..Default::default()
    };
    let r = Reporter::start(cfg, Box::new(t), None);
    const SPANS: u64 = 60;
    for i in 1..=SPANS {
        r.record(numbered(i), false);
    }
    // The flush makes the drainer queue every message (and a flush mark after them) while the
    // sender waits in its first start.
    let flushing = std::thread::scope(|scope| {
        let f = scope.spawn(|| r.flush(Duration::from_secs(30)));
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let queued = lock(&r.shared.outbox).items.len();
            let marked = lock(&r.shared.outbox)
                .items
                .iter()
                .any(|i| matches!(i, Item::FlushMark(_)));
            if marked || Instant::now() > deadline {
                assert!(marked, "the drainer queued {queued} items, no flush mark");
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        t.open();
        f.join().unwrap()
    });
    assert!(!flushing.timed_out);
    let m = r.metrics();
    let s = t.state.lock().unwrap();
    assert!(
        s.most_in_flight >= 2,
        "never pipelined: {}",
        s.most_in_flight
    );
    assert!(
        !s.send_while_in_flight,
        "a retry was sent beside messages in flight"
    );
    assert!(s.flight.is_empty(), "{} left in flight", s.flight.len());
    assert_eq!(m.spans_offered, SPANS, "{m:?}");
    assert_eq!(m.spans_queued, 0, "{m:?}");
    assert_eq!(
        m.spans_sent, s.acked,
        "sent counts what was acknowledged: {m:?}"
    );
    assert_eq!(m.spans_sent + m.spans_dropped, SPANS, "{m:?}");
    assert_eq!(m.spans_dropped, m.dropped_transport_error, "{m:?}");
    assert!(m.spans_sent > 0 && m.dropped_transport_error > 0, "{m:?}");
}
