//! Building a tracer: [`TracerBuilder`], and the guard [`TracerGuard`] that `install` returns.

use std::borrow::Cow;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use crate::config::endpoint::CollectorEndpoint;
use crate::config::select::transport_for;
use crate::config::{env, Config, Origins, SharedHandler, SharedSampler};
use crate::encode::Encoding;
use crate::error::{ConfigError, Setting};
use crate::intern::intern;
use crate::propagation::b3::B3Format;
use crate::reporter::config::ReporterConfig;
use crate::reporter::Reporter;
use crate::sampler::Sampler;
use crate::span_handler::SpanHandler;
use crate::transport::Transport;

use super::{Tracer, TracerInner};

impl Tracer {
    /// A builder starting from defaults (not the environment; call
    /// [`TracerBuilder::from_env`] for that).
    pub fn builder() -> TracerBuilder {
        TracerBuilder {
            config: Config::default(),
            transport: None,
            origins: Origins::default(),
        }
    }
}

/// Builds a [`Tracer`].
///
/// ```
/// # extern crate zipkin_runtime as zipkin_rs;
/// use zipkin_rs::{Tracer, transport::memory::MemoryTransport};
/// let tracer = Tracer::builder()
///     .service_name("webapp")
///     .sample_rate(50.0)
///     .transport(MemoryTransport::new())
///     .build()
///     .unwrap();
/// assert_eq!(tracer.config().service_name(), "webapp");
/// ```
pub struct TracerBuilder {
    pub(super) config: Config,
    transport: Option<Box<dyn Transport>>,
    /// Where the settings a transport is built from came from, so that its errors name them.
    origins: Origins,
}

impl std::fmt::Debug for TracerBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TracerBuilder")
            .field("config", &self.config)
            .field("custom_transport", &self.transport.is_some())
            .finish()
    }
}

impl TracerBuilder {
    /// Applies environment variables:
    ///
    /// | variable | meaning | default |
    /// |---|---|---|
    /// | `ZIPKIN_ENDPOINT` | collector URL, `kafka://host:port[,host:port...][/topic]` (the `kafka` feature), `file:<path>`, `stdout` or `none` | `http://localhost:9411/api/v2/spans` |
    /// | `ZIPKIN_SERVICE_NAME` | default service name | the executable's name |
    /// | `ZIPKIN_SAMPLE_RATE` | percent of new traces sampled | `100` |
    /// | `ZIPKIN_SAMPLER` | a sampler in place of the rate: `10/s`, `25%`, or HTTP rules `GET /health=0%;/orders=100%;*=10/s` (see the README) | none |
    /// | `ZIPKIN_TRACE_ID_128BIT` | 128-bit trace ids (`true`/`false`; these switches also take any case, `1` and `0`) | `true` |
    /// | `ZIPKIN_ACCEPT_DEBUG` | honour callers' debug flag | `true` |
    /// | `ZIPKIN_B3_FORMAT` | `multi`, `single` or `both` | `multi` |
    /// | `ZIPKIN_TRACEPARENT` | also write W3C `traceparent` | `false` |
    /// | `ZIPKIN_ENCODING` | `json` or `proto` (HTTP bodies and Kafka records) | `json` |
    /// | `ZIPKIN_GZIP` | gzip request bodies (and Kafka records, unless the endpoint says `compression=`) | `false` |
    /// | `ZIPKIN_AUTH_HEADER` | `Name: value` sent to the collector | none |
    /// | `ZIPKIN_TLS_CA_FILE` | PEM file of extra root certificates for an HTTPS collector | none |
    /// | `ZIPKIN_LOCAL_IP` | local endpoint IP | first non-loopback interface |
    /// | `ZIPKIN_EXIT_FLUSH_TIMEOUT` | how long the tracer waits for its last spans at exit, or when its guard drops: `0` (off), `500ms`, `2s` | `1s` |
    ///
    /// An invalid value is an error that names the variable, its value and what it accepts.
    pub fn from_env(self) -> Result<TracerBuilder, ConfigError> {
        self.apply_vars(|name| std::env::var(name).ok())
    }

