//! Patch targets: which resources a `target:` selects, as kustomize selects
//! them (`resmap.Select`).
//!
//! `group`, `version`, `kind`, `name` and `namespace` are regular
//! expressions anchored to the whole value; `name` and `namespace` match
//! either the resource's original or its current value. `labelSelector` and
//! `annotationSelector` use the Kubernetes label selector syntax.

use super::regex::Regex;
use super::{Res, is_cluster_scoped, unsupported};
use crate::render::RenderError;
use serde_json::Value;
use std::path::Path;

/// A parsed `target`.
#[derive(Debug, Clone)]
pub(super) struct Selector {
    group: Option<Regex>,
    version: Option<Regex>,
    kind: Option<Regex>,
    name: Option<Regex>,
    namespace: Option<Regex>,
    labels: Vec<Requirement>,
    annotations: Vec<Requirement>,
}

/// One term of a label selector.
#[derive(Debug, Clone)]
enum Requirement {
    Equals(String, String),
    NotEquals(String, String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    NotExists(String),
}

impl Selector {
    /// Parses the `target` mapping found at `field` of the kustomization `file`.
    pub(super) fn parse(t: &Value, field: &str, file: &Path) -> Result<Self, RenderError> {
        let Some(m) = t.as_object() else {
            return Err(super::err(file, format!("`{field}` must be a mapping")));
        };
        let mut s = Selector {
            group: None,
            version: None,
            kind: None,
            name: None,
            namespace: None,
            labels: Vec::new(),
            annotations: Vec::new(),
        };
        for (k, v) in m {
            let text = match v {
                Value::String(s) => s.clone(),
                Value::Null => String::new(),
                other => other.to_string(),
            };
            // An empty pattern selects everything, as in kustomize.
            if text.is_empty() {
                continue;
            }
            let regex = || {
                Regex::new(&text)
                    .map(Some)
                    .map_err(|e| super::err(file, format!("`{field}.{k}`: {e}")))
            };
            match k.as_str() {
                "group" => s.group = regex()?,
                "version" => s.version = regex()?,
                "kind" => s.kind = regex()?,
                "name" => s.name = regex()?,
                "namespace" => s.namespace = regex()?,
                "labelSelector" => s.labels = requirements(&text, field, file)?,
                "annotationSelector" => s.annotations = requirements(&text, field, file)?,
                other => return Err(unsupported(file, format!("{field}.{other}"))),
            }
        }
        Ok(s)
    }

