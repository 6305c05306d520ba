//! The tracer: configuration, the reporter it owns, and which tracer a new root span uses.
//!
//! Zero setup works: the first span initialises a global tracer from the environment. A builder
//! gives explicit configuration. Tests build their own tracer and make it the default of their
//! thread (`set_default`/`in_scope`); spans carry their tracer, so children and futures follow it
//! to other threads, and tests never need to run one at a time.

use std::borrow::Cow;
use std::cell::Cell;
use std::collections::HashSet;
use std::net::IpAddr;
use std::sync::atomic::{AtomicPtr, AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use crate::clock;
use crate::encode::Encoding;
use crate::error::{ConfigError, Setting};
use crate::id::TraceId;
use crate::propagation::B3Format;
#[cfg(test)]
use crate::reporter::MAX_THREAD_BUFFER_SPANS;
use crate::reporter::{FlushReport, Reporter, ReporterConfig, ReporterMetrics};
use crate::span::SpanRecord;
use crate::transport::{self, Transport};

/// The default collector URL.
pub const DEFAULT_ENDPOINT: &str = "http://localhost:9411/api/v2/spans";

/// Where spans are sent. `Debug` hides the user and password of a URL.
#[derive(Clone, PartialEq, Eq)]
pub enum CollectorEndpoint {
    /// POST to a Zipkin collector URL (`http://host:9411/api/v2/spans`).
    Http(String),
    /// Append Zipkin JSON to a file.
    File(std::path::PathBuf),
    /// Write Zipkin JSON to standard output.
    Stdout,
    /// Report nothing (ids still propagate).
    Disabled,
}

impl std::fmt::Debug for CollectorEndpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CollectorEndpoint::Http(url) => f.debug_tuple("Http").field(&redact_url(url)).finish(),
            CollectorEndpoint::File(p) => f.debug_tuple("File").field(p).finish(),
            CollectorEndpoint::Stdout => f.write_str("Stdout"),
            CollectorEndpoint::Disabled => f.write_str("Disabled"),
        }
    }
}

/// The URL with any `user:password@` replaced by `<redacted>@`, for messages and `Debug`.
///
/// ```
/// use zipkin_runtime::tracer::redact_url;
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

/// What an endpoint setting accepts.
pub(crate) const ENDPOINT_EXPECTED: &str =
    "an http:// or https:// URL, file:<path>, stdout, or none (also empty or off) to report nothing";

impl CollectorEndpoint {
    /// Parses `http(s)://…`, `file:<path>`, `stdout` or `none`.
    ///
    /// ```
    /// use zipkin_runtime::tracer::CollectorEndpoint;
    /// assert_eq!(CollectorEndpoint::parse("stdout").unwrap(), CollectorEndpoint::Stdout);
    /// assert!(CollectorEndpoint::parse("ftp://x").is_err());
    /// ```
    pub fn parse(s: &str) -> Result<CollectorEndpoint, ConfigError> {
        CollectorEndpoint::parse_from(s, Setting::Code("CollectorEndpoint::parse"))
    }

    fn parse_from(s: &str, setting: Setting) -> Result<CollectorEndpoint, ConfigError> {
        let t = s.trim();
        let invalid = || ConfigError::new(setting, redact_url(s), ENDPOINT_EXPECTED);
        if t.starts_with("http://") || t.starts_with("https://") {
            Ok(CollectorEndpoint::Http(t.to_owned()))
        } else if let Some(p) = t.strip_prefix("file:") {
            if p.is_empty() {
                return Err(invalid());
            }
            Ok(CollectorEndpoint::File(p.into()))
        } else if t.eq_ignore_ascii_case("stdout") {
            Ok(CollectorEndpoint::Stdout)
        } else if t.is_empty() || t.eq_ignore_ascii_case("none") || t.eq_ignore_ascii_case("off") {
            Ok(CollectorEndpoint::Disabled)
        } else {
            Err(invalid())
        }
    }
}

