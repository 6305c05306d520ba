//! Zipkin v2 JSON, written directly from the span record (no intermediate model).

use std::net::IpAddr;

use crate::span::{Endpoint, SpanRecord};

/// Appends one span as a Zipkin v2 JSON object.
pub fn write_span(rec: &SpanRecord, local_ip: Option<IpAddr>, out: &mut Vec<u8>) {
    out.extend_from_slice(b"{\"traceId\":\"");
    out.extend_from_slice(rec.trace_id.to_hex().as_ref());
    if let Some(p) = rec.parent_id {
        out.extend_from_slice(b"\",\"parentId\":\"");
        out.extend_from_slice(p.to_hex().as_ref());
    }
    out.extend_from_slice(b"\",\"id\":\"");
    out.extend_from_slice(rec.span_id.to_hex().as_ref());
    out.push(b'"');
    if let Some(k) = rec.kind.as_zipkin_str() {
        out.extend_from_slice(b",\"kind\":\"");
        out.extend_from_slice(k.as_bytes());
        out.push(b'"');
    }
    if !rec.name.is_empty() {
        out.extend_from_slice(b",\"name\":");
        write_str(&rec.name, out);
    }
    out.extend_from_slice(b",\"timestamp\":");
    write_u64(rec.timestamp_micros(), out);
    out.extend_from_slice(b",\"duration\":");
    write_u64(rec.duration_micros(), out);
    if rec.debug {
        out.extend_from_slice(b",\"debug\":true");
    }
    if rec.shared {
        out.extend_from_slice(b",\"shared\":true");
    }
    out.extend_from_slice(b",\"localEndpoint\":");
    write_endpoint(Some(rec.service_name), local_ip, rec.port, out);
    if let Some(extra) = &rec.extra {
        if let Some(remote) = &extra.remote_endpoint {
            if remote.service_name.is_some() || remote.ip.is_some() || remote.port != 0 {
                out.extend_from_slice(b",\"remoteEndpoint\":");
                write_endpoint(remote.service_name.as_deref(), remote.ip, remote.port, out);
            }
        }
        if !extra.annotations.is_empty() {
            out.extend_from_slice(b",\"annotations\":[");
            for (i, (at, value)) in extra.annotations.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                out.extend_from_slice(b"{\"timestamp\":");
                write_u64(crate::clock::epoch_micros(*at), out);
                out.extend_from_slice(b",\"value\":");
                write_str(value, out);
                out.push(b'}');
            }
            out.push(b']');
        }
        if !extra.tags.is_empty() {
            out.extend_from_slice(b",\"tags\":{");
            for (i, (k, v)) in extra.tags.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_str(k, out);
                out.push(b':');
                write_str(v, out);
            }
            out.push(b'}');
        }
    }
    out.push(b'}');
}

fn write_endpoint(service: Option<&str>, ip: Option<IpAddr>, port: u16, out: &mut Vec<u8>) {
    out.push(b'{');
    let mut first = true;
    let mut sep = |out: &mut Vec<u8>| {
        if !first {
            out.push(b',');
        }
        first = false;
    };
    if let Some(s) = service.filter(|s| !s.is_empty()) {
        sep(out);
        out.extend_from_slice(b"\"serviceName\":");
        write_lowercase_str(s, out);
    }
    match ip {
        Some(IpAddr::V4(v4)) => {
            sep(out);
            out.extend_from_slice(b"\"ipv4\":\"");
            out.extend_from_slice(v4.to_string().as_bytes());
            out.push(b'"');
        }
        Some(IpAddr::V6(v6)) => {
            sep(out);
            out.extend_from_slice(b"\"ipv6\":\"");
            out.extend_from_slice(v6.to_string().as_bytes());
            out.push(b'"');
        }
        None => {}
    }
    if port != 0 {
        sep(out);
        out.extend_from_slice(b"\"port\":");
        write_u64(port as u64, out);
    }
    out.push(b'}');
}

/// Used by the endpoint encoder for the remote side as well.
#[allow(dead_code)]
pub(crate) fn endpoint_is_empty(e: &Endpoint) -> bool {
    e.service_name.is_none() && e.ip.is_none() && e.port == 0
}

#[inline]
fn write_u64(v: u64, out: &mut Vec<u8>) {
    let mut buf = itoa::Buffer::new();
    out.extend_from_slice(buf.format(v).as_bytes());
}

/// Writes a JSON string, escaping quotes, backslashes and every control character.
pub(crate) fn write_str(s: &str, out: &mut Vec<u8>) {
    out.push(b'"');
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let esc: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x00..=0x1f | 0x7f => b"",
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        if esc.is_empty() {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.extend_from_slice(b"\\u00");
            out.push(HEX[(b >> 4) as usize]);
            out.push(HEX[(b & 0xf) as usize]);
        } else {
            out.extend_from_slice(esc);
        }
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

/// Zipkin lower-cases service names; so do we, allocating only for non-ASCII upper case.
fn write_lowercase_str(s: &str, out: &mut Vec<u8>) {
    if s.bytes().all(|b| !b.is_ascii_uppercase()) && s.is_ascii() {
        write_str(s, out);
    } else {
        write_str(&s.to_lowercase(), out);
    }
}