    /// [`TracerBuilder::from_env`] with the variables read through `var` (tests give a map).
    pub(crate) fn apply_vars(
        mut self,
        var: impl Fn(&'static str) -> Option<String>,
    ) -> Result<TracerBuilder, ConfigError> {
        env::apply(&mut self.config, &mut self.origins, var)?;
        Ok(self)
    }
    /// Default service name.
    pub fn service_name(mut self, name: impl Into<Cow<'static, str>>) -> Self {
        self.config.service_name = intern(name.into());
        self
    }

    /// Percent of new traces sampled, clamped to 0..=100, when no [`TracerBuilder::sampler`]
    /// is set.
    pub fn sample_rate(mut self, percent: f64) -> Self {
        self.config.percent = if percent.is_nan() {
            0.0
        } else {
            percent.clamp(0.0, 100.0)
        };
        self
    }

    /// Decides which new traces are recorded, in place of the percentage: asked once per trace,
    /// where it starts (a root span, or a server span whose caller sent no decision). A
    /// caller's decision always wins, and a span's own `sample_rate` overrides it.
    ///
    /// ```
    /// # extern crate zipkin_runtime as zipkin_rs;
    /// use zipkin_rs::{HttpRule, HttpRuleSampler, PercentageSampler, RateLimitingSampler, Tracer};
    /// let sampler = HttpRuleSampler::new(RateLimitingSampler::new(10))
    ///     .rule(HttpRule::path("/health").method("GET"), PercentageSampler::new(0.0))
    ///     .rule(HttpRule::path("/orders"), PercentageSampler::new(100.0));
    /// let tracer = Tracer::builder().sampler(sampler).build().unwrap();
    /// assert!(tracer.config().sampler().is_some());
    /// ```
    pub fn sampler(mut self, sampler: impl Sampler) -> Self {
        self.config.sampler = Some(SharedSampler(Arc::new(sampler)));
        self
    }

    /// A hook that sees each finished sampled span on the reporter's thread before it is
    /// reported, and may rename it, change its tags or drop it (see [`SpanHandler`]).
    pub fn span_handler(mut self, handler: impl SpanHandler) -> Self {
        self.config.span_handler = Some(SharedHandler(Arc::new(handler)));
        self
    }

    /// 128-bit (default) or 64-bit trace ids for new traces.
    pub fn trace_id_128bit(mut self, on: bool) -> Self {
        self.config.trace_id_128bit = on;
        self
    }

    /// Default local port.
    pub fn port(mut self, port: u16) -> Self {
        self.config.port = port;
        self
    }

    /// Local endpoint IP (otherwise found once from the interfaces).
    pub fn local_ip(mut self, ip: IpAddr) -> Self {
        self.config.local_ip = Some(ip);
        self
    }

    /// Honour debug requests from callers (default true).
    pub fn accept_debug(mut self, on: bool) -> Self {
        self.config.accept_debug = on;
        self
    }

    /// Server spans join the caller's span id (default true).
    pub fn join_server_spans(mut self, on: bool) -> Self {
        self.config.join_server_spans = on;
        self
    }

    /// Which B3 headers to write.
    pub fn b3_format(mut self, f: B3Format) -> Self {
        self.config.b3_format = f;
        self
    }

    /// Also write W3C `traceparent`.
    pub fn write_traceparent(mut self, on: bool) -> Self {
        self.config.write_traceparent = on;
        self
    }

    /// The collector: a URL, `kafka://host:port[,host:port...][/topic]` (the `kafka` feature;
    /// `?acks=0|1|all&compression=none|gzip` optional), `file:<path>`, `stdout` or `none`.
    pub fn endpoint(mut self, endpoint: &str) -> Result<Self, ConfigError> {
        let setting = Setting::Code("TracerBuilder::endpoint");
        self.config.endpoint = CollectorEndpoint::parse(endpoint, setting)?;
        self.origins.endpoint = setting;
        Ok(self)
    }

    /// Wire encoding for the HTTP transport.
    pub fn encoding(mut self, e: Encoding) -> Self {
        self.config.encoding = e;
        self
    }

    /// Gzip request bodies.
    pub fn gzip(mut self, on: bool) -> Self {
        self.config.gzip = on;
        self
    }

    /// A header sent with every report request (for example an `Authorization` bearer token).
    pub fn auth_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.config.auth_header = Some((name.into(), value.into()));
        self
    }

