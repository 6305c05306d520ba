//! A header value rendered on the stack, as the B3 and W3C writers produce it.

/// The longest valid single header: 32 + 1 + 16 + 1 + 1 + 1 + 16.
pub const SINGLE_MAX_LEN: usize = 68;

/// A header value written on the stack (at most 68 ASCII bytes). Derefs to `&str`.
///
/// ```
/// # extern crate zipkin_runtime as zipkin_rs;
/// use zipkin_rs::{propagation::b3, Sampling, SpanContext};
/// let ctx = SpanContext {
///     trace_id: "463ac35c9f6413ad".parse().unwrap(),
///     span_id: "a2fb4a1d1a96d312".parse().unwrap(),
///     parent_id: None,
///     sampling: Sampling::NotSampled,
///     debug: false,
/// };
/// let text = b3::write_single(&ctx);
/// assert_eq!(text.as_str(), "463ac35c9f6413ad-a2fb4a1d1a96d312-0");
/// assert_eq!(text.len(), 35);
/// ```
#[derive(Clone, Copy)]
pub struct HeaderText {
    pub(super) buf: [u8; SINGLE_MAX_LEN],
    pub(super) len: u8,
}

impl HeaderText {
    pub(super) const fn new() -> HeaderText {
        HeaderText {
            buf: [0; SINGLE_MAX_LEN],
            len: 0,
        }
    }

    /// The text.
    #[inline]
    pub fn as_str(&self) -> &str {
        // Only ever holds ASCII written by the formatters.
        std::str::from_utf8(&self.buf[..self.len as usize]).unwrap_or("")
    }
}

impl std::ops::Deref for HeaderText {
    type Target = str;
    #[inline]
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl std::fmt::Debug for HeaderText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self.as_str(), f)
    }
}

impl std::fmt::Display for HeaderText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
