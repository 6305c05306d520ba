//! The per-thread span buffer: a bounded single-producer single-consumer ring.
//!
//! The application thread that owns the ring pushes finished spans with two atomic loads and one
//! release store: no lock, no allocation, no syscall. The reporter thread is the only consumer.
//! A push into a full ring hands the span back: the reporter then tries its shared overflow
//! before dropping and counting it (see `Shared::spill` in the reporter).
//!
//! Its atomics and cells come from [`super::sync`], so that `scripts/loom.sh` can run the
//! `loom` tests below under loom's model checker: every interleaving (up to a bound) of a
//! producer pushing, a consumer draining, reading the counts, and the close, orphan and
//! storage release at the end of either side, with every slot access checked for a race.

use std::mem::MaybeUninit;
use std::sync::atomic::Ordering;

use super::config::MAX_THREAD_BUFFER_SPANS;
use super::spares::Spares;
use super::sync::{AtomicBool, AtomicU64, AtomicUsize, UnsafeCell};
use crate::record::SpanRecord;

#[repr(align(64))]
struct Padded<T>(T);

/// How many pushes ahead a slot is prefetched. A slot's lines were last read by the consumer
/// on another core, and taking them back can take a few hundred nanoseconds: on this 2-vCPU
/// VM a line's round trip between the two cores is usually 80–120 ns but about 400 ns for
/// seconds at a time. 16 pushes of about 25 ns cover that; 1 and 8 left pushes waiting.
#[cfg_attr(zipkin_loom, allow(dead_code))]
const PREFETCH_AHEAD: usize = 16;

pub(crate) struct Ring {
    /// Emptied by [`Ring::release_storage`] once the consumer is gone (the counters stay).
    slots: UnsafeCell<Box<[UnsafeCell<MaybeUninit<SpanRecord>>]>>,
    mask: usize,
    /// Next slot the consumer reads. Written only by the consumer.
    head: Padded<AtomicUsize>,
    /// Next slot the producer writes. Written only by the producer.
    tail: Padded<AtomicUsize>,
    /// `head` as the producer last read it. Only the producer touches it: it re-reads `head`
    /// only when the ring looks full, instead of pulling the consumer's cache line every push.
    head_cache: Padded<UnsafeCell<usize>>,
    /// Spans dropped because the ring was full and the reporter's overflow could not be
    /// reached at that instant. Written only by the producer.
    dropped_full: Padded<AtomicU64>,
    /// Spans dropped because the ring was full and the reporter's queue had no room. Written
    /// only by the producer (same cache line: both change only when the ring is full).
    dropped_queue: AtomicU64,
    /// Set when the producing thread has exited; the consumer then drains and forgets the ring.
    closed: AtomicBool,
    /// Set when the consumer has stopped; the producer then forgets the ring.
    orphaned: AtomicBool,
    /// The CPU has PREFETCHW (see [`Ring::prefetch_for_write`]).
    prefetchw: bool,
    /// Tag boxes of this ring's spans, emptied by the consumer, for the producer's next spans.
    pub(super) spares: Spares,
}

// Benchmark: ours/sampled_handoff (the lock-free per-thread ring).
// SAFETY: slots are only written by the single producer at `tail` before publishing it with a
// release store, and only read by the single consumer below `tail` (acquire) before releasing
// them with a store to `head`. SpanRecord is Send.
unsafe impl Sync for Ring {}
// Benchmark: ours/sampled_handoff (the lock-free per-thread ring).
// SAFETY: as for `Sync`: every field is either atomic or reached under the single-producer,
// single-consumer protocol, and what the slots hold (`SpanRecord`) is `Send`.
unsafe impl Send for Ring {}

impl Ring {
    pub(crate) fn with_capacity(cap: usize) -> Ring {
        let cap = ring_capacity(cap);
        let slots = (0..cap)
            .map(|_| UnsafeCell::new(MaybeUninit::uninit()))
            .collect::<Vec<_>>()
            .into_boxed_slice();
        Ring {
            slots: UnsafeCell::new(slots),
            mask: cap - 1,
            head: Padded(AtomicUsize::new(0)),
            tail: Padded(AtomicUsize::new(0)),
            head_cache: Padded(UnsafeCell::new(0)),
            dropped_full: Padded(AtomicU64::new(0)),
            dropped_queue: AtomicU64::new(0),
            closed: AtomicBool::new(false),
            orphaned: AtomicBool::new(false),
            prefetchw: has_prefetchw(),
            spares: Spares::with_capacity(cap),
        }
    }

