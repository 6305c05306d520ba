//! What the sender says on standard error about a collector that fails: the first failure of
//! an outage, and the recovery, with how long it lasted and how many spans it cost. A
//! flapping collector does not flood the log: an outage that starts within a minute of the
//! last one said is only counted.

use std::time::{Duration, Instant};

/// Outages starting sooner than this after the last one that was said are only counted.
const QUIET: Duration = Duration::from_secs(60);

#[derive(Debug, Default)]
pub(crate) struct Outages {
    /// The outage under way: since when, spans it dropped, whether its start was said.
    current: Option<(Instant, u64, bool)>,
    last_said: Option<Instant>,
}

impl Outages {
    /// `n` spans given up at `now` because of `why`: the line to print, if any.
    pub(crate) fn failed(
        &mut self,
        now: Instant,
        n: usize,
        why: &dyn std::fmt::Display,
    ) -> Option<String> {
        if let Some((_, dropped, _)) = &mut self.current {
            *dropped += n as u64;
            return None;
        }
        let say = self
            .last_said
            .map_or(true, |t| now.saturating_duration_since(t) >= QUIET);
        self.current = Some((now, n as u64, say));
        if !say {
            return None;
        }
        self.last_said = Some(now);
        Some(format!(
            "zipkin: dropped {n} spans: {why}; until the collector accepts spans again, \
             failures are only counted (see Tracer::metrics)"
        ))
    }

    /// A message delivered at `now`: the line to print, if an outage that was said ended.
    pub(crate) fn sent(&mut self, now: Instant) -> Option<String> {
        match self.current.take()? {
            (since, dropped, true) => Some(format!(
                "zipkin: the collector accepts spans again, after {:.1}s in which {dropped} \
                 spans were dropped",
                now.saturating_duration_since(since).as_secs_f64()
            )),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_outage_is_said_once_at_its_start_and_once_at_its_end() {
        let t0 = Instant::now();
        let mut o = Outages::default();
        assert_eq!(o.sent(t0), None, "nothing failed");
        let first = o.failed(t0, 3, &"connection refused").unwrap();
        assert!(
            first.starts_with("zipkin: dropped 3 spans: connection refused;"),
            "{first}"
        );
        assert_eq!(o.failed(t0 + Duration::from_secs(1), 4, &"again"), None);
        let end = o.sent(t0 + Duration::from_millis(2500)).unwrap();
        assert!(
            end.contains("after 2.5s in which 7 spans were dropped"),
            "{end}"
        );
        assert_eq!(o.sent(t0 + Duration::from_secs(3)), None, "said once");
    }

    /// Regression: only the first failure of the process was ever said, so a collector that
    /// went down again hours later dropped spans without a word.
    #[test]
    fn a_later_outage_is_said_again() {
        let t0 = Instant::now();
        let mut o = Outages::default();
        o.failed(t0, 1, &"down");
        o.sent(t0 + Duration::from_secs(1));
        let later = t0 + Duration::from_secs(3600);
        assert!(o.failed(later, 2, &"down again").is_some());
        assert!(o.sent(later + Duration::from_secs(1)).is_some());
    }

    #[test]
    fn a_flapping_collector_is_said_at_most_once_a_minute() {
        let t0 = Instant::now();
        let mut o = Outages::default();
        assert!(o.failed(t0, 1, &"down").is_some());
        assert!(o.sent(t0 + Duration::from_secs(1)).is_some());
        // Down again 10 s later: counted, not said, and neither is its end.
        assert_eq!(o.failed(t0 + Duration::from_secs(10), 1, &"down"), None);
        assert_eq!(o.sent(t0 + Duration::from_secs(11)), None);
        assert!(o.failed(t0 + Duration::from_secs(61), 1, &"down").is_some());
    }
}
