//! Where encoded messages go. A transport is called only from the reporter's own thread.

use crate::encode::Encoding;
use crate::error::TransportError;

pub mod file;
#[cfg(feature = "http")]
pub mod http;
#[cfg(feature = "kafka")]
pub mod kafka;
pub(crate) mod kafka_names;
#[cfg(feature = "testing")]
pub mod memory;
mod pipeline;

pub use pipeline::Pipeline;

/// One message: an encoded list of spans.
#[derive(Debug, Clone)]
pub struct Message {
    /// The encoded list.
    pub body: Vec<u8>,
    /// How many spans it holds.
    pub spans: usize,
    /// Its encoding.
    pub encoding: Encoding,
}

/// Delivers encoded messages. Implement it to send spans somewhere else.
///
/// ```
/// use zipkin_runtime::transport::{Message, Transport};
/// use zipkin_runtime::TransportError;
/// struct Discard;
/// impl Transport for Discard {
///     fn send(&self, _msg: &Message) -> Result<(), TransportError> { Ok(()) }
/// }
/// ```
pub trait Transport: Send + Sync + 'static {
    /// The encoding this transport wants.
    fn encoding(&self) -> Encoding {
        Encoding::Json
    }

    /// Sends one message. Runs on the reporter thread; may block up to the transport's timeout.
    fn send(&self, msg: &Message) -> Result<(), TransportError>;

    /// The side of this transport that can have several messages in flight, if any (default
    /// none: the reporter waits for each `send`). See [`Pipeline`] for the contract.
    fn pipeline(&self) -> Option<&dyn Pipeline> {
        None
    }
}

/// Accepts and forgets every message (the `none` endpoint).
#[derive(Clone, Copy, Debug, Default)]
pub struct Discard;

impl Transport for Discard {
    fn send(&self, _msg: &Message) -> Result<(), TransportError> {
        Ok(())
    }
}

/// What a forked child's tracer sends through when its transport cannot be made there: a
/// transport given in code (it cannot be copied into the child) or a file (the parent writes
/// it). Every message is refused, so the child's spans are counted as dropped
/// (`dropped_transport_error`); the first refusal says why on standard error.
pub(crate) struct ParentOnly {
    warned: std::sync::atomic::AtomicBool,
}

impl ParentOnly {
    pub(crate) fn new() -> ParentOnly {
        ParentOnly {
            warned: std::sync::atomic::AtomicBool::new(false),
        }
    }
}

impl Transport for ParentOnly {
    fn send(&self, _msg: &Message) -> Result<(), TransportError> {
        if !self.warned.swap(true, std::sync::atomic::Ordering::Relaxed) {
            eprintln!(
                "zipkin: this forked process cannot report: its tracer's transport was given \
                 in code or writes a file, which only the parent process may use; its spans are \
                 counted as dropped"
            );
        }
        Err(TransportError::Closed)
    }
}

/// The URL with any `user:password@` replaced by `<redacted>@`, for messages and `Debug`.
///
/// ```
/// use zipkin_runtime::transport::redact_url;
/// assert_eq!(redact_url("https://u:pw@zipkin:9411/api"), "https://<redacted>@zipkin:9411/api");
/// assert_eq!(redact_url("http://zipkin:9411"), "http://zipkin:9411");
/// ```
pub fn redact_url(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return url.to_owned();
    };
    let rest = &url[scheme_end + 3..];
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{}://<redacted>{}", &url[..scheme_end], &rest[at..]),
        None => url.to_owned(),
    }
}
