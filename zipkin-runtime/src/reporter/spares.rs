//! Emptied tag boxes ([`Extra`]) on their way back from the drainer to the thread whose spans
//! filled them: a bounded queue of pointers with one giver (the drainer) and one taker (the
//! ring's application thread).
//!
//! Why: a tagged span's box and tag vector are allocated on the application thread and, without
//! this, freed on the drainer's. With glibc's allocator those frees went to the application
//! thread's arena under its lock, and the application thread's next allocations, its own
//! per-thread cache emptied, waited on that lock: `perf` put about 40 % of a sampled
//! `ServerLayer` request's time in `malloc` and the futex behind it. A box that comes back
//! emptied, with its vectors' capacity, costs neither side an allocation.
//!
//! Slot `i` holds a box (non-null) or nothing (null). The giver fills slots in order and drops
//! the box instead when the next slot is still full; the taker empties them in the same order.
//! Each side's position is its own; the slots alone carry the hand-over.

use std::borrow::Cow;
use std::ptr;
use std::sync::atomic::Ordering;

use super::sync::{AtomicPtr, AtomicUsize, UnsafeCell};
use crate::record::Extra;

#[repr(align(64))]
struct Padded<T>(T);

/// A returned box keeps at most this many tags' room (and annotations'): a span that grew
/// larger vectors gives them back to the allocator instead of pinning them for this thread.
const MAX_KEPT_CAPACITY: usize = 8;

/// A returned box keeps at most this many of its span's strings (an owned name, long tag
/// keys and values, owned annotations), each of at most [`MAX_TEXT_CAPACITY`] bytes' room.
const MAX_SPARE_TEXT: usize = 4;
const MAX_TEXT_CAPACITY: usize = 256;

pub(crate) struct Spares {
    /// Emptied by [`Spares::release`] once both sides are done (the ring outlives them).
    slots: UnsafeCell<Box<[AtomicPtr<Extra>]>>,
    mask: usize,
    /// The next slot the giver fills. Only the giver uses it.
    give: Padded<AtomicUsize>,
    /// The next slot the taker empties. Only the taker uses it.
    take: Padded<AtomicUsize>,
}

// Benchmark: http_layers/server_layer_sampled.
// SAFETY: the slots are atomics, except that the array is replaced by `release`, whose
// contract rules out any other access; the boxes they point to (`Extra`, which is `Send`) are
// reached by one side at a time, handed over with release and acquire stores and loads.
unsafe impl Sync for Spares {}
// Benchmark: http_layers/server_layer_sampled.
// SAFETY: as for `Sync`.
unsafe impl Send for Spares {}

impl Spares {
    /// Room for `cap` boxes (a power of two): as many as the ring holds spans, so that a
    /// drain's worth of boxes can come back.
    pub(crate) fn with_capacity(cap: usize) -> Spares {
        debug_assert!(cap.is_power_of_two());
        Spares {
            slots: UnsafeCell::new((0..cap).map(|_| AtomicPtr::new(ptr::null_mut())).collect()),
            mask: cap - 1,
            give: Padded(AtomicUsize::new(0)),
            take: Padded(AtomicUsize::new(0)),
        }
    }

    #[inline]
    fn slots(&self) -> &[AtomicPtr<Extra>] {
        self.slots.with(|slots| {
            // Benchmark: http_layers/server_layer_sampled.
            // SAFETY: the array is replaced only by `release` and dropped only with `self`,
            // and `release`'s contract rules out a giver or taker at the same time.
            unsafe { &**slots }
        })
    }

