//! Sends messages to a Kafka topic that Zipkin's Kafka collector reads (`KAFKA_BOOTSTRAP_SERVERS`
//! on the Zipkin server), with a small producer of our own written against the Kafka protocol:
//! no C library, no async runtime, the reporter's sender thread blocks on plain sockets with
//! timeouts.
//!
//! Each message the reporter closes (a JSON v2 list or a proto3 `ListOfSpans`, at most
//! [`crate::ReporterConfig::batch_max_bytes`], 500 KB by default as Brave's `KafkaSender`) is
//! one Kafka record, with a null key: records go round robin over the topic's partitions. The
//! producer asks a bootstrap broker for the topic's metadata (again every 30 s, and after any
//! error), keeps one connection per partition leader (with `TCP_NODELAY`), and sends one
//! Produce request per message. Up to [`KafkaTransportBuilder::max_in_flight`] requests (5 by
//! default) are in flight at once: the reporter writes the next message while the broker
//! works on the previous ones, and reads their answers (as [`Acks`] says) oldest first
//! ([`Pipeline`]). Records have no key, so their order does not matter; a broker answers a
//! connection's requests in order anyway.
//!
//! Errors are the reporter's business, as with HTTP: a broker that cannot be reached, a
//! partition without leader, a topic that does not exist (yet) are retryable
//! [`TransportError::Io`]s; a broker refusing a message as too large answers as HTTP 413 would
//! (`TransportError::Status` 413), so the reporter sends it again as two halves. Every
//! connect, write and read is bounded by the transport's timeouts, so a broker that is down,
//! dies or hangs costs the sender thread at most those, never the application.
//!
//! Why not a client crate: rskafka 0.6.0 (the newest) leaves Nagle's algorithm on, so a produce
//! request waits on the broker's delayed ACK (about 40 ms each, far below 500k spans/s from one
//! sender), needs tokio, retries without end unless bounded from outside (building its client
//! does not return while the broker is down), and needs Rust 1.85. rdkafka needs a C build of
//! librdkafka. A producer needs only Metadata and Produce; what it does not do (transactions,
//! idempotence, consumer groups, SASL/TLS) a span reporter does not need.

mod conn;
mod producer;
#[cfg(feature = "testing")]
mod read;
mod settings;
mod wire;

use std::fmt;
use std::sync::Mutex;
use std::time::Duration;

use crate::encode::Encoding;
use crate::error::{ConfigError, Setting, TransportError};
use crate::transport::kafka_names::{valid_broker, valid_topic};
use crate::transport::{Message, Pipeline, Transport};

#[cfg(feature = "testing")]
pub use read::read_topic;
use settings::Settings;
pub use settings::{Acks, Compression};

/// Produce requests in flight at once by default: Kafka's own producer default
/// (`max.in.flight.requests.per.connection`).
pub const DEFAULT_MAX_IN_FLIGHT: usize = 5;

/// The most Produce requests in flight [`KafkaTransportBuilder::max_in_flight`] accepts.
pub const MAX_IN_FLIGHT: usize = 100;

/// The topic Zipkin's Kafka collector reads by default.
pub const DEFAULT_TOPIC: &str = "zipkin";

/// Sends each message as one record to a Kafka topic.
///
/// ```
/// # extern crate zipkin_runtime as zipkin_rs;
/// use zipkin_rs::transport::kafka::{Acks, Compression, KafkaTransport};
/// let t = KafkaTransport::builder(["127.0.0.1:9092"])
///     .topic("zipkin")
///     .acks(Acks::All)
///     .compression(Compression::Gzip)
///     .build()
///     .unwrap();
/// assert_eq!(t.topic(), "zipkin");
/// assert_eq!(t.bootstrap(), ["127.0.0.1:9092"]);
/// // Nothing is connected until the first message.
/// ```
pub struct KafkaTransport {
    settings: Settings,
    producer: Mutex<producer::Producer>,
}

impl fmt::Debug for KafkaTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KafkaTransport")
            .field("bootstrap", &self.settings.bootstrap)
            .field("topic", &self.settings.topic)
            .field("acks", &self.settings.acks)
            .field("compression", &self.settings.compression)
            .field("encoding", &self.settings.encoding)
            .finish()
    }
}

