//! The one policy that keeps Secret values out of what wavesync shows —
//! render, diff, validate, apply errors, logs and notifications:
//!
//! - an object is a Secret when its kind is `Secret`, of any group (a value
//!   is not worth the risk of guessing);
//! - in an object shown whole, every value of `data` and `stringData`, and
//!   kubectl's last-applied copy, is replaced by a marker ([`masked`]; in a
//!   diff, [`mask_pair`] says only whether a key was added or changed);
//! - in a message, every value of every Secret at hand — as written and, for
//!   `data`, decoded — is replaced by `***` ([`SecretValues`]): parsers, Helm
//!   and the API server quote the text they choke on (`cannot decode
//!   \`hunter2\` as a !!int`).

use crate::model::{ObjRef, Object};
use base64::Engine as _;
use serde_json::Map;
use serde_json::Value;
use std::borrow::Cow;

/// Shorter values are not masked: they would mangle ordinary words of the
/// messages, and carry little of a secret.
const MIN_LEN: usize = 4;

/// What replaces a Secret's value.
pub const MASK: &str = "***";

/// Every Secret value seen, longest first (so that a value containing
/// another is masked whole).
#[derive(Debug, Default)]
pub struct SecretValues(Vec<String>);

impl SecretValues {
    /// The values of `object`, when it is a Secret (none otherwise).
    pub fn of(object: &serde_json::Value) -> SecretValues {
        let mut s = SecretValues::default();
        s.add_values(object);
        s
    }

    /// Adds the values of every Secret among `objects`, as written and, for
    /// `data`, decoded from base64.
    pub fn add_objects<'a>(&mut self, objects: impl IntoIterator<Item = &'a Object>) {
        for o in objects {
            self.add_values(&o.json);
        }
    }

    fn add_values(&mut self, object: &serde_json::Value) {
        if !is_secret(object) {
            return;
        }
        for field in ["data", "stringData"] {
            let Some(map) = object.get(field).and_then(Value::as_object) else {
                continue;
            };
            for v in map.values().filter_map(Value::as_str) {
                self.push(v);
                if field == "data"
                    && let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(v)
                    && let Ok(text) = String::from_utf8(bytes)
                {
                    self.push(&text);
                }
            }
        }
    }

    /// Adds what looks like Secret values in a file's text: the scalars
    /// under `data:` and `stringData:` of a file that declares a Secret
    /// (for files that did not parse, whose Secrets never rendered).
    pub fn add_text(&mut self, text: &str) {
        if !declares_secret(text) {
            return;
        }
        let mut block: Option<usize> = None;
        for line in text.lines() {
            let trimmed = line.trim_start();
            let indent = line.len() - trimmed.len();
            if trimmed.is_empty() || trimmed.starts_with('#') {
                continue;
            }
            if block.is_some_and(|b| indent <= b) {
                block = None;
            }
            if let Some((key, value)) = trimmed.split_once(':') {
                let value = value.trim();
                if block.is_some() {
                    self.push_scalar(value);
                } else if key == "data" || key == "stringData" {
                    match value.strip_prefix('{') {
                        Some(flow) => {
                            for pair in flow.trim_end_matches('}').split(',') {
                                if let Some((_, v)) = pair.split_once(':') {
                                    self.push_scalar(v);
                                }
                            }
                        }
                        None if value.is_empty() => block = Some(indent),
                        None => {}
                    }
                }
            } else if block.is_some() {
                // A continuation of a multi-line value.
                self.push_scalar(trimmed);
            }
        }
    }

    /// A scalar as written: without a tag, quotes or a trailing comment.
    fn push_scalar(&mut self, written: &str) {
        let mut v = written.trim();
        if v.starts_with('!') {
            v = v.split_once(' ').map_or("", |(_, rest)| rest.trim());
        }
        if let Some(i) = v.find(" #") {
            v = v[..i].trim();
        }
        self.push(v.trim_matches(|c| c == '"' || c == '\''));
    }

    fn push(&mut self, value: &str) {
        let value = value.trim();
        if value.chars().count() >= MIN_LEN && !self.0.iter().any(|s| s == value) {
            self.0.push(value.to_owned());
            self.0.sort_by_key(|s| std::cmp::Reverse(s.len()));
        }
    }

    /// `message` with every known Secret value replaced by `***`.
    pub fn redact(&self, message: &str) -> String {
        let mut out = message.to_owned();
        for secret in &self.0 {
            if out.contains(secret.as_str()) {
                out = out.replace(secret.as_str(), MASK);
            }
        }
        out
    }
}

/// Whether `object` is a Secret (kind `Secret`, of any group).
pub fn is_secret(object: &Value) -> bool {
    object.get("kind").and_then(Value::as_str) == Some("Secret")
}

/// Whether the object a reference names is a Secret.
pub fn is_secret_ref(r: &ObjRef) -> bool {
    r.kind == "Secret"
}