/// A tracer's settings. Read them with [`Tracer::config`].
#[derive(Clone)]
pub struct Config {
    /// Service name of spans that name none and have no parent to inherit from.
    pub service_name: &'static str,
    /// Percent of new traces sampled (0 to 100).
    pub sample_rate: f64,
    /// New trace ids are 128-bit (else 64-bit).
    pub trace_id_128bit: bool,
    /// Local endpoint port of spans that set none.
    pub port: u16,
    /// Local endpoint IP, found once at start.
    pub local_ip: Option<IpAddr>,
    /// Honour debug requests from callers. Off stops an untrusted caller forcing 100% sampling:
    /// a caller's debug flag (`b3: …-d`, `X-B3-Flags: 1`) is then ignored and the local sampler
    /// decides. Plain `X-B3-Sampled` decisions are still followed.
    pub accept_debug: bool,
    /// A server span continuing a caller joins the caller's span id (`shared: true`).
    pub join_server_spans: bool,
    /// Which B3 headers `inject_headers()` writes.
    pub b3_format: B3Format,
    /// Also write W3C `traceparent`.
    pub write_traceparent: bool,
    /// Where spans go.
    pub endpoint: CollectorEndpoint,
    /// Wire encoding.
    pub encoding: Encoding,
    /// Gzip request bodies.
    pub gzip: bool,
    /// An `Authorization` (or other) header sent to the collector: (name, value). Never logged.
    pub auth_header: Option<(String, String)>,
    /// Extra root certificates (PEM bundles) trusted for an HTTPS collector.
    pub tls_root_certificates: Vec<Vec<u8>>,
    /// Tag values longer than this many bytes are truncated (and counted).
    pub max_tag_bytes: usize,
    /// Connect timeout to the collector.
    pub connect_timeout: Duration,
    /// Whole-request timeout to the collector.
    pub request_timeout: Duration,
    /// How long the guard from `install()` waits for spans to leave when it drops.
    pub close_timeout: Duration,
    /// How long the global tracer waits for its last spans when the process exits normally
    /// (returns from `main`, or calls `std::process::exit`); zero turns the wait off. See
    /// [`TracerBuilder::exit_flush_timeout`].
    pub exit_flush_timeout: Duration,
    /// Reporter limits and timings.
    pub reporter: ReporterConfig,
}

