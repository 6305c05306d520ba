//! `ZIPKIN_SAMPLER`: a sampler written as text.
//!
//! ```text
//! ZIPKIN_SAMPLER = spec | rule (";" rule)*
//! rule           = [METHOD " "] PATH "=" spec | "*=" spec
//! spec           = N "%" | N "/s"
//! ```
//!
//! `10/s` is a [`RateLimitingSampler`], `25%` a [`PercentageSampler`]; rules make an
//! [`HttpRuleSampler`] whose fallback is the `*` rule, else the percentage of
//! `ZIPKIN_SAMPLE_RATE`.

use std::sync::Arc;

use crate::error::{ConfigError, Setting};
use crate::sampler::{HttpRule, HttpRuleSampler, PercentageSampler, RateLimitingSampler, Sampler};

const SPEC: &str = "`N%` (a percentage from 0 to 100) or `N/s` (at most N traces a second)";
const RULES: &str = "a sampler (`10/s`, `25%`) or rules separated by `;`, each \
                     `[METHOD ]/path=N%` or `[METHOD ]/path=N/s` (a path prefix, or a route \
                     such as /orders/{id}), and `*=..` for the rest";

/// Parses `value` (from `setting`); `percent` is the fallback of rules without a `*` rule.
pub(crate) fn parse(
    value: &str,
    percent: f64,
    setting: Setting,
) -> Result<Arc<dyn Sampler>, ConfigError> {
    let entries: Vec<&str> = value
        .split(';')
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .collect();
    if let [only] = entries.as_slice() {
        if !only.contains('=') {
            return spec(only, setting).map(Arc::from);
        }
    }
    let mut fallback = None;
    let mut rules = Vec::new();
    for entry in &entries {
        let bad = |why: &str| {
            ConfigError::new(setting, value, RULES).because(format!("in rule `{entry}`: {why}"))
        };
        let Some((matcher, s)) = entry.rsplit_once('=') else {
            return Err(bad("expected `=` between the path and the sampler"));
        };
        let sampler = spec(s.trim(), setting)
            .map_err(|_| bad(&format!("the sampler `{}` is not {SPEC}", s.trim())))?;
        let matcher = matcher.trim();
        if matcher == "*" {
            if fallback.is_some() {
                return Err(bad("a second `*` rule"));
            }
            fallback = Some(sampler);
            continue;
        }
        let (method, path) = match matcher.split_once(char::is_whitespace) {
            Some((m, p)) => (Some(m), p.trim()),
            None => (None, matcher),
        };
        if !path.starts_with('/') || path.contains(char::is_whitespace) {
            return Err(bad(&format!(
                "the path `{path}` does not start with `/` (or has a space)"
            )));
        }
        if let Some(m) = method {
            if !m.bytes().all(|b| b.is_ascii_alphabetic()) {
                return Err(bad(&format!("the method `{m}` is not a word such as GET")));
            }
        }
        let mut rule = HttpRule::path(path);
        if let Some(m) = method {
            rule = rule.method(m.to_ascii_uppercase());
        }
        rules.push((rule, sampler));
    }
    if entries.is_empty() {
        return Err(ConfigError::new(setting, value, RULES));
    }
    let fallback = fallback.unwrap_or_else(|| Box::new(PercentageSampler::new(percent)));
    let sampler = rules.into_iter().fold(
        HttpRuleSampler::with_boxed_fallback(fallback),
        |s, (r, b)| s.boxed_rule(r, b),
    );
    Ok(Arc::new(sampler))
}

/// `N%` or `N/s`.
fn spec(s: &str, setting: Setting) -> Result<Box<dyn Sampler>, ConfigError> {
    let bad = || ConfigError::new(setting, s, SPEC);
    if let Some(p) = s.strip_suffix('%') {
        let p: f64 = p.trim().parse().map_err(|_| bad())?;
        if !(0.0..=100.0).contains(&p) {
            return Err(bad());
        }
        return Ok(Box::new(PercentageSampler::new(p)));
    }
    if let Some(n) = s.strip_suffix("/s") {
        let n: u32 = n.trim().parse().map_err(|_| bad())?;
        return Ok(Box::new(RateLimitingSampler::new(n)));
    }
    Err(bad())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::id::TraceId;
    use crate::sampler::{HttpRequest, SamplingRequest};

    const ENV: Setting = Setting::Env("ZIPKIN_SAMPLER");

    fn ask(s: &dyn Sampler, method: &str, path: &str) -> bool {
        s.sample(
            &SamplingRequest::new(TraceId::random(true), "x")
                .with_http(HttpRequest::new(method, path)),
        )
    }

    #[test]
    fn the_readme_example() {
        let s = parse("GET /health=0%; /orders=100%; *=10/s", 100.0, ENV).unwrap();
        assert!(!(0..100).any(|_| ask(&*s, "GET", "/health")));
        assert!((0..100).all(|_| ask(&*s, "POST", "/orders/1")));
        let rest = (0..100).filter(|_| ask(&*s, "GET", "/other")).count();
        assert!((1..=10).contains(&rest), "{rest}");
        assert!(!s.never_samples());
    }

    #[test]
    fn a_lone_spec_is_the_sampler() {
        let s = parse("0/s", 100.0, ENV).unwrap();
        assert!(s.never_samples());
        let s = parse(" 0% ", 100.0, ENV).unwrap();
        assert!(s.never_samples());
        assert!(!parse("100%", 0.0, ENV).unwrap().never_samples());
    }

    #[test]
    fn without_a_star_rule_the_rate_is_the_fallback() {
        let s = parse("/orders=100%", 0.0, ENV).unwrap();
        assert!(!ask(&*s, "GET", "/other"));
        assert!(ask(&*s, "GET", "/orders"));
        let s = parse("/orders=0%", 0.0, ENV).unwrap();
        assert!(s.never_samples());
    }

    #[test]
    fn errors_name_the_variable_and_the_rule() {
        for (value, rule) in [
            ("GET /health=0%;/orders=abc", "/orders=abc"),
            ("GET /health=0%;orders=1%", "orders=1%"),
            ("/a=101%", "/a=101%"),
            ("G3T /a=1%", "G3T /a=1%"),
            ("*=1%;*=2%", "*=2%"),
            ("/a", "/a"),
        ] {
            let e = parse(value, 100.0, ENV).map(|_| ()).unwrap_err();
            assert_eq!(e.setting(), ENV);
            // The value is the variable's whole value, as set; the rule is in the reason.
            assert_eq!(e.value(), value);
            let text = e.to_string();
            assert!(
                text.contains("ZIPKIN_SAMPLER") && text.contains(rule),
                "{text}"
            );
        }
        assert!(parse(";", 100.0, ENV).is_err());
        assert!(parse("lots", 100.0, ENV).is_err());
    }
}
