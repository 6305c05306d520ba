//! The repository's copies of the Zipkin spec files, and a proto3 `ListOfSpans` decoder built
//! from `spec/zipkin.proto` that enforces Zipkin's rules (exact id lengths, no all-zero id, no
//! span its own parent, complete annotations and endpoints, no unknown field).
//!
//! One file for the testkit (which `mod`s it) and the runtime's integration tests (which
//! include it with `#[path]`), so that both decode proto3 the same way. It depends on nothing
//! but `prost-reflect` and `protox`, which both have.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::OnceLock;

use prost_reflect::{DescriptorPool, DynamicMessage, MapKey, ReflectMessage, Value};

/// The repository's `spec/` directory (see `spec/SOURCES.md`).
pub fn spec_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../spec"))
}

/// An endpoint as proto3 carries it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProtoEndpoint {
    /// `service_name`.
    pub service_name: Option<String>,
    /// `ipv4`, dotted.
    pub ipv4: Option<String>,
    /// `ipv6`, as `Ipv6Addr` writes it.
    pub ipv6: Option<String>,
    /// `port`.
    pub port: Option<u16>,
}

/// A span as proto3 carries it, ids as lower-case hex.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProtoSpan {
    /// 16 or 32 hex characters.
    pub trace_id: String,
    /// 16 hex characters.
    pub id: String,
    /// 16 hex characters.
    pub parent_id: Option<String>,
    /// `CLIENT`, `SERVER`, `PRODUCER` or `CONSUMER`.
    pub kind: Option<String>,
    /// The name.
    pub name: Option<String>,
    /// Epoch microseconds.
    pub timestamp: Option<u64>,
    /// Microseconds.
    pub duration: Option<u64>,
    /// `debug`.
    pub debug: Option<bool>,
    /// `shared`.
    pub shared: Option<bool>,
    /// The local endpoint.
    pub local_endpoint: Option<ProtoEndpoint>,
    /// The remote endpoint.
    pub remote_endpoint: Option<ProtoEndpoint>,
    /// (timestamp, value).
    pub annotations: Vec<(u64, String)>,
    /// Tags.
    pub tags: BTreeMap<String, String>,
}

fn pool() -> &'static Result<DescriptorPool, String> {
    static P: OnceLock<Result<DescriptorPool, String>> = OnceLock::new();
    P.get_or_init(|| {
        let file = spec_dir().join("zipkin.proto");
        let fds =
            protox::compile([&file], [spec_dir()]).map_err(|e| format!("zipkin.proto: {e}"))?;
        DescriptorPool::from_file_descriptor_set(fds).map_err(|e| e.to_string())
    })
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn field<'a>(m: &'a DynamicMessage, name: &str) -> Option<std::borrow::Cow<'a, Value>> {
    m.has_field_by_name(name)
        .then(|| m.get_field_by_name(name))
        .flatten()
}

fn no_unknown_fields(m: &DynamicMessage, what: &str) -> Result<(), String> {
    match m.unknown_fields().next() {
        Some(f) => Err(format!("{what} has unknown field {}", f.number())),
        None => Ok(()),
    }
}

fn bytes_id(m: &DynamicMessage, name: &str, lens: &[usize]) -> Result<Option<String>, String> {
    let Some(v) = field(m, name) else {
        return Ok(None);
    };
    let b = v.as_bytes().ok_or(format!("{name} is not bytes"))?;
    if !lens.contains(&b.len()) {
        return Err(format!("{name} has {} bytes, expected {lens:?}", b.len()));
    }
    if b.iter().all(|&x| x == 0) {
        return Err(format!("{name} is all zeros"));
    }
    Ok(Some(hex(b)))
}

fn endpoint(m: &DynamicMessage, what: &str) -> Result<ProtoEndpoint, String> {
    no_unknown_fields(m, what)?;
    let ip = |f: &str, len: usize| -> Result<Option<Vec<u8>>, String> {
        match field(m, f) {
            None => Ok(None),
            Some(v) => {
                let b = v
                    .as_bytes()
                    .ok_or(format!("{what}.{f} is not bytes"))?
                    .to_vec();
                if b.len() != len {
                    return Err(format!("{what}.{f} has {} bytes, expected {len}", b.len()));
                }
                Ok(Some(b))
            }
        }
    };
    let port = match field(m, "port") {
        None => None,
        Some(v) => {
            let p = v.as_i32().ok_or(format!("{what}.port is not an int32"))?;
            Some(u16::try_from(p).map_err(|_| format!("{what}.port {p} is not a port"))?)
        }
    };
    Ok(ProtoEndpoint {
        service_name: field(m, "service_name").and_then(|v| v.as_str().map(str::to_owned)),
        ipv4: ip("ipv4", 4)?
            .map(|b| std::net::Ipv4Addr::from([b[0], b[1], b[2], b[3]]).to_string()),
        ipv6: ip("ipv6", 16)?.map(|b| {
            let mut a = [0u8; 16];
            a.copy_from_slice(&b);
            std::net::Ipv6Addr::from(a).to_string()
        }),
        port,
    })
}

