//! The README's "Integrations" section shows only code that compiles: each of its ```rust
//! blocks is a verbatim part of examples/integrations.rs, which `cargo test` builds.

#[test]
fn every_rust_block_of_the_integrations_section_is_in_the_example() {
    let root = env!("CARGO_MANIFEST_DIR");
    let readme = std::fs::read_to_string(format!("{root}/README.md")).unwrap();
    let example = std::fs::read_to_string(format!("{root}/examples/integrations.rs")).unwrap();
    let start = readme
        .find("\n## Integrations")
        .expect("an Integrations section");
    let section = &readme[start + 1..];
    let section = &section[..section[3..].find("\n## ").map_or(section.len(), |e| e + 3)];
    let blocks: Vec<&str> = section
        .split("```rust\n")
        .skip(1)
        .map(|b| &b[..b.find("```").unwrap()])
        .collect();
    assert!(blocks.len() >= 5, "{} rust blocks", blocks.len());
    for b in blocks {
        assert!(example.contains(b), "not in examples/integrations.rs:\n{b}");
    }
}
