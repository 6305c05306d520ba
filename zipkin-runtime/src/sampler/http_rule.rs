//! Sampling by HTTP request: ordered rules of method and path, each with its own sampler, like
//! Brave's `HttpRuleSampler`.

use std::fmt;

use super::decision::{HttpRequest, Sampler, SamplingRequest};

/// Which HTTP requests a rule of an [`HttpRuleSampler`] applies to: a path, and optionally a
/// method.
///
/// The path is a prefix that respects segments (`/orders` matches `/orders`, `/orders/` and
/// `/orders/42`, not `/ordersummary`; `/` matches every path), or a route template when it
/// contains `{` (`/orders/{id}` matches the route the server reports, or any path of that
/// shape: `/orders/42`, not `/orders/42/items`). Methods compare without case.
///
/// ```
/// # extern crate zipkin_runtime as zipkin_rs;
/// use zipkin_rs::{HttpRequest, HttpRule};
/// let health = HttpRule::path("/health").method("GET");
/// assert!(health.matches(&HttpRequest::new("GET", "/health")));
/// assert!(!health.matches(&HttpRequest::new("POST", "/health")));
/// let order = HttpRule::path("/orders/{id}");
/// assert!(order.matches(&HttpRequest::new("GET", "/orders/42")));
/// assert!(!order.matches(&HttpRequest::new("GET", "/orders/42/items")));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpRule {
    method: Option<String>,
    path: String,
    template: bool,
}

impl HttpRule {
    /// Requests whose path starts with `path` (by segments), or matches it when it is a route
    /// template (contains `{`). Any method.
    pub fn path(path: impl Into<String>) -> HttpRule {
        let path = path.into();
        HttpRule {
            method: None,
            template: path.contains('{'),
            path,
        }
    }

    /// Only requests with this method.
    pub fn method(mut self, method: impl Into<String>) -> HttpRule {
        self.method = Some(method.into());
        self
    }

    /// The method this rule requires, if any.
    pub fn method_name(&self) -> Option<&str> {
        self.method.as_deref()
    }

    /// The path prefix or route template.
    pub fn path_pattern(&self) -> &str {
        &self.path
    }

    /// Whether `request` falls under this rule.
    pub fn matches(&self, request: &HttpRequest<'_>) -> bool {
        if let Some(m) = &self.method {
            if !m.eq_ignore_ascii_case(request.method) {
                return false;
            }
        }
        if self.template {
            request.route == Some(self.path.as_str()) || template_matches(&self.path, request.path)
        } else {
            prefix_matches(&self.path, request.path)
        }
    }
}

/// `/orders` is a prefix of `/orders` and `/orders/..`, not of `/ordersx`.
fn prefix_matches(prefix: &str, path: &str) -> bool {
    let prefix = prefix.strip_suffix('/').unwrap_or(prefix);
    match path.strip_prefix(prefix) {
        Some(rest) => rest.is_empty() || rest.starts_with('/'),
        None => false,
    }
}

/// Segment by segment; a `{..}` segment matches any one non-empty segment.
fn template_matches(template: &str, path: &str) -> bool {
    let mut t = template.trim_end_matches('/').split('/');
    let mut p = path.trim_end_matches('/').split('/');
    loop {
        match (t.next(), p.next()) {
            (None, None) => return true,
            (Some(ts), Some(ps)) => {
                let any = ts.starts_with('{') && ts.ends_with('}');
                if !(any && !ps.is_empty() || ts == ps) {
                    return false;
                }
            }
            _ => return false,
        }
    }
}

/// Decides by the HTTP request a trace serves: the first rule that matches gives the sampler;
/// a trace with no HTTP request (a local root span) or that no rule matches goes to the
/// fallback. Example: never `GET /health`, all of `/orders`, 10 traces a second of the rest.
///
/// ```
/// # extern crate zipkin_runtime as zipkin_rs;
/// use zipkin_rs::{
///     HttpRequest, HttpRule, HttpRuleSampler, PercentageSampler, RateLimitingSampler, Sampler,
///     SamplingRequest, TraceId,
/// };
/// let sampler = HttpRuleSampler::new(RateLimitingSampler::new(10))
///     .rule(HttpRule::path("/health").method("GET"), PercentageSampler::new(0.0))
///     .rule(HttpRule::path("/orders"), PercentageSampler::new(100.0));
/// let ask = |method, path| {
///     let request = SamplingRequest::new(TraceId::random(true), "server")
///         .with_http(HttpRequest::new(method, path));
///     sampler.sample(&request)
/// };
/// assert!(!ask("GET", "/health"));
/// assert!(ask("POST", "/orders/42"));
/// ```
///
/// The `ZIPKIN_SAMPLER` variable writes the same as `GET /health=0%;/orders=100%;*=10/s`.
pub struct HttpRuleSampler {
    rules: Vec<(HttpRule, Box<dyn Sampler>)>,
    fallback: Box<dyn Sampler>,
}

