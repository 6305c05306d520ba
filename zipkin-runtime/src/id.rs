//! Trace and span identifiers, their lower-case hex form, and the id generator.
//!
//! Trace ids are 128-bit by default (64-bit on request); span ids are 64-bit. Generated ids are
//! random and never zero. A trace id whose upper 64 bits are zero is a 64-bit id, which is also
//! how the Zipkin server normalises a 32-character id that starts with 16 zeros.

use std::fmt;
use std::num::NonZeroU64;

use crate::error::IdError;
use crate::rng::{next_nonzero_u64, next_u64};

/// A 64-bit span id. Never zero when generated or parsed.
///
/// ```
/// # extern crate zipkin_runtime as zipkin_rs;
/// use zipkin_rs::SpanId;
/// let id: SpanId = "00f067aa0ba902b7".parse().unwrap();
/// assert_eq!(id.to_string(), "00f067aa0ba902b7");
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SpanId(NonZeroU64);

/// A trace id: 128-bit, or 64-bit when the upper half is zero.
///
/// ```
/// # extern crate zipkin_runtime as zipkin_rs;
/// use zipkin_rs::TraceId;
/// let long: TraceId = "463ac35c9f6413ad48485a3953bb6124".parse().unwrap();
/// assert!(long.is_128bit());
/// let short: TraceId = "48485a3953bb6124".parse().unwrap();
/// assert_eq!(short.to_string(), "48485a3953bb6124");
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TraceId {
    high: u64,
    low: u64,
}

impl SpanId {
    /// Wraps a raw id; `None` for zero, which B3 and Zipkin reject.
    pub const fn new(id: u64) -> Option<SpanId> {
        match NonZeroU64::new(id) {
            Some(v) => Some(SpanId(v)),
            None => None,
        }
    }

    /// A fresh random id from the thread-local generator.
    #[inline]
    pub fn random() -> SpanId {
        // Zero comes once in 2^64 draws; taking 1 instead keeps a loop off every span's path.
        SpanId(NonZeroU64::new(next_u64()).unwrap_or(NonZeroU64::MIN))
    }

    /// The raw value.
    #[inline]
    pub const fn get(self) -> u64 {
        self.0.get()
    }

    /// The 16 lower-case hex characters, without allocating.
    #[inline]
    pub fn to_hex(self) -> HexId {
        let mut out = HexId::empty();
        write_hex_u64(self.0.get(), &mut out.buf[..16]);
        out.len = 16;
        out
    }

    /// Parses exactly 16 lower-case hex characters, not all zero.
    pub fn from_hex(s: &str) -> Result<SpanId, IdError> {
        if s.len() != 16 {
            return Err(IdError::Length {
                expected: "16",
                found: s.len(),
            });
        }
        let v = parse_hex_u64(s.as_bytes())?;
        SpanId::new(v).ok_or(IdError::Zero)
    }
}

impl TraceId {
    /// A trace id from its two halves; `None` when both are zero.
    pub const fn new(high: u64, low: u64) -> Option<TraceId> {
        if high == 0 && low == 0 {
            None
        } else {
            Some(TraceId { high, low })
        }
    }

    /// A fresh random 128-bit id (or 64-bit when `wide` is false).
    #[inline]
    pub fn random(wide: bool) -> TraceId {
        let high = if wide { next_nonzero_u64() } else { 0 };
        TraceId {
            high,
            low: next_nonzero_u64(),
        }
    }

    /// Upper 64 bits (zero for a 64-bit id).
    #[inline]
    pub const fn high(self) -> u64 {
        self.high
    }

    /// Lower 64 bits.
    #[inline]
    pub const fn low(self) -> u64 {
        self.low
    }

    /// Whether this id is written with 32 hex characters.
    #[inline]
    pub const fn is_128bit(self) -> bool {
        self.high != 0
    }

