//! Typed errors. Each message says what was wrong and what was expected.

/// An id that could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    /// Wrong number of hex characters.
    #[error("id has {found} characters, expected {expected} lower-case hex characters")]
    Length {
        /// What the id should have had.
        expected: &'static str,
        /// What it had.
        found: usize,
    },
    /// A character outside `0-9a-f`.
    #[error("id is not lower-case hex (expected only 0-9 and a-f)")]
    NotLowerHex,
    /// All zeros, which Zipkin and B3 reserve for "absent".
    #[error("id is all zeros, expected a non-zero id")]
    Zero,
}

/// Invalid configuration: the setting, where it came from (an environment variable or a method
/// in code), the value given, and what is accepted. `Debug` prints the same sentence as
/// `Display`, so that `fn main() -> Result<(), Box<dyn Error>>` shows it as is.
///
/// ```
/// # extern crate zipkin_runtime as zipkin_rs;
/// use zipkin_rs::{ConfigError, Setting, Tracer};
/// let err = Tracer::builder().endpoint("stdot").unwrap_err();
/// assert_eq!(err.setting(), Setting::Code("TracerBuilder::endpoint"));
/// assert_eq!(err.value(), "stdot");
/// // What this build accepts (kafka:// with the `kafka` feature).
/// let text = format!("{err:?}");
/// assert!(text.starts_with(
///     "TracerBuilder::endpoint(\"stdot\") is invalid: expected an http:// or https:// URL, "
/// ));
/// assert!(text.ends_with("file:<path>, stdout, or none (also empty or off) to report nothing"));
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct ConfigError {
    setting: Setting,
    value: String,
    expected: std::borrow::Cow<'static, str>,
    reason: Option<String>,
}

/// Where a setting came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Setting {
    /// An environment variable, such as `ZIPKIN_ENDPOINT`.
    Env(&'static str),
    /// A method or field set in code, such as `TracerBuilder::endpoint`.
    Code(&'static str),
}

impl std::fmt::Display for Setting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Setting::Env(name) | Setting::Code(name) => f.write_str(name),
        }
    }
}

impl ConfigError {
    /// `value` of `setting` is not accepted; `expected` says what is.
    pub(crate) fn new(
        setting: Setting,
        value: impl Into<String>,
        expected: impl Into<std::borrow::Cow<'static, str>>,
    ) -> ConfigError {
        ConfigError {
            setting,
            value: value.into(),
            expected: expected.into(),
            reason: None,
        }
    }

    /// Adds why the value was not usable (an I/O error, say).
    pub(crate) fn because(mut self, reason: impl std::fmt::Display) -> ConfigError {
        self.reason = Some(reason.to_string());
        self
    }

    /// The same error, for a value that came from `setting` (the variable or method the user
    /// wrote, rather than the one it was passed on to).
    pub(crate) fn named(mut self, setting: Setting) -> ConfigError {
        self.setting = setting;
        self
    }

    /// The setting, and where it came from.
    pub fn setting(&self) -> Setting {
        self.setting
    }

    /// The value that was given (`<redacted>` for secrets).
    pub fn value(&self) -> &str {
        &self.value
    }

    /// What the setting accepts.
    pub fn expected(&self) -> &str {
        &self.expected
    }
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.setting {
            Setting::Env(name) => write!(f, "{name}={:?}", self.value)?,
            Setting::Code(name) => write!(f, "{name}({:?})", self.value)?,
        }
        f.write_str(" is invalid")?;
        if let Some(reason) = &self.reason {
            write!(f, " ({reason})")?;
        }
        write!(f, ": expected {}", self.expected)
    }
}

impl std::fmt::Debug for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}

impl std::error::Error for ConfigError {}