    /// Producer side. Returns the fill level after the push; if the ring is full, hands the
    /// span to `full` instead (which puts it elsewhere, or drops it and counts that) and
    /// returns what it says. The span moves only on that branch: the common one writes it
    /// straight into its slot.
    ///
    /// # Safety
    /// Only one thread may ever call `push` on a given ring.
    #[inline(always)]
    #[cfg(test)]
    // Benchmark: ours/sampled_handoff (the lock-free per-thread ring).
    pub(crate) unsafe fn push<R>(
        &self,
        rec: SpanRecord,
        full: impl FnOnce(SpanRecord) -> R,
    ) -> Result<usize, R> {
        // Benchmark: ours/sampled_handoff (the lock-free per-thread ring).
        // SAFETY: the caller upholds push_with's contract, which is this one's.
        unsafe { self.push_with(rec, |rec| rec, full) }
    }

    /// [`Ring::push`] of the record `build` makes of `span`, built straight into its slot: a
    /// record built on the stack and then copied in was read back with wide loads right after
    /// its narrow stores (a store-forwarding stall on every span). A full ring hands `span` to
    /// `full` unbuilt, so that a span about to be dropped costs no record (nor end time).
    ///
    /// # Safety
    /// As [`Ring::push`].
    #[inline(always)]
    // Benchmark: ours/sampled_handoff (the lock-free per-thread ring).
    pub(crate) unsafe fn push_with<S, R>(
        &self,
        span: S,
        build: impl FnOnce(S) -> SpanRecord,
        full: impl FnOnce(S) -> R,
    ) -> Result<usize, R> {
        let tail = self.tail.0.load(Ordering::Relaxed);
        let len = self.head_cache.0.with_mut(|cached| {
            // Benchmark: ours/sampled_handoff (the lock-free per-thread ring).
            // SAFETY: only the producer (the caller, per this function's contract) uses
            // head_cache.
            let cached = unsafe { &mut *cached };
            let mut len = tail.wrapping_sub(*cached);
            // Re-read `head` whenever the ring looks at least half full: the fill level
            // returned is then exact from half up, so the reporter's wake-up at exactly half
            // (and the full check) see the truth; below half a stale view only overestimates.
            if len >= self.mask / 2 {
                *cached = self.head.0.load(Ordering::Acquire);
                len = tail.wrapping_sub(*cached);
                if len > self.mask {
                    return None;
                }
            }
            Some(len)
        });
        let Some(len) = len else {
            return Err(full(span));
        };
        self.slots.with(|slots| {
            // Benchmark: ours/sampled_handoff (the lock-free per-thread ring).
            // SAFETY: the storage is only released by this producer, after its last push.
            let slots = unsafe { &*slots };
            slots[tail & self.mask].with_mut(|slot| {
                // Benchmark: ours/sampled_handoff (the record is built straight into its slot).
                // SAFETY: the slot at `tail` is free (len <= mask) and only this producer
                // writes it.
                unsafe { (*slot).write(build(span)) };
            });
            self.tail.0.store(tail.wrapping_add(1), Ordering::Release);
            // Only a slot the consumer is done with: taking one it has yet to read would slow
            // it. Not under loom: a hint on an address is no access to model.
            #[cfg(not(zipkin_loom))]
            if len + PREFETCH_AHEAD <= self.mask {
                if let Some(ahead) = slots.get(tail.wrapping_add(PREFETCH_AHEAD) & self.mask) {
                    ahead.with(|p| self.prefetch_for_write(p));
                }
            }
        });
        Ok(len + 1)
    }