impl KafkaTransport {
    /// A builder for a transport to these bootstrap brokers (`host:port` each).
    pub fn builder<I, S>(bootstrap: I) -> KafkaTransportBuilder
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        KafkaTransportBuilder {
            settings: Settings {
                bootstrap: bootstrap.into_iter().map(Into::into).collect(),
                topic: DEFAULT_TOPIC.to_owned(),
                acks: Acks::default(),
                compression: Compression::default(),
                encoding: Encoding::Json,
                connect_timeout: Duration::from_secs(1),
                request_timeout: Duration::from_secs(5),
                max_in_flight: DEFAULT_MAX_IN_FLIGHT,
            },
        }
    }

    /// The topic.
    pub fn topic(&self) -> &str {
        &self.settings.topic
    }

    /// The bootstrap brokers.
    pub fn bootstrap(&self) -> &[String] {
        &self.settings.bootstrap
    }
}

impl Transport for KafkaTransport {
    fn encoding(&self) -> Encoding {
        self.settings.encoding
    }

    fn send(&self, msg: &Message) -> Result<(), TransportError> {
        self.producer().send(&self.settings, &msg.body)
    }

    fn pipeline(&self) -> Option<&dyn Pipeline> {
        Some(self)
    }
}

impl Pipeline for KafkaTransport {
    fn max_in_flight(&self) -> usize {
        self.settings.max_in_flight
    }

    fn start(&self, msg: &Message) -> Result<(), TransportError> {
        self.producer().start(&self.settings, &msg.body)
    }

    fn finish(&self) -> Result<(), TransportError> {
        self.producer().finish(&self.settings)
    }
}

impl KafkaTransport {
    /// The producer; after a panic while it was held, reset (its requests in flight then fail,
    /// each once, when finished).
    fn producer(&self) -> std::sync::MutexGuard<'_, producer::Producer> {
        match self.producer.lock() {
            Ok(p) => p,
            Err(poisoned) => {
                let mut p = poisoned.into_inner();
                p.reset();
                p
            }
        }
    }
}

/// Builds a [`KafkaTransport`].
#[derive(Clone, Debug)]
pub struct KafkaTransportBuilder {
    settings: Settings,
}

impl KafkaTransportBuilder {
    /// The topic (default [`DEFAULT_TOPIC`], `zipkin`).
    pub fn topic(mut self, topic: &str) -> Self {
        self.settings.topic = topic.to_owned();
        self
    }

    /// How many brokers must have a message (default [`Acks::Leader`]; see [`Acks`] for why).
    pub fn acks(mut self, acks: Acks) -> Self {
        self.settings.acks = acks;
        self
    }

    /// Record compression (default none).
    pub fn compression(mut self, c: Compression) -> Self {
        self.settings.compression = c;
        self
    }

    /// JSON (default) or proto3; Zipkin's collector tells them apart by their first byte.
    pub fn encoding(mut self, e: Encoding) -> Self {
        self.settings.encoding = e;
        self
    }

    /// Connect timeout to a broker, and timeout of each write and read of a request (default
    /// 1 s and 5 s). The broker is also told the second as the Produce request's timeout.
    pub fn timeouts(mut self, connect: Duration, request: Duration) -> Self {
        self.settings.connect_timeout = connect;
        self.settings.request_timeout = request;
        self
    }

    /// Produce requests in flight at once (default [`DEFAULT_MAX_IN_FLIGHT`], 5, as Kafka's own
    /// producer; from 1 to [`MAX_IN_FLIGHT`]). With 1, each message waits for the previous
    /// one's answer. More lets the reporter keep the broker busy while answers travel back;
    /// the messages in flight still count against the reporter's queue bounds until answered,
    /// so memory stays within them. With `acks=0` nothing is awaited anyway.
    ///
    /// ```
    /// # extern crate zipkin_runtime as zipkin_rs;
    /// use zipkin_rs::transport::kafka::KafkaTransport;
    /// use zipkin_rs::transport::Transport;
    /// let t = KafkaTransport::builder(["127.0.0.1:9092"]).max_in_flight(8).build().unwrap();
    /// assert_eq!(t.pipeline().unwrap().max_in_flight(), 8);
    /// assert!(KafkaTransport::builder(["127.0.0.1:9092"]).max_in_flight(0).build().is_err());
    /// ```
    pub fn max_in_flight(mut self, n: usize) -> Self {
        self.settings.max_in_flight = n;
        self
    }

