//! Ignore rules: which differences never count as drift. A rule selects
//! objects (group, kind, name, namespace; `*` wildcards in names) and
//! ignores, on them, the fields under its JSON pointers or field paths, and
//! every field owned by its field managers.

use super::fields;
use crate::config::IgnoreRule;
use crate::model::ObjRef;

/// Whether `rule` selects the object `r`.
pub fn selects(rule: &IgnoreRule, r: &ObjRef) -> bool {
    rule.group.as_deref().is_none_or(|g| g == r.group())
        && rule.kind.as_deref().is_none_or(|k| k == r.kind)
        && rule.name.as_deref().is_none_or(|n| glob(n, &r.name))
        && rule
            .namespace
            .as_deref()
            .is_none_or(|n| glob(n, &r.namespace))
}

/// One changed field, as the rules see it.
#[derive(Debug, Clone, Copy)]
pub struct Field<'a> {
    /// As [`fields::display`] prints it.
    pub path: &'a str,
    /// As an RFC 6901 pointer, when it resolves.
    pub pointer: Option<&'a str>,
    /// The managers that own it now.
    pub managers: &'a [String],
}

/// Why a changed field does not count, when one of `rules` ignores it.
pub fn ignored_by(rules: &[IgnoreRule], r: &ObjRef, f: Field<'_>) -> Option<String> {
    for rule in rules.iter().filter(|rule| selects(rule, r)) {
        if let Some(p) = f.pointer
            && let Some(rp) = rule.json_pointers.iter().find(|rp| under(p, rp, b'/'))
        {
            return Some(format!("jsonPointer {rp}"));
        }
        if let Some(fp) = rule.field_paths.iter().find(|fp| field_under(f.path, fp)) {
            return Some(format!("fieldPath {fp}"));
        }
        if let Some(m) = f.managers.iter().find(|m| rule.managers.contains(m)) {
            return Some(format!("owned by {m}"));
        }
    }
    None
}

/// Whether any of `rules` ignores the fields owned by `manager` on `r`.
pub fn manager_ignored(rules: &[IgnoreRule], r: &ObjRef, manager: &str) -> bool {
    rules
        .iter()
        .any(|rule| selects(rule, r) && rule.managers.iter().any(|m| m == manager))
}

/// `path` is `prefix` or below it (the next character is a separator).
fn under(path: &str, prefix: &str, sep: u8) -> bool {
    let prefix = prefix.strip_suffix(sep as char).unwrap_or(prefix);
    path == prefix
        || (path.starts_with(prefix) && path.as_bytes().get(prefix.len()) == Some(&sep))
        || prefix.is_empty()
}

fn field_under(path: &str, prefix: &str) -> bool {
    path == prefix
        || (path.starts_with(prefix)
            && matches!(path.as_bytes().get(prefix.len()), Some(b'.' | b'[')))
}

/// The canonical form of a field path written in a rule (so that
/// `metadata.annotations["a"]` and `metadata.annotations.a` match alike).
///
/// # Errors
/// What is wrong with the path.
pub fn normalize_field_path(text: &str) -> Result<String, String> {
    fields::parse(text).map(|p| fields::display(&p))
}

/// Checks an RFC 6901 pointer: `/`-separated, `~` only as `~0` or `~1`.
///
/// # Errors
/// What is wrong with it.
pub fn check_pointer(p: &str) -> Result<(), String> {
    if !p.starts_with('/') {
        return Err(format!(
            "{p:?} is not a JSON pointer: it must start with '/'"
        ));
    }
    let b = p.as_bytes();
    for (i, c) in b.iter().enumerate() {
        if *c == b'~' && !matches!(b.get(i + 1), Some(b'0' | b'1')) {
            return Err(format!(
                "{p:?}: '~' at character {} must be written ~0 ('~') or ~1 ('/')",
                i + 1
            ));
        }
    }
    Ok(())
}

