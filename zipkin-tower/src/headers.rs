//! One pass over a request's header names: whether the caller sent any trace header, and whether
//! the request is a gRPC call.
//!
//! `zipkin_rs::extract` looks up seven headers by name (`b3`, the five `X-B3-*`,
//! `traceparent`), hashing each name against the map. Most requests a server sees carry none of
//! them (an unsampled edge service, health checks), so the server first walks the names it has
//! (a few compares each) and calls `extract` only when one of the seven is there. The result is
//! the same: with none of them present, `extract` gives `RemoteContext::default()` and counts
//! nothing.

use http::header::CONTENT_TYPE;
use http::HeaderMap;
use zipkin_runtime::propagation::Field;
use zipkin_runtime::RemoteContext;

/// What the first pass over the header names found.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Scan {
    /// A header that propagation reads is present.
    pub(crate) trace: bool,
    /// `content-type: application/grpc[+...]`.
    pub(crate) grpc: bool,
}

/// Whether `name` (lower case, as `http::HeaderMap` keeps names) is one that
/// `zipkin_rs::extract` reads.
#[inline]
fn is_trace_header(name: &str) -> bool {
    // Every field's name starts with `b`, `t` or `x`; most headers do not.
    matches!(name.as_bytes().first(), Some(b'b' | b't' | b'x'))
        && Field::ALL.iter().any(|f| f.lowercase_name() == name)
}

/// Walks the header names once.
#[inline]
pub(crate) fn scan(headers: &HeaderMap) -> Scan {
    let mut found = Scan::default();
    for name in headers.keys() {
        if *name == CONTENT_TYPE {
            found.grpc = crate::grpc::is_grpc(headers);
        } else if is_trace_header(name.as_str()) {
            found.trace = true;
        }
    }
    found
}

/// The caller's context: `zipkin_rs::extract` when `scan` saw a trace header, else the
/// empty context `extract` would have returned.
#[inline]
pub(crate) fn caller(headers: &HeaderMap, scan: Scan) -> RemoteContext {
    if scan.trace {
        zipkin_runtime::extract(headers)
    } else {
        RemoteContext::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn map(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn every_field_is_a_trace_header_in_any_case_it_was_sent() {
        for f in Field::ALL {
            let mut h = HeaderMap::new();
            // `HeaderMap` lower-cases names as they come in.
            h.insert(
                http::HeaderName::from_bytes(f.name().as_bytes()).unwrap(),
                HeaderValue::from_static("x"),
            );
            assert!(scan(&h).trace, "{}", f.name());
        }
    }

    #[test]
    fn other_headers_are_not() {
        let h = map(&[
            ("host", "example.com"),
            ("te", "trailers"),
            ("transfer-encoding", "chunked"),
            ("x-request-id", "abc"),
            ("x-b3", "1"),
            ("b3-sampled", "1"),
            ("tracestate", "a=b"),
            ("accept", "*/*"),
        ]);
        assert_eq!(scan(&h), Scan::default());
        assert_eq!(caller(&h, scan(&h)), RemoteContext::default());
        assert_eq!(scan(&HeaderMap::new()), Scan::default());
    }

    #[test]
    fn grpc_is_found_by_its_content_type() {
        let h = map(&[
            ("content-type", "application/grpc+proto"),
            ("te", "trailers"),
        ]);
        assert_eq!(
            scan(&h),
            Scan {
                trace: false,
                grpc: true
            }
        );
        let h = map(&[("content-type", "application/json")]);
        assert!(!scan(&h).grpc);
    }

    /// The scan never changes what the caller's context is: for header sets with and without
    /// trace headers (valid, malformed, mixed with others), `caller` equals `extract`.
    #[test]
    fn caller_is_extract() {
        let cases: &[&[(&'static str, &'static str)]] = &[
            &[],
            &[("host", "a"), ("accept", "*/*")],
            &[("b3", "0")],
            &[("b3", "463ac35c9f6413ad-a2fb4a1d1a96d312-1")],
            &[("b3", "garbage"), ("host", "a")],
            &[
                ("x-b3-traceid", "463ac35c9f6413ad"),
                ("x-b3-spanid", "a2fb4a1d1a96d312"),
                ("x-b3-sampled", "0"),
            ],
            &[("x-b3-flags", "1")],
            &[("x-b3-parentspanid", "a2fb4a1d1a96d312")],
            &[(
                "traceparent",
                "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
            )],
            &[("user-agent", "curl"), ("x-b3-sampled", "1")],
        ];
        for pairs in cases {
            let h = map(pairs);
            assert_eq!(
                caller(&h, scan(&h)),
                zipkin_runtime::extract(&h),
                "{pairs:?}"
            );
        }
    }
}
