//! Wave digests: the hex SHA-256 of a canonical serialization of a wave.
//!
//! The serialized value is `{"components":[{"name":…,"objects":[…]}…],"wave":…}`,
//! with the objects in apply order and wavesync's labels already added, keys
//! sorted recursively (byte order) and no whitespace, preceded by the line
//! `wavesync.io/wave-digest/v1` so that the format can evolve. Origins (file,
//! document, line) are not part of it: moving an object to another file, or
//! reordering files, leaves the digest unchanged as long as the objects and
//! their components stay the same; any change to an object's content, or to
//! the wave, component or WaveSet names, changes it.

use super::PlannedComponent;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::fmt::Write;

/// The digest format's version line.
const PREFIX: &str = "wavesync.io/wave-digest/v1\n";

/// The digest of a wave's components, as 64 lowercase hex digits.
pub(crate) fn wave_digest(wave: &str, components: &[PlannedComponent]) -> String {
    let components: Vec<Value> = components
        .iter()
        .map(|c| json!({"name": c.name, "objects": c.objects.iter().map(|o| &o.json).collect::<Vec<_>>()}))
        .collect();
    let mut text = String::from(PREFIX);
    canonical(&json!({"wave": wave, "components": components}), &mut text);
    hex(&Sha256::digest(text.as_bytes()))
}

/// Lowercase hex of `bytes` (digests of waves, Jobs, chart renders).
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// Compact JSON with the keys of every object sorted.
pub(crate) fn canonical(value: &Value, out: &mut String) {
    match value {
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                canonical(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut entries: Vec<_> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            out.push('{');
            for (i, (key, item)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                canonical(item, out);
            }
            out.push('}');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_json_sorts_keys_recursively_and_is_compact() {
        let mut s = String::new();
        canonical(&json!({"b": [{"z": 1, "a": "x\"y"}], "a": null}), &mut s);
        assert_eq!(s, r#"{"a":null,"b":[{"a":"x\"y","z":1}]}"#);
    }
}
