//! What an HTTP span is called and tagged, as Brave's default parsers do.

use std::borrow::Cow;

use http::{Method, StatusCode};
use zipkin_runtime::__unstable::TagValue;

/// A standard method as sent and in lower case: names of these cost no allocation. A `match`
/// rather than a table search: the search was 30 instructions per request for `GET`
/// (benchmark: http_layers/server_layer_unsampled).
fn standard(m: &Method) -> Option<(&'static str, &'static str)> {
    Some(match *m {
        Method::GET => ("GET", "get"),
        Method::POST => ("POST", "post"),
        Method::PUT => ("PUT", "put"),
        Method::DELETE => ("DELETE", "delete"),
        Method::PATCH => ("PATCH", "patch"),
        Method::HEAD => ("HEAD", "head"),
        Method::OPTIONS => ("OPTIONS", "options"),
        Method::CONNECT => ("CONNECT", "connect"),
        Method::TRACE => ("TRACE", "trace"),
        _ => return None,
    })
}

/// The lower-case method, without allocating for the standard ones.
#[inline]
pub(crate) fn method_name(m: &Method) -> Cow<'static, str> {
    match standard(m) {
        Some((_, lower)) => Cow::Borrowed(lower),
        None => Cow::Owned(m.as_str().to_ascii_lowercase()),
    }
}

/// The method as sent (`GET`), without allocating for the standard ones.
pub(crate) fn method_tag(m: &Method) -> Cow<'static, str> {
    match standard(m) {
        Some((sent, _)) => Cow::Borrowed(sent),
        None => Cow::Owned(m.as_str().to_owned()),
    }
}

/// Tags the response status: `http.status_code` when not 2xx, `error` when below 100 or above
/// 399 (Brave's `HttpResponseParser.DEFAULT`). The code's text is `http`'s static three digits,
/// so no number is formatted.
pub(crate) fn tag_status(span: &mut zipkin_runtime::Span, status: StatusCode) {
    let code = status.as_u16();
    if !(200..=299).contains(&code) {
        span.tag_value("http.status_code", TagValue::copied(status.as_str()));
    }
    if !(100..=399).contains(&code) {
        span.tag_value("error", TagValue::copied(status.as_str()));
    }
}

/// Tags the request: `http.method`, `http.path`, and `http.route` when known. A standard
/// method is a static value; the others are copied without going through `Display`, inline in
/// the span when short, else into a string an earlier span gave back (`Span::tag_str`).
pub(crate) fn tag_request(
    span: &mut zipkin_runtime::Span,
    method: &Method,
    path: &str,
    route: Option<&str>,
) {
    span.tag_value("http.method", method_tag(method).into());
    span.tag_str("http.path", path);
    if let Some(r) = route {
        span.tag_str("http.route", r);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_methods_are_static_and_others_lower_cased() {
        for (m, name) in [
            (Method::GET, "get"),
            (Method::POST, "post"),
            (Method::PUT, "put"),
            (Method::DELETE, "delete"),
            (Method::PATCH, "patch"),
            (Method::HEAD, "head"),
            (Method::OPTIONS, "options"),
            (Method::CONNECT, "connect"),
            (Method::TRACE, "trace"),
        ] {
            assert!(
                matches!(method_name(&m), Cow::Borrowed(n) if n == name),
                "{m}"
            );
        }
        let custom = Method::from_bytes(b"Purge").unwrap();
        assert!(matches!(method_name(&custom), Cow::Owned(n) if n == "purge"));
    }

    #[test]
    fn method_tags_are_the_method_as_sent_and_static_when_standard() {
        for m in [
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::DELETE,
            Method::PATCH,
            Method::HEAD,
            Method::OPTIONS,
            Method::CONNECT,
            Method::TRACE,
        ] {
            assert!(
                matches!(method_tag(&m), Cow::Borrowed(t) if t == m.as_str()),
                "{m}"
            );
        }
        let custom = Method::from_bytes(b"Purge").unwrap();
        assert!(matches!(method_tag(&custom), Cow::Owned(t) if t == "Purge"));
    }

    #[test]
    fn status_text_is_the_three_digits() {
        // What `tag_status` writes: the code's digits, as Brave writes the number.
        for code in [100u16, 101, 204, 302, 404, 499, 500, 503, 599, 999] {
            let s = StatusCode::from_u16(code).unwrap();
            assert_eq!(s.as_str(), code.to_string());
        }
    }
}