impl std::fmt::Debug for Config {
    /// Shows every setting except the auth header's value.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("service_name", &self.service_name)
            .field("sample_rate", &self.sample_rate)
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
            close_timeout: Duration::from_secs(2),
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

/// Interns a name so spans can carry it as `&'static str`. For the names tracers are built
/// with; names given per span go through [`intern_bounded`].
pub(crate) fn intern(s: Cow<'static, str>) -> &'static str {
    intern_within(s, usize::MAX).unwrap_or("unknown_service")
}

/// The most distinct names [`intern_bounded`] adds: service names are few by nature, and each
/// one is kept for the rest of the process.
pub const MAX_SERVICE_NAMES: usize = 1024;

/// Names refused by [`intern_bounded`] because the table was full.
static SERVICE_NAMES_REFUSED: AtomicU64 = AtomicU64::new(0);

/// [`intern`] for a service name given per span (`SpanBuilder::service_name`): `None` once
/// [`MAX_SERVICE_NAMES`] distinct names are interned and this is a new one, so that a name
/// built per request cannot grow memory without bound. Such a span inherits its parent's
/// service instead; the first refusal says so on standard error, and every one is counted
/// ([`ReporterMetrics::service_names_refused`]).
pub(crate) fn intern_bounded(s: Cow<'static, str>) -> Option<&'static str> {
    let name = intern_within(s, MAX_SERVICE_NAMES);
    if name.is_none() && SERVICE_NAMES_REFUSED.fetch_add(1, Ordering::Relaxed) == 0 {
        eprintln!(
            "zipkin: more than {MAX_SERVICE_NAMES} distinct service names were given to \
             SpanBuilder::service_name; spans with a new one keep their parent's service \
             (see ReporterMetrics::service_names_refused)"
        );
    }
    name
}

fn intern_within(s: Cow<'static, str>, max: usize) -> Option<&'static str> {
    if let Cow::Borrowed(b) = s {
        return Some(b);
    }
    static NAMES: Mutex<Option<HashSet<&'static str>>> = Mutex::new(None);
    let mut g = NAMES.lock().unwrap_or_else(|e| e.into_inner());
    let set = g.get_or_insert_with(HashSet::new);
    if let Some(&found) = set.get(s.as_ref()) {
        return Some(found);
    }
    if set.len() >= max {
        return None;
    }
    let leaked: &'static str = Box::leak(s.into_owned().into_boxed_str());
    set.insert(leaked);
    Some(leaked)
}

pub(crate) struct TracerInner {
    config: Config,
    reporter: Reporter,
    /// In a forked child, the reporter started there (see `process`); null otherwise.
    child: AtomicPtr<Reporter>,
    /// The transport came from the configuration, so a forked child can make its own.
    transport_from_config: bool,
    tag_truncations: std::sync::atomic::AtomicU64,
    dropped_after_finish: std::sync::atomic::AtomicU64,
    /// The tracer built before this one (see `process`).
    next: OnceLock<&'static TracerInner>,
}

impl TracerInner {
    /// Allocates a tracer for the rest of the process and registers it (see `process`).
    fn leak(config: Config, reporter: Reporter, transport_from_config: bool) -> Tracer {
        let inner: &'static TracerInner = Box::leak(Box::new(TracerInner {
            config,
            reporter,
            child: AtomicPtr::new(std::ptr::null_mut()),
            transport_from_config,
            tag_truncations: Default::default(),
            dropped_after_finish: Default::default(),
            next: OnceLock::new(),
        }));
        crate::process::register(inner);
        Tracer { inner }
    }

    /// The reporter that works in this process: `None` in a forked child until its first
    /// span starts one (the parent's must not be touched there: its locks may be held by
    /// threads that do not exist in the child).
    fn active(&self) -> Option<&Reporter> {
        // SAFETY: `child` only ever holds pointers leaked from a Box<Reporter>.
        let r = unsafe { self.child.load(Ordering::Acquire).as_ref() }.unwrap_or(&self.reporter);
        (!r.is_forked()).then_some(r)
    }

    /// Called in a forked child, from `pthread_atfork`'s handler: every reporter of this
    /// tracer belongs to the parent now. Only atomics are written.
    pub(crate) fn mark_forked(&self) {
        // SAFETY: as in `active`.
        if let Some(child) = unsafe { self.child.load(Ordering::Acquire).as_ref() } {
            child.mark_forked();
        }
        self.child.store(std::ptr::null_mut(), Ordering::Release);
        self.reporter.mark_forked();
    }

    /// The reporter of this forked child, started on its first use: with a transport made
    /// anew from the configuration, or, for a transport given in code (which cannot be
    /// copied into the child) or a file (which the parent writes), one that refuses and
    /// counts every message.
    #[cold]
    #[inline(never)]
    fn child_reporter(&'static self) -> &'static Reporter {
        let current = self.child.load(Ordering::Acquire);
        // SAFETY: as in `active`.
        if let Some(r) = unsafe { current.as_ref() } {
            return r;
        }
        let made = match (&self.config.endpoint, self.transport_from_config) {
            (CollectorEndpoint::File(_), _) | (_, false) => None,
            _ => transport::from_config(&self.config).ok(),
        };
        let transport = made.unwrap_or_else(|| Box::new(transport::ParentOnly::new()));
        let started: &'static mut Reporter = Box::leak(Box::new(Reporter::start(
            self.config.reporter.clone(),
            transport,
            self.config.local_ip,
        )));
        let p: *mut Reporter = started;
        match self
            .child
            .compare_exchange(current, p, Ordering::AcqRel, Ordering::Acquire)
        {
            // SAFETY: `p` was just leaked.
            Ok(_) => unsafe { &*p },
            Err(other) => {
                // Another thread of the child got there first.
                // SAFETY: as in `active`; `p` was just leaked and nothing else holds it.
                let (mine, theirs) = unsafe { (&*p, other.as_ref()) };
                mine.shutdown(Duration::ZERO);
                theirs.unwrap_or(mine)
            }
        }
    }

    pub(crate) fn set_next(&self, next: Option<&'static TracerInner>) {
        // Set once, before the tracer is published in the list.
        if let Some(next) = next {
            let _ = self.next.set(next);
        }
    }

    pub(crate) fn next(&self) -> Option<&'static TracerInner> {
        self.next.get().copied()
    }
}

