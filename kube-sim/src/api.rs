//! Request dispatch: authentication, fault injection, counters, routing and
//! the verb handlers.

use crate::core::Core;
use crate::faults::Fault;
use crate::read::{self, ListOptions};
use crate::route::{self, ResourcePath, Target};
use crate::status::ApiError;
use crate::write::{self, WriteOptions};
use bytes::Bytes;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// A request, reduced to what the handlers need.
#[derive(Debug, Clone, Default)]
pub struct Request {
    /// HTTP method.
    pub method: String,
    /// Path without query.
    pub path: String,
    /// Decoded query parameters.
    pub query: Vec<(String, String)>,
    /// Content-Type without parameters.
    pub content_type: String,
    /// Accept header.
    pub accept: String,
    /// User-Agent header.
    pub user_agent: String,
    /// Authorization header.
    pub authorization: Option<String>,
    /// Body.
    pub body: Bytes,
}

impl Request {
    fn param(&self, k: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
    }

    fn flag(&self, k: &str) -> bool {
        matches!(self.param(k), Some("true" | "1"))
    }
}

/// What the server sends back.
pub enum Body {
    /// A JSON document.
    Json(Value),
    /// Plain text.
    Text(String),
    /// Pre-encoded JSON.
    RawJson(Bytes),
    /// A watch stream of newline-delimited JSON events.
    Stream(mpsc::Receiver<Bytes>),
}

/// A response.
pub struct Response {
    /// HTTP status.
    pub code: u16,
    /// Body.
    pub body: Body,
    /// Extra headers.
    pub headers: Vec<(&'static str, String)>,
    /// Close the connection without answering (injected fault).
    pub drop_connection: bool,
}

impl Response {
    fn json(code: u16, v: Value) -> Self {
        Response {
            code,
            body: Body::Json(v),
            headers: Vec::new(),
            drop_connection: false,
        }
    }
}

impl From<ApiError> for Response {
    fn from(e: ApiError) -> Self {
        let mut r = Response::json(e.code, e.body());
        r.headers = e.headers;
        r
    }
}

/// The kube verb of a request, for counters and faults.
fn verb_of(req: &Request, t: &Target) -> &'static str {
    let named = matches!(t, Target::Resource(rp) if rp.name.is_some());
    let watch = matches!(t, Target::Resource(rp) if rp.watch_prefix) || req.flag("watch");
    match (req.method.as_str(), named) {
        ("GET", true) => "get",
        ("GET", false) if watch => "watch",
        ("GET", false) => "list",
        ("POST", _) => "create",
        ("PUT", _) => "update",
        ("PATCH", _) => "patch",
        ("DELETE", true) => "delete",
        ("DELETE", false) => "deletecollection",
        _ => "other",
    }
}

/// Handles one request.
pub async fn handle(core: Arc<Core>, req: Request) -> Response {
    if let Some(token) = &core.options.token {
        let ok = req.authorization.as_deref() == Some(&format!("Bearer {token}"));
        if !ok
            && !req.path.starts_with("/healthz")
            && !req.path.starts_with("/readyz")
            && !req.path.starts_with("/livez")
        {
            return ApiError::unauthorized().into();
        }
    }
    let target = route::resolve(&core.registry(), &req.path);
    let verb = verb_of(&req, &target);
    let (resource, namespace, name) = match &target {
        Target::Resource(rp) => (
            rp.rt.resource.clone(),
            rp.namespace.clone(),
            rp.name.clone(),
        ),
        _ => (String::new(), None, None),
    };
    let dry_run = is_dry_run(&req);
    core.counters.record(verb, &resource);
    if let Some(name) = &name {
        core.counters
            .record_object(verb, &resource, namespace.as_deref(), name, dry_run);
    }
    match core.faults.check(verb, &resource, name.as_deref()) {
        Some(Fault::Hook(hook)) => hook.call(&crate::faults::Call {
            verb,
            resource: &resource,
            namespace: namespace.as_deref(),
            name: name.as_deref(),
            dry_run,
        }),
        Some(Fault::Status(code)) => return ApiError::injected(code).into(),
        Some(Fault::Drop) => {
            return Response {
                code: 0,
                body: Body::Text(String::new()),
                headers: Vec::new(),
                drop_connection: true,
            };
        }
        Some(Fault::Latency(d)) => tokio::time::sleep(d).await,
        None => {}
    }
    match target {
        Target::Version => Response::json(200, parse(crate::registry::VERSION)),
        Target::CoreVersions => Response::json(200, parse(crate::registry::API_VERSIONS)),
        Target::Groups => Response::json(200, core.registry().api_groups()),
        Target::Group(g) => group_doc(&core, &g),
        Target::ResourceList(g, v) => match core.registry().resource_list(&g, &v) {
            Some(doc) => Response::json(200, doc),
            None => text_404(),
        },
        Target::Health => Response {
            code: 200,
            body: Body::Text("ok".into()),
            headers: Vec::new(),
            drop_connection: false,
        },
        Target::OpenApiIndex => Response::json(200, crate::openapi::index(&core.registry())),
        Target::OpenApiGroupVersion(g, v) => {
            match crate::openapi::group_version(&core.registry(), &g, &v) {
                Some(doc) => Response::json(200, doc),
                None => text_404(),
            }
        }
        Target::NoRoute => text_404(),
        Target::NoResource => ApiError::no_resource().into(),
        Target::Resource(rp) => match resource_request(core, &req, rp, verb) {
            Ok(r) => r,
            Err(e) => e.into(),
        },
    }
}