    /// Producer side: counts a span dropped because the ring was full, by cause (`queue_full`:
    /// the reporter's queue had no room either; otherwise the overflow could not be reached).
    ///
    /// # Safety
    /// Only the ring's producer may call it (the counters have a single writer).
    // Benchmark: ours/sampled_handoff (the lock-free per-thread ring).
    pub(crate) unsafe fn count_dropped(&self, queue_full: bool) {
        let c = if queue_full {
            &self.dropped_queue
        } else {
            &self.dropped_full.0
        };
        c.store(c.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
    }

    /// Consumer side: moves every published span into `out`.
    ///
    /// # Safety
    /// Only one thread at a time may call `drain_into` on a given ring.
    // Benchmark: ours/sampled_handoff (the lock-free per-thread ring).
    pub(crate) unsafe fn drain_into(&self, out: &mut Vec<SpanRecord>) -> usize {
        let head = self.head.0.load(Ordering::Relaxed);
        let tail = self.tail.0.load(Ordering::Acquire);
        let n = tail.wrapping_sub(head);
        self.slots.with(|slots| {
            // Benchmark: ours/sampled_handoff (the lock-free per-thread ring).
            // SAFETY: the storage is released only after the consumer has stopped for good.
            let slots = unsafe { &*slots };
            if slots.is_empty() {
                return 0;
            }
            out.reserve(n);
            for i in 0..n {
                let idx = head.wrapping_add(i) & self.mask;
                out.push(slots[idx].with(|slot| {
                    // Benchmark: ours/sampled_handoff (the lock-free per-thread ring).
                    // SAFETY: slots in head..tail were initialised by the producer and
                    // published by the acquire load of `tail`; we take each exactly once
                    // before advancing `head`.
                    unsafe { (*slot).assume_init_read() }
                }));
            }
            self.head.0.store(tail, Ordering::Release);
            n
        })
    }

    /// Spans pushed so far (accepted ones).
    #[cfg(test)]
    pub(crate) fn pushed(&self) -> u64 {
        self.tail.0.load(Ordering::Acquire) as u64
    }

    /// Counts read once each (drops before the tail), so they agree with each other even
    /// while the producer pushes: a span counted as dropped or accepted here is in `offered`.
    /// Not while the consumer drains: `head` read after a drain moved it past the `tail` read
    /// first would make `len` wrap (the reporter reads them under the ledger lock that the
    /// drainer drains under).
    pub(crate) fn counts(&self) -> RingCounts {
        let dropped_full = self.dropped_full.0.load(Ordering::Relaxed);
        let dropped_queue = self.dropped_queue.load(Ordering::Relaxed);
        let tail = self.tail.0.load(Ordering::Acquire);
        let head = self.head.0.load(Ordering::Acquire);
        RingCounts {
            accepted: tail as u64,
            len: tail.wrapping_sub(head) as u64,
            dropped_full,
            dropped_queue,
        }
    }

    /// Slots still allocated (0 after [`Ring::release_storage`]).
    #[cfg(test)]
    pub(crate) fn storage_len(&self) -> usize {
        self.slots.with(|slots| {
            // Benchmark: ours/sampled_handoff (the lock-free per-thread ring).
            // SAFETY: test-only read while no producer or consumer runs.
            unsafe { (&(*slots)).len() }
        })
    }

    pub(crate) fn close(&self) {
        self.closed.store(true, Ordering::Release);
    }

    pub(crate) fn orphan(&self) {
        self.orphaned.store(true, Ordering::Release);
    }

    pub(crate) fn is_orphaned(&self) -> bool {
        self.orphaned.load(Ordering::Acquire)
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// Producer side, once the ring is orphaned: drops the spans stranded in it and frees the
    /// slots, keeping the counters (so metrics still count the stranded spans as dropped).
    /// Without this, every stopped reporter would keep one full-size buffer per thread that
    /// reported to it, for as long as the process runs (the reporter is never freed).
    ///
    /// # Safety
    /// Only the ring's producer may call it, after [`Ring::is_orphaned`] returned true (the
    /// consumer has stopped for good), and it must never push to the ring again.
    // Benchmark: ours/sampled_handoff (the lock-free per-thread ring).
    pub(crate) unsafe fn release_storage(&self) {
        let head = self.head.0.load(Ordering::Acquire);
        let tail = self.tail.0.load(Ordering::Relaxed);
        self.slots.with_mut(|slots| {
            // Benchmark: ours/sampled_handoff (the lock-free per-thread ring).
            // SAFETY: the consumer has stopped and the caller is the only producer, so nothing
            // else touches the slots.
            let slots = unsafe { &mut *slots };
            if slots.is_empty() {
                return;
            }
            for i in 0..tail.wrapping_sub(head) {
                let idx = head.wrapping_add(i) & self.mask;
                slots[idx].with_mut(|slot| {
                    // Benchmark: ours/sampled_handoff (the lock-free per-thread ring).
                    // SAFETY: slots in head..tail are initialised and were never taken by a
                    // consumer.
                    unsafe { (*slot).assume_init_drop() };
                });
            }
            *slots = Box::new([]);
        });
        // Benchmark: http_layers/server_layer_sampled.
        // SAFETY: the consumer, the spares' only giver, has stopped; the caller is the ring's
        // producer, their only taker, and never takes from this ring again.
        unsafe { self.spares.release() };
    }
}

/// One reading of a ring's counters (see [`Ring::counts`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct RingCounts {
    /// Spans ever pushed into the ring.
    pub accepted: u64,
    /// Of those, still in the ring.
    pub len: u64,
    /// Dropped: the ring was full and could not be emptied at that instant.
    pub dropped_full: u64,
    /// Dropped: the ring was full and the reporter's queue had no room.
    pub dropped_queue: u64,
}

impl RingCounts {
    /// Spans offered to this ring: accepted or dropped.
    pub(crate) fn offered(&self) -> u64 {
        self.accepted + self.dropped_full + self.dropped_queue
    }
}

impl Ring {
    /// Asks for every cache line of the `T` at `p` in the state a store needs, so that the
    /// store later does not wait for another core to give the line up.
    ///
    /// `_mm_prefetch` with `_MM_HINT_ET0` is no help here: without the `prfchw` target feature
    /// (not in the default x86_64 target) it compiles to a read prefetch, which leaves a line
    /// the consumer has read shared with it, and the store still waits for the invalidation.
    /// So PREFETCHW is written out, on CPUs that have it. Not under Miri, which runs no inline
    /// assembly (nor CPUID).
    #[inline(always)]
    pub(crate) fn prefetch_for_write<T>(&self, p: *const T) {
        #[cfg(all(target_arch = "x86_64", not(miri)))]
        {
            // The first, second and last byte's lines: all of them for a `T` of up to 128
            // bytes (a record is 104), wherever it starts.
            let size = std::mem::size_of::<T>();
            let p = p as *const u8;
            let last = size.saturating_sub(1);
            let lines = [p, p.wrapping_add(64.min(last)), p.wrapping_add(last)];
            for line in lines {
                if self.prefetchw {
                    // Benchmark: ours/sampled_handoff (the lock-free per-thread ring).
                    // SAFETY: a prefetch is a hint: it never faults, whatever the address,
                    // and changes no register or memory; the CPU has the instruction.
                    unsafe {
                        std::arch::asm!(
                            "prefetchw byte ptr [{0}]",
                            in(reg) line,
                            options(nostack, preserves_flags, readonly)
                        )
                    };
                } else {
                    // Benchmark: ours/sampled_handoff (the lock-free per-thread ring).
                    // SAFETY: as above; SSE is part of x86_64.
                    unsafe {
                        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
                        _mm_prefetch::<_MM_HINT_T0>(line as *const i8);
                    }
                }
            }
        }
        #[cfg(not(all(target_arch = "x86_64", not(miri))))]
        let _ = (p, self.prefetchw);
    }
}

/// Whether the CPU has PREFETCHW (CPUID 8000_0001h, ECX bit 8: AMD since the K6-2, Intel
/// since Broadwell). Older Intel CPUs may not treat its opcode as a no-op, so it is asked.
fn has_prefetchw() -> bool {
    #[cfg(all(target_arch = "x86_64", not(miri)))]
    {
        use std::arch::x86_64::__cpuid;
        // `__cpuid` is an unsafe fn before Rust 1.87 (this crate supports 1.80).
        #[allow(unused_unsafe)]
        // Benchmark: ours/sampled_handoff (the lock-free per-thread ring).
        // SAFETY: CPUID exists on every x86_64 CPU, and leaf 8000_0001h is read only when
        // leaf 8000_0000h says it exists.
        unsafe {
            __cpuid(0x8000_0000).eax >= 0x8000_0001 && __cpuid(0x8000_0001).ecx & (1 << 8) != 0
        }
    }
    #[cfg(not(all(target_arch = "x86_64", not(miri))))]
    false
}

/// The slots a ring asked for `spans` gets: a power of two, at least 2 and at most
/// [`MAX_THREAD_BUFFER_SPANS`] (the configuration is checked against the same bound, so the
/// clamp only keeps an unchecked value from overflowing).
pub(crate) fn ring_capacity(spans: usize) -> usize {
    spans.clamp(2, MAX_THREAD_BUFFER_SPANS).next_power_of_two()
}

impl Drop for Ring {
    fn drop(&mut self) {
        let mut rest = Vec::new();
        // Benchmark: ours/sampled_handoff (the lock-free per-thread ring).
        // SAFETY: `&mut self` means no producer or consumer is active.
        unsafe { self.drain_into(&mut rest) };
    }
}

// The tests call the ring's unsafe API as its contract asks: from one producer thread and
// one consumer thread (or one thread playing both in turn), never on a freed ring. Miri runs
// them (scripts/miri.sh).
#[cfg(test)]
#[allow(clippy::undocumented_unsafe_blocks)]
mod tests {
    use super::*;
    use crate::id::{SpanId, TraceId};
    use crate::record::Kind;
    use std::borrow::Cow;
    use std::sync::Arc;

