//! Trace context in Kafka record headers, and the PRODUCER and CONSUMER spans around a record,
//! as Brave's kafka-clients instrumentation does them: the producer writes the single `b3`
//! header; the consumer reads single or multi (`X-B3-*`) B3; the producer span is tagged
//! `kafka.topic` with remote service `kafka`, and the consumer's span is a child of it (a
//! message has no answer to share a span id with).
//!
//! Kafka header values are bytes. [`RecordHeaders`] is implemented for
//! `BTreeMap<String, Vec<u8>>` (rskafka's `Record::headers`), `HashMap<String, Vec<u8>>`, and
//! `Vec<(String, Vec<u8>)>`, the generic list most clients convert their header type from and
//! to; another client's type implements its two methods.
//!
//! ```
//! # extern crate zipkin_runtime as zipkin_rs;
//! use std::collections::BTreeMap;
//! use zipkin_rs::propagation::kafka::{consumer_span, producer_span};
//! # let tracer = zipkin_rs::Tracer::builder().service_name("orders")
//! #     .transport(zipkin_rs::transport::memory::MemoryTransport::new()).build().unwrap();
//! # let _default = tracer.set_default();
//! // Producer side: a PRODUCER span, and its context in the record's headers.
//! let mut headers: BTreeMap<String, Vec<u8>> = BTreeMap::new();
//! let send = producer_span("orders", &mut headers);
//! // ... client.produce(Record { headers, .. }) ...
//! # let sent = send.context().unwrap();
//! drop(send);
//! // Consumer side (another service): a CONSUMER span continuing the producer's trace.
//! let poll = consumer_span("orders", &headers);
//! let got = poll.context().unwrap();
//! assert_eq!(got.trace_id, sent.trace_id);
//! assert_eq!(got.parent_id, Some(sent.span_id));
//! assert_ne!(got.span_id, sent.span_id);
//! ```

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::hash::BuildHasher;

use crate::record::{Endpoint, Kind};
use crate::span::guard::SpanGuard;
use crate::span_context::{RemoteContext, SpanContext};

use super::b3::B3Format;
use super::carrier::{Extractor, Field, Injector};
use super::extract::extract_from;
use super::inject::{inject_with, InjectOptions};

/// The tag naming the topic, as Brave names it.
pub const TOPIC_TAG: &str = "kafka.topic";

/// The remote service name of producer and consumer spans, as Brave names it.
pub const REMOTE_SERVICE: &str = "kafka";

/// The headers of one Kafka record: names to byte values.
///
/// ```
/// # extern crate zipkin_runtime as zipkin_rs;
/// use zipkin_rs::propagation::kafka::RecordHeaders;
/// let mut h: Vec<(String, Vec<u8>)> = vec![("B3".into(), b"0".to_vec())];
/// assert_eq!(h.header("b3"), Some(&b"0"[..])); // names ignore ASCII case
/// h.set_header("b3", b"1".to_vec()); // replaces, under the name already there
/// assert_eq!(h, vec![("B3".to_owned(), b"1".to_vec())]);
/// ```
pub trait RecordHeaders {
    /// The first value of the header `name` (ignoring ASCII case), or `None`.
    fn header(&self, name: &str) -> Option<&[u8]>;
    /// Sets the header `name`, replacing a value under any case of the name.
    fn set_header(&mut self, name: &str, value: Vec<u8>);
}

impl RecordHeaders for Vec<(String, Vec<u8>)> {
    fn header(&self, name: &str) -> Option<&[u8]> {
        self.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_slice())
    }

    fn set_header(&mut self, name: &str, value: Vec<u8>) {
        match self.iter_mut().find(|(k, _)| k.eq_ignore_ascii_case(name)) {
            Some(slot) => slot.1 = value,
            None => self.push((name.to_owned(), value)),
        }
    }
}

impl RecordHeaders for BTreeMap<String, Vec<u8>> {
    fn header(&self, name: &str) -> Option<&[u8]> {
        BTreeMap::get(self, name)
            .or_else(|| {
                self.iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(name))
                    .map(|(_, v)| v)
            })
            .map(Vec::as_slice)
    }

    fn set_header(&mut self, name: &str, value: Vec<u8>) {
        match self.iter_mut().find(|(k, _)| k.eq_ignore_ascii_case(name)) {
            Some((_, v)) => *v = value,
            None => {
                self.insert(name.to_owned(), value);
            }
        }
    }
}

impl<S: BuildHasher> RecordHeaders for HashMap<String, Vec<u8>, S> {
    fn header(&self, name: &str) -> Option<&[u8]> {
        HashMap::get(self, name)
            .or_else(|| {
                self.iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(name))
                    .map(|(_, v)| v)
            })
            .map(Vec::as_slice)
    }

    fn set_header(&mut self, name: &str, value: Vec<u8>) {
        match self.iter_mut().find(|(k, _)| k.eq_ignore_ascii_case(name)) {
            Some((_, v)) => *v = value,
            None => {
                self.insert(name.to_owned(), value);
            }
        }
    }
}

/// Record headers seen as a propagation carrier.
struct Carrier<'a, H: ?Sized>(&'a mut H);
struct ReadCarrier<'a, H: ?Sized>(&'a H);

