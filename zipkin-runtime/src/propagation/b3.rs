//! B3: the single `b3` header and the `X-B3-*` headers, parsed as strictly as Brave does and
//! written canonically from integers.
//!
//! Rules (the B3 specification, `spec/b3-propagation.md` in this repository, read as strictly
//! as Brave's `B3SingleFormat` and `B3Propagation` do): ids are lower-case hex only, a trace id
//! has 16 or 32 characters, span and parent ids 16; all-zero trace or span ids are rejected, an
//! all-zero parent means no parent. The single header is at most 68 bytes (checked before it is
//! scanned) and has at most 4 fields. Any other byte (upper case, whitespace, CR/LF, non-ASCII)
//! is rejected. Parsing never allocates and never panics.

use crate::id::{parse_hex_u64, write_hex_u64, SpanId, TraceId};
use crate::span_context::{RemoteContext, RemoteIds, Sampling, SpanContext};

use super::carrier::{Extractor, Field};
use super::error::HeaderError;
use super::header_text::HeaderText;

/// Which B3 form `inject_headers()` writes.
///
/// ```
/// # extern crate zipkin_runtime as zipkin_rs;
/// use zipkin_rs::{propagation::B3Format, Tracer};
/// let tracer = Tracer::builder()
///     .b3_format(B3Format::Both)
///     .transport(zipkin_rs::transport::memory::MemoryTransport::new())
///     .build()
///     .unwrap();
/// assert_eq!(tracer.config().b3_format(), B3Format::Both);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum B3Format {
    /// `X-B3-TraceId`, `X-B3-SpanId`, `X-B3-ParentSpanId`, `X-B3-Sampled`, `X-B3-Flags`.
    #[default]
    Multi,
    /// The single `b3` header.
    Single,
    /// Both.
    Both,
}

pub use super::header_text::SINGLE_MAX_LEN;

const SINGLE: &str = "b3";
const SINGLE_SHAPE: &str = "`{trace id}-{span id}[-{0|1|d}][-{parent id}]` (2 to 4)";

/// Parses a single `b3` header value: `{trace}-{span}[-{sampling}][-{parent}]`, or a sampling
/// state alone (`0`, `1` or `d`).
///
/// `d` (debug) means sampled and debug. A 32-character trace id whose upper half is zero becomes
/// a 64-bit id; a 64-bit id stays 64-bit. `{trace}-{span}-{parent}` (a child whose sampling is
/// deferred) is accepted, as Brave writes and reads it.
///
/// ```
/// # extern crate zipkin_runtime as zipkin_rs;
/// use zipkin_rs::propagation::b3;
/// use zipkin_rs::Sampling;
/// let ctx = b3::parse_single(b"80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1-05e3ac9a4f6e3b90")
///     .unwrap();
/// let ids = ctx.ids.unwrap();
/// assert_eq!(ids.trace_id.to_string(), "80f198ee56343ba864fe8b2a57d3eff7");
/// assert_eq!(ids.parent_id.unwrap().to_string(), "05e3ac9a4f6e3b90");
/// assert_eq!(ctx.sampling, Sampling::Sampled);
///
/// let deny = b3::parse_single(b"0").unwrap();
/// assert!(deny.ids.is_none() && deny.sampling == Sampling::NotSampled);
/// assert!(b3::parse_single(b"not-a-tumor").is_err());
/// ```
pub fn parse_single(value: &[u8]) -> Result<RemoteContext, HeaderError> {
    if value.is_empty() {
        return Err(HeaderError::Empty { header: SINGLE });
    }
    if value.len() > SINGLE_MAX_LEN {
        return Err(HeaderError::TooLong {
            header: SINGLE,
            found: value.len(),
            max: SINGLE_MAX_LEN,
        });
    }
    if value.len() == 1 {
        let (sampling, debug) = sampling_char(value[0])?;
        return Ok(RemoteContext {
            ids: None,
            sampling,
            debug,
        });
    }
    let mut fields: [&[u8]; 4] = [&[]; 4];
    let mut n = 0;
    for f in value.split(|&b| b == b'-') {
        if n == fields.len() {
            return Err(HeaderError::Fields {
                header: SINGLE,
                found: n + 1,
                expected: SINGLE_SHAPE,
            });
        }
        fields[n] = f;
        n += 1;
    }
    if n < 2 {
        return Err(HeaderError::Fields {
            header: SINGLE,
            found: n,
            expected: SINGLE_SHAPE,
        });
    }
    let trace_id = trace_id(SINGLE, fields[0])?;
    let span_id = span_id(SINGLE, "span id", fields[1])?;
    let (sampling, debug, parent_id) = match n {
        2 => (Sampling::Deferred, false, None),
        // A 16-character third field is a parent with the decision deferred (Brave).
        3 if fields[2].len() == 16 => (Sampling::Deferred, false, parent_id(SINGLE, fields[2])?),
        3 => {
            let (s, d) = sampling_field(fields[2])?;
            (s, d, None)
        }
        _ => {
            let (s, d) = sampling_field(fields[2])?;
            (s, d, parent_id(SINGLE, fields[3])?)
        }
    };
    Ok(RemoteContext {
        ids: Some(RemoteIds {
            trace_id,
            span_id,
            parent_id,
        }),
        sampling,
        debug,
    })
}