/// Decodes a proto3 `ListOfSpans` with `spec/zipkin.proto`, refusing what Zipkin refuses.
pub fn decode_proto_list(body: &[u8]) -> Result<Vec<ProtoSpan>, String> {
    let pool = pool().as_ref().map_err(Clone::clone)?;
    let desc = pool
        .get_message_by_name("zipkin.proto3.ListOfSpans")
        .ok_or("zipkin.proto3.ListOfSpans missing from zipkin.proto")?;
    if !body.is_empty() && body[0] != 0x0a {
        return Err(
            "a ListOfSpans starts with field 1 (0x0a), as Zipkin's detector expects".into(),
        );
    }
    let list = DynamicMessage::decode(desc, body).map_err(|e| format!("invalid proto3: {e}"))?;
    no_unknown_fields(&list, "ListOfSpans")?;
    let mut out = Vec::new();
    let Some(spans) = field(&list, "spans") else {
        return Ok(out);
    };
    for v in spans.as_list().ok_or("spans is not repeated")? {
        let m = v.as_message().ok_or("span is not a message")?;
        no_unknown_fields(m, "Span")?;
        let trace_id = bytes_id(m, "trace_id", &[8, 16])?.ok_or("span without trace_id")?;
        let id = bytes_id(m, "id", &[8])?.ok_or("span without id")?;
        let parent_id = bytes_id(m, "parent_id", &[8])?;
        if parent_id.as_ref() == Some(&id) {
            return Err(format!("span {id} is its own parent"));
        }
        let mut annotations = Vec::new();
        if let Some(anns) = field(m, "annotations") {
            for a in anns.as_list().ok_or("annotations is not repeated")? {
                let a = a.as_message().ok_or("annotation is not a message")?;
                no_unknown_fields(a, "Annotation")?;
                let (Some(t), Some(v)) = (field(a, "timestamp"), field(a, "value")) else {
                    return Err("annotation without timestamp or value".into());
                };
                annotations.push((
                    t.as_u64().ok_or("annotation timestamp is not a fixed64")?,
                    v.as_str()
                        .ok_or("annotation value is not a string")?
                        .to_owned(),
                ));
            }
        }
        let mut tags = BTreeMap::new();
        if let Some(t) = field(m, "tags") {
            for (k, v) in t.as_map().ok_or("tags is not a map")? {
                let MapKey::String(k) = k else {
                    return Err("tag key is not a string".into());
                };
                let v = v.as_str().ok_or(format!("tag {k:?} is not a string"))?;
                tags.insert(k.clone(), v.to_owned());
            }
        }
        let kind = match field(m, "kind") {
            Some(k) => {
                let n = k.as_enum_number().ok_or("kind is not an enum")?;
                let fd = m
                    .descriptor()
                    .get_field_by_name("kind")
                    .ok_or("Span.kind missing from zipkin.proto")?;
                let name = fd
                    .kind()
                    .as_enum()
                    .and_then(|e| e.get_value(n))
                    .map(|v| v.name().to_owned())
                    .ok_or(format!("kind {n} is not a Kind"))?;
                Some(name)
            }
            None => None,
        };
        let ep = |f: &str| -> Result<Option<ProtoEndpoint>, String> {
            match field(m, f) {
                None => Ok(None),
                Some(e) => {
                    endpoint(e.as_message().ok_or(format!("{f} is not a message"))?, f).map(Some)
                }
            }
        };
        out.push(ProtoSpan {
            trace_id,
            id,
            parent_id,
            kind,
            name: field(m, "name").and_then(|v| v.as_str().map(str::to_owned)),
            timestamp: field(m, "timestamp").and_then(|v| v.as_u64()),
            duration: field(m, "duration").and_then(|v| v.as_u64()),
            debug: field(m, "debug").and_then(|v| v.as_bool()),
            shared: field(m, "shared").and_then(|v| v.as_bool()),
            local_endpoint: ep("local_endpoint")?,
            remote_endpoint: ep("remote_endpoint")?,
            annotations,
            tags,
        });
    }
    Ok(out)
}
