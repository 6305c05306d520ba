//! The `ZIPKIN_*` environment, applied to a configuration.

use std::borrow::Cow;
use std::time::Duration;

use crate::encode::Encoding;
use crate::error::{ConfigError, Setting};
use crate::intern::intern;
use crate::propagation::b3::B3Format;

use super::endpoint::CollectorEndpoint;
use super::{Config, Origins};

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

const BOOL: &str = "true or false (any case), 1 or 0";

/// A switch: `true`/`false` in any case (Python writes `True`), or `1`/`0`.
fn flag(
    var: &impl Fn(&'static str) -> Option<String>,
    name: &'static str,
) -> Result<Option<bool>, ConfigError> {
    match var(name) {
        Some(v) if !v.trim().is_empty() => match v.trim() {
            t if t.eq_ignore_ascii_case("true") || t == "1" => Ok(Some(true)),
            f if f.eq_ignore_ascii_case("false") || f == "0" => Ok(Some(false)),
            _ => Err(ConfigError::new(Setting::Env(name), v, BOOL)),
        },
        _ => Ok(None),
    }
}

/// Applies the `ZIPKIN_*` variables, read through `var`, to `config` (see
/// `TracerBuilder::from_env` for the list), recording in `origins` which settings came from
/// the environment. An invalid value is an error naming the variable, its value and what it
/// accepts.
pub(crate) fn apply(
    config: &mut Config,
    origins: &mut Origins,
    var: impl Fn(&'static str) -> Option<String>,
) -> Result<(), ConfigError> {
    if let Some(v) = var("ZIPKIN_ENDPOINT") {
        let setting = Setting::Env("ZIPKIN_ENDPOINT");
        config.endpoint = CollectorEndpoint::parse(&v, setting)?;
        origins.endpoint = setting;
    }
    if let Some(v) = var("ZIPKIN_SERVICE_NAME") {
        if !v.trim().is_empty() {
            config.service_name = intern(Cow::Owned(v.trim().to_owned()));
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
        config.percent = r;
    }
    if let Some(v) = var("ZIPKIN_SAMPLER") {
        if !v.trim().is_empty() {
            let setting = Setting::Env("ZIPKIN_SAMPLER");
            config.sampler = Some(super::SharedSampler(super::sampler::parse(
                &v,
                config.percent,
                setting,
            )?));
        }
    }
    if let Some(b) = flag(&var, "ZIPKIN_TRACE_ID_128BIT")? {
        config.trace_id_128bit = b;
    }
    if let Some(b) = flag(&var, "ZIPKIN_ACCEPT_DEBUG")? {
        config.accept_debug = b;
    }
    if let Some(b) = flag(&var, "ZIPKIN_TRACEPARENT")? {
        config.write_traceparent = b;
    }
    if let Some(b) = flag(&var, "ZIPKIN_GZIP")? {
        config.gzip = b;
    }
    if let Some(v) = var("ZIPKIN_B3_FORMAT") {
        config.b3_format = match v.trim().to_ascii_lowercase().as_str() {
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
        config.encoding = match v.trim().to_ascii_lowercase().as_str() {
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
                config.auth_header = Some((n.trim().to_owned(), val.trim().to_owned()));
                origins.auth_header = setting;
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
            config.tls_root_certificates.push(pem);
            origins.tls = setting;
        }
    }
    if let Some(ip) = parsed(&var, "ZIPKIN_LOCAL_IP", "an IPv4 or IPv6 address")? {
        config.local_ip = Some(ip);
    }
    if let Some(v) = var("ZIPKIN_EXIT_FLUSH_TIMEOUT") {
        if !v.trim().is_empty() {
            let wait = parse_duration(&v).ok_or_else(|| {
                ConfigError::new(
                    Setting::Env("ZIPKIN_EXIT_FLUSH_TIMEOUT"),
                    v.clone(),
                    "0 (off), milliseconds such as 500ms, or seconds such as 1s or 1.5s",
                )
            })?;
            // A guard held in `main` drops as the process ends: its wait is the exit's too.
            config.exit_flush_timeout = wait;
            config.close_timeout = wait;
        }
    }
    Ok(())
}
