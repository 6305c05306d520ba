//! Encoders from finished span records to Zipkin's wire formats.
//!
//! A message is a list: `prefix`, then each span with `separator` between them, then `suffix`.
//! Spans are encoded one at a time into the batch being built, so the reporter measures its
//! queue in exact bytes and never keeps a record and its encoding at once.

use std::net::IpAddr;

use crate::span::SpanRecord;

pub mod json;

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

    /// Appends one span, returning the number of bytes written.
    pub fn encode_span(
        self,
        rec: &SpanRecord,
        local_ip: Option<IpAddr>,
        out: &mut Vec<u8>,
    ) -> usize {
        let before = out.len();
        match self {
            Encoding::Json => json::write_span(rec, local_ip, out),
            Encoding::Proto => json::write_span(rec, local_ip, out),
        }
        out.len() - before
    }
}

/// Encodes a whole list of spans as one message.
///
/// ```
/// use zipkin_runtime::encode::{encode_list, Encoding};
/// assert_eq!(encode_list(Encoding::Json, &[], None), b"[]");
/// ```
pub fn encode_list(enc: Encoding, spans: &[SpanRecord], local_ip: Option<IpAddr>) -> Vec<u8> {
    let mut out = Vec::with_capacity(64 + spans.len() * 256);
    out.extend_from_slice(enc.prefix());
    for (i, s) in spans.iter().enumerate() {
        if i > 0 {
            out.extend_from_slice(enc.separator());
        }
        enc.encode_span(s, local_ip, &mut out);
    }
    out.extend_from_slice(enc.suffix());
    out
}
