//! gRPC over HTTP/2: what a request is, and its status.

use http::HeaderMap;

/// Whether `headers` are those of a gRPC call (`content-type: application/grpc[+proto]`).
pub(crate) fn is_grpc(headers: &HeaderMap) -> bool {
    headers
        .get(http::header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/grpc"))
}

/// The status code in `grpc-status`, if present and a number.
pub(crate) fn status(headers: &HeaderMap) -> Option<u16> {
    std::str::from_utf8(headers.get("grpc-status")?.as_bytes())
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// The name of a gRPC status code, as Brave tags it (`NOT_FOUND`); unknown codes as numbers.
pub(crate) fn code_name(code: u16) -> std::borrow::Cow<'static, str> {
    const NAMES: [&str; 17] = [
        "OK",
        "CANCELLED",
        "UNKNOWN",
        "INVALID_ARGUMENT",
        "DEADLINE_EXCEEDED",
        "NOT_FOUND",
        "ALREADY_EXISTS",
        "PERMISSION_DENIED",
        "RESOURCE_EXHAUSTED",
        "FAILED_PRECONDITION",
        "ABORTED",
        "OUT_OF_RANGE",
        "UNIMPLEMENTED",
        "INTERNAL",
        "UNAVAILABLE",
        "DATA_LOSS",
        "UNAUTHENTICATED",
    ];
    match NAMES.get(usize::from(code)) {
        Some(n) => (*n).into(),
        None => code.to_string().into(),
    }
}

/// Tags a span with a gRPC status: `grpc.status_code`, and `error` when it is not OK.
pub(crate) fn tag_status(span: &mut zipkin_runtime::Span, code: u16) {
    let name = code_name(code);
    if code != 0 {
        span.tag("error", &name);
    }
    span.tag("grpc.status_code", name);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(code_name(0), "OK");
        assert_eq!(code_name(5), "NOT_FOUND");
        assert_eq!(code_name(16), "UNAUTHENTICATED");
        assert_eq!(code_name(99), "99");
    }

    #[test]
    fn detection_and_status() {
        let mut h = HeaderMap::new();
        assert!(!is_grpc(&h));
        h.insert("content-type", "application/grpc+proto".parse().unwrap());
        assert!(is_grpc(&h));
        assert_eq!(status(&h), None);
        h.insert("grpc-status", "14".parse().unwrap());
        assert_eq!(status(&h), Some(14));
        h.insert("grpc-status", "x".parse().unwrap());
        assert_eq!(status(&h), None);
    }
}
