//! I1/I2/X1/X2 end to end: the B3 helper's hostile corpus (zipkin-runtime/fuzz/corpus,
//! the inputs its fuzz target starts from) arrives as the headers of a request to a server
//! span; the spans are reported over HTTP to the fault collector. Nothing panics, every
//! outgoing header is canonical, every body is valid Zipkin, and with `accept_debug(false)` no
//! caller can force debug (or, at sample rate 0, sampling through debug).
//!
//! The parser-level checks (case tables, round trips, proptest over the fuzz check) are the
//! B3 helper's, in zipkin-runtime/tests/propagation*.rs; they run in `cargo test` too.

mod common;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use std::time::Duration;

use common::*;
use zipkin_runtime::propagation::{extract_from, inject_headers, metrics, B3Format};
use zipkin_runtime::{Kind, SpanGuard, Tracer};
use zipkin_testkit::{Collector, Keep, Mode, Report};

fn corpus() -> Vec<(String, Vec<u8>)> {
    let dir =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../zipkin-runtime/fuzz/corpus/b3_parsers");
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| {
            let p = e.unwrap().path();
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read(&p).unwrap(),
            )
        })
        .collect();
    files.sort();
    files
}

/// The ways a corpus file arrives: as the value of a single `b3` header, and as a block of
/// `name:value` lines (so values keep CR, NUL and any other byte), as the fuzz target reads it.
fn carriers(data: &[u8]) -> Vec<Vec<(Vec<u8>, Vec<u8>)>> {
    let block = data
        .split(|&b| b == b'\n')
        .filter_map(|line| {
            let colon = line.iter().position(|&b| b == b':')?;
            Some((line[..colon].to_vec(), line[colon + 1..].to_vec()))
        })
        .collect();
    vec![vec![(b"b3".to_vec(), data.to_vec())], block]
}

fn canonical(name: &str, value: &[u8]) -> bool {
    let hexish = value
        .iter()
        .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f' | b'-'));
    let len_ok = match name {
        "b3" => value.len() <= 68,
        "traceparent" => value.len() == 55,
        "x-b3-traceid" => matches!(value.len(), 16 | 32),
        "x-b3-spanid" | "x-b3-parentspanid" => value.len() == 16,
        "x-b3-sampled" | "x-b3-flags" => value == b"0" || value == b"1",
        _ => false,
    };
    hexish && len_ok
}

struct Outcome {
    panics: usize,
    bad_headers: Vec<String>,
    requests: usize,
}

/// Serves every corpus input as a request: a server span continuing the caller, a child, and
/// the headers a downstream call would carry.
fn serve_corpus(t: Tracer) -> Outcome {
    let mut out = Outcome {
        panics: 0,
        bad_headers: Vec::new(),
        requests: 0,
    };
    for (name, data) in corpus() {
        for carrier in carriers(&data) {
            out.requests += 1;
            let r = catch_unwind(AssertUnwindSafe(|| {
                t.in_scope(|| {
                    let caller = extract_from(&carrier);
                    let _server = SpanGuard::builder("handle")
                        .kind(Kind::Server)
                        .parent(caller)
                        .start();
                    let mut child = SpanGuard::new("work");
                    child.tag("input", &name);
                    inject_headers()
                })
            }));
            match r {
                Err(_) => out.panics += 1,
                Ok(headers) => {
                    for (k, v) in &headers {
                        if !canonical(k.as_str(), v.as_bytes()) {
                            out.bad_headers.push(format!("{name}: {k}: {v:?}"));
                        }
                    }
                }
            }
        }
    }
    out
}

#[test]
fn the_hostile_b3_corpus_never_panics_and_untrusted_debug_is_refused() {
    let mut r = Report::new("I2/X1/X2 hostile B3 headers, end to end");
    let files = corpus().len();
    r.check(
        "corpus files (the B3 helper's fuzz seeds)",
        files,
        files >= 79,
    );
    let malformed_before = metrics().malformed_total();
    for (label, trusted, rate) in [
        ("trusted (accept_debug, 0 %)", true, 0.0),
        ("untrusted (accept_debug(false), 100 %)", false, 100.0),
        ("untrusted (accept_debug(false), 0 %)", false, 0.0),
    ] {
        let c = Collector::builder(Mode::Accept).keep(Keep::Spans).start();
        let t = builder(&c.url(), defaults())
            .accept_debug(trusted)
            .sample_rate(rate)
            .b3_format(B3Format::Both)
            .write_traceparent(true)
            .build()
            .unwrap();
        let out = serve_corpus(t);
        t.flush(Duration::from_secs(30));
        let spans = c.spans();
        let debug = spans.iter().filter(|s| s.debug).count();
        r.check(&format!("{label}: panics"), out.panics, out.panics == 0);
        r.check(
            &format!("{label}: outgoing headers not canonical lower-hex"),
            format!("{:?}", out.bad_headers.iter().take(3).collect::<Vec<_>>()),
            out.bad_headers.is_empty(),
        );
        r.figure(
            &format!("{label}: requests served / spans reported"),
            format!("{} / {}", out.requests, spans.len()),
        );
        if trusted {
            r.check(
                &format!("{label}: debug spans reported (the corpus asks for debug)"),
                debug,
                debug > 0,
            );
        } else {
            r.check(&format!("{label}: debug spans reported"), debug, debug == 0);
        }
        if rate == 0.0 {
            // At 0 % only the caller can make a trace recorded: an explicit "sampled", or a
            // debug request (which implies sampled) when debug is trusted.
            let forced = spans
                .iter()
                .filter(|s| {
                    s.tags
                        .get("input")
                        .is_some_and(|i| i.contains("debug") && !i.contains("sampled"))
                })
                .count();
            r.check(
                &format!("{label}: spans recorded from debug-only inputs"),
                forced,
                if trusted { forced > 0 } else { forced == 0 },
            );
        }
        r.accounting_as(label, &t.metrics());
        check_requests_as(&mut r, label, &c);
        t.shutdown(Duration::from_secs(5));
    }
    r.figure(
        "malformed headers counted by propagation::metrics()",
        metrics().malformed_total() - malformed_before,
    );
    r.finish();
}
