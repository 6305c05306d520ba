//! What the fuzz target checks on every input, shared with `cargo test`
//! (`tests/propagation_fuzz.rs` runs it over the checked-in corpus and over proptest input).
//!
//! The input is tried three ways: as a single `b3` value, as a `traceparent` value, and as a
//! header block (`name:value` lines split on `\n`, so values can hold CR, NUL or any byte).
//! Beyond "never panics", every accepted value must be canonical enough that writing the parsed
//! context back and parsing it again gives the same context.

use http::{HeaderMap, HeaderName, HeaderValue};
use zipkin_runtime::propagation::{
    b3, extract, extract_from, inject_context, w3c, B3Format, InjectOptions,
};
use zipkin_runtime::{RemoteContext, Sampling, SpanContext};

pub fn check(data: &[u8]) {
    check_single(data);
    check_traceparent(data);
    check_header_block(data);
}

fn check_single(v: &[u8]) {
    let Ok(ctx) = b3::parse_single(v) else {
        return;
    };
    assert!(v.len() <= b3::SINGLE_MAX_LEN, "accepted an overlong b3");
    assert!(
        v.iter()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f' | b'-')),
        "accepted a byte outside lower-hex and '-': {v:?}"
    );
    match span_context(&ctx) {
        Some(sc) => {
            let text = b3::write_single(&sc);
            assert_eq!(
                b3::parse_single(text.as_bytes()),
                Ok(without_deferred_parent(ctx)),
                "b3 {text} re-parse"
            );
        }
        None => assert_eq!(v.len(), 1, "sampling-only b3 is one character"),
    }
}

fn check_traceparent(v: &[u8]) {
    let Ok(ctx) = w3c::parse_traceparent(v) else {
        return;
    };
    assert!(v.len() >= 55);
    assert!(
        v[..55]
            .iter()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f' | b'-')),
        "accepted a traceparent byte outside lower-hex and '-'"
    );
    let sc = span_context(&ctx).expect("traceparent always has ids");
    let text = w3c::write_traceparent(&sc);
    let again = w3c::parse_traceparent(text.as_bytes()).expect("own traceparent parses");
    assert_eq!(again.ids, ctx.ids);
    assert_eq!(again.sampling, ctx.sampling);
}

fn check_header_block(data: &[u8]) {
    let pairs: Vec<(&[u8], &[u8])> = data
        .split(|&b| b == b'\n')
        .filter_map(|line| {
            let colon = line.iter().position(|&b| b == b':')?;
            Some((&line[..colon], &line[colon + 1..]))
        })
        .collect();
    let from_pairs = extract_from(&pairs);
    round_trip(&from_pairs);

    // The same block through http::HeaderMap, as a server would see it.
    let mut map = HeaderMap::new();
    let mut all_valid = true;
    for (n, v) in &pairs {
        match (HeaderName::from_bytes(n), HeaderValue::from_bytes(v)) {
            (Ok(n), Ok(v)) => {
                map.append(n, v);
            }
            _ => all_valid = false,
        }
    }
    let from_map = extract(&map);
    round_trip(&from_map);
    if all_valid {
        assert_eq!(from_pairs, from_map, "carriers disagree");
    }
}

/// Whatever extraction returned, injecting it and extracting again gives it back.
fn round_trip(ctx: &RemoteContext) {
    let Some(sc) = span_context(ctx) else {
        return;
    };
    for b3 in [B3Format::Multi, B3Format::Single, B3Format::Both] {
        let mut map = HeaderMap::new();
        inject_context(
            &sc,
            &mut map,
            InjectOptions {
                b3,
                traceparent: true,
            },
        );
        // The single header (which wins) writes no parent for a deferred context.
        let want = match b3 {
            B3Format::Multi => *ctx,
            _ => without_deferred_parent(*ctx),
        };
        assert_eq!(extract(&map), want, "round trip through {b3:?}");
    }
}

fn span_context(ctx: &RemoteContext) -> Option<SpanContext> {
    let ids = ctx.ids?;
    Some(SpanContext {
        trace_id: ids.trace_id,
        span_id: ids.span_id,
        parent_id: ids.parent_id,
        sampling: ctx.sampling,
        debug: ctx.debug,
    })
}

/// What the single header can carry of `ctx`: no parent when the decision is deferred.
fn without_deferred_parent(mut ctx: RemoteContext) -> RemoteContext {
    if ctx.sampling == Sampling::Deferred && !ctx.debug {
        if let Some(ids) = ctx.ids.as_mut() {
            ids.parent_id = None;
        }
    }
    ctx
}