    fn rec(i: u64) -> SpanRecord {
        SpanRecord {
            trace_id: TraceId::new(0, 1).unwrap(),
            span_id: SpanId::new(i + 1).unwrap(),
            parent_id: None,
            name: Cow::Owned(format!("s{i}")),
            kind: Kind::Local,
            service_name: "svc",
            port: 0,
            start: i,
            end: i + 1,
            debug: false,
            shared: false,
            extra: None,
        }
    }

    fn starts(v: &[SpanRecord]) -> Vec<u64> {
        v.iter().map(|s| s.start).collect()
    }

    #[test]
    fn full_ring_hands_the_span_back_and_counts_drops_by_cause() {
        let r = Ring::with_capacity(4);
        let mut back = Vec::new();
        for i in 0..6 {
            if let Err(Some(rec)) = unsafe { r.push(rec(i), Some) } {
                back.push(rec);
            }
        }
        assert_eq!(r.pushed(), 4);
        assert_eq!(starts(&back), vec![4, 5], "the spans that did not fit");
        unsafe {
            r.count_dropped(false);
            r.count_dropped(true);
            r.count_dropped(true);
        }
        let c = r.counts();
        assert_eq!(
            (c.accepted, c.len, c.dropped_full, c.dropped_queue),
            (4, 4, 1, 2)
        );
        assert_eq!(c.offered(), 7);
        let mut out = Vec::new();
        assert_eq!(unsafe { r.drain_into(&mut out) }, 4);
        assert_eq!(starts(&out), vec![0, 1, 2, 3]);
        assert_eq!(unsafe { r.push(rec(9), Some) }.ok(), Some(1));
    }

