//! The floor, measured in the same invocation as everything else: an empty call, the clocks,
//! and the physical minimum of a sampled span (two clock reads, a thread-local id and a push of
//! a fixed-size record into a preallocated thread-local buffer).

use std::cell::{Cell, RefCell};
use std::hint::black_box;
use std::sync::OnceLock;

use criterion::criterion_main;

#[inline(never)]
fn empty_fn() {
    black_box(());
}

/// The record a lean tracer has to keep per span: ids, two ticks, a static name, flags.
#[derive(Clone, Copy)]
#[allow(dead_code)]
struct Rec {
    trace_hi: u64,
    trace_lo: u64,
    id: u64,
    parent: u64,
    start: u64,
    end: u64,
    name: &'static str,
}

#[derive(Clone, Copy)]
struct Parent {
    trace_hi: u64,
    trace_lo: u64,
    id: u64,
}

thread_local! {
    static BUF: RefCell<Vec<Rec>> = RefCell::new(Vec::with_capacity(1024));
    static CURRENT: Cell<Option<Parent>> = const { Cell::new(None) };
    static RNG: Cell<u64> = const { Cell::new(0x9e37_79b9_7f4a_7c15) };
    static TL: Cell<u64> = const { Cell::new(0) };
}

fn clock() -> &'static quanta::Clock {
    static C: OnceLock<quanta::Clock> = OnceLock::new();
    C.get_or_init(quanta::Clock::new)
}

#[inline(always)]
fn next_id() -> u64 {
    RNG.with(|s| {
        let x = s.get().wrapping_add(0xa076_1d64_78bd_642f);
        s.set(x);
        let t = (x as u128).wrapping_mul((x ^ 0xe703_7ed1_a0b4_28db) as u128);
        ((t >> 64) as u64) ^ (t as u64) | 1
    })
}

#[inline(always)]
fn push(rec: Rec) {
    BUF.with(|b| {
        let mut b = b.borrow_mut();
        if b.len() == b.capacity() {
            b.clear();
        }
        b.push(rec);
    });
}

/// Two clock reads + a thread-local id + a push into a preallocated buffer, plus reading the
/// parent from and setting/restoring the current span in TLS: the sampled-span floor.
#[inline(never)]
fn span_model_tsc(c: &quanta::Clock) {
    let parent = CURRENT.with(|p| p.get());
    let (hi, lo, pid) = match parent {
        Some(p) => (p.trace_hi, p.trace_lo, p.id),
        None => (1, 1, 0),
    };
    let id = next_id();
    let prev = CURRENT.with(|p| {
        p.replace(Some(Parent {
            trace_hi: hi,
            trace_lo: lo,
            id,
        }))
    });
    let start = c.raw();
    empty_fn();
    let end = c.raw();
    CURRENT.with(|p| p.set(prev));
    push(Rec {
        trace_hi: hi,
        trace_lo: lo,
        id,
        parent: pid,
        start,
        end,
        name: "traced",
    });
}

/// Only the clocks and the push.
#[inline(never)]
fn span_floor_tsc(c: &quanta::Clock) {
    let start = c.raw();
    empty_fn();
    let end = c.raw();
    push(Rec {
        trace_hi: 1,
        trace_lo: 1,
        id: 1,
        parent: 0,
        start,
        end,
        name: "traced",
    });
}

fn floor(c: &mut criterion::Criterion) {
    let clk = clock();
    clk.raw();
    let mut g = c.benchmark_group("floor");
    g.bench_function("empty_fn", |b| b.iter(empty_fn));
    g.bench_function("instant_now", |b| b.iter(std::time::Instant::now));
    g.bench_function("system_time_now", |b| b.iter(std::time::SystemTime::now));
    g.bench_function("quanta_raw", |b| b.iter(|| clk.raw()));
    // What any span that is timed pays at least: a start and an end reading.
    g.bench_function("two_clock_reads", |b| {
        b.iter(|| black_box(clk.raw()).wrapping_add(black_box(clk.raw())))
    });
    g.bench_function("thread_local_cell_rw", |b| {
        b.iter(|| TL.with(|c| c.set(black_box(c.get()).wrapping_add(1))))
    });
    g.bench_function("thread_local_id", |b| b.iter(next_id));
    g.bench_function("span_floor_tsc", |b| b.iter(|| span_floor_tsc(clk)));
    g.bench_function("span_model_tsc", |b| b.iter(|| span_model_tsc(clk)));
    g.finish();
}

fn benches() {
    let mut c = zipkin_bench::criterion();
    floor(&mut c);
}

criterion_main!(benches);
