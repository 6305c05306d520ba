//! Reads the criterion results of N runs (copies of `target/criterion`, each with the
//! side-channel numbers in `extra/`) and writes BENCHMARKS.md: raw medians per run, the median
//! of the per-run ratios for every target, PASS/FAIL, versions, CPU and clock source.
//!
//! usage: report OUT.md MACHINE_INFO.txt NOTES.md RUN_DIR...   (exit 1 if a target fails,
//! unless ZIPKIN_BENCH_QUICK is set)

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

type Run = BTreeMap<String, f64>;

fn collect(dir: &Path, base: &Path, out: &mut Run) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            if p.file_name().is_some_and(|n| n == "new") {
                let est = p.join("estimates.json");
                if let Ok(s) = std::fs::read_to_string(&est) {
                    if let Ok(v) = serde_json::from_str::<serde_json::Value>(&s) {
                        if let Some(m) = v["median"]["point_estimate"].as_f64() {
                            let id = p
                                .parent()
                                .and_then(|q| q.strip_prefix(base).ok())
                                .map(|q| q.to_string_lossy().into_owned())
                                .unwrap_or_default();
                            out.insert(id, m);
                        }
                    }
                }
            } else {
                collect(&p, base, out);
            }
        } else if p
            .parent()
            .and_then(|d| d.file_name())
            .is_some_and(|n| n == "extra")
            && p.extension().is_some_and(|x| x == "txt")
        {
            if let (Some(stem), Ok(s)) = (p.file_stem(), std::fs::read_to_string(&p)) {
                if let Ok(v) = s.trim().parse::<f64>() {
                    out.insert(format!("extra/{}", stem.to_string_lossy()), v);
                }
            }
        }
    }
}

fn median(mut v: Vec<f64>) -> Option<f64> {
    v.retain(|x| x.is_finite());
    if v.is_empty() {
        return None;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    })
}

