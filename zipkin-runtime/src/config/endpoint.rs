//! Where spans go ([`CollectorEndpoint`], parsed from `ZIPKIN_ENDPOINT` or
//! `TracerBuilder::endpoint`).

use crate::error::{ConfigError, Setting};
use crate::transport::redact_url;

use super::kafka::{self, KafkaEndpoint};

/// Where spans are sent. `Debug` hides the user and password of a URL.
#[derive(Clone, PartialEq, Eq)]
pub(crate) enum CollectorEndpoint {
    /// POST to a Zipkin collector URL (`http://host:9411/api/v2/spans`).
    Http(String),
    /// Append Zipkin JSON to a file.
    File(std::path::PathBuf),
    /// Produce to a Kafka topic that Zipkin's Kafka collector reads.
    Kafka(KafkaEndpoint),
    /// Write Zipkin JSON to standard output.
    Stdout,
    /// Report nothing (ids still propagate).
    Disabled,
}

/// As `ZIPKIN_ENDPOINT` takes it, with a URL's credentials redacted.
impl std::fmt::Display for CollectorEndpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CollectorEndpoint::Http(url) => f.write_str(&redact_url(url)),
            CollectorEndpoint::File(p) => write!(f, "file:{}", p.display()),
            CollectorEndpoint::Kafka(k) => k.fmt(f),
            CollectorEndpoint::Stdout => f.write_str("stdout"),
            CollectorEndpoint::Disabled => f.write_str("none"),
        }
    }
}

impl std::fmt::Debug for CollectorEndpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CollectorEndpoint::Http(url) => f.debug_tuple("Http").field(&redact_url(url)).finish(),
            CollectorEndpoint::File(p) => f.debug_tuple("File").field(p).finish(),
            CollectorEndpoint::Kafka(k) => f.debug_tuple("Kafka").field(k).finish(),
            CollectorEndpoint::Stdout => f.write_str("Stdout"),
            CollectorEndpoint::Disabled => f.write_str("Disabled"),
        }
    }
}

/// What an endpoint setting accepts in this build (a scheme whose feature is off is left out).
pub(crate) const ENDPOINT_EXPECTED: &str = concat!(
    http_expected!(),
    kafka_expected!(),
    "file:<path>, stdout, or none (also empty or off) to report nothing"
);

#[cfg(feature = "http")]
macro_rules! http_expected {
    () => {
        "an http:// or https:// URL, "
    };
}
#[cfg(not(feature = "http"))]
macro_rules! http_expected {
    () => {
        ""
    };
}
#[cfg(feature = "kafka")]
macro_rules! kafka_expected {
    () => {
        "kafka://host:port[,host:port...][/topic], "
    };
}
#[cfg(not(feature = "kafka"))]
macro_rules! kafka_expected {
    () => {
        ""
    };
}
use {http_expected, kafka_expected};

/// `t` without its scheme `scheme` (`http://`), which may be written in any case.
fn after_scheme<'a>(t: &'a str, scheme: &str) -> Option<&'a str> {
    match t.get(..scheme.len()) {
        Some(head) if head.eq_ignore_ascii_case(scheme) => Some(&t[scheme.len()..]),
        _ => None,
    }
}

impl CollectorEndpoint {
    /// Parses `http(s)://…`, `kafka://…`, `file:<path>`, `stdout` or `none`, given as
    /// `setting`.
    pub(crate) fn parse(s: &str, setting: Setting) -> Result<CollectorEndpoint, ConfigError> {
        let t = s.trim();
        let invalid = || ConfigError::new(setting, redact_url(s), ENDPOINT_EXPECTED);
        // A scheme whose feature this build lacks is said at once, with the value as given.
        let missing = |feature: &str| {
            ConfigError::new(setting, redact_url(s), ENDPOINT_EXPECTED).because(format!(
                "this build has no {feature} transport: the `{}` feature of zipkin-rs / \
                 zipkin-runtime is off",
                feature.to_ascii_lowercase()
            ))
        };
        if after_scheme(t, "http://").is_some() || after_scheme(t, "https://").is_some() {
            if cfg!(not(feature = "http")) {
                return Err(missing("HTTP"));
            }
            Ok(CollectorEndpoint::Http(t.to_owned()))
        } else if let Some(rest) = after_scheme(t, "kafka://") {
            if cfg!(not(feature = "kafka")) {
                return Err(missing("Kafka"));
            }
            kafka::parse(rest, t, setting).map(CollectorEndpoint::Kafka)
        } else if let Some(p) = t.strip_prefix("file:") {
            if p.is_empty() {
                return Err(invalid());
            }
            Ok(CollectorEndpoint::File(p.into()))
        } else if t.eq_ignore_ascii_case("stdout") {
            Ok(CollectorEndpoint::Stdout)
        } else if t.is_empty() || t.eq_ignore_ascii_case("none") || t.eq_ignore_ascii_case("off") {
            Ok(CollectorEndpoint::Disabled)
        } else {
            Err(invalid())
        }
    }
}
