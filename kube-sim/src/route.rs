//! URL paths to API targets, as kube-apiserver's router resolves them.

use crate::registry::{Registry, ResourceType};
use std::sync::Arc;

/// What a request path addresses.
#[derive(Debug, Clone)]
pub enum Target {
    /// `/version`.
    Version,
    /// `/api`.
    CoreVersions,
    /// `/apis`.
    Groups,
    /// `/apis/{group}`.
    Group(String),
    /// `/api/v1`, `/apis/{group}/{version}`.
    ResourceList(String, String),
    /// `/healthz`, `/readyz`, `/livez`.
    Health,
    /// `/openapi/v3`: the index.
    OpenApiIndex,
    /// `/openapi/v3/api/v1`, `/openapi/v3/apis/{group}/{version}`.
    OpenApiGroupVersion(String, String),
    /// A resource, collection or subresource.
    Resource(ResourcePath),
    /// Unknown group/version: plain-text 404, as the real mux answers.
    NoRoute,
    /// Known group/version, unknown resource: Status 404.
    NoResource,
}

/// A resource request.
#[derive(Debug, Clone)]
pub struct ResourcePath {
    /// The served type.
    pub rt: Arc<ResourceType>,
    /// Namespace from the path.
    pub namespace: Option<String>,
    /// Object name.
    pub name: Option<String>,
    /// Subresource (`status`).
    pub sub: Option<String>,
    /// Legacy `/watch/` prefix.
    pub watch_prefix: bool,
}

/// Resolves a path (without query).
pub fn resolve(reg: &Registry, path: &str) -> Target {
    let segs: Vec<String> = path
        .trim_matches('/')
        .split('/')
        .filter(|s| !s.is_empty())
        .map(|s| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8_lossy()
                .into_owned()
        })
        .collect();
    let s: Vec<&str> = segs.iter().map(String::as_str).collect();
    match s.as_slice() {
        ["version"] => Target::Version,
        ["healthz" | "readyz" | "livez", ..] => Target::Health,
        ["openapi", "v3"] => Target::OpenApiIndex,
        ["openapi", "v3", "api", v] => Target::OpenApiGroupVersion(String::new(), v.to_string()),
        ["openapi", "v3", "apis", g, v] => {
            Target::OpenApiGroupVersion(g.to_string(), v.to_string())
        }
        ["api"] => Target::CoreVersions,
        ["apis"] => Target::Groups,
        ["api", v] => list_or_none(reg, "", v),
        ["apis", g] => {
            if reg.all().any(|t| t.group == *g) {
                Target::Group(g.to_string())
            } else {
                Target::NoRoute
            }
        }
        ["apis", g, v] => list_or_none(reg, g, v),
        ["api", v, rest @ ..] => resource(reg, "", v, rest),
        ["apis", g, v, rest @ ..] => resource(reg, g, v, rest),
        _ => Target::NoRoute,
    }
}

fn list_or_none(reg: &Registry, g: &str, v: &str) -> Target {
    if reg.serves(g, v) {
        Target::ResourceList(g.to_string(), v.to_string())
    } else {
        Target::NoRoute
    }
}

fn resource(reg: &Registry, g: &str, v: &str, rest: &[&str]) -> Target {
    if !reg.serves(g, v) {
        return Target::NoRoute;
    }
    let (watch_prefix, rest) = match rest {
        ["watch", r @ ..] => (true, r),
        r => (false, r),
    };
    if let ["namespaces", ns, res, tail @ ..] = rest
        && let Some(rt) = reg.get(g, v, res).filter(|t| t.namespaced)
    {
        if tail.len() > 2 {
            return Target::NoResource;
        }
        return Target::Resource(ResourcePath {
            rt,
            namespace: Some(ns.to_string()),
            name: tail.first().map(|s| s.to_string()),
            sub: tail.get(1).map(|s| s.to_string()),
            watch_prefix,
        });
    }
    let [res, tail @ ..] = rest else {
        return Target::NoResource;
    };
    let Some(rt) = reg.get(g, v, res) else {
        return Target::NoResource;
    };
    if tail.len() > 2 || (rt.namespaced && !tail.is_empty()) {
        return Target::NoResource;
    }
    Target::Resource(ResourcePath {
        rt,
        namespace: None,
        name: tail.first().map(|s| s.to_string()),
        sub: tail.get(1).map(|s| s.to_string()),
        watch_prefix,
    })
}
