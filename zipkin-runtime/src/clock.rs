//! The span clock: a cheap monotonic tick counter (TSC where available, via `quanta`),
//! anchored once to the wall clock so that ticks convert to epoch microseconds off the hot path.

use std::sync::OnceLock;

/// Where ticks come from: the TSC through `quanta`, or under Miri (which runs no `RDTSC`)
/// nanoseconds from `Instant`.
#[cfg(not(miri))]
mod source {
    pub(super) struct Source(quanta::Clock);

    impl Source {
        pub(super) fn new() -> Source {
            Source(quanta::Clock::new())
        }

        #[inline(always)]
        pub(super) fn raw(&self) -> u64 {
            self.0.raw()
        }

        pub(super) fn nanos_between(&self, start: u64, end: u64) -> u64 {
            self.0.delta_as_nanos(start, end)
        }
    }

    /// The wall clock now, in nanoseconds since the Unix epoch.
    pub(super) fn epoch_nanos() -> u64 {
        use std::time::{SystemTime, UNIX_EPOCH};
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0)
    }
}

#[cfg(miri)]
mod source {
    pub(super) struct Source(std::time::Instant);

    impl Source {
        pub(super) fn new() -> Source {
            Source(std::time::Instant::now())
        }

        pub(super) fn raw(&self) -> u64 {
            self.0.elapsed().as_nanos() as u64
        }

        pub(super) fn nanos_between(&self, start: u64, end: u64) -> u64 {
            end - start
        }
    }

    /// A fixed instant (2026-01-01): Miri's isolation hides the wall clock.
    pub(super) fn epoch_nanos() -> u64 {
        1_767_225_600_000_000_000
    }
}

struct Anchor {
    clock: source::Source,
    ticks: u64,
    epoch_nanos: u64,
}

static ANCHOR: OnceLock<Anchor> = OnceLock::new();

/// Tries at pairing a tick reading with the wall clock; the tightest pair wins.
const ANCHOR_TRIES: usize = 5;
/// A pair whose two wall readings are this close needs no further try.
const ANCHOR_WINDOW_NANOS: u64 = 20_000;

fn anchor() -> &'static Anchor {
    ANCHOR.get_or_init(|| {
        let clock = source::Source::new();
        let (ticks, epoch_nanos) = pair(|| {
            let before = source::epoch_nanos();
            let ticks = clock.raw();
            (before, ticks, source::epoch_nanos())
        });
        Anchor {
            clock,
            ticks,
            epoch_nanos,
        }
    })
}

/// Pairs a tick reading with the wall clock. `read` gives (wall before, ticks, wall after): a
/// thread preempted between a tick and a wall reading would otherwise shift every timestamp of
/// the process by the pause (tens of milliseconds on a loaded 2-core machine). The narrowest
/// of up to [`ANCHOR_TRIES`] brackets wins, and the ticks are paired with its middle.
fn pair(mut read: impl FnMut() -> (u64, u64, u64)) -> (u64, u64) {
    let mut best = (u64::MAX, 0, 0);
    for _ in 0..ANCHOR_TRIES {
        let (before, ticks, after) = read();
        let window = after.saturating_sub(before);
        if window < best.0 {
            best = (window, ticks, before + window / 2);
        }
        if window <= ANCHOR_WINDOW_NANOS {
            break;
        }
    }
    (best.1, best.2)
}

/// Reads the tick counter. This is one of the two clock reads a span makes.
#[inline]
pub fn now() -> u64 {
    anchor().clock.raw()
}

/// Initialises the clock (calibration takes a few ms) so the first span does not pay for it.
pub fn warm_up() {
    let _ = anchor();
}

/// Converts a tick reading to microseconds since the Unix epoch.
pub fn epoch_micros(ticks: u64) -> u64 {
    let a = anchor();
    let nanos = if ticks >= a.ticks {
        a.epoch_nanos + a.clock.nanos_between(a.ticks, ticks)
    } else {
        a.epoch_nanos
            .saturating_sub(a.clock.nanos_between(ticks, a.ticks))
    };
    nanos / 1_000
}

/// Microseconds between two readings, at least 1 as Zipkin requires.
pub fn duration_micros(start: u64, end: u64) -> u64 {
    if end <= start {
        return 1;
    }
    (anchor().clock.nanos_between(start, end) / 1_000).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{SystemTime, UNIX_EPOCH};

    #[test]
    fn ticks_track_wall_clock() {
        let wall = || {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap()
                .as_micros() as u64
        };
        // Bracketed: this thread may be preempted between any two reads.
        let before = wall();
        let t0 = now();
        let after = wall();
        std::thread::sleep(std::time::Duration::from_millis(20));
        let t1 = now();
        let us = duration_micros(t0, t1);
        assert!(
            (19_000..200_000).contains(&us),
            "slept 20ms, measured {us}us"
        );
        let e = epoch_micros(t0);
        assert!(
            (before.saturating_sub(50_000)..after + 50_000).contains(&e),
            "epoch {e} vs wall {before}..{after}"
        );
        assert_eq!(duration_micros(t1, t0), 1);
    }

    #[test]
    fn a_preempted_anchor_reading_is_retried_and_the_narrowest_kept() {
        // A pause of 138 ms inside the first bracket, 50 µs in the second, 8 µs in the third.
        let mut reads = [
            (1_000_000_000, 7, 1_138_000_000),
            (2_000_000_000, 8, 2_000_050_000),
            (3_000_000_000, 9, 3_000_008_000),
            (4_000_000_000, 10, 4_000_001_000),
        ]
        .into_iter();
        let (ticks, epoch) = pair(|| reads.next().unwrap());
        assert_eq!((ticks, epoch), (9, 3_000_004_000));
        // The third was narrow enough: no fourth read.
        assert_eq!(reads.next(), Some((4_000_000_000, 10, 4_000_001_000)));

        // Never a narrow one: the narrowest of the tries.
        let mut n = 0u64;
        let (ticks, epoch) = pair(|| {
            n += 1;
            let width = if n == 3 { 100_000 } else { 1_000_000 };
            (n * 10_000_000, n, n * 10_000_000 + width)
        });
        assert_eq!((ticks, epoch), (3, 30_050_000));
        assert_eq!(n, ANCHOR_TRIES as u64);
    }
}
