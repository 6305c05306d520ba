//! A tag's value ([`TagValue`]): static text as it is, short text inline, longer text in a
//! `String`. Most values are short (`GET`, `/orders/42`, `200`, a user id), and a span's record
//! is freed on the reporter's thread, where every block the application thread allocated for
//! it costs a `malloc` on glibc's slow path (benchmarks: http_layers/server_layer_sampled,
//! tracing_bridge/zipkin_layer_sampled).

use std::borrow::Cow;
use std::fmt;

/// Bytes kept inline: a value this long or shorter allocates nothing.
const INLINE: usize = 22;

/// A tag's value: text, kept without an allocation when static or at most 22 bytes long.
#[derive(Clone)]
pub struct TagValue(Repr);

#[derive(Clone)]
enum Repr {
    Static(&'static str),
    /// UTF-8 text in `buf[..len]`.
    Inline {
        len: u8,
        buf: [u8; INLINE],
    },
    Heap(String),
}

impl TagValue {
    /// A copy of `s`, inline when it fits.
    pub fn copied(s: &str) -> TagValue {
        if s.len() <= INLINE {
            let mut buf = [0; INLINE];
            buf[..s.len()].copy_from_slice(s.as_bytes());
            TagValue(Repr::Inline {
                len: s.len() as u8,
                buf,
            })
        } else {
            TagValue(Repr::Heap(s.to_owned()))
        }
    }

    /// `value` rendered with `Display`, inline when the text fits.
    pub fn display(value: &(impl fmt::Display + ?Sized)) -> TagValue {
        TagValue::display_into(value, String::new)
    }

    /// [`TagValue::display`], text that does not fit inline written into `buf` (an empty
    /// string to reuse).
    pub(crate) fn display_into(
        value: &(impl fmt::Display + ?Sized),
        buf: impl FnOnce() -> String,
    ) -> TagValue {
        let mut w = Writer {
            len: 0,
            buf: [0; INLINE],
            spill: None,
            spare: Some(buf),
        };
        // A `Display` that fails keeps what it wrote, as `to_string` would not: a tag is
        // better cut than lost.
        let _ = fmt::write(&mut w, format_args!("{value}"));
        match w.spill {
            Some(s) => TagValue(Repr::Heap(s)),
            None => TagValue(Repr::Inline {
                len: w.len as u8,
                buf: w.buf,
            }),
        }
    }

    /// The text.
    #[inline]
    pub fn as_str(&self) -> &str {
        match &self.0 {
            Repr::Static(s) => s,
            Repr::Inline { len, buf } => {
                // Benchmark: tracing_bridge/zipkin_layer_sampled (checking the text again on
                // every read cost more than the allocation it replaces).
                // SAFETY: `buf[..len]` only ever holds whole `&str`s copied in one after
                // another (`copied`, `Writer`), cut only at a char boundary (`truncate`).
                unsafe { std::str::from_utf8_unchecked(&buf[..*len as usize]) }
            }
            Repr::Heap(s) => s,
        }
    }

    /// The text's length in bytes, without looking at the text.
    #[inline]
    fn byte_len(&self) -> usize {
        match &self.0 {
            Repr::Static(s) => s.len(),
            Repr::Inline { len, .. } => *len as usize,
            Repr::Heap(s) => s.len(),
        }
    }

    /// A copy of `s`, inline when it fits, else in `buf` (an empty string to reuse).
    #[inline]
    pub(crate) fn copied_into(s: &str, buf: impl FnOnce() -> String) -> TagValue {
        if s.len() <= INLINE {
            return TagValue::copied(s);
        }
        let mut b = buf();
        b.push_str(s);
        TagValue(Repr::Heap(b))
    }

    /// The `String` holding the text, if it is kept in one.
    pub(crate) fn into_heap(self) -> Option<String> {
        match self.0 {
            Repr::Heap(s) => Some(s),
            _ => None,
        }
    }

    /// The text as a `String`, without a copy when it is one.
    pub fn into_string(self) -> String {
        match self.0 {
            Repr::Heap(s) => s,
            _ => self.as_str().to_owned(),
        }
    }