    /// Whether the selector picks `r`.
    pub(super) fn matches(&self, r: &Res) -> bool {
        let j = &r.json;
        let api_version = j["apiVersion"].as_str().unwrap_or_default();
        let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
        let kind = j["kind"].as_str().unwrap_or_default();
        let ok =
            |re: &Option<Regex>, value: &str| re.as_ref().is_none_or(|re| re.is_full_match(value));
        let org = r.org_id();
        let cur = r.cur_id();
        // kustomize compares "effective" namespaces: none is `default`, and a
        // cluster-scoped resource has a namespace no pattern but `.*` matches.
        let effective = |ns: &str| -> String {
            if is_cluster_scoped(j) {
                "_non_namespaceable_".to_owned()
            } else if ns.is_empty() {
                "default".to_owned()
            } else {
                ns.to_owned()
            }
        };
        (ok(&self.namespace, &effective(&org.namespace))
            || ok(&self.namespace, &effective(&cur.namespace)))
            && (ok(&self.name, &org.name) || ok(&self.name, &cur.name))
            && ok(&self.group, group)
            && ok(&self.version, version)
            && ok(&self.kind, kind)
            && self
                .labels
                .iter()
                .all(|q| q.matches(j.pointer("/metadata/labels")))
            && self
                .annotations
                .iter()
                .all(|q| q.matches(j.pointer("/metadata/annotations")))
    }
}

impl Requirement {
    fn matches(&self, map: Option<&Value>) -> bool {
        let get = |k: &str| map.and_then(|m| m.get(k)).and_then(Value::as_str);
        match self {
            Requirement::Equals(k, v) => get(k) == Some(v.as_str()),
            Requirement::NotEquals(k, v) => get(k) != Some(v.as_str()),
            Requirement::In(k, vs) => get(k).is_some_and(|h| vs.iter().any(|v| v == h)),
            Requirement::NotIn(k, vs) => get(k).is_none_or(|h| vs.iter().all(|v| v != h)),
            Requirement::Exists(k) => get(k).is_some(),
            Requirement::NotExists(k) => get(k).is_none(),
        }
    }
}

/// Parses a label selector: `a=b,c!=d,e in (f,g),h notin (i),j,!k`.
fn requirements(text: &str, field: &str, file: &Path) -> Result<Vec<Requirement>, RenderError> {
    let bad = || {
        super::err(
            file,
            format!("`{field}`: cannot parse the label selector `{text}`"),
        )
    };
    // Split on commas outside parentheses.
    let mut terms = Vec::new();
    let (mut depth, mut start) = (0usize, 0usize);
    for (i, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.checked_sub(1).ok_or_else(bad)?,
            ',' if depth == 0 => {
                terms.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    terms.push(&text[start..]);
    let mut out = Vec::new();
    for term in terms {
        let term = term.trim();
        if term.is_empty() {
            return Err(bad());
        }
        let set = |rest: &str| -> Option<Vec<String>> {
            let inner = rest.trim().strip_prefix('(')?.strip_suffix(')')?;
            Some(inner.split(',').map(|v| v.trim().to_owned()).collect())
        };
        let words: Vec<&str> = term.splitn(2, char::is_whitespace).collect();
        let req = if let Some(k) = term.strip_prefix('!') {
            Requirement::NotExists(k.trim().to_owned())
        } else if let Some((k, v)) = term.split_once("!=") {
            Requirement::NotEquals(k.trim().to_owned(), v.trim().to_owned())
        } else if let Some((k, v)) = term.split_once("==").or_else(|| term.split_once('=')) {
            Requirement::Equals(k.trim().to_owned(), v.trim().to_owned())
        } else if words.len() == 2 {
            let rest = words[1].trim_start();
            if let Some(r) = rest.strip_prefix("notin") {
                Requirement::NotIn(words[0].to_owned(), set(r).ok_or_else(bad)?)
            } else if let Some(r) = rest.strip_prefix("in") {
                Requirement::In(words[0].to_owned(), set(r).ok_or_else(bad)?)
            } else {
                return Err(bad());
            }
        } else {
            Requirement::Exists(term.to_owned())
        };
        out.push(req);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Origin;
    use serde_json::json;

    fn res(v: Value) -> Res {
        Res::new(
            v,
            Origin {
                file: "x.yaml".into(),
                doc: 0,
                line: None,
                release_namespace: None,
            },
        )
    }

    fn sel(t: Value) -> Selector {
        Selector::parse(&t, "target", Path::new("k.yaml")).expect("selector")
    }

    #[test]
    fn label_selectors_use_the_kubernetes_syntax() {
        let r = res(json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "api", "labels": {"tier": "backend", "app": "api"}}}));
        for (s, want) in [
            ("tier=backend", true),
            ("tier==backend,app=api", true),
            ("tier!=backend", false),
            ("tier in (frontend, backend)", true),
            ("tier notin (backend)", false),
            ("app", true),
            ("!app", false),
            ("!missing,app in (api)", true),
        ] {
            assert_eq!(sel(json!({"labelSelector": s})).matches(&r), want, "{s}");
        }
    }

    #[test]
    fn names_match_the_original_or_the_current_name() {
        let mut r =
            res(json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "api"}}));
        r.store_prev();
        r.json["metadata"]["name"] = json!("prod-api");
        r.json["metadata"]["namespace"] = json!("prod");
        assert!(sel(json!({"name": "api"})).matches(&r));
        assert!(sel(json!({"name": "prod-.*"})).matches(&r));
        assert!(!sel(json!({"name": "pro"})).matches(&r));
        // The original id has no namespace, which kustomize reads as `default`.
        assert!(sel(json!({"namespace": "default"})).matches(&r));
        assert!(sel(json!({"namespace": "prod", "version": "v1", "group": ""})).matches(&r));
        assert!(!sel(json!({"group": "apps"})).matches(&r));
    }

    #[test]
    fn malformed_selectors_are_errors() {
        for t in [
            json!({"labelSelector": "a in b"}),
            json!({"labelSelector": "a,,b"}),
            json!({"kind": "(x"}),
        ] {
            assert!(
                Selector::parse(&t, "target", Path::new("k.yaml")).is_err(),
                "{t}"
            );
        }
    }
}
