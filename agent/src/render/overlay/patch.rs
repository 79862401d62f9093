//! `patchesStrategicMerge`, `patches` and `patchesJson6902`: loading the
//! patches and applying them to the resources they target.
//!
//! A strategic-merge patch without `target` applies to the resource with its
//! apiVersion, kind, name and namespace (current or previous, as kustomize
//! matches ids), and it is an error when there is none. With a `target`, it
//! applies to every selected resource, without renaming it. A JSON 6902
//! patch (a list of operations) needs a `target`.

use super::select::Selector;
use super::{Id, Res, check_keys, err, join_file, name, namespace, read_text, smp};
use crate::render::{RenderError, RenderRequest, yaml};
use serde_json::{Map, Value};
use std::path::Path;

/// Where the patches of one kustomization come from.
pub(super) struct Ctx<'a> {
    pub req: &'a RenderRequest<'a>,
    /// The kustomization's directory, relative to the repository root.
    pub dir: &'a Path,
    /// The kustomization file.
    pub file: &'a Path,
}

/// Applies `patchesStrategicMerge`.
pub(super) fn strategic_merge(
    ctx: &Ctx,
    k: &Map<String, Value>,
    out: &mut Vec<Res>,
) -> Result<(), RenderError> {
    for entry in super::strings(k, "patchesStrategicMerge", ctx.file)? {
        // kustomize first reads the entry as an inline patch, then as a path.
        let docs = if entry.contains('\n') || entry.trim_start().starts_with('{') {
            parse(&entry, ctx.file)?
        } else {
            load(ctx, &entry)?
        };
        for doc in docs {
            apply_untargeted(out, &doc, ctx.file)?;
        }
    }
    Ok(())
}

/// Applies `patches`.
pub(super) fn patches(
    ctx: &Ctx,
    k: &Map<String, Value>,
    out: &mut Vec<Res>,
) -> Result<(), RenderError> {
    let list = match k.get("patches") {
        None | Some(Value::Null) => return Ok(()),
        Some(Value::Array(list)) => list,
        Some(_) => return Err(err(ctx.file, "`patches` must be a list")),
    };
    for (i, p) in list.iter().enumerate() {
        let at = format!("patches[{i}]");
        let Some(m) = p.as_object() else {
            return Err(err(ctx.file, format!("`{at}` must be a mapping")));
        };
        check_keys(m, &["path", "patch", "target"], &at, ctx.file)?;
        let docs = body(ctx, m, &at)?;
        let target = match m.get("target") {
            Some(t) if !t.is_null() => Some(Selector::parse(t, &format!("{at}.target"), ctx.file)?),
            _ => None,
        };
        match (docs.as_slice(), target) {
            ([ops @ Value::Array(_)], Some(sel)) => apply_json(out, ops, &sel, ctx.file)?,
            ([Value::Array(_)], None) => {
                return Err(err(
                    ctx.file,
                    format!("`{at}`: a JSON 6902 patch needs a `target`"),
                ));
            }
            ([doc], Some(sel)) => apply_targeted(out, doc, &sel, ctx.file)?,
            (_, Some(_)) => {
                return Err(err(
                    ctx.file,
                    format!("`{at}`: a patch with a `target` must hold one document"),
                ));
            }
            (docs, None) => {
                for doc in docs {
                    apply_untargeted(out, doc, ctx.file)?;
                }
            }
        }
    }
    Ok(())
}

/// Applies `patchesJson6902`.
pub(super) fn json6902(
    ctx: &Ctx,
    k: &Map<String, Value>,
    out: &mut [Res],
) -> Result<(), RenderError> {
    let list = match k.get("patchesJson6902") {
        None | Some(Value::Null) => return Ok(()),
        Some(Value::Array(list)) => list,
        Some(_) => return Err(err(ctx.file, "`patchesJson6902` must be a list")),
    };
    for (i, p) in list.iter().enumerate() {
        let at = format!("patchesJson6902[{i}]");
        let Some(m) = p.as_object() else {
            return Err(err(ctx.file, format!("`{at}` must be a mapping")));
        };
        check_keys(m, &["path", "patch", "target"], &at, ctx.file)?;
        let Some(t) = m.get("target") else {
            return Err(err(ctx.file, format!("`{at}` needs a `target`")));
        };
        let sel = Selector::parse(t, &format!("{at}.target"), ctx.file)?;
        match body(ctx, m, &at)?.as_slice() {
            [ops @ Value::Array(_)] => apply_json(out, ops, &sel, ctx.file)?,
            _ => {
                return Err(err(
                    ctx.file,
                    format!("`{at}` must be a list of JSON 6902 operations"),
                ));
            }
        }
    }
    Ok(())
}