    /// Giver side: empties `extra` and keeps it for the taker, with a few of its span's
    /// strings (`extra`'s and its `name`) emptied in `spare_text`; or drops it when it holds
    /// more room than is worth keeping or the taker has not taken the ones given before.
    /// Returns whether it was kept.
    ///
    /// # Safety
    /// Only one thread at a time may give (the drainer).
    // Benchmark: http_layers/server_layer_sampled.
    pub(crate) unsafe fn give(&self, mut extra: Box<Extra>, name: Cow<'static, str>) -> bool {
        if extra.tags.capacity() > MAX_KEPT_CAPACITY
            || extra.annotations.capacity() > MAX_KEPT_CAPACITY
        {
            return false;
        }
        let slots = self.slots();
        if slots.is_empty() {
            return false;
        }
        let i = self.give.0.load(Ordering::Relaxed);
        let slot = &slots[i & self.mask];
        // Acquire: a slot seen empty was emptied by the taker, who has let go of its box.
        if !slot.load(Ordering::Acquire).is_null() {
            return false;
        }
        let mut text = std::mem::take(&mut extra.spare_text);
        let mut keep = |mut s: String| {
            if text.len() < MAX_SPARE_TEXT && s.capacity() <= MAX_TEXT_CAPACITY {
                s.clear();
                text.push(s);
            }
        };
        if let Cow::Owned(n) = name {
            keep(n);
        }
        for (k, v) in extra.tags.drain(..) {
            if let Cow::Owned(k) = k {
                keep(k);
            }
            if let Some(v) = v.into_heap() {
                keep(v);
            }
        }
        for (_, a) in extra.annotations.drain(..) {
            if let Cow::Owned(a) = a {
                keep(a);
            }
        }
        extra.spare_text = text;
        extra.remote_endpoint = None;
        // Release: the taker that sees the pointer sees the emptied box behind it.
        slot.store(Box::into_raw(extra), Ordering::Release);
        self.give.0.store(i.wrapping_add(1), Ordering::Relaxed);
        true
    }

    /// Taker side: an emptied box, if one came back.
    ///
    /// # Safety
    /// Only one thread may ever take (the ring's producer).
    #[inline]
    // Benchmark: http_layers/server_layer_sampled.
    pub(crate) unsafe fn take(&self) -> Option<Box<Extra>> {
        let slots = self.slots();
        if slots.is_empty() {
            return None;
        }
        let i = self.take.0.load(Ordering::Relaxed);
        let slot = &slots[i & self.mask];
        let p = slot.load(Ordering::Acquire);
        if p.is_null() {
            return None;
        }
        // Release: the giver that sees the slot empty again is done with this box's memory
        // as far as this side is concerned (it never touches a box it gave).
        slot.store(ptr::null_mut(), Ordering::Release);
        self.take.0.store(i.wrapping_add(1), Ordering::Relaxed);
        // Benchmark: http_layers/server_layer_sampled (boxes come back instead of being freed
        // on the drainer's thread).
        // SAFETY: `p` came from `Box::into_raw` in `give`, and only this side, which just
        // emptied its slot, can reach it now.
        Some(unsafe { Box::from_raw(p) })
    }

    /// Frees the boxes kept and the slots: a ring lives as long as its reporter (for its
    /// counts), its spares only as long as its two sides.
    ///
    /// # Safety
    /// Only the taker may call it, once the giver has stopped for good, and neither side may
    /// use these spares again.
    // Benchmark: http_layers/server_layer_sampled.
    pub(crate) unsafe fn release(&self) {
        self.slots.with_mut(|slots| {
            // Benchmark: http_layers/server_layer_sampled.
            // SAFETY: per this function's contract, nothing else reaches the slots.
            let slots = unsafe { &mut *slots };
            free_all(slots);
            *slots = Box::new([]);
        });
    }
}

/// Frees the boxes `slots` hold, leaving them empty.
fn free_all(slots: &[AtomicPtr<Extra>]) {
    for slot in slots {
        let p = slot.swap(ptr::null_mut(), Ordering::Acquire);
        if !p.is_null() {
            // Benchmark: http_layers/server_layer_sampled.
            // SAFETY: no side is active (the callers' contracts), and a non-null slot holds a
            // box from `Box::into_raw` that no one took.
            drop(unsafe { Box::from_raw(p) });
        }
    }
}

impl Drop for Spares {
    fn drop(&mut self) {
        // `&mut self`: neither side is active.
        free_all(self.slots());
    }
}

// Miri runs these (scripts/miri.sh), and loom the model below (scripts/loom.sh).
#[cfg(test)]
#[allow(clippy::undocumented_unsafe_blocks)]
mod tests {
    use super::*;
    use crate::tag_value::TagValue;
    use std::borrow::Cow;

    fn tagged(n: usize) -> Box<Extra> {
        let mut e = Box::<Extra>::default();
        for i in 0..n {
            e.set_tag(Cow::Owned(format!("k{i}")), TagValue::copied("v"));
        }
        e
    }

    #[cfg(not(zipkin_loom))]
    #[test]
    fn a_given_box_comes_back_empty_with_its_room() {
        let s = Spares::with_capacity(2);
        unsafe {
            assert!(s.take().is_none());
            assert!(s.give(tagged(3), Cow::Borrowed("")));
            let back = s.take().expect("the given box");
            assert!(back.tags.is_empty());
            assert!(back.tags.capacity() >= 3);
            assert!(s.take().is_none());
        }
    }