/// A configured tracer. Cheap to copy; lives for the rest of the process (its reporter thread
/// stops at `shutdown`).
#[derive(Clone, Copy)]
pub struct Tracer {
    inner: &'static TracerInner,
}

impl Tracer {
    pub(crate) fn from_inner(inner: &'static TracerInner) -> Tracer {
        Tracer { inner }
    }

    /// See [`TracerInner::mark_forked`].
    pub(crate) fn mark_forked(self) {
        self.inner.mark_forked();
    }

    /// Whether both are the same tracer.
    #[inline(always)]
    pub(crate) fn same(self, other: Tracer) -> bool {
        std::ptr::eq(self.inner, other.inner)
    }
}

impl std::fmt::Debug for Tracer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tracer")
            .field("service_name", &self.inner.config.service_name)
            .field("endpoint", &self.inner.config.endpoint)
            .finish()
    }
}

static GLOBAL: AtomicPtr<TracerInner> = AtomicPtr::new(std::ptr::null_mut());

thread_local! {
    static THREAD_DEFAULT: Cell<Option<Tracer>> = const { Cell::new(None) };
}

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

    /// The tracer new root spans on this thread use: the thread default, else the global one
    /// (initialised from the environment on first use).
    #[inline]
    pub fn current() -> Tracer {
        if let Ok(Some(t)) = THREAD_DEFAULT.try_with(|d| d.get()) {
            return t;
        }
        Tracer::global()
    }

    /// The process-wide tracer, initialised from the environment on first use.
    #[inline]
    pub fn global() -> Tracer {
        let p = GLOBAL.load(Ordering::Acquire);
        if !p.is_null() {
            // SAFETY: GLOBAL only ever holds pointers leaked from a Box<TracerInner>.
            return Tracer {
                inner: unsafe { &*p },
            };
        }
        Tracer::init_global_from_env()
    }

    #[cold]
    fn init_global_from_env() -> Tracer {
        let builder = match Tracer::builder().from_env() {
            Ok(b) => b,
            Err(e) => {
                eprintln!("zipkin: {e}; using defaults");
                Tracer::builder()
            }
        };
        let t = match builder.build() {
            Ok(t) => t,
            Err(e) => {
                eprintln!("zipkin: {e}; spans will not be reported");
                let mut b = Tracer::builder();
                b.config.endpoint = CollectorEndpoint::Disabled;
                match b.build() {
                    Ok(t) => t,
                    Err(_) => unreachable_tracer(),
                }
            }
        };
        let p = t.inner as *const TracerInner as *mut TracerInner;
        match GLOBAL.compare_exchange(std::ptr::null_mut(), p, Ordering::AcqRel, Ordering::Acquire)
        {
            Ok(_) => t,
            Err(existing) => {
                // Another thread won the race; stop the reporter we started.
                t.shutdown(Duration::from_millis(100));
                // SAFETY: as above.
                Tracer {
                    inner: unsafe { &*existing },
                }
            }
        }
    }

    /// Makes this tracer the global one, returning the previous one if there was one.
    pub fn set_global(self) -> Option<Tracer> {
        let p = self.inner as *const TracerInner as *mut TracerInner;
        let old = GLOBAL.swap(p, Ordering::AcqRel);
        // SAFETY: as above.
        (!old.is_null()).then(|| Tracer {
            inner: unsafe { &*old },
        })
    }

    /// Makes this tracer the default for new root spans on this thread until the guard drops.
    pub fn set_default(self) -> DefaultGuard {
        let prev = THREAD_DEFAULT
            .try_with(|d| d.replace(Some(self)))
            .ok()
            .flatten();
        DefaultGuard {
            prev,
            _not_send: std::marker::PhantomData,
        }
    }

    /// Runs `f` with this tracer as the thread default.
    pub fn in_scope<R>(self, f: impl FnOnce() -> R) -> R {
        let _g = self.set_default();
        f()
    }

    /// This tracer's settings.
    #[inline]
    pub fn config(self) -> &'static Config {
        &self.inner.config
    }

    /// The reporter's counters, and what this tracer dropped before reporting.
    pub fn metrics(self) -> ReporterMetrics {
        ReporterMetrics {
            tags_dropped_after_finish: self.inner.dropped_after_finish.load(Ordering::Relaxed),
            service_names_refused: SERVICE_NAMES_REFUSED.load(Ordering::Relaxed),
            ..self
                .inner
                .active()
                .map(Reporter::metrics)
                .unwrap_or_default()
        }
    }

    /// Counts tags or annotations that reached a span after it finished.
    pub(crate) fn count_dropped_after_finish(self, n: u64) {
        self.inner
            .dropped_after_finish
            .fetch_add(n, Ordering::Relaxed);
    }

    /// Tag values truncated because they were longer than `max_tag_bytes`.
    pub fn tag_truncations(self) -> u64 {
        self.inner.tag_truncations.load(Ordering::Relaxed)
    }

    /// Sends every span finished so far, waiting at most `timeout`.
    pub fn flush(self, timeout: Duration) -> FlushReport {
        match self.inner.active() {
            Some(r) => r.flush(timeout),
            None => FlushReport::default(),
        }
    }

    /// Flushes and stops the reporter within `timeout`; later spans are counted as dropped.
    /// Safe to call more than once.
    pub fn shutdown(self, timeout: Duration) -> FlushReport {
        match self.inner.active() {
            Some(r) => r.shutdown(timeout),
            None => FlushReport::default(),
        }
    }

    #[inline]
    pub(crate) fn sample(self, trace_id: TraceId, rate: f64) -> bool {
        crate::sampler::is_sampled(trace_id, rate)
    }

    /// Hands a finished span to the reporter; the record is built in its ring slot.
    #[inline(always)]
    pub(crate) fn record_with(self, make: impl FnOnce(u64) -> SpanRecord, local_root: bool) {
        if let Err(make) = self.inner.reporter.record_with(make, local_root) {
            self.record_in_forked_child(make(clock::now()), local_root);
        }
    }

    /// The parent's reporter refused a span because this is a forked child: the child's own
    /// reporter takes it.
    #[cold]
    #[inline(never)]
    fn record_in_forked_child(self, rec: SpanRecord, local_root: bool) {
        let r = self.inner.child_reporter();
        // Err only if forked again meanwhile: the span is lost, as the parent's queue is.
        let _ = r.record_with(|_| rec, local_root);
    }

    pub(crate) fn limit_tag(self, mut v: String) -> String {
        let max = self.inner.config.max_tag_bytes;
        if v.len() > max {
            let mut cut = max;
            while !v.is_char_boundary(cut) {
                cut -= 1;
            }
            v.truncate(cut);
            self.inner.tag_truncations.fetch_add(1, Ordering::Relaxed);
        }
        v
    }
}

