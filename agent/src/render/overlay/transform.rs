//! A kustomization's transformers, in kustomize's fixed order: strategic
//! merge patches, `patches`, namespace, name prefix and suffix, labels,
//! annotations, JSON 6902 patches, replicas, images.

use super::fieldspec::{self, ANNOTATIONS, FieldSpec, METADATA_LABELS, REPLICAS, SELECTOR_LABELS};
use super::regex::Regex;
use super::{Res, check_keys, err, is_cluster_scoped, patch};
use crate::render::{RenderError, RenderRequest};
use serde_json::{Map, Value, json};
use std::path::Path;

/// Runs the transformers of the kustomization `k` (file `file`, directory `dir`).
pub(super) fn run(
    req: &RenderRequest,
    dir: &Path,
    file: &Path,
    k: &Map<String, Value>,
    out: &mut Vec<Res>,
) -> Result<(), RenderError> {
    let ctx = patch::Ctx { req, dir, file };
    patch::strategic_merge(&ctx, k, out)?;
    patch::patches(&ctx, k, out)?;
    set_namespace(k, file, out)?;
    prefix_suffix(k, file, out)?;
    labels(k, file, out)?;
    annotations(k, file, out)?;
    patch::json6902(&ctx, k, out)?;
    replicas(k, file, out)?;
    images(k, file, out)?;
    Ok(())
}

/// A string field of the kustomization, empty when absent.
fn string<'a>(k: &'a Map<String, Value>, field: &str, file: &Path) -> Result<&'a str, RenderError> {
    match k.get(field) {
        None | Some(Value::Null) => Ok(""),
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(err(file, format!("`{field}` must be a string"))),
    }
}

/// A string map field (`commonLabels`, `pairs`…).
fn string_map<'a>(
    v: Option<&'a Value>,
    at: &str,
    file: &Path,
) -> Result<Option<&'a Map<String, Value>>, RenderError> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(m)) => {
            // kustomize refuses a number or boolean here rather than convert it.
            if let Some((k, _)) = m.iter().find(|(_, v)| !v.is_string()) {
                return Err(err(file, format!("`{at}.{k}` must be a string (quote it)")));
            }
            Ok(Some(m))
        }
        Some(_) => Err(err(file, format!("`{at}` must be a mapping"))),
    }
}

fn list<'a>(
    k: &'a Map<String, Value>,
    field: &str,
    file: &Path,
) -> Result<&'a [Value], RenderError> {
    match k.get(field) {
        None | Some(Value::Null) => Ok(&[]),
        Some(Value::Array(a)) => Ok(a),
        Some(_) => Err(err(file, format!("`{field}` must be a list"))),
    }
}

/// The items of a list field with where they are (`images[0]`).
type Entries<'a> = Vec<(String, &'a Map<String, Value>)>;

/// The items of a list field, each a mapping whose keys are in `allowed`.
fn entries<'a>(
    k: &'a Map<String, Value>,
    field: &str,
    allowed: &[&str],
    file: &Path,
) -> Result<Entries<'a>, RenderError> {
    list(k, field, file)?
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let at = format!("{field}[{i}]");
            let m = v
                .as_object()
                .ok_or_else(|| err(file, format!("`{at}` must be a mapping")))?;
            check_keys(m, allowed, &at, file)?;
            Ok((at, m))
        })
        .collect()
}

/// `namespace`: set on every namespaced resource; a `v1` Namespace is
/// renamed to it, and (cluster) role binding subjects named `default` get it,
/// as kustomize does.
fn set_namespace(k: &Map<String, Value>, file: &Path, out: &mut [Res]) -> Result<(), RenderError> {
    let ns = string(k, "namespace", file)?;
    if ns.is_empty() {
        return Ok(());
    }
    const API_SERVICE: FieldSpec = FieldSpec {
        group: "apiregistration.k8s.io",
        version: "",
        kind: "APIService",
        path: "spec/service/namespace",
        create: true,
    };
    for r in out.iter_mut() {
        r.store_prev();
        if !is_cluster_scoped(&r.json) {
            fieldspec::visit(
                &mut r.json,
                &["metadata".to_owned(), "namespace".to_owned()],
                true,
                &mut |v| *v = json!(ns),
            );
        }
        if r.kind() == "Namespace" && r.api_version() == "v1" {
            r.json["metadata"]["name"] = json!(ns);
        }
        if matches!(r.kind(), "RoleBinding" | "ClusterRoleBinding")
            && let Some(Value::Array(subjects)) = r.json.get_mut("subjects")
        {
            for s in subjects.iter_mut().filter(|s| s["name"] == "default") {
                s["namespace"] = json!(ns);
            }
        }
        if API_SERVICE.selects(&r.json) {
            API_SERVICE.visit(&mut r.json, &mut |v| *v = json!(ns));
        }
    }
    for (i, r) in out.iter().enumerate() {
        let id = r.cur_id();
        if out[..i]
            .iter()
            .any(|o| o.api_version() == r.api_version() && o.kind() == r.kind() && o.cur_id() == id)
        {
            return Err(err(
                file,
                format!(
                    "namespace `{ns}` gives two resources the same id: {} {}",
                    r.kind(),
                    id.name
                ),
            ));
        }
    }
    Ok(())
}

