//! Header carriers: where propagation writes and reads its fields. Implemented for
//! `http::HeaderMap` (what reqwest, hyper, axum and tonic use), for lists of name/value pairs and
//! for `HashMap<String, String>`; any other carrier implements two small traits.

use std::collections::HashMap;
use std::hash::BuildHasher;

use http::{HeaderMap, HeaderName, HeaderValue};

/// A header that propagation reads or writes.
///
/// ```
/// # extern crate zipkin_runtime as zipkin_rs;
/// use zipkin_rs::propagation::Field;
/// assert_eq!(Field::TraceId.name(), "X-B3-TraceId");
/// assert_eq!(Field::TraceId.lowercase_name(), "x-b3-traceid");
/// assert_eq!(Field::TraceId.header_name().as_str(), "x-b3-traceid");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Field {
    /// `X-B3-TraceId`: 16 or 32 lower-case hex characters.
    TraceId,
    /// `X-B3-SpanId`: 16 lower-case hex characters.
    SpanId,
    /// `X-B3-ParentSpanId`: 16 lower-case hex characters; absent on a root.
    ParentSpanId,
    /// `X-B3-Sampled`: `1` or `0`; absent defers the decision.
    Sampled,
    /// `X-B3-Flags`: `1` for debug.
    Flags,
    /// The single `b3` header.
    B3,
    /// W3C `traceparent`.
    Traceparent,
}

const X_B3_TRACE_ID: HeaderName = HeaderName::from_static("x-b3-traceid");
const X_B3_SPAN_ID: HeaderName = HeaderName::from_static("x-b3-spanid");
const X_B3_PARENT_SPAN_ID: HeaderName = HeaderName::from_static("x-b3-parentspanid");
const X_B3_SAMPLED: HeaderName = HeaderName::from_static("x-b3-sampled");
const X_B3_FLAGS: HeaderName = HeaderName::from_static("x-b3-flags");
const B3: HeaderName = HeaderName::from_static("b3");
const TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");

impl Field {
    /// Every field, in the order multi-header injection writes them.
    pub const ALL: [Field; 7] = [
        Field::TraceId,
        Field::SpanId,
        Field::ParentSpanId,
        Field::Sampled,
        Field::Flags,
        Field::B3,
        Field::Traceparent,
    ];

    /// The name as the B3 spec and py_zipkin spell it (`X-B3-TraceId`, `b3`, `traceparent`).
    /// Used as the key in case-sensitive carriers such as `HashMap<String, String>`.
    pub const fn name(self) -> &'static str {
        match self {
            Field::TraceId => "X-B3-TraceId",
            Field::SpanId => "X-B3-SpanId",
            Field::ParentSpanId => "X-B3-ParentSpanId",
            Field::Sampled => "X-B3-Sampled",
            Field::Flags => "X-B3-Flags",
            Field::B3 => "b3",
            Field::Traceparent => "traceparent",
        }
    }

    /// The lower-case name, as HTTP/2, gRPC metadata and `http::HeaderMap` hold it.
    pub const fn lowercase_name(self) -> &'static str {
        match self {
            Field::TraceId => "x-b3-traceid",
            Field::SpanId => "x-b3-spanid",
            Field::ParentSpanId => "x-b3-parentspanid",
            Field::Sampled => "x-b3-sampled",
            Field::Flags => "x-b3-flags",
            Field::B3 => "b3",
            Field::Traceparent => "traceparent",
        }
    }

    /// The `http` crate's name for this header (a constant: no allocation, no validation).
    #[inline]
    pub const fn header_name(self) -> HeaderName {
        match self {
            Field::TraceId => X_B3_TRACE_ID,
            Field::SpanId => X_B3_SPAN_ID,
            Field::ParentSpanId => X_B3_PARENT_SPAN_ID,
            Field::Sampled => X_B3_SAMPLED,
            Field::Flags => X_B3_FLAGS,
            Field::B3 => B3,
            Field::Traceparent => TRACEPARENT,
        }
    }

    /// Whether `name` names this field, ignoring ASCII case.
    ///
    /// ```
    /// # extern crate zipkin_runtime as zipkin_rs;
    /// use zipkin_rs::propagation::Field;
    /// assert!(Field::ParentSpanId.matches(b"X-B3-Parentspanid")); // as Go sends it
    /// assert!(!Field::ParentSpanId.matches(b"X-B3-SpanId"));
    /// ```
    #[inline]
    pub fn matches(self, name: &[u8]) -> bool {
        name.eq_ignore_ascii_case(self.lowercase_name().as_bytes())
    }
}

/// A carrier that propagation can write headers into.
///
/// ```
/// # extern crate zipkin_runtime as zipkin_rs;
/// use zipkin_rs::propagation::{Field, Injector};
/// // A carrier of our own: collects `name=value` lines.
/// struct Lines(String);
/// impl Injector for Lines {
///     fn set(&mut self, field: Field, value: &str) {
///         self.0.push_str(&format!("{}={}\n", field.lowercase_name(), value));
///     }
/// }
/// let mut lines = Lines(String::new());
/// lines.set(Field::Sampled, "1");
/// assert_eq!(lines.0, "x-b3-sampled=1\n");
/// ```
pub trait Injector {
    /// Sets `field` to `value`, replacing a value set before. Values are ASCII, at most 68 bytes.
    fn set(&mut self, field: Field, value: &str);
}

