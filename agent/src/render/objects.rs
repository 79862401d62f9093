//! From parsed documents to objects: skip empty documents, expand lists,
//! check that every object names its apiVersion, kind and metadata.name.

use super::RenderError;
use super::yaml::Document;
use crate::model::{Object, Origin};
use serde_json::Value;
use std::path::Path;

/// Appends the objects of one document to `out`.
///
/// Empty and comment-only documents give nothing. A `kind: List` (or any
/// `…List` kind with an `items` array, such as `ConfigMapList`) gives its
/// items, recursively; as in kubectl, an item without both `apiVersion` and
/// `kind` takes the list's `apiVersion` and its kind minus `List`. Unlike
/// kubectl, a kind that does not end in `List` is never expanded, even with a
/// top-level `items` field (kubectl would take such a custom resource for a
/// list).
///
/// # Errors
/// [`RenderError::NotAMapping`] and [`RenderError::MissingField`].
pub(crate) fn collect(
    doc: Document,
    file: &Path,
    out: &mut Vec<Object>,
) -> Result<(), RenderError> {
    let origin = Origin {
        file: file.to_path_buf(),
        doc: doc.index,
        line: Some(doc.line),
        release_namespace: None,
    };
    let not_a_mapping = |found| RenderError::NotAMapping {
        file: file.to_path_buf(),
        line: doc.line,
        doc: doc.index,
        found,
    };
    match doc.value {
        Value::Null => Ok(()),
        Value::Object(_) => push(doc.value, &origin, out),
        Value::Array(_) => Err(not_a_mapping("a sequence")),
        Value::String(_) => Err(not_a_mapping("a string")),
        Value::Number(_) => Err(not_a_mapping("a number")),
        Value::Bool(_) => Err(not_a_mapping("a boolean")),
    }
}

fn push(mut value: Value, origin: &Origin, out: &mut Vec<Object>) -> Result<(), RenderError> {
    let list_kind = value
        .get("kind")
        .and_then(Value::as_str)
        .and_then(|k| k.strip_suffix("List"))
        .map(str::to_owned);
    let has_items = value.get("items").is_some_and(Value::is_array);
    if let (Some(item_kind), true) = (list_kind, has_items) {
        let items = value
            .get_mut("items")
            .map(Value::take)
            .and_then(|v| match v {
                Value::Array(items) => Some(items),
                _ => None,
            });
        let api_version = value.get("apiVersion").cloned().unwrap_or(Value::Null);
        for mut item in items.unwrap_or_default() {
            let Some(fields) = item.as_object_mut() else {
                return Err(RenderError::NotAMapping {
                    file: origin.file.clone(),
                    line: origin.line.unwrap_or(1),
                    doc: origin.doc,
                    found: "a list with an item that is not a mapping",
                });
            };
            if !fields.contains_key("kind") && !fields.contains_key("apiVersion") {
                fields.insert("apiVersion".to_owned(), api_version.clone());
                fields.insert("kind".to_owned(), Value::String(item_kind.clone()));
            }
            push(item, origin, out)?;
        }
        return Ok(());
    }
    check_required(&value, origin)?;
    check_size(&value, origin)?;
    out.push(Object {
        json: value,
        origin: origin.clone(),
    });
    Ok(())
}

/// The largest object the API server stores: etcd refuses a request larger
/// than 1.5 MiB (its default `--max-request-bytes`), and so every API server
/// in front of it. Checked at render, so that such a file fails the whole
/// sync before anything is applied, rather than its wave half-way.
pub const MAX_OBJECT_BYTES: usize = 1536 * 1024;

fn check_size(value: &Value, origin: &Origin) -> Result<(), RenderError> {
    /// Counts bytes without keeping them.
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    // Writing a Value to a counter cannot fail.
    let _ = serde_json::to_writer(&mut count, value);
    if count.0 > MAX_OBJECT_BYTES {
        return Err(RenderError::TooLarge {
            file: origin.file.clone(),
            line: origin.line.unwrap_or(1),
            bytes: count.0,
        });
    }
    Ok(())
}