/// `namePrefix` and `nameSuffix`, on every resource but Namespaces,
/// CustomResourceDefinitions and APIServices (kustomize skips those).
fn prefix_suffix(k: &Map<String, Value>, file: &Path, out: &mut [Res]) -> Result<(), RenderError> {
    let prefix = string(k, "namePrefix", file)?;
    let suffix = string(k, "nameSuffix", file)?;
    if prefix.is_empty() && suffix.is_empty() {
        return Ok(());
    }
    for r in out.iter_mut() {
        let skip = match r.kind() {
            "Namespace" | "CustomResourceDefinition" => true,
            "APIService" => r.api_version().starts_with("apiregistration.k8s.io/"),
            _ => false,
        };
        if skip {
            continue;
        }
        if !prefix.is_empty() {
            r.prefixes.push(prefix.to_owned());
        }
        if !suffix.is_empty() {
            r.suffixes.push(suffix.to_owned());
        }
        r.store_prev();
        let name = super::name(&r.json);
        r.json["metadata"]["name"] = json!(format!("{prefix}{name}{suffix}"));
    }
    Ok(())
}

fn apply_specs(out: &mut [Res], specs: &[&FieldSpec], pairs: &Map<String, Value>) {
    for r in out.iter_mut() {
        for spec in specs {
            if spec.selects(&r.json) {
                spec.visit(&mut r.json, &mut |v| fieldspec::put_all(v, pairs));
            }
        }
    }
}

/// `labels` (each entry in turn), then `commonLabels`.
fn labels(k: &Map<String, Value>, file: &Path, out: &mut [Res]) -> Result<(), RenderError> {
    let all: Vec<&FieldSpec> = METADATA_LABELS.iter().chain(SELECTOR_LABELS).collect();
    for (at, l) in entries(
        k,
        "labels",
        &["pairs", "includeSelectors", "includeTemplates"],
        file,
    )? {
        let flag = |f: &str| -> Result<bool, RenderError> {
            match l.get(f) {
                None | Some(Value::Null) => Ok(false),
                Some(Value::Bool(b)) => Ok(*b),
                Some(_) => Err(err(file, format!("`{at}.{f}` must be true or false"))),
            }
        };
        let Some(pairs) = string_map(l.get("pairs"), &format!("{at}.pairs"), file)? else {
            continue;
        };
        let specs: Vec<&FieldSpec> = if flag("includeSelectors")? {
            all.clone()
        } else if flag("includeTemplates")? {
            METADATA_LABELS.iter().collect()
        } else {
            vec![&METADATA_LABELS[0]]
        };
        apply_specs(out, &specs, pairs);
    }
    if let Some(pairs) = string_map(k.get("commonLabels"), "commonLabels", file)? {
        apply_specs(out, &all, pairs);
    }
    Ok(())
}

/// `commonAnnotations`.
fn annotations(k: &Map<String, Value>, file: &Path, out: &mut [Res]) -> Result<(), RenderError> {
    if let Some(pairs) = string_map(k.get("commonAnnotations"), "commonAnnotations", file)? {
        let specs: Vec<&FieldSpec> = ANNOTATIONS.iter().collect();
        apply_specs(out, &specs, pairs);
    }
    Ok(())
}

/// `replicas`: by name (current or previous), on the kinds kustomize scales;
/// an entry that matches nothing is an error, as in kustomize.
fn replicas(k: &Map<String, Value>, file: &Path, out: &mut [Res]) -> Result<(), RenderError> {
    for (at, rep) in entries(k, "replicas", &["name", "count"], file)? {
        let Some(name) = rep.get("name").and_then(Value::as_str) else {
            return Err(err(file, format!("`{at}.name` must be a string")));
        };
        let Some(count) = rep.get("count").filter(|c| c.is_i64() || c.is_u64()) else {
            return Err(err(file, format!("`{at}.count` must be an integer")));
        };
        let mut found = false;
        for r in out.iter_mut() {
            if !r.all_ids().iter().any(|id| id.name == name) {
                continue;
            }
            for spec in REPLICAS {
                if spec.selects(&r.json) {
                    spec.visit(&mut r.json, &mut |v| *v = count.clone());
                    found = true;
                }
            }
        }
        if !found {
            return Err(err(
                file,
                format!(
                    "`{at}`: no Deployment, ReplicaSet, ReplicationController or StatefulSet named `{name}`"
                ),
            ));
        }
    }
    Ok(())
}

/// One `images` entry.
struct ImageRule {
    matcher: Regex,
    new_name: Option<String>,
    new_tag: Option<String>,
    digest: Option<String>,
}

