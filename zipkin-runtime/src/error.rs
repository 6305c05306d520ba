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

/// Invalid tracer configuration.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ConfigError {
    /// A sample rate outside 0..=100.
    #[error("sample rate {0} is out of range, expected a percentage from 0 to 100")]
    SampleRate(f64),
    /// An environment variable that could not be read as the type it needs.
    #[error("environment variable {name}={value:?} is invalid: expected {expected}")]
    Env {
        /// The variable.
        name: &'static str,
        /// Its value.
        value: String,
        /// What it should look like.
        expected: &'static str,
    },
    /// An empty service name.
    #[error("service name is empty, expected a non-empty name such as \"webapp\"")]
    EmptyServiceName,
    /// An endpoint URL that is not usable.
    #[error(
        "collector endpoint {0:?} is invalid: expected an http(s):// URL, file:<path> or stdout"
    )]
    Endpoint(String),
    /// Any other invalid setting.
    #[error("{0}")]
    Other(String),
}

/// A transport that failed to deliver a message.
///
/// ```
/// use std::time::Duration;
/// use zipkin_runtime::TransportError;
/// let e = TransportError::Status { status: 429, retry_after: Some(Duration::from_secs(2)) };
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
    #[error("collector answered HTTP {status}, expected 2xx{}", asked(retry_after))]
    Status {
        /// The status code.
        status: u16,
        /// How long the collector asked us to wait before sending again (`Retry-After` of a
        /// 429 or 503); `None` when it did not say, or said something unreadable.
        retry_after: Option<std::time::Duration>,
    },
    /// The collector could not be reached or the request failed midway.
    #[error("could not deliver spans to the collector: {0}")]
    Io(String),
    /// The transport is closed.
    #[error("transport is closed")]
    Closed,
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
        }
    }

    /// Whether retrying the same message could succeed (5xx, 429 and connection errors).
    /// A `Retry-After` does not change it: it says when, not whether.
    pub fn is_retryable(&self) -> bool {
        match self {
            TransportError::Status { status, .. } => *status >= 500 || *status == 429,
            TransportError::Io(_) => true,
            TransportError::Closed => false,
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