fn check_required(value: &Value, origin: &Origin) -> Result<(), RenderError> {
    let missing = |field, found| RenderError::MissingField {
        file: origin.file.clone(),
        line: origin.line.unwrap_or(1),
        field,
        found,
    };
    for (pointer, field) in [
        ("/apiVersion", "apiVersion"),
        ("/kind", "kind"),
        ("/metadata/name", "metadata.name"),
    ] {
        if field == "metadata.name"
            && let Some(m) = value
                .get("metadata")
                .filter(|m| !m.is_object() && !m.is_null())
        {
            return Err(missing("metadata", Some(a_type(m))));
        }
        match value.pointer(pointer) {
            None | Some(Value::Null) => return Err(missing(field, None)),
            Some(Value::String(s)) if s.is_empty() => {
                return Err(missing(field, Some("an empty string")));
            }
            Some(Value::String(_)) => {}
            Some(other) => return Err(missing(field, Some(a_type(other)))),
        }
    }
    Ok(())
}

/// `a number`, `a sequence`…
fn a_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a sequence",
        Value::Object(_) => "a mapping",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn objects(value: Value) -> Result<Vec<Object>, RenderError> {
        let mut out = Vec::new();
        collect(
            Document {
                index: 0,
                line: 3,
                value,
            },
            Path::new("f.yaml"),
            &mut out,
        )?;
        Ok(out)
    }

    #[test]
    fn lists_expand_into_their_items_like_kubectl() {
        let list = json!({"apiVersion": "v1", "kind": "List", "items": [
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}},
            {"apiVersion": "v1", "kind": "List", "items": [{"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "b"}}]},
        ]});
        let names: Vec<_> = objects(list)
            .expect("ok")
            .iter()
            .map(|o| o.reference().to_string())
            .collect();
        assert_eq!(names, ["ConfigMap/a", "Secret/b"]);
        let typed = json!({"apiVersion": "v1", "kind": "ConfigMapList", "items": [{"metadata": {"name": "c"}}]});
        let out = objects(typed).expect("ok");
        assert_eq!(
            out[0].json,
            json!({"metadata": {"name": "c"}, "apiVersion": "v1", "kind": "ConfigMap"})
        );
        assert_eq!(out[0].origin.line, Some(3));
    }

    #[test]
    fn empty_documents_give_nothing_and_scalars_are_refused() {
        assert!(objects(Value::Null).expect("ok").is_empty());
        let e = objects(json!(["a"])).expect_err("sequence");
        assert_eq!(
            e.to_string(),
            "f.yaml:3: document 1 is a sequence, not a mapping (an object)"
        );
    }

    #[test]
    fn missing_fields_are_named() {
        let cases = [
            (
                json!({"kind": "ConfigMap", "metadata": {"name": "a"}}),
                "apiVersion",
            ),
            (
                json!({"apiVersion": "v1", "metadata": {"name": "a"}}),
                "kind",
            ),
            (
                json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {}}),
                "metadata.name",
            ),
            (
                json!({"apiVersion": "v1", "kind": "ConfigMap"}),
                "metadata.name",
            ),
            (
                json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": ""}}),
                "metadata.name",
            ),
            (
                json!({"apiVersion": "v1", "kind": "List", "items": [{"metadata": {"name": "x"}}]}),
                "kind",
            ),
        ];
        for (value, field) in cases {
            let e = objects(value).expect_err("missing field");
            assert!(
                matches!(e, RenderError::MissingField { field: f, .. } if f == field),
                "{e}"
            );
            let text = e.to_string();
            assert!(
                text.starts_with(&format!("f.yaml:3: object has no {field} "))
                    || text.starts_with(&format!("f.yaml:3: {field} is an empty string; ")),
                "{e}"
            );
        }
        // What is there instead, when something is.
        let e = objects(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": 42}}))
            .expect_err("a number");
        assert_eq!(
            e.to_string(),
            "f.yaml:3: metadata.name is a number; a non-empty string is required"
        );
        let e = objects(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": ["a"]}))
            .expect_err("a sequence");
        assert_eq!(
            e.to_string(),
            "f.yaml:3: metadata is a sequence; a mapping is required"
        );
    }
}