    /// Also trusts the root certificates of this PEM bundle for an HTTPS collector (a private
    /// CA, or a collector's self-signed certificate). The system's roots stay trusted; a TLS
    /// failure is a counted send failure, never a fallback to plain HTTP. Checked at `build`.
    ///
    /// ```
    /// # extern crate zipkin_runtime as zipkin_rs;
    /// use zipkin_rs::Tracer;
    /// let built = Tracer::builder()
    ///     .endpoint("https://zipkin.internal:9411")
    ///     .unwrap()
    ///     .tls_root_certificate("not a PEM bundle")
    ///     .build();
    /// assert!(built.is_err());
    /// ```
    pub fn tls_root_certificate(mut self, pem: impl AsRef<[u8]>) -> Self {
        self.config
            .tls_root_certificates
            .push(pem.as_ref().to_vec());
        self
    }

    /// Longest tag value kept, in bytes.
    pub fn max_tag_bytes(mut self, n: usize) -> Self {
        self.config.max_tag_bytes = n;
        self
    }

    /// Reporter limits and timings.
    pub fn reporter(mut self, r: ReporterConfig) -> Self {
        self.config.reporter = r;
        self
    }

    /// Collector timeouts.
    pub fn timeouts(mut self, connect: Duration, request: Duration) -> Self {
        self.config.connect_timeout = connect;
        self.config.request_timeout = request;
        self
    }

    /// How long the guard of [`TracerBuilder::install`] waits for spans not yet sent when it
    /// drops: 1 s by default (`ZIPKIN_EXIT_FLUSH_TIMEOUT` sets it too). What is still unsent
    /// then is dropped, and standard error says how many spans that was and why.
    pub fn close_timeout(mut self, t: Duration) -> Self {
        self.config.close_timeout = t;
        self
    }

    /// How long this tracer waits for its last spans when the process exits normally (`main`
    /// returns, or `std::process::exit` is called), if it still holds any then: 1 s by
    /// default, zero for no wait. What is still unsent after it is dropped, and standard error
    /// says how many spans that was. A tracer whose guard has dropped (or that was shut down)
    /// is not waited for again. A process that ends by a signal or an abort runs no exit code
    /// (see [`TracerGuard`]).
    ///
    /// ```
    /// # extern crate zipkin_runtime as zipkin_rs;
    /// use std::time::Duration;
    /// let tracer = zipkin_rs::Tracer::builder()
    ///     .exit_flush_timeout(Duration::from_millis(300))
    ///     .transport(zipkin_rs::transport::Discard)
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(tracer.config().exit_flush_timeout(), Duration::from_millis(300));
    /// ```
    pub fn exit_flush_timeout(mut self, t: Duration) -> Self {
        self.config.exit_flush_timeout = t;
        self
    }

    /// Sends spans through this transport instead of the one the endpoint implies.
    pub fn transport(mut self, t: impl Transport) -> Self {
        self.transport = Some(Box::new(t));
        self
    }

    /// Builds the tracer and starts its reporter thread.
    pub fn build(self) -> Result<Tracer, ConfigError> {
        let mut config = self.config;
        if config.service_name.trim().is_empty() {
            return Err(ConfigError::new(
                Setting::Code("TracerBuilder::service_name"),
                config.service_name,
                "a non-empty name such as \"webapp\"",
            ));
        }
        config.reporter.validate()?;
        config.settle_sampling();
        if config.local_ip.is_none() {
            config.local_ip = crate::config::local_ip::local_ip();
        }
        let transport_from_config = self.transport.is_none();
        let transport = match self.transport {
            Some(t) => t,
            None => transport_for(&config).map_err(|e| self.origins.name(e))?,
        };
        crate::clock::warm_up();
        let reporter = Reporter::start_with_handler(
            config.reporter.clone(),
            transport,
            config.local_ip,
            config.span_handler.as_ref().map(|h| h.0.clone()),
        );
        Ok(TracerInner::leak(config, reporter, transport_from_config))
    }

    /// Builds the tracer, makes it global, and returns a guard that flushes and stops it on
    /// drop. A previous global tracer is flushed and stopped.
    pub fn install(self) -> Result<TracerGuard, ConfigError> {
        let tracer = self.build()?;
        if let Some(old) = tracer.set_global() {
            let wait = old.config().close_timeout;
            old.close_and_report(
                wait,
                wait,
                "when another tracer was installed",
                "TracerBuilder::close_timeout",
            );
        }
        Ok(TracerGuard { tracer })
    }
}

