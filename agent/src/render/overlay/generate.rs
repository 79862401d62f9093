//! configMapGenerator, secretGenerator, generatorOptions, and the content-hash suffix.

use super::{Res, err, join, read_text};
use crate::model::Origin;
use crate::render::{RenderError, RenderRequest};
use base64::Engine;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use std::path::Path;

const GEN_FIELDS: [&str; 9] = [
    "name",
    "namespace",
    "behavior",
    "literals",
    "files",
    "envs",
    "options",
    "type",
    "env",
];

pub(super) fn run(
    req: &RenderRequest,
    dir: &Path,
    file: &Path,
    k: &Map<String, Value>,
    out: &mut Vec<Res>,
) -> Result<(), RenderError> {
    let opts = k.get("generatorOptions").cloned().unwrap_or(Value::Null);
    for (field, kind) in [
        ("configMapGenerator", "ConfigMap"),
        ("secretGenerator", "Secret"),
    ] {
        let Some(list) = k.get(field) else { continue };
        let Some(list) = list.as_array() else {
            return Err(err(file, format!("`{field}` must be a list")));
        };
        for g in list {
            let Some(gm) = g.as_object() else {
                return Err(err(file, format!("`{field}` entries must be mappings")));
            };
            for key in gm.keys() {
                if !GEN_FIELDS.contains(&key.as_str()) {
                    return Err(err(
                        file,
                        format!("`{field}` field `{key}` is not supported by wavesync"),
                    ));
                }
            }
            let name = gm
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            let mut data = Map::new();
            for lit in strs(g, "literals") {
                let (key, val) = lit
                    .split_once('=')
                    .ok_or_else(|| err(file, format!("literal `{lit}` has no `=`")))?;
                data.insert(key.to_owned(), Value::String(unquote(val).to_owned()));
            }
            let mut envs = strs(g, "envs");
            envs.extend(strs(g, "env"));
            for e in envs {
                let p = join(req, dir, &e, file)?;
                for line in read_text(req, &p.rel)?.lines() {
                    let line = line.trim_start();
                    if line.is_empty() || line.starts_with('#') {
                        continue;
                    }
                    match line.split_once('=') {
                        Some((k, v)) => data.insert(k.to_owned(), Value::String(v.to_owned())),
                        None => return Err(err(&p.rel, format!("line `{line}` has no `=`"))),
                    };
                }
            }
            for f in strs(g, "files") {
                let (key, path) = match f.split_once('=') {
                    Some((k, p)) => (k.to_owned(), p.to_owned()),
                    None => (
                        Path::new(&f)
                            .file_name()
                            .map(|n| n.to_string_lossy().into_owned())
                            .unwrap_or_default(),
                        f.clone(),
                    ),
                };
                let p = join(req, dir, &path, file)?;
                data.insert(key, Value::String(read_text(req, &p.rel)?));
            }
            let mut obj = json!({"apiVersion": "v1", "kind": kind, "metadata": {"name": name}});
            if let Some(ns) = gm.get("namespace").and_then(Value::as_str) {
                obj["metadata"]["namespace"] = json!(ns);
            }
            if kind == "Secret" {
                let t = gm.get("type").and_then(Value::as_str).unwrap_or("Opaque");
                obj["type"] = json!(t);
            }
            let mut hash = true;
            for o in [&opts, gm.get("options").unwrap_or(&Value::Null)] {
                for what in ["labels", "annotations"] {
                    if let Some(m) = o.get(what).and_then(Value::as_object) {
                        let md = obj["metadata"].as_object_mut().expect("metadata");
                        let e = md.entry(what).or_insert_with(|| json!({}));
                        for (k, v) in m {
                            e[k] = v.clone();
                        }
                    }
                }
                if let Some(d) = o.get("disableNameSuffixHash").and_then(Value::as_bool) {
                    hash = !d;
                }
            }
            let behavior = gm
                .get("behavior")
                .and_then(Value::as_str)
                .unwrap_or("create");
            let existing = out.iter().position(|r| {
                r.json["kind"] == kind
                    && r.orig_name == name
                    && r.json.pointer("/metadata/namespace") == obj.pointer("/metadata/namespace")
            });
            match (behavior, existing) {
                ("create", None) => {
                    set_data(&mut obj, kind, data);
                    out.push(Res {
                        json: obj,
                        origin: Origin {
                            file: file.to_path_buf(),
                            doc: 0,
                            line: None,
                            release_namespace: None,
                        },
                        orig_name: name,
                        hash,
                    });
                }
                ("merge" | "replace", Some(i)) => {
                    let r = &mut out[i];
                    let mut merged = if behavior == "merge" {
                        r.json
                            .get("data")
                            .and_then(Value::as_object)
                            .cloned()
                            .unwrap_or_default()
                    } else {
                        Map::new()
                    };
                    if kind == "Secret" {
                        for v in merged.values_mut() {
                            let s = v.as_str().unwrap_or_default();
                            let d = base64::engine::general_purpose::STANDARD
                                .decode(s)
                                .unwrap_or_default();
                            *v = Value::String(String::from_utf8_lossy(&d).into_owned());
                        }
                    }
                    merged.extend(data);
                    set_data(&mut r.json, kind, merged);
                    for what in ["labels", "annotations"] {
                        if let Some(m) = obj["metadata"].get(what).and_then(Value::as_object) {
                            let md = r.json["metadata"].as_object_mut().expect("metadata");
                            let e = md.entry(what).or_insert_with(|| json!({}));
                            for (k, v) in m {
                                e[k] = v.clone();
                            }
                        }
                    }
                    r.hash = r.hash && hash;
                }
                ("create", Some(_)) => {
                    return Err(err(
                        file,
                        format!("{kind} `{name}` already exists; use behavior merge or replace"),
                    ));
                }
                (b, None) if b == "merge" || b == "replace" => {
                    return Err(err(
                        file,
                        format!("{kind} `{name}`: behavior {b} but no such object in the bases"),
                    ));
                }
                (b, _) => return Err(err(file, format!("unknown generator behavior `{b}`"))),
            }
        }
    }
    Ok(())
}

