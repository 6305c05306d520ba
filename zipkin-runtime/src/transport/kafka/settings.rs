//! What the Kafka producer is told: how many brokers must have a record ([`Acks`]), how records
//! are compressed ([`Compression`]), and the producer's whole settings, which the builder fills.

use std::time::Duration;

use crate::encode::Encoding;

/// How many brokers must have a message before the producer counts it as sent (Kafka's
/// `acks`).
///
/// The default is [`Acks::Leader`] (`acks=1`): the reporter counts a span as sent only when a
/// broker has written it, so that `offered = sent + dropped + queued` holds when a broker dies
/// mid-run. Brave's `KafkaSender` defaults to `acks=0`, which is faster but counts as sent what
/// a broker that just died never got. [`Acks::All`] also waits for the in-sync replicas: no
/// loss when a leader fails, at the cost of latency on the sender thread only.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Acks {
    /// `acks=0`: written to the socket is sent; no answer is awaited.
    None,
    /// `acks=1`: the partition's leader has written it.
    #[default]
    Leader,
    /// `acks=all` (`-1`): every in-sync replica has it.
    All,
}

impl Acks {
    /// Kafka's code: 0, 1 or -1.
    ///
    /// ```
    /// # extern crate zipkin_runtime as zipkin_rs;
    /// use zipkin_rs::transport::kafka::Acks;
    /// assert_eq!(Acks::All.code(), -1);
    /// ```
    pub fn code(self) -> i16 {
        match self {
            Acks::None => 0,
            Acks::Leader => 1,
            Acks::All => -1,
        }
    }
}

/// How records are compressed. Zipkin's collector reads every codec; gzip is the one this
/// build carries (through flate2, as the HTTP transport's gzip).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Compression {
    /// Uncompressed (the default: on loopback or a fast network, compressing costs the sender
    /// thread more than it saves).
    #[default]
    None,
    /// gzip, at its fastest level.
    Gzip,
}

/// The producer's settings.
#[derive(Clone, Debug)]
pub(crate) struct Settings {
    pub(super) bootstrap: Vec<String>,
    pub(super) topic: String,
    pub(super) acks: Acks,
    pub(super) compression: Compression,
    pub(super) encoding: Encoding,
    pub(super) connect_timeout: Duration,
    pub(super) request_timeout: Duration,
    pub(super) max_in_flight: usize,
}