    /// 16 or 32 lower-case hex characters, without allocating.
    #[inline]
    pub fn to_hex(self) -> HexId {
        let mut out = HexId::empty();
        if self.high != 0 {
            write_hex_u64(self.high, &mut out.buf[..16]);
            write_hex_u64(self.low, &mut out.buf[16..32]);
            out.len = 32;
        } else {
            write_hex_u64(self.low, &mut out.buf[..16]);
            out.len = 16;
        }
        out
    }

    /// Parses 16 or 32 lower-case hex characters, not all zero.
    pub fn from_hex(s: &str) -> Result<TraceId, IdError> {
        let b = s.as_bytes();
        let (high, low) = match b.len() {
            16 => (0, parse_hex_u64(b)?),
            32 => (parse_hex_u64(&b[..16])?, parse_hex_u64(&b[16..])?),
            n => {
                return Err(IdError::Length {
                    expected: "16 or 32",
                    found: n,
                })
            }
        };
        TraceId::new(high, low).ok_or(IdError::Zero)
    }
}

/// Ids for a new trace. The sampler sees the random low half before anything else is drawn; an
/// unsampled trace, of which nothing is recorded, then takes its root span id from that same
/// draw (as Brave and the `zipkin` crate do for every root) and its upper half from a mix of it,
/// so starting an unsampled trace costs one random number.
#[inline]
pub(crate) fn root_ids(
    wide: bool,
    sample: impl FnOnce(TraceId) -> bool,
) -> (TraceId, SpanId, bool) {
    let low = next_nonzero_u64();
    let sampled = sample(TraceId { high: 0, low });
    if sampled {
        let high = if wide { next_nonzero_u64() } else { 0 };
        (TraceId { high, low }, SpanId::random(), true)
    } else {
        let (trace_id, span_id) = unsampled_root_from(low, wide);
        (trace_id, span_id, false)
    }
}

/// Ids of an unsampled root whose sampler needed no id (rate 0), drawn when first read.
#[cold]
pub(crate) fn unsampled_root_ids(wide: bool) -> (TraceId, SpanId) {
    unsampled_root_from(next_nonzero_u64(), wide)
}

/// The span id of the unsampled root of `trace_id`: the root's id is the trace id's low half.
pub(crate) fn unsampled_root_span(trace_id: TraceId) -> SpanId {
    SpanId::new(trace_id.low).unwrap_or(SpanId(NonZeroU64::MIN))
}

#[inline]
fn unsampled_root_from(low: u64, wide: bool) -> (TraceId, SpanId) {
    let high = if wide {
        low.wrapping_mul(0x9e37_79b9_7f4a_7c15).rotate_left(29) | 1
    } else {
        0
    };
    let trace_id = TraceId { high, low };
    (trace_id, unsampled_root_span(trace_id))
}

/// Hex text of an id, kept on the stack. Derefs to `&str`.
#[derive(Clone, Copy)]
pub struct HexId {
    buf: [u8; 32],
    len: u8,
}

impl HexId {
    const fn empty() -> HexId {
        HexId {
            buf: [0; 32],
            len: 0,
        }
    }

    /// The hex text.
    #[inline]
    pub fn as_str(&self) -> &str {
        // Benchmark: b3/inject_into_null_carrier (the check was a fifth of an injection).
        // SAFETY: the buffer starts zeroed and is only written by write_hex_u64 (ASCII hex
        // digits), so every prefix is UTF-8. Checking it cost a fifth of an injection.
        unsafe { std::str::from_utf8_unchecked(&self.buf[..self.len as usize]) }
    }
}

