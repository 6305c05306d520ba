//! Where encoded messages go. A transport is called only from the reporter's own thread.

use crate::encode::Encoding;
use crate::error::TransportError;

pub mod memory;

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
}

/// Accepts and forgets every message (the `none` endpoint).
#[derive(Clone, Copy, Debug, Default)]
pub struct Discard;

impl Transport for Discard {
    fn send(&self, _msg: &Message) -> Result<(), TransportError> {
        Ok(())
    }
}

/// The transport a configuration's endpoint implies.
pub(crate) fn from_config(
    config: &crate::tracer::Config,
) -> Result<Box<dyn Transport>, crate::error::ConfigError> {
    use crate::tracer::CollectorEndpoint;
    match &config.endpoint {
        CollectorEndpoint::Disabled => Ok(Box::new(Discard)),
        other => Err(crate::error::ConfigError::Other(format!(
            "no transport for {other:?} yet"
        ))),
    }
}