#[cold]
fn unreachable_tracer() -> Tracer {
    // Building with the Disabled endpoint and defaults cannot fail; keep a total function anyway.
    TracerInner::leak(
        Config {
            endpoint: CollectorEndpoint::Disabled,
            ..Config::default()
        },
        Reporter::start(
            ReporterConfig::default(),
            Box::new(transport::Discard),
            None,
        ),
        true,
    )
}

/// Restores the previous thread default tracer when dropped.
pub struct DefaultGuard {
    prev: Option<Tracer>,
    _not_send: std::marker::PhantomData<*const ()>,
}

impl Drop for DefaultGuard {
    fn drop(&mut self) {
        let _ = THREAD_DEFAULT.try_with(|d| d.set(self.prev));
    }
}

/// Returned by [`TracerBuilder::install`] and [`init`]: flushes and stops the reporter when
/// dropped, waiting at most the configured close timeout (what is still unsent then is dropped
/// and counted in [`Tracer::metrics`]). Dropping it inside an async runtime of any flavour is
/// safe: the reporter does not need that runtime.
///
/// Without the guard, a normal exit (`main` returning, `std::process::exit`) still sends the
/// spans left, within [`Config::exit_flush_timeout`]. Spans not yet sent are lost when the
/// process ends without `exit`: `abort`, a fatal signal or a panic with `panic = "abort"` run
/// no exit code, and the reporter threads do not keep the process alive. The guard bounds the
/// wait with [`Config::close_timeout`] instead, at the point where it drops.
#[must_use = "dropping the guard flushes and stops the tracer"]
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
        self.tracer.shutdown(self.tracer.config().close_timeout);
    }
}