/// A transport that failed to deliver a message.
///
/// ```
/// # extern crate zipkin_runtime as zipkin_rs;
/// use std::time::Duration;
/// use zipkin_rs::TransportError;
/// let e = TransportError::Status {
///     status: 429,
///     retry_after: Some(Duration::from_secs(2)),
///     said: None,
/// };
/// assert!(e.is_retryable());
/// assert_eq!(e.retry_after(), Some(Duration::from_secs(2)));
/// assert_eq!(
///     e.to_string(),
///     "collector answered HTTP 429, expected 2xx; it asked to retry after 2s"
/// );
/// ```
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    /// The collector answered with an error status.
    #[error(
        "collector answered HTTP {status}, expected 2xx{}{}",
        told(said),
        asked(retry_after)
    )]
    Status {
        /// The status code.
        status: u16,
        /// How long the collector asked us to wait before sending again (`Retry-After` of a
        /// 429 or 503); `None` when it did not say, or said something unreadable.
        retry_after: Option<std::time::Duration>,
        /// Where the request went and what the answer said, for people: the HTTP transport's
        /// `POST <url>` (without credentials) and the start of the response body, such as
        /// Zipkin's "Expected a JSON_V1 encoded list, but received: JSON_V2" for a v1 path.
        said: Option<String>,
    },
    /// The collector could not be reached or the request failed midway.
    #[error("could not deliver spans to the collector: {0}")]
    Io(String),
    /// The transport is closed.
    #[error("transport is closed")]
    Closed,
    /// The transport panicked while sending. The message is dropped (never retried) and the
    /// reporter goes on with the next one.
    #[error("the transport panicked while sending: {0}")]
    Panicked(String),
}

fn told(said: &Option<String>) -> String {
    match said {
        Some(s) => format!(" ({s})"),
        None => String::new(),
    }
}

fn asked(retry_after: &Option<std::time::Duration>) -> String {
    match retry_after {
        Some(d) => format!("; it asked to retry after {d:?}"),
        None => String::new(),
    }
}

impl TransportError {
    /// An error status without `Retry-After`.
    pub fn status(status: u16) -> TransportError {
        TransportError::Status {
            status,
            retry_after: None,
            said: None,
        }
    }

    /// Whether retrying the same message could succeed (5xx, 429 and connection errors).
    /// A `Retry-After` does not change it: it says when, not whether.
    pub fn is_retryable(&self) -> bool {
        match self {
            TransportError::Status { status, .. } => *status >= 500 || *status == 429,
            TransportError::Io(_) => true,
            TransportError::Closed | TransportError::Panicked(_) => false,
        }
    }

    /// How long the collector asked to wait before the next request, if it said.
    pub fn retry_after(&self) -> Option<std::time::Duration> {
        match self {
            TransportError::Status { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

/// An error with its sources, for the `error` tag: `Display` writes the error, then each source
/// whose text is not already written, `: `-separated. A transport error's own text is often
/// only its kind (hyper's "client error (Connect)"); the cause ("Connection refused") is a
/// source.
///
/// ```
/// # extern crate zipkin_runtime as zipkin_rs;
/// use zipkin_rs::{ErrorChain, SpanGuard};
/// let mut span = SpanGuard::new("load settings");
/// if let Err(e) = std::fs::read("/no/such/file") {
///     span.error(&ErrorChain(&e));
/// }
/// ```
#[derive(Clone, Copy, Debug)]
pub struct ErrorChain<'a>(pub &'a (dyn std::error::Error + 'static));

impl std::fmt::Display for ErrorChain<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut said = String::new();
        let mut cur = Some(self.0);
        while let Some(e) = cur {
            let text = e.to_string();
            if !said.contains(&text) {
                if !said.is_empty() {
                    said.push_str(": ");
                }
                said.push_str(&text);
            }
            cur = e.source();
        }
        f.write_str(&said)
    }
}

#[cfg(test)]
mod tests {
    use super::ErrorChain;

    #[derive(Debug)]
    struct E(&'static str, Option<Box<E>>);

    impl std::fmt::Display for E {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.0)
        }
    }

    impl std::error::Error for E {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            self.1.as_deref().map(|e| e as _)
        }
    }

    #[test]
    fn an_error_chain_writes_each_cause_once() {
        let refused = E("Connection refused", None);
        let connect = E(
            "tcp connect error: Connection refused",
            Some(Box::new(refused)),
        );
        let top = E("client error (Connect)", Some(Box::new(connect)));
        assert_eq!(
            ErrorChain(&top).to_string(),
            "client error (Connect): tcp connect error: Connection refused"
        );
        assert_eq!(ErrorChain(&E("alone", None)).to_string(), "alone");
    }
}
