//! A global allocator that counts allocations, for benches and probes that report them. A
//! binary opts in with `#[global_allocator] static A: Counting = Counting;` (a library cannot
//! choose the allocator of every binary that links it).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicU64, Ordering};

static ALLOCS: AtomicU64 = AtomicU64::new(0);

/// The system allocator, counting every `alloc` and `realloc` (all threads).
pub struct Counting;

// SAFETY: every call is passed on to the system allocator unchanged, after a counter is bumped.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: the caller's contract, passed on.
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        // SAFETY: the caller's contract, passed on.
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: the caller's contract, passed on.
        unsafe { System.realloc(p, l, n) }
    }
}

/// Allocations so far (0 unless the binary installed [`Counting`]).
pub fn allocations() -> u64 {
    ALLOCS.load(Ordering::Relaxed)
}