    #[cfg(not(zipkin_loom))]
    #[test]
    fn boxes_past_the_room_or_too_large_are_dropped_and_the_rest_freed_with_the_spares() {
        let s = Spares::with_capacity(2);
        unsafe {
            assert!(s.give(tagged(1), Cow::Borrowed("")));
            assert!(s.give(tagged(1), Cow::Borrowed("")));
            // Full: dropped, not kept.
            assert!(!s.give(tagged(1), Cow::Borrowed("")));
            assert!(s.take().is_some());
            assert!(s.take().is_some());
            assert!(s.take().is_none());
            assert!(!s.give(tagged(MAX_KEPT_CAPACITY + 1), Cow::Borrowed("")));
            assert!(s.take().is_none());
            // Left in the spares: freed by their drop (Miri reports a leak otherwise).
            assert!(s.give(tagged(2), Cow::Borrowed("")));
        }
    }

    #[cfg(not(zipkin_loom))]
    #[test]
    fn the_spans_strings_come_back_emptied_up_to_the_bound() {
        let s = Spares::with_capacity(2);
        unsafe {
            // The owned name and three owned keys: four, the bound.
            assert!(s.give(tagged(3), Cow::Owned("a name".to_owned())));
            let back = s.take().expect("the given box");
            assert_eq!(back.spare_text.len(), MAX_SPARE_TEXT);
            assert!(back.spare_text.iter().all(String::is_empty));
            // Past the bound, or too large, a string is freed.
            let mut big = Box::<Extra>::default();
            let text = "x".repeat(MAX_TEXT_CAPACITY + 1);
            big.set_tag(Cow::Borrowed("k"), TagValue::from(text));
            assert!(s.give(big, Cow::Borrowed("")));
            assert!(s.take().expect("the given box").spare_text.is_empty());
            assert!(s.give(tagged(MAX_SPARE_TEXT + 2), Cow::Borrowed("")));
            assert_eq!(
                s.take().expect("the given box").spare_text.len(),
                MAX_SPARE_TEXT
            );
        }
    }

    #[cfg(not(zipkin_loom))]
    #[test]
    fn released_spares_free_their_boxes_and_refuse_more() {
        let s = Spares::with_capacity(2);
        unsafe {
            assert!(s.give(tagged(1), Cow::Borrowed("")));
            s.release();
            assert_eq!(s.slots().len(), 0);
            assert!(s.take().is_none());
            assert!(!s.give(tagged(1), Cow::Borrowed("")));
            s.release(); // twice is harmless
        }
    }

    /// Under Miri, whose race detector sees the boxes' memory (loom sees only its own cells):
    /// the taker writes into boxes the giver emptied, on two threads.
    #[cfg(not(zipkin_loom))]
    #[test]
    fn boxes_handed_between_threads_are_written_by_one_side_at_a_time() {
        let s = std::sync::Arc::new(Spares::with_capacity(4));
        let g = s.clone();
        let giver = std::thread::spawn(move || {
            (0..40)
                .filter(|_| unsafe { g.give(tagged(2), Cow::Borrowed("")) })
                .count()
        });
        let mut taken = 0;
        while taken < 40 && !giver.is_finished() {
            if let Some(mut b) = unsafe { s.take() } {
                assert!(b.tags.is_empty());
                b.set_tag(Cow::Borrowed("k"), TagValue::copied("v"));
                taken += 1;
            }
            std::thread::yield_now();
        }
        let kept = giver.join().unwrap();
        while unsafe { s.take() }.is_some() {
            taken += 1;
        }
        assert_eq!(taken, kept);
    }

    #[cfg(zipkin_loom)]
    mod loom_models {
        use super::*;
        use ::loom::sync::Arc;
        use ::loom::thread;

        #[test]
        fn loom_boxes_given_while_taken_are_each_taken_once_and_empty() {
            ::loom::model(|| {
                let s = Arc::new(Spares::with_capacity(2));
                let g = s.clone();
                let giver = thread::spawn(move || {
                    (0..3)
                        .filter(|_| unsafe { g.give(tagged(1), Cow::Borrowed("")) })
                        .count()
                });
                let mut taken = 0;
                for _ in 0..3 {
                    if let Some(b) = unsafe { s.take() } {
                        assert!(b.tags.is_empty());
                        taken += 1;
                    }
                }
                let kept = giver.join().unwrap();
                while let Some(b) = unsafe { s.take() } {
                    assert!(b.tags.is_empty());
                    taken += 1;
                }
                assert_eq!(taken, kept, "every kept box is taken once");
            });
        }
    }
}
