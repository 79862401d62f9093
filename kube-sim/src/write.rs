//! Writes: create, update, patch (merge, JSON, strategic, apply) and delete,
//! with kube-apiserver's checks, defaulting, generation, ownership and dry-run.

use crate::core::{Core, now};
use crate::registry::ResourceType;
use crate::route::ResourcePath;
use crate::schema::{self, Node};
use crate::ssa::{self, Manager};
use crate::status::ApiError;
use crate::store::{EventType, Key, State};
use serde_json::{Map, Value, json};

/// Query options of a write.
#[derive(Debug, Default, Clone)]
pub struct WriteOptions {
    /// `dryRun=All`.
    pub dry_run: bool,
    /// `fieldManager`.
    pub field_manager: Option<String>,
    /// `force` (apply only).
    pub force: bool,
    /// The manager name derived from the User-Agent, used when `fieldManager` is absent.
    pub user_agent_manager: String,
    /// `fieldValidation`: `Strict`, `Warn` (the default) or `Ignore`.
    pub field_validation: Option<String>,
    /// Warnings for the response's `Warning` headers.
    pub warnings: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl WriteOptions {
    fn manager(&self) -> &str {
        self.field_manager
            .as_deref()
            .unwrap_or(&self.user_agent_manager)
    }
}

/// A write's outcome: HTTP code and body.
pub type Outcome = Result<(u16, Value), ApiError>;

/// The object schema for a type.
pub fn node_for(rt: &ResourceType) -> Node<'_> {
    match &rt.crd_schema {
        Some(s) => Node::CrdRoot(s),
        None => schema::builtin_root(&rt.group, &rt.kind).unwrap_or(Node::Deduced),
    }
}

/// Parses a JSON or YAML body into an object.
pub fn decode_body(body: &[u8], yaml: bool) -> Result<Value, ApiError> {
    if yaml {
        let text = std::str::from_utf8(body)
            .map_err(|e| ApiError::bad_request(format!("error decoding YAML: {e}")))?;
        return crate::yaml::to_json(text).map_err(|e| {
            ApiError::bad_request(format!(
                "error decoding YAML: error converting YAML to JSON: {e}"
            ))
        });
    }
    serde_json::from_slice(body).map_err(|e| {
        ApiError::bad_request(format!("couldn't get version/kind; json parse error: {e}"))
    })
}

fn meta_str<'a>(obj: &'a Value, field: &str) -> Option<&'a str> {
    obj.get("metadata")
        .and_then(|m| m.get(field))
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

fn meta_mut(obj: &mut Value) -> &mut Map<String, Value> {
    if !obj.get("metadata").is_some_and(Value::is_object) {
        obj["metadata"] = json!({});
    }
    obj["metadata"]
        .as_object_mut()
        .expect("metadata was just made an object")
}

fn key_of(rt: &ResourceType, ns: &str, name: &str) -> Key {
    (
        rt.store_key(),
        if rt.namespaced {
            ns.to_string()
        } else {
            String::new()
        },
        name.to_string(),
    )
}

/// Fills an omitted kind/apiVersion from the URL, as kube's decoder does for
/// create and update, then checks that the body fits the URL.
fn fill_type(rt: &ResourceType, obj: &mut Value) -> Result<(), ApiError> {
    if !obj.is_object() {
        return Err(ApiError::bad_request(format!(
            "couldn't get version/kind; json parse error: expected an object, got {obj}"
        )));
    }
    if obj
        .get("kind")
        .and_then(Value::as_str)
        .is_none_or(str::is_empty)
    {
        obj["kind"] = rt.kind.clone().into();
    }
    if obj
        .get("apiVersion")
        .and_then(Value::as_str)
        .is_none_or(str::is_empty)
    {
        obj["apiVersion"] = rt.api_version().into();
    }
    check_type(rt, obj)
}

/// Checks that the body's kind/apiVersion fit the URL.
fn check_type(rt: &ResourceType, obj: &Value) -> Result<(), ApiError> {
    let kind = obj.get("kind").and_then(Value::as_str).unwrap_or_default();
    let api_version = obj
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if kind.is_empty() {
        return Err(ApiError::bad_request(format!(
            "Object 'Kind' is missing in '{obj}'"
        )));
    }
    if kind != rt.kind || (!api_version.is_empty() && api_version != rt.api_version()) {
        return Err(ApiError::bad_request(format!(
            "the API version in the data ({api_version}) does not match the expected API version ({})",
            rt.api_version()
        )));
    }
    Ok(())
}

