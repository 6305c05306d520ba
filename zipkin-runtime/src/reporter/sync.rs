//! The atomics and the cell of the per-thread ring ([`super::ring`]) and its spare boxes
//! ([`super::spares`]), and the lock and shared pointers of the list of rings (the drainer's
//! side of the hand-off): std's in a normal build, [loom]'s under `--cfg zipkin_loom`
//! (`scripts/loom.sh`), so that loom's model checker sees every access the ring makes to its
//! counters and its slots, and every registration, drain and stop racing on the list.
//!
//! The cell gives its contents only inside a closure (`with` to read, `with_mut` to write), as
//! loom's does, so that loom can tell when a read and a write of a slot are not ordered. The
//! std cell's closures are `#[inline(always)]` and hand over the raw pointer: no cost.
//!
//! [loom]: https://docs.rs/loom

#[cfg(zipkin_loom)]
pub(crate) use loom::cell::UnsafeCell;
#[cfg(zipkin_loom)]
pub(crate) use loom::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, AtomicUsize};

#[cfg(zipkin_loom)]
pub(crate) use loom::sync::{Arc, Mutex, MutexGuard};

#[cfg(not(zipkin_loom))]
pub(crate) use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, AtomicUsize};
#[cfg(not(zipkin_loom))]
pub(crate) use std::sync::{Arc, Mutex, MutexGuard};

/// Locks the list of rings. A panic while it was held leaves a list that is still usable.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// [`std::cell::UnsafeCell`] with loom's closure access.
#[cfg(not(zipkin_loom))]
#[derive(Debug)]
pub(crate) struct UnsafeCell<T>(std::cell::UnsafeCell<T>);

#[cfg(not(zipkin_loom))]
impl<T> UnsafeCell<T> {
    #[inline(always)]
    pub(crate) const fn new(value: T) -> UnsafeCell<T> {
        UnsafeCell(std::cell::UnsafeCell::new(value))
    }

    /// Runs `f` with a pointer to read the contents through.
    #[inline(always)]
    pub(crate) fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
        f(self.0.get())
    }

    /// Runs `f` with a pointer to write the contents through.
    #[inline(always)]
    pub(crate) fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
        f(self.0.get())
    }
}
