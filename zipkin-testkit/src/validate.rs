//! Decodes a request body the way a Zipkin collector must accept it, and says exactly what is
//! wrong when it would not.
//!
//! JSON is checked against `ListOfSpans` of zipkin2-api.yaml (read from the spec directory at
//! run time, made strict: no property the schema does not define), proto3 is decoded with
//! zipkin.proto (compiled at run time, unknown fields refused). On top of the schema, the
//! rules Zipkin's decoders enforce: ids are lower-case hex of the exact lengths (16 or 32 for a
//! trace id, 16 for span and parent ids; 8/16 and 8 bytes in proto3), ids are not all zeros,
//! a parent differs from the span, annotations are complete and tag values are strings.

use std::collections::BTreeMap;
use std::io::Read;
use std::sync::OnceLock;

use serde_json::{json, Value};

/// The largest decompressed body accepted (Zipkin's own limit is of the same order).
pub const MAX_DECODED_BYTES: u64 = 64 << 20;

/// What the collector learned about one span.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SpanSummary {
    /// Lower-hex trace id.
    pub trace_id: String,
    /// Lower-hex span id.
    pub id: String,
    /// Lower-hex parent id.
    pub parent_id: Option<String>,
    /// Span name.
    pub name: Option<String>,
    /// `CLIENT`, `SERVER`, ...
    pub kind: Option<String>,
    /// `debug: true`.
    pub debug: bool,
    /// `shared: true`.
    pub shared: bool,
    /// Tags.
    pub tags: BTreeMap<String, String>,
}

impl SpanSummary {
    /// What makes a span unique in Zipkin's storage: a shared server span reuses the client's id.
    pub fn key(&self) -> (String, String, bool) {
        (self.trace_id.clone(), self.id.clone(), self.shared)
    }
}

pub use crate::proto_list::spec_dir;

