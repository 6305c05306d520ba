//! B3 and traceparent propagation through the public API: the spec's own examples (read from
//! the repository's `spec/b3-propagation.md`), Brave-strict case tables for both B3 formats, the header
//! shapes py_zipkin, Brave and zipkin-go send, inject -> extract round trips, and a server span
//! continuing an extracted context.

use std::collections::HashMap;

use http::{HeaderMap, HeaderValue};
use proptest::prelude::*;
use zipkin_runtime::propagation::{
    self, b3, extract, extract_from, inject_context, inject_headers, inject_into, w3c, B3Format,
    HeaderError, InjectOptions,
};
use zipkin_runtime::{
    model, Kind, RemoteContext, Sampling, SpanContext, SpanGuard, SpanId, TraceId,
};

mod support;
use support::{collect, tracer_with};

const T16: &str = "463ac35c9f6413ad";
const T32: &str = "463ac35c9f6413ad48485a3953bb6124";
const S: &str = "a2fb4a1d1a96d312";
const P: &str = "0020000000000001";
const Z16: &str = "0000000000000000";

/// What a parse should give, written with strings so a row reads like the header.
#[derive(Debug, Clone, PartialEq)]
enum Want {
    /// No header of the format at all.
    Absent,
    /// Ids (trace, span, parent), sampling, debug.
    Ids(
        &'static str,
        &'static str,
        Option<&'static str>,
        Sampling,
        bool,
    ),
    /// A decision without ids.
    Only(Sampling, bool),
    Fail(HeaderError),
}
use Sampling::{Deferred, NotSampled, Sampled};
use Want::*;

fn got(r: Result<Option<RemoteContext>, HeaderError>) -> Want {
    match r {
        Result::Err(e) => Fail(e),
        Ok(None) => Absent,
        Ok(Some(c)) => match c.ids {
            None => Only(c.sampling, c.debug),
            Some(ids) => Ids(
                leak(ids.trace_id.to_string()),
                leak(ids.span_id.to_string()),
                ids.parent_id.map(|p| leak(p.to_string())),
                c.sampling,
                c.debug,
            ),
        },
    }
}

fn leak(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

fn len_err(
    header: &'static str,
    field: &'static str,
    expected: &'static str,
    found: usize,
) -> Want {
    Fail(HeaderError::Length {
        header,
        field,
        expected,
        found,
    })
}
fn hex_err(header: &'static str, field: &'static str) -> Want {
    Fail(HeaderError::NotLowerHex { header, field })
}
fn zero_err(header: &'static str, field: &'static str) -> Want {
    Fail(HeaderError::Zero { header, field })
}
fn fields_err(found: usize) -> Want {
    Fail(HeaderError::Fields {
        header: "b3",
        found,
        expected: "`{trace id}-{span id}[-{0|1|d}][-{parent id}]` (2 to 4)",
    })
}
const SAMPLING_B3: Want = Fail(HeaderError::Sampling {
    header: "b3",
    expected: "0, 1 or d",
});
const SAMPLING_MULTI: Want = Fail(HeaderError::Sampling {
    header: "X-B3-Sampled",
    expected: "1, 0, true or false",
});

// ---------------------------------------------------------------------------------------------
// The spec's own examples.

fn spec_text() -> String {
    let path = support::spec("b3-propagation.md");
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("B3 spec not readable at {}: {e}", path.display()))
}

/// `Name: value` pairs found in the spec: in code blocks (one per line) and in inline code.
/// Each comes with its line (the prose says whether an example is malformed).
fn spec_headers(spec: &str) -> Vec<(String, String, String)> {
    spec_headers_with_place(spec)
        .into_iter()
        .map(|(n, v, l, _)| (n, v, l))
        .collect()
}

fn spec_headers_with_place(spec: &str) -> Vec<(String, String, String, bool)> {
    let mut out = Vec::new();
    let mut in_block = false;
    for line in spec.lines() {
        if line.trim_start().starts_with("```") {
            in_block = !in_block;
            continue;
        }
        let candidates: Vec<String> = if in_block {
            vec![line.trim().to_owned()]
        } else {
            line.split('`')
                .enumerate()
                .filter(|(i, _)| i % 2 == 1)
                .map(|(_, s)| s.to_owned())
                .collect()
        };
        for c in candidates {
            if let Some((name, value)) = c.split_once(':') {
                let lower = name.to_ascii_lowercase();
                if lower == "b3" || lower.starts_with("x-b3-") {
                    // The sentence (prose) says whether the example is malformed.
                    out.push((
                        name.to_owned(),
                        value.trim().to_owned(),
                        line.to_owned(),
                        in_block,
                    ));
                }
            }
        }
    }
    out
}

#[test]
fn every_b3_example_in_the_spec_parses_and_is_written_back_exactly() {
    let spec = spec_text();
    let examples = spec_headers(&spec);
    let singles: Vec<_> = examples.iter().filter(|(n, _, _)| n == "b3").collect();
    assert!(
        singles.len() >= 8,
        "spec scan found only {} b3 examples",
        singles.len()
    );
    for (_, value, _) in singles {
        let ctx = b3::parse_single(value.as_bytes())
            .unwrap_or_else(|e| panic!("spec example b3: {value} rejected: {e}"));
        match ctx.ids {
            // Our writer reproduces the spec's text byte for byte.
            Some(ids) => {
                let sc = SpanContext {
                    trace_id: ids.trace_id,
                    span_id: ids.span_id,
                    parent_id: ids.parent_id,
                    sampling: ctx.sampling,
                    debug: ctx.debug,
                };
                assert_eq!(b3::write_single(&sc).as_str(), value);
            }
            None => assert_eq!(
                value, "0",
                "the spec's only sampling-only example is a deny"
            ),
        }
    }
}

