//! The CustomResourceDefinitions of the repository, with the wave each is
//! applied in: a custom resource needs its CRD in the same or an earlier
//! wave (the same wave works because a component's CRDs are applied, and
//! waited on until Established, before the rest of it).

use super::objects::Placed;
use crate::model::{ObjRef, Object, Origin};

/// One CRD of the repository.
#[derive(Debug, Clone)]
pub(crate) struct Crd {
    /// `metadata.name` (`widgets.example.com`).
    pub name: String,
    /// `spec.group`.
    pub group: String,
    /// `spec.names.kind`.
    pub kind: String,
    /// `spec.scope` is `Namespaced`.
    pub namespaced: bool,
    /// The versions it serves; empty when it does not list them (then any
    /// version is taken as served).
    pub versions: Vec<String>,
    /// The wave it is applied in (index).
    pub wave: usize,
    /// Where it is written.
    pub origin: Origin,
}

/// Every CRD of the repository, in wave order.
#[derive(Debug, Default)]
pub(crate) struct Crds(Vec<Crd>);

impl Crds {
    /// The CRDs among the placed objects.
    pub(crate) fn collect(placed: &[Placed<'_>]) -> Crds {
        let mut crds = Crds::default();
        for p in placed {
            crds.add(p.object, p.wave);
        }
        crds
    }

    /// Adds `object`, applied in wave `wave`, if it is a CRD.
    pub(crate) fn add(&mut self, object: &Object, wave: usize) {
        let Some(def) = crate::kinds::crd(&object.json) else {
            return;
        };
        self.0.push(Crd {
            name: object.reference().name,
            group: def.group,
            kind: def.kind,
            namespaced: def.namespaced,
            versions: def.versions,
            wave,
            origin: object.origin.clone(),
        });
    }

    /// The CRDs that define the kind of `r` (by group and kind), earliest
    /// wave first.
    pub(crate) fn defining(&self, r: &ObjRef) -> Vec<&Crd> {
        let mut found: Vec<&Crd> = self
            .0
            .iter()
            .filter(|c| c.group == r.group() && c.kind == r.kind)
            .collect();
        found.sort_by_key(|c| c.wave);
        found
    }
}

impl Crd {
    /// Whether it serves the version of `r`.
    pub(crate) fn serves(&self, r: &ObjRef) -> bool {
        self.versions.is_empty() || self.versions.iter().any(|v| v == r.version())
    }
}
