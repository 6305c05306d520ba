//! Encoders from finished span records to Zipkin's wire formats, written directly into the
//! message buffer (no intermediate model).
//!
//! A message is a list: `prefix`, then each span with `separator` between them, then `suffix`.
//! Spans are encoded one at a time into the batch being built, so the reporter measures its
//! queue in exact bytes and never keeps a record and its encoding at once.

use std::borrow::Cow;
use std::net::IpAddr;

use crate::record::SpanRecord;

pub(crate) mod json;
pub(crate) mod proto;

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
/// use zipkin_runtime::__unstable::SpanEncoder;
/// use zipkin_runtime::Encoding;
/// let enc = SpanEncoder::new(Encoding::Json, Some([10, 0, 0, 1].into()));
/// assert_eq!(enc.encoding(), Encoding::Json);
/// ```
#[derive(Clone, Debug)]
pub struct SpanEncoder {
    encoding: Encoding,
    local: LocalIp,
}

/// The local address, pre-rendered for both encodings.
#[derive(Clone, Debug, Default)]
pub(crate) struct LocalIp {
    /// `"ipv4":"10.0.0.1"` or `"ipv6":"::1"` (without separators), empty when unknown.
    pub json: String,
    /// The address as proto3 wants it.
    pub ip: Option<IpAddr>,
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

/// Zipkin lower-cases service names; so do we, without allocating for ASCII names.
#[inline]
pub(crate) fn lower(s: &str) -> Cow<'_, str> {
    if s.is_ascii() {
        if s.bytes().any(|b| b.is_ascii_uppercase()) {
            Cow::Owned(s.to_ascii_lowercase())
        } else {
            Cow::Borrowed(s)
        }
    } else {
        // Not `char::is_uppercase`: title-case letters (such as U+1FBC) also lower-case, and
        // `str::to_lowercase` knows context rules (final sigma). Non-ASCII names are rare and
        // this runs on the reporter thread.
        let lowered = s.to_lowercase();
        if lowered == s {
            Cow::Borrowed(s)
        } else {
            Cow::Owned(lowered)
        }
    }
}

/// IPv4-mapped IPv6 addresses are written as IPv4, as the schema asks.
#[inline]
pub(crate) fn canonical_ip(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    }
}

/// Annotations as the wire gets them: epoch microseconds, without exact repeats (the schema
/// says `uniqueItems`, and the server de-duplicates anyway) and without empty values (which
/// proto3 cannot tell from absent, and the server then rejects as incomplete).
pub(crate) fn annotations(rec: &SpanRecord) -> impl Iterator<Item = (u64, &str)> + Clone + '_ {
    let list: &[(u64, Cow<'static, str>)] = match &rec.extra {
        Some(e) => &e.annotations,
        None => &[],
    };
    list.iter().enumerate().filter_map(move |(i, (at, v))| {
        let micros = crate::clock::epoch_micros(*at);
        let repeat = list[..i]
            .iter()
            .any(|(a2, v2)| v2 == v && crate::clock::epoch_micros(*a2) == micros);
        (!repeat && !v.is_empty()).then_some((micros, v.as_ref()))
    })
}

#[cfg(test)]
mod lower_tests {
    use super::lower;

    #[test]
    fn title_case_service_names_were_left_unlowered() {
        // Found by the serde-reference property test: "ᾼ" (title case, not upper case).
        assert_eq!(lower("ᾼ𝄝8"), "ᾳ𝄝8");
        assert_eq!(lower("ΟΔΟΣ"), "οδος".replace('σ', "ς"));
        assert!(matches!(lower("webapp"), std::borrow::Cow::Borrowed(_)));
        assert!(matches!(lower("ünïcode"), std::borrow::Cow::Borrowed(_)));
    }
}