#[test]
fn every_multi_header_example_in_the_spec_is_read_as_the_spec_says() {
    let spec = spec_text();
    let examples: Vec<_> = spec_headers(&spec)
        .into_iter()
        .filter(|(n, _, _)| n != "b3")
        .collect();
    assert!(examples.len() >= 8, "found {}", examples.len());
    for (name, value, prose) in &examples {
        let headers = vec![(name.clone(), value.clone())];
        let r = got(b3::parse_multi(&headers));
        let malformed = prose.contains("malformed");
        match name.to_ascii_lowercase().as_str() {
            // Alone, an id is half a context (rejected); a parent is only valid with both ids.
            "x-b3-traceid" | "x-b3-spanid" | "x-b3-parentspanid" => {
                assert!(
                    matches!(r, Fail(HeaderError::Missing { .. })),
                    "{name}: {value} -> {r:?}"
                );
                // With the other ids the spec's value is accepted, unless the prose calls it malformed.
                let mut full = vec![
                    ("X-B3-TraceId".to_owned(), T32.to_owned()),
                    ("X-B3-SpanId".to_owned(), S.to_owned()),
                ];
                full.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
                full.push((name.clone(), value.clone()));
                let r = got(b3::parse_multi(&full));
                assert_eq!(matches!(r, Fail(_)), malformed, "{name}: {value} -> {r:?}");
            }
            "x-b3-sampled" => {
                let want = match value.as_str() {
                    "1" => Only(Sampled, false),
                    "0" => Only(NotSampled, false),
                    _ => SAMPLING_MULTI,
                };
                assert_eq!(r, want, "{name}: {value}");
                assert_eq!(matches!(r, Fail(_)), malformed, "{prose}");
            }
            "x-b3-flags" => assert_eq!(r, Only(Sampled, true), "{name}: {value}"),
            // The FAQ's hypothetical `X-B3-Debug: 1` is not a B3 header: it is ignored.
            _ => assert_eq!(r, Absent, "{name}: {value}"),
        }
    }
    assert!(
        examples
            .iter()
            .any(|(_, v, p)| v.is_empty() && p.contains("malformed")),
        "the spec's empty-header example was found"
    );
}

#[test]
fn the_specs_multi_block_and_its_single_header_are_the_same_context() {
    let spec = spec_text();
    // "the following state encoded in multiple headers ... Becomes one b3 header": the first
    // code block of X-B3-* lines, then the next b3 line in a code block.
    let examples = spec_headers_with_place(&spec);
    let start = examples
        .iter()
        .position(|(n, _, _, in_block)| *in_block && n.starts_with("X-B3-"))
        .unwrap();
    let block: Vec<(String, String)> = examples[start..]
        .iter()
        .take_while(|(n, _, _, in_block)| *in_block && n.starts_with("X-B3-"))
        .map(|(n, v, _, _)| (n.clone(), v.clone()))
        .collect();
    assert_eq!(block.len(), 4, "{block:?}");
    let single = examples[start..]
        .iter()
        .find(|(n, _, _, in_block)| *in_block && n == "b3")
        .map(|(_, v, _, _)| v.clone())
        .unwrap();
    let from_multi = b3::parse_multi(&block).unwrap().unwrap();
    let from_single = b3::parse_single(single.as_bytes()).unwrap();
    assert_eq!(from_multi, from_single);

    // Injecting that context writes the spec's values (plus py_zipkin's X-B3-Flags: 0).
    let ids = from_multi.ids.unwrap();
    let sc = SpanContext {
        trace_id: ids.trace_id,
        span_id: ids.span_id,
        parent_id: ids.parent_id,
        sampling: from_multi.sampling,
        debug: false,
    };
    let mut out: Vec<(String, String)> = Vec::new();
    inject_context(
        &sc,
        &mut out,
        InjectOptions {
            b3: B3Format::Both,
            traceparent: false,
        },
    );
    for (n, v) in &block {
        assert!(
            out.contains(&(n.clone(), v.clone())),
            "{n}: {v} not in {out:?}"
        );
    }
    assert!(out.contains(&("X-B3-Flags".into(), "0".into())));
    assert!(out.contains(&("b3".into(), single.clone())));
    assert_eq!(out.len(), 6);
}

// ---------------------------------------------------------------------------------------------
// Case tables (reliability.md §6.4, Brave's tests).

