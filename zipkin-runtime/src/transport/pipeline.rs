//! Several messages in flight at once: what a transport offers when the other end can take the
//! next message before it has answered the previous one (Kafka answers the requests of one
//! connection in order). The reporter's sender then keeps up to [`Pipeline::max_in_flight`]
//! messages started and collects their outcomes oldest first.

use crate::error::TransportError;
use crate::transport::Message;

/// A transport's pipelined side (see [`crate::transport::Transport::pipeline`]).
///
/// The contract, which the reporter's accounting rests on: a message whose [`Pipeline::start`]
/// returns `Ok` is in flight, and exactly one later call of [`Pipeline::finish`] returns its
/// outcome, in the order the messages were started (also when the connection it went on is
/// lost: then that call returns an error, and so does the one of every other message that was
/// in flight on it). A message whose `start` fails is not in flight: that error is its
/// outcome. The reporter calls [`crate::transport::Transport::send`] (for retries and 413
/// halves) only while nothing is in flight.
///
/// ```
/// use std::collections::VecDeque;
/// use std::sync::Mutex;
/// use zipkin_runtime::transport::{Message, Pipeline, Transport};
/// use zipkin_runtime::TransportError;
///
/// /// Answers every message once it has two more behind it (or when asked).
/// #[derive(Default)]
/// struct Lagging(Mutex<VecDeque<usize>>);
/// impl Transport for Lagging {
///     fn send(&self, _msg: &Message) -> Result<(), TransportError> { Ok(()) }
///     fn pipeline(&self) -> Option<&dyn Pipeline> { Some(self) }
/// }
/// impl Pipeline for Lagging {
///     fn max_in_flight(&self) -> usize { 3 }
///     fn start(&self, msg: &Message) -> Result<(), TransportError> {
///         self.0.lock().unwrap().push_back(msg.spans);
///         Ok(())
///     }
///     fn finish(&self) -> Result<(), TransportError> {
///         match self.0.lock().unwrap().pop_front() {
///             Some(_) => Ok(()),
///             None => Err(TransportError::Io("nothing in flight".into())),
///         }
///     }
/// }
/// let t = Lagging::default();
/// let p = t.pipeline().unwrap();
/// let msg = Message { body: b"[]".to_vec(), spans: 0, encoding: zipkin_runtime::Encoding::Json };
/// p.start(&msg).unwrap();
/// p.start(&msg).unwrap();
/// assert!(p.finish().is_ok() && p.finish().is_ok());
/// assert!(p.finish().is_err());
/// ```
pub trait Pipeline: Send + Sync {
    /// How many messages may be in flight at once (1: the reporter only calls `send`).
    fn max_in_flight(&self) -> usize;

    /// Starts sending `msg` (writes it) without waiting for its outcome. Runs on the reporter
    /// thread; may block up to the transport's timeout.
    fn start(&self, msg: &Message) -> Result<(), TransportError>;

    /// The outcome of the oldest message in flight, waiting for it up to the transport's
    /// timeout. Called only while a message is in flight.
    fn finish(&self) -> Result<(), TransportError>;
}
