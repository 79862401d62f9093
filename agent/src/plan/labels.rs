//! The labels and annotations wavesync reads and writes on objects.

use super::PlanError;
use crate::model::Object;
use serde_json::{Map, Value};

/// Label: the WaveSet an object belongs to.
pub const WAVESET_LABEL: &str = "wavesync.io/waveset";
/// Label: the wave an object is applied in (after any override).
pub const WAVE_LABEL: &str = "wavesync.io/wave";
/// Label: the component of the wave an object belongs to.
pub const COMPONENT_LABEL: &str = "wavesync.io/component";
/// Annotation: moves an object to the named wave.
pub const WAVE_ANNOTATION: &str = "wavesync.io/wave";

/// The wave an object asks for with [`WAVE_ANNOTATION`], if any.
///
/// # Errors
/// [`PlanError::InvalidField`] when the annotation is not a string.
pub(crate) fn wave_annotation(object: &Object) -> Result<Option<&str>, PlanError> {
    match object
        .json
        .pointer("/metadata/annotations")
        .and_then(|a| a.get(WAVE_ANNOTATION))
    {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(invalid(
            object,
            "the annotation wavesync.io/wave",
            "a string",
        )),
    }
}

/// Sets wavesync's labels, leaving everything else as written (a label of
/// the same key the user wrote is overwritten).
///
/// # Errors
/// [`PlanError::InvalidField`] when `metadata` or `metadata.labels` is not a mapping.
pub(crate) fn add(
    object: &mut Object,
    waveset: &str,
    wave: &str,
    component: &str,
) -> Result<(), PlanError> {
    let Some(labels) = labels_mut(&mut object.json) else {
        return Err(invalid(object, "metadata.labels", "a mapping"));
    };
    for (key, value) in [
        (WAVESET_LABEL, waveset),
        (WAVE_LABEL, wave),
        (COMPONENT_LABEL, component),
    ] {
        labels.insert(key.to_owned(), Value::String(value.to_owned()));
    }
    Ok(())
}

fn labels_mut(json: &mut Value) -> Option<&mut Map<String, Value>> {
    let metadata = json
        .as_object_mut()?
        .entry("metadata")
        .or_insert_with(|| Value::Object(Map::new()));
    let labels = metadata
        .as_object_mut()?
        .entry("labels")
        .or_insert_with(|| Value::Object(Map::new()));
    if labels.is_null() {
        *labels = Value::Object(Map::new());
    }
    labels.as_object_mut()
}

/// Whether `s` is a valid Kubernetes label value.
pub(crate) fn valid_label_value(s: &str) -> bool {
    let alnum = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    s.is_empty()
        || s.len() <= 63
            && alnum(s.chars().next())
            && alnum(s.chars().last())
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

pub(crate) fn invalid(object: &Object, field: &'static str, expected: &'static str) -> PlanError {
    PlanError::InvalidField {
        object: object.reference().to_string(),
        origin: Box::new(object.origin.clone()),
        field,
        expected,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn labels_are_added_without_touching_the_rest() {
        let mut o = Object {
            json: json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a", "labels": {"app": "x"}}, "data": {"k": "v"}}),
            origin: Default::default(),
        };
        add(&mut o, "dataplane", "apps", "web").expect("adds");
        assert_eq!(
            o.json,
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a", "labels": {
            "app": "x", "wavesync.io/waveset": "dataplane", "wavesync.io/wave": "apps", "wavesync.io/component": "web"}},
            "data": {"k": "v"}})
        );
        let mut bad = Object {
            json: json!({"metadata": {"name": "a", "labels": ["x"]}}),
            origin: Default::default(),
        };
        assert!(matches!(
            add(&mut bad, "a", "b", "c"),
            Err(PlanError::InvalidField {
                field: "metadata.labels",
                ..
            })
        ));
    }

    #[test]
    fn label_values_follow_kubernetes_rules() {
        for ok in ["apps", "00-prereq", "a.b_c", ""] {
            assert!(valid_label_value(ok), "{ok}");
        }
        for bad in ["-a", "a-", "a b", "a/b", &"x".repeat(64)] {
            assert!(!valid_label_value(bad), "{bad}");
        }
    }
}
