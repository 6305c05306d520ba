//! Our hand-written encoders against the official spec files and an independent reference:
//! - JSON output validates against `definitions/ListOfSpans` of zipkin2-api.yaml (loaded at test
//!   time, made strict: no property the schema does not define) plus anchored id patterns;
//! - JSON output equals, as a JSON value, serde_json's encoding of the same span built as a
//!   `model::Span` by the wire rules;
//! - proto3 output decodes with zipkin.proto (compiled at test time) into the same span.

use std::borrow::Cow;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::OnceLock;

mod support;

use proptest::prelude::*;
use serde_json::{json, Value};
use support::{decode_proto, spec};
use zipkin_runtime::__unstable::{clock, Extra, SpanEncoder, SpanRecord, TagValue};
use zipkin_runtime::{model, Encoding, Endpoint, Kind, SpanId, TraceId};

/// `ListOfSpans` from zipkin2-api.yaml, with `additionalProperties: false` added to the
/// object definitions that list their properties, so a misspelt field fails too.
fn validator() -> &'static jsonschema::Validator {
    static V: OnceLock<jsonschema::Validator> = OnceLock::new();
    V.get_or_init(|| {
        let text = std::fs::read_to_string(spec("zipkin2-api.yaml")).expect("zipkin2-api.yaml");
        let api: Value = serde_yaml::from_str(&text).expect("valid YAML");
        let mut defs = api["definitions"].clone();
        for name in ["Span", "Endpoint", "Annotation"] {
            let d = defs[name].as_object_mut().expect("definition present");
            assert!(d.contains_key("properties"));
            d.insert("additionalProperties".into(), Value::Bool(false));
        }
        let schema = json!({ "$ref": "#/definitions/ListOfSpans", "definitions": defs });
        jsonschema::options()
            .with_draft(jsonschema::Draft::Draft4)
            .should_validate_formats(true)
            .build(&schema)
            .expect("schema compiles")
    })
}

