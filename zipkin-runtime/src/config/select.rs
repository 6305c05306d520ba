//! The transport a configuration implies (when none was given in code).

use crate::error::{ConfigError, Setting};
use crate::transport::file::{FileTransport, StdoutTransport};
#[cfg(feature = "http")]
use crate::transport::http::HttpTransport;
#[cfg(not(feature = "http"))]
use crate::transport::redact_url;
use crate::transport::{Discard, Transport};

use super::endpoint::CollectorEndpoint;
use super::Config;

/// The transport a configuration's endpoint implies: HTTP (with the configured encoding,
/// gzip, auth header and timeouts), Kafka (with the encoding, gzip unless the endpoint says,
/// and the timeouts), a file, stdout, or nothing.
pub(crate) fn transport_for(config: &Config) -> Result<Box<dyn Transport>, ConfigError> {
    match &config.endpoint {
        CollectorEndpoint::Disabled => Ok(Box::new(Discard)),
        CollectorEndpoint::Stdout => Ok(Box::new(StdoutTransport)),
        CollectorEndpoint::File(path) => FileTransport::create(path)
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
            let mut b = HttpTransport::builder(url.as_str())
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
        #[cfg(feature = "kafka")]
        CollectorEndpoint::Kafka(k) => {
            use crate::transport::kafka::{Acks, Compression, KafkaTransport};
            let acks = match k.acks {
                0 => Acks::None,
                -1 => Acks::All,
                _ => Acks::Leader,
            };
            let compression = if k.gzip.unwrap_or(config.gzip) {
                Compression::Gzip
            } else {
                Compression::None
            };
            let mut b = KafkaTransport::builder(k.bootstrap.iter().cloned());
            if let Some(n) = k.max_in_flight {
                b = b.max_in_flight(n);
            }
            let t = b
                .topic(&k.topic)
                .acks(acks)
                .compression(compression)
                .encoding(config.encoding)
                .timeouts(config.connect_timeout, config.request_timeout)
                .build()?;
            Ok(Box::new(t))
        }
        #[cfg(not(feature = "kafka"))]
        CollectorEndpoint::Kafka(k) => Err(ConfigError::new(
            Setting::Code("KafkaTransport::builder"),
            k.to_string(),
            "an http:// URL, file:<path>, stdout or none: this build has no Kafka transport \
             (the `kafka` feature of zipkin-rs / zipkin-runtime is off)",
        )),
        #[cfg(not(feature = "http"))]
        CollectorEndpoint::Http(url) => Err(ConfigError::new(
            Setting::Code("HttpTransport::builder"),
            redact_url(url),
            "file:<path>, stdout or none: this build has no HTTP transport (the `http` feature \
             of zipkin-runtime is off)",
        )),
    }
}
