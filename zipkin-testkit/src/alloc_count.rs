//! Allocations made by the calling thread, for tests that hold a code path to its heap use (the
//! reporter's threads allocate for their own work, and are not counted). A test binary opts in
//! with `#[global_allocator] static A: zipkin_testkit::alloc_count::Counting = Counting;`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

thread_local! {
    static ALLOCS: Cell<u64> = const { Cell::new(0) };
}

/// The system allocator, counting each thread's `alloc` and `realloc` calls.
#[derive(Debug)]
pub struct Counting;

// SAFETY: every call is passed on to the system allocator unchanged; the count is a
// thread-local `Cell` without a destructor, which allocates nothing.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let _ = ALLOCS.try_with(|a| a.set(a.get() + 1));
        // SAFETY: the caller's contract, passed on.
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        // SAFETY: the caller's contract, passed on.
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        let _ = ALLOCS.try_with(|a| a.set(a.get() + 1));
        // SAFETY: the caller's contract, passed on.
        unsafe { System.realloc(p, l, n) }
    }
}

/// Allocations this thread has made so far (0 unless the binary installed [`Counting`]).
pub fn allocations() -> u64 {
    ALLOCS.with(Cell::get)
}
