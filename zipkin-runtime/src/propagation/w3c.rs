//! W3C Trace Context `traceparent`: `{version}-{trace id}-{parent id}-{flags}`, for OpenTelemetry
//! peers. Written when the tracer's `write_traceparent` is on; read by extraction only when no B3
//! header gave a context, so a caller that speaks only W3C still continues its trace.
//!
//! A 64-bit trace id is written padded to 32 characters and reads back as the same 64-bit id.
//! W3C has no deferred or debug state: the sampled flag is written from the decision (debug
//! writes sampled), and a caller's unset flag reads as not sampled.

use crate::id::{parse_hex_u64, write_hex_u64};
use crate::span_context::{RemoteContext, RemoteIds, Sampling, SpanContext};

use super::b3;
use super::error::HeaderError;
use super::header_text::HeaderText;

const HEADER: &str = "traceparent";
/// Length of a version-00 value.
const LEN: usize = 55;

/// Parses a `traceparent` value. Version `00` must be exactly 55 characters; later versions may
/// append `-`-separated fields, which are ignored (as the W3C spec asks). Lower-case hex only,
/// non-zero trace and parent ids. The caller's parent id becomes the remote span id.
///
/// ```
/// # extern crate zipkin_runtime as zipkin_rs;
/// use zipkin_rs::{propagation::w3c, Sampling};
/// let ctx = w3c::parse_traceparent(b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01").unwrap();
/// let ids = ctx.ids.unwrap();
/// assert_eq!(ids.trace_id.to_string(), "4bf92f3577b34da6a3ce929d0e0e4736");
/// assert_eq!(ids.span_id.to_string(), "00f067aa0ba902b7");
/// assert_eq!(ctx.sampling, Sampling::Sampled);
/// assert!(w3c::parse_traceparent(b"00-00000000000000000000000000000000-00f067aa0ba902b7-01").is_err());
/// ```
pub fn parse_traceparent(value: &[u8]) -> Result<RemoteContext, HeaderError> {
    if value.is_empty() {
        return Err(HeaderError::Empty { header: HEADER });
    }
    if value.len() < LEN {
        return Err(HeaderError::Length {
            header: HEADER,
            field: "value",
            expected: "55",
            found: value.len(),
        });
    }
    let version = match parse_hex_u64(&value[..2]) {
        Ok(v) if v != 0xff => v,
        _ => return Err(HeaderError::Version),
    };
    if version == 0 && value.len() != LEN {
        return Err(HeaderError::Length {
            header: HEADER,
            field: "value",
            expected: "55 for version 00",
            found: value.len(),
        });
    }
    if value.len() > LEN && value[LEN] != b'-' {
        return Err(HeaderError::Fields {
            header: HEADER,
            found: 4,
            expected: "`-` after the flags of a later version",
        });
    }
    if value[2] != b'-' || value[35] != b'-' || value[52] != b'-' {
        return Err(HeaderError::Fields {
            header: HEADER,
            found: 4,
            expected: "`{version}-{trace id}-{parent id}-{flags}`",
        });
    }
    let trace_id = b3::trace_id(HEADER, &value[3..35])?;
    let span_id = b3::span_id(HEADER, "parent id", &value[36..52])?;
    let flags = parse_hex_u64(&value[53..55]).map_err(|_| HeaderError::Sampling {
        header: HEADER,
        expected: "2 lower-case hex characters",
    })?;
    Ok(RemoteContext {
        ids: Some(RemoteIds {
            trace_id,
            span_id,
            parent_id: None,
        }),
        sampling: if flags & 1 == 1 {
            Sampling::Sampled
        } else {
            Sampling::NotSampled
        },
        debug: false,
    })
}

/// The `traceparent` value for `ctx`, written on the stack.
///
/// ```
/// # extern crate zipkin_runtime as zipkin_rs;
/// use zipkin_rs::{propagation::w3c, Sampling, SpanContext};
/// let ctx = SpanContext {
///     trace_id: "a3ce929d0e0e4736".parse().unwrap(),
///     span_id: "00f067aa0ba902b7".parse().unwrap(),
///     parent_id: None,
///     sampling: Sampling::Sampled,
///     debug: false,
/// };
/// assert_eq!(
///     &*w3c::write_traceparent(&ctx),
///     "00-0000000000000000a3ce929d0e0e4736-00f067aa0ba902b7-01"
/// );
/// ```
#[inline]
pub fn write_traceparent(ctx: &SpanContext) -> HeaderText {
    let mut out = HeaderText::new();
    let buf = &mut out.buf;
    buf[..3].copy_from_slice(b"00-");
    write_hex_u64(ctx.trace_id.high(), &mut buf[3..19]);
    write_hex_u64(ctx.trace_id.low(), &mut buf[19..35]);
    buf[35] = b'-';
    write_hex_u64(ctx.span_id.get(), &mut buf[36..52]);
    buf[52] = b'-';
    buf[53] = b'0';
    buf[54] = if ctx.is_sampled() { b'1' } else { b'0' };
    out.len = LEN as u8;
    out
}
