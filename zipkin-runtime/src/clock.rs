//! The span clock: a cheap monotonic tick counter (TSC where available, via `quanta`),
//! anchored once to the wall clock so that ticks convert to epoch microseconds off the hot path.

use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

struct Anchor {
    clock: quanta::Clock,
    ticks: u64,
    epoch_nanos: u64,
}

static ANCHOR: OnceLock<Anchor> = OnceLock::new();

fn anchor() -> &'static Anchor {
    ANCHOR.get_or_init(|| {
        let clock = quanta::Clock::new();
        let ticks = clock.raw();
        let epoch_nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        Anchor {
            clock,
            ticks,
            epoch_nanos,
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
        a.epoch_nanos + a.clock.delta_as_nanos(a.ticks, ticks)
    } else {
        a.epoch_nanos
            .saturating_sub(a.clock.delta_as_nanos(ticks, a.ticks))
    };
    nanos / 1_000
}

/// Microseconds between two readings, at least 1 as Zipkin requires.
pub fn duration_micros(start: u64, end: u64) -> u64 {
    if end <= start {
        return 1;
    }
    (anchor().clock.delta_as_nanos(start, end) / 1_000).max(1)
}

/// Nanoseconds between two readings.
pub fn duration_nanos(start: u64, end: u64) -> u64 {
    if end <= start {
        return 0;
    }
    anchor().clock.delta_as_nanos(start, end)
}

#[cfg(test)]
mod tests {
    use super::*;

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