fn check_namespace(state: &State, rt: &ResourceType, ns: &str, name: &str) -> Result<(), ApiError> {
    if !rt.namespaced {
        return Ok(());
    }
    let key = ("/namespaces".to_string(), String::new(), ns.to_string());
    match state.get(&key) {
        None => Err(ApiError::not_found("", "namespaces", ns)),
        Some(n) if n.pointer("/metadata/deletionTimestamp").is_some() => Err(ApiError::forbidden(
            format!(
                "{} \"{name}\" is forbidden: unable to create new content in namespace {ns} because it is being terminated",
                rt.qualified()
            ),
            Some(
                json!({"kind": rt.resource, "group": rt.group, "causes": [{"reason": "NamespaceTerminating", "message": format!("namespace {ns} is being terminated"), "field": "metadata.namespace"}]}),
            ),
        )),
        Some(_) => Ok(()),
    }
}

/// The object as kube returns it for an empty typed value (what an Update's
/// managed fields are computed against on create).
fn skeleton(rt: &ResourceType, obj: &Value) -> Value {
    let mut s = json!({"metadata": {"creationTimestamp": null}});
    if rt.crd_schema.is_none() {
        for top in ["spec", "status"] {
            if obj.get(top).is_some_and(Value::is_object) {
                s[top] = json!({});
            }
        }
        if rt.kind == "CustomResourceDefinition" {
            s["spec"]["names"] = json!({});
        }
    }
    s
}

enum Owners {
    Computed(Vec<Manager>),
    Update,
}

struct Write<'a> {
    core: &'a Core,
    rt: &'a ResourceType,
    rp: &'a ResourcePath,
    opts: &'a WriteOptions,
}

impl<'a> Write<'a> {
    fn ns(&self) -> &str {
        self.rp.namespace.as_deref().unwrap_or_default()
    }

