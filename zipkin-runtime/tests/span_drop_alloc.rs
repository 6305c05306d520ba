//! A detached span frees what it owns when it drops, also when it never recorded: an unsampled
//! span that owns nothing ends without a call, and one that owns its name must still free it.
//! Counted by a global allocator as bytes this thread holds (allocated minus freed), so the
//! reporter's thread and parallel tests do not disturb the count.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use zipkin_runtime::transport::Discard;
use zipkin_runtime::{Span, Tracer};

struct Held;

thread_local! {
    static HELD: Cell<isize> = const { Cell::new(0) };
}

fn add(n: isize) {
    let _ = HELD.try_with(|h| h.set(h.get() + n));
}

// SAFETY: every call is passed on to the system allocator unchanged; the count is a
// thread-local `Cell` without a destructor, which allocates nothing.
unsafe impl GlobalAlloc for Held {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        add(l.size() as isize);
        // SAFETY: the caller's contract, passed on.
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        add(-(l.size() as isize));
        // SAFETY: the caller's contract, passed on.
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        add(n as isize - l.size() as isize);
        // SAFETY: the caller's contract, passed on.
        unsafe { System.realloc(p, l, n) }
    }
}

#[global_allocator]
static GLOBAL: Held = Held;

fn held() -> isize {
    HELD.with(Cell::get)
}

#[test]
fn unsampled_spans_free_their_owned_names_when_they_drop() {
    let t = Tracer::builder()
        .service_name("drop")
        .sample_rate(0.0)
        .transport(Discard)
        .build()
        .unwrap();
    t.in_scope(|| {
        // Warm-up: thread-locals and the tracer's first use allocate once.
        drop(Span::builder(format!("warm-{}", 1)).start_detached());
        let before = held();
        for i in 0..100 {
            let span = Span::builder(format!("job-{i}")).start_detached();
            assert!(!span.is_recording());
            drop(span);
            let span = Span::builder("static").start_detached();
            drop(span);
        }
        let mut span = Span::builder(format!("scoped-{}", 2)).start_detached();
        span.in_scope(|| {});
        span.finish();
        assert_eq!(held(), before, "bytes still held after the spans dropped");
    });
}