impl fmt::Debug for HttpRuleSampler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpRuleSampler")
            .field("rules", &self.rules)
            .field("fallback", &self.fallback)
            .finish()
    }
}

impl HttpRuleSampler {
    /// No rules yet: every trace goes to `fallback`.
    pub fn new(fallback: impl Sampler) -> HttpRuleSampler {
        HttpRuleSampler {
            rules: Vec::new(),
            fallback: Box::new(fallback),
        }
    }

    /// Adds a rule after the ones already added (the first match wins).
    pub fn rule(mut self, rule: HttpRule, sampler: impl Sampler) -> HttpRuleSampler {
        self.rules.push((rule, Box::new(sampler)));
        self
    }

    /// [`HttpRuleSampler::rule`] without boxing again.
    pub(crate) fn boxed_rule(
        mut self,
        rule: HttpRule,
        sampler: Box<dyn Sampler>,
    ) -> HttpRuleSampler {
        self.rules.push((rule, sampler));
        self
    }

    /// The rules, in order.
    pub fn rules(&self) -> impl Iterator<Item = (&HttpRule, &dyn Sampler)> {
        self.rules.iter().map(|(r, s)| (r, s.as_ref()))
    }

    /// The sampler of traces no rule matches.
    pub fn fallback(&self) -> &dyn Sampler {
        self.fallback.as_ref()
    }

    pub(crate) fn with_boxed_fallback(fallback: Box<dyn Sampler>) -> HttpRuleSampler {
        HttpRuleSampler {
            rules: Vec::new(),
            fallback,
        }
    }
}

impl Sampler for HttpRuleSampler {
    fn sample(&self, request: &SamplingRequest<'_>) -> bool {
        if let Some(http) = &request.http {
            for (rule, sampler) in &self.rules {
                if rule.matches(http) {
                    return sampler.sample(request);
                }
            }
        }
        self.fallback.sample(request)
    }

    fn never_samples(&self) -> bool {
        self.fallback.never_samples() && self.rules.iter().all(|(_, s)| s.never_samples())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::id::TraceId;
    use crate::sampler::{PercentageSampler, RateLimitingSampler};

    fn sampler() -> HttpRuleSampler {
        HttpRuleSampler::new(PercentageSampler::new(0.0))
            .rule(
                HttpRule::path("/health").method("GET"),
                PercentageSampler::new(0.0),
            )
            .rule(
                HttpRule::path("/orders/{id}"),
                PercentageSampler::new(100.0),
            )
            .rule(HttpRule::path("/api/"), PercentageSampler::new(100.0))
    }

    fn ask(s: &HttpRuleSampler, method: &str, path: &str, route: Option<&str>) -> bool {
        let mut http = HttpRequest::new(method, path);
        if let Some(r) = route {
            http = http.with_route(r);
        }
        s.sample(&SamplingRequest::new(TraceId::random(true), "get").with_http(http))
    }

    #[test]
    fn first_matching_rule_decides() {
        let s = sampler();
        assert!(!ask(&s, "GET", "/health", None));
        assert!(!ask(&s, "get", "/health/", None));
        assert!(ask(&s, "GET", "/orders/42", None));
        assert!(ask(&s, "GET", "/whatever", Some("/orders/{id}")));
        assert!(!ask(&s, "GET", "/orders/42/items", None));
        assert!(!ask(&s, "GET", "/orders//", None));
        assert!(ask(&s, "POST", "/api", None));
        assert!(ask(&s, "POST", "/api/v1/x", None));
        assert!(!ask(&s, "POST", "/apis", None));
    }

    #[test]
    fn no_http_goes_to_the_fallback() {
        let s = HttpRuleSampler::new(PercentageSampler::new(100.0))
            .rule(HttpRule::path("/"), PercentageSampler::new(0.0));
        assert!(s.sample(&SamplingRequest::new(TraceId::random(true), "job")));
        assert!(!ask(&s, "GET", "/x", None));
    }

    #[test]
    fn never_samples_only_when_every_branch_never_does() {
        assert!(sampler().rules().count() == 3);
        assert!(!sampler().never_samples());
        let none = HttpRuleSampler::new(RateLimitingSampler::new(0))
            .rule(HttpRule::path("/"), PercentageSampler::new(0.0));
        assert!(none.never_samples());
    }

    #[test]
    fn slash_matches_everything() {
        assert!(prefix_matches("/", "/"));
        assert!(prefix_matches("/", "/a/b"));
        assert!(!prefix_matches("/a", "/b"));
    }
}