/// Builds a [`Tracer`].
///
/// ```
/// use zipkin_runtime::{Tracer, transport::memory::MemoryTransport};
/// let tracer = Tracer::builder()
///     .service_name("webapp")
///     .sample_rate(50.0)
///     .transport(MemoryTransport::new())
///     .build()
///     .unwrap();
/// assert_eq!(tracer.config().service_name, "webapp");
/// ```
pub struct TracerBuilder {
    config: Config,
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

#[derive(Clone, Copy)]
struct Origins {
    endpoint: Setting,
    auth_header: Setting,
    tls: Setting,
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
    fn name(&self, e: ConfigError) -> ConfigError {
        let user = match e.setting() {
            Setting::Code("HttpTransport::builder" | "FileTransport::create") => self.endpoint,
            Setting::Code("HttpTransportBuilder::auth_header") => self.auth_header,
            Setting::Code("HttpTransportBuilder::tls_root_certificate") => self.tls,
            other => other,
        };
        e.named(user)
    }
}

/// Reads one variable of a `ZIPKIN_*` environment: its trimmed value, `None` when unset or
/// blank, and an error naming it when it does not parse as `T`.
fn parsed<T: std::str::FromStr>(
    var: &impl Fn(&'static str) -> Option<String>,
    name: &'static str,
    expected: &'static str,
) -> Result<Option<T>, ConfigError> {
    match var(name) {
        Some(v) if !v.trim().is_empty() => v
            .trim()
            .parse::<T>()
            .map(Some)
            .map_err(|_| ConfigError::new(Setting::Env(name), v, expected)),
        _ => Ok(None),
    }
}

/// A duration written as `0` (off), `<n>ms` or `<n>s` (`n` may have a fraction with `s`).
fn parse_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    if s == "0" {
        return Some(Duration::ZERO);
    }
    if let Some(ms) = s.strip_suffix("ms") {
        return ms.trim().parse::<u64>().ok().map(Duration::from_millis);
    }
    let secs = s.strip_suffix('s')?.trim().parse::<f64>().ok()?;
    Duration::try_from_secs_f64(secs).ok()
}

const BOOL: &str = "true or false";

impl TracerBuilder {
    /// Applies environment variables:
    ///
    /// | variable | meaning | default |
    /// |---|---|---|
    /// | `ZIPKIN_ENDPOINT` | collector URL, `file:<path>`, `stdout` or `none` | `http://localhost:9411/api/v2/spans` |
    /// | `ZIPKIN_SERVICE_NAME` | default service name | the executable's name |
    /// | `ZIPKIN_SAMPLE_RATE` | percent of new traces sampled | `100` |
    /// | `ZIPKIN_TRACE_ID_128BIT` | `true`/`false` | `true` |
    /// | `ZIPKIN_ACCEPT_DEBUG` | honour callers' debug flag | `true` |
    /// | `ZIPKIN_B3_FORMAT` | `multi`, `single` or `both` | `multi` |
    /// | `ZIPKIN_TRACEPARENT` | also write W3C `traceparent` | `false` |
    /// | `ZIPKIN_ENCODING` | `json` or `proto` | `json` |
    /// | `ZIPKIN_GZIP` | gzip request bodies | `false` |
    /// | `ZIPKIN_AUTH_HEADER` | `Name: value` sent to the collector | none |
    /// | `ZIPKIN_TLS_CA_FILE` | PEM file of extra root certificates for an HTTPS collector | none |
    /// | `ZIPKIN_LOCAL_IP` | local endpoint IP | first non-loopback interface |
    /// | `ZIPKIN_EXIT_FLUSH_TIMEOUT` | how long the global tracer waits for its last spans at exit: `0` (off), `500ms`, `2s` | `1s` |
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
        if let Some(v) = var("ZIPKIN_ENDPOINT") {
            let setting = Setting::Env("ZIPKIN_ENDPOINT");
            self.config.endpoint = CollectorEndpoint::parse_from(&v, setting)?;
            self.origins.endpoint = setting;
        }
        if let Some(v) = var("ZIPKIN_SERVICE_NAME") {
            if !v.trim().is_empty() {
                self.config.service_name = intern(Cow::Owned(v.trim().to_owned()));
            }
        }
        const PERCENT: &str = "a percentage from 0 to 100";
        if let Some(r) = parsed::<f64>(&var, "ZIPKIN_SAMPLE_RATE", PERCENT)? {
            if !(0.0..=100.0).contains(&r) {
                let v = var("ZIPKIN_SAMPLE_RATE").unwrap_or_default();
                return Err(ConfigError::new(
                    Setting::Env("ZIPKIN_SAMPLE_RATE"),
                    v,
                    PERCENT,
                ));
            }
            self = self.sample_rate(r);
        }
        if let Some(b) = parsed(&var, "ZIPKIN_TRACE_ID_128BIT", BOOL)? {
            self.config.trace_id_128bit = b;
        }
        if let Some(b) = parsed(&var, "ZIPKIN_ACCEPT_DEBUG", BOOL)? {
            self.config.accept_debug = b;
        }
        if let Some(b) = parsed(&var, "ZIPKIN_TRACEPARENT", BOOL)? {
            self.config.write_traceparent = b;
        }
        if let Some(b) = parsed(&var, "ZIPKIN_GZIP", BOOL)? {
            self.config.gzip = b;
        }
        if let Some(v) = var("ZIPKIN_B3_FORMAT") {
            self.config.b3_format = match v.trim().to_ascii_lowercase().as_str() {
                "multi" => B3Format::Multi,
                "single" => B3Format::Single,
                "both" => B3Format::Both,
                _ => {
                    return Err(ConfigError::new(
                        Setting::Env("ZIPKIN_B3_FORMAT"),
                        v,
                        "multi, single or both",
                    ))
                }
            };
        }
        if let Some(v) = var("ZIPKIN_ENCODING") {
            self.config.encoding = match v.trim().to_ascii_lowercase().as_str() {
                "json" => Encoding::Json,
                "proto" | "proto3" | "protobuf" => Encoding::Proto,
                _ => {
                    return Err(ConfigError::new(
                        Setting::Env("ZIPKIN_ENCODING"),
                        v,
                        "json or proto",
                    ))
                }
            };
        }
        if let Some(v) = var("ZIPKIN_AUTH_HEADER") {
            let setting = Setting::Env("ZIPKIN_AUTH_HEADER");
            match v.split_once(':') {
                Some((n, val)) if !n.trim().is_empty() => {
                    self.config.auth_header = Some((n.trim().to_owned(), val.trim().to_owned()));
                    self.origins.auth_header = setting;
                }
                _ => {
                    return Err(ConfigError::new(
                        setting,
                        "<redacted>",
                        "a header as `Name: value`, such as `Authorization: Bearer <token>`",
                    ))
                }
            }
        }
        if let Some(path) = var("ZIPKIN_TLS_CA_FILE") {
            if !path.trim().is_empty() {
                let setting = Setting::Env("ZIPKIN_TLS_CA_FILE");
                let pem = std::fs::read(path.trim()).map_err(|e| {
                    ConfigError::new(setting, path.clone(), "a readable PEM file").because(e)
                })?;
                self.config.tls_root_certificates.push(pem);
                self.origins.tls = setting;
            }
        }
        if let Some(ip) = parsed(&var, "ZIPKIN_LOCAL_IP", "an IPv4 or IPv6 address")? {
            self.config.local_ip = Some(ip);
        }
        if let Some(v) = var("ZIPKIN_EXIT_FLUSH_TIMEOUT") {
            if !v.trim().is_empty() {
                self.config.exit_flush_timeout = parse_duration(&v).ok_or_else(|| {
                    ConfigError::new(
                        Setting::Env("ZIPKIN_EXIT_FLUSH_TIMEOUT"),
                        v.clone(),
                        "0 (off), milliseconds such as 500ms, or seconds such as 1s or 1.5s",
                    )
                })?;
            }
        }
        Ok(self)
    }