/// Parses the `X-B3-*` headers of a carrier. `Ok(None)` when none of them carries anything
/// (no ids, no decision, no debug flag), so extraction can try another format.
///
/// Lenient where the spec allows it: `X-B3-Sampled` may be `true`/`false` in any case, and
/// `X-B3-Flags` values other than `1` (such as py_zipkin's constant `0`) are ignored.
/// `X-B3-Flags: 1` means sampled and debug, whatever `X-B3-Sampled` says. An invalid id or
/// sampled value rejects the whole set, decision included (a broken header must not smuggle
/// a decision in).
///
/// ```
/// # extern crate zipkin_runtime as zipkin_rs;
/// use zipkin_rs::propagation::b3;
/// use zipkin_rs::Sampling;
/// let headers = [
///     ("X-B3-TraceId", "463ac35c9f6413ad"),
///     ("X-B3-SpanId", "a2fb4a1d1a96d312"),
///     ("X-B3-ParentSpanId", "0020000000000001"),
///     ("X-B3-Sampled", "1"),
///     ("X-B3-Flags", "0"),
/// ];
/// let ctx = b3::parse_multi(&headers[..]).unwrap().unwrap();
/// assert_eq!(ctx.ids.unwrap().span_id.to_string(), "a2fb4a1d1a96d312");
/// assert_eq!(ctx.sampling, Sampling::Sampled);
/// assert!(!ctx.debug);
/// ```
pub fn parse_multi<E: Extractor + ?Sized>(
    carrier: &E,
) -> Result<Option<RemoteContext>, HeaderError> {
    let trace = carrier.get(Field::TraceId);
    let span = carrier.get(Field::SpanId);
    let parent = carrier.get(Field::ParentSpanId);
    let sampled = carrier.get(Field::Sampled);
    let debug = carrier.get(Field::Flags) == Some(b"1");

    let mut sampling = match sampled {
        None => Sampling::Deferred,
        Some(v) => sampled_header(v)?,
    };
    if debug {
        sampling = Sampling::Sampled;
    }
    let ids = match (trace, span) {
        (Some(t), Some(s)) => Some(RemoteIds {
            trace_id: trace_id(Field::TraceId.name(), t)?,
            span_id: span_id(Field::SpanId.name(), "span id", s)?,
            parent_id: match parent {
                Some(p) => parent_id(Field::ParentSpanId.name(), p)?,
                None => None,
            },
        }),
        (Some(_), None) => {
            return Err(HeaderError::Missing {
                present: Field::TraceId.name(),
                missing: Field::SpanId.name(),
            })
        }
        (None, Some(_)) => {
            return Err(HeaderError::Missing {
                present: Field::SpanId.name(),
                missing: Field::TraceId.name(),
            })
        }
        (None, None) => {
            if parent.is_some() {
                return Err(HeaderError::Missing {
                    present: Field::ParentSpanId.name(),
                    missing: Field::TraceId.name(),
                });
            }
            if sampled.is_none() && !debug {
                // Nothing but an ignorable flags value.
                return Ok(None);
            }
            None
        }
    };
    Ok(Some(RemoteContext {
        ids,
        sampling,
        debug,
    }))
}