    fn target<'t>(
        &'t self,
        manager: &'t str,
        now: &'t str,
        ignored: &'t crate::fieldpath::FieldSet,
    ) -> ssa::Target<'t> {
        ssa::Target {
            node: node_for(self.rt),
            manager,
            api_version: self.rt.api_version(),
            subresource: self.rp.sub.as_deref(),
            ignored,
            now,
        }
    }

    fn owners(&self, old: Option<&Value>, new: &Value, owners: Owners, now: &str) -> Vec<Manager> {
        let rt = self.rt;
        let sub = self.rp.sub.as_deref();
        match owners {
            Owners::Computed(m) => m,
            Owners::Update => {
                let prior = old.map(ssa::decode_managers).unwrap_or_default();
                let ignored = crate::fieldpath::FieldSet::new();
                let t = self.target(self.opts.manager(), now, &ignored);
                let base = old.map(strip_managed).unwrap_or_else(|| skeleton(rt, new));
                let mut cmp_new = new.clone();
                if sub != Some("status") && rt.has_status {
                    cmp_new.as_object_mut().map(|m| m.remove("status"));
                }
                let mut base = base;
                if sub != Some("status") && rt.has_status && old.is_some() {
                    base.as_object_mut().map(|m| m.remove("status"));
                }
                ssa::update(Some(&base), &cmp_new, prior, &t)
            }
        }
    }

    /// Refuses scalars of the wrong type, as kube-apiserver does: built-in types
    /// fail to decode (400), custom resources fail schema validation (422).
    fn check_types(&self, new: &Value) -> Result<(), ApiError> {
        let rt = self.rt;
        let bad = crate::schema::type_mismatches(new, node_for(rt));
        let Some(first) = bad.first() else {
            return Ok(());
        };
        let name = meta_str(new, "name").unwrap_or_default().to_string();
        if rt.crd_schema.is_some() {
            let causes: Vec<crate::validation::Cause> = bad
                .iter()
                .map(|m| crate::validation::Cause {
                    reason: "FieldValueTypeInvalid",
                    field: m.path.clone(),
                    message: format!(
                        "Invalid value: \"{}\": {} in body must be of type {}: \"{}\"",
                        m.found, m.path, m.expected, m.found
                    ),
                })
                .collect();
            return Err(ApiError::invalid(&rt.group, &rt.kind, &name, &causes));
        }
        Err(ApiError::bad_request(format!(
            "{} in version \"{}\" cannot be handled as a {}: json: cannot unmarshal {} into Go struct field {} of type {}",
            rt.kind, rt.version, rt.kind, first.found, first.path, first.expected
        )))
    }

    /// Drops undeclared fields; under `fieldValidation=Strict` they are an error,
    /// under `Warn` (the default) each one becomes a warning.
    fn check_unknown_fields(&self, new: &mut Value) -> Result<(), ApiError> {
        self.check_types(new)?;
        let unknown = crate::schema::prune_unknown(new, node_for(self.rt));
        if unknown.is_empty() {
            return Ok(());
        }
        let list: Vec<String> = unknown
            .iter()
            .map(|p| format!("unknown field {p:?}"))
            .collect();
        match self.opts.field_validation.as_deref() {
            Some("Strict") => Err(ApiError::bad_request(format!(
                "strict decoding error: {}",
                list.join(", ")
            ))),
            Some("Ignore") => Ok(()),
            _ => {
                self.opts
                    .warnings
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .extend(list);
                Ok(())
            }
        }
    }

    /// Turns a candidate object into what is stored, and stores it.
    fn finish(
        &self,
        state: &mut State,
        old: Option<&Value>,
        mut new: Value,
        owners: Owners,
    ) -> Outcome {
        let rt = self.rt;
        let sub = self.rp.sub.as_deref();
        let now = now();
        if let Some(old) = old {
            if sub == Some("status") {
                let status = new.get("status").cloned();
                new = old.clone();
                match status {
                    Some(s) => new["status"] = s,
                    None => {
                        new.as_object_mut().map(|m| m.remove("status"));
                    }
                }
            } else if rt.has_status {
                match old.get("status") {
                    Some(s) => new["status"] = s.clone(),
                    None => {
                        new.as_object_mut().map(|m| m.remove("status"));
                    }
                }
            }
            let keep = [
                "uid",
                "creationTimestamp",
                "deletionTimestamp",
                "deletionGracePeriodSeconds",
                "generation",
                "name",
                "namespace",
            ];
            let old_meta = old.get("metadata").cloned().unwrap_or(json!({}));
            let m = meta_mut(&mut new);
            for k in keep {
                match old_meta.get(k) {
                    Some(v) => m.insert(k.into(), v.clone()),
                    None => m.remove(k),
                };
            }
        } else if rt.has_status && rt.crd_schema.is_some() {
            new.as_object_mut().map(|m| m.remove("status"));
        }
        meta_mut(&mut new).remove("managedFields");
        meta_mut(&mut new).remove("resourceVersion");
        self.check_unknown_fields(&mut new)?;
        if rt.crd_schema.is_none() {
            crate::defaults::default_object(&rt.group, &rt.kind, &mut new);
        } else {
            crate::schema::prune_nulls(&mut new, node_for(rt));
        }
        // kube-apiserver records ownership after defaulting but before the
        // create strategy fills in server-owned fields (a Job's selector).
        let managers = self.owners(old, &new, owners, &now);
        let creating = old.is_none();
        if creating {
            let uid = uuid::Uuid::new_v4().to_string();
            let m = meta_mut(&mut new);
            m.insert("uid".into(), uid.clone().into());
            m.insert("creationTimestamp".into(), now.clone().into());
            m.remove("resourceVersion");
            if rt.namespaced {
                m.insert("namespace".into(), self.ns().into());
            } else {
                m.remove("namespace");
            }
            if rt.tracks_generation() {
                m.insert("generation".into(), 1.into());
            }
            if rt.crd_schema.is_none() {
                let core = self.core;
                crate::defaults::prepare_for_create(
                    &rt.group,
                    &rt.kind,
                    &mut new,
                    &uid,
                    &mut || core.next_cluster_ip(),
                );
            }
        }
        let name = meta_str(&new, "name").unwrap_or_default().to_string();
        let causes = match old {
            None => crate::validation::validate_create(&rt.group, &rt.kind, &new),
            Some(o) => crate::validation::validate_update(&rt.group, &rt.kind, o, &new),
        };
        if !causes.is_empty() {
            return Err(ApiError::invalid(&rt.group, &rt.kind, &name, &causes));
        }
        if let Some(old) = old
            && rt.tracks_generation()
            && spec_changed(old, &new, rt.crd_schema.is_none() || rt.has_status)
        {
            let g = old
                .pointer("/metadata/generation")
                .and_then(Value::as_i64)
                .unwrap_or(0);
            meta_mut(&mut new).insert("generation".into(), (g + 1).into());
        }
        if !managers.is_empty() {
            meta_mut(&mut new).insert("managedFields".into(), ssa::encode_managers(&managers));
        }
        if let Some(old) = old {
            let mut cmp_old = old.clone();
            if let Some(m) = cmp_old.get_mut("metadata").and_then(Value::as_object_mut) {
                m.remove("resourceVersion");
            }
            if cmp_old == new {
                return Ok((200, old.clone()));
            }
        }
        let key = key_of(rt, self.ns(), &name);
        let finalized = old.is_some_and(|o| o.pointer("/metadata/deletionTimestamp").is_some())
            && new
                .pointer("/metadata/finalizers")
                .and_then(Value::as_array)
                .is_none_or(|f| f.is_empty());
        if self.opts.dry_run {
            if let Some(rv) = old.and_then(|o| o.pointer("/metadata/resourceVersion")) {
                meta_mut(&mut new).insert("resourceVersion".into(), rv.clone());
            }
            return Ok((if creating { 201 } else { 200 }, new));
        }
        let rv = state.next_rv();
        if finalized {
            if let Some(rv) = old.and_then(|o| o.pointer("/metadata/resourceVersion")) {
                meta_mut(&mut new).insert("resourceVersion".into(), rv.clone());
            }
            let mut gone = new.clone();
            meta_mut(&mut gone).insert("resourceVersion".into(), rv.to_string().into());
            state.remove(&key, gone, rv);
            return Ok((200, new));
        }
        meta_mut(&mut new).insert("resourceVersion".into(), rv.to_string().into());
        let kind = if creating {
            EventType::Added
        } else {
            EventType::Modified
        };
        let stored = state.put(key, new, rv, kind);
        Ok((if creating { 201 } else { 200 }, (*stored).clone()))
    }
}