/// kubectl's copy of what it last applied: on a Secret it holds the values.
const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// What replaces a value in an object shown whole.
pub const MASKED: &str = "(masked)";

/// `object` as it may be shown: a Secret with every value of `data` and
/// `stringData` and kubectl's last-applied copy replaced by [`MASKED`]
/// (not even their length is shown); anything else as it is.
pub fn masked(object: &Value) -> Cow<'_, Value> {
    if !is_secret(object) {
        return Cow::Borrowed(object);
    }
    let mut o = object.clone();
    mask_last_applied(&mut o);
    for field in ["data", "stringData"] {
        if let Some(map) = o.get_mut(field).and_then(Value::as_object_mut) {
            for v in map.values_mut() {
                *v = Value::String(MASKED.into());
            }
        }
    }
    Cow::Owned(o)
}

/// kubectl's last-applied copy (it holds the values) replaced by [`MASKED`].
fn mask_last_applied(object: &mut Value) {
    if let Some(a) = object
        .pointer_mut("/metadata/annotations")
        .and_then(|a| a.get_mut(LAST_APPLIED))
    {
        *a = Value::String(MASKED.into());
    }
}

/// The two versions of a Secret (either may be absent) with every value of
/// `data` and `stringData` replaced by a marker that shows only whether the
/// key was added, changed or kept (a removed key shows as a removed line),
/// never the value.
pub fn mask_pair(mut base: Option<&mut Value>, mut head: Option<&mut Value>) {
    for side in [base.as_deref_mut(), head.as_deref_mut()]
        .into_iter()
        .flatten()
    {
        mask_last_applied(side);
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
                *v = Value::String(MASKED.into());
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
                    Some(_) => MASKED,
                };
                *v = Value::String(marker.into());
            }
        }
    }
}

/// Whether a file's text declares a Secret (`kind: Secret` on a line).
pub fn declares_secret(text: &str) -> bool {
    text.lines().any(|l| {
        l.trim()
            .strip_prefix("kind:")
            .is_some_and(|k| k.trim().trim_matches(|c| c == '"' || c == '\'') == "Secret")
    })
}

/// `message` with text between backticks masked: what a parser quotes from
/// a file holding a Secret may be its value.
pub fn mask_quoted(message: &str) -> String {
    let parts: Vec<&str> = message.split('`').collect();
    if parts.len() < 3 {
        return message.to_owned();
    }
    parts
        .iter()
        .enumerate()
        .map(|(i, p)| {
            if i % 2 == 1 && i + 1 < parts.len() {
                MASK
            } else {
                p
            }
        })
        .collect::<Vec<_>>()
        .join("`")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn rendered_and_written_secret_values_are_masked() {
        let mut s = SecretValues::default();
        s.add_objects([&Object {
            json: json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "a"},
                "data": {"password": "aHVudGVyMi1kYXRh"}, "stringData": {"token": "tok-3456"}}),
            origin: Default::default(),
        }]);
        s.add_text(
            "apiVersion: v1\nkind: Secret\nstringData:\n  pw: !!int hunter2-text # x\n  short: ab\ndata: {k: 'flow-value'}\n",
        );
        let m =
            s.redact("cannot decode `hunter2-text` near hunter2-data, tok-3456 and flow-value; ab");
        assert_eq!(m, "cannot decode `***` near ***, *** and ***; ab");
        assert_eq!(
            mask_quoted("cannot decode `x` as a !!int, `y"),
            "cannot decode `***` as a !!int, `y"
        );
    }

    #[test]
    fn secret_values_never_survive_masking() {
        let mut base = json!({"apiVersion": "v1", "kind": "Secret", "data": {"a": "czE=", "b": "czI=", "gone": "eA=="}});
        let mut head = json!({"apiVersion": "v1", "kind": "Secret", "data": {"a": "czE=", "b": "TkVX", "new": "eQ=="}, "stringData": {"p": "hunter2"},
            "metadata": {"annotations": {LAST_APPLIED: "{\"stringData\":{\"p\":\"hunter2\"}}"}}});
        mask_pair(Some(&mut base), Some(&mut head));
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
        let shown = masked(&json!({"apiVersion": "v1", "kind": "Secret", "data": {"a": "czE="}, "stringData": {"p": "hunter2"},
            "metadata": {"annotations": {LAST_APPLIED: "hunter2"}}}))
        .into_owned();
        assert!(
            !shown.to_string().contains("hunter2") && !shown.to_string().contains("czE="),
            "{shown}"
        );
        assert_eq!(shown["data"]["a"], MASKED, "not even the length is shown");
        let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "data": {"a": "visible"}});
        assert_eq!(*masked(&cm), cm);
    }

    #[test]
    fn files_without_a_secret_give_nothing() {
        let mut s = SecretValues::default();
        s.add_text("kind: ConfigMap\ndata:\n  a: visible-value\n");
        assert_eq!(s.redact("visible-value"), "visible-value");
    }
}
