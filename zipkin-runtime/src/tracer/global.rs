//! Which tracer a new root span uses: this thread's default (`set_default`, `in_scope`), else
//! the process's global tracer, made from the environment on first use.

use std::cell::Cell;
use std::sync::atomic::{AtomicPtr, Ordering};
use std::time::Duration;

use crate::config::endpoint::CollectorEndpoint;
use crate::config::Config;
use crate::error::{ConfigError, Setting};
use crate::reporter::config::ReporterConfig;
use crate::reporter::Reporter;
use crate::transport;

use super::builder::TracerGuard;
use super::{Tracer, TracerInner};

static GLOBAL: AtomicPtr<TracerInner> = AtomicPtr::new(std::ptr::null_mut());

thread_local! {
    // Read by every root span: a const `Cell` without a destructor, so access is one load.
    static THREAD_DEFAULT: Cell<Option<Tracer>> = const { Cell::new(None) };
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
#[derive(Debug)]
pub struct DefaultGuard {
    prev: Option<Tracer>,
    _not_send: std::marker::PhantomData<*const ()>,
}

impl Drop for DefaultGuard {
    fn drop(&mut self) {
        let _ = THREAD_DEFAULT.try_with(|d| d.set(self.prev));
    }
}

/// The tracer a pointer read from [`GLOBAL`] designates.
#[inline(always)]
fn from_global(p: *mut TracerInner) -> Option<Tracer> {
    // Benchmark: ours/unsampled_root_global (a root span with no thread default finds the
    // global tracer with one load; a lock or a checked registry would add a shared write or a
    // second load to every such root).
    // SAFETY: GLOBAL only ever holds null or a pointer from `Box::leak` of a `TracerInner`,
    // which lives for the rest of the process and is only read through `&`.
    unsafe { p.as_ref() }.map(Tracer::from_inner)
}

/// The variables that say where and how spans are delivered: when one of them is invalid, the
/// tracer made on first use reports nothing rather than send spans somewhere else.
const DELIVERY: [&str; 3] = [
    "ZIPKIN_ENDPOINT",
    "ZIPKIN_AUTH_HEADER",
    "ZIPKIN_TLS_CA_FILE",
];

/// The tracer made on first use, from the `ZIPKIN_*` variables read through `var`. It has no
/// caller to return an error to, so an invalid variable is left out with a line on standard
/// error and the others still apply; an invalid delivery variable ([`DELIVERY`]) also turns
/// reporting off (the sampling decisions still propagate).
fn build_from_vars(var: impl Fn(&'static str) -> Option<String>) -> Tracer {
    let mut skipped: Vec<&'static str> = Vec::new();
    let mut deliver = true;
    loop {
        let built = Tracer::builder()
            .apply_vars(|name| {
                if skipped.contains(&name) {
                    None
                } else {
                    var(name)
                }
            })
            .and_then(|mut b| {
                if !deliver {
                    b.config.endpoint = CollectorEndpoint::Disabled;
                }
                b.build()
            });
        let e = match built {
            Ok(t) => return t,
            Err(e) => e,
        };
        match e.setting() {
            Setting::Env(name) if !skipped.contains(&name) => {
                skipped.push(name);
                if DELIVERY.contains(&name) {
                    deliver = false;
                    eprintln!(
                        "zipkin: {e}; spans will not be reported (the other ZIPKIN_* variables \
                         apply)"
                    );
                } else {
                    eprintln!(
                        "zipkin: {e}; {name} is ignored (the other ZIPKIN_* variables apply)"
                    );
                }
            }
            _ => {
                eprintln!("zipkin: {e}; spans will not be reported");
                let mut b = Tracer::builder();
                b.config.endpoint = CollectorEndpoint::Disabled;
                return b.build().unwrap_or_else(|_| unreachable_tracer());
            }
        }
    }
}

impl Tracer {
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
        match from_global(GLOBAL.load(Ordering::Acquire)) {
            Some(t) => t,
            None => Tracer::init_global_from_env(),
        }
    }

    #[cold]
    fn init_global_from_env() -> Tracer {
        let t = build_from_vars(|name| std::env::var(name).ok());
        let p = t.inner as *const TracerInner as *mut TracerInner;
        match GLOBAL.compare_exchange(std::ptr::null_mut(), p, Ordering::AcqRel, Ordering::Acquire)
        {
            Ok(_) => t,
            Err(existing) => {
                // Another thread won the race; stop the reporter we started.
                t.shutdown(Duration::from_millis(100));
                from_global(existing).unwrap_or(t)
            }
        }
    }

    /// Makes this tracer the global one, returning the previous one if there was one.
    pub fn set_global(self) -> Option<Tracer> {
        let p = self.inner as *const TracerInner as *mut TracerInner;
        from_global(GLOBAL.swap(p, Ordering::AcqRel))
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
}

/// Initialises the global tracer from the environment and returns its guard.
///
/// ```no_run
/// # extern crate zipkin_runtime as zipkin_rs;
/// let _zipkin = zipkin_rs::init().expect("valid ZIPKIN_* settings");
/// ```
pub fn init() -> Result<TracerGuard, ConfigError> {
    Tracer::builder().from_env()?.install()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from(vars: &'static [(&'static str, &'static str)]) -> Tracer {
        build_from_vars(|name| {
            vars.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.to_string())
        })
    }

    /// Regression: one invalid variable made the tracer of first use drop every other one and
    /// send to the default collector, though `ZIPKIN_ENDPOINT` said elsewhere.
    #[test]
    fn an_invalid_variable_is_left_out_and_the_others_apply() {
        let t = from(&[
            ("ZIPKIN_SAMPLER", "abc"),
            ("ZIPKIN_ENDPOINT", "stdout"),
            ("ZIPKIN_SAMPLE_RATE", "0"),
            ("ZIPKIN_SERVICE_NAME", "checkout"),
        ]);
        assert_eq!(t.config().endpoint(), "stdout");
        assert_eq!(t.config().sample_rate(), 0.0);
        assert_eq!(t.config().service_name(), "checkout");
        assert!(t.config().sampler().is_none());
        t.shutdown(Duration::from_secs(1));
    }

    #[test]
    fn an_invalid_delivery_variable_turns_reporting_off_and_the_others_apply() {
        for vars in [
            &[
                ("ZIPKIN_ENDPOINT", "zipkin:9411"),
                ("ZIPKIN_SERVICE_NAME", "checkout"),
            ][..],
            &[
                ("ZIPKIN_ENDPOINT", "stdout"),
                ("ZIPKIN_AUTH_HEADER", "no colon"),
                ("ZIPKIN_SERVICE_NAME", "checkout"),
            ][..],
        ] {
            let vars: &'static [(&str, &str)] = Box::leak(vars.to_vec().into_boxed_slice());
            let t = from(vars);
            assert_eq!(t.config().endpoint(), "none", "{vars:?}");
            assert_eq!(t.config().service_name(), "checkout", "{vars:?}");
            t.shutdown(Duration::from_secs(1));
        }
    }

    #[test]
    fn valid_variables_all_apply() {
        let t = from(&[("ZIPKIN_ENDPOINT", "stdout"), ("ZIPKIN_SAMPLE_RATE", "25")]);
        assert_eq!(t.config().endpoint(), "stdout");
        assert_eq!(t.config().sample_rate(), 25.0);
        t.shutdown(Duration::from_secs(1));
    }
}
