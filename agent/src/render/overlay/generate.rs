//! `configMapGenerator`, `secretGenerator` and `generatorOptions`, and the
//! content-hash suffix of generated names.

use super::{Id, Res, check_keys, err, join_file, read_bytes, read_text};
use crate::model::Origin;
use crate::render::{RenderError, RenderRequest};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::Path;

const GENERATOR_FIELDS: [&str; 8] = [
    "name",
    "namespace",
    "behavior",
    "literals",
    "files",
    "envs",
    "env",
    "options",
];
const OPTION_FIELDS: [&str; 4] = [
    "labels",
    "annotations",
    "disableNameSuffixHash",
    "immutable",
];

/// Generator options, after merging a generator's own with `generatorOptions`.
#[derive(Debug, Default, Clone)]
struct Options {
    labels: Map<String, Value>,
    annotations: Map<String, Value>,
    disable_hash: bool,
    immutable: bool,
}

fn options(v: Option<&Value>, at: &str, file: &Path) -> Result<Options, RenderError> {
    let mut o = Options::default();
    let Some(v) = v.filter(|v| !v.is_null()) else {
        return Ok(o);
    };
    let Some(m) = v.as_object() else {
        return Err(err(file, format!("`{at}` must be a mapping")));
    };
    check_keys(m, &OPTION_FIELDS, at, file)?;
    for (what, into) in [
        ("labels", &mut o.labels),
        ("annotations", &mut o.annotations),
    ] {
        match m.get(what) {
            None | Some(Value::Null) => {}
            Some(Value::Object(pairs)) => {
                for (k, v) in pairs {
                    // kustomize refuses a number or boolean here rather than convert it.
                    let Value::String(v) = v else {
                        return Err(err(
                            file,
                            format!("`{at}.{what}.{k}` must be a string (quote it)"),
                        ));
                    };
                    into.insert(k.clone(), Value::String(v.clone()));
                }
            }
            Some(_) => return Err(err(file, format!("`{at}.{what}` must be a mapping"))),
        }
    }
    for (what, into) in [
        ("disableNameSuffixHash", &mut o.disable_hash),
        ("immutable", &mut o.immutable),
    ] {
        match m.get(what) {
            None | Some(Value::Null) => {}
            Some(Value::Bool(b)) => *into = *b,
            Some(_) => return Err(err(file, format!("`{at}.{what}` must be true or false"))),
        }
    }
    Ok(o)
}

/// kustomize merges `generatorOptions` into each generator's options: the
/// generator's own labels and annotations win, and either side can turn on
/// `disableNameSuffixHash` and `immutable` (checked against kubectl kustomize).
fn merged(local: Options, global: &Options) -> Options {
    let mut labels = global.labels.clone();
    labels.extend(local.labels);
    let mut annotations = global.annotations.clone();
    annotations.extend(local.annotations);
    Options {
        labels,
        annotations,
        disable_hash: local.disable_hash || global.disable_hash,
        immutable: local.immutable || global.immutable,
    }
}

fn strs(
    g: &Map<String, Value>,
    field: &str,
    at: &str,
    file: &Path,
) -> Result<Vec<String>, RenderError> {
    match g.get(field) {
        None | Some(Value::Null) => Ok(Vec::new()),
        // The deprecated `env` holds one file.
        Some(Value::String(s)) if field == "env" => Ok(vec![s.clone()]),
        Some(Value::Array(a)) => a
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| err(file, format!("`{at}.{field}` must be a list of strings")))
            })
            .collect(),
        Some(_) => Err(err(
            file,
            format!("`{at}.{field}` must be a list of strings"),
        )),
    }
}

/// The key-value pairs of a generator: env files, then literals, then files
/// (kustomize's order); a repeated key is an error, as in kustomize.
struct Pairs {
    text: BTreeMap<String, String>,
    binary: BTreeMap<String, Vec<u8>>,
}

