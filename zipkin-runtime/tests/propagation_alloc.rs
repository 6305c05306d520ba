//! Extraction allocates nothing, and injection allocates nothing beyond what the carrier itself
//! does. Counted by a global allocator, per thread, so parallel tests do not disturb the counts.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use http::{HeaderMap, HeaderValue};
use zipkin_runtime::propagation::{
    b3, extract, extract_from, inject_context, w3c, B3Format, Field, InjectOptions, Injector,
};
use zipkin_runtime::{Sampling, SpanContext, SpanGuard, Tracer};

struct Counting;

thread_local! {
    static ALLOCS: Cell<usize> = const { Cell::new(0) };
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
        System.alloc(layout)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout)
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
        System.realloc(ptr, layout, new_size)
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations<R>(f: impl FnOnce() -> R) -> (usize, R) {
    let before = ALLOCS.with(Cell::get);
    let r = f();
    (ALLOCS.with(Cell::get) - before, r)
}

fn map(pairs: &[(&'static str, &str)]) -> HeaderMap {
    let mut m = HeaderMap::new();
    for (n, v) in pairs {
        m.append(*n, HeaderValue::from_str(v).unwrap());
    }
    m
}

const T: &str = "463ac35c9f6413ad48485a3953bb6124";
const S: &str = "a2fb4a1d1a96d312";
const P: &str = "0020000000000001";

#[test]
fn extraction_does_not_allocate() {
    let single = format!("{T}-{S}-1-{P}");
    let cases = [
        map(&[("b3", &single)]),
        map(&[("b3", "d")]),
        map(&[
            ("x-b3-traceid", T),
            ("x-b3-spanid", S),
            ("x-b3-parentspanid", P),
            ("x-b3-sampled", "1"),
            ("x-b3-flags", "0"),
        ]),
        map(&[(
            "traceparent",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        )]),
        // Malformed: counted, still no allocation.
        map(&[
            ("b3", "NOT-A-TRACE"),
            ("x-b3-traceid", T),
            ("x-b3-sampled", "2"),
        ]),
        map(&[("b3", &"a".repeat(4096))]),
        HeaderMap::new(),
    ];
    let pairs = vec![("B3".to_owned(), single.clone())];
    // Warm up anything lazily initialised on first use.
    for c in &cases {
        extract(c);
    }
    extract_from(&pairs);
    for c in &cases {
        let (n, _) = allocations(|| extract(c));
        assert_eq!(n, 0, "extract allocated {n} times for {c:?}");
    }
    let (n, ctx) = allocations(|| extract_from(&pairs));
    assert_eq!(n, 0);
    assert!(ctx.ids.is_some());
}

/// A carrier that stores nothing: what remains is injection's own cost.
struct Sink(usize);
impl Injector for Sink {
    fn set(&mut self, _field: Field, value: &str) {
        self.0 += value.len();
    }
}

#[test]
fn injection_allocates_only_in_the_carrier() {
    let ctx = SpanContext {
        trace_id: T.parse().unwrap(),
        span_id: S.parse().unwrap(),
        parent_id: Some(P.parse().unwrap()),
        sampling: Sampling::Sampled,
        debug: false,
    };
    let all = InjectOptions {
        b3: B3Format::Both,
        traceparent: true,
    };
    let mut sink = Sink(0);
    inject_context(&ctx, &mut sink, all);
    let (n, _) = allocations(|| {
        inject_context(&ctx, &mut sink, all);
        b3::write_single(&ctx);
        w3c::write_traceparent(&ctx);
    });
    assert_eq!(n, 0);

    // Into a HeaderMap: its table, plus one copy per id value ("0"/"1" are static).
    let mut m = HeaderMap::with_capacity(5);
    let (n, _) = allocations(|| inject_context(&ctx, &mut m, InjectOptions::default()));
    assert!(n <= 3, "{n} allocations for three id values");

    // inject_headers outside a span: an empty map, nothing allocated.
    let tracer = Tracer::builder()
        .service_name("svc")
        .transport(zipkin_runtime::transport::memory::MemoryTransport::new())
        .build()
        .unwrap();
    tracer.in_scope(|| {
        let (n, h) = allocations(zipkin_runtime::inject_headers);
        assert!(h.is_empty());
        assert_eq!(n, 0);
        let _span = SpanGuard::new("x");
        let (n, h) = allocations(zipkin_runtime::inject_headers);
        assert_eq!(h.len(), 5);
        // The map's storage (indices and entries) plus three id values.
        assert!(n <= 5, "{n} allocations");
    });
}
