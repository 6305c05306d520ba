//! Zipkin v2 JSON, written directly from the span record (no intermediate model).
//!
//! Wire rules (zipkin2-api.yaml and what the server's decoder accepts): lower-case hex ids, no
//! `parentId` on a root, integer microseconds with `duration >= 1`, `kind` absent on local
//! spans, `debug`/`shared` only when true, `port` absent when 0, lower-case service names,
//! string tag values, empty objects and arrays omitted, every string escaped.

use std::io::Write as _;
use std::net::IpAddr;

use super::fields::{annotations, canonical_ip, lower, LocalIp};
use crate::record::SpanRecord;

/// Appends one span as a Zipkin v2 JSON object.
pub(crate) fn write_span(rec: &SpanRecord, local: &LocalIp, out: &mut Vec<u8>) {
    // One reservation for the fixed part, so the many small appends below skip growth checks
    // that fail (measured: ~10% of the encode).
    out.reserve(256 + rec.name.len() + local.json.len());
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
    let service = lower(rec.service_name);
    if !service.is_empty() || !local.json.is_empty() || rec.port != 0 {
        out.extend_from_slice(b",\"localEndpoint\":{");
        let mut first = true;
        if !service.is_empty() {
            out.extend_from_slice(b"\"serviceName\":");
            write_str(&service, out);
            first = false;
        }
        if !local.json.is_empty() {
            if !first {
                out.push(b',');
            }
            out.extend_from_slice(local.json.as_bytes());
            first = false;
        }
        write_port(rec.port, first, out);
        out.push(b'}');
    }
    let Some(extra) = &rec.extra else {
        out.push(b'}');
        return;
    };
    if let Some(remote) = &extra.remote_endpoint {
        let service = remote.service_name.as_deref().map(lower);
        let service = service.as_deref().filter(|s| !s.is_empty());
        if service.is_some() || remote.ip.is_some() || remote.port != 0 {
            out.extend_from_slice(b",\"remoteEndpoint\":{");
            let mut first = true;
            if let Some(s) = service {
                out.extend_from_slice(b"\"serviceName\":");
                write_str(s, out);
                first = false;
            }
            if let Some(ip) = remote.ip {
                if !first {
                    out.push(b',');
                }
                write_ip(ip, out);
                first = false;
            }
            write_port(remote.port, first, out);
            out.push(b'}');
        }
    }
    let mut anns = annotations(rec).peekable();
    if anns.peek().is_some() {
        out.extend_from_slice(b",\"annotations\":[");
        for (i, (micros, value)) in anns.enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(b"{\"timestamp\":");
            write_u64(micros, out);
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
    out.push(b'}');
}

#[inline]
fn write_port(port: u16, first: bool, out: &mut Vec<u8>) {
    if port != 0 {
        if !first {
            out.push(b',');
        }
        out.extend_from_slice(b"\"port\":");
        write_u64(port as u64, out);
    }
}

/// `"ipv4":"…"` or `"ipv6":"…"`. IPv4-mapped IPv6 addresses are written as IPv4, as the
/// schema asks. Formats straight into the buffer.
fn write_ip(ip: IpAddr, out: &mut Vec<u8>) {
    // Writing into a Vec cannot fail.
    let _ = match canonical_ip(ip) {
        IpAddr::V4(v4) => write!(out, "\"ipv4\":\"{v4}\""),
        IpAddr::V6(v6) => write!(out, "\"ipv6\":\"{v6}\""),
    };
}

#[inline]
fn write_u64(v: u64, out: &mut Vec<u8>) {
    let mut buf = itoa::Buffer::new();
    out.extend_from_slice(buf.format(v).as_bytes());
}

/// Whether a byte must be escaped in a JSON string: quote, backslash, C0 controls and DEL.
const fn needs_escape(b: u8) -> bool {
    b < 0x20 || b == b'"' || b == b'\\' || b == 0x7f
}

/// Bytes that need a closer look: those to escape, and 0xE2 (which starts U+2028/U+2029), so
/// that the common case costs one table lookup per byte.
static ESCAPE: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = needs_escape(i as u8) || i == 0xe2;
        i += 1;
    }
    t
};

/// Writes a JSON string, escaping quotes, backslashes and every control character. A `&str` is
/// valid UTF-8, so no invalid byte sequence can reach the wire; U+2028/U+2029 are escaped too,
/// so the output is also safe to embed in JavaScript.
pub(crate) fn write_str(s: &str, out: &mut Vec<u8>) {
    out.push(b'"');
    let bytes = s.as_bytes();
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if !ESCAPE[b as usize] {
            i += 1;
            continue;
        }
        // U+2028 and U+2029 are E2 80 A8 / E2 80 A9.
        let line_sep = b == 0xe2
            && bytes.get(i + 1) == Some(&0x80)
            && matches!(bytes.get(i + 2), Some(0xa8 | 0xa9));
        if b == 0xe2 && !line_sep {
            i += 1;
            continue;
        }
        out.extend_from_slice(&bytes[start..i]);
        if line_sep {
            out.extend_from_slice(if bytes[i + 2] == 0xa8 {
                b"\\u2028"
            } else {
                b"\\u2029"
            });
            i += 3;
        } else {
            match b {
                b'"' => out.extend_from_slice(b"\\\""),
                b'\\' => out.extend_from_slice(b"\\\\"),
                b'\n' => out.extend_from_slice(b"\\n"),
                b'\r' => out.extend_from_slice(b"\\r"),
                b'\t' => out.extend_from_slice(b"\\t"),
                _ => {
                    const HEX: &[u8; 16] = b"0123456789abcdef";
                    out.extend_from_slice(b"\\u00");
                    out.push(HEX[(b >> 4) as usize]);
                    out.push(HEX[(b & 0xf) as usize]);
                }
            }
            i += 1;
        }
        start = i;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn esc(s: &str) -> String {
        let mut v = Vec::new();
        write_str(s, &mut v);
        String::from_utf8(v).unwrap()
    }

    #[test]
    fn escapes_quotes_backslashes_and_controls() {
        assert_eq!(esc("a\"b\\c"), r#""a\"b\\c""#);
        assert_eq!(
            esc("\n\r\t\u{0}\u{1f}\u{7f}"),
            r#""\n\r\t\u0000\u001f\u007f""#
        );
        assert_eq!(esc("x\u{2028}y\u{2029}é"), "\"x\\u2028y\\u2029é\"");
        for s in ["", "plain", "ünï\u{1F600}", "\u{8}\u{c}"] {
            let back: String = serde_json::from_str(&esc(s)).unwrap();
            assert_eq!(back, s);
        }
    }
}
