//! The runtime's modules form layers, as ARCHITECTURE.md's table assigns them: a file may use
//! files of its own layer or of layers below, and no set of files may use each other in a
//! cycle. Both are read from the source (`crate::`, `super::` and `self::` paths, and paths
//! through a child module the file declares: `pub use child::{A, B}`, `json::write_span(..)`),
//! test modules left out.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

fn src() -> PathBuf {
    root().join("zipkin-runtime/src")
}

/// Every `.rs` file of the runtime, as a path relative to `src/` with `/` separators.
fn files(dir: &Path, out: &mut Vec<String>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            let rel = p
                .strip_prefix(src())
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            out.push(rel);
        }
    }
}

/// The module path of a file: `reporter/mod.rs` -> [reporter], `lib.rs` -> [].
fn module_of(file: &str) -> Vec<String> {
    let mut parts: Vec<String> = file
        .trim_end_matches(".rs")
        .split('/')
        .map(String::from)
        .collect();
    if matches!(parts.last().map(String::as_str), Some("mod" | "lib")) {
        parts.pop();
    }
    parts
}

/// The deepest file that defines a prefix of `path` (a module path from the crate root).
fn resolve(path: &[String], all: &BTreeSet<String>) -> Option<String> {
    for n in (1..=path.len()).rev() {
        let stem = path[..n].join("/");
        for candidate in [format!("{stem}.rs"), format!("{stem}/mod.rs")] {
            if all.contains(&candidate) {
                return Some(candidate);
            }
        }
    }
    None
}

