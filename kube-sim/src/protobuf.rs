//! Protobuf request bodies for the few kinds kubectl's generator commands
//! create (`kubectl create namespace|configmap|secret|serviceaccount`): the
//! `k8s\0` envelope around a `runtime.Unknown`, decoded to JSON by field
//! number. Other kinds answer 415, as documented in the README.

use base64::Engine;
use serde_json::{Map, Value};

/// Protobuf magic prefix of Kubernetes objects.
const MAGIC: &[u8] = b"k8s\x00";

/// One field: number and payload.
enum Field<'a> {
    Varint(u64),
    Bytes(&'a [u8]),
}

fn varint(buf: &[u8], pos: &mut usize) -> Option<u64> {
    let mut v: u64 = 0;
    for shift in (0..64).step_by(7) {
        let b = *buf.get(*pos)?;
        *pos += 1;
        v |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Some(v);
        }
    }
    None
}

fn fields(buf: &[u8]) -> Option<Vec<(u64, Field<'_>)>> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < buf.len() {
        let key = varint(buf, &mut pos)?;
        let (num, wire) = (key >> 3, key & 7);
        let f = match wire {
            0 => Field::Varint(varint(buf, &mut pos)?),
            2 => {
                let len = usize::try_from(varint(buf, &mut pos)?).ok()?;
                let end = pos.checked_add(len).filter(|e| *e <= buf.len())?;
                let s = &buf[pos..end];
                pos = end;
                Field::Bytes(s)
            }
            1 => {
                pos += 8;
                Field::Varint(0)
            }
            5 => {
                pos += 4;
                Field::Varint(0)
            }
            _ => return None,
        };
        out.push((num, f));
    }
    Some(out)
}

fn text(b: &[u8]) -> Option<String> {
    String::from_utf8(b.to_vec()).ok()
}

/// A `map<string, string>` (or bytes, base64-encoded as JSON has it) entry.
fn map_entry(b: &[u8], bytes_value: bool) -> Option<(String, Value)> {
    let mut k = String::new();
    let mut v = Value::String(String::new());
    for (n, f) in fields(b)? {
        match (n, f) {
            (1, Field::Bytes(s)) => k = text(s)?,
            (2, Field::Bytes(s)) if bytes_value => {
                v = base64::engine::general_purpose::STANDARD.encode(s).into()
            }
            (2, Field::Bytes(s)) => v = text(s)?.into(),
            _ => {}
        }
    }
    Some((k, v))
}

fn object_meta(b: &[u8]) -> Option<Value> {
    let mut m = Map::new();
    let mut labels = Map::new();
    let mut annotations = Map::new();
    let mut finalizers = Vec::new();
    for (n, f) in fields(b)? {
        match (n, f) {
            (1, Field::Bytes(s)) => drop(m.insert("name".into(), text(s)?.into())),
            (2, Field::Bytes(s)) => drop(m.insert("generateName".into(), text(s)?.into())),
            (3, Field::Bytes(s)) => drop(m.insert("namespace".into(), text(s)?.into())),
            (6, Field::Bytes(s)) => drop(m.insert("resourceVersion".into(), text(s)?.into())),
            (11, Field::Bytes(s)) => {
                let (k, v) = map_entry(s, false)?;
                labels.insert(k, v);
            }
            (12, Field::Bytes(s)) => {
                let (k, v) = map_entry(s, false)?;
                annotations.insert(k, v);
            }
            (14, Field::Bytes(s)) => finalizers.push(Value::String(text(s)?)),
            _ => {}
        }
    }
    if !labels.is_empty() {
        m.insert("labels".into(), Value::Object(labels));
    }
    if !annotations.is_empty() {
        m.insert("annotations".into(), Value::Object(annotations));
    }
    if !finalizers.is_empty() {
        m.insert("finalizers".into(), Value::Array(finalizers));
    }
    Some(Value::Object(m))
}