/// `dryRun=All` in the query, or in a DELETE's DeleteOptions body (where the
/// kube client puts it).
fn is_dry_run(req: &Request) -> bool {
    if req.param("dryRun") == Some("All") {
        return true;
    }
    req.method == "DELETE"
        && !req.body.is_empty()
        && serde_json::from_slice::<Value>(&req.body).is_ok_and(|b| {
            b.get("dryRun")
                .and_then(Value::as_array)
                .is_some_and(|d| d.iter().any(|v| v == "All"))
        })
}

fn parse(s: &str) -> Value {
    serde_json::from_str(s).unwrap_or(Value::Null)
}

fn text_404() -> Response {
    Response {
        code: 404,
        body: Body::Text("404 page not found\n".into()),
        headers: Vec::new(),
        drop_connection: false,
    }
}

fn group_doc(core: &Core, group: &str) -> Response {
    let groups = core.registry().api_groups();
    let found = groups["groups"]
        .as_array()
        .and_then(|gs| gs.iter().find(|g| g["name"] == group))
        .cloned();
    match found {
        Some(mut g) => {
            g["kind"] = "APIGroup".into();
            g["apiVersion"] = "v1".into();
            Response::json(200, g)
        }
        None => text_404(),
    }
}

fn wants_table(req: &Request) -> bool {
    req.accept
        .split(',')
        .next()
        .is_some_and(|first| first.contains("as=Table"))
}

fn wants_metadata(req: &Request) -> bool {
    req.accept
        .split(',')
        .next()
        .is_some_and(|first| first.contains("as=PartialObjectMetadata"))
}

fn list_options(
    req: &Request,
    rt: &crate::registry::ResourceType,
) -> Result<ListOptions, ApiError> {
    let labels = match req.param("labelSelector").filter(|s| !s.is_empty()) {
        Some(s) => Some(Arc::new(
            crate::selector::parse_label_selector(s).map_err(ApiError::bad_request)?,
        )),
        None => None,
    };
    let fields = match req.param("fieldSelector").filter(|s| !s.is_empty()) {
        Some(s) => Some(Arc::new(
            crate::selector::parse_field_selector_for(&rt.group, &rt.kind, s)
                .map_err(ApiError::bad_request)?,
        )),
        None => None,
    };
    Ok(ListOptions {
        labels,
        fields,
        limit: req
            .param("limit")
            .and_then(|l| l.parse().ok())
            .filter(|l| *l > 0),
        continue_token: req
            .param("continue")
            .filter(|c| !c.is_empty())
            .map(String::from),
        resource_version: req.param("resourceVersion").map(String::from),
        timeout: req
            .param("timeoutSeconds")
            .and_then(|t| t.parse().ok())
            .map(Duration::from_secs),
        bookmarks: req.flag("allowWatchBookmarks"),
        send_initial_events: req.flag("sendInitialEvents"),
        table: wants_table(req),
        metadata: wants_metadata(req),
    })
}

fn write_options(req: &Request) -> WriteOptions {
    WriteOptions {
        dry_run: req.param("dryRun") == Some("All"),
        field_manager: req.param("fieldManager").map(String::from),
        force: req.flag("force"),
        user_agent_manager: req
            .user_agent
            .split('/')
            .next()
            .unwrap_or_default()
            .to_string(),
        field_validation: req.param("fieldValidation").map(String::from),
        warnings: Default::default(),
    }
}

fn body_object(req: &Request) -> Result<Value, ApiError> {
    if req.content_type == "application/vnd.kubernetes.protobuf" {
        return crate::protobuf::decode(&req.body).map_err(|m| {
            let mut e = ApiError::unsupported_media_type(&req.content_type);
            e.message = m;
            e
        });
    }
    let yaml = req.content_type.contains("yaml");
    if !(yaml || req.content_type.is_empty() || req.content_type.contains("json")) {
        return Err(ApiError::unsupported_media_type(&req.content_type));
    }
    write::decode_body(&req.body, yaml)
}

