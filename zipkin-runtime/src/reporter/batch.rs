//! A message being built or sent: encoded spans, and where each one starts, so that a message
//! the collector finds too large can be split at span boundaries.

use std::time::Instant;

use crate::encode::Encoding;

#[derive(Default)]
pub(super) struct Batch {
    pub(super) body: Vec<u8>,
    pub(super) spans: usize,
    /// Where each span's encoding starts in `body`: the message can be split at span
    /// boundaries when the collector finds it too large (413).
    pub(super) starts: Vec<usize>,
    pub(super) opened: Option<Instant>,
}

/// The message of spans `a..b` of an encoded batch `body` whose spans start at `starts`.
pub(super) fn part(body: &[u8], starts: &[usize], a: usize, b: usize, enc: Encoding) -> Vec<u8> {
    let from = starts[a];
    let to = match starts.get(b) {
        Some(next) => next - enc.separator().len(),
        None => body.len() - enc.suffix().len(),
    };
    let mut out = Vec::with_capacity(enc.prefix().len() + (to - from) + enc.suffix().len());
    out.extend_from_slice(enc.prefix());
    out.extend_from_slice(&body[from..to]);
    out.extend_from_slice(enc.suffix());
    out
}
