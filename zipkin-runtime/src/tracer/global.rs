//! Which tracer a new root span uses: this thread's default (`set_default`, `in_scope`), else
//! the process's global tracer, made from the environment on first use.

use std::cell::Cell;
use std::sync::atomic::{AtomicPtr, Ordering};
use std::time::Duration;

use crate::config::endpoint::CollectorEndpoint;
use crate::config::Config;
use crate::error::ConfigError;
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
/// let _zipkin = zipkin_runtime::init().expect("valid ZIPKIN_* settings");
/// ```
pub fn init() -> Result<TracerGuard, ConfigError> {
    Tracer::builder().from_env()?.install()
}
