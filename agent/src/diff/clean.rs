//! What a reviewer should not see in a diff: fields the API server owns
//! (they would be noise), and Secret values (they must never be printed).

use crate::secrets::{is_secret, mask_pair};
use serde_json::Value;
use similar::TextDiff;

/// The YAML a reviewer sees of a new object: noise removed, Secret values
/// masked.
pub fn masked_yaml(object: &Value) -> String {
    let (_, h) = cleaned(None, object);
    serde_saphyr::to_string(&h).unwrap_or_default()
}

/// A unified diff (3 lines of context) of two versions of an object's YAML,
/// noise removed and Secret values masked; empty when they are the same.
/// `headers` name the two sides (`base`/`head`, `live`/`after sync`).
pub fn unified(before: &Value, after: &Value, headers: (&str, &str)) -> String {
    if without_noise(before) == without_noise(after) {
        return String::new();
    }
    let (b, h) = cleaned(Some(before), after);
    let before = serde_saphyr::to_string(&b).unwrap_or_default();
    let after = serde_saphyr::to_string(&h).unwrap_or_default();
    TextDiff::from_lines(&before, &after)
        .unified_diff()
        .context_radius(3)
        .header(headers.0, headers.1)
        .to_string()
}

fn cleaned(base: Option<&Value>, head: &Value) -> (Option<Value>, Value) {
    let mut b = base.map(without_noise);
    let mut h = without_noise(head);
    if is_secret(&h) || b.as_ref().is_some_and(is_secret) {
        mask_pair(b.as_mut(), Some(&mut h));
    }
    (b, h)
}

/// Metadata fields that only the API server sets.
const SERVER_METADATA: [&str; 6] = [
    "managedFields",
    "resourceVersion",
    "uid",
    "creationTimestamp",
    "generation",
    "selfLink",
];

/// `object` without server-owned fields and `status`.
pub fn without_noise(object: &Value) -> Value {
    let mut o = object.clone();
    if let Some(m) = o.as_object_mut() {
        m.remove("status");
        if let Some(meta) = m.get_mut("metadata").and_then(Value::as_object_mut) {
            for f in SERVER_METADATA {
                meta.remove(f);
            }
        }
    }
    o
}