/// The documents of a `patch` (inline) or `path` entry.
fn body(ctx: &Ctx, m: &Map<String, Value>, at: &str) -> Result<Vec<Value>, RenderError> {
    match (m.get("patch"), m.get("path")) {
        (Some(Value::String(text)), None) => parse(text, ctx.file),
        (None, Some(Value::String(path))) => load(ctx, path),
        (Some(_), Some(_)) => Err(err(
            ctx.file,
            format!("`{at}` has both `patch` and `path`; give one"),
        )),
        _ => Err(err(
            ctx.file,
            format!("`{at}` needs `patch` (a string) or `path`"),
        )),
    }
}

fn load(ctx: &Ctx, path: &str) -> Result<Vec<Value>, RenderError> {
    let p = join_file(ctx.req, ctx.dir, path, ctx.file)?;
    let text = read_text(ctx.req, &p.rel)?;
    // Patch files are specs like the resources they patch: placeholders are
    // filled in here too, so that none reaches the cluster verbatim.
    let text = (ctx.req.substitute)(&text, &p.rel).map_err(|message| RenderError::Substitute {
        file: p.rel.clone(),
        message,
    })?;
    parse(&text, &p.rel)
}

fn parse(text: &str, file: &Path) -> Result<Vec<Value>, RenderError> {
    let docs: Vec<Value> = yaml::documents(text, file)?
        .into_iter()
        .map(|d| d.value)
        .filter(|v| !v.is_null())
        .collect();
    if docs.is_empty() {
        return Err(err(file, "empty patch"));
    }
    Ok(docs)
}

/// A strategic-merge patch applied to the one resource it names.
fn apply_untargeted(out: &mut Vec<Res>, patch: &Value, file: &Path) -> Result<(), RenderError> {
    let Some(_) = patch.as_object() else {
        return Err(err(file, "a strategic-merge patch must be a mapping"));
    };
    let api_version = patch["apiVersion"].as_str().unwrap_or_default();
    let kind = patch["kind"].as_str().unwrap_or_default();
    let id = Id {
        name: name(patch),
        namespace: namespace(patch),
    };
    let hits: Vec<usize> = (0..out.len())
        .filter(|&i| out[i].has_id(api_version, kind, &id))
        .collect();
    let i = match hits.as_slice() {
        [i] => *i,
        [] => {
            return Err(err(
                file,
                format!(
                    "patch for {kind} `{}` ({api_version}) matches no resource",
                    id.name
                ),
            ));
        }
        _ => {
            return Err(err(
                file,
                format!("patch for {kind} `{}` matches several resources", id.name),
            ));
        }
    };
    // The patch may not rename the resource: kustomize restores its name,
    // namespace and kind after merging.
    let mut p = patch.clone();
    if let Some(md) = p.get_mut("metadata").and_then(Value::as_object_mut) {
        md.shift_remove("name");
        md.shift_remove("namespace");
    }
    match smp::apply(&out[i].json, &p).map_err(|e| err(file, e))? {
        Some(json) => out[i].json = json,
        None => {
            out.remove(i);
        }
    }
    Ok(())
}

/// A strategic-merge patch applied to every selected resource.
fn apply_targeted(
    out: &mut Vec<Res>,
    patch: &Value,
    sel: &Selector,
    file: &Path,
) -> Result<(), RenderError> {
    // kustomize gives the patch the target's apiVersion, kind, name and
    // namespace, so that it never renames what it patches.
    let mut p = patch.clone();
    if let Some(m) = p.as_object_mut() {
        m.shift_remove("apiVersion");
        m.shift_remove("kind");
        if let Some(md) = m.get_mut("metadata").and_then(Value::as_object_mut) {
            md.shift_remove("name");
            md.shift_remove("namespace");
        }
    }
    let mut i = 0;
    while i < out.len() {
        if !sel.matches(&out[i]) {
            i += 1;
            continue;
        }
        match smp::apply(&out[i].json, &p).map_err(|e| err(file, e))? {
            Some(json) => {
                out[i].json = json;
                i += 1;
            }
            None => {
                out.remove(i);
            }
        }
    }
    Ok(())
}

/// JSON 6902 operations applied to every selected resource.
fn apply_json(
    out: &mut [Res],
    ops: &Value,
    sel: &Selector,
    file: &Path,
) -> Result<(), RenderError> {
    let ops: json_patch::Patch = serde_json::from_value(ops.clone())
        .map_err(|e| err(file, format!("invalid JSON 6902 patch: {e}")))?;
    for r in out.iter_mut().filter(|r| sel.matches(r)) {
        json_patch::patch(&mut r.json, &ops).map_err(|e| {
            err(
                file,
                format!(
                    "JSON 6902 patch failed on {} {}: {e}",
                    r.kind(),
                    name(&r.json)
                ),
            )
        })?;
    }
    Ok(())
}