/// Decodes one request body by its `Content-Type` and `Content-Encoding`.
pub fn decode(
    content_type: Option<&str>,
    content_encoding: Option<&str>,
    body: &[u8],
) -> Result<Vec<SpanSummary>, String> {
    let plain;
    let body = match content_encoding.map(str::trim) {
        None | Some("") | Some("identity") => body,
        Some(e) if e.eq_ignore_ascii_case("gzip") => {
            let mut out = Vec::new();
            flate2::read::GzDecoder::new(body)
                .take(MAX_DECODED_BYTES + 1)
                .read_to_end(&mut out)
                .map_err(|e| format!("invalid gzip body: {e}"))?;
            if out.len() as u64 > MAX_DECODED_BYTES {
                return Err(format!(
                    "gzip body expands beyond {MAX_DECODED_BYTES} bytes"
                ));
            }
            plain = out;
            &plain
        }
        Some(other) => return Err(format!("unsupported Content-Encoding {other:?}")),
    };
    let ct = content_type
        .map(|c| {
            c.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
        .unwrap_or_default();
    match ct.as_str() {
        "application/json" => decode_json(body),
        "application/x-protobuf" | "application/protobuf" => decode_proto(body),
        other => Err(format!(
            "Content-Type {other:?}: expected application/json or application/x-protobuf"
        )),
    }
}

fn validator() -> &'static Result<jsonschema::Validator, String> {
    static V: OnceLock<Result<jsonschema::Validator, String>> = OnceLock::new();
    V.get_or_init(|| {
        let path = spec_dir().join("zipkin2-api.yaml");
        let text = std::fs::read_to_string(&path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let api: Value = serde_yaml::from_str(&text).map_err(|e| e.to_string())?;
        let mut defs = api["definitions"].clone();
        for name in ["Span", "Endpoint", "Annotation"] {
            let d = defs[name]
                .as_object_mut()
                .ok_or(format!("definition {name} missing from zipkin2-api.yaml"))?;
            d.insert("additionalProperties".into(), Value::Bool(false));
        }
        let schema = json!({ "$ref": "#/definitions/ListOfSpans", "definitions": defs });
        jsonschema::options()
            .with_draft(jsonschema::Draft::Draft4)
            .should_validate_formats(true)
            .build(&schema)
            .map_err(|e| e.to_string())
    })
}

fn is_lower_hex(s: &str) -> bool {
    s.bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

fn check_hex_id(what: &str, s: &str, lens: &[usize]) -> Result<(), String> {
    if !lens.contains(&s.len()) {
        return Err(format!(
            "{what} {s:?} has {} characters, expected {lens:?}",
            s.len()
        ));
    }
    if !is_lower_hex(s) {
        return Err(format!("{what} {s:?} is not lower-case hex"));
    }
    if s.bytes().all(|b| b == b'0') {
        return Err(format!("{what} is all zeros"));
    }
    Ok(())
}

/// Decodes a JSON `ListOfSpans` by the schema and Zipkin's id rules.
pub fn decode_json(body: &[u8]) -> Result<Vec<SpanSummary>, String> {
    let v: Value = serde_json::from_slice(body).map_err(|e| format!("invalid JSON: {e}"))?;
    let validator = validator().as_ref().map_err(Clone::clone)?;
    if let Some(e) = validator.iter_errors(&v).next() {
        return Err(format!("schema: {e} at {}", e.instance_path));
    }
    let list = v.as_array().ok_or("not a JSON array")?;
    let mut out = Vec::with_capacity(list.len());
    for span in list {
        let s = |f: &str| span.get(f).and_then(Value::as_str).map(str::to_owned);
        let trace_id = s("traceId").ok_or("span without traceId")?;
        let id = s("id").ok_or("span without id")?;
        check_hex_id("traceId", &trace_id, &[16, 32])?;
        check_hex_id("id", &id, &[16])?;
        let parent_id = s("parentId");
        if let Some(p) = &parent_id {
            check_hex_id("parentId", p, &[16])?;
            if *p == id {
                return Err(format!("span {id} is its own parent"));
            }
        }
        let mut tags = BTreeMap::new();
        if let Some(t) = span.get("tags").and_then(Value::as_object) {
            for (k, v) in t {
                let v = v.as_str().ok_or(format!("tag {k:?} is not a string"))?;
                tags.insert(k.clone(), v.to_owned());
            }
        }
        out.push(SpanSummary {
            trace_id,
            id,
            parent_id,
            name: s("name"),
            kind: s("kind"),
            debug: span.get("debug") == Some(&Value::Bool(true)),
            shared: span.get("shared") == Some(&Value::Bool(true)),
            tags,
        });
    }
    Ok(out)
}

/// Decodes a proto3 `ListOfSpans` with zipkin.proto and Zipkin's id rules.
pub fn decode_proto(body: &[u8]) -> Result<Vec<SpanSummary>, String> {
    Ok(crate::proto_list::decode_proto_list(body)?
        .into_iter()
        .map(|s| SpanSummary {
            trace_id: s.trace_id,
            id: s.id,
            parent_id: s.parent_id,
            name: s.name,
            kind: s.kind,
            debug: s.debug.unwrap_or(false),
            shared: s.shared.unwrap_or(false),
            tags: s.tags,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: &str = "463ac35c9f6413ad48485a3953bb6124";

    fn json(span: Value) -> Result<Vec<SpanSummary>, String> {
        decode_json(serde_json::to_vec(&json!([span])).unwrap().as_slice())
    }

    #[test]
    fn valid_json_decodes() {
        let s = json(json!({"traceId": T, "id": "a2fb4a1d1a96d312", "name": "x",
            "tags": {"k": "v"}, "debug": true}))
        .unwrap();
        assert_eq!(s[0].trace_id, T);
        assert!(s[0].debug);
        assert_eq!(s[0].tags["k"], "v");
    }

    #[test]
    fn json_that_zipkin_rejects_is_refused() {
        let bad = [
            json!({"traceId": T.to_uppercase(), "id": "a2fb4a1d1a96d312"}),
            json!({"traceId": &T[..15], "id": "a2fb4a1d1a96d312"}),
            json!({"traceId": "00000000000000000000000000000000", "id": "a2fb4a1d1a96d312"}),
            json!({"traceId": T, "id": "0000000000000000"}),
            json!({"traceId": T, "id": "a2fb4a1d1a96d31"}),
            json!({"traceId": T, "id": "a2fb4a1d1a96d312", "parentId": "a2fb4a1d1a96d312"}),
            json!({"traceId": T, "id": "a2fb4a1d1a96d312", "tags": {"n": 1}}),
            json!({"traceId": T, "id": "a2fb4a1d1a96d312", "bogus": 1}),
            json!({"traceId": T, "id": "a2fb4a1d1a96d312", "annotations": [{"value": "x"}]}),
            json!({"id": "a2fb4a1d1a96d312"}),
        ];
        for b in bad {
            assert!(json(b.clone()).is_err(), "accepted {b}");
        }
        assert!(decode_json(b"{}").is_err());
        assert!(decode_json(b"[").is_err());
    }

    #[test]
    fn proto_rules() {
        // ListOfSpans { spans: [Span { trace_id: 8 bytes, id: 8 bytes }] }
        let span = |trace: &[u8], id: &[u8]| {
            let mut s = vec![0x0a, trace.len() as u8];
            s.extend_from_slice(trace);
            s.extend_from_slice(&[0x1a, id.len() as u8]);
            s.extend_from_slice(id);
            let mut l = vec![0x0a, s.len() as u8];
            l.extend(s);
            l
        };
        let ok = decode_proto(&span(&[1; 8], &[2; 8])).unwrap();
        assert_eq!(ok[0].id, "0202020202020202");
        assert!(decode_proto(&span(&[0; 8], &[2; 8])).is_err(), "zero trace");
        assert!(
            decode_proto(&span(&[1; 7], &[2; 8])).is_err(),
            "short trace"
        );
        assert!(decode_proto(&span(&[1; 8], &[2; 9])).is_err(), "long id");
        let mut unknown = span(&[1; 8], &[2; 8]);
        unknown.extend_from_slice(&[0x10, 0x01]); // field 2 varint in ListOfSpans
        assert!(decode_proto(&unknown).is_err(), "unknown field");
    }

    #[test]
    fn gzip_and_content_type_are_honoured() {
        use std::io::Write;
        let body = serde_json::to_vec(&json!([{"traceId": T, "id": "a2fb4a1d1a96d312"}])).unwrap();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&body).unwrap();
        let gz = gz.finish().unwrap();
        assert_eq!(
            decode(Some("application/json"), Some("gzip"), &gz)
                .unwrap()
                .len(),
            1
        );
        assert!(decode(Some("text/plain"), None, &body).is_err());
        assert!(decode(Some("application/json"), Some("br"), &body).is_err());
    }
}