fn pairs(
    req: &RenderRequest,
    dir: &Path,
    file: &Path,
    g: &Map<String, Value>,
    at: &str,
) -> Result<Pairs, RenderError> {
    let mut p = Pairs {
        text: BTreeMap::new(),
        binary: BTreeMap::new(),
    };
    let add = |p: &mut Pairs, key: String, text: Option<String>, bytes: Vec<u8>| {
        if p.text.contains_key(&key) || p.binary.contains_key(&key) {
            return Err(err(file, format!("`{at}` repeats the key `{key}`")));
        }
        if let Some(t) = text {
            p.text.insert(key, t);
        } else {
            p.binary.insert(key, bytes);
        }
        Ok(())
    };
    let mut envs = strs(g, "envs", at, file)?;
    envs.extend(strs(g, "env", at, file)?);
    for e in envs {
        let path = join_file(req, dir, &e, file)?;
        let text = read_text(req, &path.rel)?;
        let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
        for (n, line) in text.lines().enumerate() {
            let line = line.trim_start();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            // kustomize would read a bare `KEY` from its own environment,
            // which would make the render depend on the agent's. The line is
            // not quoted: in a secretGenerator's env file it is likely a value.
            let Some((k, v)) = line.split_once('=') else {
                return Err(RenderError::Syntax {
                    file: path.rel.clone(),
                    line: n + 1,
                    column: 1,
                    message: "the line has no `=` (reading a value from the environment is not supported)".into(),
                });
            };
            add(&mut p, k.to_owned(), Some(v.to_owned()), Vec::new())?;
        }
    }
    for (n, lit) in strs(g, "literals", at, file)?.into_iter().enumerate() {
        // Without its `=`, a literal is as likely a value as a key: not quoted.
        let Some((k, v)) = lit.split_once('=').filter(|(k, _)| !k.is_empty()) else {
            return Err(err(file, format!("`{at}.literals[{n}]` is not key=value")));
        };
        add(
            &mut p,
            k.to_owned(),
            Some(unquote(v).to_owned()),
            Vec::new(),
        )?;
    }
    for f in strs(g, "files", at, file)? {
        let (key, path) = match f.split_once('=') {
            Some((k, path)) => (k.to_owned(), path.to_owned()),
            None => (
                Path::new(&f)
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                f.clone(),
            ),
        };
        let path = join_file(req, dir, &path, file)?;
        let bytes = read_bytes(req, &path.rel)?;
        match String::from_utf8(bytes) {
            Ok(text) => add(&mut p, key, Some(text), Vec::new())?,
            Err(e) => add(&mut p, key, None, e.into_bytes())?,
        }
    }
    Ok(p)
}

/// A literal's value without one pair of surrounding quotes, as kustomize reads it.
fn unquote(v: &str) -> &str {
    for q in ['"', '\''] {
        if v.len() >= 2 && v.starts_with(q) && v.ends_with(q) {
            return &v[1..v.len() - 1];
        }
    }
    v
}

/// The object a generator makes (before any merge into an existing one).
fn object(
    kind: &str,
    g: &Map<String, Value>,
    name: &str,
    pairs: Pairs,
    opts: &Options,
    at: &str,
    file: &Path,
) -> Result<Value, RenderError> {
    let mut obj = json!({"apiVersion": "v1", "kind": kind, "metadata": {"name": name}});
    match g.get("namespace") {
        None | Some(Value::Null) => {}
        Some(Value::String(ns)) if ns.is_empty() => {}
        Some(Value::String(ns)) => obj["metadata"]["namespace"] = json!(ns),
        Some(_) => return Err(err(file, format!("`{at}.namespace` must be a string"))),
    }
    if !opts.labels.is_empty() {
        obj["metadata"]["labels"] = Value::Object(opts.labels.clone());
    }
    if !opts.annotations.is_empty() {
        obj["metadata"]["annotations"] = Value::Object(opts.annotations.clone());
    }
    if kind == "Secret" {
        let t = match g.get("type") {
            None | Some(Value::Null) => "Opaque".to_owned(),
            Some(Value::String(t)) if t.is_empty() => "Opaque".to_owned(),
            Some(Value::String(t)) => t.clone(),
            Some(_) => return Err(err(file, format!("`{at}.type` must be a string"))),
        };
        obj["type"] = json!(t);
        let mut data = Map::new();
        for (k, v) in pairs.text {
            data.insert(k, json!(secret_value(v.as_bytes())));
        }
        for (k, v) in pairs.binary {
            data.insert(k, json!(secret_value(&v)));
        }
        if !data.is_empty() {
            obj["data"] = Value::Object(data);
        }
    } else {
        if !pairs.text.is_empty() {
            obj["data"] = json!(pairs.text);
        }
        if !pairs.binary.is_empty() {
            let b: Map<String, Value> = pairs
                .binary
                .into_iter()
                .map(|(k, v)| (k, json!(STANDARD.encode(v))))
                .collect();
            obj["binaryData"] = Value::Object(b);
        }
    }
    if opts.immutable {
        obj["immutable"] = json!(true);
    }
    Ok(obj)
}

