//! The documentation a user of `zipkin-rs` reads names `zipkin_rs::` paths only. The facade
//! inlines the docs of the runtime, of `zipkin-tracing`, `zipkin-tower` and `zipkin-reqwest`,
//! and a user who depends on `zipkin-rs` alone cannot import `zipkin_runtime::...` (a new
//! user's trial found 76 of 129 facade pages with such examples). Those crates' examples
//! write `zipkin_rs::` and alias it on a hidden line (`# extern crate zipkin_runtime as
//! zipkin_rs;`), so they still run as their own crate's doctests.

use std::path::{Path, PathBuf};

const CRATES: [&str; 4] = [
    "zipkin-runtime",
    "zipkin-tracing",
    "zipkin-tower",
    "zipkin-reqwest",
];
const INNER: [&str; 4] = [
    "zipkin_runtime::",
    "zipkin_tracing::",
    "zipkin_tower::",
    "zipkin_reqwest::",
];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The text of a doc comment line (`///` or `//!`), if it is one.
fn doc_text(line: &str) -> Option<&str> {
    let t = line.trim_start();
    let rest = t.strip_prefix("///").or_else(|| t.strip_prefix("//!"))?;
    Some(rest.strip_prefix(' ').unwrap_or(rest))
}

#[test]
fn docs_shown_by_the_facade_name_zipkin_rs_paths() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut found = Vec::new();
    let mut files = Vec::new();
    for c in CRATES {
        rust_files(&root.join(c).join("src"), &mut files);
    }
    assert!(files.len() > 40, "the crates' sources were not found");
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        for (n, line) in text.lines().enumerate() {
            let Some(doc) = doc_text(line) else { continue };
            // A hidden line of an example (`# ...`) is not shown.
            if doc.trim_start().starts_with('#') && !doc.trim_start().starts_with("#[") {
                continue;
            }
            // Link targets (`[text](path)`, `[text]: path`) are not shown either.
            let shown_text = match doc.find("](") {
                Some(at) => &doc[..at],
                None if doc.trim_start().starts_with('[') && doc.contains("]: ") => "",
                None => doc,
            };
            if INNER.iter().any(|p| shown_text.contains(p)) {
                let shown = file.strip_prefix(root).unwrap_or(file).display();
                found.push(format!("{shown}:{}: {}", n + 1, line.trim()));
            }
        }
    }
    assert!(
        found.is_empty(),
        "documentation naming a crate users do not depend on (write zipkin_rs:: and alias it \
         on a hidden line):\n{}",
        found.join("\n")
    );
}