impl<H: RecordHeaders + ?Sized> Injector for Carrier<'_, H> {
    fn set(&mut self, field: Field, value: &str) {
        self.0
            .set_header(field.lowercase_name(), value.as_bytes().to_vec());
    }
}

impl<H: RecordHeaders + ?Sized> Extractor for ReadCarrier<'_, H> {
    fn get(&self, field: Field) -> Option<&[u8]> {
        self.0.header(field.lowercase_name())
    }
}

/// Writes the single `b3` header of the current span's downstream side into a record's
/// headers: inside a PRODUCER span, that span's own ids (the consumer becomes its child).
/// Returns the context written, or `None` outside a span (nothing is written).
///
/// ```
/// # extern crate zipkin_runtime as zipkin_rs;
/// use zipkin_rs::propagation::kafka::inject;
/// use zipkin_rs::{Kind, SpanGuard};
/// # let tracer = zipkin_rs::Tracer::builder().service_name("orders")
/// #     .transport(zipkin_rs::transport::memory::MemoryTransport::new()).build().unwrap();
/// # let _default = tracer.set_default();
/// let send = SpanGuard::builder("send").kind(Kind::Producer).start();
/// let mut headers: Vec<(String, Vec<u8>)> = Vec::new();
/// let written = inject(&mut headers).unwrap();
/// assert_eq!(written, send.context().unwrap());
/// assert_eq!(headers.len(), 1);
/// assert_eq!(headers[0].0, "b3");
/// ```
pub fn inject<H: RecordHeaders + ?Sized>(headers: &mut H) -> Option<SpanContext> {
    let opts = InjectOptions {
        b3: B3Format::Single,
        traceparent: false,
    };
    inject_with(&mut Carrier(headers), opts)
}

/// The producer's trace context from a record's headers: the single `b3` header, else the
/// `X-B3-*` headers (names in any case), else W3C `traceparent`. A malformed header is counted
/// in [`super::metrics`] and skipped; with nothing valid left, the default context, so the
/// consumer starts a new trace.
///
/// ```
/// # extern crate zipkin_runtime as zipkin_rs;
/// use zipkin_rs::propagation::{kafka::extract, metrics};
/// let multi: Vec<(String, Vec<u8>)> = vec![
///     ("X-B3-TraceId".into(), b"463ac35c9f6413ad".to_vec()),
///     ("X-B3-SpanId".into(), b"a2fb4a1d1a96d312".to_vec()),
/// ];
/// assert_eq!(extract(&multi).ids.unwrap().span_id.to_string(), "a2fb4a1d1a96d312");
/// let before = metrics().malformed_b3_single;
/// let hostile: Vec<(String, Vec<u8>)> = vec![("b3".into(), b"\xff-not-b3".to_vec())];
/// assert_eq!(extract(&hostile), Default::default());
/// assert!(metrics().malformed_b3_single > before);
/// ```
pub fn extract<H: RecordHeaders + ?Sized>(headers: &H) -> RemoteContext {
    extract_from(&ReadCarrier(headers))
}

fn kafka_endpoint() -> Endpoint {
    Endpoint {
        service_name: Some(Cow::Borrowed(REMOTE_SERVICE)),
        ..Endpoint::default()
    }
}

/// Starts a PRODUCER span named `send` in the current trace, tagged [`TOPIC_TAG`] with remote
/// service [`REMOTE_SERVICE`], and writes its context into `headers` (single `b3`). Keep the
/// guard open while the record is produced.
pub fn producer_span<H: RecordHeaders + ?Sized>(topic: &str, headers: &mut H) -> SpanGuard {
    let mut span = SpanGuard::builder("send").kind(Kind::Producer).start();
    span.tag(TOPIC_TAG, topic)
        .set_remote_endpoint(kafka_endpoint());
    inject(headers);
    span
}

/// Starts a CONSUMER span named `poll` for one record: a child of the producer span whose
/// context the headers carry (a new trace when they carry none, or only malformed ones),
/// tagged [`TOPIC_TAG`] with remote service [`REMOTE_SERVICE`]. Work done while it is the
/// current span (its guard alive) is part of the same trace.
pub fn consumer_span<H: RecordHeaders + ?Sized>(topic: &str, headers: &H) -> SpanGuard {
    let mut span = SpanGuard::builder("poll")
        .kind(Kind::Consumer)
        .parent(extract(headers))
        .start();
    span.tag(TOPIC_TAG, topic)
        .set_remote_endpoint(kafka_endpoint());
    span
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_carrier_replaces_under_any_case_and_reads_ignoring_case() {
        let mut b: BTreeMap<String, Vec<u8>> = BTreeMap::new();
        b.insert("X-B3-Sampled".into(), b"0".to_vec());
        b.set_header("x-b3-sampled", b"1".to_vec());
        assert_eq!(b.len(), 1);
        assert_eq!(b.header("X-B3-SAMPLED"), Some(&b"1"[..]));
        let mut h: HashMap<String, Vec<u8>> = HashMap::new();
        h.set_header("b3", b"0".to_vec());
        h.set_header("B3", b"1".to_vec());
        assert_eq!(h.len(), 1);
        assert_eq!(h.header("b3"), Some(&b"1"[..]));
        let v: Vec<(String, Vec<u8>)> = Vec::new();
        assert_eq!(v.header("b3"), None);
    }
}
