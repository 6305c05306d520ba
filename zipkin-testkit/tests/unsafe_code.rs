//! Every `unsafe` block, function and impl of the runtime says why it is sound (`SAFETY:`) and
//! what pays for it: the benchmark it exists for (`Benchmark:` with the benchmark's name as
//! BENCHMARKS.md lists it), or `FFI:` for a call into the C library that has no safe
//! counterpart in std. Test code is left out.

use std::path::{Path, PathBuf};

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") && !p.ends_with("tests.rs") {
            out.push(p);
        }
    }
}

/// The lines of `text` before its test module: `#[cfg(test)]`, maybe more attributes, `mod`.
fn code_lines(text: &str) -> Vec<&str> {
    let lines: Vec<&str> = text.lines().collect();
    let is_test_mod = |i: usize| {
        lines[i].trim() == "#[cfg(test)]"
            && lines[i + 1..]
                .iter()
                .find(|l| !l.trim_start().starts_with("#["))
                .is_some_and(|l| l.starts_with("mod "))
    };
    let cut = (0..lines.len())
        .find(|&i| is_test_mod(i))
        .unwrap_or(lines.len());
    lines[..cut].to_vec()
}

#[test]
fn every_unsafe_block_says_why_it_is_sound_and_what_pays_for_it() {
    let src = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../zipkin-runtime/src"
    ));
    let mut all = Vec::new();
    files(&src, &mut all);
    let benches = std::fs::read_to_string(src.join("../../BENCHMARKS.md")).unwrap();
    let mut problems = Vec::new();
    let mut count = 0;
    for path in &all {
        let text = std::fs::read_to_string(path).unwrap();
        let lines = code_lines(&text);
        for (i, line) in lines.iter().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            if !(code.contains("unsafe {")
                || code.contains("unsafe fn")
                || code.contains("unsafe impl"))
            {
                continue;
            }
            count += 1;
            // The comment that justifies it: the lines just above (or on) it, up to 12.
            let from = i.saturating_sub(12);
            let above = lines[from..=i].join("\n");
            let at = format!("{}:{}", path.strip_prefix(&src).unwrap().display(), i + 1);
            let is_fn = code.contains("unsafe fn");
            if !(above.contains("SAFETY") || is_fn && above.contains("# Safety")) {
                problems.push(format!("{at}: no SAFETY comment"));
            }
            let pays = above.lines().rev().find_map(|l| {
                l.split("Benchmark: ").nth(1).map(|rest| {
                    rest.split(|c: char| c.is_whitespace() || c == ',' || c == ')' || c == '`')
                        .find(|w| w.contains('/'))
                        .unwrap_or("")
                        .trim_end_matches('.')
                        .to_owned()
                })
            });
            match pays {
                Some(name) if !name.is_empty() => {
                    if !benches.contains(&name) {
                        problems.push(format!("{at}: benchmark {name} is not in BENCHMARKS.md"));
                    }
                }
                _ if above.contains("FFI:") => {}
                _ => problems.push(format!(
                    "{at}: names no benchmark (`Benchmark: group/name`) nor `FFI:`"
                )),
            }
        }
    }
    assert!(count > 10, "found only {count} unsafe sites");
    problems.sort();
    assert!(
        problems.is_empty(),
        "{} of {count} unsafe sites:\n{}",
        problems.len(),
        problems.join("\n")
    );
}
