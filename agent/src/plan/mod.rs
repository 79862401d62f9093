//! Plan: the third stage of the pipeline (source → render → **plan** →
//! apply → health → state → report).
//!
//! Takes the rendered objects of every wave and component and decides what
//! apply will do, without touching a cluster: which wave each object belongs
//! to (the `wavesync.io/wave` annotation moves it), its namespace (defaulted,
//! or removed on cluster-scoped kinds), wavesync's labels, the apply order
//! inside each component (CRDs and Namespaces first, custom resources last;
//! the `order` submodule has the classes) and a digest per wave that changes
//! exactly when what would be applied changes (the `digest` submodule has the
//! format). Pure: the same input gives the same
//! plan, byte for byte.

mod assign;
pub(crate) mod digest;
mod error;
mod labels;
mod names;
mod namespace;
mod order;
mod scopes;

pub use error::PlanError;
pub use labels::{COMPONENT_LABEL, WAVE_ANNOTATION, WAVE_LABEL, WAVESET_LABEL};
pub use scopes::{Builtin, Scopes};

use crate::model::{ObjRef, Object, Origin};
use scopes::{CrdScopes, Layered};
use std::collections::HashMap;

/// The namespace of namespaced objects that name none, when the caller gives none.
pub const DEFAULT_NAMESPACE: &str = "default";

/// Input: per wave (in order), per component, the rendered objects.
#[derive(Debug, Clone, PartialEq)]
pub struct WaveInput {
    /// The wave's name.
    pub name: String,
    /// Its components in declaration order: name and rendered objects.
    pub components: Vec<(String, Vec<Object>)>,
}

/// What apply should do, wave by wave.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// The waves, in order.
    pub waves: Vec<PlannedWave>,
}

impl Plan {
    /// Every object the plan holds, across waves (what must not be pruned).
    pub fn references(&self) -> std::collections::BTreeSet<ObjRef> {
        self.waves
            .iter()
            .flat_map(|w| w.components.iter().flat_map(|c| c.objects.iter()))
            .map(|o| o.reference())
            .collect()
    }
}

impl PlannedWave {
    /// How many objects the wave holds.
    pub fn object_count(&self) -> usize {
        self.components.iter().map(|c| c.objects.len()).sum()
    }
}

/// One wave of a [`Plan`].
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedWave {
    /// The wave's name.
    pub name: String,
    /// Its components, in declaration order (then components created for
    /// objects moved here by annotation).
    pub components: Vec<PlannedComponent>,
    /// Hex SHA-256 of the wave's canonical objects, prefixed by the wave and
    /// component names; origins (files, lines) are not part of it.
    pub digest: String,
}

/// One component of a [`PlannedWave`].
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedComponent {
    /// The component's name.
    pub name: String,
    /// The objects, labelled, with namespaces settled, in apply order.
    pub objects: Vec<Object>,
}

/// Plans the rendered objects of a WaveSet into ordered waves with digests.
///
/// `default_namespace` goes to namespaced objects that name none
/// ([`DEFAULT_NAMESPACE`] when `None`). `scopes` is consulted for kinds that
/// are neither built in nor declared by a CRD of this or an earlier wave
/// (pass [`Builtin`] when there is no cluster to ask).
///
/// # Errors
/// A [`PlanError`] naming the object and its file: an unknown wave in an
/// annotation, an object declared twice, a kind of unknown scope, invalid
/// names or metadata.
pub fn plan(
    waveset_name: &str,
    default_namespace: Option<&str>,
    input: Vec<WaveInput>,
    scopes: &dyn Scopes,
) -> Result<Plan, PlanError> {
    assign::check_names(waveset_name, &input)?;
    let default_namespace = default_namespace.unwrap_or(DEFAULT_NAMESPACE);
    let mut crds = CrdScopes::default();
    let mut seen = HashMap::new();
    let mut waves = Vec::new();
    for wave in assign::by_annotation(input)? {
        wave.components
            .iter()
            .flat_map(|(_, objects)| objects)
            .for_each(|o| crds.add(o));
        let scopes = Layered([&Builtin, &crds, scopes]);
        let ctx = Context {
            waveset: waveset_name,
            wave: &wave.name,
            default_namespace,
            scopes: &scopes,
        };
        let components = wave
            .components
            .into_iter()
            .map(|(name, objects)| ctx.component(name, objects, &mut seen))
            .collect::<Result<Vec<_>, _>>()?;
        let digest = digest::wave_digest(&wave.name, &components);
        waves.push(PlannedWave {
            name: wave.name,
            components,
            digest,
        });
    }
    Ok(Plan { waves })
}

/// Refuses a namespaced object of `plan` that was rendered without a
/// namespace when there is no `spec.namespace` to give it (`plan` gave it
/// [`DEFAULT_NAMESPACE`]): what `wavesync validate` calls an error is one
/// for `sync` as well, rather than an object silently in `default`.
/// `input` is what `plan` was given; objects of a chart take its release
/// namespace and are fine.
///
/// # Errors
/// [`PlanError::NoNamespace`] for the first such object.
pub fn refuse_defaulted_namespaces(input: &[WaveInput], plan: &Plan) -> Result<(), PlanError> {
    let key = |o: &Object| {
        (
            o.origin.file.clone(),
            o.origin.doc,
            o.json.get("kind").cloned(),
            o.json.pointer("/metadata/name").cloned(),
        )
    };
    let unset: std::collections::HashSet<_> = input
        .iter()
        .flat_map(|w| &w.components)
        .flat_map(|(_, objects)| objects)
        .filter(|o| {
            o.origin.release_namespace.is_none()
                && o.json
                    .pointer("/metadata/namespace")
                    .and_then(serde_json::Value::as_str)
                    .is_none_or(str::is_empty)
        })
        .map(key)
        .collect();
    if unset.is_empty() {
        return Ok(());
    }
    for o in plan
        .waves
        .iter()
        .flat_map(|w| &w.components)
        .flat_map(|c| &c.objects)
    {
        // Cluster-scoped objects come out of `plan` without a namespace.
        if o.json.pointer("/metadata/namespace").is_some() && unset.contains(&key(o)) {
            return Err(PlanError::NoNamespace {
                object: o.reference().to_string(),
                origin: Box::new(o.origin.clone()),
            });
        }
    }
    Ok(())
}

/// What planning one wave needs to know.
struct Context<'a> {
    waveset: &'a str,
    wave: &'a str,
    default_namespace: &'a str,
    scopes: &'a dyn Scopes,
}

impl Context<'_> {
    /// Settles namespaces, checks for duplicates (across the whole plan),
    /// adds the labels and sorts a component's objects.
    fn component(
        &self,
        name: String,
        objects: Vec<Object>,
        seen: &mut HashMap<ObjRef, Origin>,
    ) -> Result<PlannedComponent, PlanError> {
        let mut planned = Vec::with_capacity(objects.len());
        for mut object in objects {
            namespace::normalize(&mut object, self.scopes, self.default_namespace)?;
            names::check(&object)?;
            let r = object.reference();
            if let Some(first) = seen.get(&r) {
                return Err(PlanError::Duplicate {
                    object: r.to_string(),
                    first: Box::new(first.clone()),
                    second: Box::new(object.origin.clone()),
                });
            }
            seen.insert(r, object.origin.clone());
            labels::add(&mut object, self.waveset, self.wave, &name)?;
            planned.push(object);
        }
        order::sort(&mut planned);
        Ok(PlannedComponent {
            name,
            objects: planned,
        })
    }
}

#[cfg(test)]
mod tests;