/// The code of a file without comments and without its test modules.
fn code(text: &str) -> String {
    let cut = text
        .find("#[cfg(test)]\nmod ")
        .or_else(|| text.find("#[cfg(test)]\npub(crate) mod "))
        .unwrap_or(text.len());
    text[..cut]
        .lines()
        .map(|l| match l.find("//") {
            Some(i) => &l[..i],
            None => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The child modules a file declares: `mod a;`, `pub(crate) mod b;` (not inline `mod c { }`).
fn children(code: &str) -> Vec<String> {
    code.lines()
        .filter_map(|l| {
            let t = l.trim_start();
            let t = ["pub(crate) ", "pub(super) ", "pub "]
                .iter()
                .find_map(|v| t.strip_prefix(v))
                .unwrap_or(t);
            let name = t.strip_prefix("mod ")?.strip_suffix(';')?.trim();
            name.chars()
                .all(|c| c.is_alphanumeric() || c == '_')
                .then(|| name.to_owned())
        })
        .collect()
}

/// Module paths (from the crate root) that `code` refers to, given the module it is in.
fn references(code: &str, module: &[String]) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let bytes = code.as_bytes();
    let ident = |i: usize| -> (String, usize) {
        let mut j = i;
        while j < bytes.len() && (bytes[j].is_ascii_alphanumeric() || bytes[j] == b'_') {
            j += 1;
        }
        (code[i..j].to_owned(), j)
    };
    // `crate::a::b`, `crate::{a, b::c}`, `super::a`, `self::a`, and paths that start with a
    // child module this file declares (`json::write_span(..)`, `pub use child::{A, B}`).
    let mut prefixes: Vec<(String, Vec<String>)> = vec![
        ("crate::".to_owned(), Vec::new()),
        ("super::".to_owned(), {
            // In `a/b.rs` (module a::b) `super` is `a`; in `a/mod.rs` (module a) it is the root.
            let mut m = module.to_vec();
            m.pop();
            m
        }),
        ("self::".to_owned(), module.to_vec()),
    ];
    for child in children(code) {
        let mut base = module.to_vec();
        base.push(child.clone());
        prefixes.push((format!("{child}::"), base));
    }
    for (prefix, base) in prefixes {
        let prefix = prefix.as_str();
        let mut at = 0;
        while let Some(i) = code[at..].find(prefix) {
            let start = at + i + prefix.len();
            at = start;
            // Not part of a longer identifier or path (`xsuper::`, `serde_json::`,
            // `crate::encode::json::`, which the `crate::` prefix reads).
            if start > prefix.len() {
                let before = bytes[start - prefix.len() - 1];
                if before.is_ascii_alphanumeric() || before == b'_' || before == b':' {
                    continue;
                }
            }
            let mut paths = Vec::new();
            if bytes.get(start) == Some(&b'{') {
                let end = code[start..].find('}').map_or(code.len(), |e| start + e);
                for item in code[start + 1..end].split(',') {
                    let segs: Vec<String> = item
                        .split("::")
                        .map(|s| s.trim().trim_start_matches('{').to_owned())
                        .take_while(|s| {
                            !s.is_empty() && s.chars().all(|c| c.is_alphanumeric() || c == '_')
                        })
                        .collect();
                    paths.push(segs);
                }
            } else {
                let mut segs = Vec::new();
                let mut i = start;
                loop {
                    let (s, j) = ident(i);
                    if s.is_empty() {
                        break;
                    }
                    segs.push(s);
                    if code[j..].starts_with("::")
                        && bytes
                            .get(j + 2)
                            .is_some_and(|b| b.is_ascii_alphabetic() || *b == b'_')
                    {
                        i = j + 2;
                    } else {
                        break;
                    }
                }
                paths.push(segs);
            }
            for segs in paths {
                if !segs.is_empty() {
                    let mut p = base.clone();
                    p.extend(segs);
                    out.push(p);
                }
            }
        }
    }
    out
}

/// File -> files it uses.
fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let mut list = Vec::new();
    files(&src(), &mut list);
    let all: BTreeSet<String> = list.iter().cloned().collect();
    let mut g = BTreeMap::new();
    for f in &list {
        let text = std::fs::read_to_string(src().join(f)).unwrap();
        let module = module_of(f);
        let mut uses = BTreeSet::new();
        for p in references(&code(&text), &module) {
            if let Some(target) = resolve(&p, &all) {
                if &target != f && target != "lib.rs" {
                    uses.insert(target);
                }
            }
        }
        g.insert(f.clone(), uses);
    }
    g
}

/// File -> layer, from the table in ARCHITECTURE.md: rows `| n | ... | `file`, `dir/` ... |`.
fn layers() -> BTreeMap<String, u32> {
    let text = std::fs::read_to_string(root().join("ARCHITECTURE.md")).expect("ARCHITECTURE.md");
    let mut out = BTreeMap::new();
    for line in text.lines().filter(|l| l.starts_with("| ")) {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        let Ok(n) = cells[1].parse::<u32>() else {
            continue;
        };
        for cell in &cells[2..] {
            for piece in cell.split('`').skip(1).step_by(2) {
                out.insert(piece.to_owned(), n);
            }
        }
    }
    out
}

fn layer_of(file: &str, layers: &BTreeMap<String, u32>) -> Option<u32> {
    layers.get(file).copied().or_else(|| {
        // A directory entry (`reporter/`) covers every file in it.
        layers
            .iter()
            .filter(|(k, _)| k.ends_with('/') && file.starts_with(k.as_str()))
            .map(|(_, v)| *v)
            .next()
    })
}

#[test]
fn no_runtime_files_use_each_other_in_a_cycle() {
    let g = graph();
    // Depth-first search; a grey node met again closes a cycle.
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        Grey,
        Black,
    }
    fn visit(
        n: &str,
        g: &BTreeMap<String, BTreeSet<String>>,
        marks: &mut BTreeMap<String, Mark>,
        stack: &mut Vec<String>,
        cycles: &mut Vec<String>,
    ) {
        marks.insert(n.to_owned(), Mark::Grey);
        stack.push(n.to_owned());
        for m in &g[n] {
            match marks.get(m) {
                Some(Mark::Grey) => {
                    let at = stack.iter().position(|s| s == m).unwrap();
                    cycles.push(format!("{} -> {m}", stack[at..].join(" -> ")));
                }
                Some(Mark::Black) => {}
                None => visit(m, g, marks, stack, cycles),
            }
        }
        stack.pop();
        marks.insert(n.to_owned(), Mark::Black);
    }
    let mut marks = BTreeMap::new();
    let mut cycles = Vec::new();
    for n in g.keys() {
        if !marks.contains_key(n) {
            visit(n, &g, &mut marks, &mut Vec::new(), &mut cycles);
        }
    }
    assert!(cycles.is_empty(), "import cycles:\n{}", cycles.join("\n"));
    assert!(g.len() > 20, "found only {} files", g.len());
}

