//! The producer's state between messages: the cluster's metadata for the topic, one connection
//! per broker, the next partition, the requests in flight, and reused buffers. Only the
//! reporter's sender thread uses it.
//!
//! A message is sent in two steps: its Produce request is written ([`Producer::start`]), and
//! later its response read ([`Producer::finish`]); in between, more requests may be written on
//! the same connections. A broker answers the requests of one connection in order, so the
//! oldest request in flight is always the next answer on its connection. Any connection error
//! drops every connection: each request that was in flight on one is then answered by
//! `finish` with an error of its own, so that every message gets exactly one outcome.

use std::collections::{HashMap, VecDeque};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use crate::error::TransportError;

use super::conn::Conn;
use super::settings::{Acks, Compression, Settings};
use super::wire::{self, Metadata};

/// Metadata older than this is read again before the next message, so that partitions added
/// to the topic and moved leaders are found without waiting for an error (Kafka clients'
/// `metadata.max.age.ms` is 5 minutes; ours is cheap).
const METADATA_MAX_AGE: std::time::Duration = std::time::Duration::from_secs(30);

const CLIENT_ID: &str = "zipkin-rs";

#[derive(Debug, Default)]
pub(crate) struct Producer {
    metadata: Option<(Metadata, Instant)>,
    /// Connections to brokers, by node id.
    conns: HashMap<i32, Conn>,
    /// The connection metadata is asked on (a bootstrap broker, or any broker it named).
    meta_conn: Option<Conn>,
    /// The bootstrap address tried next when there is no metadata connection.
    next_bootstrap: usize,
    /// Round robin over the partitions: messages have no key.
    next_partition: usize,
    correlation: i32,
    /// Requests written and not yet answered, oldest first.
    in_flight: VecDeque<InFlight>,
    /// The id the next connection opened gets: an answer is read only from the connection its
    /// request was written on.
    next_conn: u64,
    request: Vec<u8>,
    response: Vec<u8>,
    scratch: Vec<u8>,
}

/// A Produce request written and not yet answered.
#[derive(Debug)]
struct InFlight {
    leader: i32,
    /// The id of the connection it was written on.
    conn: u64,
    addr: String,
    correlation: i32,
    partition: i32,
    /// False with `acks=0`: no answer comes.
    answer: bool,
}

fn io(e: impl std::fmt::Display) -> TransportError {
    TransportError::Io(e.to_string())
}

impl Producer {
    fn next_correlation(&mut self) -> i32 {
        self.correlation = self.correlation.wrapping_add(1) & i32::MAX;
        self.correlation
    }

    /// Forgets the metadata and every connection: the next message starts from the bootstrap
    /// brokers (after a broker restart, a leader change or any connection error).
    pub(crate) fn reset(&mut self) {
        self.metadata = None;
        self.conns.clear();
        self.meta_conn = None;
    }

    /// The topic's metadata, asked again when absent or old.
    fn metadata(&mut self, s: &Settings) -> Result<Metadata, TransportError> {
        if let Some((m, at)) = &self.metadata {
            if at.elapsed() < METADATA_MAX_AGE {
                return Ok(m.clone());
            }
        }
        let mut errors = Vec::new();
        // The metadata connection if there is one, then each bootstrap broker once, in turn
        // (one broker was asked twice, doubling the wait and the message when it hung).
        let tries = s.bootstrap.len() + usize::from(self.meta_conn.is_some());
        for _ in 0..tries {
            if self.meta_conn.is_none() {
                let addr = &s.bootstrap[self.next_bootstrap % s.bootstrap.len()];
                self.next_bootstrap = self.next_bootstrap.wrapping_add(1);
                match Conn::open(addr, s.connect_timeout, s.request_timeout) {
                    Ok(c) => self.meta_conn = Some(c),
                    Err(e) => {
                        errors.push(format!("{addr}: {e}"));
                        continue;
                    }
                }
            }
            let corr = self.next_correlation();
            wire::metadata_request(&mut self.request, corr, CLIENT_ID, &s.topic);
            let Some(conn) = self.meta_conn.as_mut() else {
                continue;
            };
            let addr = conn.addr.clone();
            let answer = conn
                .round_trip(&self.request, corr, true, &mut self.response)
                .map_err(|e| e.to_string())
                .and_then(|body| {
                    wire::metadata_response(body, &s.topic).map_err(|e| e.to_string())
                });
            match answer {
                Ok(m) if m.topic_error != 0 => {
                    return Err(io(format!(
                        "Kafka broker {addr} answered {} for topic {:?}",
                        wire::error_name(m.topic_error),
                        s.topic
                    )));
                }
                Ok(m) if m.partitions.is_empty() => {
                    return Err(io(format!(
                        "Kafka broker {addr} named no partition of topic {:?}",
                        s.topic
                    )));
                }
                Ok(m) => {
                    self.metadata = Some((m.clone(), Instant::now()));
                    return Ok(m);
                }
                Err(e) => {
                    self.meta_conn = None;
                    errors.push(format!("{addr}: {e}"));
                }
            }
        }
        Err(io(format!(
            "no Kafka bootstrap broker answered a metadata request for topic {:?}: {}",
            s.topic,
            errors.join("; ")
        )))
    }

