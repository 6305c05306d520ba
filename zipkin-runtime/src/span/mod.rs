//! Spans: the description the attribute emits (`meta`), a span being recorded (`live`), the
//! guard of a span open on this thread (`guard`), a span not tied to a thread (`detached`), and
//! the builder of both (`builder`).

pub(crate) mod builder;
pub(crate) mod detached;
/// Hidden API for bridges (the `tracing` layer): see the file.
pub(crate) mod entered;
pub(crate) mod frames;
pub(crate) mod guard;
pub(crate) mod live;
pub(crate) mod meta;
mod recording;