    /// Checks the settings: at least one bootstrap broker, each `host:port`; a topic name Kafka
    /// accepts (1 to 249 of `a-z A-Z 0-9 . _ -`); timeouts above zero; 1 to [`MAX_IN_FLIGHT`]
    /// requests in flight. Connects to nothing.
    ///
    /// ```
    /// # extern crate zipkin_runtime as zipkin_rs;
    /// use zipkin_rs::transport::kafka::KafkaTransport;
    /// let e = KafkaTransport::builder(["broker"]).build().unwrap_err();
    /// assert!(e.to_string().contains("host:port"), "{e}");
    /// ```
    pub fn build(self) -> Result<KafkaTransport, ConfigError> {
        let s = self.settings;
        let setting = Setting::Code("KafkaTransport::builder");
        if s.bootstrap.is_empty() {
            return Err(ConfigError::new(
                setting,
                "",
                "at least one bootstrap broker as host:port",
            ));
        }
        for b in &s.bootstrap {
            if !valid_broker(b) {
                return Err(ConfigError::new(
                    setting,
                    b.clone(),
                    "a bootstrap broker as host:port, such as 127.0.0.1:9092",
                ));
            }
        }
        if !valid_topic(&s.topic) {
            return Err(ConfigError::new(
                Setting::Code("KafkaTransportBuilder::topic"),
                s.topic.clone(),
                "a Kafka topic name: 1 to 249 characters of a-z A-Z 0-9 . _ -",
            ));
        }
        if s.connect_timeout.is_zero() || s.request_timeout.is_zero() {
            return Err(ConfigError::new(
                Setting::Code("KafkaTransportBuilder::timeouts"),
                format!("{:?}, {:?}", s.connect_timeout, s.request_timeout),
                "timeouts above zero",
            ));
        }
        if !(1..=MAX_IN_FLIGHT).contains(&s.max_in_flight) {
            return Err(ConfigError::new(
                Setting::Code("KafkaTransportBuilder::max_in_flight"),
                s.max_in_flight.to_string(),
                "from 1 to 100 requests in flight",
            ));
        }
        Ok(KafkaTransport {
            settings: s,
            producer: Mutex::new(producer::Producer::default()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builder_names_what_is_wrong() {
        let e = KafkaTransport::builder(Vec::<String>::new())
            .build()
            .unwrap_err();
        assert!(e.to_string().contains("at least one"), "{e}");
        let e = KafkaTransport::builder(["h:1"])
            .topic("a b")
            .build()
            .unwrap_err();
        assert_eq!(e.setting(), Setting::Code("KafkaTransportBuilder::topic"));
        let e = KafkaTransport::builder(["h:1"])
            .timeouts(Duration::ZERO, Duration::from_secs(1))
            .build()
            .unwrap_err();
        assert!(e.to_string().contains("above zero"), "{e}");
    }

    /// Nothing listens on the port: the send fails within the connect timeout, as a retryable
    /// error the reporter counts, and the next send tries again.
    #[test]
    fn an_unreachable_broker_is_a_retryable_error() {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let t = KafkaTransport::builder([format!("127.0.0.1:{port}")])
            .timeouts(Duration::from_millis(200), Duration::from_millis(200))
            .build()
            .unwrap();
        let msg = Message {
            body: b"[]".to_vec(),
            spans: 0,
            encoding: Encoding::Json,
        };
        for _ in 0..2 {
            let e = t.send(&msg).unwrap_err();
            assert!(e.is_retryable(), "{e}");
            assert!(e.to_string().contains(&format!("127.0.0.1:{port}")), "{e}");
        }
    }

    /// A peer that accepts and never answers: the send gives up after the request timeout.
    #[test]
    fn a_silent_broker_times_out() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap().to_string();
        let t = KafkaTransport::builder([addr])
            .timeouts(Duration::from_millis(200), Duration::from_millis(200))
            .build()
            .unwrap();
        let msg = Message {
            body: b"[]".to_vec(),
            spans: 0,
            encoding: Encoding::Json,
        };
        let e = t.send(&msg).unwrap_err();
        assert!(e.is_retryable(), "{e}");
        drop(l);
    }
}