fn strip_managed(v: &Value) -> Value {
    let mut v = v.clone();
    if let Some(m) = v.get_mut("metadata").and_then(Value::as_object_mut) {
        m.remove("managedFields");
    }
    v
}

/// Whether anything but metadata (and status, when `ignore_status`) changed: custom
/// resources without a status subresource bump their generation on status changes too.
fn spec_changed(old: &Value, new: &Value, ignore_status: bool) -> bool {
    let strip = |v: &Value| -> Value {
        let mut v = v.clone();
        if let Some(m) = v.as_object_mut() {
            m.remove("metadata");
            if ignore_status {
                m.remove("status");
            }
        }
        v
    };
    strip(old) != strip(new)
}

/// POST to a collection.
pub fn create(core: &Core, rp: &ResourcePath, opts: &WriteOptions, mut obj: Value) -> Outcome {
    let rt = &rp.rt;
    fill_type(rt, &mut obj)?;
    let ns = rp.namespace.clone().unwrap_or_default();
    if let Some(body_ns) = meta_str(&obj, "namespace")
        && rt.namespaced
        && body_ns != ns
    {
        return Err(ApiError::bad_request(
            "the namespace of the provided object does not match the namespace sent on the request",
        ));
    }
    if meta_str(&obj, "name").is_none()
        && let Some(prefix) = meta_str(&obj, "generateName")
    {
        let name = crate::names::generate_name(prefix);
        meta_mut(&mut obj).insert("name".into(), name.into());
    }
    let name = meta_str(&obj, "name").unwrap_or_default().to_string();
    let causes = crate::names::validate_object_name(&rt.group, &rt.kind, &name);
    if !causes.is_empty() {
        return Err(ApiError::invalid(&rt.group, &rt.kind, &name, &causes));
    }
    let mut state = core.store.lock();
    check_namespace(&state, rt, &ns, &name)?;
    if state.get(&key_of(rt, &ns, &name)).is_some() {
        return Err(ApiError::already_exists(&rt.group, &rt.resource, &name));
    }
    let w = Write { core, rt, rp, opts };
    let out = w.finish(&mut state, None, obj, Owners::Update);
    drop(state);
    core.store.notify();
    out
}

