//! The checks of the rendered objects, all of them for every object (where
//! planning stops at the first): the wave an annotation asks for exists, the
//! kind is known (built in, a CRD of this or an earlier wave, or served by
//! the cluster with `--live`), namespaced objects get a namespace, and no
//! object is rendered twice.

use super::crds::{Crd, Crds};
use super::finding::{Check, Finding};
use super::live::Live;
use super::locate::Files;
use crate::config::WaveSet;
use crate::model::{ObjRef, Object, Origin};
use crate::plan::{Builtin, Scopes, WAVE_ANNOTATION, WaveInput};
use serde_json::Value;
use std::collections::HashMap;

/// An object in the wave it is applied in (after its annotation).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Placed<'a> {
    /// The object as rendered.
    pub object: &'a Object,
    /// The index of its wave.
    pub wave: usize,
}

/// Every object of the repository by reference (namespace settled), with
/// its wave and where it is written: what `requires` may point at.
pub(crate) type Index = HashMap<ObjRef, (usize, Origin)>;

/// What the checks read.
pub(crate) struct Objects<'a> {
    /// The WaveSet (its waves and default namespace).
    pub ws: &'a WaveSet,
    /// The repository's files, to point at the right line.
    pub files: &'a Files,
    /// The cluster, with `--live`.
    pub live: Option<&'a dyn Live>,
    /// How many components did not render: a CRD may be in one of them.
    pub incomplete: usize,
}

