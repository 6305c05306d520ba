//! What the sender says on standard error about a collector that fails: the first failure of
//! an outage, and the recovery, with how long it lasted and how many spans were dropped in
//! it. A flapping collector does not flood the log: at most one outage is said a minute; one
//! that starts sooner is said once the minute is over, if it still lasts.

use std::time::{Duration, Instant};

/// The shortest time between two outages said.
const QUIET: Duration = Duration::from_secs(60);

#[derive(Debug, Default)]
pub(crate) struct Outages {
    current: Option<Outage>,
    last_said: Option<Instant>,
}

#[derive(Debug)]
struct Outage {
    since: Instant,
    /// The reporter's dropped spans before the outage's first failure.
    dropped_before: u64,
    said: bool,
}

impl Outages {
    /// `n` spans given up at `now` because of `why`, with `dropped_before` spans dropped by the
    /// reporter before them: the line to print, if any.
    pub(crate) fn failed(
        &mut self,
        now: Instant,
        n: usize,
        why: &dyn std::fmt::Display,
        dropped_before: u64,
    ) -> Option<String> {
        let quiet_over = self
            .last_said
            .map_or(true, |t| now.saturating_duration_since(t) >= QUIET);
        let outage = self.current.get_or_insert(Outage {
            since: now,
            dropped_before,
            said: false,
        });
        if outage.said || !quiet_over {
            return None;
        }
        outage.said = true;
        self.last_said = Some(now);
        Some(format!(
            "zipkin: dropped {n} spans: {why}; until the collector accepts spans again, \
             failures are only counted (see Tracer::metrics)"
        ))
    }

    /// Whether the collector's last answer was a failure.
    pub(crate) fn in_outage(&self) -> bool {
        self.current.is_some()
    }

    /// A message delivered at `now`, the reporter having dropped `dropped_now` spans so far:
    /// the line to print, if an outage that was said ended.
    pub(crate) fn sent(&mut self, now: Instant, dropped_now: u64) -> Option<String> {
        let outage = self.current.take()?;
        outage.said.then(|| {
            format!(
                "zipkin: the collector accepts spans again, after {:.1}s in which {} spans \
                 were dropped",
                now.saturating_duration_since(outage.since).as_secs_f64(),
                dropped_now.saturating_sub(outage.dropped_before)
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_outage_is_said_once_at_its_start_and_once_at_its_end() {
        let t0 = Instant::now();
        let mut o = Outages::default();
        assert_eq!(o.sent(t0, 0), None, "nothing failed");
        let first = o.failed(t0, 3, &"connection refused", 5).unwrap();
        assert!(
            first.starts_with("zipkin: dropped 3 spans: connection refused;"),
            "{first}"
        );
        assert!(o.in_outage());
        assert_eq!(o.failed(t0 + Duration::from_secs(1), 4, &"again", 8), None);
        // Every span dropped meanwhile counts, also those a full queue refused.
        let end = o
            .sent(t0 + Duration::from_millis(2500), 5 + 3 + 4 + 10)
            .unwrap();
        assert!(
            end.contains("after 2.5s in which 17 spans were dropped"),
            "{end}"
        );
        assert!(!o.in_outage());
        assert_eq!(o.sent(t0 + Duration::from_secs(3), 22), None, "said once");
    }

    /// Regression: only the first failure of the process was ever said, so a collector that
    /// went down again hours later dropped spans without a word.
    #[test]
    fn a_later_outage_is_said_again() {
        let t0 = Instant::now();
        let mut o = Outages::default();
        o.failed(t0, 1, &"down", 0);
        o.sent(t0 + Duration::from_secs(1), 1);
        let later = t0 + Duration::from_secs(3600);
        assert!(o.failed(later, 2, &"down again", 1).is_some());
        assert!(o.sent(later + Duration::from_secs(1), 3).is_some());
    }

    #[test]
    fn a_flapping_collector_is_said_at_most_once_a_minute() {
        let t0 = Instant::now();
        let mut o = Outages::default();
        assert!(o.failed(t0, 1, &"down", 0).is_some());
        assert!(o.sent(t0 + Duration::from_secs(1), 1).is_some());
        // Down again 10 s later and back: counted, not said, and neither is its end.
        assert_eq!(o.failed(t0 + Duration::from_secs(10), 1, &"down", 1), None);
        assert_eq!(o.sent(t0 + Duration::from_secs(11), 2), None);
        assert!(o
            .failed(t0 + Duration::from_secs(61), 1, &"down", 2)
            .is_some());
    }

    /// An outage that began too soon after the last one said is said once the minute is over,
    /// if it still lasts: the log never ends on "accepts spans again" while it fails.
    #[test]
    fn an_outage_that_lasts_is_said_when_the_quiet_minute_ends() {
        let t0 = Instant::now();
        let mut o = Outages::default();
        o.failed(t0, 1, &"down", 0);
        assert!(o.sent(t0 + Duration::from_secs(1), 1).is_some());
        assert_eq!(o.failed(t0 + Duration::from_secs(10), 1, &"down", 1), None);
        assert_eq!(o.failed(t0 + Duration::from_secs(30), 1, &"down", 2), None);
        assert!(o
            .failed(t0 + Duration::from_secs(70), 1, &"down", 3)
            .is_some());
        let end = o.sent(t0 + Duration::from_secs(80), 4).unwrap();
        assert!(end.contains("after 70.0s in which 3 spans"), "{end}");
    }
}
