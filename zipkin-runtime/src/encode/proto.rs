//! Zipkin v2 proto3 (`zipkin.proto3.ListOfSpans` of zipkin.proto), written by hand from the
//! span record.
//!
//! Each span is written as one `spans` entry (field 1) of `ListOfSpans`; repeated fields of a
//! message concatenate, so a message is just its spans back to back, with no prefix or suffix.
//! Lengths are computed in a first pass over the record so every byte is written once.
//! The same rules as JSON apply: ids big-endian (8 or 16 bytes), no parent on a root, `kind`
//! absent on local spans, `debug`/`shared` only when true, port absent when 0, service names
//! lower-cased, empty endpoints omitted.

use std::borrow::Cow;
use std::net::IpAddr;

use super::fields::{annotations, canonical_ip, lower};
use crate::record::{Kind, SpanRecord};

// Field keys: (number << 3) | wire type (0 varint, 1 fixed64, 2 length-delimited).
const LIST_SPANS: u8 = 1 << 3 | 2;
const SPAN_TRACE_ID: u8 = 1 << 3 | 2;
const SPAN_PARENT_ID: u8 = 2 << 3 | 2;
const SPAN_ID: u8 = 3 << 3 | 2;
const SPAN_KIND: u8 = 4 << 3;
const SPAN_NAME: u8 = 5 << 3 | 2;
const SPAN_TIMESTAMP: u8 = 6 << 3 | 1;
const SPAN_DURATION: u8 = 7 << 3;
const SPAN_LOCAL: u8 = 8 << 3 | 2;
const SPAN_REMOTE: u8 = 9 << 3 | 2;
const SPAN_ANNOTATION: u8 = 10 << 3 | 2;
const SPAN_TAG: u8 = 11 << 3 | 2;
const SPAN_DEBUG: u8 = 12 << 3;
const SPAN_SHARED: u8 = 13 << 3;
const EP_SERVICE: u8 = 1 << 3 | 2;
const EP_IPV4: u8 = 2 << 3 | 2;
const EP_IPV6: u8 = 3 << 3 | 2;
const EP_PORT: u8 = 4 << 3;
const ANN_TIMESTAMP: u8 = 1 << 3 | 1;
const ANN_VALUE: u8 = 2 << 3 | 2;
const ENTRY_KEY: u8 = 1 << 3 | 2;
const ENTRY_VALUE: u8 = 2 << 3 | 2;

fn kind_number(k: Kind) -> u64 {
    match k {
        Kind::Local => 0,
        Kind::Client => 1,
        Kind::Server => 2,
        Kind::Producer => 3,
        Kind::Consumer => 4,
    }
}

#[inline]
fn varint_len(v: u64) -> usize {
    // 1 byte per 7 bits, at least one.
    (64 - (v | 1).leading_zeros() as usize).div_ceil(7)
}

#[inline]
fn put_varint(mut v: u64, out: &mut Vec<u8>) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Length of a length-delimited field holding `n` bytes (key, length, payload).
#[inline]
fn field_len(n: usize) -> usize {
    1 + varint_len(n as u64) + n
}

#[inline]
fn put_bytes(key: u8, bytes: &[u8], out: &mut Vec<u8>) {
    out.push(key);
    put_varint(bytes.len() as u64, out);
    out.extend_from_slice(bytes);
}

/// One endpoint's parts, in wire form.
struct Ep<'a> {
    service: Option<Cow<'a, str>>,
    ip: Option<IpAddr>,
    port: u16,
}

impl Ep<'_> {
    fn len(&self) -> usize {
        let mut n = 0;
        if let Some(s) = &self.service {
            n += field_len(s.len());
        }
        match self.ip {
            Some(IpAddr::V4(_)) => n += field_len(4),
            Some(IpAddr::V6(_)) => n += field_len(16),
            None => {}
        }
        if self.port != 0 {
            n += 1 + varint_len(self.port as u64);
        }
        n
    }

    fn write(&self, key: u8, out: &mut Vec<u8>) {
        let len = self.len();
        if len == 0 {
            return;
        }
        out.push(key);
        put_varint(len as u64, out);
        if let Some(s) = &self.service {
            put_bytes(EP_SERVICE, s.as_bytes(), out);
        }
        match self.ip {
            Some(IpAddr::V4(v4)) => put_bytes(EP_IPV4, &v4.octets(), out),
            Some(IpAddr::V6(v6)) => put_bytes(EP_IPV6, &v6.octets(), out),
            None => {}
        }
        if self.port != 0 {
            out.push(EP_PORT);
            put_varint(self.port as u64, out);
        }
    }
}