    /// Cuts the text to at most `max` bytes, at a char boundary. Returns whether it was cut.
    #[inline]
    pub(crate) fn truncate(&mut self, max: usize) -> bool {
        if self.byte_len() <= max {
            return false;
        }
        self.cut(max);
        true
    }

    #[cold]
    fn cut(&mut self, max: usize) {
        let s = self.as_str();
        let mut cut = max;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        match &mut self.0 {
            Repr::Static(s) => *s = &s[..cut],
            Repr::Inline { len, .. } => *len = cut as u8,
            Repr::Heap(s) => s.truncate(cut),
        }
    }
}

/// Writes inline until the text no longer fits, then into a `String` (`spare`'s).
struct Writer<F> {
    len: usize,
    buf: [u8; INLINE],
    spill: Option<String>,
    spare: Option<F>,
}

impl<F: FnOnce() -> String> fmt::Write for Writer<F> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        if let Some(spill) = &mut self.spill {
            spill.push_str(s);
        } else if self.len + s.len() <= INLINE {
            self.buf[self.len..self.len + s.len()].copy_from_slice(s.as_bytes());
            self.len += s.len();
        } else {
            let mut spill = self.spare.take().map_or_else(String::new, |f| f());
            spill.reserve(self.len + s.len());
            // Only whole `&str`s were written before.
            spill.push_str(std::str::from_utf8(&self.buf[..self.len]).unwrap_or(""));
            spill.push_str(s);
            self.spill = Some(spill);
        }
        Ok(())
    }
}

impl std::ops::Deref for TagValue {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for TagValue {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl From<&'static str> for TagValue {
    fn from(s: &'static str) -> TagValue {
        TagValue(Repr::Static(s))
    }
}

impl From<String> for TagValue {
    fn from(s: String) -> TagValue {
        TagValue(Repr::Heap(s))
    }
}

impl From<Cow<'static, str>> for TagValue {
    fn from(s: Cow<'static, str>) -> TagValue {
        match s {
            Cow::Borrowed(s) => TagValue(Repr::Static(s)),
            Cow::Owned(s) => TagValue(Repr::Heap(s)),
        }
    }
}

impl PartialEq for TagValue {
    fn eq(&self, other: &TagValue) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for TagValue {}

impl PartialEq<str> for TagValue {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl fmt::Debug for TagValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for TagValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn is_inline(v: &TagValue) -> bool {
        matches!(v.0, Repr::Inline { .. })
    }

    #[test]
    fn short_text_is_inline_and_long_text_on_the_heap() {
        let short = TagValue::copied("/orders/42");
        assert!(is_inline(&short));
        assert_eq!(short.as_str(), "/orders/42");
        let edge = "x".repeat(INLINE);
        assert!(is_inline(&TagValue::copied(&edge)));
        let long = TagValue::copied(&"x".repeat(INLINE + 1));
        assert!(!is_inline(&long));
        assert_eq!(long.len(), INLINE + 1);
        assert!(matches!(TagValue::from("GET").0, Repr::Static("GET")));
    }

    #[test]
    fn display_writes_inline_then_spills_keeping_every_piece() {
        assert!(is_inline(&TagValue::display(&42u64)));
        assert_eq!(TagValue::display(&42u64).as_str(), "42");
        // Several writes, the last one crossing the inline bound.
        let parts = format!("{:?}", ("ünïcode", 1234567890u64, "tail-tail-tail"));
        let v = TagValue::display(&format_args!(
            "{:?}",
            ("ünïcode", 1234567890u64, "tail-tail-tail")
        ));
        assert!(!is_inline(&v));
        assert_eq!(v.as_str(), parts);
        assert_eq!(v.clone().into_string(), parts);
    }

    #[test]
    fn truncation_cuts_at_char_boundaries_in_every_form() {
        for mut v in [
            TagValue::from("aé€"),
            TagValue::copied("aé€"),
            TagValue::from("aé€".to_owned()),
        ] {
            assert!(v.truncate(5), "{v:?}");
            assert_eq!(v.as_str(), "aé", "{v:?}");
            assert!(!v.truncate(5));
            assert!(v.truncate(2));
            assert_eq!(v.as_str(), "a");
        }
    }
}
