//! The tracer: a configuration and the reporter it owns, shared by every span that carries it.
//!
//! Zero setup works: the first span initialises a global tracer from the environment
//! (`global.rs`). A builder gives explicit configuration (`builder.rs`). Tests build their own
//! tracer and make it the default of their thread (`set_default`/`in_scope`); spans carry their
//! tracer, so children and futures follow it to other threads, and tests never need to run one
//! at a time. Every tracer lives for the rest of the process; `registry.rs` keeps the list, for
//! the exit flush and for forked children.

pub(crate) mod builder;
pub(crate) mod global;
pub(crate) mod registry;

use std::sync::atomic::Ordering;
use std::sync::OnceLock;
use std::time::Duration;

use crate::clock;
use crate::config::endpoint::CollectorEndpoint;
use crate::config::select::transport_for;
use crate::config::Config;
use crate::id::TraceId;
use crate::intern::service_names_refused;
use crate::record::{Extra, SpanRecord};
use crate::reporter::metrics::{FlushReport, ReporterMetrics};
use crate::reporter::Reporter;
use crate::sampler::{is_sampled, HttpRequest, Sampler, SamplingRequest};
use crate::tag_value::TagValue;
use crate::transport;

use registry::Tracked;

pub(crate) struct TracerInner {
    config: Config,
    reporter: Reporter,
    /// The reporters of forked children, by fork generation (1 at index 0): each is started by
    /// the child's first span (see `registry.rs`).
    forked: [OnceLock<Reporter>; MAX_FORK_DEPTH],
    /// The transport came from the configuration, so a forked child can make its own.
    transport_from_config: bool,
    tag_truncations: std::sync::atomic::AtomicU64,
    dropped_after_finish: std::sync::atomic::AtomicU64,
}

impl TracerInner {
    /// Allocates a tracer for the rest of the process and registers it (see `process`).
    fn leak(config: Config, reporter: Reporter, transport_from_config: bool) -> Tracer {
        let inner: &'static TracerInner = Box::leak(Box::new(TracerInner {
            config,
            reporter,
            forked: [const { OnceLock::new() }; MAX_FORK_DEPTH],
            transport_from_config,
            tag_truncations: Default::default(),
            dropped_after_finish: Default::default(),
        }));
        registry::register(inner);
        Tracer { inner }
    }

    /// The reporter that works in this process: `None` in a forked child until its first
    /// span starts one (the parent's must not be touched there: its locks may be held by
    /// threads that do not exist in the child).
    fn active(&self) -> Option<&Reporter> {
        match registry::fork_generation() {
            0 => Some(&self.reporter),
            g => self.forked.get(g - 1)?.get(),
        }
    }

    /// Called in a forked child, from `pthread_atfork`'s handler: the first reporter now sends
    /// every span it is offered to the child's own (see [`Tracer::record_with`]). Only atomics
    /// are written.
    pub(crate) fn mark_forked(&self) {
        self.reporter.mark_forked();
    }

    /// The reporter of this forked child, started on its first use: with a transport made
    /// anew from the configuration, or, for a transport given in code (which cannot be
    /// copied into the child) or a file (which the parent writes), one that refuses and
    /// counts every message. `None` past [`MAX_FORK_DEPTH`] nested forks.
    #[cold]
    #[inline(never)]
    fn child_reporter(&self) -> Option<&Reporter> {
        let slot = self
            .forked
            .get(registry::fork_generation().checked_sub(1)?)?;
        Some(slot.get_or_init(|| {
            let made = match (&self.config.endpoint, self.transport_from_config) {
                (CollectorEndpoint::File(_), _) | (_, false) => None,
                _ => transport_for(&self.config).ok(),
            };
            let transport = made.unwrap_or_else(|| Box::new(transport::ParentOnly::new()));
            Reporter::start_with_handler(
                self.config.reporter.clone(),
                transport,
                self.config.local_ip,
                self.config.span_handler.as_ref().map(|h| h.0.clone()),
            )
        }))
    }
}