/// `images`: every `image` of a `containers` or `initContainers` list,
/// anywhere in a resource but a CustomResourceDefinition.
fn images(k: &Map<String, Value>, file: &Path, out: &mut [Res]) -> Result<(), RenderError> {
    for (at, img) in entries(k, "images", &["name", "newName", "newTag", "digest"], file)? {
        let text = |f: &str| -> Result<Option<String>, RenderError> {
            match img.get(f) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) if s.is_empty() => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(_) => Err(err(file, format!("`{at}.{f}` must be a string (quote it)"))),
            }
        };
        let Some(name) = text("name")? else {
            return Err(err(file, format!("`{at}.name` is required")));
        };
        // kustomize matches the name as a regular expression, followed by
        // an optional tag or digest.
        let matcher = Regex::new(&format!("{name}(@sha256)?(:[a-zA-Z0-9_.{{}}-]*)?"))
            .map_err(|e| err(file, format!("`{at}.name`: {e}")))?;
        let rule = ImageRule {
            matcher,
            new_name: text("newName")?,
            new_tag: text("newTag")?,
            digest: text("digest")?,
        };
        for r in out
            .iter_mut()
            .filter(|r| r.kind() != "CustomResourceDefinition")
        {
            retag_all(&mut r.json, &rule);
        }
    }
    Ok(())
}

fn retag_all(v: &mut Value, rule: &ImageRule) {
    match v {
        Value::Object(m) => {
            for (k, child) in m.iter_mut() {
                if (k == "containers" || k == "initContainers")
                    && let Value::Array(cs) = child
                {
                    for c in cs.iter_mut() {
                        if let Some(Value::String(s)) = c.get_mut("image")
                            && rule.matcher.is_full_match(s)
                        {
                            *s = retag(s, rule);
                        }
                    }
                }
                retag_all(child, rule);
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|c| retag_all(c, rule)),
        _ => {}
    }
}

/// Splits an image into name, tag and digest as kustomize does (a `:`
/// before the first `/` is a registry port, not a tag).
fn split_image(image: &str) -> (&str, &str, &str) {
    let slash = image.find('/').filter(|&i| i > 0).unwrap_or(0);
    let search = &image[slash..];
    let at = search.find('@').map(|i| i + slash);
    let colon = search.find(':').map(|i| i + slash);
    match (colon, at) {
        (None, None) => (image, "", ""),
        (c, Some(a)) if c.is_none_or(|c| a < c) => (&image[..a], "", &image[a + 1..]),
        (Some(c), Some(a)) => (&image[..c], &image[c + 1..a], &image[a + 1..]),
        (Some(c), None) => (&image[..c], &image[c + 1..], ""),
        (None, Some(_)) => (image, "", ""),
    }
}

fn retag(image: &str, rule: &ImageRule) -> String {
    let (name, tag, digest) = split_image(image);
    let name = rule.new_name.as_deref().unwrap_or(name);
    // A new tag or digest replaces both the old tag and the old digest.
    let (tag, digest) = match (&rule.new_tag, &rule.digest) {
        (Some(t), Some(d)) => (t.as_str(), d.as_str()),
        (Some(t), None) => (t.as_str(), ""),
        (None, Some(d)) => ("", d.as_str()),
        (None, None) => (tag, digest),
    };
    let mut s = name.to_owned();
    if !tag.is_empty() {
        s = format!("{s}:{tag}");
    }
    if !digest.is_empty() {
        s = format!("{s}@{digest}");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_split_as_kustomize_splits_them() {
        assert_eq!(split_image("nginx"), ("nginx", "", ""));
        assert_eq!(split_image("nginx:1.25"), ("nginx", "1.25", ""));
        assert_eq!(split_image("nginx@sha256:ab"), ("nginx", "", "sha256:ab"));
        assert_eq!(
            split_image("nginx:1.25@sha256:ab"),
            ("nginx", "1.25", "sha256:ab")
        );
        assert_eq!(
            split_image("registry.local:5000/acme/api:2"),
            ("registry.local:5000/acme/api", "2", "")
        );
        assert_eq!(
            split_image("registry.local:5000/acme/api"),
            ("registry.local:5000/acme/api", "", "")
        );
    }

    #[test]
    fn a_new_tag_or_digest_replaces_both() {
        let rule = |t: Option<&str>, d: Option<&str>| ImageRule {
            matcher: Regex::new("x").expect("pattern"),
            new_name: None,
            new_tag: t.map(str::to_owned),
            digest: d.map(str::to_owned),
        };
        assert_eq!(retag("x:1@sha256:a", &rule(Some("2"), None)), "x:2");
        assert_eq!(
            retag("x:1@sha256:a", &rule(None, Some("sha256:b"))),
            "x@sha256:b"
        );
        assert_eq!(
            retag("x:1", &rule(Some("2"), Some("sha256:b"))),
            "x:2@sha256:b"
        );
        assert_eq!(retag("x:1@sha256:a", &rule(None, None)), "x:1@sha256:a");
    }
}
