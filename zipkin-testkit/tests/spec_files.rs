//! The repository's copies of the upstream spec files (`spec/`) are the files `spec/SOURCES.md`
//! names, byte for byte: every file listed there exists and has the recorded SHA-256, and every
//! file in `spec/` is listed. The schema tests read these copies, so a changed copy would change
//! what they check.

use std::collections::BTreeMap;

use zipkin_testkit::validate::spec_dir;

/// `file -> sha256` from the table of `spec/SOURCES.md`.
fn recorded() -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(spec_dir().join("SOURCES.md")).expect("spec/SOURCES.md");
    let mut rows = text.lines().filter(|l| l.starts_with("| `"));
    let header = text
        .lines()
        .find(|l| l.starts_with("| file |"))
        .expect("the table's header row");
    let columns: Vec<&str> = header.split('|').map(str::trim).collect();
    let sha = columns
        .iter()
        .position(|c| *c == "sha256")
        .expect("a sha256 column");
    let mut out = BTreeMap::new();
    for row in rows.by_ref() {
        let cells: Vec<&str> = row.split('|').map(str::trim).collect();
        let file = cells[1].trim_matches('`').to_owned();
        let digest = cells[sha].trim_matches('`').to_owned();
        assert_eq!(digest.len(), 64, "sha256 of {file}: {digest:?}");
        out.insert(file, digest);
    }
    out
}

fn sha256_hex(bytes: &[u8]) -> String {
    ring::digest::digest(&ring::digest::SHA256, bytes)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[test]
fn every_spec_file_has_the_recorded_sha256() {
    let recorded = recorded();
    assert_eq!(
        recorded.keys().map(String::as_str).collect::<Vec<_>>(),
        [
            "LICENSE",
            "b3-propagation.md",
            "zipkin.proto",
            "zipkin2-api.yaml"
        ]
    );
    for (file, want) in &recorded {
        let path = spec_dir().join(file);
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(
            &sha256_hex(&bytes),
            want,
            "{} differs from upstream",
            path.display()
        );
    }
}

#[test]
fn every_file_in_spec_is_listed_in_sources() {
    let recorded = recorded();
    for entry in std::fs::read_dir(spec_dir()).expect("spec/") {
        let name = entry.unwrap().file_name().into_string().unwrap();
        assert!(
            name == "SOURCES.md" || recorded.contains_key(&name),
            "spec/{name} is not listed in spec/SOURCES.md"
        );
    }
}

#[test]
fn the_digest_is_sha256() {
    // The empty input's SHA-256, so a wrong algorithm cannot pass the checks above.
    assert_eq!(
        sha256_hex(b""),
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
}