/// The single `b3` header for `ctx`: `{trace}-{span}[-{1|0|d}[-{parent}]]`, written on the stack.
/// Debug is written as `d`. A deferred decision writes no sampling field and so no parent
/// (`{trace}-{span}`), the form every B3 reader accepts.
///
/// ```
/// # extern crate zipkin_runtime as zipkin_rs;
/// use zipkin_rs::{propagation::b3, Sampling, SpanContext};
/// let ctx = SpanContext {
///     trace_id: "463ac35c9f6413ad".parse().unwrap(),
///     span_id: "a2fb4a1d1a96d312".parse().unwrap(),
///     parent_id: Some("0020000000000001".parse().unwrap()),
///     sampling: Sampling::Sampled,
///     debug: false,
/// };
/// assert_eq!(&*b3::write_single(&ctx), "463ac35c9f6413ad-a2fb4a1d1a96d312-1-0020000000000001");
/// ```
#[inline]
pub fn write_single(ctx: &SpanContext) -> HeaderText {
    let mut out = HeaderText::new();
    let buf = &mut out.buf;
    let mut pos = 0;
    if ctx.trace_id.is_128bit() {
        write_hex_u64(ctx.trace_id.high(), &mut buf[pos..pos + 16]);
        pos += 16;
    }
    write_hex_u64(ctx.trace_id.low(), &mut buf[pos..pos + 16]);
    pos += 16;
    buf[pos] = b'-';
    write_hex_u64(ctx.span_id.get(), &mut buf[pos + 1..pos + 17]);
    pos += 17;
    let flag = if ctx.debug {
        Some(b'd')
    } else {
        match ctx.sampling {
            Sampling::Sampled => Some(b'1'),
            Sampling::NotSampled => Some(b'0'),
            Sampling::Deferred => None,
        }
    };
    if let Some(f) = flag {
        buf[pos] = b'-';
        buf[pos + 1] = f;
        pos += 2;
        // Without a sampling field the parent would sit in its position: Brave reads that,
        // but py_zipkin and zipkin-go reject the header, so a deferred context omits the parent.
        if let Some(p) = ctx.parent_id {
            buf[pos] = b'-';
            write_hex_u64(p.get(), &mut buf[pos + 1..pos + 17]);
            pos += 17;
        }
    }
    out.len = pos as u8;
    out
}

fn sampling_char(c: u8) -> Result<(Sampling, bool), HeaderError> {
    match c {
        b'1' => Ok((Sampling::Sampled, false)),
        b'0' => Ok((Sampling::NotSampled, false)),
        b'd' => Ok((Sampling::Sampled, true)),
        _ => Err(HeaderError::Sampling {
            header: SINGLE,
            expected: "0, 1 or d",
        }),
    }
}

fn sampling_field(f: &[u8]) -> Result<(Sampling, bool), HeaderError> {
    match f {
        [c] => sampling_char(*c),
        _ => Err(HeaderError::Sampling {
            header: SINGLE,
            expected: "0, 1 or d",
        }),
    }
}

fn sampled_header(v: &[u8]) -> Result<Sampling, HeaderError> {
    match v {
        b"1" => Ok(Sampling::Sampled),
        b"0" => Ok(Sampling::NotSampled),
        _ if v.eq_ignore_ascii_case(b"true") => Ok(Sampling::Sampled),
        _ if v.eq_ignore_ascii_case(b"false") => Ok(Sampling::NotSampled),
        _ => Err(HeaderError::Sampling {
            header: Field::Sampled.name(),
            expected: "1, 0, true or false",
        }),
    }
}

/// Checks length first so an overlong value is rejected without being scanned.
#[inline]
pub(crate) fn trace_id(header: &'static str, f: &[u8]) -> Result<TraceId, HeaderError> {
    const FIELD: &str = "trace id";
    let (high, low) = match f.len() {
        16 => (0, hex(header, FIELD, f)?),
        32 => (hex(header, FIELD, &f[..16])?, hex(header, FIELD, &f[16..])?),
        n => {
            return Err(HeaderError::Length {
                header,
                field: FIELD,
                expected: "16 or 32",
                found: n,
            })
        }
    };
    TraceId::new(high, low).ok_or(HeaderError::Zero {
        header,
        field: FIELD,
    })
}

#[inline]
pub(crate) fn span_id(
    header: &'static str,
    field: &'static str,
    f: &[u8],
) -> Result<SpanId, HeaderError> {
    if f.len() != 16 {
        return Err(HeaderError::Length {
            header,
            field,
            expected: "16",
            found: f.len(),
        });
    }
    SpanId::new(hex(header, field, f)?).ok_or(HeaderError::Zero { header, field })
}

/// An all-zero parent is no parent (Brave, and the Zipkin server unsets it too).
#[inline]
fn parent_id(header: &'static str, f: &[u8]) -> Result<Option<SpanId>, HeaderError> {
    match span_id(header, "parent id", f) {
        Ok(id) => Ok(Some(id)),
        Err(HeaderError::Zero { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

#[inline]
fn hex(header: &'static str, field: &'static str, f: &[u8]) -> Result<u64, HeaderError> {
    parse_hex_u64(f).map_err(|_| HeaderError::NotLowerHex { header, field })
}
