//! What happens to tracers when the process exits or forks.
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

use std::sync::atomic::{AtomicPtr, Ordering};
use std::sync::Once;
use std::time::Instant;

use crate::tracer::{Tracer, TracerInner};

/// Every tracer built, newest first: a list that only grows (tracers live for the rest of the
/// process), read without locks.
static TRACERS: AtomicPtr<TracerInner> = AtomicPtr::new(std::ptr::null_mut());

/// Adds `t` to the list of tracers, which it must not be in yet, and makes sure the exit hook
/// is registered.
pub(crate) fn register(t: &'static TracerInner) {
    let p = t as *const TracerInner as *mut TracerInner;
    let mut head = TRACERS.load(Ordering::Acquire);
    loop {
        // SAFETY: the list only ever holds pointers of leaked (`'static`) tracers.
        t.set_next(unsafe { head.as_ref() });
        match TRACERS.compare_exchange_weak(head, p, Ordering::AcqRel, Ordering::Acquire) {
            Ok(_) => break,
            Err(now) => head = now,
        }
    }
    static HOOKS: Once = Once::new();
    HOOKS.call_once(|| {
        register_exit_hook();
        register_fork_hook();
    });
}

/// Every tracer built so far.
pub(crate) fn tracers() -> impl Iterator<Item = Tracer> {
    // SAFETY: as in `register`.
    let mut next = unsafe { TRACERS.load(Ordering::Acquire).as_ref() };
    std::iter::from_fn(move || {
        let t = next?;
        next = t.next();
        Some(Tracer::from_inner(t))
    })
}

#[cfg(any(unix, windows))]
fn register_exit_hook() {
    extern "C" {
        fn atexit(callback: extern "C" fn()) -> std::os::raw::c_int;
    }
    // SAFETY: `atexit` is the C standard library's; the callback is a plain function that
    // never unwinds (see `exit_hook`).
    if unsafe { atexit(exit_hook) } != 0 {
        eprintln!("zipkin: could not register the exit flush; call Tracer::shutdown before exit");
    }
}

#[cfg(not(any(unix, windows)))]
fn register_exit_hook() {}

#[cfg(unix)]
fn register_fork_hook() {
    // SAFETY: registers a plain function that only does atomic stores and thread-local `Cell`
    // writes, as a child handler may.
    if unsafe { libc::pthread_atfork(None, None, Some(in_forked_child)) } != 0 {
        eprintln!("zipkin: could not register the fork handler; a forked child may repeat ids");
    }
}

#[cfg(not(unix))]
fn register_fork_hook() {}

/// `pthread_atfork`'s child handler: runs in the child, on the thread that forked, before
/// `fork` returns there.
#[cfg(unix)]
extern "C" fn in_forked_child() {
    crate::id::reseed_after_fork();
    crate::reporter::orphan_rings_after_fork();
    for t in tracers() {
        t.mark_forked();
    }
}

extern "C" fn exit_hook() {
    // Unwinding out of an `extern "C"` function aborts; a failed flush must not.
    let _ = std::panic::catch_unwind(flush_at_exit);
}

/// Shuts down every tracer that still holds spans, each within its `exit_flush_timeout`
/// counted from the start of the exit, and says on standard error what could not be sent.
fn flush_at_exit() {
    let started = Instant::now();
    for t in tracers() {
        let timeout = t.config().exit_flush_timeout;
        let before = t.metrics();
        if timeout.is_zero() || before.spans_queued == 0 {
            continue;
        }
        let left = timeout.saturating_sub(started.elapsed());
        t.shutdown(left);
        let after = t.metrics();
        // What was waiting at exit and did not get out: given up (counted as dropped) or
        // still in flight.
        let lost = after.spans_dropped - before.spans_dropped + after.spans_queued;
        if lost > 0 {
            eprintln!(
                "zipkin: exiting with {lost} span(s) of service {:?} unsent after waiting \
                 {timeout:?} (dropped; ZIPKIN_EXIT_FLUSH_TIMEOUT or \
                 TracerBuilder::exit_flush_timeout sets the wait)",
                t.config().service_name,
            );
        }
    }
}