/// Returned by [`TracerBuilder::install`] and [`crate::init`]: flushes and stops the reporter when
/// dropped, waiting at most the configured close timeout (what is still unsent then is dropped
/// and counted in [`Tracer::metrics`]). Dropping it inside an async runtime of any flavour is
/// safe: the reporter does not need that runtime.
///
/// Without the guard, a normal exit (`main` returning, `std::process::exit`) still sends the
/// spans left, within [`Config::exit_flush_timeout`]. Spans not yet sent are lost when the
/// process ends without `exit`: `abort`, a fatal signal or a panic with `panic = "abort"` run
/// no exit code, and the reporter threads do not keep the process alive. With the guard, the
/// wait is [`Config::close_timeout`] (1 s by default), at the point where it drops; the exit
/// then does not wait for this tracer again. Standard error says how many spans were left
/// unsent, and why.
#[must_use = "dropping the guard flushes and stops the tracer"]
#[derive(Debug)]
pub struct TracerGuard {
    tracer: Tracer,
}

impl TracerGuard {
    /// The installed tracer.
    pub fn tracer(&self) -> Tracer {
        self.tracer
    }
}

impl Drop for TracerGuard {
    fn drop(&mut self) {
        let wait = self.tracer.config().close_timeout;
        self.tracer.close_and_report(
            wait,
            wait,
            "when the tracer's guard dropped",
            "TracerBuilder::close_timeout or ZIPKIN_EXIT_FLUSH_TIMEOUT",
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reporter::config::MAX_THREAD_BUFFER_SPANS;

    /// The error `from_env` gives for `vars`, after building (transport errors come then).
    fn env_error(vars: &[(&'static str, &str)]) -> ConfigError {
        let lookup = |name: &'static str| {
            vars.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.to_string())
        };
        match Tracer::builder().apply_vars(lookup) {
            Err(e) => e,
            Ok(b) => b.build().expect_err("an invalid setting"),
        }
    }

    /// Regression: `ZIPKIN_TRACE_ID_128BIT=False` (Python's spelling) was refused, while the
    /// word-valued variables took any case.
    #[test]
    fn switches_take_true_and_false_in_any_case_and_1_and_0() {
        for (value, on) in [("True", true), ("FALSE", false), ("1", true), ("0", false)] {
            let lookup = |name: &'static str| {
                matches!(
                    name,
                    "ZIPKIN_TRACE_ID_128BIT"
                        | "ZIPKIN_ACCEPT_DEBUG"
                        | "ZIPKIN_TRACEPARENT"
                        | "ZIPKIN_GZIP"
                )
                .then(|| value.to_owned())
            };
            let c = Tracer::builder().apply_vars(lookup).unwrap().config;
            assert_eq!(
                (
                    c.trace_id_128bit,
                    c.accept_debug,
                    c.write_traceparent,
                    c.gzip
                ),
                (on, on, on, on),
                "{value}"
            );
        }
    }

    /// Regression: `Tracer::builder().from_env()?` in `main` printed `Error: Endpoint("stdot")`.
    /// Every configuration error names the variable, the value and what is accepted, in
    /// `Display` and in `Debug` alike.
    #[test]
    fn every_invalid_variable_is_named_with_its_value_and_what_it_accepts() {
        let cases: &[(&'static str, &str, &str)] = &[
            ("ZIPKIN_ENDPOINT", "stdot", "none"),
            ("ZIPKIN_ENDPOINT", "file:", "file:<path>"),
            ("ZIPKIN_ENDPOINT", "http://", "http:// or https:// URL"),
            ("ZIPKIN_SAMPLE_RATE", "150", "from 0 to 100"),
            ("ZIPKIN_SAMPLE_RATE", "half", "from 0 to 100"),
            ("ZIPKIN_TRACE_ID_128BIT", "yes", "true or false"),
            ("ZIPKIN_ACCEPT_DEBUG", "2", "true or false"),
            ("ZIPKIN_TRACEPARENT", "on", "true or false"),
            ("ZIPKIN_GZIP", "gzip", "true or false"),
            ("ZIPKIN_B3_FORMAT", "triple", "multi, single or both"),
            ("ZIPKIN_ENCODING", "thrift", "json or proto"),
            ("ZIPKIN_LOCAL_IP", "localhost", "IPv4 or IPv6"),
            (
                "ZIPKIN_TLS_CA_FILE",
                "/nonexistent/ca.pem",
                "readable PEM file",
            ),
            ("ZIPKIN_EXIT_FLUSH_TIMEOUT", "soon", "0 (off)"),
        ];
        for &(name, value, expected) in cases {
            let e = env_error(&[(name, value)]);
            assert_eq!(e.setting(), Setting::Env(name), "{e}");
            for text in [e.to_string(), format!("{e:?}")] {
                assert!(text.contains(name), "{text}");
                assert!(text.contains(&format!("{value:?}")), "{text}");
                assert!(text.contains(expected), "{text}");
            }
        }
        let e = env_error(&[("ZIPKIN_ENDPOINT", "stdot")]);
        // What this build takes: Kafka only with its feature.
        let kafka = match cfg!(feature = "kafka") {
            true => "kafka://host:port[,host:port...][/topic], ",
            false => "",
        };
        assert_eq!(
            format!("{e:?}"),
            format!(
                "ZIPKIN_ENDPOINT=\"stdot\" is invalid: expected an http:// or https:// URL, \
                 {kafka}file:<path>, stdout, or none (also empty or off) to report nothing"
            )
        );
    }

    #[test]
    fn secrets_and_transport_settings_are_named_as_the_user_wrote_them() {
        // The auth header's value is never shown.
        let e = env_error(&[("ZIPKIN_AUTH_HEADER", "no colon secret")]);
        assert_eq!(e.setting(), Setting::Env("ZIPKIN_AUTH_HEADER"));
        assert!(!e.to_string().contains("secret"), "{e}");
        let e = env_error(&[
            ("ZIPKIN_ENDPOINT", "http://127.0.0.1:9411"),
            ("ZIPKIN_AUTH_HEADER", "Bad Name: secret"),
        ]);
        assert_eq!(e.setting(), Setting::Env("ZIPKIN_AUTH_HEADER"), "{e}");
        assert!(e.to_string().contains("Bad Name"), "{e}");
        assert!(!e.to_string().contains("secret"), "{e}");
        // A URL's password is redacted.
        let e = Tracer::builder()
            .endpoint("https://u:hunter2@")
            .and_then(TracerBuilder::build)
            .unwrap_err();
        assert_eq!(e.setting(), Setting::Code("TracerBuilder::endpoint"), "{e}");
        assert!(!e.to_string().contains("hunter2"), "{e}");
        let e = Tracer::builder().service_name("").build().unwrap_err();
        assert_eq!(e.setting(), Setting::Code("TracerBuilder::service_name"));
    }

    /// Regression: a huge `thread_buffer_spans` overflowed `next_power_of_two` and panicked.
    #[test]
    fn reporter_limits_out_of_range_are_errors_not_panics() {
        for (cfg, field) in [
            (
                ReporterConfig {
                    thread_buffer_spans: usize::MAX,
                    ..Default::default()
                },
                "ReporterConfig::thread_buffer_spans",
            ),
            (
                ReporterConfig {
                    thread_buffer_spans: 1,
                    ..Default::default()
                },
                "ReporterConfig::thread_buffer_spans",
            ),
            (
                ReporterConfig {
                    queue_max_spans: 0,
                    ..Default::default()
                },
                "ReporterConfig::queue_max_spans",
            ),
            (
                ReporterConfig {
                    max_attempts: 0,
                    ..Default::default()
                },
                "ReporterConfig::max_attempts",
            ),
        ] {
            let e = Tracer::builder()
                .reporter(cfg)
                .transport(crate::transport::Discard)
                .build()
                .unwrap_err();
            assert_eq!(e.setting(), Setting::Code(field), "{e}");
        }
        assert_eq!(
            crate::reporter::ring::ring_capacity(usize::MAX),
            MAX_THREAD_BUFFER_SPANS
        );
    }

    #[test]
    fn exit_flush_timeout_takes_milliseconds_seconds_and_zero() {
        for (text, want) in [
            ("0", Duration::ZERO),
            ("250ms", Duration::from_millis(250)),
            ("2s", Duration::from_secs(2)),
            ("1.5s", Duration::from_millis(1500)),
        ] {
            let b = Tracer::builder()
                .apply_vars(|n| (n == "ZIPKIN_EXIT_FLUSH_TIMEOUT").then(|| text.to_owned()))
                .unwrap();
            assert_eq!(b.config.exit_flush_timeout, want, "{text}");
        }
        assert_eq!(Config::default().exit_flush_timeout, Duration::from_secs(1));
    }
}
