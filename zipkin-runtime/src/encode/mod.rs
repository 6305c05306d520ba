//! Encoders from finished span records to Zipkin's wire formats, written directly into the
//! message buffer (no intermediate model).
//!
//! A message is a list: `prefix`, then each span with `separator` between them, then `suffix`.
//! Spans are encoded one at a time into the batch being built, so the reporter measures its
//! queue in exact bytes and never keeps a record and its encoding at once.

use std::net::IpAddr;

use crate::record::SpanRecord;

mod fields;
pub(crate) mod json;
pub(crate) mod proto;

use fields::{canonical_ip, LocalIp};

/// The wire format of a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Encoding {
    /// Zipkin v2 JSON (`application/json`).
    #[default]
    Json,
    /// Zipkin v2 proto3 `ListOfSpans` (`application/x-protobuf`).
    Proto,
}

impl Encoding {
    /// The HTTP content type.
    pub fn content_type(self) -> &'static str {
        match self {
            Encoding::Json => "application/json",
            Encoding::Proto => "application/x-protobuf",
        }
    }

    /// Bytes that open a message.
    pub fn prefix(self) -> &'static [u8] {
        match self {
            Encoding::Json => b"[",
            Encoding::Proto => b"",
        }
    }

    /// Bytes between two spans.
    pub fn separator(self) -> &'static [u8] {
        match self {
            Encoding::Json => b",",
            Encoding::Proto => b"",
        }
    }

    /// Bytes that close a message.
    pub fn suffix(self) -> &'static [u8] {
        match self {
            Encoding::Json => b"]",
            Encoding::Proto => b"",
        }
    }
}

/// Encodes spans in one encoding for one local address, which it renders once.
///
/// ```
/// # extern crate zipkin_runtime as zipkin_rs;
/// use zipkin_rs::__unstable::SpanEncoder;
/// use zipkin_rs::Encoding;
/// let enc = SpanEncoder::new(Encoding::Json, Some([10, 0, 0, 1].into()));
/// assert_eq!(enc.encoding(), Encoding::Json);
/// ```
#[derive(Clone, Debug)]
pub struct SpanEncoder {
    encoding: Encoding,
    local: LocalIp,
}

impl SpanEncoder {
    /// An encoder for `encoding` whose spans name `local_ip` in their local endpoint.
    pub fn new(encoding: Encoding, local_ip: Option<IpAddr>) -> SpanEncoder {
        let local_ip = local_ip.map(canonical_ip);
        let json = match local_ip {
            Some(IpAddr::V4(v4)) => format!("\"ipv4\":\"{v4}\""),
            Some(IpAddr::V6(v6)) => format!("\"ipv6\":\"{v6}\""),
            None => String::new(),
        };
        SpanEncoder {
            encoding,
            local: LocalIp { json, ip: local_ip },
        }
    }

    /// The encoding.
    pub fn encoding(&self) -> Encoding {
        self.encoding
    }

    /// Appends one span, returning the number of bytes written.
    #[inline]
    pub fn encode_span(&self, rec: &SpanRecord, out: &mut Vec<u8>) -> usize {
        let before = out.len();
        match self.encoding {
            Encoding::Json => json::write_span(rec, &self.local, out),
            Encoding::Proto => proto::write_span(rec, self.local.ip, out),
        }
        out.len() - before
    }

    /// Encodes a whole list of spans as one message.
    pub fn encode_list(&self, spans: &[SpanRecord]) -> Vec<u8> {
        let enc = self.encoding;
        let mut out = Vec::with_capacity(64 + spans.len() * 256);
        out.extend_from_slice(enc.prefix());
        for (i, s) in spans.iter().enumerate() {
            if i > 0 {
                out.extend_from_slice(enc.separator());
            }
            self.encode_span(s, &mut out);
        }
        out.extend_from_slice(enc.suffix());
        out
    }
}
