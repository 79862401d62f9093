//! The `wavesync.io/revision` annotation: the Git revision that last changed
//! an object. Stamped at apply time, after the wave digest and a Job's
//! content digest are taken, so that a new commit neither re-runs unchanged
//! waves nor re-creates unchanged Jobs; an object a new commit leaves as it
//! was keeps the revision that last changed it, so it is not rewritten.

use crate::model::Object;
use serde_json::Value;

/// The Git revision that last changed an object.
pub const REVISION_ANNOTATION: &str = "wavesync.io/revision";

/// `o` with [`REVISION_ANNOTATION`] set to `revision`.
pub fn stamp(o: &mut Object, revision: &str) {
    let meta = &mut o.json["metadata"];
    if !meta.get("annotations").is_some_and(Value::is_object) {
        meta["annotations"] = Value::Object(Default::default());
    }
    meta["annotations"][REVISION_ANNOTATION] = Value::String(revision.to_owned());
}

/// The revision a live object carries, if any.
pub fn of_live(live: &Value) -> Option<&str> {
    live.pointer("/metadata/annotations")?
        .get(REVISION_ANNOTATION)?
        .as_str()
}

/// `o` with the revision annotation the live object carries: applying it
/// puts back the state of the revision that was applied (a drift check, a
/// heal, an unchanged object's comparison, a reviewer's live diff), not a
/// new one. Left without the annotation when the live object has none.
pub fn as_live(o: &Object, live: &Value) -> Object {
    let mut o = o.clone();
    if let Some(rev) = of_live(live) {
        stamp(&mut o, rev);
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_live_revision_is_carried_over_and_none_is_not_invented() {
        let o = Object {
            json: json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}}),
            origin: crate::model::Origin {
                file: "a.yaml".into(),
                doc: 0,
                line: Some(1),
                release_namespace: None,
            },
        };
        let live = json!({"metadata": {"annotations": {REVISION_ANNOTATION: "abc"}}});
        assert_eq!(of_live(&as_live(&o, &live).json), Some("abc"));
        assert_eq!(of_live(&as_live(&o, &json!({"metadata": {}})).json), None);
        let mut s = o.clone();
        stamp(&mut s, "def");
        assert_eq!(of_live(&s.json), Some("def"));
    }
}
