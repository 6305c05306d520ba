//! What both wire formats write alike: the local address rendered once, service names
//! lower-cased, IPv4-mapped addresses as IPv4, and annotations without repeats or empty values.

use std::borrow::Cow;
use std::net::IpAddr;

use crate::record::SpanRecord;

/// The local address, pre-rendered for both encodings.
#[derive(Clone, Debug, Default)]
pub(crate) struct LocalIp {
    /// `"ipv4":"10.0.0.1"` or `"ipv6":"::1"` (without separators), empty when unknown.
    pub(super) json: String,
    /// The address as proto3 wants it.
    pub(super) ip: Option<IpAddr>,
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