fn set_data(obj: &mut Value, kind: &str, data: Map<String, Value>) {
    let data: Map<String, Value> = if kind == "Secret" {
        data.into_iter()
            .map(|(k, v)| {
                let s = v.as_str().unwrap_or_default().to_owned();
                (
                    k,
                    Value::String(base64::engine::general_purpose::STANDARD.encode(s)),
                )
            })
            .collect()
    } else {
        data
    };
    if data.is_empty() {
        obj.as_object_mut().expect("object").shift_remove("data");
    } else {
        obj["data"] = Value::Object(data);
    }
}

fn strs(g: &Value, field: &str) -> Vec<String> {
    g.get(field)
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

fn unquote(v: &str) -> &str {
    for q in ['"', '\''] {
        if v.len() >= 2 && v.starts_with(q) && v.ends_with(q) {
            return &v[1..v.len() - 1];
        }
    }
    v
}

/// Appends the content-hash suffix to generated ConfigMaps and Secrets, as kustomize does.
pub(super) fn add_hashes(res: &mut [Res]) -> Result<(), RenderError> {
    for r in res.iter_mut().filter(|r| r.hash) {
        let kind = r.json["kind"].as_str().unwrap_or_default().to_owned();
        let name = super::name(&r.json);
        let mut m = std::collections::BTreeMap::new();
        m.insert("kind", Value::String(kind.clone()));
        // kustomize v5.5 hashes with an empty name (checked against kubectl v1.32).
        m.insert("name", Value::String(String::new()));
        if kind == "Secret" {
            m.insert("type", r.json.get("type").cloned().unwrap_or(json!("")));
        }
        let sorted = |v: Option<&Value>| -> Value {
            let b: std::collections::BTreeMap<String, Value> = v
                .and_then(Value::as_object)
                .map(|o| o.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                .unwrap_or_default();
            serde_json::to_value(b).unwrap_or_default()
        };
        m.insert("data", sorted(r.json.get("data")));
        if r.json
            .get("binaryData")
            .is_some_and(|b| b.as_object().is_some_and(|o| !o.is_empty()))
        {
            m.insert("binaryData", sorted(r.json.get("binaryData")));
        }
        let text = serde_json::to_string(&m).unwrap_or_default();
        let text = text
            .replace('<', "\\u003c")
            .replace('>', "\\u003e")
            .replace('&', "\\u0026")
            .replace('\u{2028}', "\\u2028")
            .replace('\u{2029}', "\\u2029");
        let hex: String = Sha256::digest(text.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let enc: String = hex[..10]
            .chars()
            .map(|c| match c {
                '0' => 'g',
                '1' => 'h',
                '3' => 'k',
                'a' => 'm',
                'e' => 't',
                c => c,
            })
            .collect();
        r.json["metadata"]["name"] = Value::String(format!("{name}-{enc}"));
    }
    Ok(())
}