#[inline]
fn ep_field_len(ep: &Ep<'_>) -> usize {
    match ep.len() {
        0 => 0,
        n => field_len(n),
    }
}

/// Appends one span as a `ListOfSpans.spans` entry.
pub(crate) fn write_span(rec: &SpanRecord, local_ip: Option<IpAddr>, out: &mut Vec<u8>) {
    let trace_len = if rec.trace_id.is_128bit() { 16 } else { 8 };
    let timestamp = rec.timestamp_micros();
    let duration = rec.duration_micros();
    let local = Ep {
        service: Some(lower(rec.service_name)).filter(|s| !s.is_empty()),
        ip: local_ip.map(canonical_ip),
        port: rec.port,
    };
    let remote = rec
        .extra
        .as_ref()
        .and_then(|e| e.remote_endpoint.as_ref())
        .map(|r| Ep {
            service: r
                .service_name
                .as_deref()
                .map(lower)
                .filter(|s| !s.is_empty()),
            ip: r.ip.map(canonical_ip),
            port: r.port,
        });

    // First pass: the span's length.
    let mut len = field_len(trace_len) + field_len(8);
    if rec.parent_id.is_some() {
        len += field_len(8);
    }
    if rec.kind != Kind::Local {
        len += 2;
    }
    if !rec.name.is_empty() {
        len += field_len(rec.name.len());
    }
    len += 1 + 8 + 1 + varint_len(duration);
    len += ep_field_len(&local);
    if let Some(r) = &remote {
        len += ep_field_len(r);
    }
    for (_, v) in annotations(rec) {
        len += field_len(1 + 8 + field_len(v.len()));
    }
    if let Some(e) = &rec.extra {
        for (k, v) in &e.tags {
            len += field_len(field_len(k.len()) + field_len(v.len()));
        }
    }
    if rec.debug {
        len += 2;
    }
    if rec.shared {
        len += 2;
    }

    // Second pass: the bytes, in field order.
    out.reserve(field_len(len));
    out.push(LIST_SPANS);
    put_varint(len as u64, out);
    let start = out.len();
    out.push(SPAN_TRACE_ID);
    out.push(trace_len as u8);
    if rec.trace_id.is_128bit() {
        out.extend_from_slice(&rec.trace_id.high().to_be_bytes());
    }
    out.extend_from_slice(&rec.trace_id.low().to_be_bytes());
    if let Some(p) = rec.parent_id {
        put_bytes(SPAN_PARENT_ID, &p.get().to_be_bytes(), out);
    }
    put_bytes(SPAN_ID, &rec.span_id.get().to_be_bytes(), out);
    if rec.kind != Kind::Local {
        out.push(SPAN_KIND);
        put_varint(kind_number(rec.kind), out);
    }
    if !rec.name.is_empty() {
        put_bytes(SPAN_NAME, rec.name.as_bytes(), out);
    }
    out.push(SPAN_TIMESTAMP);
    out.extend_from_slice(&timestamp.to_le_bytes());
    out.push(SPAN_DURATION);
    put_varint(duration, out);
    local.write(SPAN_LOCAL, out);
    if let Some(r) = &remote {
        r.write(SPAN_REMOTE, out);
    }
    for (micros, v) in annotations(rec) {
        out.push(SPAN_ANNOTATION);
        put_varint((1 + 8 + field_len(v.len())) as u64, out);
        out.push(ANN_TIMESTAMP);
        out.extend_from_slice(&micros.to_le_bytes());
        put_bytes(ANN_VALUE, v.as_bytes(), out);
    }
    if let Some(e) = &rec.extra {
        for (k, v) in &e.tags {
            out.push(SPAN_TAG);
            put_varint((field_len(k.len()) + field_len(v.len())) as u64, out);
            put_bytes(ENTRY_KEY, k.as_bytes(), out);
            put_bytes(ENTRY_VALUE, v.as_bytes(), out);
        }
    }
    if rec.debug {
        out.extend_from_slice(&[SPAN_DEBUG, 1]);
    }
    if rec.shared {
        out.extend_from_slice(&[SPAN_SHARED, 1]);
    }
    debug_assert_eq!(
        out.len() - start,
        len,
        "proto3 length pass and write pass disagree"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varint_lengths() {
        for (v, n) in [
            (0u64, 1),
            (127, 1),
            (128, 2),
            (16_383, 2),
            (16_384, 3),
            (u64::MAX, 10),
        ] {
            let mut out = Vec::new();
            put_varint(v, &mut out);
            assert_eq!(out.len(), n, "{v}");
            assert_eq!(varint_len(v), n, "{v}");
        }
    }
}