    /// Default service name.
    pub fn service_name(mut self, name: impl Into<Cow<'static, str>>) -> Self {
        self.config.service_name = intern(name.into());
        self
    }

    /// Percent of new traces sampled, clamped to 0..=100.
    pub fn sample_rate(mut self, percent: f64) -> Self {
        self.config.sample_rate = if percent.is_nan() {
            0.0
        } else {
            percent.clamp(0.0, 100.0)
        };
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

    /// The collector: a URL, `file:<path>`, `stdout` or `none`.
    pub fn endpoint(mut self, endpoint: &str) -> Result<Self, ConfigError> {
        let setting = Setting::Code("TracerBuilder::endpoint");
        self.config.endpoint = CollectorEndpoint::parse_from(endpoint, setting)?;
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
    /// use zipkin_runtime::Tracer;
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

    /// How long the install guard waits on drop.
    pub fn close_timeout(mut self, t: Duration) -> Self {
        self.config.close_timeout = t;
        self
    }

    /// How long this tracer waits for its last spans when the process exits normally (`main`
    /// returns, or `std::process::exit` is called), if it still holds any then: 1 s by
    /// default, zero for no wait. What is still unsent after it is dropped, and standard error
    /// says how many spans that was. A process that ends by a signal or an abort runs no exit
    /// code: see the crate's documentation on exiting.
    ///
    /// ```
    /// use std::time::Duration;
    /// let tracer = zipkin_runtime::Tracer::builder()
    ///     .exit_flush_timeout(Duration::from_millis(300))
    ///     .transport(zipkin_runtime::transport::Discard)
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(tracer.config().exit_flush_timeout, Duration::from_millis(300));
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

    /// Mutable access to every setting.
    pub fn config_mut(&mut self) -> &mut Config {
        &mut self.config
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
        if config.local_ip.is_none() {
            config.local_ip = crate::endpoint::local_ip();
        }
        let transport_from_config = self.transport.is_none();
        let transport = match self.transport {
            Some(t) => t,
            None => transport::from_config(&config).map_err(|e| self.origins.name(e))?,
        };
        crate::clock::warm_up();
        let reporter = Reporter::start(config.reporter.clone(), transport, config.local_ip);
        Ok(TracerInner::leak(config, reporter, transport_from_config))
    }

    /// Builds the tracer, makes it global, and returns a guard that flushes and stops it on
    /// drop. A previous global tracer is flushed and stopped.
    pub fn install(self) -> Result<TracerGuard, ConfigError> {
        let tracer = self.build()?;
        if let Some(old) = tracer.set_global() {
            old.shutdown(old.config().close_timeout);
        }
        Ok(TracerGuard { tracer })
    }
}

/// Initialises the global tracer from the environment and returns its guard.
///
/// ```no_run
/// let _zipkin = zipkin_runtime::init().expect("valid ZIPKIN_* settings");
/// ```
pub fn init() -> Result<TracerGuard, ConfigError> {
    Tracer::builder().from_env()?.install()
}

#[cfg(test)]
mod tests {
    use super::*;

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
            ("ZIPKIN_ACCEPT_DEBUG", "1", "true or false"),
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
        assert_eq!(
            format!("{e:?}"),
            "ZIPKIN_ENDPOINT=\"stdot\" is invalid: expected an http:// or https:// URL, \
             file:<path>, stdout, or none (also empty or off) to report nothing"
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
            crate::buffer::ring_capacity(usize::MAX),
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
