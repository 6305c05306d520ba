//! Helpers for tests: render reported spans as an indented tree (name, kind, service) that one
//! look can check, and that snapshot tests can compare.

use std::collections::{BTreeMap, HashSet};

use crate::model::Span;

/// Renders spans as a tree, one line per span, children indented under their parent and
/// ordered by start time, then by the order they were given in (for `MemoryTransport::spans`,
/// the order they finished). Spans whose parent is missing are shown as roots (marked
/// `(orphan)`).
///
/// ```
/// # extern crate zipkin_runtime as zipkin_rs;
/// use zipkin_rs::{model::Span, testing::render_tree};
/// let root = Span { trace_id: "1".repeat(16), id: "a".repeat(16), name: Some("index".into()),
///     kind: Some("SERVER".into()), timestamp: Some(1), ..Default::default() };
/// let child = Span { trace_id: "1".repeat(16), id: "b".repeat(16), parent_id: Some("a".repeat(16)),
///     name: Some("do_stuff".into()), timestamp: Some(2), ..Default::default() };
/// assert_eq!(render_tree(&[child, root]), "index [SERVER] ()\n  do_stuff ()\n");
/// ```
pub fn render_tree(spans: &[Span]) -> String {
    // Shared server halves carry the same id as their client: key children by (id, shared).
    let ids: HashSet<&str> = spans.iter().map(|s| s.id.as_str()).collect();
    let mut children: BTreeMap<&str, Vec<&Span>> = BTreeMap::new();
    let mut roots = Vec::new();
    // A shared server span hangs under its client half (same id), whether or not its parent
    // (the client's parent too) is in the trace.
    let mut shared_under: BTreeMap<&str, Vec<&Span>> = BTreeMap::new();
    for s in spans {
        let client_exists =
            s.shared == Some(true) && spans.iter().any(|o| o.id == s.id && o.shared != Some(true));
        if client_exists {
            shared_under.entry(s.id.as_str()).or_default().push(s);
            continue;
        }
        match s.parent_id.as_deref() {
            Some(p) if ids.contains(p) && p != s.id => children.entry(p).or_default().push(s),
            _ => roots.push(s),
        }
    }
    // Siblings often start within the same microsecond: a stable sort on the start keeps them
    // in the order they were reported (the order they finished), never reorders them by name.
    let key = |s: &&Span| s.timestamp.unwrap_or(0);
    roots.sort_by_key(key);
    for v in children.values_mut() {
        v.sort_by_key(key);
    }
    let mut out = String::new();
    fn walk(
        s: &Span,
        depth: usize,
        children: &BTreeMap<&str, Vec<&Span>>,
        shared_under: &BTreeMap<&str, Vec<&Span>>,
        out: &mut String,
        ids: &HashSet<&str>,
    ) {
        out.push_str(&"  ".repeat(depth));
        out.push_str(s.name.as_deref().unwrap_or("<unnamed>"));
        if let Some(k) = &s.kind {
            out.push_str(&format!(" [{k}]"));
        }
        out.push_str(&format!(" ({})", s.service()));
        if s.shared == Some(true) {
            out.push_str(" shared");
        }
        if depth == 0 && s.parent_id.as_deref().is_some_and(|p| !ids.contains(p)) {
            out.push_str(" (orphan)");
        }
        out.push('\n');
        let own_shared = s.shared != Some(true);
        if own_shared {
            if let Some(sh) = shared_under.get(s.id.as_str()) {
                for c in sh {
                    walk(c, depth + 1, children, shared_under, out, ids);
                }
            }
        }
        if let Some(cs) = children.get(s.id.as_str()) {
            for c in cs {
                // Children of a shared id hang under the server half when there is one.
                if own_shared && shared_under.contains_key(s.id.as_str()) {
                    continue;
                }
                walk(c, depth + 1, children, shared_under, out, ids);
            }
        }
    }
    for r in roots {
        walk(r, 0, &children, &shared_under, &mut out, &ids);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(id: char, parent: Option<char>, name: &str, timestamp: u64) -> Span {
        Span {
            trace_id: "1".repeat(16),
            id: id.to_string().repeat(16),
            parent_id: parent.map(|p| p.to_string().repeat(16)),
            name: Some(name.into()),
            timestamp: Some(timestamp),
            ..Default::default()
        }
    }

    #[test]
    fn siblings_starting_in_the_same_microsecond_were_sorted_by_name() {
        let spans = [
            span('a', None, "root", 1),
            span('c', Some('a'), "second", 5),
            span('b', Some('a'), "zeta", 5),
            span('d', Some('a'), "alpha", 5),
            span('e', None, "root2", 1),
        ];
        assert_eq!(
            render_tree(&spans),
            "root ()\n  second ()\n  zeta ()\n  alpha ()\nroot2 ()\n"
        );
    }

    /// Brave-style RPCs: each server half joins its client's id and has the client's parent.
    /// The server half was drawn beside its client, and the children of the shared id under
    /// both halves.
    #[test]
    fn a_chain_of_joined_rpcs_nests_each_server_under_its_client_once() {
        let mut spans = vec![
            span('a', None, "server0", 1),
            span('b', Some('a'), "client0", 2),
            span('b', Some('a'), "server1", 3),
            span('c', Some('b'), "client1", 4),
            span('c', Some('b'), "server2", 5),
        ];
        for s in &mut spans {
            if s.name.as_deref().is_some_and(|n| n.starts_with("server")) && s.parent_id.is_some() {
                s.shared = Some(true);
            }
        }
        assert_eq!(
            render_tree(&spans),
            "server0 ()\n  client0 ()\n    server1 () shared\n      client1 ()\n        server2 () shared\n"
        );
    }

    #[test]
    fn earlier_start_comes_first_whatever_the_input_order() {
        let spans = [
            span('a', None, "root", 1),
            span('c', Some('a'), "late", 9),
            span('b', Some('a'), "early", 2),
        ];
        assert_eq!(render_tree(&spans), "root ()\n  early ()\n  late ()\n");
    }
}