#[test]
fn every_runtime_file_uses_only_its_layer_and_the_ones_below() {
    let g = graph();
    let layers = layers();
    let mut problems = Vec::new();
    for (f, uses) in &g {
        let Some(mine) = layer_of(f, &layers) else {
            problems.push(format!("{f} has no layer in ARCHITECTURE.md"));
            continue;
        };
        for u in uses {
            match layer_of(u, &layers) {
                Some(theirs) if theirs <= mine => {}
                Some(theirs) => {
                    problems.push(format!("{f} (layer {mine}) uses {u} (layer {theirs})"))
                }
                None => problems.push(format!("{u} has no layer in ARCHITECTURE.md")),
            }
        }
    }
    problems.sort();
    problems.dedup();
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// File -> step of layer 8, from ARCHITECTURE.md's second table: rows `| 8.n | `file`, ... |`.
fn steps_of_layer_8() -> BTreeMap<String, u32> {
    let text = std::fs::read_to_string(root().join("ARCHITECTURE.md")).expect("ARCHITECTURE.md");
    let mut out = BTreeMap::new();
    for line in text.lines().filter(|l| l.starts_with("| 8.")) {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        let Some(n) = cells[1]
            .strip_prefix("8.")
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        for piece in cells[2].split('`').skip(1).step_by(2) {
            out.insert(piece.to_owned(), n);
        }
    }
    out
}

#[test]
fn layer_8_files_use_only_their_step_and_the_ones_before() {
    let g = graph();
    let layers = layers();
    let steps = steps_of_layer_8();
    let mut problems = Vec::new();
    for (f, uses) in &g {
        if layer_of(f, &layers) != Some(8) {
            continue;
        }
        let Some(mine) = layer_of(f, &steps) else {
            problems.push(format!("{f} (layer 8) has no step in ARCHITECTURE.md"));
            continue;
        };
        for u in uses.iter().filter(|u| layer_of(u, &layers) == Some(8)) {
            match layer_of(u, &steps) {
                Some(theirs) if theirs <= mine => {}
                Some(theirs) => problems.push(format!("{f} (8.{mine}) uses {u} (8.{theirs})")),
                None => problems.push(format!("{u} (layer 8) has no step in ARCHITECTURE.md")),
            }
        }
    }
    problems.sort();
    problems.dedup();
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert!(steps.len() >= 8, "found only {} entries", steps.len());
}

/// The reader itself, on a made-up file `m/n.rs` (module `m::n`).
#[test]
fn the_reader_finds_crate_super_and_grouped_paths() {
    let refs: BTreeSet<String> = references(
        "use crate::{a::b, c};\nuse super::d::E;\nlet x = crate::f::g(1);",
        &["m".to_owned(), "n".to_owned()],
    )
    .iter()
    .map(|p| p.join("::"))
    .collect();
    let want: BTreeSet<String> = ["a::b", "c", "m::d::E", "f::g"].map(String::from).into();
    assert_eq!(refs, want);
    let reexports: BTreeSet<String> = references(
        "pub use child::Item;\npub use other::{A, B};\nmod child;\npub(crate) mod other;\n\
         fn f() { json::write(1); serde_json::x(); crate::m::other::C; }\nmod json;",
        &["m".to_owned()],
    )
    .iter()
    .map(|p| p.join("::"))
    .collect();
    let want: BTreeSet<String> = [
        "m::child::Item",
        "m::other::A",
        "m::other::B",
        "m::json::write",
        "m::other::C",
    ]
    .map(String::from)
    .into();
    assert_eq!(reexports, want);
}
