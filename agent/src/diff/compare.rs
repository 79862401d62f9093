//! Two plans → a [`PlanDiff`].

use super::clean::{masked_yaml, unified};
use super::{Added, Changed, PlanDiff, WaveDiff};
use crate::apply::jobs::is_job;
use crate::model::{ObjRef, Object};
use crate::plan::Plan;
use std::collections::HashMap;

/// Compares the plan of the base revision with the head's.
pub fn compare(base: &Plan, head: &Plan) -> PlanDiff {
    let base_index = index(base);
    let head_index = index(head);
    let mut waves = Vec::new();
    for hw in &head.waves {
        let bw = base.waves.iter().find(|w| w.name == hw.name);
        let mut wave = WaveDiff {
            name: hw.name.clone(),
            base_digest: bw.map(|w| w.digest.clone()),
            head_digest: Some(hw.digest.clone()),
            ..WaveDiff::default()
        };
        for obj in hw.components.iter().flat_map(|c| &c.objects) {
            let r = obj.reference();
            match base_index.get(&r) {
                None => {
                    if is_job(obj) {
                        wave.jobs_rerun.push(r.clone());
                    }
                    wave.added.push(Added {
                        yaml: masked_yaml(&obj.json),
                        reference: r,
                    });
                }
                Some((from, before)) => {
                    let diff = unified(&before.json, &obj.json, ("base", "head"));
                    let moved_from = (*from != hw.name).then(|| from.to_string());
                    if diff.is_empty() && moved_from.is_none() {
                        continue;
                    }
                    if is_job(obj) && !diff.is_empty() {
                        wave.jobs_rerun.push(r.clone());
                    }
                    wave.changed.push(Changed {
                        reference: r,
                        moved_from,
                        diff,
                        drift: Vec::new(),
                    });
                }
            }
        }
        if let Some(bw) = bw {
            wave.removed = bw
                .components
                .iter()
                .flat_map(|c| &c.objects)
                .map(Object::reference)
                .filter(|r| !head_index.contains_key(r))
                .collect();
        }
        waves.push(wave);
    }
    for bw in base
        .waves
        .iter()
        .filter(|b| !head.waves.iter().any(|h| h.name == b.name))
    {
        waves.push(WaveDiff {
            name: bw.name.clone(),
            base_digest: Some(bw.digest.clone()),
            head_digest: None,
            removed: bw
                .components
                .iter()
                .flat_map(|c| &c.objects)
                .map(Object::reference)
                .filter(|r| !head_index.contains_key(r))
                .collect(),
            ..WaveDiff::default()
        });
    }
    PlanDiff { waves }
}

/// Every object of a plan by reference, with its wave.
fn index(plan: &Plan) -> HashMap<ObjRef, (&str, &Object)> {
    plan.waves
        .iter()
        .flat_map(|w| {
            w.components
                .iter()
                .flat_map(|c| &c.objects)
                .map(move |o| (o.reference(), (w.name.as_str(), o)))
        })
        .collect()
}