#[test]
fn single_header_table() {
    let t32_64 = format!("{Z16}{T16}");
    let too_long = format!("{T32}-{S}-1-{P}0");
    let big = "a".repeat(8 * 1024);
    let uuid = "b970dafd-0d95-40aa-95d8-1d8725aebe40";
    #[rustfmt::skip]
    let rows: Vec<(String, Want)> = vec![
        // Valid shapes.
        (format!("{T32}-{S}-1-{P}"), Ids(T32, S, Some(P), Sampled, false)),
        (format!("{T16}-{S}-1-{P}"), Ids(T16, S, Some(P), Sampled, false)),
        (format!("{T16}-{S}"), Ids(T16, S, None, Deferred, false)),
        (format!("{T32}-{S}"), Ids(T32, S, None, Deferred, false)),
        (format!("{T16}-{S}-0"), Ids(T16, S, None, NotSampled, false)),
        (format!("{T16}-{S}-1"), Ids(T16, S, None, Sampled, false)),
        (format!("{T32}-{S}-d"), Ids(T32, S, None, Sampled, true)),
        (format!("{T16}-{S}-d-{P}"), Ids(T16, S, Some(P), Sampled, true)),
        (format!("{T16}-{S}-0-{P}"), Ids(T16, S, Some(P), NotSampled, false)),
        // Brave's deferred child: trace-span-parent.
        (format!("{T16}-{S}-{P}"), Ids(T16, S, Some(P), Deferred, false)),
        ("0".into(), Only(NotSampled, false)),
        ("1".into(), Only(Sampled, false)),
        ("d".into(), Only(Sampled, true)),
        // A 128-bit id with a zero upper half is a 64-bit id; a zero parent is no parent.
        (format!("{t32_64}-{S}-1"), Ids(T16, S, None, Sampled, false)),
        (format!("{T16}-{S}-1-{Z16}"), Ids(T16, S, None, Sampled, false)),
        // Zero ids.
        (format!("{Z16}-{S}-1"), zero_err("b3", "trace id")),
        (format!("{Z16}{Z16}-{S}-1"), zero_err("b3", "trace id")),
        (format!("{T16}-{Z16}-1"), zero_err("b3", "span id")),
        // Upper case.
        (format!("{}-{S}-1", T16.to_uppercase()), hex_err("b3", "trace id")),
        (format!("{T16}-{}-1", S.to_uppercase()), hex_err("b3", "span id")),
        (format!("{T16}-{S}-1-{}", "0020000000000A01"), hex_err("b3", "parent id")),
        (format!("{T16}-{S}-D"), SAMPLING_B3),
        // Empty and missing fields.
        ("".into(), Fail(HeaderError::Empty { header: "b3" })),
        ("-".into(), SAMPLING_B3),
        ("--".into(), len_err("b3", "trace id", "16 or 32", 0)),
        (format!("{T16}-{S}-"), SAMPLING_B3),
        (format!("{T16}-{S}--{P}"), SAMPLING_B3),
        (format!("-{S}"), len_err("b3", "trace id", "16 or 32", 0)),
        (format!("{T16}--1"), len_err("b3", "span id", "16", 0)),
        (T16.into(), fields_err(1)),
        (T32.into(), fields_err(1)),
        // Lengths.
        (format!("{}-{S}-1", &T16[..15]), len_err("b3", "trace id", "16 or 32", 15)),
        (format!("{T16}a-{S}-1"), len_err("b3", "trace id", "16 or 32", 17)),
        (format!("{}-{S}-1", &T32[..31]), len_err("b3", "trace id", "16 or 32", 31)),
        (format!("{T32}a-{S}-1"), len_err("b3", "trace id", "16 or 32", 33)),
        (format!("{T16}-{}-1", &S[..15]), len_err("b3", "span id", "16", 15)),
        (format!("{T16}-{S}a-1"), len_err("b3", "span id", "16", 17)),
        (format!("{T16}-{S}-1-{}", &P[..15]), len_err("b3", "parent id", "16", 15)),
        (format!("{T16}-{S}-1-{P}0"), len_err("b3", "parent id", "16", 17)),
        // Sampling field.
        (format!("{T16}-{S}-11-{P}"), SAMPLING_B3),
        (format!("{T16}-{S}-f"), SAMPLING_B3),
        (format!("{T16}-{S}-true"), SAMPLING_B3),
        (format!("{T16}-{S}-2"), SAMPLING_B3),
        ("x".into(), SAMPLING_B3),
        // Field count.
        (format!("{T16}-{S}-1-{P}-"), fields_err(5)),
        (uuid.into(), fields_err(5)),
        ("not-a-tumor".into(), len_err("b3", "trace id", "16 or 32", 3)),
        ("holy 💩".into(), fields_err(1)),
        // Separators, prefixes, whitespace, control and non-ASCII bytes.
        (format!("{T16}_{S}_1"), fields_err(1)),
        (format!("{T16}-{S}X1"), len_err("b3", "span id", "16", 18)),
        (format!("{T32}X{S}-1"), len_err("b3", "trace id", "16 or 32", 49)),
        (format!("0x{}-{S}", &T16[2..]), hex_err("b3", "trace id")),
        (format!("+{}-{S}", &T16[1..]), hex_err("b3", "trace id")),
        (format!(" {T16}-{S}-1"), len_err("b3", "trace id", "16 or 32", 17)),
        (format!("{T16}-{S}-1 "), SAMPLING_B3),
        (format!("{T16}-{S}\t"), len_err("b3", "span id", "16", 17)),
        (format!("{T16}-{S}-1\r\n"), SAMPLING_B3),
        (format!("{T16}-{S}\0-1"), len_err("b3", "span id", "16", 17)),
        // 12 hex + a 4-byte char: the length check passes, the hex check rejects.
        (format!("{T16}-{}💩", &S[..12]), hex_err("b3", "span id")),
        (format!("{}é-{S}", &T16[..14]), hex_err("b3", "trace id")),
        // Length cap, checked before scanning.
        (too_long.clone(), Fail(HeaderError::TooLong { header: "b3", found: 69, max: 68 })),
        (big, Fail(HeaderError::TooLong { header: "b3", found: 8192, max: 68 })),
    ];
    let mut failures = Vec::new();
    for (input, want) in &rows {
        let r = got(b3::parse_single(input.as_bytes()).map(Some));
        if &r != want {
            failures.push(format!("b3: {input:?}\n   want {want:?}\n   got  {r:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // A 1 MiB value is rejected by the length check alone.
    let huge = vec![b'a'; 1 << 20];
    assert!(matches!(
        b3::parse_single(&huge),
        Result::Err(HeaderError::TooLong { found: 1048576, .. })
    ));
}

#[test]
fn multi_header_table() {
    let hdr = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect()
    };
    let ids = |extra: &[(&'static str, &'static str)]| {
        let mut v = vec![("X-B3-TraceId", T16), ("X-B3-SpanId", S)];
        v.extend_from_slice(extra);
        v
    };
    let missing = |present: &'static str, missing: &'static str| {
        Fail(HeaderError::Missing { present, missing })
    };
    #[rustfmt::skip]
    let rows: Vec<(Vec<(&str, &str)>, Want)> = vec![
        (vec![], Absent),
        (vec![("X-B3-TraceId", T32), ("X-B3-SpanId", S), ("X-B3-ParentSpanId", P), ("X-B3-Sampled", "1")],
            Ids(T32, S, Some(P), Sampled, false)),
        (ids(&[]), Ids(T16, S, None, Deferred, false)),
        (ids(&[("X-B3-Sampled", "0")]), Ids(T16, S, None, NotSampled, false)),
        (ids(&[("X-B3-Sampled", "true")]), Ids(T16, S, None, Sampled, false)),
        (ids(&[("X-B3-Sampled", "false")]), Ids(T16, S, None, NotSampled, false)),
        (ids(&[("X-B3-Sampled", "TRUE")]), Ids(T16, S, None, Sampled, false)),
        (ids(&[("X-B3-Sampled", "FALSE")]), Ids(T16, S, None, NotSampled, false)),
        // A bad decision rejects the whole set (Brave restarts the trace).
        (ids(&[("X-B3-Sampled", "")]), SAMPLING_MULTI),
        (ids(&[("X-B3-Sampled", "d")]), SAMPLING_MULTI),
        (ids(&[("X-B3-Sampled", "2")]), SAMPLING_MULTI),
        (ids(&[("X-B3-Sampled", "hello")]), SAMPLING_MULTI),
        (ids(&[("X-B3-Sampled", "💩")]), SAMPLING_MULTI),
        (ids(&[("X-B3-Sampled", " 1")]), SAMPLING_MULTI),
        // Debug: sampled, whatever X-B3-Sampled says.
        (ids(&[("X-B3-Flags", "1")]), Ids(T16, S, None, Sampled, true)),
        (ids(&[("X-B3-Flags", "1"), ("X-B3-Sampled", "0")]), Ids(T16, S, None, Sampled, true)),
        // Other flags values are ignored (py_zipkin sends 0).
        (ids(&[("X-B3-Flags", "0")]), Ids(T16, S, None, Deferred, false)),
        (ids(&[("X-B3-Flags", "2")]), Ids(T16, S, None, Deferred, false)),
        (ids(&[("X-B3-Flags", "true")]), Ids(T16, S, None, Deferred, false)),
        (ids(&[("X-B3-Flags", "d")]), Ids(T16, S, None, Deferred, false)),
        (vec![("X-B3-Flags", "0")], Absent),
        // Decisions alone.
        (vec![("X-B3-Sampled", "0")], Only(NotSampled, false)),
        (vec![("X-B3-Sampled", "1")], Only(Sampled, false)),
        (vec![("X-B3-Flags", "1")], Only(Sampled, true)),
        (vec![("X-B3-Sampled", "nope")], SAMPLING_MULTI),
        // Half contexts.
        (vec![("X-B3-TraceId", T16)], missing("X-B3-TraceId", "X-B3-SpanId")),
        (vec![("X-B3-TraceId", T16), ("X-B3-Sampled", "1")], missing("X-B3-TraceId", "X-B3-SpanId")),
        (vec![("X-B3-SpanId", S)], missing("X-B3-SpanId", "X-B3-TraceId")),
        (vec![("X-B3-ParentSpanId", P), ("X-B3-Sampled", "1")], missing("X-B3-ParentSpanId", "X-B3-TraceId")),
        // Malformed ids reject everything, the decision included.
        (ids(&[("X-B3-ParentSpanId", "-")]), len_err("X-B3-ParentSpanId", "parent id", "16", 1)),
        (ids(&[("X-B3-ParentSpanId", "")]), len_err("X-B3-ParentSpanId", "parent id", "16", 0)),
        (vec![("X-B3-TraceId", "-"), ("X-B3-SpanId", S), ("X-B3-Sampled", "1")],
            len_err("X-B3-TraceId", "trace id", "16 or 32", 1)),
        (vec![("X-B3-TraceId", ""), ("X-B3-SpanId", S)], len_err("X-B3-TraceId", "trace id", "16 or 32", 0)),
        // Strict where Brave pads: short ids are rejected.
        (vec![("X-B3-TraceId", "6124"), ("X-B3-SpanId", S)], len_err("X-B3-TraceId", "trace id", "16 or 32", 4)),
        (vec![("X-B3-TraceId", T16), ("X-B3-SpanId", "d312")], len_err("X-B3-SpanId", "span id", "16", 4)),
        (vec![("X-B3-TraceId", "463AC35C9F6413AD"), ("X-B3-SpanId", S)], hex_err("X-B3-TraceId", "trace id")),
        (vec![("X-B3-TraceId", T16), ("X-B3-SpanId", Z16)], zero_err("X-B3-SpanId", "span id")),
        (vec![("X-B3-TraceId", "00000000000000000000000000000000"), ("X-B3-SpanId", S)],
            zero_err("X-B3-TraceId", "trace id")),
        (ids(&[("X-B3-ParentSpanId", Z16)]), Ids(T16, S, None, Deferred, false)),
        (vec![("X-B3-TraceId", "0000000000000000463ac35c9f6413ad"), ("X-B3-SpanId", S)],
            Ids(T16, S, None, Deferred, false)),
        // First value wins; comma-joined values are malformed.
        (vec![("X-B3-TraceId", T16), ("x-b3-traceid", T32), ("X-B3-SpanId", S)], Ids(T16, S, None, Deferred, false)),
        (vec![("X-B3-TraceId", "463ac35c9f6413ad, 463ac35c9f6413ad"), ("X-B3-SpanId", S)],
            len_err("X-B3-TraceId", "trace id", "16 or 32", 34)),
        // Names in any case (gRPC metadata is lower case; Go canonicalises to X-B3-Traceid).
        (vec![("x-b3-traceid", T16), ("x-b3-spanid", S), ("x-b3-sampled", "1")], Ids(T16, S, None, Sampled, false)),
        (vec![("X-B3-TRACEID", T16), ("X-B3-SPANID", S)], Ids(T16, S, None, Deferred, false)),
    ];
    let mut failures = Vec::new();
    for (pairs, want) in &rows {
        let headers = hdr(pairs);
        let r = got(b3::parse_multi(&headers));
        if &r != want {
            failures.push(format!("{pairs:?}\n   want {want:?}\n   got  {r:?}"));
        }
        // The same through http::HeaderMap, when the values are valid there.
        let mut map = HeaderMap::new();
        let mut ok = true;
        for (n, v) in pairs {
            match HeaderValue::from_str(v) {
                Ok(v) => {
                    map.append(n.parse::<http::HeaderName>().unwrap(), v);
                }
                Result::Err(_) => ok = false,
            }
        }
        if ok {
            let r = got(b3::parse_multi(&map));
            if &r != want {
                failures.push(format!(
                    "HeaderMap {pairs:?}\n   want {want:?}\n   got  {r:?}"
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn traceparent_table() {
    const TP_T: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
    const TP_P: &str = "00f067aa0ba902b7";
    let tp = |v: &str, t: &str, p: &str, f: &str| format!("{v}-{t}-{p}-{f}");
    let bad_shape = Fail(HeaderError::Fields {
        header: "traceparent",
        found: 4,
        expected: "`{version}-{trace id}-{parent id}-{flags}`",
    });
    #[rustfmt::skip]
    let rows: Vec<(String, Want)> = vec![
        (tp("00", TP_T, TP_P, "01"), Ids(TP_T, TP_P, None, Sampled, false)),
        (tp("00", TP_T, TP_P, "00"), Ids(TP_T, TP_P, None, NotSampled, false)),
        (tp("00", TP_T, TP_P, "03"), Ids(TP_T, TP_P, None, Sampled, false)),
        (tp("00", "0000000000000000a3ce929d0e0e4736", TP_P, "01"), Ids("a3ce929d0e0e4736", TP_P, None, Sampled, false)),
        (tp("cc", TP_T, TP_P, "01") + "-what-the-future-holds", Ids(TP_T, TP_P, None, Sampled, false)),
        (tp("cc", TP_T, TP_P, "01"), Ids(TP_T, TP_P, None, Sampled, false)),
        (tp("00", TP_T, TP_P, "01") + "-extra", len_err("traceparent", "value", "55 for version 00", 61)),
        (tp("cc", TP_T, TP_P, "01") + "x", Fail(HeaderError::Fields { header: "traceparent", found: 4, expected: "`-` after the flags of a later version" })),
        (tp("ff", TP_T, TP_P, "01"), Fail(HeaderError::Version)),
        (tp("0A", TP_T, TP_P, "01"), Fail(HeaderError::Version)),
        (tp("00", &"0".repeat(32), TP_P, "01"), zero_err("traceparent", "trace id")),
        (tp("00", TP_T, Z16, "01"), zero_err("traceparent", "parent id")),
        (tp("00", &TP_T.to_uppercase(), TP_P, "01"), hex_err("traceparent", "trace id")),
        (tp("00", TP_T, TP_P, "0G"), Fail(HeaderError::Sampling { header: "traceparent", expected: "2 lower-case hex characters" })),
        (tp("00", TP_T, TP_P, "1"), len_err("traceparent", "value", "55", 54)),
        (format!("00_{TP_T}_{TP_P}_01"), bad_shape.clone()),
        (format!("00-{TP_T}-{TP_P}-0\n"), Fail(HeaderError::Sampling { header: "traceparent", expected: "2 lower-case hex characters" })),
        ("".into(), Fail(HeaderError::Empty { header: "traceparent" })),
    ];
    let mut failures = Vec::new();
    for (input, want) in &rows {
        let r = got(w3c::parse_traceparent(input.as_bytes()).map(Some));
        if &r != want {
            failures.push(format!(
                "traceparent: {input:?}\n   want {want:?}\n   got  {r:?}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

// ---------------------------------------------------------------------------------------------
// Extraction order, fallback and counting.

fn map(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut m = HeaderMap::new();
    for (n, v) in pairs {
        m.append(
            n.parse::<http::HeaderName>().unwrap(),
            HeaderValue::from_str(v).unwrap(),
        );
    }
    m
}

#[test]
fn single_header_wins_over_multi_and_traceparent() {
    let m = map(&[
        ("b3", &format!("{T32}-{S}-0")),
        ("X-B3-TraceId", T16),
        ("X-B3-SpanId", P),
        ("X-B3-Sampled", "1"),
        (
            "traceparent",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        ),
    ]);
    let ctx = extract(&m);
    assert_eq!(ctx.ids.unwrap().trace_id.to_string(), T32);
    assert_eq!(ctx.ids.unwrap().span_id.to_string(), S);
    assert_eq!(ctx.sampling, NotSampled);
    // A decision-only b3 wins too: ids in X-B3-* are not mixed in.
    let m = map(&[("b3", "0"), ("X-B3-TraceId", T16), ("X-B3-SpanId", S)]);
    assert_eq!(
        extract(&m),
        RemoteContext {
            ids: None,
            sampling: NotSampled,
            debug: false
        }
    );
}

#[test]
fn malformed_single_falls_back_to_multi_and_is_counted() {
    let before = propagation::metrics();
    let m = map(&[
        ("b3", &format!("{}-{S}-1", T16.to_uppercase())),
        ("X-B3-TraceId", T16),
        ("X-B3-SpanId", S),
        ("X-B3-Sampled", "1"),
    ]);
    let ctx = extract(&m);
    assert_eq!(ctx.ids.unwrap().trace_id.to_string(), T16);
    assert_eq!(ctx.sampling, Sampled);
    let after = propagation::metrics();
    // Counters are process-wide and other tests run in parallel: compare at least.
    assert!(after.malformed_b3_single > before.malformed_b3_single);
}

#[test]
fn malformed_everything_starts_a_new_trace_and_counts_each_format() {
    let before = propagation::metrics();
    let m = map(&[
        ("b3", "--"),
        ("X-B3-TraceId", T16),
        ("X-B3-SpanId", S),
        ("X-B3-Sampled", "2"),
        (
            "traceparent",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
        ),
    ]);
    assert_eq!(extract(&m), RemoteContext::default());
    let after = propagation::metrics();
    assert!(after.malformed_b3_single > before.malformed_b3_single);
    assert!(after.malformed_b3_multi > before.malformed_b3_multi);
    assert!(after.malformed_traceparent > before.malformed_traceparent);
    assert!(after.malformed_total() >= before.malformed_total() + 3);
}

#[test]
fn traceparent_is_read_when_no_b3_gives_a_context() {
    let tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let ctx = extract(&map(&[("traceparent", tp)]));
    assert_eq!(
        ctx.ids.unwrap().trace_id.to_string(),
        "4bf92f3577b34da6a3ce929d0e0e4736"
    );
    assert_eq!(ctx.sampling, Sampled);
    // Malformed B3 multi, valid traceparent: the traceparent context.
    let ctx = extract(&map(&[("X-B3-TraceId", T16), ("traceparent", tp)]));
    assert_eq!(ctx.ids.unwrap().span_id.to_string(), "00f067aa0ba902b7");
    // Flags: 0 alone (py_zipkin's constant) is no context: traceparent still applies.
    let ctx = extract(&map(&[("X-B3-Flags", "0"), ("traceparent", tp)]));
    assert!(ctx.ids.is_some());
}

#[test]
fn no_headers_is_the_default_context_and_not_counted_as_malformed() {
    let before = propagation::metrics();
    assert_eq!(extract(&HeaderMap::new()), RemoteContext::default());
    let unrelated = map(&[("content-type", "application/json"), ("x-request-id", "1")]);
    assert_eq!(extract(&unrelated), RemoteContext::default());
    // Other tests may count concurrently, so this can only be checked when nobody else did:
    // instead check a carrier that records whether extraction looked beyond the known names.
    let _ = before;
    struct Spy(std::cell::Cell<usize>);
    impl propagation::Extractor for Spy {
        fn get(&self, _: propagation::Field) -> Option<&[u8]> {
            self.0.set(self.0.get() + 1);
            None
        }
    }
    let spy = Spy(Default::default());
    assert_eq!(extract_from(&spy), RemoteContext::default());
    assert_eq!(
        spy.0.get(),
        7,
        "b3, five X-B3-* and traceparent, each looked up once"
    );
}

// ---------------------------------------------------------------------------------------------
// The exact header shapes real peers send (zipkin-server-and-peers.md §5, py_zipkin §1.9).

#[test]
fn py_zipkin_create_http_headers_for_new_span_shapes() {
    // A dict with exactly these keys; 64-bit trace ids by default; Flags always "0".
    for (sampled, want) in [("1", Sampled), ("0", NotSampled)] {
        let mut d: HashMap<String, String> = HashMap::new();
        d.insert("X-B3-TraceId".into(), T16.into());
        d.insert("X-B3-SpanId".into(), S.into());
        d.insert("X-B3-ParentSpanId".into(), P.into());
        d.insert("X-B3-Flags".into(), "0".into());
        d.insert("X-B3-Sampled".into(), sampled.into());
        let ctx = extract_from(&d);
        assert_eq!(
            got(Ok(Some(ctx))),
            Ids(T16, S, Some(P), want, false),
            "sampled {sampled}"
        );
    }
    // use_128bit_trace_id=True.
    let ctx = extract(&map(&[
        ("X-B3-TraceId", T32),
        ("X-B3-SpanId", S),
        ("X-B3-ParentSpanId", P),
        ("X-B3-Flags", "0"),
        ("X-B3-Sampled", "1"),
    ]));
    assert_eq!(got(Ok(Some(ctx))), Ids(T32, S, Some(P), Sampled, false));
    // create_http_headers() at a root: requests drops the None-valued X-B3-ParentSpanId.
    let ctx = extract(&map(&[
        ("X-B3-TraceId", T16),
        ("X-B3-SpanId", S),
        ("X-B3-Flags", "0"),
        ("X-B3-Sampled", "1"),
    ]));
    assert_eq!(got(Ok(Some(ctx))), Ids(T16, S, None, Sampled, false));
}

#[test]
fn brave_shapes() {
    // Multi (B3Propagation, 64-bit by default): parent only when present; debug sends
    // X-B3-Flags: 1 without X-B3-Sampled.
    let ctx = extract(&map(&[
        ("X-B3-TraceId", T16),
        ("X-B3-SpanId", S),
        ("X-B3-ParentSpanId", P),
        ("X-B3-Sampled", "1"),
    ]));
    assert_eq!(got(Ok(Some(ctx))), Ids(T16, S, Some(P), Sampled, false));
    let ctx = extract(&map(&[
        ("X-B3-TraceId", T16),
        ("X-B3-SpanId", S),
        ("X-B3-Flags", "1"),
    ]));
    assert_eq!(got(Ok(Some(ctx))), Ids(T16, S, None, Sampled, true));
    let ctx = extract(&map(&[
        ("X-B3-TraceId", T16),
        ("X-B3-SpanId", S),
        ("X-B3-Sampled", "0"),
    ]));
    assert_eq!(got(Ok(Some(ctx))), Ids(T16, S, None, NotSampled, false));
    // Single (B3SingleFormat writer): trace-span[-1|0|d][-parent], including the deferred child.
    for (v, want) in [
        (
            format!("{T16}-{S}-1-{P}"),
            Ids(T16, S, Some(P), Sampled, false),
        ),
        (format!("{T16}-{S}-d"), Ids(T16, S, None, Sampled, true)),
        (
            format!("{T16}-{S}-{P}"),
            Ids(T16, S, Some(P), Deferred, false),
        ),
        (format!("{T32}-{S}-0"), Ids(T32, S, None, NotSampled, false)),
    ] {
        assert_eq!(got(Ok(Some(extract(&map(&[("b3", &v)]))))), want, "b3: {v}");
    }
}

#[test]
fn zipkin_go_shapes() {
    // Go's http.Header.Set canonicalises names: X-B3-Traceid, X-B3-Spanid, X-B3-Parentspanid.
    let go = |extra: &[(&str, &str)]| {
        let mut v: Vec<(String, String)> = vec![
            ("X-B3-Traceid".into(), T16.into()),
            ("X-B3-Spanid".into(), S.into()),
            ("X-B3-Parentspanid".into(), P.into()),
        ];
        v.extend(extra.iter().map(|(n, v)| (n.to_string(), v.to_string())));
        v
    };
    assert_eq!(
        got(Ok(Some(extract_from(&go(&[("X-B3-Sampled", "1")]))))),
        Ids(T16, S, Some(P), Sampled, false)
    );
    assert_eq!(
        got(Ok(Some(extract_from(&go(&[("X-B3-Flags", "1")]))))),
        Ids(T16, S, Some(P), Sampled, true)
    );
    // The single header as Go sends it (name canonicalised to "B3").
    let single = vec![("B3".to_owned(), format!("{T32}-{S}-1-{P}"))];
    assert_eq!(
        got(Ok(Some(extract_from(&single)))),
        Ids(T32, S, Some(P), Sampled, false)
    );
}

// ---------------------------------------------------------------------------------------------
// Injection.

fn names(m: &HeaderMap) -> Vec<&str> {
    let mut v: Vec<&str> = m.keys().map(|k| k.as_str()).collect();
    v.sort_unstable();
    v
}

#[test]
fn outside_a_span_injection_writes_nothing() {
    let (t, _mem) = tracer_with(|b| b);
    t.in_scope(|| {
        assert!(inject_headers().is_empty());
        let mut v: Vec<(String, String)> = Vec::new();
        assert_eq!(inject_into(&mut v), None);
        assert!(v.is_empty());
    });
}

#[test]
fn inject_headers_writes_all_five_as_py_zipkin_does() {
    let (t, _mem) = tracer_with(|b| b);
    t.in_scope(|| {
        let span = SpanGuard::new("index");
        let ctx = span.context().unwrap();
        let h = inject_headers();
        assert_eq!(
            names(&h),
            [
                "x-b3-flags",
                "x-b3-parentspanid",
                "x-b3-sampled",
                "x-b3-spanid",
                "x-b3-traceid"
            ]
        );
        assert_eq!(h["x-b3-traceid"], ctx.trace_id.to_string().as_str());
        assert_eq!(h["x-b3-parentspanid"], ctx.span_id.to_string().as_str());
        let new_id = h["x-b3-spanid"].to_str().unwrap();
        assert_eq!(new_id.len(), 16);
        assert_ne!(new_id, ctx.span_id.to_string());
        assert_eq!(h["x-b3-sampled"], "1");
        assert_eq!(h["x-b3-flags"], "0");
        // Each call is a new downstream span.
        assert_ne!(inject_headers()["x-b3-spanid"], h["x-b3-spanid"]);

        // py_zipkin's dict keys, exactly, for case-sensitive readers.
        let mut d: HashMap<String, String> = HashMap::new();
        let sent = inject_into(&mut d).unwrap();
        let mut keys: Vec<&str> = d.keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            [
                "X-B3-Flags",
                "X-B3-ParentSpanId",
                "X-B3-Sampled",
                "X-B3-SpanId",
                "X-B3-TraceId"
            ]
        );
        assert_eq!(d["X-B3-SpanId"], sent.span_id.to_string());
        assert_eq!(sent.parent_id, Some(ctx.span_id));
    });
}

#[test]
fn unsampled_spans_still_propagate_ids_and_the_deny() {
    let (t, mem) = tracer_with(|b| b.sample_rate(0.0));
    t.in_scope(|| {
        let span = SpanGuard::new("index");
        let h = inject_headers();
        assert_eq!(h["x-b3-sampled"], "0");
        assert_eq!(h["x-b3-flags"], "0");
        assert_eq!(
            h["x-b3-traceid"],
            span.context().unwrap().trace_id.to_string().as_str()
        );
    });
    assert!(collect(t, &mem).is_empty());
}

#[test]
fn configured_formats_are_written() {
    let (t, _mem) = tracer_with(|b| b.b3_format(B3Format::Single));
    t.in_scope(|| {
        let span = SpanGuard::new("index");
        let ctx = span.context().unwrap();
        let h = inject_headers();
        assert_eq!(names(&h), ["b3"]);
        let v = h["b3"].to_str().unwrap();
        let want_prefix = format!("{}-", ctx.trace_id);
        assert!(v.starts_with(&want_prefix), "{v}");
        assert!(v.ends_with(&format!("-1-{}", ctx.span_id)), "{v}");
        assert_eq!(v.len(), 32 + 1 + 16 + 2 + 17);
    });
    let (t, _mem) = tracer_with(|b| {
        b.b3_format(B3Format::Both)
            .write_traceparent(true)
            .trace_id_128bit(false)
    });
    t.in_scope(|| {
        let span = SpanGuard::new("index");
        let ctx = span.context().unwrap();
        let h = inject_headers();
        assert_eq!(h.len(), 7);
        let tp = h["traceparent"].to_str().unwrap();
        assert_eq!(&tp[..19], "00-0000000000000000");
        assert_eq!(&tp[19..35], ctx.trace_id.to_string());
        assert_eq!(&tp[36..52], h["x-b3-spanid"].to_str().unwrap());
        assert!(tp.ends_with("-01"));
        // All formats name the same downstream span, and each extracts to the same context.
        let from_b3 = extract(&map(&[("b3", h["b3"].to_str().unwrap())]));
        let mut multi = h.clone();
        multi.remove("b3");
        assert_eq!(extract(&multi), from_b3);
        let from_tp = extract(&map(&[("traceparent", tp)]));
        assert_eq!(
            from_tp.ids.unwrap().trace_id,
            ctx.trace_id,
            "64-bit stays 64-bit"
        );
        assert!(!from_tp.ids.unwrap().trace_id.is_128bit());
        assert_eq!(from_tp.ids.unwrap().span_id, from_b3.ids.unwrap().span_id);
    });
}

#[test]
fn inject_context_writes_roots_and_deferred_as_the_spec_says() {
    let root = SpanContext {
        trace_id: T16.parse().unwrap(),
        span_id: S.parse().unwrap(),
        parent_id: None,
        sampling: Deferred,
        debug: false,
    };
    let mut m = HeaderMap::new();
    inject_context(&root, &mut m, InjectOptions::default());
    // No parent on a root; no X-B3-Sampled when deferred (absence is how B3 defers).
    assert_eq!(names(&m), ["x-b3-flags", "x-b3-spanid", "x-b3-traceid"]);
    let debug = SpanContext {
        parent_id: Some(P.parse().unwrap()),
        sampling: Sampled,
        debug: true,
        ..root
    };
    let mut m = HeaderMap::new();
    inject_context(
        &debug,
        &mut m,
        InjectOptions {
            b3: B3Format::Both,
            traceparent: false,
        },
    );
    assert_eq!(m["x-b3-flags"], "1");
    assert_eq!(m["x-b3-sampled"], "1");
    assert_eq!(m["b3"], format!("{T16}-{S}-d-{P}").as_str());
    // Deferred with a parent: the single header leaves the parent out (py_zipkin and zipkin-go
    // reject `{trace}-{span}-{parent}`); the multi headers keep it.
    let deferred_child = SpanContext {
        parent_id: Some(P.parse().unwrap()),
        ..root
    };
    let mut m = HeaderMap::new();
    inject_context(
        &deferred_child,
        &mut m,
        InjectOptions {
            b3: B3Format::Both,
            traceparent: false,
        },
    );
    assert_eq!(m["b3"], format!("{T16}-{S}").as_str());
    assert_eq!(m["x-b3-parentspanid"], P);
    assert!(m.get("x-b3-sampled").is_none());
}

// ---------------------------------------------------------------------------------------------
// Round trips.

fn arb_context() -> impl Strategy<Value = SpanContext> {
    (
        any::<bool>(),
        1..=u64::MAX,
        1..=u64::MAX,
        1..=u64::MAX,
        proptest::option::of(1..=u64::MAX),
        prop_oneof![Just(Sampled), Just(NotSampled), Just(Deferred)],
        any::<bool>(),
    )
        .prop_map(
            |(wide, high, low, span, parent, sampling, debug)| SpanContext {
                trace_id: TraceId::new(if wide { high } else { 0 }, low).unwrap(),
                span_id: SpanId::new(span).unwrap(),
                parent_id: parent.and_then(SpanId::new),
                sampling,
                debug,
            },
        )
}

/// What extraction must give back for a context that was injected in a B3 format.
fn expected(ctx: &SpanContext, b3: B3Format) -> RemoteContext {
    let deferred = ctx.sampling == Deferred && !ctx.debug;
    RemoteContext {
        ids: Some(zipkin_runtime::RemoteIds {
            trace_id: ctx.trace_id,
            span_id: ctx.span_id,
            // The single header (which wins when present) has no room for the parent of a
            // deferred context.
            parent_id: if deferred && b3 != B3Format::Multi {
                None
            } else {
                ctx.parent_id
            },
        }),
        // Debug implies sampled.
        sampling: if ctx.debug { Sampled } else { ctx.sampling },
        debug: ctx.debug,
    }
}

proptest! {
    #[test]
    fn b3_round_trip_keeps_the_context(ctx in arb_context()) {
        for b3 in [B3Format::Multi, B3Format::Single, B3Format::Both] {
            for traceparent in [false, true] {
                let opts = InjectOptions { b3, traceparent };
                let mut m = HeaderMap::new();
                inject_context(&ctx, &mut m, opts);
                prop_assert_eq!(extract(&m), expected(&ctx, b3), "{:?}", opts);
                prop_assert_eq!(
                    extract(&m).ids.unwrap().trace_id.is_128bit(),
                    ctx.trace_id.is_128bit()
                );
                let mut v: Vec<(String, String)> = Vec::new();
                inject_context(&ctx, &mut v, opts);
                prop_assert_eq!(extract_from(&v), expected(&ctx, b3));
                let mut h: HashMap<String, String> = HashMap::new();
                inject_context(&ctx, &mut h, opts);
                prop_assert_eq!(extract_from(&h), expected(&ctx, b3));
            }
        }
    }

    #[test]
    fn traceparent_round_trip_keeps_ids_width_and_decision(ctx in arb_context()) {
        let tp = w3c::write_traceparent(&ctx);
        let got = extract(&map(&[("traceparent", &tp)]));
        let ids = got.ids.unwrap();
        prop_assert_eq!(ids.trace_id, ctx.trace_id);
        prop_assert_eq!(ids.span_id, ctx.span_id);
        prop_assert_eq!(ids.parent_id, None);
        prop_assert_eq!(got.sampling == Sampled, ctx.is_sampled());
    }
}

// ---------------------------------------------------------------------------------------------
// A server continuing the caller's trace, and calling on.

#[test]
fn server_span_continues_extracted_context_and_injects_the_right_parent_chain() {
    let (t, mem) = tracer_with(|b| b.service_name("service1"));
    // What py_zipkin's webapp sends: 64-bit trace, a new span id, its own span as parent.
    let incoming = map(&[
        ("X-B3-TraceId", T16),
        ("X-B3-SpanId", S),
        ("X-B3-ParentSpanId", P),
        ("X-B3-Flags", "0"),
        ("X-B3-Sampled", "1"),
    ]);
    let (server_out, child_out, child_id) = t.in_scope(|| {
        let server = SpanGuard::builder("get /api")
            .kind(Kind::Server)
            .parent(extract(&incoming))
            .start();
        let sc = server.context().unwrap();
        assert_eq!(
            sc.span_id.to_string(),
            S,
            "the server joins the caller's span id"
        );
        let server_out = inject_headers();
        let child = SpanGuard::new("do_stuff");
        let child_id = child.context().unwrap().span_id;
        let child_out = inject_headers();
        drop(child);
        drop(server);
        (server_out, child_out, child_id)
    });
    for h in [&server_out, &child_out] {
        assert_eq!(h["x-b3-traceid"], T16, "64-bit trace id stays 64-bit");
        assert_eq!(h["x-b3-sampled"], "1");
        assert_eq!(h["x-b3-flags"], "0");
        assert_ne!(h["x-b3-spanid"], S);
    }
    assert_eq!(server_out["x-b3-parentspanid"], S);
    assert_eq!(
        child_out["x-b3-parentspanid"],
        child_id.to_string().as_str()
    );

    let spans = collect(t, &mem);
    let server = spans
        .iter()
        .find(|s| s.name.as_deref() == Some("get /api"))
        .unwrap();
    assert_eq!(server.trace_id, T16);
    assert_eq!(server.id, S);
    assert_eq!(server.parent_id.as_deref(), Some(P));
    assert_eq!(server.shared, Some(true));
    assert_eq!(server.kind.as_deref(), Some("SERVER"));
    assert_ne!(server.debug, Some(true));
    let child = spans
        .iter()
        .find(|s| s.name.as_deref() == Some("do_stuff"))
        .unwrap();
    assert_eq!(child.parent_id.as_deref(), Some(S));
}

#[test]
fn decision_only_caller_starts_a_new_root_with_its_decision() {
    let (t, mem) = tracer_with(|b| b.sample_rate(100.0));
    t.in_scope(|| {
        let server = SpanGuard::builder("health")
            .kind(Kind::Server)
            .parent(extract(&map(&[("b3", "0")])))
            .start();
        let sc = server.context().unwrap();
        assert_eq!(sc.parent_id, None);
        assert!(
            !sc.is_sampled(),
            "the caller's deny wins over the local 100%"
        );
        assert_eq!(inject_headers()["x-b3-sampled"], "0");
    });
    assert!(collect(t, &mem).is_empty());

    let (t, mem) = tracer_with(|b| b.sample_rate(0.0));
    t.in_scope(|| {
        let _server = SpanGuard::builder("get /api")
            .kind(Kind::Server)
            .parent(extract(&map(&[("X-B3-Sampled", "1")])))
            .start();
    });
    let spans = collect(t, &mem);
    assert_eq!(spans.len(), 1);
    assert_eq!(spans[0].parent_id, None);
    assert_ne!(
        spans[0].shared,
        Some(true),
        "nothing to share without a span id"
    );
    assert_eq!(
        spans[0].trace_id.len(),
        32,
        "a new trace uses the tracer's width"
    );
}

#[test]
fn deferred_ids_are_decided_by_the_local_sampler() {
    for (rate, want_reported) in [(0.0, 0), (100.0, 1)] {
        let (t, mem) = tracer_with(|b| b.sample_rate(rate));
        t.in_scope(|| {
            let server = SpanGuard::builder("get /api")
                .kind(Kind::Server)
                .parent(extract(&map(&[("b3", &format!("{T16}-{S}"))])))
                .start();
            assert_eq!(server.context().unwrap().trace_id.to_string(), T16);
            let h = inject_headers();
            assert_eq!(h["x-b3-sampled"], if rate > 0.0 { "1" } else { "0" });
        });
        assert_eq!(collect(t, &mem).len(), want_reported, "rate {rate}");
    }
}

fn serve_debug_request(
    accept_debug: bool,
    rate: f64,
    headers: &HeaderMap,
) -> (Vec<model::Span>, HeaderMap) {
    let (t, mem) = tracer_with(|b| b.accept_debug(accept_debug).sample_rate(rate));
    let out = t.in_scope(|| {
        let _server = SpanGuard::builder("get /api")
            .kind(Kind::Server)
            .parent(extract(headers))
            .start();
        let _child = SpanGuard::new("work");
        inject_headers()
    });
    (collect(t, &mem), out)
}

#[test]
fn debug_from_the_caller_forces_sampling_and_is_reported_and_propagated() {
    for h in [
        map(&[("b3", &format!("{T16}-{S}-d"))]),
        map(&[
            ("X-B3-TraceId", T16),
            ("X-B3-SpanId", S),
            ("X-B3-Flags", "1"),
        ]),
        map(&[("b3", "d")]),
    ] {
        let (spans, out) = serve_debug_request(true, 0.0, &h);
        assert_eq!(spans.len(), 2, "{h:?}");
        assert!(spans.iter().all(|s| s.debug == Some(true)), "{spans:?}");
        assert_eq!(out["x-b3-flags"], "1");
        assert_eq!(out["x-b3-sampled"], "1");
    }
}

#[test]
fn accept_debug_off_ignores_the_callers_debug_flag() {
    for h in [
        map(&[("b3", &format!("{T16}-{S}-d"))]),
        map(&[
            ("X-B3-TraceId", T16),
            ("X-B3-SpanId", S),
            ("X-B3-Flags", "1"),
        ]),
        map(&[
            ("X-B3-TraceId", T16),
            ("X-B3-SpanId", S),
            ("X-B3-Flags", "1"),
            ("X-B3-Sampled", "1"),
        ]),
        map(&[("b3", "d")]),
    ] {
        // The local sampler decides: at 0% nothing is recorded and the deny propagates.
        let (spans, out) = serve_debug_request(false, 0.0, &h);
        assert!(spans.is_empty(), "{h:?} forced sampling: {spans:?}");
        assert_eq!(out["x-b3-flags"], "0");
        assert_eq!(out["x-b3-sampled"], "0");
        // At 100% the trace is recorded, without debug.
        let (spans, out) = serve_debug_request(false, 100.0, &h);
        assert_eq!(spans.len(), 2);
        assert!(spans.iter().all(|s| s.debug != Some(true)), "{spans:?}");
        assert_eq!(out["x-b3-flags"], "0");
        assert_eq!(out["x-b3-sampled"], "1");
    }
    // A plain decision is still honoured: only debug is refused.
    let (spans, _) = serve_debug_request(
        false,
        0.0,
        &map(&[
            ("X-B3-TraceId", T16),
            ("X-B3-SpanId", S),
            ("X-B3-Sampled", "1"),
        ]),
    );
    assert_eq!(spans.len(), 2);
}