fn object(kind: &str, raw: &[u8]) -> Option<Map<String, Value>> {
    let mut o = Map::new();
    let mut maps: [Map<String, Value>; 2] = [Map::new(), Map::new()];
    for (n, f) in fields(raw)? {
        match (kind, n, f) {
            (_, 1, Field::Bytes(s)) => drop(o.insert("metadata".into(), object_meta(s)?)),
            ("ConfigMap", 2, Field::Bytes(s)) | ("Secret", 2, Field::Bytes(s)) => {
                let (k, v) = map_entry(s, kind == "Secret")?;
                maps[0].insert(k, v);
            }
            ("ConfigMap", 3, Field::Bytes(s)) => {
                let (k, v) = map_entry(s, true)?;
                maps[1].insert(k, v);
            }
            ("Secret", 4, Field::Bytes(s)) => {
                let (k, v) = map_entry(s, false)?;
                maps[1].insert(k, v);
            }
            ("Secret", 3, Field::Bytes(s)) => drop(o.insert("type".into(), text(s)?.into())),
            ("ConfigMap", 4, Field::Varint(v)) | ("Secret", 5, Field::Varint(v)) => {
                drop(o.insert("immutable".into(), (v != 0).into()))
            }
            ("ServiceAccount", 4, Field::Varint(v)) => {
                drop(o.insert("automountServiceAccountToken".into(), (v != 0).into()))
            }
            _ => {}
        }
    }
    let [data, second] = maps;
    if !data.is_empty() {
        o.insert("data".into(), Value::Object(data));
    }
    if !second.is_empty() {
        o.insert(
            if kind == "Secret" {
                "stringData"
            } else {
                "binaryData"
            }
            .into(),
            Value::Object(second),
        );
    }
    Some(o)
}

/// Decodes a protobuf body into the JSON object it encodes.
///
/// # Errors
/// A message for kinds this decoder does not know or malformed bodies.
pub fn decode(body: &[u8]) -> Result<Value, String> {
    let rest = body
        .strip_prefix(MAGIC)
        .ok_or("the body does not start with the Kubernetes protobuf prefix")?;
    let (mut api_version, mut kind, mut raw) = (String::new(), String::new(), &[][..]);
    for (n, f) in fields(rest).ok_or("malformed protobuf envelope")? {
        match (n, f) {
            (1, Field::Bytes(tm)) => {
                for (tn, tf) in fields(tm).ok_or("malformed type meta")? {
                    if let Field::Bytes(s) = tf {
                        match tn {
                            1 => api_version = text(s).unwrap_or_default(),
                            2 => kind = text(s).unwrap_or_default(),
                            _ => {}
                        }
                    }
                }
            }
            (2, Field::Bytes(s)) => raw = s,
            _ => {}
        }
    }
    if !matches!(
        (api_version.as_str(), kind.as_str()),
        (
            "v1",
            "Namespace" | "ConfigMap" | "Secret" | "ServiceAccount"
        )
    ) {
        return Err(format!(
            "protobuf bodies of {api_version} {kind} are not supported by the simulator; send JSON"
        ));
    }
    let mut o = object(&kind, raw).ok_or("malformed protobuf object")?;
    o.insert("apiVersion".into(), api_version.into());
    o.insert("kind".into(), kind.into());
    Ok(Value::Object(o))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn field(n: u64, payload: &[u8]) -> Vec<u8> {
        let mut out = vec![((n << 3) | 2) as u8, payload.len() as u8];
        out.extend_from_slice(payload);
        out
    }

    #[test]
    fn decodes_a_configmap_as_kubectl_sends_it() {
        let meta = [
            field(1, b"cfg"),
            field(11, &[field(1, b"app"), field(2, b"web")].concat()),
        ]
        .concat();
        let entry = [field(1, b"a"), field(2, b"1")].concat();
        let raw = [field(1, &meta), field(2, &entry)].concat();
        let tm = [field(1, b"v1"), field(2, b"ConfigMap")].concat();
        let body = [MAGIC.to_vec(), field(1, &tm), field(2, &raw)].concat();
        assert_eq!(
            decode(&body).expect("decodes"),
            json!({"metadata": {"name": "cfg", "labels": {"app": "web"}}, "data": {"a": "1"}, "apiVersion": "v1", "kind": "ConfigMap"})
        );
    }

    #[test]
    fn other_kinds_are_refused_with_a_clear_message() {
        let tm = [field(1, b"apps/v1"), field(2, b"Deployment")].concat();
        let body = [MAGIC.to_vec(), field(1, &tm)].concat();
        assert!(
            decode(&body)
                .expect_err("refused")
                .contains("apps/v1 Deployment")
        );
    }
}