    #[test]
    fn release_storage_frees_the_slots_and_keeps_the_counts() {
        let r = Ring::with_capacity(8);
        for i in 0..5 {
            let _ = unsafe { r.push(rec(i), Some) };
        }
        let mut out = Vec::new();
        assert_eq!(unsafe { r.drain_into(&mut out) }, 5);
        for i in 0..3 {
            let _ = unsafe { r.push(rec(i), Some) }; // stranded: never drained
        }
        r.orphan();
        unsafe { r.release_storage() };
        assert_eq!(r.storage_len(), 0);
        let c = r.counts();
        assert_eq!(
            (c.accepted, c.len, c.offered()),
            (8, 3, 8),
            "stranded still counted"
        );
        assert_eq!(unsafe { r.drain_into(&mut out) }, 0);
        unsafe { r.release_storage() }; // twice is harmless
        drop(r); // and dropping after release does not touch the freed slots
    }

    #[test]
    fn half_full_is_reported_again_after_every_drain() {
        // The reporter wakes its drainer when a push returns exactly half the capacity; the
        // producer's cached view of `head` must not hide that crossing after a drain.
        let r = Ring::with_capacity(8);
        let mut out = Vec::new();
        for round in 0..4 {
            let mut levels = Vec::new();
            for i in 0..(3 + round) {
                levels.push(unsafe { r.push(rec(i), Some) }.ok());
            }
            unsafe { r.drain_into(&mut out) };
            for i in 0..8 {
                levels.push(unsafe { r.push(rec(i), Some) }.ok());
            }
            assert!(
                levels[(3 + round) as usize..].contains(&Some(4)),
                "round {round}: {levels:?}"
            );
            assert_eq!(
                levels.last(),
                Some(&Some(8)),
                "full after 8 pushes past a drain"
            );
            unsafe { r.drain_into(&mut out) };
        }
        assert_eq!(r.counts().offered(), r.pushed());
    }