impl fmt::Debug for HexId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl std::ops::Deref for HexId {
    type Target = str;
    #[inline]
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<[u8]> for HexId {
    #[inline]
    fn as_ref(&self) -> &[u8] {
        &self.buf[..self.len as usize]
    }
}

/// Writes `v` as 16 lower-case hex digits into `out[..16]`. Branch-free, eight bytes at a time:
/// ids are written on every injection and every encoded span.
#[inline]
pub(crate) fn write_hex_u64(v: u64, out: &mut [u8]) {
    out[..8].copy_from_slice(&hex8((v >> 32) as u32).to_be_bytes());
    out[8..16].copy_from_slice(&hex8(v as u32).to_be_bytes());
}

/// The 8 hex digits of `v` as ASCII bytes, most significant digit in the top byte.
#[inline]
fn hex8(v: u32) -> u64 {
    // Spread each nibble into its own byte.
    let mut x = v as u64;
    x = (x | (x << 16)) & 0x0000_ffff_0000_ffff;
    x = (x | (x << 8)) & 0x00ff_00ff_00ff_00ff;
    x = (x | (x << 4)) & 0x0f0f_0f0f_0f0f_0f0f;
    // 1 in each byte whose nibble is 10 or more; no byte carries into the next.
    let letters = ((x + 0x0606_0606_0606_0606) >> 4) & 0x0101_0101_0101_0101;
    x + 0x3030_3030_3030_3030 + letters * (b'a' - b'0' - 10) as u64
}

const NOT_HEX: u8 = 0x80;

/// Digit value of each byte; `NOT_HEX` for anything but `0-9a-f`.
static HEX_VALUE: [u8; 256] = {
    let mut t = [NOT_HEX; 256];
    let mut i = 0;
    while i < 10 {
        t[b'0' as usize + i] = i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 6 {
        t[b'a' as usize + i] = 10 + i as u8;
        i += 1;
    }
    t
};

/// Parses up to 16 lower-case hex digits. Upper case is rejected, as Brave does. Ids (exactly
/// 16 digits) are parsed eight bytes at a time; other lengths digit by digit.
#[inline]
pub(crate) fn parse_hex_u64(b: &[u8]) -> Result<u64, IdError> {
    if let Ok(b16) = <&[u8; 16]>::try_from(b) {
        let (hi, lo) = b16.split_at(8);
        return match (unhex8(hi), unhex8(lo)) {
            (Some(h), Some(l)) => Ok((h as u64) << 32 | l as u64),
            _ => Err(IdError::NotLowerHex),
        };
    }
    parse_hex_bytewise(b)
}

/// Digit by digit, branch-free over the digits: the check happens once at the end.
#[inline]
fn parse_hex_bytewise(b: &[u8]) -> Result<u64, IdError> {
    let mut v: u64 = 0;
    let mut seen: u8 = 0;
    for &c in b {
        let d = HEX_VALUE[c as usize];
        seen |= d;
        v = (v << 4) | (d & 0x0f) as u64;
    }
    if seen & NOT_HEX != 0 {
        return Err(IdError::NotLowerHex);
    }
    Ok(v)
}

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGH_BITS: u64 = 0x8080_8080_8080_8080;

/// The high bit of each byte of `x` (all below 0x80) that lies in `lo..=hi`. No byte carries.
#[inline]
fn in_range(x: u64, lo: u8, hi: u8) -> u64 {
    let at_least_lo = x + (0x80 - lo as u64) * ONES;
    let above_hi = x + (0x7f - hi as u64) * ONES;
    at_least_lo & !above_hi & HIGH_BITS
}

/// Eight lower-case hex digits (exactly 8 bytes) as a number; `None` if any byte is not one.
#[inline]
fn unhex8(b: &[u8]) -> Option<u32> {
    let x = u64::from_be_bytes(b.try_into().ok()?);
    if x & HIGH_BITS != 0 {
        return None;
    }
    let letters = in_range(x, b'a', b'f');
    if (in_range(x, b'0', b'9') | letters) != HIGH_BITS {
        return None;
    }
    // '0'-'9' keep their low nibble; 'a'-'f' have 1-6 there, plus 9.
    let mut n = (x & 0x0f0f_0f0f_0f0f_0f0f) + (letters >> 7) * 9;
    // Gather the nibbles: pairs into bytes, bytes into halves, halves into the word.
    n = (n | (n >> 4)) & 0x00ff_00ff_00ff_00ff;
    n = (n | (n >> 8)) & 0x0000_ffff_0000_ffff;
    n = (n | (n >> 16)) & 0x0000_0000_ffff_ffff;
    Some(n as u32)
}

impl fmt::Display for SpanId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}
impl fmt::Debug for SpanId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SpanId({})", self)
    }
}
impl fmt::Display for TraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}
impl fmt::Debug for TraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TraceId({})", self)
    }
}
impl std::str::FromStr for SpanId {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, IdError> {
        SpanId::from_hex(s)
    }
}
impl std::str::FromStr for TraceId {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, IdError> {
        TraceId::from_hex(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trip_keeps_width() {
        for s in [
            "0000000000000001",
            "ffffffffffffffff",
            "463ac35c9f6413ad48485a3953bb6124",
            "00000000000000010000000000000000",
        ] {
            assert_eq!(TraceId::from_hex(s).unwrap().to_string(), s);
        }
        // 32 chars with a zero upper half normalise to 16, as the Zipkin server does.
        assert_eq!(
            TraceId::from_hex("0000000000000000a3ce929d0e0e4736")
                .unwrap()
                .to_string(),
            "a3ce929d0e0e4736"
        );
    }

    #[test]
    fn rejects_bad_ids() {
        assert_eq!(SpanId::from_hex("0000000000000000"), Err(IdError::Zero));
        assert_eq!(
            SpanId::from_hex("00F067AA0BA902B7"),
            Err(IdError::NotLowerHex)
        );
        assert!(matches!(
            SpanId::from_hex("abc"),
            Err(IdError::Length { found: 3, .. })
        ));
        assert!(TraceId::from_hex("463ac35c9f6413ad48485a3953bb612").is_err());
        assert_eq!(
            TraceId::from_hex("00000000000000000000000000000000"),
            Err(IdError::Zero)
        );
        assert!(TraceId::from_hex("463ac35c9f6413ad-8485a3953bb6124").is_err());
    }

    #[test]
    fn hex_matches_a_naive_formatter_and_parser() {
        let mut vals = vec![
            0,
            1,
            9,
            10,
            15,
            16,
            u64::MAX,
            0x0123_4567_89ab_cdef,
            0xa0a0_a0a0_9f9f_9f9f,
        ];
        vals.extend((0..10_000).map(|_| next_u64()));
        for v in vals {
            let mut out = [0u8; 16];
            write_hex_u64(v, &mut out);
            assert_eq!(std::str::from_utf8(&out).unwrap(), format!("{v:016x}"));
            assert_eq!(parse_hex_u64(&out), Ok(v));
        }
        // Every byte in every position, through the 16-digit path and the bytewise one.
        let naive = |s: &[u8]| -> Option<u64> {
            s.iter()
                .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(c))
                .then(|| u64::from_str_radix(std::str::from_utf8(s).unwrap(), 16).unwrap())
        };
        for pos in 0..16 {
            for b in 0..=255u8 {
                let mut s = *b"0123456789abcdef";
                s[pos] = b;
                assert_eq!(parse_hex_u64(&s).ok(), naive(&s), "byte {b} at {pos}");
                assert_eq!(parse_hex_bytewise(&s).ok(), naive(&s), "byte {b} at {pos}");
                assert_eq!(
                    parse_hex_u64(&s[..15]).ok(),
                    naive(&s[..15]),
                    "byte {b} at {pos}"
                );
            }
        }
    }

    #[test]
    fn random_ids_are_nonzero_distinct_and_sized() {
        let mut seen = std::collections::HashSet::new();
        for _ in 0..10_000 {
            let t = TraceId::random(true);
            assert!(t.is_128bit());
            assert_eq!(t.to_hex().len(), 32);
            assert!(seen.insert(t));
            assert_ne!(SpanId::random().get(), 0);
        }
        let short = TraceId::random(false);
        assert!(!short.is_128bit());
        assert_eq!(short.to_hex().len(), 16);
    }
}