    /// Sends one message as one record to the next partition and waits for its answer (as
    /// `acks` says). Errors leave the producer ready to start again from metadata on the next
    /// call.
    pub(crate) fn send(&mut self, s: &Settings, value: &[u8]) -> Result<(), TransportError> {
        if !self.in_flight.is_empty() {
            // Not expected (the reporter sends alone): an answer read here could be another
            // request's. Those requests fail instead, each once, when finished.
            self.reset();
        }
        self.start(s, value)?;
        self.finish(s)
    }

    /// Writes one message as one record to the next partition, without waiting for its
    /// answer. On an error it is not in flight, and the producer starts again from metadata.
    pub(crate) fn start(&mut self, s: &Settings, value: &[u8]) -> Result<(), TransportError> {
        match self.write_produce(s, value) {
            Ok(sent) => {
                self.in_flight.push_back(sent);
                Ok(())
            }
            Err(e) => {
                self.failed(&e);
                Err(e)
            }
        }
    }

    /// The outcome of the oldest message in flight.
    pub(crate) fn finish(&mut self, s: &Settings) -> Result<(), TransportError> {
        let Some(sent) = self.in_flight.pop_front() else {
            return Err(io("no Kafka Produce request is in flight"));
        };
        let result = self.read_outcome(s, &sent);
        if let Err(e) = &result {
            self.failed(e);
        }
        result
    }

    /// After an error: anything but a broker's "too large" answer starts again from metadata.
    fn failed(&mut self, e: &TransportError) {
        if !matches!(e, TransportError::Status { .. }) {
            self.reset();
        }
    }

    fn write_produce(&mut self, s: &Settings, value: &[u8]) -> Result<InFlight, TransportError> {
        let md = self.metadata(s)?;
        let led: Vec<&(i32, i16, i32)> = md.partitions.iter().filter(|p| p.2 >= 0).collect();
        if led.is_empty() {
            return Err(io(format!(
                "no partition of Kafka topic {:?} has a leader at the moment",
                s.topic
            )));
        }
        let &&(partition, _, leader) = &led[self.next_partition % led.len()];
        self.next_partition = self.next_partition.wrapping_add(1);
        if let std::collections::hash_map::Entry::Vacant(slot) = self.conns.entry(leader) {
            let addr = md.address(leader).ok_or_else(|| {
                io(format!(
                    "the leader of partition {partition} of Kafka topic {:?} is node {leader}, \
                     which the metadata does not list",
                    s.topic
                ))
            })?;
            let mut conn = Conn::open(&addr, s.connect_timeout, s.request_timeout)
                .map_err(|e| io(format!("could not connect to Kafka broker {addr}: {e}")))?;
            self.next_conn += 1;
            conn.id = self.next_conn;
            slot.insert(conn);
        }
        let corr = self.next_correlation();
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        let codec = match s.compression {
            Compression::None => wire::Codec::None,
            Compression::Gzip => wire::Codec::Gzip,
        };
        wire::produce_request(
            &mut self.request,
            corr,
            CLIENT_ID,
            s.acks.code(),
            s.request_timeout.as_millis().min(i32::MAX as u128) as i32,
            &s.topic,
            partition,
            value,
            now_ms,
            codec,
            &mut self.scratch,
        );
        let Some(conn) = self.conns.get_mut(&leader) else {
            return Err(io("no connection to the partition's leader"));
        };
        conn.write(&self.request).map_err(|e| {
            io(format!(
                "producing to partition {partition} of Kafka topic {:?} at {}: {e}",
                s.topic, conn.addr
            ))
        })?;
        Ok(InFlight {
            leader,
            conn: conn.id,
            addr: conn.addr.clone(),
            correlation: corr,
            partition,
            answer: s.acks != Acks::None,
        })
    }

