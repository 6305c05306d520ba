//! The README shows only code that compiles: each ```rust block of its "Integrations" section is
//! a verbatim part of examples/integrations.rs, and each of its `tracing` section ("From
//! tracing-opentelemetry and opentelemetry-zipkin") of examples/tracing_migration.rs, which
//! `cargo test` builds. Every fence must open a line, or the block is not one.

/// The ```rust blocks of the README section whose heading starts with `heading`.
fn rust_blocks(readme: &str, heading: &str) -> Vec<String> {
    let start = readme
        .find(&format!("\n## {heading}"))
        .unwrap_or_else(|| panic!("no section {heading}"));
    let section = &readme[start + 1..];
    let section = &section[..section[3..].find("\n## ").map_or(section.len(), |e| e + 3)];
    for (i, _) in section.match_indices("```") {
        assert!(
            i == 0 || section.as_bytes()[i - 1] == b'\n',
            "a fence that does not open its line in {heading}: {:?}",
            &section[section[..i].rfind('\n').map_or(0, |n| n + 1)..i + 3]
        );
    }
    section
        .split("\n```rust\n")
        .skip(1)
        .map(|b| b[..b.find("\n```").expect("a closing fence") + 1].to_owned())
        .collect()
}

fn check(heading: &str, example: &str, at_least: usize) {
    let root = env!("CARGO_MANIFEST_DIR");
    let readme = std::fs::read_to_string(format!("{root}/README.md")).unwrap();
    let code = std::fs::read_to_string(format!("{root}/examples/{example}")).unwrap();
    let blocks = rust_blocks(&readme, heading);
    assert!(blocks.len() >= at_least, "{} rust blocks", blocks.len());
    for b in blocks {
        assert!(code.contains(&b), "not in examples/{example}:\n{b}");
    }
}

#[test]
fn every_rust_block_of_the_integrations_section_is_in_the_example() {
    check("Integrations", "integrations.rs", 6);
}

#[test]
fn every_rust_block_of_the_tracing_section_is_in_the_example() {
    check("From tracing-opentelemetry", "tracing_migration.rs", 3);
}

/// Regression: a stray prefix before a fence (`TOWER_```rust`) turned a block into a line of
/// inline code on GitHub, and the split on "```rust\n" still found the block.
#[test]
fn a_fence_that_does_not_open_its_line_is_found() {
    let readme = "\n## Integrations\n\n```rust\nfn a() {}\n```\n\nX_```rust\nfn b() {}\n```\n";
    let caught = std::panic::catch_unwind(|| rust_blocks(readme, "Integrations"));
    assert!(caught.is_err());
    let ok = "\n## Integrations\n\n```rust\nfn a() {}\n```\n\n## Next\n";
    assert_eq!(rust_blocks(ok, "Integrations"), ["fn a() {}\n"]);
}