impl Objects<'_> {
    /// Places each object in its wave: the one it was rendered for, or the
    /// one its `wavesync.io/wave` annotation names (when that exists).
    pub(crate) fn place<'o>(&self, inputs: &'o [WaveInput]) -> (Vec<Placed<'o>>, Vec<Finding>) {
        let mut placed = Vec::new();
        let mut findings = Vec::new();
        let known = || {
            let names: Vec<&str> = self.ws.waves.iter().map(|w| w.name.as_str()).collect();
            names.join(", ")
        };
        for (w, wave) in inputs.iter().enumerate() {
            for object in wave.components.iter().flat_map(|(_, objects)| objects) {
                let annotation = object
                    .json
                    .pointer("/metadata/annotations")
                    .and_then(|a| a.get(WAVE_ANNOTATION));
                let target = match annotation {
                    None => w,
                    Some(Value::String(name)) => match self.ws.wave_index(name) {
                        Some(target) => target,
                        None => {
                            let message = format!(
                                "asks for wave \"{name}\" (annotation {WAVE_ANNOTATION}), which is \
                                 not declared; the waves are: {}",
                                known()
                            );
                            findings.push(self.at(object, &ANNOTATION, Check::Reference, &message));
                            w
                        }
                    },
                    Some(_) => {
                        let message = format!(
                            "the annotation {WAVE_ANNOTATION} must be a string (a wave name)"
                        );
                        findings.push(self.at(object, &ANNOTATION, Check::Reference, &message));
                        w
                    }
                };
                placed.push(Placed {
                    object,
                    wave: target,
                });
            }
        }
        (placed, findings)
    }

    /// Kinds, namespaces and duplicates of every placed object; returns the
    /// findings and the index of the objects.
    pub(crate) fn check(&self, placed: &[Placed<'_>], crds: &Crds) -> (Vec<Finding>, Index) {
        let mut findings = Vec::new();
        let mut index: Index = HashMap::new();
        for p in placed {
            let o = p.object;
            let namespaced = self.scope(p, crds, &mut findings);
            let mut r = o.reference();
            match o.json.pointer("/metadata/namespace") {
                None | Some(Value::Null | Value::String(_)) => {}
                Some(_) => {
                    let message = "metadata.namespace must be a string";
                    findings.push(self.at(o, &METADATA, Check::Namespace, message));
                }
            }
            match namespaced {
                Some(false) => r.namespace.clear(),
                Some(true) if r.namespace.is_empty() => match self.default_namespace(o) {
                    Some(ns) => r.namespace = ns,
                    None => {
                        let message = "namespaced, but it sets no metadata.namespace and \
                             wavesync.yaml sets no spec.namespace (it would go to \"default\"); \
                             set one of them";
                        findings.push(self.at(o, &METADATA, Check::Namespace, message));
                        r.namespace = crate::plan::DEFAULT_NAMESPACE.to_owned();
                    }
                },
                _ => {}
            }
            match index.get(&r) {
                Some((first_wave, first)) => {
                    let message = format!(
                        "declared twice: first in {first} (wave \"{}\"), again here (wave \"{}\")",
                        self.wave_name(*first_wave),
                        self.wave_name(p.wave)
                    );
                    findings.push(self.at_as(o, &r, &NAME, Check::Duplicate, &message));
                }
                None => {
                    index.insert(r, (p.wave, o.origin.clone()));
                }
            }
        }
        (findings, index)
    }

    /// Whether the object's kind is namespaced, reporting a kind whose CRD
    /// comes too late or nowhere; `None` when nothing knows the kind.
    fn scope(&self, p: &Placed<'_>, crds: &Crds, findings: &mut Vec<Finding>) -> Option<bool> {
        let o = p.object;
        let r = o.reference();
        if let Some(namespaced) = Builtin.namespaced(&r.api_version, &r.kind) {
            return Some(namespaced);
        }
        let defining = crds.defining(&r);
        let live = self.live.and_then(|l| l.scope(&r.api_version, &r.kind));
        let in_time: Option<&&Crd> = defining.iter().find(|c| c.wave <= p.wave);
        match (in_time, live) {
            (Some(crd), live) => {
                if !crd.serves(&r) && live.is_none() {
                    let message = format!(
                        "version {} is not served by CRD {} ({}), which serves {}",
                        r.version(),
                        crd.name,
                        crd.origin,
                        crd.versions.join(", ")
                    );
                    findings.push(self.at(o, &KIND, Check::CrdOrder, &message));
                }
                Some(crd.namespaced)
            }
            (None, Some(namespaced)) => Some(namespaced),
            (None, None) => {
                let message = match defining.first() {
                    Some(crd) => format!(
                        "{} ({}) is defined by CRD {} in the later wave \"{}\" ({}); it must be \
                         in wave \"{}\" or an earlier one{}",
                        r.kind,
                        r.api_version,
                        crd.name,
                        self.wave_name(crd.wave),
                        crd.origin,
                        self.wave_name(p.wave),
                        self.live_hint(", or served by the cluster")
                    ),
                    None => format!(
                        "no CRD defines {} ({}): none in the repository{}; add its CRD to this or \
                         an earlier wave{}{}",
                        r.kind,
                        r.api_version,
                        match self.live {
                            Some(_) => ", and the cluster does not serve it",
                            None => "",
                        },
                        self.live_hint(" (or validate with --live if the cluster has it)"),
                        match self.incomplete {
                            0 => String::new(),
                            n => format!(
                                " ({} did not render: if the CRD is in one, fix that first)",
                                if n == 1 {
                                    "a source".to_owned()
                                } else {
                                    format!("{n} sources")
                                }
                            ),
                        }
                    ),
                };
                findings.push(self.at(o, &KIND, Check::CrdOrder, &message));
                defining.first().map(|c| c.namespaced)
            }
        }
    }

    /// `hint`, unless the cluster was already asked.
    fn live_hint<'h>(&self, hint: &'h str) -> &'h str {
        if self.live.is_some() { "" } else { hint }
    }

    /// The namespace a namespaced object without one is given: its chart
    /// release's, else `spec.namespace`.
    fn default_namespace(&self, o: &Object) -> Option<String> {
        o.origin
            .release_namespace
            .clone()
            .or_else(|| self.ws.namespace.clone())
    }

    fn wave_name(&self, index: usize) -> &str {
        self.ws.waves.get(index).map_or("?", |w| w.name.as_str())
    }

    /// A finding about `o` at the line of `field` in its document; the
    /// message starts with the object, which text output does not show
    /// otherwise.
    fn at(&self, o: &Object, field: &[&str], check: Check, message: &str) -> Finding {
        self.at_as(o, &o.reference(), field, check, message)
    }

    /// As [`Objects::at`], naming the object `r` (its namespace settled).
    fn at_as(
        &self,
        o: &Object,
        r: &ObjRef,
        field: &[&str],
        check: Check,
        message: &str,
    ) -> Finding {
        let line = self.files.field_line(&o.origin, &r.kind, field);
        Finding::new(&o.origin.file, line, check, &format!("{r}: {message}")).about(r)
    }
}

const KIND: [&str; 1] = ["kind"];
const METADATA: [&str; 1] = ["metadata"];
const NAME: [&str; 2] = ["metadata", "name"];
const ANNOTATION: [&str; 3] = ["metadata", "annotations", WAVE_ANNOTATION];