/// A carrier that propagation can read headers from. Names match case-insensitively; when a
/// header appears more than once, the first value wins (as the B3 spec says).
///
/// ```
/// # extern crate zipkin_runtime as zipkin_rs;
/// use zipkin_rs::propagation::{Extractor, Field};
/// let headers = vec![("X-B3-Sampled", "0"), ("x-b3-sampled", "1")];
/// assert_eq!(headers.get(Field::Sampled), Some(&b"0"[..]));
/// assert_eq!(headers.get(Field::TraceId), None);
/// ```
pub trait Extractor {
    /// The first value of `field`, or `None` when the header is absent.
    fn get(&self, field: Field) -> Option<&[u8]>;
}

impl Injector for HeaderMap {
    #[inline]
    fn set(&mut self, field: Field, value: &str) {
        let v = match value {
            // The common flag values need no copy.
            "0" => HeaderValue::from_static("0"),
            "1" => HeaderValue::from_static("1"),
            _ => match HeaderValue::from_str(value) {
                Ok(v) => v,
                // Our formatters only produce visible ASCII; never fail the caller's request.
                Err(_) => return,
            },
        };
        self.insert(field.header_name(), v);
    }
}

impl Extractor for HeaderMap {
    #[inline]
    fn get(&self, field: Field) -> Option<&[u8]> {
        HeaderMap::get(self, field.header_name()).map(HeaderValue::as_bytes)
    }
}

impl<K: AsRef<[u8]>, V: AsRef<[u8]>> Extractor for [(K, V)] {
    fn get(&self, field: Field) -> Option<&[u8]> {
        self.iter()
            .find(|(k, _)| field.matches(k.as_ref()))
            .map(|(_, v)| v.as_ref())
    }
}

impl<K: AsRef<[u8]>, V: AsRef<[u8]>> Extractor for Vec<(K, V)> {
    #[inline]
    fn get(&self, field: Field) -> Option<&[u8]> {
        Extractor::get(self.as_slice(), field)
    }
}

impl Injector for Vec<(String, String)> {
    fn set(&mut self, field: Field, value: &str) {
        match self.iter_mut().find(|(k, _)| field.matches(k.as_bytes())) {
            Some(slot) => {
                slot.1.clear();
                slot.1.push_str(value);
            }
            None => self.push((field.name().to_owned(), value.to_owned())),
        }
    }
}

impl<S: BuildHasher> Extractor for HashMap<String, String, S> {
    fn get(&self, field: Field) -> Option<&[u8]> {
        // Exact spellings first (cheap lookups), then any other case.
        HashMap::get(self, field.name())
            .or_else(|| HashMap::get(self, field.lowercase_name()))
            .or_else(|| {
                self.iter()
                    .find(|(k, _)| field.matches(k.as_bytes()))
                    .map(|(_, v)| v)
            })
            .map(String::as_bytes)
    }
}

impl<S: BuildHasher> Injector for HashMap<String, String, S> {
    fn set(&mut self, field: Field, value: &str) {
        // Replace a value under any spelling of the name rather than add a second key.
        if let Some(v) = self
            .iter_mut()
            .find(|(k, _)| field.matches(k.as_bytes()))
            .map(|(_, v)| v)
        {
            v.clear();
            v.push_str(value);
            return;
        }
        self.insert(field.name().to_owned(), value.to_owned());
    }
}

impl<E: Extractor + ?Sized> Extractor for &E {
    #[inline]
    fn get(&self, field: Field) -> Option<&[u8]> {
        (**self).get(field)
    }
}

impl<I: Injector + ?Sized> Injector for &mut I {
    #[inline]
    fn set(&mut self, field: Field, value: &str) {
        (**self).set(field, value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_names_are_the_lowercase_names() {
        for f in Field::ALL {
            assert_eq!(f.header_name().as_str(), f.lowercase_name());
            assert_eq!(f.name().to_ascii_lowercase(), f.lowercase_name());
            assert!(f.matches(f.name().as_bytes()));
            assert!(f.matches(f.name().to_ascii_uppercase().as_bytes()));
        }
    }

    #[test]
    fn header_map_first_value_wins_and_names_ignore_case() {
        let mut m = HeaderMap::new();
        m.append("X-B3-SAMPLED", HeaderValue::from_static("0"));
        m.append("x-b3-sampled", HeaderValue::from_static("1"));
        assert_eq!(Extractor::get(&m, Field::Sampled), Some(&b"0"[..]));
        assert_eq!(Extractor::get(&m, Field::Flags), None);
    }

    #[test]
    fn injectors_replace_instead_of_duplicating() {
        let mut v: Vec<(String, String)> = vec![("x-b3-sampled".into(), "0".into())];
        v.set(Field::Sampled, "1");
        v.set(Field::TraceId, "463ac35c9f6413ad");
        assert_eq!(
            v,
            vec![
                ("x-b3-sampled".to_owned(), "1".to_owned()),
                ("X-B3-TraceId".to_owned(), "463ac35c9f6413ad".to_owned())
            ]
        );

        let mut h: HashMap<String, String> = HashMap::new();
        h.insert("X-B3-SAMPLED".into(), "0".into());
        h.set(Field::Sampled, "1");
        h.set(Field::B3, "0");
        assert_eq!(h.len(), 2);
        assert_eq!(h["X-B3-SAMPLED"], "1");
        assert_eq!(Extractor::get(&h, Field::Sampled), Some(&b"1"[..]));
        assert_eq!(Extractor::get(&h, Field::B3), Some(&b"0"[..]));

        let mut m = HeaderMap::new();
        m.set(Field::SpanId, "a2fb4a1d1a96d312");
        m.set(Field::SpanId, "00f067aa0ba902b7");
        assert_eq!(m.len(), 1);
        assert_eq!(m["x-b3-spanid"], "00f067aa0ba902b7");
    }
}
