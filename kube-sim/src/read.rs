//! Reads: get, list (selectors, paging) and watch, in JSON or as a Table.

use crate::core::Core;
use crate::registry::ResourceType;
use crate::route::ResourcePath;
use crate::selector::{FieldSelector, LabelSelector};
use crate::status::ApiError;
use crate::store::{Event, EventType};
use base64::Engine;
use bytes::Bytes;
use serde_json::{Map, Value, json};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// Query parameters of list and watch.
#[derive(Debug, Default, Clone)]
pub struct ListOptions {
    /// Parsed `labelSelector`.
    pub labels: Option<Arc<LabelSelector>>,
    /// Parsed `fieldSelector`.
    pub fields: Option<Arc<FieldSelector>>,
    /// `limit`.
    pub limit: Option<usize>,
    /// `continue`.
    pub continue_token: Option<String>,
    /// `resourceVersion`.
    pub resource_version: Option<String>,
    /// `timeoutSeconds`.
    pub timeout: Option<Duration>,
    /// `allowWatchBookmarks`.
    pub bookmarks: bool,
    /// `sendInitialEvents`.
    pub send_initial_events: bool,
    /// The client asked for a Table.
    pub table: bool,
    /// The client asked for metadata only (`as=PartialObjectMetadata`).
    pub metadata: bool,
}

impl ListOptions {
    fn matches(&self, obj: &Value) -> bool {
        let labels = obj.pointer("/metadata/labels").and_then(Value::as_object);
        self.labels.as_ref().is_none_or(|s| s.matches(labels))
            && self.fields.as_ref().is_none_or(|f| f.matches(obj))
    }
}

/// GET of one object.
pub fn get(core: &Core, rp: &ResourcePath, table: bool, metadata: bool) -> Result<Value, ApiError> {
    let rt = &rp.rt;
    let name = rp.name.as_deref().unwrap_or_default();
    let key = (
        rt.store_key(),
        rp.namespace.clone().unwrap_or_default(),
        name.to_string(),
    );
    let obj = core
        .store
        .lock()
        .get(&key)
        .ok_or_else(|| ApiError::not_found(&rt.group, &rt.resource, name))?;
    let obj = at_version(rt, &obj);
    if table {
        let rv = obj
            .pointer("/metadata/resourceVersion")
            .cloned()
            .unwrap_or(Value::Null);
        return Ok(to_table(
            rt,
            std::slice::from_ref(&obj),
            json!({"resourceVersion": rv}),
        ));
    }
    if metadata {
        return Ok(partial(&obj));
    }
    Ok(obj)
}

/// An object as a `meta.k8s.io/v1` PartialObjectMetadata: its metadata only
/// (managedFields included), as metadata-only clients ask for.
pub fn partial(obj: &Value) -> Value {
    json!({
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": obj.get("metadata").cloned().unwrap_or_else(|| json!({})),
    })
}

/// The object as served at the requested version of its resource.
fn at_version(rt: &ResourceType, obj: &Value) -> Value {
    let mut o = obj.clone();
    if o.get("apiVersion").and_then(Value::as_str) != Some(&rt.api_version()) {
        o["apiVersion"] = rt.api_version().into();
    }
    o
}

#[derive(serde::Serialize, serde::Deserialize)]
struct ContinueToken {
    v: String,
    rv: u64,
    start: String,
}

/// Which objects a LIST returns, and its list metadata.
struct Selection {
    keys: Vec<crate::store::Key>,
    meta: Map<String, Value>,
}

fn select(
    state: &crate::store::State,
    rp: &ResourcePath,
    opts: &ListOptions,
) -> Result<Selection, ApiError> {
    let rt = &rp.rt;
    let resource = rt.store_key();
    let start_after = match &opts.continue_token {
        Some(t) => {
            let tok = decode_continue(t)?;
            if tok.rv < state.compacted {
                return Err(ApiError::expired(
                    "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.",
                ));
            }
            Some(tok.start)
        }
        None => None,
    };
    let mut keys = Vec::new();
    let mut last_key = String::new();
    let mut more = 0usize;
    for (key, obj) in state.list(&resource, rp.namespace.as_deref()) {
        let pos = format!("{}/{}", key.1, key.2);
        if start_after
            .as_ref()
            .is_some_and(|s| pos.as_str() <= s.as_str())
            || !opts.matches(obj)
        {
            continue;
        }
        if opts.limit.is_some_and(|l| keys.len() >= l) {
            more += 1;
            continue;
        }
        last_key = pos;
        keys.push(key.clone());
    }
    let rv = state.rv;
    let mut meta = Map::new();
    meta.insert("resourceVersion".into(), rv.to_string().into());
    if more > 0 {
        let tok = ContinueToken {
            v: "meta.k8s.io/v1".into(),
            rv,
            start: last_key,
        };
        let enc = base64::engine::general_purpose::STANDARD
            .encode(serde_json::to_vec(&tok).unwrap_or_default());
        meta.insert("continue".into(), enc.into());
        if opts.labels.is_none() && opts.fields.is_none() {
            meta.insert("remainingItemCount".into(), more.into());
        }
    } else if rt.crd_schema.is_some() {
        meta.insert("continue".into(), "".into());
    }
    Ok(Selection { keys, meta })
}

