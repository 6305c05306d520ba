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

fn anchor() -> &'static Anchor {
    ANCHOR.get_or_init(|| {
        let clock = source::Source::new();
        let ticks = clock.raw();
        Anchor {
            clock,
            ticks,
            epoch_nanos: source::epoch_nanos(),
        }
    })
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
        let wall = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_micros() as u64;
        let t0 = now();
        std::thread::sleep(std::time::Duration::from_millis(20));
        let t1 = now();
        let us = duration_micros(t0, t1);
        assert!(
            (19_000..200_000).contains(&us),
            "slept 20ms, measured {us}us"
        );
        let e = epoch_micros(t0);
        assert!(e.abs_diff(wall) < 50_000, "epoch {e} vs wall {wall}");
        assert_eq!(duration_micros(t1, t0), 1);
    }
}
