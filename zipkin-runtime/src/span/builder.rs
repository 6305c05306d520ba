//! Describing a span before it starts ([`SpanBuilder`]).

use std::borrow::Cow;

use crate::record::Kind;
use crate::sampler::HttpRequest;
use crate::span_context::RemoteContext;

use super::live::LiveSpan;

/// Describes a span before it starts. Made by [`crate::SpanGuard::builder`] or
/// [`crate::Span::builder`].
pub struct SpanBuilder {
    name: Cow<'static, str>,
    kind: Kind,
    service: Option<&'static str>,
    port: u16,
    sample_rate: Option<f64>,
    parent: Option<RemoteContext>,
}

impl std::fmt::Debug for SpanBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SpanBuilder")
            .field("name", &self.name)
            .field("kind", &self.kind)
            .field("service", &self.service)
            .field("port", &self.port)
            .field("sample_rate", &self.sample_rate)
            .field("parent", &self.parent)
            .finish()
    }
}

impl SpanBuilder {
    pub(super) fn new(name: Cow<'static, str>) -> SpanBuilder {
        SpanBuilder {
            name,
            kind: Kind::Local,
            service: None,
            port: 0,
            sample_rate: None,
            parent: None,
        }
    }

    /// The span kind.
    pub fn kind(mut self, kind: Kind) -> Self {
        self.kind = kind;
        self
    }

    /// The local service name (lower-cased on the wire). A name built at run time is kept for
    /// the rest of the process; past [`crate::MAX_SERVICE_NAMES`] distinct ones, a new
    /// name is refused (counted in [`crate::ReporterMetrics::service_names_refused`]) and the
    /// span inherits its parent's service.
    pub fn service_name(mut self, name: impl Into<Cow<'static, str>>) -> Self {
        self.service = crate::intern::intern_bounded(name.into());
        self
    }

    /// The local port.
    pub fn port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }

    /// Sample rate in percent when this span starts a trace.
    pub fn sample_rate(mut self, percent: f64) -> Self {
        self.sample_rate = Some(percent.clamp(0.0, 100.0));
        self
    }

    /// Continue a caller's trace (server side) instead of the current span.
    pub fn parent(mut self, parent: impl Into<RemoteContext>) -> Self {
        self.parent = Some(parent.into());
        self
    }

    pub(super) fn live(self) -> LiveSpan {
        self.live_for(None)
    }

    /// The span, whose sampler (if it starts a trace) sees `http`. Inlined into the server
    /// integrations' one call site: returned from an out-of-line call, the span was written
    /// field by field into a temporary and copied out with wide loads that straddled those
    /// stores (store-forwarding stalls; benchmark: http_layers/server_layer_unsampled).
    #[inline]
    pub(super) fn live_for(self, http: Option<&HttpRequest<'_>>) -> LiveSpan {
        LiveSpan::open(
            self.name,
            self.service,
            self.kind,
            self.port,
            self.sample_rate,
            self.parent,
            http,
        )
    }
}