fn assert_valid_json(body: &[u8]) {
    let v: Value = serde_json::from_slice(body)
        .unwrap_or_else(|e| panic!("invalid JSON ({e}): {}", String::from_utf8_lossy(body)));
    let errors: Vec<String> = validator()
        .iter_errors(&v)
        .map(|e| format!("{e} at {}", e.instance_path))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}\n{v:#}");
    // The schema's patterns are not anchored; check ids exactly.
    let hex = |s: &str, lens: &[usize]| {
        lens.contains(&s.len())
            && s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
            && s.bytes().any(|b| b != b'0')
    };
    for span in v.as_array().unwrap() {
        assert!(hex(span["traceId"].as_str().unwrap(), &[16, 32]), "{span}");
        assert!(hex(span["id"].as_str().unwrap(), &[16]), "{span}");
        if let Some(p) = span.get("parentId") {
            assert!(hex(p.as_str().unwrap(), &[16]), "{span}");
            assert_ne!(p, &span["id"]);
        }
        for f in ["debug", "shared"] {
            assert_ne!(
                span.get(f),
                Some(&Value::Bool(false)),
                "{f} written as false"
            );
        }
        for ep in ["localEndpoint", "remoteEndpoint"] {
            if let Some(e) = span.get(ep) {
                assert!(!e.as_object().unwrap().is_empty(), "empty {ep}");
                assert_ne!(e.get("port"), Some(&json!(0)));
                if let Some(s) = e.get("serviceName") {
                    let s = s.as_str().unwrap();
                    assert_eq!(s, s.to_lowercase());
                    assert!(!s.is_empty());
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The reference: a model::Span built from the record by the wire rules, encoded by serde_json.

fn ip_text(ip: IpAddr) -> (Option<String>, Option<String>) {
    let ip = match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    };
    match ip {
        IpAddr::V4(v) => (Some(v.to_string()), None),
        IpAddr::V6(v) => (None, Some(v.to_string())),
    }
}

fn endpoint(service: Option<&str>, ip: Option<IpAddr>, port: u16) -> Option<model::Endpoint> {
    let (ipv4, ipv6) = ip.map(ip_text).unwrap_or((None, None));
    let e = model::Endpoint {
        service_name: service.map(str::to_lowercase).filter(|s| !s.is_empty()),
        ipv4,
        ipv6,
        port: (port != 0).then_some(port),
    };
    (e != model::Endpoint::default()).then_some(e)
}

fn reference(rec: &SpanRecord, local_ip: Option<IpAddr>) -> model::Span {
    let extra = rec.extra.as_deref().cloned().unwrap_or_default();
    let mut annotations: Vec<model::Annotation> = Vec::new();
    for (at, v) in &extra.annotations {
        let a = model::Annotation {
            timestamp: clock::epoch_micros(*at),
            value: v.to_string(),
        };
        if !a.value.is_empty() && !annotations.contains(&a) {
            annotations.push(a);
        }
    }
    model::Span {
        trace_id: rec.trace_id.to_string(),
        parent_id: rec.parent_id.map(|p| p.to_string()),
        id: rec.span_id.to_string(),
        kind: rec.kind.as_zipkin_str().map(String::from),
        name: Some(rec.name.to_string()).filter(|n| !n.is_empty()),
        timestamp: Some(clock::epoch_micros(rec.start)),
        duration: Some(clock::duration_micros(rec.start, rec.end).max(1)),
        debug: rec.debug.then_some(true),
        shared: rec.shared.then_some(true),
        local_endpoint: endpoint(Some(rec.service_name), local_ip, rec.port),
        remote_endpoint: extra
            .remote_endpoint
            .as_ref()
            .and_then(|r| endpoint(r.service_name.as_deref(), r.ip, r.port)),
        annotations,
        tags: extra
            .tags
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    }
}

// ---------------------------------------------------------------------------------------------
// Records.

fn base_tick() -> u64 {
    static T: OnceLock<u64> = OnceLock::new();
    *T.get_or_init(clock::now)
}

fn leak(s: &str) -> &'static str {
    Box::leak(s.to_owned().into_boxed_str())
}

fn full_record() -> SpanRecord {
    let t0 = base_tick();
    SpanRecord {
        trace_id: TraceId::new(0x463ac35c9f6413ad, 0x48485a3953bb6124).unwrap(),
        span_id: SpanId::new(0xa2fb4a1d1a96d312).unwrap(),
        parent_id: SpanId::new(0x0020000000000001),
        name: Cow::Borrowed("GET /api \"quoted\" \\ \n\t\u{1}"),
        kind: Kind::Client,
        service_name: "WebApp",
        port: 8080,
        start: t0,
        end: t0 + 5_000_000,
        debug: true,
        shared: true,
        extra: Some(Box::new(Extra {
            tags: [
                (Cow::Borrowed("http.path"), "/api?q=\"x\"".into()),
                (
                    Cow::Borrowed("ünï\u{0}"),
                    TagValue::copied("\u{2028}\u{1F600}"),
                ),
                (Cow::Borrowed("empty"), TagValue::display(&"")),
            ]
            .into_iter()
            .collect(),
            annotations: vec![
                (t0 + 10, Cow::Borrowed("ws")),
                (t0 + 10, Cow::Borrowed("ws")),
                (t0 + 20, Cow::Borrowed("")),
                (t0 + 3_000_000, Cow::Borrowed("wr")),
            ],
            remote_endpoint: Some(Endpoint {
                service_name: Some("Backend".into()),
                ip: Some(IpAddr::V6("2001:db8::c001".parse().unwrap())),
                port: 9411,
            }),
            spare_text: Vec::new(),
        })),
    }
}

fn minimal_record() -> SpanRecord {
    let t0 = base_tick();
    SpanRecord {
        trace_id: TraceId::new(0, 1).unwrap(),
        span_id: SpanId::new(u64::MAX).unwrap(),
        parent_id: None,
        name: Cow::Borrowed(""),
        kind: Kind::Local,
        service_name: "",
        port: 0,
        start: t0,
        end: t0, // zero length: duration must still be 1
        debug: false,
        shared: false,
        extra: Some(Box::new(Extra {
            remote_endpoint: Some(Endpoint::default()),
            ..Extra::default()
        })),
    }
}

fn arb_ip() -> impl Strategy<Value = Option<IpAddr>> {
    prop_oneof![
        Just(None),
        any::<[u8; 4]>().prop_map(|b| Some(IpAddr::V4(Ipv4Addr::from(b)))),
        any::<[u8; 16]>().prop_map(|b| Some(IpAddr::V6(Ipv6Addr::from(b)))),
        any::<[u8; 4]>().prop_map(|b| Some(IpAddr::V6(Ipv4Addr::from(b).to_ipv6_mapped()))),
    ]
}

fn arb_kind() -> impl Strategy<Value = Kind> {
    prop_oneof![
        Just(Kind::Local),
        Just(Kind::Client),
        Just(Kind::Server),
        Just(Kind::Producer),
        Just(Kind::Consumer)
    ]
}

fn arb_text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[a-zA-Z\"\\\\\u{0}-\u{1f}\u{7f}\u{2028}\u{2029}é]{0,12}",
    ]
}

fn arb_extra() -> impl Strategy<Value = Option<Box<Extra>>> {
    let remote = (proptest::option::of(arb_text()), arb_ip(), any::<u16>()).prop_map(
        |(service_name, ip, port)| Endpoint {
            service_name: service_name.map(Cow::Owned),
            ip,
            port,
        },
    );
    proptest::option::of(
        (
            proptest::collection::btree_map(arb_text(), arb_text(), 0..4),
            proptest::collection::vec((0u64..3, arb_text()), 0..4),
            proptest::option::of(remote),
        )
            .prop_map(|(tags, anns, remote_endpoint)| {
                Box::new(Extra {
                    tags: tags
                        .into_iter()
                        // Both kept forms: inline (or on the heap when long) and owned.
                        .map(|(k, v)| {
                            let v = if v.len() % 2 == 0 {
                                TagValue::copied(&v)
                            } else {
                                TagValue::from(v)
                            };
                            (Cow::Owned(k), v)
                        })
                        .collect(),
                    annotations: anns
                        .into_iter()
                        .map(|(d, v)| (base_tick() + d * 1_000, Cow::Owned(v)))
                        .collect(),
                    remote_endpoint,
                    spare_text: Vec::new(),
                })
            }),
    )
}

prop_compose! {
    fn arb_record()(
        high in prop_oneof![Just(0u64), 1..=u64::MAX],
        low in 1..=u64::MAX,
        id in 1..=u64::MAX,
        parent in proptest::option::of(1..=u64::MAX),
        name in arb_text(),
        kind in arb_kind(),
        service in prop_oneof![Just("svc"), Just("WebApp"), Just("ÜBER-Dienst"), Just(""), Just("a\"b\\c")],
        port in prop_oneof![Just(0u16), any::<u16>()],
        offset in 0u64..1_000_000_000,
        length in 0u64..10_000_000_000,
        debug in any::<bool>(),
        shared in any::<bool>(),
        extra in arb_extra(),
    ) -> SpanRecord {
        let start = base_tick() + offset;
        SpanRecord {
            trace_id: TraceId::new(high, low).unwrap(),
            span_id: SpanId::new(id).unwrap(),
            parent_id: parent.and_then(SpanId::new),
            name: Cow::Owned(name),
            kind,
            service_name: leak(service),
            port,
            start,
            end: start + length,
            debug,
            shared,
            extra,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// JSON.

#[test]
fn json_of_every_field_is_valid_by_the_official_schema() {
    for ip in [
        None,
        Some(IpAddr::V4(Ipv4Addr::new(10, 1, 2, 3))),
        Some("fe80::1".parse().unwrap()),
    ] {
        let body = encode_list(Encoding::Json, &[full_record(), minimal_record()], ip);
        assert_valid_json(&body);
    }
}

#[test]
fn json_follows_the_wire_rules() {
    let body = encode_list(Encoding::Json, &[full_record(), minimal_record()], None);
    let v: Value = serde_json::from_slice(&body).unwrap();
    let full = &v[0];
    assert_eq!(full["traceId"], "463ac35c9f6413ad48485a3953bb6124");
    assert_eq!(full["parentId"], "0020000000000001");
    assert_eq!(full["kind"], "CLIENT");
    assert_eq!(
        full["localEndpoint"],
        json!({"serviceName": "webapp", "port": 8080})
    );
    assert_eq!(
        full["remoteEndpoint"],
        json!({"serviceName": "backend", "ipv6": "2001:db8::c001", "port": 9411})
    );
    assert_eq!(full["duration"], 5_000_000 / clock_ticks_per_micro());
    assert_eq!(
        full["annotations"].as_array().unwrap().len(),
        2,
        "repeat and empty dropped"
    );
    assert_eq!(full["tags"]["ünï\u{0}"], "\u{2028}\u{1F600}");
    assert_eq!(full["tags"]["empty"], "");
    assert!(full["timestamp"].is_u64());
    // Epoch microseconds, not ms or ns: within a day of now.
    let now_us = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_micros() as u64;
    assert!(full["timestamp"].as_u64().unwrap().abs_diff(now_us) < 86_400_000_000);

    let min = v[1].as_object().unwrap();
    let keys: Vec<&str> = min.keys().map(String::as_str).collect();
    assert_eq!(
        keys.len(),
        4,
        "only traceId, id, timestamp, duration: {keys:?}"
    );
    assert_eq!(min["traceId"], "0000000000000001");
    assert_eq!(min["duration"], 1);
}

/// Ticks per microsecond as the clock converts them (the test records use raw ticks).
fn clock_ticks_per_micro() -> u64 {
    let t = base_tick();
    5_000_000 / clock::duration_micros(t, t + 5_000_000)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn json_equals_serde_reference(recs in proptest::collection::vec(arb_record(), 1..4), ip in arb_ip()) {
        let body = encode_list(Encoding::Json, &recs, ip);
        assert_valid_json(&body);
        let ours: Value = serde_json::from_slice(&body).unwrap();
        let reference: Vec<model::Span> = recs.iter().map(|r| reference(r, ip)).collect();
        prop_assert_eq!(ours, serde_json::to_value(&reference).unwrap());
    }

    #[test]
    fn proto_decodes_to_the_same_spans_as_json(recs in proptest::collection::vec(arb_record(), 0..4), ip in arb_ip()) {
        let json: Vec<model::Span> =
            serde_json::from_slice(&encode_list(Encoding::Json, &recs, ip)).unwrap();
        let proto = decode_proto(&encode_list(Encoding::Proto, &recs, ip));
        prop_assert_eq!(proto, json);
    }
}

#[test]
fn proto_of_every_field_decodes_with_the_official_proto() {
    let ip = Some(IpAddr::V4(Ipv4Addr::new(192, 168, 99, 1)));
    let recs = [full_record(), minimal_record()];
    let body = encode_list(Encoding::Proto, &recs, ip);
    let spans = decode_proto(&body);
    let json: Vec<model::Span> =
        serde_json::from_slice(&encode_list(Encoding::Json, &recs, ip)).unwrap();
    assert_eq!(spans, json);
    let full = &spans[0];
    assert_eq!(full.kind.as_deref(), Some("CLIENT"));
    assert_eq!(full.debug, Some(true));
    assert_eq!(full.shared, Some(true));
    assert_eq!(
        full.local_endpoint.as_ref().unwrap().ipv4.as_deref(),
        Some("192.168.99.1")
    );
    assert_eq!(full.remote_endpoint.as_ref().unwrap().port, Some(9411));
    assert_eq!(full.tags.len(), 3);
    assert_eq!(spans[1].kind, None);
    assert_eq!(spans[1].parent_id, None);
    assert_eq!(spans[1].duration, Some(1));
    assert_eq!(spans[1].remote_endpoint, None);
}

/// One message of `spans`, as the reporter frames them.
fn encode_list(enc: Encoding, spans: &[SpanRecord], ip: Option<IpAddr>) -> Vec<u8> {
    SpanEncoder::new(enc, ip).encode_list(spans)
}

#[test]
fn encode_span_returns_the_bytes_it_wrote() {
    for enc in [Encoding::Json, Encoding::Proto] {
        let ip = Some(IpAddr::V6("::ffff:10.0.0.7".parse().unwrap()));
        let recs = [full_record(), minimal_record()];
        let e = SpanEncoder::new(enc, ip);
        let mut one = Vec::new();
        let n = e.encode_span(&recs[0], &mut one);
        assert_eq!(n, one.len());
    }
    let v: Value = serde_json::from_slice(&encode_list(
        Encoding::Json,
        &[full_record()],
        Some("::ffff:10.0.0.7".parse().unwrap()),
    ))
    .unwrap();
    assert_eq!(
        v[0]["localEndpoint"]["ipv4"], "10.0.0.7",
        "mapped IPv6 written as IPv4"
    );
}