/// A Secret value as kustomize (kyaml) encodes it: base64, cut into lines of
/// 70 characters each ended by a newline once there is more than one line.
/// Kubernetes ignores the newlines when decoding; the content hash does not.
fn secret_value(bytes: &[u8]) -> String {
    const LINE: usize = 70;
    let encoded = STANDARD.encode(bytes);
    if encoded.len() / LINE == 0 {
        return encoded;
    }
    let mut out = String::with_capacity(encoded.len() + encoded.len() / LINE + 1);
    for chunk in encoded.as_bytes().chunks(LINE) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out
}

/// Runs the generators of kustomization `k`, adding to (or, with `behavior:
/// merge` or `replace`, changing) the resources of its bases.
pub(super) fn run(
    req: &RenderRequest,
    dir: &Path,
    file: &Path,
    k: &Map<String, Value>,
    out: &mut Vec<Res>,
) -> Result<(), RenderError> {
    let global = options(k.get("generatorOptions"), "generatorOptions", file)?;
    for (field, kind) in [
        ("configMapGenerator", "ConfigMap"),
        ("secretGenerator", "Secret"),
    ] {
        let list = match k.get(field) {
            None | Some(Value::Null) => continue,
            Some(Value::Array(a)) => a,
            Some(_) => return Err(err(file, format!("`{field}` must be a list"))),
        };
        for (i, g) in list.iter().enumerate() {
            let at = format!("{field}[{i}]");
            let Some(g) = g.as_object() else {
                return Err(err(file, format!("`{at}` must be a mapping")));
            };
            let allowed: Vec<&str> = GENERATOR_FIELDS
                .iter()
                .copied()
                .chain((kind == "Secret").then_some("type"))
                .collect();
            check_keys(g, &allowed, &at, file)?;
            let Some(name) = g
                .get("name")
                .and_then(Value::as_str)
                .filter(|n| !n.is_empty())
            else {
                return Err(err(file, format!("`{at}.name` is required")));
            };
            let local = options(g.get("options"), &format!("{at}.options"), file)?;
            let opts = merged(local, &global);
            let data = pairs(req, dir, file, g, &at)?;
            let obj = object(kind, g, name, data, &opts, &at, file)?;
            let behavior = match g.get("behavior") {
                None | Some(Value::Null) => "create",
                Some(Value::String(b)) if b.is_empty() => "create",
                Some(Value::String(b)) => b.as_str(),
                Some(_) => return Err(err(file, format!("`{at}.behavior` must be a string"))),
            };
            let id = Id {
                name: name.to_owned(),
                namespace: super::namespace(&obj),
            };
            let existing: Vec<usize> = (0..out.len())
                .filter(|&i| out[i].has_id("v1", kind, &id))
                .collect();
            match (behavior, existing.as_slice()) {
                ("create", []) => {
                    let mut r = Res::new(
                        obj,
                        Origin {
                            file: file.to_path_buf(),
                            doc: 0,
                            line: None,
                            release_namespace: None,
                        },
                    );
                    r.hash = !opts.disable_hash;
                    out.push(r);
                }
                ("create", _) => {
                    return Err(err(
                        file,
                        format!(
                            "`{at}`: {kind} `{name}` already exists; use behavior merge or replace"
                        ),
                    ));
                }
                ("merge" | "replace", [i]) => {
                    absorb(&mut out[*i], obj, behavior == "merge", !opts.disable_hash);
                }
                ("merge" | "replace", []) => {
                    return Err(err(
                        file,
                        format!(
                            "`{at}`: behavior {behavior}, but no {kind} `{name}` comes from the resources"
                        ),
                    ));
                }
                ("merge" | "replace", _) => {
                    return Err(err(
                        file,
                        format!("`{at}`: several {kind}s `{name}` could take the {behavior}"),
                    ));
                }
                (b, _) => {
                    return Err(err(
                        file,
                        format!("`{at}.behavior` `{b}` is not create, merge or replace"),
                    ));
                }
            }
        }
    }
    Ok(())
}

