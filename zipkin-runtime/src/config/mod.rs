//! A tracer's configuration ([`Config`]): what the builder and the `ZIPKIN_*` environment set,
//! where each setting came from, and (in `select`) the transport it implies.

pub(crate) mod endpoint;
pub(crate) mod env;
pub(crate) mod kafka;
pub(crate) mod local_ip;
pub(crate) mod sampler;
pub(crate) mod select;

use std::borrow::Cow;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use crate::encode::Encoding;
use crate::error::{ConfigError, Setting};
use crate::intern::intern;
use crate::propagation::b3::B3Format;
use crate::reporter::config::ReporterConfig;
use crate::sampler::Sampler;
use crate::span_handler::SpanHandler;

use endpoint::CollectorEndpoint;

/// The default collector URL.
pub const DEFAULT_ENDPOINT: &str = "http://localhost:9411/api/v2/spans";

/// A tracer's settings, as the builder and the environment set them; read them back with
/// [`crate::Tracer::config`]. The collector's auth header value is never readable back.
#[derive(Clone)]
pub struct Config {
    /// Service name of spans that name none and have no parent to inherit from.
    pub(crate) service_name: &'static str,
    /// The gate of a new trace, which the inline fast path of a root span reads: 0 (or less)
    /// when no new trace can be sampled, so that it decides without calling anything. Without
    /// a sampler it is `percent`; with one, 0 when the sampler never samples and 100 (ask it)
    /// otherwise (see [`Config::settle_sampling`]).
    pub(crate) sample_rate: f64,
    /// Percent of new traces sampled (0 to 100) when no sampler is set.
    pub(crate) percent: f64,
    /// The sampler of new traces, when one replaces the percentage.
    pub(crate) sampler: Option<SharedSampler>,
    /// The hook on finished spans, called on the reporter's thread.
    pub(crate) span_handler: Option<SharedHandler>,
    /// New trace ids are 128-bit (else 64-bit).
    pub(crate) trace_id_128bit: bool,
    /// Local endpoint port of spans that set none.
    pub(crate) port: u16,
    /// Local endpoint IP, found once at start.
    pub(crate) local_ip: Option<IpAddr>,
    /// Honour debug requests from callers. Off stops an untrusted caller forcing 100% sampling:
    /// a caller's debug flag (`b3: …-d`, `X-B3-Flags: 1`) is then ignored and the local sampler
    /// decides. Plain `X-B3-Sampled` decisions are still followed.
    pub(crate) accept_debug: bool,
    /// A server span continuing a caller joins the caller's span id (`shared: true`).
    pub(crate) join_server_spans: bool,
    /// Which B3 headers `inject_headers()` writes.
    pub(crate) b3_format: B3Format,
    /// Also write W3C `traceparent`.
    pub(crate) write_traceparent: bool,
    /// Where spans go.
    pub(crate) endpoint: CollectorEndpoint,
    /// Wire encoding.
    pub(crate) encoding: Encoding,
    /// Gzip request bodies.
    pub(crate) gzip: bool,
    /// An `Authorization` (or other) header sent to the collector: (name, value). Never logged.
    pub(crate) auth_header: Option<(String, String)>,
    /// Extra root certificates (PEM bundles) trusted for an HTTPS collector.
    pub(crate) tls_root_certificates: Vec<Vec<u8>>,
    /// Tag values longer than this many bytes are truncated (and counted).
    pub(crate) max_tag_bytes: usize,
    /// Connect timeout to the collector.
    pub(crate) connect_timeout: Duration,
    /// Whole-request timeout to the collector.
    pub(crate) request_timeout: Duration,
    /// How long the guard from `install()` waits for spans to leave when it drops (1 s by
    /// default; `ZIPKIN_EXIT_FLUSH_TIMEOUT` sets it too).
    pub(crate) close_timeout: Duration,
    /// How long the global tracer waits for its last spans when the process exits normally
    /// (returns from `main`, or calls `std::process::exit`); zero turns the wait off. See
    /// [`TracerBuilder::exit_flush_timeout`].
    pub(crate) exit_flush_timeout: Duration,
    /// Reporter limits and timings.
    pub(crate) reporter: ReporterConfig,
}