/// How a target compares a measured value with its bound.
enum Check {
    /// a / b <= limit
    RatioMax(&'static str, &'static str, f64),
    /// b / a >= limit (speed-up of a over b)
    SpeedupMin(&'static str, &'static str, f64),
    /// a - b <= limit (ns)
    DiffMax(&'static str, &'static str, f64),
    /// (a - base) / (b - base) <= limit: what a adds to base, against what b adds
    DiffRatioMax(&'static str, &'static str, &'static str, f64),
    /// a <= limit
    ValueMax(&'static str, f64),
    /// a >= limit
    ValueMin(&'static str, f64),
}

struct Target {
    case: &'static str,
    what: &'static str,
    check: Check,
}

fn targets() -> Vec<Target> {
    use Check::*;
    let t = |case, what, check| Target { case, what, check };
    vec![
        t(
            "unsampled (no current span, 0% sampler)",
            "≤ 1.0× fastrace (no local parent)",
            RatioMax(
                "ours/unsampled_root",
                "fastrace/unsampled_no_local_parent",
                1.0,
            ),
        ),
        t(
            "unsampled (no current span, 0% sampler)",
            "≤ empty fn + 2 ns",
            DiffMax("ours/unsampled_root", "floor/empty_fn", 2.0),
        ),
        t(
            "unsampled (child of a sampled=0 span)",
            "≤ 1.0× fastrace (no local parent)",
            RatioMax(
                "ours/unsampled_child",
                "fastrace/unsampled_no_local_parent",
                1.0,
            ),
        ),
        t(
            "unsampled (child of a sampled=0 span)",
            "≤ empty fn + 2 ns",
            DiffMax("ours/unsampled_child", "floor/empty_fn", 2.0),
        ),
        t(
            "unsampled (no current span, 0% sampler, global tracer)",
            "≤ empty fn + 2 ns",
            DiffMax("ours/unsampled_root_global", "floor/empty_fn", 2.0),
        ),
        t(
            "sampled, calling thread",
            "≤ 1.0× fastrace LocalCollector",
            RatioMax(
                "ours/sampled_calling_thread",
                "fastrace/local_collector_per_span",
                1.0,
            ),
        ),
        t(
            "sampled, calling thread",
            "≤ 1.5× floor (span_model_tsc)",
            RatioMax("ours/sampled_calling_thread", "floor/span_model_tsc", 1.5),
        ),
        t(
            "sampled incl. hand-off",
            "≤ 2× floor (span_model_tsc)",
            RatioMax("ours/sampled_handoff", "floor/span_model_tsc", 2.0),
        ),
        t(
            "sampled incl. hand-off",
            "≤ 0.35× tracing + registry",
            RatioMax("ours/sampled_handoff", "tracing/registry_in_root", 0.35),
        ),
        t(
            "sampled incl. hand-off",
            "≤ 0.2× zipkin crate",
            RatioMax("ours/sampled_handoff", "zipkin/sampled_in_root", 0.2),
        ),
        t(
            "sampled incl. hand-off",
            "≤ 1 page fault per 10,000 spans",
            ValueMax("extra/ours_handoff_faults_per_10k", 1.0),
        ),
        t(
            "async",
            "≤ 1.25× our sync figure (hand-off)",
            RatioMax("ours/async_handoff", "ours/sampled_handoff", 1.25),
        ),
        t(
            "async",
            "≤ 0.5× tracing async",
            RatioMax("ours/async_handoff", "tracing/registry_async_in_root", 0.5),
        ),
        t(
            "tracing bridge, sampled (info_span!, two fields, entered and closed)",
            "≤ 0.5× registry + tracing-opentelemetry + SDK (no-op processor)",
            RatioMax(
                "tracing_bridge/zipkin_layer_sampled",
                "tracing_bridge/otel_layer_sampled",
                0.5,
            ),
        ),
        t(
            "tracing bridge, sampled (info_span!, two fields, entered and closed)",
            "≤ 1.5× bare registry",
            RatioMax(
                "tracing_bridge/zipkin_layer_sampled",
                "tracing_bridge/registry",
                1.5,
            ),
        ),
        t(
            "tracing bridge, unsampled trace",
            "≤ 1.2× bare registry",
            RatioMax(
                "tracing_bridge/zipkin_layer_unsampled",
                "tracing_bridge/registry",
                1.2,
            ),
        ),
        t(
            "inject_headers()",
            "≤ 20 ns plus the map insertion: injection into a carrier that keeps nothing (ns)",
            ValueMax("b3/inject_into_null_carrier", 20.0),
        ),
        t(
            "inject_headers()",
            "≤ 20 ns plus the map insertion: inject_headers − the same map from pre-rendered values",
            DiffMax("b3/inject_headers", "b3/header_map_insert_only", 20.0),
        ),
        t(
            "extraction (multi)",
            "allocates nothing",
            ValueMax("extra/b3_extract_multi_allocs_per_call", 0.0),
        ),
        t(
            "extraction (single)",
            "allocates nothing",
            ValueMax("extra/b3_extract_single_allocs_per_call", 0.0),
        ),
        t(
            "ServerLayer, sampled",
            "≤ 250 ns added to a tower service's request (layer − bare)",
            DiffMax(
                "http_layers/server_layer_sampled",
                "http_layers/bare",
                250.0,
            ),
        ),
        t(
            "ServerLayer, unsampled",
            "≤ 30 ns added to a tower service's request (layer − bare)",
            DiffMax(
                "http_layers/server_layer_unsampled",
                "http_layers/bare",
                30.0,
            ),
        ),
        t(
            "ServerLayer, sampled",
            "≤ 0.25× what tower-http TraceLayer + tracing-opentelemetry + OTel SDK adds",
            DiffRatioMax(
                "http_layers/server_layer_sampled",
                "http_layers/tower_http_trace_otel",
                "http_layers/bare",
                0.25,
            ),
        ),
        t(
            "JSON encode",
            "≥ 4M spans/s per core (≤ 250 ns/span; ns shown)",
            ValueMax("encode/ours_json", 250.0),
        ),
        t(
            "JSON encode",
            "≥ 4× zipkin-types with serde",
            SpeedupMin("encode/ours_json", "encode/zipkin_types_serde", 4.0),
        ),
        t(
            "JSON encode",
            "byte-identical to serde_json (asserted by the bench)",
            ValueMin("extra/json_identical_to_serde", 1.0),
        ),
        t(
            "end to end",
            "≥ 1M spans/s to a loopback sink",
            ValueMin("extra/e2e_delivered_spans_per_s", 1_000_000.0),
        ),
        t("end to end", "0 drops", ValueMax("extra/e2e_dropped", 0.0)),
        t(
            "Kafka end to end",
            "≥ 500k spans/s from one thread through the loopback broker",
            ValueMin("extra/kafka_delivered_spans_per_s", 500_000.0),
        ),
        t(
            "Kafka end to end",
            "0 drops (queue sized for the rate: 40,000 spans)",
            ValueMax("extra/kafka_dropped", 0.0),
        ),
        t(
            "Kafka end to end",
            "every span read back from the topic and counted",
            ValueMin("extra/kafka_topic_matches_sent", 1.0),
        ),
        t(
            "Kafka transport",
            "app thread's cost per span ≤ 1.1× with the HTTP transport (same run)",
            RatioMax("extra/kafka_app_ns_per_span", "extra/http_app_ns_per_span", 1.1),
        ),
        t(
            "stalled collector",
            "peak RSS ≤ baseline + queue + 1 MiB",
            ValueMax("extra/stall_rss_over_bound_bytes", 0.0),
        ),
        t(
            "stalled collector",
            "exact drop count (offered = sent + dropped + queued)",
            ValueMin("extra/stall_accounting_exact", 1.0),
        ),
        t(
            "300 annotated functions",
            "compile time (release, not incremental) ≤ 1.0× fastrace",
            RatioMax(
                "extra/codegen_compile_release_s_ours",
                "extra/codegen_compile_release_s_fastrace",
                1.0,
            ),
        ),
        t(
            "300 annotated functions",
            "code per function ≤ 0.5× tracing::instrument",
            RatioMax(
                "extra/codegen_code_bytes_per_fn_ours",
                "extra/codegen_code_bytes_per_fn_tracing",
                0.5,
            ),
        ),
        t(
            "300 annotated functions",
            "release stack frame of a sampled span ≤ 96 bytes",
            ValueMax("extra/codegen_frame_bytes_release_ours", 96.0),
        ),
    ]
}

/// (value shown, passes) for one run.
fn eval(check: &Check, run: &Run) -> Option<(f64, bool)> {
    let g = |k: &str| run.get(k).copied();
    Some(match *check {
        Check::RatioMax(a, b, l) => {
            let r = g(a)? / g(b)?;
            (r, r <= l)
        }
        Check::SpeedupMin(a, b, l) => {
            let r = g(b)? / g(a)?;
            (r, r >= l)
        }
        Check::DiffMax(a, b, l) => {
            let d = g(a)? - g(b)?;
            (d, d <= l)
        }
        Check::DiffRatioMax(a, b, base, l) => {
            let r = (g(a)? - g(base)?) / (g(b)? - g(base)?);
            (r, r <= l)
        }
        Check::ValueMax(a, l) => {
            let v = g(a)?;
            (v, v <= l)
        }
        Check::ValueMin(a, l) => {
            let v = g(a)?;
            (v, v >= l)
        }
    })
}

fn unit(check: &Check) -> &'static str {
    match check {
        Check::RatioMax(..) | Check::SpeedupMin(..) | Check::DiffRatioMax(..) => "×",
        Check::DiffMax(..) => " ns",
        _ => "",
    }
}

fn passes(check: &Check, v: f64) -> bool {
    match *check {
        Check::RatioMax(_, _, l)
        | Check::DiffMax(_, _, l)
        | Check::DiffRatioMax(_, _, _, l)
        | Check::ValueMax(_, l) => v <= l,
        Check::SpeedupMin(_, _, l) | Check::ValueMin(_, l) => v >= l,
    }
}

fn fmt_ns(v: f64) -> String {
    if v >= 1_000_000.0 {
        format!("{:.2} ms", v / 1e6)
    } else if v >= 1000.0 {
        format!("{:.2} µs", v / 1e3)
    } else {
        format!("{v:.2} ns")
    }
}

fn fmt_num(v: f64) -> String {
    if v.abs() >= 1e6 {
        format!("{:.3}M", v / 1e6)
    } else if v.fract() == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.3}")
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 4 {
        eprintln!("usage: report OUT.md MACHINE_INFO.txt NOTES.md RUN_DIR...");
        std::process::exit(2);
    }
    let quick = std::env::var_os("ZIPKIN_BENCH_QUICK").is_some();
    let out = PathBuf::from(&args[0]);
    let machine = std::fs::read_to_string(&args[1]).unwrap_or_default();
    let notes = std::fs::read_to_string(&args[2]).unwrap_or_default();
    let runs: Vec<Run> = args[3..]
        .iter()
        .map(|d| {
            let mut r = Run::new();
            let p = PathBuf::from(d);
            collect(&p, &p, &mut r);
            r
        })
        .collect();

    let mut md = String::new();
    let _ = writeln!(md, "# Benchmarks\n");
    let _ =
        writeln!(
        md,
        "Written by `scripts/bench.sh`{}. Every number below comes from {} invocation(s) of the \
         whole suite on this machine; a ratio is computed within one invocation and the table \
         shows the median of the per-invocation ratios (worst run in brackets). Do not edit by \
         hand: rerun the script.\n",
        if quick { " --quick (smoke run: short, noisy, never gates)" } else { "" },
        runs.len()
    );

    // Targets.
    let _ = writeln!(md, "## Targets\n");
    let _ = writeln!(md, "| case | target | median | runs | result |");
    let _ = writeln!(md, "|---|---|---|---|---|");
    let mut failed = 0;
    let mut missing = 0;
    for t in targets() {
        let per: Vec<Option<(f64, bool)>> = runs.iter().map(|r| eval(&t.check, r)).collect();
        let vals: Vec<f64> = per.iter().flatten().map(|p| p.0).collect();
        let u = unit(&t.check);
        let shown = |v: f64| {
            if u.is_empty() {
                fmt_num(v)
            } else {
                format!("{v:.2}{u}")
            }
        };
        match median(vals.clone()) {
            Some(m) => {
                let ok = passes(&t.check, m);
                if !ok {
                    failed += 1;
                }
                let runs_s = vals
                    .iter()
                    .map(|v| shown(*v))
                    .collect::<Vec<_>>()
                    .join(", ");
                let _ = writeln!(
                    md,
                    "| {} | {} | {} | {} | {} |",
                    t.case,
                    t.what,
                    shown(m),
                    runs_s,
                    if ok { "PASS" } else { "**FAIL**" }
                );
            }
            None => {
                missing += 1;
                let _ = writeln!(md, "| {} | {} | — | — | not measured |", t.case, t.what);
            }
        }
    }
    let _ = writeln!(
        md,
        "\n{} target(s) failed, {} not measured.\n",
        failed, missing
    );

    // Raw medians.
    let _ = writeln!(
        md,
        "## Raw medians (criterion median per run, ns per span/op)\n"
    );
    let ids: BTreeSet<&String> = runs.iter().flat_map(|r| r.keys()).collect();
    let mut header = String::from("| bench |");
    let mut rule = String::from("|---|");
    for i in 0..runs.len() {
        let _ = write!(header, " run {} |", i + 1);
        rule.push_str("---|");
    }
    header.push_str(" median |");
    rule.push_str("---|");
    let _ = writeln!(md, "{header}\n{rule}");
    for id in ids.iter().filter(|i| !i.starts_with("extra/")) {
        let vals: Vec<Option<f64>> = runs.iter().map(|r| r.get(*id).copied()).collect();
        let mut line = format!("| {id} |");
        for v in &vals {
            let _ = write!(line, " {} |", v.map(fmt_ns).unwrap_or_else(|| "—".into()));
        }
        let m = median(vals.iter().flatten().copied().collect());
        let _ = write!(line, " {} |", m.map(fmt_ns).unwrap_or_else(|| "—".into()));
        let _ = writeln!(md, "{line}");
    }
    let _ = writeln!(md, "\n## Other measurements (per run)\n");
    let _ = writeln!(md, "{header}\n{rule}");
    for id in ids.iter().filter(|i| i.starts_with("extra/")) {
        let vals: Vec<Option<f64>> = runs.iter().map(|r| r.get(*id).copied()).collect();
        let mut line = format!("| {} |", id.trim_start_matches("extra/"));
        for v in &vals {
            let _ = write!(line, " {} |", v.map(fmt_num).unwrap_or_else(|| "—".into()));
        }
        let m = median(vals.iter().flatten().copied().collect());
        let _ = write!(line, " {} |", m.map(fmt_num).unwrap_or_else(|| "—".into()));
        let _ = writeln!(md, "{line}");
    }

    // Ratios of interest beyond the targets.
    let _ = writeln!(md, "\n## Ratios (median of per-run ratios)\n");
    let _ = writeln!(md, "| ours | vs | ratio |");
    let _ = writeln!(md, "|---|---|---|");
    let pairs = [
        ("ours/sampled_handoff", "fastrace/sampled_per_span"),
        ("ours/sampled_handoff", "otel/always_on"),
        ("ours/sampled_calling_thread", "floor/span_model_tsc"),
        ("floor/two_clock_reads", "fastrace/local_collector_per_span"),
        ("ours/async_calling_thread", "ours/sampled_calling_thread"),
        ("ours/async_handoff", "fastrace/sampled_async_per_span"),
        ("ours/async_handoff", "zipkin/sampled_async_in_root"),
        ("ours/unsampled_root", "unset/tracing_no_subscriber"),
        ("ours/unsampled_child", "zipkin/unsampled_in_root"),
        ("ours/unsampled_root", "otel/always_off"),
        ("encode/ours_json", "encode/serde_json_reference"),
        ("encode/ours_proto", "encode/ours_json"),
        ("b3/inject_headers", "b3/header_map_insert_only"),
    ];
    for (a, b) in pairs {
        let rs: Vec<f64> = runs
            .iter()
            .filter_map(|r| Some(r.get(a)? / r.get(b)?))
            .collect();
        if let Some(m) = median(rs) {
            let _ = writeln!(md, "| {a} | {b} | {m:.3}× |");
        }
    }

    if !notes.trim().is_empty() {
        let _ = writeln!(md, "\n{}", notes.trim());
    }
    let _ = writeln!(
        md,
        "\n## Machine and versions\n\n```\n{}\n```",
        machine.trim()
    );
    if let Err(e) = std::fs::write(&out, md) {
        eprintln!("cannot write {}: {e}", out.display());
        std::process::exit(2);
    }
    eprintln!(
        "wrote {}: {} target(s) failed, {} not measured",
        out.display(),
        failed,
        missing
    );
    if failed > 0 && !quick {
        std::process::exit(1);
    }
}
