//! Object names as the API server checks them, checked before anything is
//! applied: a name the server refuses would otherwise fail its wave half-way,
//! after the objects before it in the wave were applied.

use super::PlanError;
use crate::kinds::NameRule;
use crate::model::Object;
use serde_json::Value;

const SUBDOMAIN_RULE: &str = "a lowercase RFC 1123 subdomain: at most 253 lowercase letters, \
                              digits, '-' and '.', beginning and ending with a letter or digit";
const LABEL_RULE: &str = "a lowercase RFC 1123 label: at most 63 lowercase letters, digits \
                          and '-', beginning and ending with a letter or digit";
const SEGMENT_RULE: &str = "at most 253 characters, without '/' or '%', and not '.' or '..'";

/// Checks `metadata.name` (and `metadata.namespace`, once settled) of `o`.
///
/// # Errors
/// [`PlanError::InvalidObjectName`] naming the field and the rule.
pub(crate) fn check(o: &Object) -> Result<(), PlanError> {
    let r = o.reference();
    let name = o
        .json
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let names = crate::kinds::of_ref(&r).map_or(NameRule::Segment, |k| k.names);
    let rule = match names {
        NameRule::Label => (!is_label(name)).then_some(LABEL_RULE),
        NameRule::Subdomain => (!is_subdomain(name)).then_some(SUBDOMAIN_RULE),
        NameRule::Segment => (!is_path_segment(name)).then_some(SEGMENT_RULE),
    };
    if let Some(rule) = rule {
        return Err(invalid(o, "metadata.name", name, rule));
    }
    if let Some(ns) = o
        .json
        .pointer("/metadata/namespace")
        .and_then(Value::as_str)
        && !is_label(ns)
    {
        return Err(invalid(o, "metadata.namespace", ns, LABEL_RULE));
    }
    Ok(())
}

fn invalid(o: &Object, field: &'static str, value: &str, rule: &'static str) -> PlanError {
    // A name of 300 characters is shown cut, with its length.
    let shown = if value.chars().count() > 80 {
        format!(
            "{}… ({} characters)",
            value.chars().take(60).collect::<String>(),
            value.chars().count()
        )
    } else {
        value.to_owned()
    };
    PlanError::InvalidObjectName {
        object: format!(
            "{} {}",
            o.json
                .get("kind")
                .and_then(Value::as_str)
                .unwrap_or_default(),
            o.json
                .pointer("/metadata/name")
                .and_then(Value::as_str)
                .map(|n| if n.chars().count() > 80 { "…" } else { n })
                .unwrap_or_default()
        ),
        origin: Box::new(o.origin.clone()),
        field,
        value: shown,
        rule,
    }
}

fn is_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

fn is_subdomain(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|part| {
            !part.is_empty()
                && part
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && !part.starts_with('-')
                && !part.ends_with('-')
        })
}

fn is_path_segment(s: &str) -> bool {
    !s.is_empty() && s.len() <= 253 && s != "." && s != ".." && !s.contains(['/', '%'])
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn named(kind: &str, api_version: &str, name: &str, ns: Option<&str>) -> Result<(), PlanError> {
        let mut meta = json!({"name": name});
        if let Some(ns) = ns {
            meta["namespace"] = ns.into();
        }
        check(&Object {
            json: json!({"apiVersion": api_version, "kind": kind, "metadata": meta}),
            origin: Default::default(),
        })
    }

    #[test]
    fn names_follow_the_api_servers_rules() {
        assert!(named("ConfigMap", "v1", "web.config-1", Some("shop")).is_ok());
        assert!(named("ConfigMap", "v1", "Bad_Name", Some("shop")).is_err());
        assert!(named("ConfigMap", "v1", &"a".repeat(254), Some("shop")).is_err());
        assert!(named("Namespace", "v1", "a.b", None).is_err());
        assert!(named("Service", "v1", &"a".repeat(63), Some("shop")).is_ok());
        // RBAC names may hold ':' and capitals; custom resources are checked
        // only as path segments.
        assert!(
            named(
                "ClusterRole",
                "rbac.authorization.k8s.io/v1",
                "system:Reader",
                None
            )
            .is_ok()
        );
        assert!(named("Widget", "example.com/v1", "Big_One", Some("shop")).is_ok());
        assert!(named("Widget", "example.com/v1", "a/b", Some("shop")).is_err());
        let e = named("ConfigMap", "v1", "ok", Some("Shop.Main")).expect_err("namespace");
        assert!(
            e.to_string().contains("metadata.namespace \"Shop.Main\""),
            "{e}"
        );
    }
}
