//! Every tracer built, and what happens to them when the process exits or forks.
//!
//! # Exit
//!
//! Every tracer still holding unsent spans is flushed and stopped at a normal exit, within its
//! `exit_flush_timeout` (1 s by default).
//!
//! The mechanism is the C library's `atexit`, registered when the first tracer is built. It
//! runs when `main` returns and when `std::process::exit` is called, after the exiting
//! thread's thread-locals are destroyed (so that thread's buffered spans are handed over) and
//! while the reporter's threads still run. It does not run, so spans not yet sent are lost,
//! when the process ends without `exit`: an abort (including a panic with `panic = "abort"`),
//! a fatal signal (SIGTERM and SIGINT by default: handle them, for example with
//! `tokio::signal`, and return from `main`), or `libc::_exit`.

//!
//! # Fork
//!
//! `fork()` copies only the calling thread: a child has none of the reporter threads, and the
//! locks they held are held for good. A `pthread_atfork` child handler, registered with the
//! exit hook, therefore (with atomic stores only) marks every reporter as its parent's, which
//! the child never touches again, and reseeds the forking thread's id generator, so that the
//! parent and the child do not draw the same trace and span ids. The child's first span starts
//! a reporter of its own, with a transport made anew from the configuration: the child reports
//! its own spans, and its flushes and exit do not wait for the parent's threads. Spans the
//! parent had not sent when it forked are the parent's to send, never the child's. A tracer
//! whose transport was given in code, or that writes a file, cannot report from a child: its
//! spans there are counted as dropped (`dropped_transport_error`), with a note on standard
//! error. A span open across the fork is finished, and reported, by both processes.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Once, OnceLock};
use std::time::{Duration, Instant};

/// What the process hooks need of a tracer. Implemented by the tracer, so that this list does
/// not depend on it.
pub(crate) trait Tracked: Sync {
    /// At a normal exit: flush and stop within the tracer's `exit_flush_timeout`, less `spent`
    /// (the time the exit has already taken).
    fn flush_at_exit(&'static self, spent: Duration);

    /// In a forked child, from `pthread_atfork`'s handler: the tracer's reporters belong to the
    /// parent now. Only atomic stores are allowed there.
    fn mark_forked(&self);
}

/// The most tracers the hooks look after. Each one has two threads, so a process reaches this
/// only by building tracers in a loop; past it, a tracer is neither flushed at exit nor told
/// about a fork (shut it down before then).
pub(crate) const MAX_TRACKED: usize = 4096;

/// Every tracer built, in order: slots that are set once and never cleared (tracers live for
/// the rest of the process), read without locks.
static TRACKED: [OnceLock<&'static dyn Tracked>; MAX_TRACKED] =
    [const { OnceLock::new() }; MAX_TRACKED];
static REGISTERED: AtomicUsize = AtomicUsize::new(0);

/// How many forks away from the first process this one is: 0 there, 1 in its children, and
/// so on. Incremented in each child before `fork` returns there.
static FORK_GENERATION: AtomicUsize = AtomicUsize::new(0);

/// Adds `t` to the list of tracers, and makes sure the exit and fork hooks are registered.
pub(crate) fn register(t: &'static dyn Tracked) {
    let i = REGISTERED.fetch_add(1, Ordering::AcqRel);
    if let Some(slot) = TRACKED.get(i) {
        let _ = slot.set(t);
    }
    static HOOKS: Once = Once::new();
    HOOKS.call_once(|| {
        register_exit_hook();
        register_fork_hook();
    });
}

/// Every tracer built so far (up to [`MAX_TRACKED`]).
fn tracers() -> impl Iterator<Item = &'static dyn Tracked> {
    let n = REGISTERED.load(Ordering::Acquire).min(MAX_TRACKED);
    TRACKED[..n].iter().filter_map(|slot| slot.get().copied())
}

/// How many forks away from the first process this one is (see [`FORK_GENERATION`]).
pub(crate) fn fork_generation() -> usize {
    FORK_GENERATION.load(Ordering::Acquire)
}

#[cfg(all(any(unix, windows), not(miri)))]
fn register_exit_hook() {
    extern "C" {
        fn atexit(callback: extern "C" fn()) -> std::os::raw::c_int;
    }
    // FFI: the C library's, with no safe counterpart in std.
    // SAFETY: `atexit` is the C standard library's; the callback is a plain function that
    // never unwinds (see `exit_hook`).
    if unsafe { atexit(exit_hook) } != 0 {
        eprintln!("zipkin: could not register the exit flush; call Tracer::shutdown before exit");
    }
}

// Miri runs no C library hooks: its tests flush and shut down explicitly.
#[cfg(not(all(any(unix, windows), not(miri))))]
fn register_exit_hook() {}

#[cfg(all(unix, not(miri)))]
fn register_fork_hook() {
    // FFI: the C library's, with no safe counterpart in std.
    // SAFETY: registers a plain function that only does atomic stores and thread-local `Cell`
    // writes, as a child handler may.
    if unsafe { libc::pthread_atfork(None, None, Some(in_forked_child)) } != 0 {
        eprintln!("zipkin: could not register the fork handler; a forked child may repeat ids");
    }
}

#[cfg(not(all(unix, not(miri))))]
fn register_fork_hook() {}

/// `pthread_atfork`'s child handler: runs in the child, on the thread that forked, before
/// `fork` returns there.
#[cfg(all(unix, not(miri)))]
extern "C" fn in_forked_child() {
    FORK_GENERATION.fetch_add(1, Ordering::AcqRel);
    crate::rng::reseed_after_fork();
    crate::reporter::rings::orphan_rings_after_fork();
    for t in tracers() {
        t.mark_forked();
    }
}

#[cfg(all(any(unix, windows), not(miri)))]
extern "C" fn exit_hook() {
    // Unwinding out of an `extern "C"` function aborts; a failed flush must not.
    let _ = std::panic::catch_unwind(|| {
        let started = Instant::now();
        for t in tracers() {
            t.flush_at_exit(started.elapsed());
        }
    });
}
