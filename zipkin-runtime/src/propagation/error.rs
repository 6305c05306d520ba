//! Why a propagation header was rejected. Messages name the header and the rule, never the
//! received value: it is untrusted input and must not reach logs verbatim.

/// A malformed propagation header. [`extract`](super::extract) never returns it (malformed input
/// starts a new trace and is counted); the per-format parsers do, for diagnostics and tests.
///
/// ```
/// # extern crate zipkin_runtime as zipkin_rs;
/// use zipkin_rs::propagation::{b3, HeaderError};
/// let err = b3::parse_single(b"463AC35C9F6413AD-a2fb4a1d1a96d312").unwrap_err();
/// assert_eq!(err, HeaderError::NotLowerHex { header: "b3", field: "trace id" });
/// assert_eq!(err.to_string(), "b3: trace id is not lower-case hex, expected only 0-9 and a-f");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum HeaderError {
    /// A header that is present with an empty value.
    #[error("{header} is empty, expected a value")]
    Empty {
        /// The header.
        header: &'static str,
    },
    /// A value longer than the format allows; rejected before it is scanned.
    #[error("{header} is {found} bytes long, expected at most {max}")]
    TooLong {
        /// The header.
        header: &'static str,
        /// Its length.
        found: usize,
        /// The longest valid value.
        max: usize,
    },
    /// A field of the wrong length.
    #[error("{header}: {field} has {found} characters, expected {expected}")]
    Length {
        /// The header.
        header: &'static str,
        /// The field within it.
        field: &'static str,
        /// The valid lengths.
        expected: &'static str,
        /// The length found.
        found: usize,
    },
    /// A character outside `0-9a-f` in an id (upper case, separators, control or non-ASCII bytes).
    #[error("{header}: {field} is not lower-case hex, expected only 0-9 and a-f")]
    NotLowerHex {
        /// The header.
        header: &'static str,
        /// The field within it.
        field: &'static str,
    },
    /// An all-zero trace or span id, which B3 and Zipkin reserve for "absent".
    #[error("{header}: {field} is all zeros, expected a non-zero id")]
    Zero {
        /// The header.
        header: &'static str,
        /// The field within it.
        field: &'static str,
    },
    /// A sampling state or flags field that is not one of the valid values.
    #[error("{header}: sampling state is invalid, expected {expected}")]
    Sampling {
        /// The header.
        header: &'static str,
        /// The valid values.
        expected: &'static str,
    },
    /// A single header with too few or too many `-`-separated fields.
    #[error("{header} has {found} fields, expected {expected}")]
    Fields {
        /// The header.
        header: &'static str,
        /// How many fields it had (counting stops at the first one too many).
        found: usize,
        /// The valid shapes.
        expected: &'static str,
    },
    /// One multi-header id without the other it needs.
    #[error("{present} is present but {missing} is missing, expected both or neither")]
    Missing {
        /// The header that was sent.
        present: &'static str,
        /// The header it needs.
        missing: &'static str,
    },
    /// A `traceparent` version this parser cannot read.
    #[error("traceparent: version is invalid, expected 2 lower-case hex characters other than ff")]
    Version,
}