    #[test]
    fn concurrent_producer_and_consumer_lose_nothing() {
        let r = Arc::new(Ring::with_capacity(64));
        let p = r.clone();
        // Miri interprets every step: a thousand spans still go round the 64 slots 15 times.
        let n: u64 = if cfg!(miri) { 1_000 } else { 100_000 };
        let prod = std::thread::spawn(move || {
            let mut i = 0;
            while i < n {
                if unsafe { p.push(rec(i), drop) }.is_ok() {
                    i += 1;
                } else {
                    // retry instead of dropping
                    std::thread::yield_now();
                }
            }
        });
        let mut got = Vec::new();
        while (got.len() as u64) < n {
            unsafe { r.drain_into(&mut got) };
        }
        prod.join().unwrap();
        for (i, s) in got.iter().enumerate() {
            assert_eq!(s.start, i as u64, "order and completeness");
        }
        // Unused slots are released properly on drop (checked by miri/leak tools).
        drop(r);
    }

    /// Loom models (`scripts/loom.sh`): every interleaving of the ring's two sides, with
    /// every slot access checked against the writes it must follow. Each ring has 2 slots, so
    /// that the third record finds it full unless a drain came first.
    #[cfg(zipkin_loom)]
    mod loom_models {
        // A glob, as `tests` imports the ring: zipkin-testkit/tests/layers.rs reads a
        // `super::` path here as one to reporter/mod.rs.
        use super::*;
        use ::loom::sync::{Arc, Mutex};
        use ::loom::thread;

        /// What the producer did: records accepted, and the `start`s of those handed back.
        fn produce(ring: &Ring, n: u64) -> (usize, Vec<u64>) {
            let (mut accepted, mut back) = (0, Vec::new());
            for i in 0..n {
                match unsafe { ring.push(rec(i), |r| r) } {
                    Ok(_) => accepted += 1,
                    Err(r) => {
                        unsafe { ring.count_dropped(false) };
                        back.push(r.start);
                    }
                }
            }
            (accepted, back)
        }

        /// Each of the records `0..n` was received or handed back, once, and received in order.
        fn each_once_in_order(got: &[u64], back: &[u64], n: u64) {
            assert!(got.windows(2).all(|w| w[0] < w[1]), "out of order: {got:?}");
            let mut all: Vec<u64> = got.iter().chain(back).copied().collect();
            all.sort_unstable();
            assert_eq!(
                all,
                (0..n).collect::<Vec<_>>(),
                "got {got:?}, back {back:?}"
            );
        }

        #[test]
        fn loom_pushes_racing_drains_arrive_once_in_order_or_come_back() {
            ::loom::model(|| {
                let ring = Arc::new(Ring::with_capacity(2));
                let p = ring.clone();
                let producer = thread::spawn(move || produce(&p, 3));
                let mut got = Vec::new();
                unsafe { ring.drain_into(&mut got) };
                unsafe { ring.drain_into(&mut got) };
                let (accepted, back) = producer.join().unwrap();
                unsafe { ring.drain_into(&mut got) };
                let got = starts(&got);
                assert_eq!(got.len(), accepted, "accepted records all drained");
                each_once_in_order(&got, &back, 3);
                let c = ring.counts();
                assert_eq!(
                    (c.accepted, c.len, c.dropped_full, c.offered()),
                    (accepted as u64, 0, back.len() as u64, 3)
                );
            });
        }