/// Merges or replaces an existing ConfigMap or Secret with a generated one,
/// as kustomize does: the old object keeps its name and namespace, its labels
/// and annotations are kept under the new ones, and (for `merge`) its data
/// under the new data; everything else comes from the generator.
fn absorb(old: &mut Res, mut new: Value, merge: bool, hash: bool) {
    for what in ["labels", "annotations"] {
        let mut m = old.json["metadata"]
            .get(what)
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        if let Some(n) = new["metadata"].get(what).and_then(Value::as_object) {
            m.extend(n.clone());
        }
        if !m.is_empty() {
            new["metadata"][what] = Value::Object(m);
        }
    }
    new["metadata"]["name"] = json!(super::name(&old.json));
    match old.json.pointer("/metadata/namespace") {
        Some(ns) => new["metadata"]["namespace"] = ns.clone(),
        None => {
            if let Some(md) = new["metadata"].as_object_mut() {
                md.shift_remove("namespace");
            }
        }
    }
    if merge {
        for what in ["data", "binaryData"] {
            let mut m = old
                .json
                .get(what)
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default();
            if let Some(n) = new.get(what).and_then(Value::as_object) {
                m.extend(n.clone());
            }
            if !m.is_empty() {
                new[what] = Value::Object(m);
            }
        }
    }
    old.json = new;
    old.hash = old.hash && hash;
}

/// Appends the content-hash suffix to generated ConfigMaps and Secrets, as kustomize does.
pub(super) fn add_hashes(res: &mut [Res]) {
    for r in res.iter_mut().filter(|r| r.hash) {
        let kind = r.kind().to_owned();
        let mut m = BTreeMap::new();
        m.insert("kind", json!(kind));
        // kustomize v5.5 hashes with an empty name (checked against kubectl v1.32).
        m.insert("name", json!(""));
        if kind == "Secret" {
            m.insert("type", r.json.get("type").cloned().unwrap_or(json!("")));
        }
        let sorted = |v: Option<&Value>| -> Value {
            let b: BTreeMap<String, Value> = v
                .and_then(Value::as_object)
                .map(|o| o.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                .unwrap_or_default();
            json!(b)
        };
        m.insert("data", sorted(r.json.get("data")));
        if r.json
            .get("binaryData")
            .and_then(Value::as_object)
            .is_some_and(|o| !o.is_empty())
        {
            m.insert("binaryData", sorted(r.json.get("binaryData")));
        }
        // `immutable` is not hashed by kustomize v5.5 (checked against kubectl v1.32).
        // Go's encoding/json escapes these; the hash is over its output.
        let text = serde_json::to_string(&m)
            .unwrap_or_default()
            .replace('<', "\\u003c")
            .replace('>', "\\u003e")
            .replace('&', "\\u0026")
            .replace('\u{2028}', "\\u2028")
            .replace('\u{2029}', "\\u2029");
        let hex: String = Sha256::digest(text.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        // kustomize maps some characters so that the suffix avoids vowels and
        // look-alike digits.
        let suffix: String = hex[..10]
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
        r.store_prev();
        let name = super::name(&r.json);
        r.json["metadata"]["name"] = json!(format!("{name}-{suffix}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_secret_values_are_cut_into_lines_as_kustomize_does() {
        assert_eq!(secret_value(b"abc"), "YWJj");
        let long = secret_value(&[b'x'; 60]);
        let lines: Vec<&str> = long.split_terminator('\n').collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0].len(), 70);
        assert!(long.ends_with('\n'));
        // 68 characters stay one line; 72 are two, each ended by a newline.
        assert_eq!(secret_value(&[b'y'; 51]), STANDARD.encode([b'y'; 51]));
        let enc = STANDARD.encode([b'y'; 52]);
        assert_eq!(
            secret_value(&[b'y'; 52]),
            format!("{}\n{}\n", &enc[..70], &enc[70..])
        );
    }

    #[test]
    fn literals_lose_one_pair_of_quotes() {
        assert_eq!(unquote("\"two words\""), "two words");
        assert_eq!(unquote("'x'"), "x");
        assert_eq!(unquote("\"x'"), "\"x'");
        assert_eq!(unquote("\""), "\"");
    }
}