fn resource_request(
    core: Arc<Core>,
    req: &Request,
    rp: ResourcePath,
    verb: &str,
) -> Result<Response, ApiError> {
    let wo = write_options(req);
    match rp.sub.as_deref() {
        None => {}
        Some("scale") if rp.rt.has_scale && matches!(verb, "get" | "update" | "patch") => {
            let body = crate::scale::handle(&core, &rp, verb, &wo, &req.content_type, &req.body)?;
            return Ok(Response::json(200, body));
        }
        Some("status") if rp.rt.has_status && matches!(verb, "get" | "update" | "patch") => {}
        Some(_) => return Err(ApiError::no_resource()),
    }
    if rp.rt.namespaced && rp.namespace.is_none() && rp.name.is_some() {
        return Err(ApiError::no_resource());
    }
    let (code, body) = match verb {
        "get" => (
            200,
            read::get(&core, &rp, wants_table(req), wants_metadata(req))?,
        ),
        "list" => {
            let lo = list_options(req, &rp.rt)?;
            if lo.table || lo.metadata {
                (200, read::list(&core, &rp, &lo)?)
            } else {
                let bytes = read::list_bytes(&core, &rp, &lo)?;
                return Ok(Response {
                    code: 200,
                    body: Body::RawJson(bytes),
                    headers: Vec::new(),
                    drop_connection: false,
                });
            }
        }
        "watch" => {
            let lo = list_options(req, &rp.rt)?;
            let rx = read::watch(core.clone(), rp, lo)?;
            return Ok(Response {
                code: 200,
                body: Body::Stream(rx),
                headers: Vec::new(),
                drop_connection: false,
            });
        }
        "create" if rp.name.is_none() => write::create(&core, &rp, &wo, body_object(req)?)?,
        "update" => write::update(&core, &rp, &wo, body_object(req)?)?,
        "patch" => write::patch(&core, &rp, &wo, &req.content_type, &req.body)?,
        "delete" => {
            let (body, wo) = delete_options(req, wo.clone());
            write::delete(&core, &rp, &wo, Some(body))?
        }
        "deletecollection" => delete_collection(&core, req, &rp, &wo)?,
        _ => return Err(ApiError::method_not_allowed(&req.method, &req.path)),
    };
    let mut resp = Response::json(code, body);
    for w in wo.warnings.lock().unwrap_or_else(|p| p.into_inner()).iter() {
        resp.headers.push(("Warning", format!("299 - {w:?}")));
    }
    Ok(resp)
}

/// DeleteOptions from the body (where the kube client puts them) and the query.
fn delete_options(req: &Request, mut wo: WriteOptions) -> (Value, WriteOptions) {
    let mut body: Value = if req.body.is_empty() {
        json!({})
    } else {
        serde_json::from_slice(&req.body).unwrap_or(json!({}))
    };
    if !body.is_object() {
        body = json!({});
    }
    if let Some(p) = req.param("propagationPolicy") {
        body["propagationPolicy"] = p.into();
    }
    if body
        .get("dryRun")
        .and_then(Value::as_array)
        .is_some_and(|d| d.iter().any(|v| v == "All"))
    {
        wo.dry_run = true;
    }
    (body, wo)
}

fn delete_collection(
    core: &Core,
    req: &Request,
    rp: &ResourcePath,
    wo: &WriteOptions,
) -> Result<(u16, Value), ApiError> {
    let (body, wo) = delete_options(req, wo.clone());
    let policy = body
        .get("propagationPolicy")
        .and_then(Value::as_str)
        .unwrap_or("Background")
        .to_string();
    let opts = list_options(req, &rp.rt)?;
    let listed = read::list(
        core,
        rp,
        &ListOptions {
            table: false,
            metadata: false,
            ..opts
        },
    )?;
    let mut state = core.store.lock();
    let mut deleted = Vec::new();
    for item in listed["items"].as_array().into_iter().flatten() {
        let ns = item
            .pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let name = item
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let key = (rp.rt.store_key(), ns.to_string(), name.to_string());
        if let Some(obj) = state.get(&key) {
            write::delete_object(
                core,
                &mut state,
                &rp.rt,
                (*obj).clone(),
                &policy,
                wo.dry_run,
            )?;
            deleted.push(item.clone());
        }
    }
    drop(state);
    core.store.notify();
    let mut out = listed;
    out["items"] = Value::Array(deleted);
    Ok((200, out))
}