/// How many nested forks get a reporter of their own; deeper children report nothing (their
/// spans are refused, as after a shutdown).
const MAX_FORK_DEPTH: usize = 8;

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

impl Tracer {
    /// This tracer's settings.
    #[inline]
    pub fn config(self) -> &'static Config {
        &self.inner.config
    }

    /// The reporter's counters, and what this tracer dropped before reporting.
    pub fn metrics(self) -> ReporterMetrics {
        ReporterMetrics {
            tags_dropped_after_finish: self.inner.dropped_after_finish.load(Ordering::Relaxed),
            service_names_refused: service_names_refused(),
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

    /// Whether the new trace `trace_id`, started by the span `name`, is recorded: at
    /// `explicit` percent when the span sets its own rate, else by the tracer's sampler or
    /// percentage. A sampler that never samples is not called; one that panics says no.
    #[inline]
    pub(crate) fn sample_new_trace(
        self,
        explicit: Option<f64>,
        trace_id: TraceId,
        name: &str,
        http: Option<&HttpRequest<'_>>,
    ) -> bool {
        let cfg = &self.inner.config;
        match (explicit, &cfg.sampler) {
            (Some(rate), _) => is_sampled(trace_id, rate),
            (None, None) => is_sampled(trace_id, cfg.sample_rate),
            (None, Some(_)) if cfg.never_samples() => false,
            (None, Some(s)) => ask(&**s, trace_id, name, http),
        }
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
        if let Some(r) = self.inner.child_reporter() {
            // Err only if forked again meanwhile: the span is lost, as the parent's queue is.
            let _ = r.record_with(|_| rec, local_root);
        }
    }

    /// An empty tag box for a span of this thread (see `Reporter::new_extra`).
    #[inline]
    pub(crate) fn new_extra(self) -> Box<Extra> {
        self.inner.reporter.new_extra()
    }

    /// [`Tracer::limit_tag`] for a tag's value, in whichever form it is kept.
    pub(crate) fn limit_tag_value(self, mut v: TagValue) -> TagValue {
        if v.truncate(self.inner.config.max_tag_bytes) {
            self.inner.tag_truncations.fetch_add(1, Ordering::Relaxed);
        }
        v
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

impl Tracer {
    /// Shuts the tracer down within `wait` and, if spans were left, says on standard error how
    /// many, why, and how long it waited. With no wait configured (`configured` zero) it says
    /// nothing: the user turned the wait off. A tracer already shut down (its guard dropped,
    /// `shutdown` called, or replaced by `install`) is left alone: that wait was bounded and
    /// said already, and a second one would add to it.
    pub(crate) fn close_and_report(
        self,
        wait: Duration,
        configured: Duration,
        when: &str,
        setting: &str,
    ) {
        if let Some(line) = self.close_and_explain(wait, configured, when, setting) {
            eprintln!("{line}");
        }
    }

    /// [`Tracer::close_and_report`]'s work: the line to say, if any.
    fn close_and_explain(
        self,
        wait: Duration,
        configured: Duration,
        when: &str,
        setting: &str,
    ) -> Option<String> {
        if self.inner.active().map_or(true, Reporter::is_closed) {
            return None;
        }
        let before = self.metrics();
        if configured.is_zero() || before.spans_queued == 0 {
            self.shutdown(wait);
            return None;
        }
        let started = std::time::Instant::now();
        let report = self.shutdown(wait);
        let after = self.metrics();
        let waited = started.elapsed();
        let lost = after.spans_dropped - before.spans_dropped + after.spans_queued;
        if lost == 0 {
            return None;
        }
        let failed = (after.dropped_transport_error + after.dropped_rejected)
            - (before.dropped_transport_error + before.dropped_rejected);
        let mut why = Vec::new();
        if failed > 0 {
            why.push(format!("{failed} not accepted by the collector"));
        }
        let rest = lost - failed;
        if rest > 0 && report.timed_out {
            why.push(format!(
                "{rest} still waiting when the {configured:?} wait ran out ({setting} sets it)"
            ));
        } else if rest > 0 {
            why.push(format!("{rest} dropped"));
        }
        if let Some(e) = self.inner.active().and_then(Reporter::last_failure) {
            why.push(format!("the collector's last attempt failed: {e}"));
        }
        Some(format!(
            "zipkin: {lost} span(s) unsent {when}, after waiting {}: {}",
            fmt_wait(waited),
            why.join("; ")
        ))
    }
}

/// A wait as a person reads it: `212ms`, `1.0s`.
fn fmt_wait(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        format!("{}ms", d.as_millis())
    } else {
        format!("{:.1}s", d.as_secs_f64())
    }
}

/// Asks a user's sampler, out of line; a panic in it is a "no", never the application's.
#[inline(never)]
fn ask(
    sampler: &dyn Sampler,
    trace_id: TraceId,
    name: &str,
    http: Option<&HttpRequest<'_>>,
) -> bool {
    let mut request = SamplingRequest::new(trace_id, name);
    request.http = http.copied();
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| sampler.sample(&request)))
        .unwrap_or(false)
}

