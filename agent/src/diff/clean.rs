//! What a reviewer should not see in a diff: fields the API server owns
//! (they would be noise), and Secret values (they must never be printed).

use serde_json::{Map, Value};
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
        mask_secret_pair(b.as_mut(), Some(&mut h));
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

/// kubectl's copy of what it last applied: on a Secret it holds the values.
const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// Whether `object` is a core Secret.
pub fn is_secret(object: &Value) -> bool {
    object["kind"] == "Secret" && object["apiVersion"] == "v1"
}

/// The two versions of a Secret (either may be absent) with every value of
/// `data` and `stringData` replaced by a marker that shows only whether the
/// key was added, changed or kept (a removed key shows as a removed line),
/// never the value.
pub fn mask_secret_pair(mut base: Option<&mut Value>, mut head: Option<&mut Value>) {
    for side in [base.as_deref_mut(), head.as_deref_mut()]
        .into_iter()
        .flatten()
    {
        if let Some(a) = side
            .pointer_mut("/metadata/annotations")
            .and_then(|a| a.get_mut(LAST_APPLIED))
        {
            *a = Value::String("(masked)".into());
        }
    }
    for field in ["data", "stringData"] {
        let before: Map<String, Value> = base
            .as_deref()
            .and_then(|b| b.get(field))
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        if let Some(b) = base
            .as_deref_mut()
            .and_then(|b| b.get_mut(field))
            .and_then(Value::as_object_mut)
        {
            for v in b.values_mut() {
                *v = Value::String("(masked)".into());
            }
        }
        if let Some(h) = head
            .as_deref_mut()
            .and_then(|h| h.get_mut(field))
            .and_then(Value::as_object_mut)
        {
            for (k, v) in h.iter_mut() {
                let marker = match before.get(k) {
                    None => "(masked, added)",
                    Some(old) if old != v => "(masked, changed)",
                    Some(_) => "(masked)",
                };
                *v = Value::String(marker.into());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn secret_values_never_survive_masking() {
        let mut base = json!({"apiVersion": "v1", "kind": "Secret", "data": {"a": "czE=", "b": "czI=", "gone": "eA=="}});
        let mut head = json!({"apiVersion": "v1", "kind": "Secret", "data": {"a": "czE=", "b": "TkVX", "new": "eQ=="}, "stringData": {"p": "hunter2"},
            "metadata": {"annotations": {LAST_APPLIED: "{\"stringData\":{\"p\":\"hunter2\"}}"}}});
        mask_secret_pair(Some(&mut base), Some(&mut head));
        assert_eq!(
            base["data"],
            json!({"a": "(masked)", "b": "(masked)", "gone": "(masked)"})
        );
        assert_eq!(
            head["data"],
            json!({"a": "(masked)", "b": "(masked, changed)", "new": "(masked, added)"})
        );
        assert_eq!(head["stringData"], json!({"p": "(masked, added)"}));
        let text = format!("{base}{head}");
        for secret in ["czE=", "czI=", "TkVX", "eQ==", "hunter2", "eA=="] {
            assert!(!text.contains(secret));
        }
    }
}
