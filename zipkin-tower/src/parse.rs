//! What an HTTP span is called and tagged, as Brave's default parsers do.

use std::borrow::Cow;

use http::{Method, StatusCode};

/// The lower-case method, without allocating for the standard ones.
pub(crate) fn method_name(m: &Method) -> Cow<'static, str> {
    Cow::Borrowed(match *m {
        Method::GET => "get",
        Method::POST => "post",
        Method::PUT => "put",
        Method::DELETE => "delete",
        Method::PATCH => "patch",
        Method::HEAD => "head",
        Method::OPTIONS => "options",
        Method::CONNECT => "connect",
        Method::TRACE => "trace",
        _ => return Cow::Owned(m.as_str().to_ascii_lowercase()),
    })
}

/// `get /orders/{id}`, or `get` without a route.
pub(crate) fn span_name(m: &Method, route: Option<&str>) -> Cow<'static, str> {
    let method = method_name(m);
    match route {
        Some(r) => Cow::Owned(format!("{method} {r}")),
        None => method,
    }
}

/// Tags the response status: `http.status_code` when not 2xx, `error` when below 100 or above
/// 399 (Brave's `HttpResponseParser.DEFAULT`).
pub(crate) fn tag_status(span: &mut zipkin_runtime::Span, status: StatusCode) {
    let code = status.as_u16();
    if !(200..=299).contains(&code) {
        span.tag("http.status_code", code);
    }
    if !(100..=399).contains(&code) {
        span.tag("error", code);
    }
}

/// Tags the request: `http.method`, `http.path`, and `http.route` when known.
pub(crate) fn tag_request(
    span: &mut zipkin_runtime::Span,
    method: &Method,
    path: &str,
    route: Option<&str>,
) {
    span.tag("http.method", method.as_str());
    span.tag("http.path", path);
    if let Some(r) = route {
        span.tag("http.route", r);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_never_carry_the_raw_path() {
        assert_eq!(span_name(&Method::GET, None), "get");
        assert_eq!(
            span_name(&Method::POST, Some("/orders/{id}")),
            "post /orders/{id}"
        );
        let custom = Method::from_bytes(b"PURGE").unwrap();
        assert_eq!(span_name(&custom, None), "purge");
    }
}
