//! Where the spans of this thread's guards live: a stack of frames in a thread-local, so that a
//! guard on the caller's stack is an index (16 bytes) rather than the span itself (about 220
//! bytes). A recursive instrumented function pays that difference at every level: its frame
//! was 256 bytes in a release build and 2,864 in a debug build, and 10,000 levels overflowed
//! the 8 MiB main stack in debug.
//!
//! Guards close in the reverse order they opened, nearly always; one that closes early leaves
//! a hole, which the stack skips when the frames above it are gone. Past [`FRAMES`] nested
//! guards, a span lives in a box the guard holds.

use std::cell::{Cell, UnsafeCell};
use std::mem::MaybeUninit;

use crate::context::{Current, SavedScope};

use super::live::LiveSpan;

/// A guard's span, and what to put back when it closes.
pub(super) enum Open {
    /// A sampled child opened in place: the parent's ids, service and port to put back.
    Child(LiveSpan, SavedScope),
    /// Any other span (a root, a remote parent): the whole previous current span.
    Entered(LiveSpan, Option<Current>),
}

impl Open {
    #[inline(always)]
    pub(super) fn span(&self) -> &LiveSpan {
        match self {
            Open::Child(s, _) | Open::Entered(s, _) => s,
        }
    }

    #[inline(always)]
    pub(super) fn span_mut(&mut self) -> &mut LiveSpan {
        match self {
            Open::Child(s, _) | Open::Entered(s, _) => s,
        }
    }
}

/// Frames per thread: nesting deeper than this boxes the span (about 7 KiB per thread).
pub(super) const FRAMES: usize = 32;

/// The bookkeeping is in cells and each frame in a cell of its own, so that the stack is only
/// ever shared: a guard's reference into its frame stays valid while other guards open and
/// close.
struct Stack {
    /// Frames `0..len` are in use, or holes left by guards that closed early.
    len: Cell<usize>,
    /// How many frames below `len` are holes.
    holes: Cell<usize>,
    /// Which frames below `len` hold a span.
    used: [Cell<bool>; FRAMES],
    frames: [UnsafeCell<MaybeUninit<Open>>; FRAMES],
}

// A thread-local with a destructor pays a registration check on every access, and could be
// gone when a guard in another thread-local's destructor closes.
const _: () = assert!(!std::mem::needs_drop::<Stack>());

thread_local! {
    static STACK: Stack = const {
        Stack {
            len: Cell::new(0),
            holes: Cell::new(0),
            used: [const { Cell::new(false) }; FRAMES],
            frames: [const { UnsafeCell::new(MaybeUninit::uninit()) }; FRAMES],
        }
    };
}

/// Reserves this thread's next frame: its index, and where to write its span, which must be
/// written before the frame is read. `None` when every frame is in use.
#[inline(always)]
pub(super) fn reserve() -> Option<(u32, *mut MaybeUninit<Open>)> {
    STACK
        .try_with(|s| {
            let i = s.len.get();
            let frame = s.frames.get(i)?;
            s.used[i].set(true);
            s.len.set(i + 1);
            Some((i as u32, frame.get()))
        })
        .ok()
        .flatten()
}

/// Where frame `i` of this thread is.
#[inline(always)]
pub(super) fn frame(i: u32) -> Option<*mut Open> {
    STACK
        .try_with(|s| s.frames.get(i as usize).map(|f| f.get().cast::<Open>()))
        .ok()
        .flatten()
}

/// Frees frame `i`. The stack shrinks past holes.
///
/// # Safety
///
/// Frame `i` must have been reserved on this thread and not freed yet, and its span moved out
/// or dropped: the frame is reused.
// Benchmark: ours/sampled_calling_thread (the guard's frame freed by index).
#[inline(always)]
pub(super) unsafe fn free(i: u32) {
    let _ = STACK.try_with(|s| {
        let i = i as usize;
        if i + 1 == s.len.get() && s.holes.get() == 0 {
            s.used[i].set(false);
            s.len.set(i);
        } else {
            free_out_of_order(s, i);
        }
    });
}

#[cold]
#[inline(never)]
fn free_out_of_order(s: &Stack, i: usize) {
    if !s.used.get(i).is_some_and(Cell::get) {
        return;
    }
    s.used[i].set(false);
    s.holes.set(s.holes.get() + 1);
    while s.len.get() > 0 && !s.used[s.len.get() - 1].get() {
        s.len.set(s.len.get() - 1);
        s.holes.set(s.holes.get() - 1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::span::meta::SpanMeta;

    static META: SpanMeta = SpanMeta::new("frame");

    fn len_and_holes() -> (usize, usize) {
        STACK.with(|s| (s.len.get(), s.holes.get()))
    }

    /// Reserves a frame with an unrecorded span in it, as a guard's would be.
    fn push() -> u32 {
        let (i, slot) = reserve().expect("a free frame");
        // SAFETY: the frame was just reserved on this thread; nothing else refers to it.
        unsafe { &mut *slot }.write(Open::Entered(LiveSpan::from_meta(&META, None), None));
        i
    }

    fn pop(i: u32) {
        // SAFETY: frame `i` was reserved and written on this thread, and is freed once, after
        // its span is dropped.
        unsafe {
            if let Some(open) = frame(i) {
                std::ptr::drop_in_place(open);
            }
            free(i);
        }
    }

    #[test]
    fn frames_freed_in_any_order_leave_the_stack_empty() {
        for order in [
            [0, 1, 2],
            [0, 2, 1],
            [1, 0, 2],
            [1, 2, 0],
            [2, 0, 1],
            [2, 1, 0],
        ] {
            let frames = [push(), push(), push()];
            assert_eq!(frames, [0, 1, 2]);
            for (n, &k) in order.iter().enumerate() {
                pop(frames[k]);
                let (len, holes) = len_and_holes();
                let highest_open = (0..3).rev().find(|j| !order[..=n].contains(j));
                assert_eq!(
                    len,
                    highest_open.map_or(0, |j| j + 1),
                    "{order:?} after {k}"
                );
                assert!(holes < 3, "{order:?}");
            }
            assert_eq!(len_and_holes(), (0, 0), "{order:?}");
        }
    }

    #[test]
    fn a_hole_is_reused_only_once_the_frames_above_it_are_gone() {
        let a = push();
        let b = push();
        pop(a);
        // `a` is a hole under `b`: the next frame goes on top.
        let c = push();
        assert_eq!(c, 2);
        pop(c);
        pop(b);
        assert_eq!(len_and_holes(), (0, 0));
        assert_eq!(push(), 0);
        pop(0);
    }

    #[test]
    fn every_frame_in_use_hands_the_span_back() {
        let all: Vec<u32> = (0..FRAMES).map(|_| push()).collect();
        assert!(reserve().is_none());
        for &i in all.iter().rev() {
            pop(i);
        }
        assert_eq!(len_and_holes(), (0, 0));
    }
}