fn current(state: &State, rp: &ResourcePath) -> Result<Value, ApiError> {
    let rt = &rp.rt;
    let name = rp.name.as_deref().unwrap_or_default();
    state
        .get(&key_of(
            rt,
            rp.namespace.as_deref().unwrap_or_default(),
            name,
        ))
        .map(|v| (*v).clone())
        .ok_or_else(|| ApiError::not_found(&rt.group, &rt.resource, name))
}

fn check_name(rp: &ResourcePath, obj: &Value) -> Result<(), ApiError> {
    let url = rp.name.as_deref().unwrap_or_default();
    let body = meta_str(obj, "name").unwrap_or_default();
    if body != url {
        return Err(ApiError::bad_request(format!(
            "the name of the object ({body}) does not match the name on the URL ({url})"
        )));
    }
    if let (Some(body_ns), Some(ns)) = (meta_str(obj, "namespace"), rp.namespace.as_deref())
        && rp.rt.namespaced
        && body_ns != ns
    {
        return Err(ApiError::bad_request(
            "the namespace of the provided object does not match the namespace sent on the request",
        ));
    }
    Ok(())
}

/// PUT of an object.
pub fn update(core: &Core, rp: &ResourcePath, opts: &WriteOptions, mut obj: Value) -> Outcome {
    let rt = &rp.rt;
    fill_type(rt, &mut obj)?;
    check_name(rp, &obj)?;
    let mut state = core.store.lock();
    let old = current(&state, rp)?;
    if let Some(rv) = meta_str(&obj, "resourceVersion")
        && Some(rv) != meta_str(&old, "resourceVersion")
    {
        return Err(ApiError::conflict(
            &rt.group,
            &rt.resource,
            rp.name.as_deref().unwrap_or_default(),
            "the object has been modified; please apply your changes to the latest version and try again",
        ));
    }
    let w = Write { core, rt, rp, opts };
    let owners = explicit_managers(&old, &obj);
    let out = w.finish(&mut state, Some(&old), obj, owners);
    drop(state);
    core.store.notify();
    out
}

/// Managed fields a request sets explicitly (kube honours them as given).
fn explicit_managers(old: &Value, new: &Value) -> Owners {
    match new.pointer("/metadata/managedFields") {
        Some(m) if Some(m) != old.pointer("/metadata/managedFields") => {
            Owners::Computed(ssa::decode_managers(new))
        }
        _ => Owners::Update,
    }
}

/// PATCH of an object with the given content type.
pub fn patch(
    core: &Core,
    rp: &ResourcePath,
    opts: &WriteOptions,
    content_type: &str,
    body: &[u8],
) -> Outcome {
    if content_type == "application/apply-patch+yaml"
        || content_type == "application/apply-patch+cbor"
    {
        return apply(core, rp, opts, body);
    }
    let rt = &rp.rt;
    let patch: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("error decoding patch: {e}")))?;
    let mut state = core.store.lock();
    let old = current(&state, rp)?;
    let mut new = old.clone();
    match content_type {
        "application/merge-patch+json" => json_patch::merge(&mut new, &patch),
        "application/json-patch+json" => {
            let ops: json_patch::Patch = serde_json::from_value(patch)
                .map_err(|e| ApiError::bad_request(format!("error decoding patch: {e}")))?;
            json_patch::patch(&mut new, &ops).map_err(|_| ApiError::unprocessable())?;
        }
        "application/strategic-merge-patch+json" => {
            if rt.crd_schema.is_some() {
                return Err(ApiError::unsupported_media_type(content_type));
            }
            new = crate::smp::apply(&old, &patch, node_for(rt)).map_err(ApiError::bad_request)?;
        }
        other => return Err(ApiError::unsupported_media_type(other)),
    }
    check_name(rp, &new)?;
    check_resource_version(rp, &old, &new)?;
    let w = Write { core, rt, rp, opts };
    let owners = explicit_managers(&old, &new);
    let out = w.finish(&mut state, Some(&old), new, owners);
    drop(state);
    core.store.notify();
    out
}