/// LIST of a collection, as JSON (for tables and internal callers).
pub fn list(core: &Core, rp: &ResourcePath, opts: &ListOptions) -> Result<Value, ApiError> {
    let rt = &rp.rt;
    let state = core.store.lock();
    let sel = select(&state, rp, opts)?;
    let objs: Vec<Value> = sel
        .keys
        .iter()
        .filter_map(|k| state.get(k))
        .map(|o| at_version(rt, &o))
        .collect();
    drop(state);
    if opts.table {
        return Ok(to_table(rt, &objs, Value::Object(sel.meta)));
    }
    if opts.metadata {
        let items: Vec<Value> = objs.iter().map(partial).collect();
        return Ok(
            json!({"kind": "PartialObjectMetadataList", "apiVersion": "meta.k8s.io/v1", "metadata": sel.meta, "items": items}),
        );
    }
    let items: Vec<Value> = objs
        .into_iter()
        .map(|mut o| {
            if rt.crd_schema.is_none()
                && let Some(m) = o.as_object_mut()
            {
                m.shift_remove("apiVersion");
                m.shift_remove("kind");
            }
            o
        })
        .collect();
    Ok(
        json!({"kind": format!("{}List", rt.kind), "apiVersion": rt.api_version(), "metadata": sel.meta, "items": items}),
    )
}

/// LIST of a collection as response bytes, joined from each object's stored
/// encoding (built-in list items carry no apiVersion/kind, custom resources do).
pub fn list_bytes(core: &Core, rp: &ResourcePath, opts: &ListOptions) -> Result<Bytes, ApiError> {
    let rt = &rp.rt;
    let state = core.store.lock();
    let sel = select(&state, rp, opts)?;
    let head = serde_json::to_string(&json!({"kind": format!("{}List", rt.kind), "apiVersion": rt.api_version(), "metadata": sel.meta}))
        .unwrap_or_default();
    let type_prefix = rt.crd_schema.as_ref().map(|_| {
        format!(
            "{{\"apiVersion\":{},\"kind\":{}",
            Value::from(rt.api_version()),
            Value::from(rt.kind.clone())
        )
    });
    let mut out = Vec::with_capacity(head.len() + 64 + sel.keys.len() * 512);
    out.extend_from_slice(&head.as_bytes()[..head.len().saturating_sub(1)]);
    out.extend_from_slice(b",\"items\":[");
    for (i, key) in sel.keys.iter().enumerate() {
        let Some(item) = state.encoded(key) else {
            continue;
        };
        if i > 0 {
            out.push(b',');
        }
        match &type_prefix {
            Some(p) => {
                out.extend_from_slice(p.as_bytes());
                if item.len() > 2 {
                    out.push(b',');
                }
                out.extend_from_slice(&item[1..]);
            }
            None => out.extend_from_slice(item),
        }
    }
    out.extend_from_slice(b"]}");
    Ok(Bytes::from(out))
}

fn decode_continue(t: &str) -> Result<ContinueToken, ApiError> {
    base64::engine::general_purpose::STANDARD
        .decode(t)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or_else(|| ApiError::bad_request("continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)"))
}

pub use crate::table::to_table;

