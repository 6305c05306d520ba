//! Helpers shared by test files: a tracer per test with the in-memory transport, the spec files,
//! and a proto3 decoder built from zipkin.proto.
#![allow(dead_code)]

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;
use std::sync::OnceLock;

use prost_reflect::{DescriptorPool, DynamicMessage, MapKey, ReflectMessage, Value as PValue};
use zipkin_runtime::transport::memory::MemoryTransport;
use zipkin_runtime::{model, Tracer, TracerBuilder};

/// A tracer of service "svc" at this sample rate (percent) that keeps its spans in memory. One
/// per test, so tests running in parallel do not see each other's spans.
pub fn tracer(rate: f64) -> (Tracer, MemoryTransport) {
    tracer_with(|b| b.sample_rate(rate))
}

/// [`tracer`], configured further by `f`.
pub fn tracer_with(f: impl FnOnce(TracerBuilder) -> TracerBuilder) -> (Tracer, MemoryTransport) {
    let mem = MemoryTransport::new();
    let t = f(Tracer::builder().service_name("svc").transport(mem.clone()))
        .build()
        .unwrap();
    (t, mem)
}

/// Every span the tracer reported, after flushing it.
pub fn collect(t: Tracer, mem: &MemoryTransport) -> Vec<model::Span> {
    let r = t.flush(std::time::Duration::from_secs(5));
    assert!(!r.timed_out, "flush timed out: {r:?}");
    mem.spans()
}

/// A file of the repository's copies of the official spec files (`spec/`).
pub fn spec(file: &str) -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../spec")).join(file)
}

// ---------------------------------------------------------------------------------------------
// proto3, decoded with the official zipkin.proto.

pub fn pool() -> &'static DescriptorPool {
    static P: OnceLock<DescriptorPool> = OnceLock::new();
    P.get_or_init(|| {
        let file = spec("zipkin.proto");
        let fds =
            protox::compile([&file], [file.parent().unwrap()]).expect("zipkin.proto compiles");
        DescriptorPool::from_file_descriptor_set(fds).unwrap()
    })
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn get<'a>(m: &'a DynamicMessage, field: &str) -> Option<Cow<'a, PValue>> {
    m.has_field_by_name(field)
        .then(|| m.get_field_by_name(field))
        .flatten()
}

fn proto_endpoint(m: &DynamicMessage) -> model::Endpoint {
    let s = |f| get(m, f).map(|v| v.as_str().unwrap().to_owned());
    let bytes = |f| get(m, f).map(|v| v.as_bytes().unwrap().to_vec());
    model::Endpoint {
        service_name: s("service_name"),
        ipv4: bytes("ipv4").map(|b| Ipv4Addr::from(<[u8; 4]>::try_from(b).unwrap()).to_string()),
        ipv6: bytes("ipv6").map(|b| Ipv6Addr::from(<[u8; 16]>::try_from(b).unwrap()).to_string()),
        port: get(m, "port").map(|v| u16::try_from(v.as_i32().unwrap()).unwrap()),
    }
}

/// Decodes a `ListOfSpans` into the model, field by field.
pub fn decode_proto(body: &[u8]) -> Vec<model::Span> {
    let desc = pool()
        .get_message_by_name("zipkin.proto3.ListOfSpans")
        .unwrap();
    let list = DynamicMessage::decode(desc, body).expect("valid ListOfSpans");
    assert!(
        body.is_empty() || body[0] == 0x0a,
        "starts with field 1, as detectors expect"
    );
    let spans = list.get_field_by_name("spans").unwrap();
    spans
        .as_list()
        .unwrap()
        .iter()
        .map(|v| {
            let m = v.as_message().unwrap();
            let bytes = |f| get(m, f).map(|v| v.as_bytes().unwrap().to_vec());
            let trace = bytes("trace_id").unwrap();
            assert!(trace.len() == 8 || trace.len() == 16);
            let kind = get(m, "kind").map(|k| {
                let n = k.as_enum_number().unwrap();
                let d = m.descriptor().get_field_by_name("kind").unwrap();
                let e = d.kind();
                e.as_enum().unwrap().get_value(n).unwrap().name().to_owned()
            });
            let mut tags = BTreeMap::new();
            if let Some(t) = get(m, "tags") {
                for (k, v) in t.as_map().unwrap() {
                    let MapKey::String(k) = k else {
                        panic!("tag key")
                    };
                    tags.insert(k.clone(), v.as_str().unwrap().to_owned());
                }
            }
            model::Span {
                trace_id: hex(&trace),
                parent_id: bytes("parent_id").map(|b| {
                    assert_eq!(b.len(), 8);
                    hex(&b)
                }),
                id: hex(&bytes("id").unwrap()),
                kind,
                name: get(m, "name").map(|v| v.as_str().unwrap().to_owned()),
                timestamp: get(m, "timestamp").map(|v| v.as_u64().unwrap()),
                duration: get(m, "duration").map(|v| v.as_u64().unwrap()),
                debug: get(m, "debug").map(|v| v.as_bool().unwrap()),
                shared: get(m, "shared").map(|v| v.as_bool().unwrap()),
                local_endpoint: get(m, "local_endpoint")
                    .map(|v| proto_endpoint(v.as_message().unwrap())),
                remote_endpoint: get(m, "remote_endpoint")
                    .map(|v| proto_endpoint(v.as_message().unwrap())),
                annotations: get(m, "annotations")
                    .map(|v| {
                        v.as_list()
                            .unwrap()
                            .iter()
                            .map(|a| {
                                let a = a.as_message().unwrap();
                                model::Annotation {
                                    timestamp: get(a, "timestamp").unwrap().as_u64().unwrap(),
                                    value: get(a, "value").unwrap().as_str().unwrap().to_owned(),
                                }
                            })
                            .collect()
                    })
                    .unwrap_or_default(),
                tags,
            }
        })
        .collect()
}
