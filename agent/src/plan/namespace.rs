//! Namespaces as the API server will see them: defaulted on namespaced
//! objects, removed from cluster-scoped ones (kubectl ignores it there too).

use super::PlanError;
use super::labels::invalid;
use super::scopes::Scopes;
use crate::model::Object;
use serde_json::Value;

/// Sets or removes `metadata.namespace` according to the kind's scope.
///
/// # Errors
/// [`PlanError::UnknownKind`] when no source knows the kind's scope;
/// [`PlanError::InvalidField`] when `metadata` is not a mapping or the
/// namespace not a string.
pub(crate) fn normalize(
    object: &mut Object,
    scopes: &dyn Scopes,
    default_namespace: &str,
) -> Result<(), PlanError> {
    let r = object.reference();
    let Some(namespaced) = scopes.namespaced(&r.api_version, &r.kind) else {
        return Err(PlanError::UnknownKind {
            api_version: r.api_version,
            kind: r.kind,
            origin: Box::new(object.origin.clone()),
        });
    };
    let bad_namespace = matches!(object.json.pointer("/metadata/namespace"), Some(v) if !v.is_string() && !v.is_null());
    if bad_namespace {
        return Err(invalid(object, "metadata.namespace", "a string"));
    }
    let Some(metadata) = object
        .json
        .get_mut("metadata")
        .and_then(Value::as_object_mut)
    else {
        return Err(invalid(object, "metadata", "a mapping"));
    };
    if !namespaced {
        metadata.remove("namespace");
    } else if metadata
        .get("namespace")
        .and_then(Value::as_str)
        .is_none_or(str::is_empty)
    {
        metadata.insert(
            "namespace".to_owned(),
            Value::String(
                object
                    .origin
                    .release_namespace
                    .clone()
                    .unwrap_or_else(|| default_namespace.to_owned()),
            ),
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::scopes::Builtin;
    use serde_json::json;

    fn normalized(json: Value) -> Result<Value, PlanError> {
        let mut o = Object {
            json,
            origin: Default::default(),
        };
        normalize(&mut o, &Builtin, "team-a")?;
        Ok(o.json)
    }

    #[test]
    fn namespaced_objects_get_the_default_and_cluster_scoped_lose_theirs() {
        let cm =
            normalized(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}}))
                .expect("ok");
        assert_eq!(cm.pointer("/metadata/namespace"), Some(&json!("team-a")));
        let kept = normalized(
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a", "namespace": "x"}}),
        );
        assert_eq!(
            kept.expect("ok").pointer("/metadata/namespace"),
            Some(&json!("x"))
        );
        let cr = normalized(
            json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
            "metadata": {"name": "r", "namespace": "x"}}),
        );
        assert_eq!(
            cr.expect("ok"),
            json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "r"}})
        );
    }

    #[test]
    fn unknown_kinds_are_refused_with_a_hint() {
        let mut o = Object {
            json: json!({"apiVersion": "postgresql.cnpg.io/v1", "kind": "Cluster", "metadata": {"name": "pg"}}),
            origin: crate::model::Origin {
                file: "waves/20/pg.yaml".into(),
                doc: 0,
                line: Some(1),
                release_namespace: None,
            },
        };
        let e = normalize(&mut o, &Builtin, "default").expect_err("unknown");
        assert_eq!(
            e.to_string(),
            "unknown kind Cluster (postgresql.cnpg.io/v1) in file waves/20/pg.yaml:1; is its CRD in this or an earlier wave?"
        );
    }
}