/// `*` matches any run of characters; everything else matches itself.
fn glob(pattern: &str, text: &str) -> bool {
    let Some((head, rest)) = pattern.split_once('*') else {
        return pattern == text;
    };
    let Some(mut tail) = text.strip_prefix(head) else {
        return false;
    };
    let parts: Vec<&str> = rest.split('*').collect();
    let (last, middle) = parts.split_last().unwrap_or((&"", &[]));
    for part in middle {
        match tail.find(part) {
            Some(i) => tail = &tail[i + part.len()..],
            None => return false,
        }
    }
    tail.ends_with(last)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deploy(ns: &str, name: &str) -> ObjRef {
        ObjRef {
            api_version: "apps/v1".into(),
            kind: "Deployment".into(),
            namespace: ns.into(),
            name: name.into(),
        }
    }

    fn field<'a>(path: &'a str, pointer: &'a str, managers: &'a [String]) -> Field<'a> {
        Field {
            path,
            pointer: Some(pointer),
            managers,
        }
    }

    #[test]
    fn rules_select_by_group_kind_and_wildcard_names() {
        let rule = IgnoreRule {
            group: Some("apps".into()),
            kind: Some("Deployment".into()),
            name: Some("web-*".into()),
            ..Default::default()
        };
        assert!(selects(&rule, &deploy("shop", "web-eu")));
        assert!(!selects(&rule, &deploy("shop", "api")));
        let core = IgnoreRule {
            group: Some(String::new()),
            ..Default::default()
        };
        assert!(!selects(&core, &deploy("shop", "web")));
        assert!(glob("*-db-*", "shop-db-0"));
        assert!(!glob("*-db-*", "shop-cache-0"));
    }

    #[test]
    fn pointers_and_paths_cover_what_is_under_them_only() {
        let rule = IgnoreRule {
            json_pointers: vec!["/spec/replicas".into()],
            field_paths: vec!["spec.template.metadata.annotations".into()],
            ..Default::default()
        };
        let r = deploy("shop", "web");
        let none: [String; 0] = [];
        assert!(
            ignored_by(
                std::slice::from_ref(&rule),
                &r,
                field("spec.replicas", "/spec/replicas", &none)
            )
            .is_some()
        );
        assert!(
            ignored_by(
                std::slice::from_ref(&rule),
                &r,
                field("spec.replicasX", "/spec/replicasX", &none)
            )
            .is_none()
        );
        assert!(
            ignored_by(
                std::slice::from_ref(&rule),
                &r,
                field(
                    "spec.template.metadata.annotations[\"x/y\"]",
                    "/spec/template/metadata/annotations/x~1y",
                    &none
                )
            )
            .is_some()
        );
        assert!(
            ignored_by(
                &[rule],
                &r,
                field("spec.template.spec", "/spec/template/spec", &none)
            )
            .is_none()
        );
    }

    #[test]
    fn fields_of_a_listed_manager_do_not_count() {
        let rule = IgnoreRule {
            managers: vec!["hpa-controller".into()],
            ..Default::default()
        };
        let r = deploy("shop", "web");
        let hpa = ["hpa-controller".to_string()];
        let edit = ["kubectl-edit".to_string()];
        assert_eq!(
            ignored_by(
                std::slice::from_ref(&rule),
                &r,
                field("spec.replicas", "/spec/replicas", &hpa)
            )
            .as_deref(),
            Some("owned by hpa-controller")
        );
        assert!(ignored_by(&[rule], &r, field("spec.replicas", "/spec/replicas", &edit)).is_none());
    }

    #[test]
    fn malformed_pointers_are_refused() {
        assert!(check_pointer("spec/replicas").is_err());
        assert!(check_pointer("/metadata/annotations/a~2b").is_err());
        assert!(check_pointer("/metadata/annotations/a~1b").is_ok());
        assert_eq!(
            normalize_field_path("metadata.annotations[\"team\"]").as_deref(),
            Ok("metadata.annotations.team")
        );
    }
}