    fn read_outcome(&mut self, s: &Settings, sent: &InFlight) -> Result<(), TransportError> {
        if !sent.answer {
            return Ok(());
        }
        let (partition, addr) = (sent.partition, &sent.addr);
        let conn = match self.conns.get_mut(&sent.leader) {
            Some(c) if c.id == sent.conn => c,
            _ => {
                return Err(io(format!(
                    "producing to partition {partition} of Kafka topic {:?} at {addr}: the \
                     connection was dropped after an earlier error, with this message in flight",
                    s.topic
                )))
            }
        };
        let body = conn
            .read_response(sent.correlation, &mut self.response)
            .map_err(|e| {
                io(format!(
                    "producing to partition {partition} of Kafka topic {:?} at {addr}: {e}",
                    s.topic
                ))
            })?;
        let (code, _offset) = wire::produce_response(body).map_err(io)?;
        match code {
            0 => Ok(()),
            c if wire::too_large(c) => Err(TransportError::status(413)),
            c => {
                if wire::stale_metadata(c) {
                    self.metadata = None;
                }
                Err(io(format!(
                    "Kafka broker {addr} refused a message for partition {partition} of topic \
                     {:?}: {} (error code {c})",
                    s.topic,
                    wire::error_name(c)
                )))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    //! The producer against a scripted fake broker (a unit-test mock; the real broker is in
    //! tests/kafka_transport.rs and zipkin-testkit/tests/kafka_faults.rs).
    use std::io::{Read, Write};
    use std::net::TcpListener;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;
    use crate::transport::kafka::KafkaTransport;
    use crate::transport::{Message, Transport};

    /// A scripted code that closes the connection instead of answering: the fake broker stops
    /// writing (FIN) and reads whatever else comes until the producer hangs up.
    const CLOSE: i16 = i16::MIN;

    /// Answers Metadata (one partition, led by itself) and Produce with the next scripted
    /// error code (then 0, or [`CLOSE`]); counts the Metadata requests.
    fn fake_broker(codes: Vec<i16>) -> (String, Arc<AtomicUsize>) {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let metadata = Arc::new(AtomicUsize::new(0));
        let m = metadata.clone();
        let codes = Arc::new(std::sync::Mutex::new(codes.into_iter()));
        std::thread::spawn(move || {
            for stream in l.incoming() {
                let Ok(mut s) = stream else { return };
                let (m, codes) = (m.clone(), codes.clone());
                // One thread per connection: the producer keeps its metadata connection open
                // beside the leader's.
                std::thread::spawn(move || loop {
                    let mut size = [0u8; 4];
                    if s.read_exact(&mut size).is_err() {
                        break;
                    }
                    let mut req = vec![0u8; i32::from_be_bytes(size) as usize];
                    if s.read_exact(&mut req).is_err() {
                        break;
                    }
                    let api = i16::from_be_bytes([req[0], req[1]]);
                    let corr = &req[4..8];
                    let mut b = Vec::new();
                    wire::put_i32(&mut b, 0);
                    b.extend_from_slice(corr);
                    if api == wire::METADATA {
                        m.fetch_add(1, Ordering::SeqCst);
                        wire::put_i32(&mut b, 0);
                        wire::put_i32(&mut b, 1);
                        wire::put_i32(&mut b, 1);
                        wire::put_str(&mut b, "127.0.0.1");
                        wire::put_i32(&mut b, i32::from(addr.port()));
                        wire::put_i16(&mut b, -1);
                        wire::put_i16(&mut b, -1);
                        wire::put_i32(&mut b, 1);
                        wire::put_i32(&mut b, 1);
                        wire::put_i16(&mut b, 0);
                        wire::put_str(&mut b, "zipkin");
                        wire::put_i8(&mut b, 0);
                        wire::put_i32(&mut b, 1);
                        wire::put_i16(&mut b, 0);
                        wire::put_i32(&mut b, 0);
                        wire::put_i32(&mut b, 1);
                        wire::put_i32(&mut b, 0);
                        wire::put_i32(&mut b, 0);
                    } else {
                        wire::put_i32(&mut b, 1);
                        wire::put_str(&mut b, "zipkin");
                        wire::put_i32(&mut b, 1);
                        wire::put_i32(&mut b, 0);
                        let code = codes.lock().ok().and_then(|mut c| c.next()).unwrap_or(0);
                        if code == CLOSE {
                            let _ = s.shutdown(std::net::Shutdown::Write);
                            let _ = std::io::copy(&mut s, &mut std::io::sink());
                            break;
                        }
                        wire::put_i16(&mut b, code);
                        wire::put_i64(&mut b, 0);
                        wire::put_i64(&mut b, -1);
                        wire::put_i32(&mut b, 0);
                    }
                    wire::finish(&mut b);
                    if s.write_all(&b).is_err() {
                        break;
                    }
                });
            }
        });
        (addr.to_string(), metadata)
    }

    fn msg() -> Message {
        Message {
            body: b"[]".to_vec(),
            spans: 0,
            encoding: crate::encode::Encoding::Json,
        }
    }

    fn transport(addr: &str) -> KafkaTransport {
        KafkaTransport::builder([addr])
            .timeouts(Duration::from_secs(2), Duration::from_secs(2))
            .build()
            .unwrap()
    }

    #[test]
    fn a_leader_change_is_retryable_and_reads_the_metadata_again() {
        let (addr, metadata) = fake_broker(vec![6, 0, 0]);
        let t = transport(&addr);
        let e = t.send(&msg()).unwrap_err();
        assert!(e.is_retryable(), "{e}");
        assert!(e.to_string().contains("NOT_LEADER_OR_FOLLOWER"), "{e}");
        assert_eq!(metadata.load(Ordering::SeqCst), 1);
        t.send(&msg()).unwrap();
        assert_eq!(
            metadata.load(Ordering::SeqCst),
            2,
            "asked again after the error"
        );
        t.send(&msg()).unwrap();
        assert_eq!(metadata.load(Ordering::SeqCst), 2, "kept while it works");
    }

    /// Regression: a broker that takes connections and never answers was asked twice per
    /// metadata request (two request timeouts) and said so as the OS's "Resource temporarily
    /// unavailable", twice.
    #[test]
    fn a_silent_broker_costs_one_timeout_and_says_it_timed_out() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap().to_string();
        let t = KafkaTransport::builder([addr.as_str()])
            .timeouts(Duration::from_millis(300), Duration::from_millis(300))
            .build()
            .unwrap();
        let e = t.send(&msg()).unwrap_err().to_string();
        assert!(
            e.contains("the broker sent no answer within 300ms (the request timeout)"),
            "{e}"
        );
        assert_eq!(e.matches(&addr).count(), 1, "{e}");
        // The connections it made wait in the listener's backlog: one, not two.
        l.set_nonblocking(true).unwrap();
        let connections = std::iter::from_fn(|| l.accept().ok()).count();
        assert_eq!(connections, 1, "{e}");
    }

    #[test]
    fn a_message_too_large_answers_as_413_so_the_reporter_splits_it() {
        let (addr, _) = fake_broker(vec![10]);
        let e = transport(&addr).send(&msg()).unwrap_err();
        assert!(
            matches!(e, TransportError::Status { status: 413, .. }),
            "{e}"
        );
    }

    /// Three requests in flight on one connection; the broker answers the first and hangs up:
    /// the first succeeds, the other two fail, each once and retryably, and the next message
    /// goes through a new connection.
    #[test]
    fn requests_in_flight_on_a_lost_connection_each_fail_once() {
        let (addr, _) = fake_broker(vec![0, CLOSE]);
        let t = transport(&addr);
        let p = t.pipeline().unwrap();
        assert_eq!(
            p.max_in_flight(),
            crate::transport::kafka::DEFAULT_MAX_IN_FLIGHT
        );
        for _ in 0..3 {
            p.start(&msg()).unwrap();
        }
        p.finish().unwrap();
        let e = p.finish().unwrap_err();
        assert!(e.is_retryable(), "{e}");
        let e = p.finish().unwrap_err();
        assert!(e.is_retryable(), "{e}");
        assert!(e.to_string().contains("in flight"), "{e}");
        let e = p.finish().unwrap_err();
        assert!(e.to_string().contains("no Kafka Produce request"), "{e}");
        t.send(&msg()).unwrap();
        p.start(&msg()).unwrap();
        p.finish().unwrap();
    }
}