/// A resourceVersion in a patched or applied object is a precondition, as on an update.
fn check_resource_version(rp: &ResourcePath, old: &Value, new: &Value) -> Result<(), ApiError> {
    match meta_str(new, "resourceVersion") {
        Some(rv) if Some(rv) != meta_str(old, "resourceVersion") => Err(ApiError::conflict(
            &rp.rt.group,
            &rp.rt.resource,
            rp.name.as_deref().unwrap_or_default(),
            "the object has been modified; please apply your changes to the latest version and try again",
        )),
        _ => Ok(()),
    }
}

/// Server-side apply.
fn apply(core: &Core, rp: &ResourcePath, opts: &WriteOptions, body: &[u8]) -> Outcome {
    let rt = &rp.rt;
    let Some(manager) = opts.field_manager.clone().filter(|m| !m.is_empty()) else {
        return Err(ApiError::invalid_options(
            "PatchOptions",
            "fieldManager",
            "Required value: is required for apply patch",
            "FieldValueRequired",
        ));
    };
    let mut config = decode_body(body, true)?;
    if !config.is_object() {
        return Err(ApiError::bad_request(
            "error decoding YAML: object expected",
        ));
    }
    let kind = config
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let api_version = config
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    if kind.is_empty() {
        let (g, v) = crate::registry::split_gv(&api_version);
        return Err(ApiError::bad_request(format!(
            "invalid object type: {g}/{v}, Kind={kind}"
        )));
    }
    check_type(rt, &config)?;
    check_name(rp, &config)?;
    let node = node_for(rt);
    // The applied configuration becomes a typed value before anything else;
    // the patch object has no namespace yet, hence "(/name; …)".
    let typed_error = |why: String| {
        ApiError::internal(format!(
            "failed to create typed patch object (/{}; {}, Kind={}): {why}",
            rp.name.as_deref().unwrap_or_default(),
            rt.api_version(),
            rt.kind
        ))
    };
    if node.is_strict()
        && let Err(path) = ssa::to_field_set(&config, node)
    {
        return Err(typed_error(format!("{path}: field not declared in schema")));
    }
    if rt.crd_schema.is_some() {
        let nulls = crate::schema::null_objects(&config, node);
        if !nulls.is_empty() {
            let causes: Vec<crate::validation::Cause> = nulls
                .iter()
                .map(|path| crate::validation::Cause {
                    reason: "FieldValueTypeInvalid",
                    field: path.clone(),
                    message: format!(
                        "Invalid value: \"null\": {path} in body must be of type object: \"null\""
                    ),
                })
                .collect();
            let name = rp.name.clone().unwrap_or_default();
            return Err(ApiError::invalid(&rt.group, &rt.kind, &name, &causes));
        }
    }
    if rt.crd_schema.is_none()
        && let Some(m) = crate::schema::type_mismatches(&config, node).first()
    {
        let expected = match m.expected {
            "integer" | "number" => "numeric (int or float)",
            other => other,
        };
        return Err(typed_error(format!(
            ".{}: expected {expected}, got {}",
            m.path, m.found
        )));
    }
    let sub = rp.sub.as_deref();
    if sub == Some("status") {
        let mut slim = json!({"apiVersion": api_version, "kind": kind, "metadata": config["metadata"].clone()});
        if let Some(s) = config.get("status") {
            slim["status"] = s.clone();
        }
        config = slim;
    } else if rt.has_status {
        config.as_object_mut().map(|m| m.remove("status"));
    }
    let ns = rp.namespace.clone().unwrap_or_default();
    let name = rp.name.clone().unwrap_or_default();
    let mut state = core.store.lock();
    let old = state.get(&key_of(rt, &ns, &name)).map(|v| (*v).clone());
    if old.is_none() {
        if sub.is_some() {
            return Err(ApiError::not_found(&rt.group, &rt.resource, &name));
        }
        let causes = crate::names::validate_object_name(&rt.group, &rt.kind, &name);
        if !causes.is_empty() {
            return Err(ApiError::invalid(&rt.group, &rt.kind, &name, &causes));
        }
        check_namespace(&state, rt, &ns, &name)?;
    }
    let live = match &old {
        Some(o) => {
            let mut l = strip_managed(o);
            if sub != Some("status") && rt.has_status {
                l.as_object_mut().map(|m| m.remove("status"));
            }
            l
        }
        None => json!({"apiVersion": api_version, "kind": kind, "metadata": {"name": name}}),
    };
    let prior = old.as_ref().map(ssa::decode_managers).unwrap_or_default();
    let now = now();
    let ignored = crate::fieldpath::FieldSet::new();
    let w = Write { core, rt, rp, opts };
    let t = w.target(&manager, &now, &ignored);
    let applied = ssa::apply(&live, prior, &config, &t, opts.force)
        .map_err(|c| ApiError::apply_conflict(&c))?;
    if let Some(old) = &old {
        check_resource_version(rp, old, &config)?;
    }
    let out = w.finish(
        &mut state,
        old.as_ref(),
        applied.object,
        Owners::Computed(applied.managers),
    );
    drop(state);
    core.store.notify();
    out
}

