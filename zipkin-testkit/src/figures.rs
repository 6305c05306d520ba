//! Figures a reliability test reports: printed, and appended as JSON lines to the file named by
//! `$RELIABILITY_FIGURES` (what `scripts/reliability.sh` turns into RELIABILITY.md).
//!
//! A test records every check before failing, so a failing run still reports all its figures.

use std::fmt::Display;
use std::io::Write;

use zipkin_runtime::ReporterMetrics;

/// The figures of one scenario.
pub struct Report {
    scenario: String,
    failures: Vec<String>,
}

fn emit(scenario: &str, figure: &str, value: &str, result: &str) {
    println!("FIGURE | {scenario} | {figure} | {value} | {result}");
    if let Some(path) = std::env::var_os("RELIABILITY_FIGURES") {
        let line = serde_json::json!({
            "scenario": scenario, "figure": figure, "value": value, "result": result,
        });
        // One write per line with O_APPEND: lines from parallel tests do not interleave.
        if let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
        {
            let _ = f.write_all(format!("{line}\n").as_bytes());
        }
    }
}

impl Report {
    /// Starts the figures of `scenario`.
    pub fn new(scenario: impl Into<String>) -> Report {
        Report {
            scenario: scenario.into(),
            failures: Vec::new(),
        }
    }

    /// A figure that is reported, not checked.
    pub fn figure(&self, name: &str, value: impl Display) {
        emit(&self.scenario, name, &value.to_string(), "reported");
    }

    /// A checked figure; returns `ok`. The test fails at [`Report::finish`] if any check failed.
    pub fn check(&mut self, name: &str, value: impl Display, ok: bool) -> bool {
        let value = value.to_string();
        emit(
            &self.scenario,
            name,
            &value,
            if ok { "pass" } else { "FAIL" },
        );
        if !ok {
            self.failures.push(format!("{name}: {value}"));
        }
        ok
    }

    /// Checks and reports `offered = sent + dropped + queued`, with every count.
    pub fn accounting(&mut self, m: &ReporterMetrics) -> bool {
        self.accounting_as("", m)
    }

    /// [`Report::accounting`] with a label before each figure name (for several runs in one
    /// scenario).
    pub fn accounting_as(&mut self, label: &str, m: &ReporterMetrics) -> bool {
        let p = if label.is_empty() {
            String::new()
        } else {
            format!("{label}: ")
        };
        let ok = m.spans_offered == m.spans_sent + m.spans_dropped + m.spans_queued;
        self.check(
            &format!("{p}offered = sent + dropped + queued"),
            format!(
                "{} = {} + {} + {}",
                m.spans_offered, m.spans_sent, m.spans_dropped, m.spans_queued
            ),
            ok,
        );
        self.figure(
            &format!("{p}dropped by cause"),
            format!(
                "thread_buffer_full {}, queue_full {}, too_large {}, transport_error {}, \
                 rejected {}, shutdown {}",
                m.dropped_thread_buffer_full,
                m.dropped_queue_full,
                m.dropped_too_large,
                m.dropped_transport_error,
                m.dropped_rejected,
                m.dropped_shutdown
            ),
        );
        self.figure(
            &format!("{p}messages sent / dropped"),
            format!("{} / {}", m.messages_sent, m.messages_dropped),
        );
        ok
    }

    /// Panics with every failed check, if any.
    pub fn finish(self) {
        assert!(
            self.failures.is_empty(),
            "{}: failed checks:\n  {}",
            self.scenario,
            self.failures.join("\n  ")
        );
    }
}
