//! The repository stands alone: no file in it reads or cites a path outside the repository
//! (a user's clone has nothing beside it). The spec files the tests validate against are kept in
//! `spec/`.

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

/// Text files of the repository, without build output, dependencies and git's own files.
fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let entry = entry.unwrap();
        let path = entry.path();
        let name = entry.file_name().into_string().unwrap_or_default();
        if entry.file_type().unwrap().is_dir() {
            if !matches!(name.as_str(), "target" | "node_modules" | ".git") {
                files(&path, out);
            }
        } else if std::fs::read_to_string(&path).is_ok() {
            out.push(path);
        }
    }
}

#[test]
fn no_file_reads_or_cites_a_path_outside_the_repository() {
    // Spelled in pieces so that this file does not match itself.
    let outside = [
        format!("{}/shared", ".."),
        format!("shared/{}", "spec"),
        format!("shared/{}", "research"),
        format!("shared/{}", "GUIDE"),
        format!("{}/.library", ".."),
        format!("{}work/", "/"),
    ];
    let mut all = Vec::new();
    files(&root(), &mut all);
    assert!(
        all.len() > 50,
        "found only {} files under {}",
        all.len(),
        root().display()
    );
    let mut found = Vec::new();
    for path in &all {
        let text = std::fs::read_to_string(path).unwrap();
        for (n, line) in text.lines().enumerate() {
            for pattern in &outside {
                // `examples/shared/` is the demo's own module directory.
                if line.contains(pattern.as_str()) && !line.contains("examples/shared") {
                    found.push(format!("{}:{}: {}", path.display(), n + 1, line.trim()));
                }
            }
        }
    }
    assert!(
        found.is_empty(),
        "paths outside the repository:\n{}",
        found.join("\n")
    );
}