impl Tracked for TracerInner {
    /// Shuts the tracer down if it still holds spans, within its `exit_flush_timeout` less
    /// `spent`, and says on standard error what could not be sent (not for a tracer already
    /// shut down: see `close_and_report`).
    fn flush_at_exit(&'static self, spent: Duration) {
        let t = Tracer { inner: self };
        let timeout = self.config.exit_flush_timeout;
        t.close_and_report(
            timeout.saturating_sub(spent),
            timeout,
            "at exit",
            "ZIPKIN_EXIT_FLUSH_TIMEOUT or TracerBuilder::exit_flush_timeout",
        );
    }

    fn mark_forked(&self) {
        TracerInner::mark_forked(self);
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use crate::error::TransportError;
    use crate::reporter::config::ReporterConfig;
    use crate::transport::{Message, Transport};
    use crate::SpanGuard;

    use super::Tracer;

    struct Refusing;

    impl Transport for Refusing {
        fn send(&self, _: &Message) -> Result<(), TransportError> {
            Err(TransportError::Io("connection refused by the test".into()))
        }
    }

    /// Regression: with a collector that failed every attempt while retries were still due,
    /// the line at exit said only that spans were "still waiting", not why.
    #[test]
    fn spans_left_at_exit_are_said_with_the_collectors_last_failure() {
        let t = Tracer::builder()
            .service_name("exit")
            .transport(Refusing)
            .reporter(ReporterConfig {
                batch_timeout: Duration::from_millis(1),
                drain_interval: Duration::from_millis(1),
                max_attempts: 100,
                retry_backoff: Duration::from_secs(60),
                retry_backoff_max: Duration::from_secs(60),
                ..Default::default()
            })
            .build()
            .unwrap();
        t.in_scope(|| drop(SpanGuard::new("left")));
        let deadline = Instant::now() + Duration::from_secs(10);
        while t.inner.active().and_then(|r| r.last_failure()).is_none() {
            assert!(Instant::now() < deadline, "no attempt failed");
            std::thread::sleep(Duration::from_millis(5));
        }
        let wait = Duration::from_millis(100);
        let line = t
            .close_and_explain(wait, wait, "at exit", "ZIPKIN_EXIT_FLUSH_TIMEOUT")
            .expect("a line about the span left");
        assert!(
            line.starts_with("zipkin: 1 span(s) unsent at exit"),
            "{line}"
        );
        assert!(
            line.ends_with(
                "the collector's last attempt failed: could not deliver spans to the collector: \
                 connection refused by the test"
            ),
            "{line}"
        );
    }
}
