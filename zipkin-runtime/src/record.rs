//! A finished span, as it travels from the application thread to the reporter and the
//! encoders ([`SpanRecord`]), and the parts it is made of: its kind, its remote endpoint, and its
//! tags and annotations. Times are raw clock ticks; the encoders turn them into epoch
//! microseconds off the hot path.

use std::borrow::Cow;
use std::net::IpAddr;

use crate::clock;
use crate::id::{SpanId, TraceId};
use crate::tag_value::TagValue;

/// The Zipkin span kind. `Local` is written as an absent `kind`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Kind {
    /// In-process work.
    #[default]
    Local,
    /// The caller side of a remote call.
    Client,
    /// The callee side of a remote call.
    Server,
    /// Sends a message to a broker.
    Producer,
    /// Receives a message from a broker.
    Consumer,
}

impl Kind {
    /// Client and producer spans: the side of a call or message that sends it.
    #[inline]
    pub(crate) fn is_outgoing(self) -> bool {
        matches!(self, Kind::Client | Kind::Producer)
    }

    /// Zipkin's upper-case name; `None` for local spans.
    pub fn as_zipkin_str(self) -> Option<&'static str> {
        match self {
            Kind::Local => None,
            Kind::Client => Some("CLIENT"),
            Kind::Server => Some("SERVER"),
            Kind::Producer => Some("PRODUCER"),
            Kind::Consumer => Some("CONSUMER"),
        }
    }
}

/// A network endpoint, as Zipkin's `Endpoint`.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Endpoint {
    /// Lower-cased service name.
    pub service_name: Option<Cow<'static, str>>,
    /// IPv4 or IPv6 address.
    pub ip: Option<IpAddr>,
    /// Port; 0 means absent.
    pub port: u16,
}

/// Rarely used parts of a span, boxed so that a span without them stays small. The reporter
/// gives an emptied box, with its vectors' room, back to the thread that filled it
/// (`reporter/spares.rs`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Extra {
    /// Tags in insertion order; a repeated key keeps the last value. Values are static or
    /// inline when short ([`TagValue`]), so an HTTP span's tags cost the vector alone, where a
    /// `String` per value, freed on the reporter's thread, cost one allocation more each. Not
    /// kept inline in this box: when boxes were still freed on the reporter's thread, a box too
    /// large for glibc's fast bins made sampled spans 20–30 % slower, with fewer instructions
    /// (benchmark: http_layers/server_layer_sampled); not measured again since boxes come back.
    pub tags: Tags,
    /// Annotations: (tick reading, value).
    pub annotations: Vec<(u64, Cow<'static, str>)>,
    /// The other side of a client or server span.
    pub remote_endpoint: Option<Endpoint>,
    /// Emptied strings of earlier spans (owned names, long tag values) that came back with
    /// this box, for this span's long text. Never encoded.
    pub spare_text: Vec<String>,
}

/// A span's tags: (key, value) in insertion order.
pub type Tags = Vec<(Cow<'static, str>, TagValue)>;

impl Extra {
    pub(crate) fn set_tag(&mut self, key: Cow<'static, str>, value: TagValue) {
        if let Some(slot) = self.tags.iter_mut().find(|(k, _)| *k == key) {
            slot.1 = value;
        } else {
            self.tags.push((key, value));
        }
    }
}

/// A finished span, as it travels from the application thread to the reporter.
/// Times are raw clock ticks; the encoder converts them off the hot path.
#[derive(Clone, Debug, PartialEq)]
pub struct SpanRecord {
    /// Trace id.
    pub trace_id: TraceId,
    /// Span id.
    pub span_id: SpanId,
    /// Parent span id; `None` for a root.
    pub parent_id: Option<SpanId>,
    /// Span name.
    pub name: Cow<'static, str>,
    /// Span kind.
    pub kind: Kind,
    /// Local service name.
    pub service_name: &'static str,
    /// Local port (0: absent).
    pub port: u16,
    /// Start tick.
    pub start: u64,
    /// End tick.
    pub end: u64,
    /// Reported with `debug: true`.
    pub debug: bool,
    /// The server half of a span id shared with the client.
    pub shared: bool,
    /// Tags, annotations, remote endpoint.
    pub extra: Option<Box<Extra>>,
}

impl SpanRecord {
    /// Start in microseconds since the Unix epoch.
    pub fn timestamp_micros(&self) -> u64 {
        clock::epoch_micros(self.start)
    }

    /// Duration in microseconds, at least 1.
    pub fn duration_micros(&self) -> u64 {
        clock::duration_micros(self.start, self.end)
    }

    /// The tag with this key.
    pub fn tag(&self, key: &str) -> Option<&str> {
        self.extra
            .as_ref()?
            .tags
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}