/// Starts a WATCH; returns the channel the response body streams from.
pub fn watch(
    core: Arc<Core>,
    rp: ResourcePath,
    opts: ListOptions,
) -> Result<mpsc::Receiver<Bytes>, ApiError> {
    let (tx, rx) = mpsc::channel::<Bytes>(256);
    let rt = rp.rt.clone();
    let resource = rt.store_key();
    let start_rv: Option<u64> = opts
        .resource_version
        .as_deref()
        .filter(|v| !v.is_empty() && *v != "0")
        .map(|v| {
            v.parse::<u64>()
                .map_err(|_| ApiError::bad_request(format!("invalid resource version: {v}")))
        })
        .transpose()?;
    let mut initial = Vec::new();
    let mut cursor;
    {
        let state = core.store.lock();
        cursor = state.rv;
        match start_rv {
            Some(rv) if !opts.send_initial_events => {
                if state.events_after(rv).is_none() {
                    let err = ApiError::expired(format!(
                        "too old resource version: {rv} ({})",
                        state.compacted + 1
                    ));
                    initial.push(frame("ERROR", &err.body()));
                }
                cursor = rv;
            }
            _ => {
                for (_, obj) in state.list(&resource, rp.namespace.as_deref()) {
                    if opts.matches(obj) {
                        initial.push(event_frame(&rt, "ADDED", obj, &opts));
                    }
                }
            }
        }
    }
    if opts.send_initial_events {
        let bm = json!({"kind": rt.kind, "apiVersion": rt.api_version(), "metadata": {"resourceVersion": cursor.to_string(), "annotations": {"k8s.io/initial-events-end": "true"}}});
        initial.push(frame("BOOKMARK", &bm));
    }
    let mut notify = core.store.subscribe();
    let timeout = opts.timeout.unwrap_or(Duration::from_secs(1800));
    tokio::spawn(async move {
        let deadline = tokio::time::Instant::now() + timeout;
        let failed = initial
            .iter()
            .any(|f| f.starts_with(b"{\"type\":\"ERROR\""));
        for f in initial {
            if tx.send(f).await.is_err() {
                return;
            }
        }
        if failed {
            return;
        }
        loop {
            let events = core.store.lock().events_after(cursor);
            let Some(events) = events else {
                let err = ApiError::expired(format!("too old resource version: {cursor}"));
                let _ = tx.send(frame("ERROR", &err.body())).await;
                return;
            };
            for e in events {
                cursor = e.rv;
                if let Some(f) = event_for(&rt, &rp, &opts, &resource, &e)
                    && tx.send(f).await.is_err()
                {
                    return;
                }
            }
            let bookmark = tokio::time::sleep(Duration::from_secs(10));
            tokio::select! {
                _ = tokio::time::sleep_until(deadline) => return,
                changed = notify.changed() => if changed.is_err() { return },
                _ = bookmark, if opts.bookmarks => {
                    let bm = json!({"kind": rt.kind, "apiVersion": rt.api_version(), "metadata": {"resourceVersion": cursor.to_string()}});
                    if tx.send(frame("BOOKMARK", &bm)).await.is_err() { return; }
                }
                _ = tx.closed() => return,
            }
        }
    });
    Ok(rx)
}

fn event_for(
    rt: &ResourceType,
    rp: &ResourcePath,
    opts: &ListOptions,
    resource: &str,
    e: &Event,
) -> Option<Bytes> {
    if e.resource != resource || rp.namespace.as_deref().is_some_and(|ns| ns != e.namespace) {
        return None;
    }
    let now = opts.matches(&e.object);
    let before = e.prev.as_ref().is_some_and(|p| opts.matches(p));
    let ty = match (e.kind, before, now) {
        (EventType::Deleted, true, _) | (EventType::Deleted, false, true) => "DELETED",
        (EventType::Deleted, false, false) => return None,
        (EventType::Added, _, true) => "ADDED",
        (EventType::Modified, true, true) => "MODIFIED",
        (EventType::Modified, false, true) => "ADDED",
        (EventType::Modified, true, false) => "DELETED",
        _ => return None,
    };
    Some(event_frame(rt, ty, &e.object, opts))
}

fn event_frame(rt: &ResourceType, ty: &str, obj: &Value, opts: &ListOptions) -> Bytes {
    let o = at_version(rt, obj);
    if opts.metadata {
        return frame(ty, &partial(&o));
    }
    if opts.table {
        let rv = o
            .pointer("/metadata/resourceVersion")
            .cloned()
            .unwrap_or(Value::Null);
        return frame(
            ty,
            &to_table(rt, std::slice::from_ref(&o), json!({"resourceVersion": rv})),
        );
    }
    frame(ty, &o)
}

fn frame(ty: &str, obj: &Value) -> Bytes {
    let mut s = serde_json::to_vec(&json!({"type": ty, "object": obj})).unwrap_or_default();
    s.push(b'\n');
    Bytes::from(s)
}