impl std::fmt::Debug for Config {
    /// Shows every setting except the auth header's value.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("service_name", &self.service_name)
            .field("sample_rate", &self.percent)
            .field("sampler", &self.sampler)
            .field("span_handler", &self.span_handler)
            .field("trace_id_128bit", &self.trace_id_128bit)
            .field("port", &self.port)
            .field("local_ip", &self.local_ip)
            .field("accept_debug", &self.accept_debug)
            .field("join_server_spans", &self.join_server_spans)
            .field("b3_format", &self.b3_format)
            .field("write_traceparent", &self.write_traceparent)
            .field("endpoint", &self.endpoint)
            .field("encoding", &self.encoding)
            .field("gzip", &self.gzip)
            .field(
                "auth_header",
                &self
                    .auth_header
                    .as_ref()
                    .map(|(name, _)| (name, "<redacted>")),
            )
            .field("tls_root_certificates", &self.tls_root_certificates.len())
            .field("max_tag_bytes", &self.max_tag_bytes)
            .field("connect_timeout", &self.connect_timeout)
            .field("request_timeout", &self.request_timeout)
            .field("close_timeout", &self.close_timeout)
            .field("exit_flush_timeout", &self.exit_flush_timeout)
            .field("reporter", &self.reporter)
            .finish()
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            service_name: default_service_name(),
            sample_rate: 100.0,
            percent: 100.0,
            sampler: None,
            span_handler: None,
            trace_id_128bit: true,
            port: 0,
            local_ip: None,
            accept_debug: true,
            join_server_spans: true,
            b3_format: B3Format::Multi,
            write_traceparent: false,
            endpoint: CollectorEndpoint::Http(DEFAULT_ENDPOINT.to_owned()),
            encoding: Encoding::Json,
            gzip: false,
            auth_header: None,
            tls_root_certificates: Vec::new(),
            max_tag_bytes: 16 * 1024,
            connect_timeout: Duration::from_secs(1),
            request_timeout: Duration::from_secs(5),
            // As Brave's AsyncReporter, and as the exit flush of a tracer without a guard.
            close_timeout: Duration::from_secs(1),
            exit_flush_timeout: Duration::from_secs(1),
            reporter: ReporterConfig::default(),
        }
    }
}

fn default_service_name() -> &'static str {
    std::env::current_exe()
        .ok()
        .and_then(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .map(|s| intern(Cow::Owned(s)))
        .unwrap_or("unknown_service")
}

impl Config {
    /// Service name of spans that name none and have no parent to inherit from.
    pub fn service_name(&self) -> &'static str {
        self.service_name
    }

    /// Percent of new traces sampled (0 to 100) when no [`Config::sampler`] is set.
    // The field `sample_rate` is the fast path's gate (read in span/guard.rs), not this.
    #[allow(clippy::misnamed_getters)]
    pub fn sample_rate(&self) -> f64 {
        self.percent
    }

    /// The sampler of new traces, when one replaces the percentage
    /// ([`crate::TracerBuilder::sampler`], `ZIPKIN_SAMPLER`).
    pub fn sampler(&self) -> Option<&dyn Sampler> {
        self.sampler.as_ref().map(|s| &*s.0)
    }

    /// The hook on finished spans ([`crate::TracerBuilder::span_handler`]).
    pub fn span_handler(&self) -> Option<&dyn SpanHandler> {
        self.span_handler.as_ref().map(|h| &*h.0)
    }

    /// Whether no new trace can be sampled (a rate of 0, or a sampler that never samples):
    /// then a root span decides without drawing an id or calling the sampler.
    pub fn never_samples(&self) -> bool {
        self.sample_rate <= 0.0 || self.sample_rate.is_nan()
    }

    /// Computes the fast path's gate from the percentage and the sampler (called by `build`).
    pub(crate) fn settle_sampling(&mut self) {
        self.sample_rate = match &self.sampler {
            None => self.percent,
            Some(s) if s.never_samples() => 0.0,
            Some(_) => 100.0,
        };
    }

    /// Whether new trace ids are 128-bit (else 64-bit).
    pub fn trace_id_128bit(&self) -> bool {
        self.trace_id_128bit
    }

    /// Local endpoint port of spans that set none (0: absent).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Local endpoint IP.
    pub fn local_ip(&self) -> Option<IpAddr> {
        self.local_ip
    }

    /// Whether callers' debug flags are honoured.
    pub fn accept_debug(&self) -> bool {
        self.accept_debug
    }

    /// Whether a server span continuing a caller joins the caller's span id.
    pub fn join_server_spans(&self) -> bool {
        self.join_server_spans
    }

    /// Which B3 headers injection writes.
    pub fn b3_format(&self) -> B3Format {
        self.b3_format
    }

    /// Whether injection also writes W3C `traceparent`.
    pub fn write_traceparent(&self) -> bool {
        self.write_traceparent
    }

    /// Where spans go, as `ZIPKIN_ENDPOINT` takes it: a URL (its credentials shown as
    /// `<redacted>`), `kafka://brokers/topic`, `file:<path>`, `stdout` or `none`.
    ///
    /// ```
    /// # extern crate zipkin_runtime as zipkin_rs;
    /// let tracer = zipkin_rs::Tracer::builder()
    ///     .endpoint("https://user:secret@zipkin:9411/api/v2/spans")
    ///     .unwrap()
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(tracer.config().endpoint(), "https://<redacted>@zipkin:9411/api/v2/spans");
    /// ```
    pub fn endpoint(&self) -> String {
        self.endpoint.to_string()
    }

    /// The wire encoding.
    pub fn encoding(&self) -> Encoding {
        self.encoding
    }

    /// Whether request bodies are gzipped.
    pub fn gzip(&self) -> bool {
        self.gzip
    }

    /// The name of the header sent to the collector with every report, if any. Its value is
    /// never readable back.
    pub fn auth_header_name(&self) -> Option<&str> {
        self.auth_header.as_ref().map(|(name, _)| name.as_str())
    }

    /// Tag values longer than this many bytes are truncated.
    pub fn max_tag_bytes(&self) -> usize {
        self.max_tag_bytes
    }

    /// Connect timeout to the collector.
    pub fn connect_timeout(&self) -> Duration {
        self.connect_timeout
    }

    /// Whole-request timeout to the collector.
    pub fn request_timeout(&self) -> Duration {
        self.request_timeout
    }

    /// How long the guard from `install()` waits for spans to leave when it drops.
    pub fn close_timeout(&self) -> Duration {
        self.close_timeout
    }

    /// How long a normal process exit waits for spans not yet sent.
    pub fn exit_flush_timeout(&self) -> Duration {
        self.exit_flush_timeout
    }

    /// The reporter's limits and timings.
    pub fn reporter(&self) -> &ReporterConfig {
        &self.reporter
    }
}