/// DELETE of one object.
pub fn delete(core: &Core, rp: &ResourcePath, opts: &WriteOptions, body: Option<Value>) -> Outcome {
    let rt = &rp.rt;
    let mut state = core.store.lock();
    let old = current(&state, rp)?;
    let body = body.unwrap_or(Value::Null);
    if let Some(pre) = body.get("preconditions") {
        let name = rp.name.as_deref().unwrap_or_default();
        if let Some(uid) = pre.get("uid").and_then(Value::as_str)
            && Some(uid) != meta_str(&old, "uid")
        {
            return Err(ApiError::conflict(
                &rt.group,
                &rt.resource,
                name,
                &format!(
                    "Precondition failed: UID in precondition: {uid}, UID in object meta: {}",
                    meta_str(&old, "uid").unwrap_or_default()
                ),
            ));
        }
        if let Some(rv) = pre.get("resourceVersion").and_then(Value::as_str)
            && Some(rv) != meta_str(&old, "resourceVersion")
        {
            return Err(ApiError::conflict(
                &rt.group,
                &rt.resource,
                name,
                &format!(
                    "Precondition failed: ResourceVersion in precondition: {rv}, ResourceVersion in object meta: {}",
                    meta_str(&old, "resourceVersion").unwrap_or_default()
                ),
            ));
        }
    }
    let policy = body
        .get("propagationPolicy")
        .and_then(Value::as_str)
        .unwrap_or("Background")
        .to_string();
    // DeleteOptions may carry dryRun in the body (the kube client sends it there) as well as in the query.
    let dry_run = opts.dry_run
        || body
            .get("dryRun")
            .and_then(Value::as_array)
            .is_some_and(|d| d.iter().any(|v| v == "All"));
    let out = delete_object(core, &mut state, rt, old, &policy, dry_run);
    drop(state);
    core.store.notify();
    out
}

