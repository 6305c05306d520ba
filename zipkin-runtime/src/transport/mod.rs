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
/// # extern crate zipkin_runtime as zipkin_rs;
/// use zipkin_rs::transport::{Message, Transport};
/// use zipkin_rs::TransportError;
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

/// A transport's pipelined side (see [`Transport::pipeline`]).
///
/// Several messages in flight at once: what a transport offers when the other end can take the
/// next message before it has answered the previous one (Kafka answers the requests of one
/// connection in order). The reporter's sender then keeps up to [`Pipeline::max_in_flight`]
/// messages started and collects their outcomes oldest first.
///
/// The contract, which the reporter's accounting rests on: a message whose [`Pipeline::start`]
/// returns `Ok` is in flight, and exactly one later call of [`Pipeline::finish`] returns its
/// outcome, in the order the messages were started (also when the connection it went on is
/// lost: then that call returns an error, and so does the one of every other message that was
/// in flight on it). A message whose `start` fails is not in flight: that error is its
/// outcome. The reporter calls [`Transport::send`] (for retries and 413
/// halves) only while nothing is in flight.
///
/// ```
/// # extern crate zipkin_runtime as zipkin_rs;
/// use std::collections::VecDeque;
/// use std::sync::Mutex;
/// use zipkin_rs::transport::{Message, Pipeline, Transport};
/// use zipkin_rs::TransportError;
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
/// let msg = Message { body: b"[]".to_vec(), spans: 0, encoding: zipkin_rs::Encoding::Json };
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

/// The URL with any `user:password@` replaced by `<redacted>@`, and, for an HTTP URL, the
/// values of its query hidden (a collector may take its key there, `?Api-Key=…`), for
/// messages and `Debug`.
///
/// ```
/// # extern crate zipkin_runtime as zipkin_rs;
/// use zipkin_rs::transport::redact_url;
/// assert_eq!(redact_url("https://u:pw@zipkin:9411/api"), "https://<redacted>@zipkin:9411/api");
/// assert_eq!(
///     redact_url("https://zipkin:9411/api/v2/spans?Api-Key=secret&x"),
///     "https://zipkin:9411/api/v2/spans?Api-Key=<redacted>&x"
/// );
/// assert_eq!(redact_url("http://zipkin:9411"), "http://zipkin:9411");
/// ```
pub fn redact_url(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return url.to_owned();
    };
    let rest = &url[scheme_end + 3..];
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let mut out = match rest[..authority_end].rfind('@') {
        Some(at) => format!("{}://<redacted>{}", &url[..scheme_end], &rest[at..]),
        None => url.to_owned(),
    };
    // Only HTTP: a `kafka://` endpoint's query holds settings, said back in its errors.
    let http = url[..scheme_end].eq_ignore_ascii_case("http")
        || url[..scheme_end].eq_ignore_ascii_case("https");
    if let Some(q) = out.find('?').filter(|_| http) {
        let end = out[q..].find('#').map_or(out.len(), |e| q + e);
        let hidden: Vec<String> = out[q + 1..end]
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((name, _)) => format!("{name}=<redacted>"),
                None => pair.to_owned(),
            })
            .collect();
        out.replace_range(q + 1..end, &hidden.join("&"));
    }
    out
}