        /// The end of either side, as the reporter does it: the application thread's exit
        /// releases the storage of a ring already orphaned and closes the others
        /// (`LocalRings::drop`); the drainer drains, forgets a ring it saw closed before
        /// draining, and at its stop drains again and orphans what it still has
        /// (`Drainer::stop`). Loom fails on any slot access after the release.
        #[test]
        fn loom_thread_exit_racing_the_drainer_stop_frees_each_record_once() {
            ::loom::model(|| {
                let ring = Arc::new(Ring::with_capacity(2));
                let p = ring.clone();
                let producer = thread::spawn(move || {
                    let (accepted, back) = produce(&p, 2);
                    let released = p.is_orphaned();
                    if released {
                        unsafe { p.release_storage() };
                    } else {
                        p.close();
                    }
                    (accepted, back, released)
                });
                let mut got = Vec::new();
                let mut forgotten = false;
                for _ in 0..2 {
                    let closed = ring.is_closed();
                    unsafe { ring.drain_into(&mut got) };
                    if closed {
                        assert_eq!(ring.counts().len, 0, "a closed ring is empty once drained");
                        forgotten = true;
                        break;
                    }
                }
                if !forgotten {
                    ring.orphan();
                }
                let (accepted, back, released) = producer.join().unwrap();
                let got = starts(&got);
                // The records 0..2 were drained in order, handed back, or are still in the
                // ring (stranded): the ones left in it are the last `len` accepted.
                let c = ring.counts();
                let mut drained_or_stranded = got.clone();
                drained_or_stranded.extend(2 - back.len() as u64 - c.len..2 - back.len() as u64);
                each_once_in_order(&drained_or_stranded, &back, 2);
                assert_eq!(c.accepted, accepted as u64);
                assert_eq!(
                    got.len() as u64 + c.len,
                    c.accepted,
                    "each accepted record drained or still counted in the ring"
                );
                if forgotten {
                    assert!(
                        !released && got.len() == accepted,
                        "forgotten only when empty"
                    );
                }
                if released {
                    assert_eq!(ring.storage_len(), 0);
                    // Neither a drain nor the ring's drop reads the released slots.
                    assert_eq!(unsafe { ring.drain_into(&mut Vec::new()) }, 0);
                }
                // The last reference: the ring's drop drops what is left in it, once.
            });
        }

        /// `counts()` as the reporter's metrics read them, from a third thread under the
        /// ledger lock that the drainer drains under: they agree with each other and only grow.
        #[test]
        fn loom_counts_read_during_pushes_and_drains_agree_and_only_grow() {
            let mut model = ::loom::model::Builder::new();
            model.preemption_bound = Some(3);
            model.check(|| {
                let ring = Arc::new(Ring::with_capacity(2));
                let ledger = Arc::new(Mutex::new(()));
                let p = ring.clone();
                let producer = thread::spawn(move || produce(&p, 3));
                let (o, l) = (ring.clone(), ledger.clone());
                let observer = thread::spawn(move || {
                    let read = || -> RingCounts {
                        let _l = l.lock().unwrap();
                        o.counts()
                    };
                    let (a, b) = (read(), read());
                    for c in [a, b] {
                        assert!(c.len <= c.accepted && c.len <= 2, "{c:?}");
                        assert!(c.offered() <= 3, "{c:?}");
                    }
                    assert!(
                        b.accepted >= a.accepted && b.offered() >= a.offered(),
                        "{a:?} {b:?}"
                    );
                });
                let mut got = Vec::new();
                {
                    let _l = ledger.lock().unwrap();
                    unsafe { ring.drain_into(&mut got) };
                }
                producer.join().unwrap();
                observer.join().unwrap();
            });
        }
    }

    /// The kernel names CPUID 8000_0001h ECX bit 8 `3dnowprefetch`: a wrong leaf or bit
    /// would silently turn every prefetch into one that does not help the hand-off.
    #[test]
    #[cfg(all(target_arch = "x86_64", target_os = "linux", not(miri)))]
    fn prefetchw_is_detected_as_the_kernel_reports_it() {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").expect("/proc/cpuinfo");
        let flags = cpuinfo
            .lines()
            .find(|l| l.starts_with("flags"))
            .expect("a flags line");
        let kernel = flags.split_whitespace().any(|f| f == "3dnowprefetch");
        assert_eq!(has_prefetchw(), kernel);
        assert_eq!(Ring::with_capacity(4).prefetchw, kernel);
    }
}
