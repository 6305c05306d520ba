//! Trace and span identifiers, their lower-case hex form, and the id generator.
//!
//! Trace ids are 128-bit by default (64-bit on request); span ids are 64-bit. Generated ids are
//! random and never zero. A trace id whose upper 64 bits are zero is a 64-bit id, which is also
//! how the Zipkin server normalises a 32-character id that starts with 16 zeros.

use std::cell::Cell;
use std::fmt;
use std::num::NonZeroU64;

use crate::error::IdError;

/// A 64-bit span id. Never zero when generated or parsed.
///
/// ```
/// use zipkin_runtime::SpanId;
/// let id: SpanId = "00f067aa0ba902b7".parse().unwrap();
/// assert_eq!(id.to_string(), "00f067aa0ba902b7");
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SpanId(NonZeroU64);

/// A trace id: 128-bit, or 64-bit when the upper half is zero.
///
/// ```
/// use zipkin_runtime::TraceId;
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
        loop {
            if let Some(v) = NonZeroU64::new(next_u64()) {
                return SpanId(v);
            }
        }
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
        let high = if wide {
            low.wrapping_mul(0x9e37_79b9_7f4a_7c15).rotate_left(29) | 1
        } else {
            0
        };
        // `low` is non-zero, so this is always Some.
        let span = SpanId::new(low).unwrap_or(SpanId(NonZeroU64::MIN));
        (TraceId { high, low }, span, false)
    }
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
        // SAFETY-free: the buffer only ever holds ASCII hex digits written by write_hex_u64.
        std::str::from_utf8(&self.buf[..self.len as usize]).unwrap_or("")
    }
}

impl std::ops::Deref for HexId {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<[u8]> for HexId {
    fn as_ref(&self) -> &[u8] {
        &self.buf[..self.len as usize]
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Writes `v` as 16 lower-case hex digits into `out` (which must be 16 bytes).
#[inline]
pub(crate) fn write_hex_u64(v: u64, out: &mut [u8]) {
    for (i, slot) in out.iter_mut().enumerate().take(16) {
        *slot = HEX[((v >> (60 - i * 4)) & 0xf) as usize];
    }
}

/// Parses up to 16 lower-case hex digits. Upper case is rejected, as Brave does.
#[inline]
pub(crate) fn parse_hex_u64(b: &[u8]) -> Result<u64, IdError> {
    let mut v: u64 = 0;
    for &c in b {
        let d = match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            _ => return Err(IdError::NotLowerHex),
        };
        v = (v << 4) | d as u64;
    }
    Ok(v)
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

thread_local! {
    // wyrand state; seeded per thread from the std hasher's random keys, so no syscall per id.
    static RNG: Cell<u64> = Cell::new(seed());
}

fn seed() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_usize(&h as *const _ as usize);
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    h.finish()
}

/// A random u64 from a thread-local wyrand generator: a few ns, no lock, no syscall.
#[inline]
pub(crate) fn next_u64() -> u64 {
    RNG.with(|s| {
        let x = s.get().wrapping_add(0xa076_1d64_78bd_642f);
        s.set(x);
        let t = (x as u128).wrapping_mul((x ^ 0xe703_7ed1_a0b4_28db) as u128);
        ((t >> 64) as u64) ^ (t as u64)
    })
}

#[inline]
pub(crate) fn next_nonzero_u64() -> u64 {
    loop {
        let v = next_u64();
        if v != 0 {
            return v;
        }
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
