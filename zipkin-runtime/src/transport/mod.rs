//! Where encoded messages go. A transport is called only from the reporter's own thread.

use crate::encode::Encoding;
use crate::error::TransportError;

pub mod file;
#[cfg(feature = "http")]
pub mod http;
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

/// The transport a configuration's endpoint implies: HTTP (with the configured encoding,
/// gzip, auth header and timeouts), a file, stdout, or nothing.
///
/// ```
/// use zipkin_runtime::{tracer::Config, transport};
/// let mut config = Config::default();
/// config.endpoint = zipkin_runtime::tracer::CollectorEndpoint::parse("http://127.0.0.1:9411").unwrap();
/// let t = transport::from_config(&config).unwrap();
/// assert_eq!(t.encoding(), zipkin_runtime::encode::Encoding::Json);
/// ```
pub fn from_config(
    config: &crate::tracer::Config,
) -> Result<Box<dyn Transport>, crate::error::ConfigError> {
    use crate::error::{ConfigError, Setting};
    use crate::tracer::CollectorEndpoint;
    match &config.endpoint {
        CollectorEndpoint::Disabled => Ok(Box::new(Discard)),
        CollectorEndpoint::Stdout => Ok(Box::new(file::StdoutTransport)),
        CollectorEndpoint::File(path) => file::FileTransport::create(path)
            .map(|t| Box::new(t) as Box<dyn Transport>)
            .map_err(|e| {
                ConfigError::new(
                    Setting::Code("FileTransport::create"),
                    format!("file:{}", path.display()),
                    "file:<path> of a file that can be written: a new file, or a Zipkin JSON \
                     array (such as one this transport wrote before) to append to",
                )
                .because(e)
            }),
        #[cfg(feature = "http")]
        CollectorEndpoint::Http(url) => {
            let mut b = http::HttpTransport::builder(url.as_str())
                .encoding(config.encoding)
                .gzip(config.gzip)
                .timeouts(config.connect_timeout, config.request_timeout);
            if let Some((name, value)) = &config.auth_header {
                b = b.auth_header(name.as_str(), value.as_str());
            }
            for pem in &config.tls_root_certificates {
                b = b.tls_root_certificate(pem);
            }
            Ok(Box::new(b.build()?))
        }
        #[cfg(not(feature = "http"))]
        CollectorEndpoint::Http(url) => Err(ConfigError::new(
            Setting::Code("HttpTransport::builder"),
            crate::tracer::redact_url(url),
            "file:<path>, stdout or none: this build has no HTTP transport (the `http` feature \
             of zipkin-runtime is off)",
        )),
    }
}
