//! Each application thread's rings, one per reporter it reports to, kept in a thread-local.

use std::cell::RefCell;

use super::ring::Ring;
use super::shared::Shared;
use super::sync::{lock, Arc};

pub(super) struct LocalRing {
    pub(super) reporter: u64,
    pub(super) ring: Arc<Ring>,
}

pub(super) struct LocalRings(pub(super) Vec<LocalRing>);

impl LocalRings {
    /// Forgets the rings of reporters that have stopped, freeing their buffers.
    pub(super) fn forget_orphans(&mut self) {
        self.0.retain(|r| {
            if !r.ring.is_orphaned() {
                return true;
            }
            // Benchmark: ours/sampled_handoff (the lock-free per-thread ring).
            // SAFETY: this thread is the ring's only producer, its consumer has stopped, and
            // the ring is forgotten here, so it is never pushed to again.
            unsafe { r.ring.release_storage() };
            false
        });
    }
}

impl Drop for LocalRings {
    fn drop(&mut self) {
        self.forget_orphans();
        for r in &self.0 {
            r.ring.close();
        }
    }
}

#[cfg(not(zipkin_loom))]
thread_local! {
    pub(super) static RINGS: RefCell<LocalRings> = const { RefCell::new(LocalRings(Vec::new())) };
}

// Loom runs its threads on one OS thread: each needs its own rings, and their destructor at the
// thread's end, from loom.
#[cfg(zipkin_loom)]
loom::thread_local! {
    pub(super) static RINGS: RefCell<LocalRings> = RefCell::new(LocalRings(Vec::new()));
}

/// In a forked child, on the thread that forked: its rings belong to reporters of the parent;
/// orphaned, they are freed when the thread next registers a ring. Only atomics are written
/// (this runs in `pthread_atfork`'s child handler).
pub(crate) fn orphan_rings_after_fork() {
    let _ = RINGS.try_with(|rings| {
        if let Ok(rings) = rings.try_borrow() {
            for r in &rings.0 {
                r.ring.orphan();
            }
        }
    });
}

impl Shared {
    /// Gives this thread a ring of this reporter, returning its index in `rings`; `None` once
    /// the drainer has stopped (the span is then refused). Checked under the same lock as the
    /// drainer's last pass orphans every ring, so a thread racing a shutdown with its first
    /// span never leaves a ring that is neither drained nor orphaned.
    #[cold]
    #[inline(never)]
    pub(super) fn register(&self, rings: &mut LocalRings) -> Option<usize> {
        // Forget rings of reporters that have stopped, so threads that outlive many tracers
        // (tests, init/shutdown cycles) do not accumulate buffers.
        rings.forget_orphans();
        let ring = Arc::new(Ring::with_capacity(self.config.thread_buffer_spans));
        {
            let mut all = lock(&self.rings);
            if all.stopped {
                return None;
            }
            all.list.push(ring.clone());
        }
        rings.0.push(LocalRing {
            reporter: self.id,
            ring,
        });
        Some(rings.0.len() - 1)
    }
}