/// Deletes (or marks for deletion) one object already read from the store.
pub fn delete_object(
    core: &Core,
    state: &mut State,
    rt: &ResourceType,
    old: Value,
    policy: &str,
    dry_run: bool,
) -> Outcome {
    let _ = core;
    let ns = meta_str(&old, "namespace").unwrap_or_default().to_string();
    let name = meta_str(&old, "name").unwrap_or_default().to_string();
    let key = key_of(rt, &ns, &name);
    let mut extra_finalizers: Vec<&str> = Vec::new();
    if rt.kind == "Namespace" && rt.group.is_empty() {
        extra_finalizers.push("");
    }
    if rt.kind == "CustomResourceDefinition" {
        extra_finalizers.push("customresourcecleanup.apiextensions.k8s.io");
    }
    if policy == "Foreground" {
        extra_finalizers.push("foregroundDeletion");
    }
    let has_finalizers = old
        .pointer("/metadata/finalizers")
        .and_then(Value::as_array)
        .is_some_and(|f| !f.is_empty());
    if policy == "Orphan" && !dry_run {
        orphan_dependents(state, meta_str(&old, "uid").unwrap_or_default());
    }
    if has_finalizers || !extra_finalizers.is_empty() {
        if old.pointer("/metadata/deletionTimestamp").is_some() {
            return Ok((200, old));
        }
        let mut new = old.clone();
        let m = meta_mut(&mut new);
        m.insert("deletionTimestamp".into(), now().into());
        if extra_finalizers.is_empty() || policy == "Foreground" {
            m.insert("deletionGracePeriodSeconds".into(), 0.into());
        }
        let mut fins: Vec<Value> = m
            .get("finalizers")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        for f in extra_finalizers.iter().filter(|f| !f.is_empty()) {
            if !fins.iter().any(|x| x == f) {
                fins.push((*f).into());
            }
        }
        if !fins.is_empty() {
            m.insert("finalizers".into(), Value::Array(fins));
        }
        if rt.kind == "Namespace" && rt.group.is_empty() {
            new["status"]["phase"] = "Terminating".into();
        }
        if rt.kind == "CustomResourceDefinition"
            && let Some(conds) = new
                .pointer_mut("/status/conditions")
                .and_then(Value::as_array_mut)
        {
            conds.push(json!({"type": "Terminating", "status": "True", "lastTransitionTime": now(),
                    "reason": "InstanceDeletionPending",
                    "message": "CustomResourceDefinition marked for deletion; CustomResource deletion will begin soon"}));
        }
        if dry_run {
            return Ok((200, new));
        }
        let rv = state.next_rv();
        meta_mut(&mut new).insert("resourceVersion".into(), rv.to_string().into());
        let stored = state.put(key, new, rv, EventType::Modified);
        return Ok((200, (*stored).clone()));
    }
    let uid = meta_str(&old, "uid").unwrap_or_default().to_string();
    if !dry_run {
        let rv = state.next_rv();
        let mut gone = old.clone();
        meta_mut(&mut gone).insert("resourceVersion".into(), rv.to_string().into());
        state.remove(&key, gone, rv);
    }
    let mut details = Map::new();
    details.insert("name".into(), name.into());
    if !rt.group.is_empty() {
        details.insert("group".into(), rt.group.clone().into());
    }
    details.insert("kind".into(), rt.resource.clone().into());
    details.insert("uid".into(), uid.into());
    Ok((
        200,
        json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "details": details}),
    ))
}

fn orphan_dependents(state: &mut State, uid: &str) {
    let dependents: Vec<(Key, Value)> = state
        .objects
        .iter()
        .filter(|(_, o)| refs_owner(o, uid))
        .map(|(k, o)| (k.clone(), (**o).clone()))
        .collect();
    for (key, mut obj) in dependents {
        if let Some(refs) = obj
            .pointer_mut("/metadata/ownerReferences")
            .and_then(Value::as_array_mut)
        {
            refs.retain(|r| r.get("uid").and_then(Value::as_str) != Some(uid));
            if refs.is_empty() {
                meta_mut(&mut obj).remove("ownerReferences");
            }
        }
        let rv = state.next_rv();
        meta_mut(&mut obj).insert("resourceVersion".into(), rv.to_string().into());
        state.put(key, obj, rv, EventType::Modified);
    }
}

/// Whether `obj` has an owner reference to `uid`.
pub fn refs_owner(obj: &Value, uid: &str) -> bool {
    obj.pointer("/metadata/ownerReferences")
        .and_then(Value::as_array)
        .is_some_and(|refs| {
            refs.iter()
                .any(|r| r.get("uid").and_then(Value::as_str) == Some(uid))
        })
}

/// Writes `spec.replicas` through the scale subresource, as an update owned by
/// the caller with subresource `scale`.
pub fn set_replicas(core: &Core, rp: &ResourcePath, opts: &WriteOptions, replicas: i64) -> Outcome {
    let rt = &rp.rt;
    let mut state = core.store.lock();
    let old = current(&state, rp)?;
    let mut new = old.clone();
    new["spec"]["replicas"] = replicas.into();
    let w = Write { core, rt, rp, opts };
    let out = w.finish(&mut state, Some(&old), new, Owners::Update);
    drop(state);
    core.store.notify();
    out
}