/// The tracer's sampler. Unwind-safe whatever the sampler holds, so that a tracer stays
/// `RefUnwindSafe`: the tracer asks it inside `catch_unwind` and takes a panic as "no", and
/// never looks at its state otherwise.
#[derive(Clone, Debug)]
pub(crate) struct SharedSampler(pub(crate) Arc<dyn Sampler>);

impl std::panic::RefUnwindSafe for SharedSampler {}
impl std::panic::UnwindSafe for SharedSampler {}

impl std::ops::Deref for SharedSampler {
    type Target = dyn Sampler;
    fn deref(&self) -> &(dyn Sampler + 'static) {
        &*self.0
    }
}

/// The tracer's span handler, unwind-safe for the same reason as [`SharedSampler`]: the
/// reporter calls it inside `catch_unwind` and drops the span it panicked on.
#[derive(Clone, Debug)]
pub(crate) struct SharedHandler(pub(crate) Arc<dyn SpanHandler>);

impl std::panic::RefUnwindSafe for SharedHandler {}
impl std::panic::UnwindSafe for SharedHandler {}

/// Where the settings a transport is built from came from, so that the transport's errors name
/// the variable or method the user wrote.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Origins {
    pub(crate) endpoint: Setting,
    pub(crate) auth_header: Setting,
    pub(crate) tls: Setting,
}

impl Default for Origins {
    fn default() -> Self {
        Origins {
            endpoint: Setting::Code("TracerBuilder::endpoint"),
            auth_header: Setting::Code("TracerBuilder::auth_header"),
            tls: Setting::Code("TracerBuilder::tls_root_certificate"),
        }
    }
}

impl Origins {
    /// A transport's error, naming the setting the user wrote instead of the transport's own.
    pub(crate) fn name(&self, e: ConfigError) -> ConfigError {
        let user = match e.setting() {
            Setting::Code(
                "HttpTransport::builder"
                | "FileTransport::create"
                | "KafkaTransport::builder"
                | "KafkaTransportBuilder::topic",
            ) => self.endpoint,
            Setting::Code("HttpTransportBuilder::auth_header") => self.auth_header,
            Setting::Code("HttpTransportBuilder::tls_root_certificate") => self.tls,
            other => other,
        };
        e.named(user)
    }
}
