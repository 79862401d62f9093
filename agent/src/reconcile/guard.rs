//! The guards in front of pruning, checked once per pass before anything is
//! applied. Pruning deletes what left Git, so a broken render, a bad merge or
//! an edited wavesync.yaml could delete a dataplane; as Flux never prunes on
//! a failed build, wavesync never prunes on an empty wave, deletes the
//! objects of a removed wave only when told to, and stops a pass that would
//! delete more than a set share of what it manages.

use crate::config::PrunePolicy;
use crate::error::{Categorized, Category};
use crate::model::ObjRef;
use crate::plan::Plan;
use crate::state::Record;

/// A pass the guards stop before it applies or deletes anything.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GuardError {
    /// A wave still in wavesync.yaml rendered nothing, while objects applied
    /// by it would be pruned.
    #[error(
        "wave {wave} rendered no objects, but {objects} applied before would be pruned (e.g. {example}); \
         nothing is pruned. If the wave is meant to go, remove it from wavesync.yaml \
         (its objects are then kept unless spec.prune.removedWaves is true)"
    )]
    EmptyRender {
        /// The wave.
        wave: String,
        /// Objects of its inventory not planned anywhere.
        objects: usize,
        /// One of them.
        example: String,
    },
    /// The pass would delete more than `spec.prune.maxDeleteShare` of the inventory.
    #[error(
        "this revision would prune {stale} of the {inventory} objects wavesync manages ({percent} %), \
         more than spec.prune.maxDeleteShare ({share} %); nothing is applied or pruned. \
         First: {examples}. If this is meant, raise spec.prune.maxDeleteShare or run \
         `wavesync sync --allow-mass-prune` once"
    )]
    MassDeletion {
        /// Objects the pass would prune.
        stale: usize,
        /// Objects in the inventory.
        inventory: usize,
        /// `stale` as a percentage of `inventory`, rounded down.
        percent: usize,
        /// The allowed share.
        share: u32,
        /// The first few of them.
        examples: String,
    },
}

impl Categorized for GuardError {
    /// The repository says something it likely does not mean: held until a
    /// new commit (or a manual sync with the override).
    fn category(&self) -> Category {
        Category::Config
    }
}

/// A removed wave whose objects are kept (not pruned) by the policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldWave {
    /// The wave, no longer in wavesync.yaml.
    pub wave: String,
    /// Its objects still in the inventory and not planned elsewhere.
    pub objects: usize,
}

/// What the guards allow a pass to prune.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Allowed {
    /// Removed waves whose objects stay (policy `removedWaves: false`).
    pub held: Vec<HeldWave>,
}

/// How many objects the error lists.
const EXAMPLES: usize = 5;

/// Checks what `plan` would prune from `record`'s inventory under `policy`.
/// `mass_override` is `--allow-mass-prune`.
///
/// # Errors
/// [`GuardError`] when the pass must not run.
pub fn check(
    record: &Record,
    plan: &Plan,
    policy: PrunePolicy,
    mass_override: bool,
) -> Result<Allowed, GuardError> {
    let planned = plan.references();
    let stale_of = |wave: &str| record.inventory.stale(wave, &planned);
    let mut stale: Vec<ObjRef> = Vec::new();
    for wave in &plan.waves {
        let gone = stale_of(&wave.name);
        if wave.object_count() == 0
            && let Some(first) = gone.first()
        {
            return Err(GuardError::EmptyRender {
                wave: wave.name.clone(),
                objects: gone.len(),
                example: first.to_string(),
            });
        }
        stale.extend(gone);
    }
    let mut allowed = Allowed::default();
    for wave in record.inventory.waves.keys() {
        if plan.waves.iter().any(|w| &w.name == wave) {
            continue;
        }
        let gone = stale_of(wave);
        if gone.is_empty() {
            continue;
        }
        if policy.removed_waves {
            stale.extend(gone);
        } else {
            allowed.held.push(HeldWave {
                wave: wave.clone(),
                objects: gone.len(),
            });
        }
    }
    let inventory = record.inventory.len();
    let over = stale.len() * 100 > inventory * policy.max_delete_share as usize;
    if over && !mass_override {
        let mut examples: Vec<String> =
            stale.iter().take(EXAMPLES).map(|r| r.to_string()).collect();
        if stale.len() > EXAMPLES {
            examples.push(format!("and {} more", stale.len() - EXAMPLES));
        }
        return Err(GuardError::MassDeletion {
            stale: stale.len(),
            inventory,
            percent: stale.len() * 100 / inventory,
            share: policy.max_delete_share,
            examples: examples.join(", "),
        });
    }
    Ok(allowed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Object, Origin};
    use crate::plan::{PlannedComponent, PlannedWave};
    use serde_json::json;

    fn cm(name: &str) -> ObjRef {
        ObjRef {
            api_version: "v1".into(),
            kind: "ConfigMap".into(),
            namespace: "shop".into(),
            name: name.into(),
        }
    }

    fn object(name: &str) -> Object {
        Object {
            json: json!({"apiVersion": "v1", "kind": "ConfigMap",
                         "metadata": {"name": name, "namespace": "shop"}}),
            origin: Origin::default(),
        }
    }

    fn plan(waves: &[(&str, &[&str])]) -> Plan {
        Plan {
            waves: waves
                .iter()
                .map(|(name, objects)| PlannedWave {
                    name: name.to_string(),
                    components: vec![PlannedComponent {
                        name: "c".into(),
                        objects: objects.iter().map(|n| object(n)).collect(),
                    }],
                    digest: String::new(),
                })
                .collect(),
        }
    }

    fn record(waves: &[(&str, &[&str])]) -> Record {
        let mut r = Record::new("shop");
        for (name, objects) in waves {
            r.inventory
                .waves
                .insert(name.to_string(), objects.iter().map(|n| cm(n)).collect());
        }
        r
    }

    const POLICY: PrunePolicy = PrunePolicy {
        max_delete_share: 50,
        removed_waves: false,
    };

    #[test]
    fn a_wave_that_renders_nothing_prunes_nothing() {
        let r = record(&[("base", &["a", "b"]), ("apps", &["c"])]);
        let err = check(
            &r,
            &plan(&[("base", &["a", "b"]), ("apps", &[])]),
            POLICY,
            true,
        )
        .expect_err("an empty render is refused, even with the mass override");
        assert_eq!(
            err,
            GuardError::EmptyRender {
                wave: "apps".into(),
                objects: 1,
                example: "ConfigMap shop/c".into()
            }
        );
        assert!(
            err.to_string().contains("wave apps rendered no objects"),
            "{err}"
        );
        assert_eq!(err.category(), Category::Config);
        // Its objects moved to another wave: nothing would be pruned.
        assert!(
            check(
                &r,
                &plan(&[("base", &["a", "b", "c"]), ("apps", &[])]),
                POLICY,
                false
            )
            .is_ok()
        );
    }

    #[test]
    fn a_pass_deleting_more_than_the_share_stops_unless_overridden() {
        let r = record(&[("base", &["a", "b", "c", "d"])]);
        // Two of four is not more than half.
        assert!(check(&r, &plan(&[("base", &["a", "b"])]), POLICY, false).is_ok());
        let err = check(&r, &plan(&[("base", &["a"])]), POLICY, false).expect_err("3 of 4");
        assert!(
            err.to_string().starts_with(
                "this revision would prune 3 of the 4 objects wavesync manages (75 %), more than spec.prune.maxDeleteShare (50 %)"
            ),
            "{err}"
        );
        assert!(
            err.to_string().contains("ConfigMap shop/b") || err.to_string().contains("shop/b"),
            "{err}"
        );
        assert!(check(&r, &plan(&[("base", &["a"])]), POLICY, true).is_ok());
        let lenient = PrunePolicy {
            max_delete_share: 100,
            ..POLICY
        };
        assert!(check(&r, &plan(&[("base", &["a"])]), lenient, false).is_ok());
    }

    #[test]
    fn removed_waves_are_held_unless_the_policy_prunes_them() {
        let r = record(&[("base", &["a", "b", "c"]), ("old", &["x"])]);
        let allowed = check(&r, &plan(&[("base", &["a", "b", "c"])]), POLICY, false).expect("held");
        assert_eq!(
            allowed.held,
            vec![HeldWave {
                wave: "old".into(),
                objects: 1
            }]
        );
        let prune = PrunePolicy {
            removed_waves: true,
            ..POLICY
        };
        let allowed =
            check(&r, &plan(&[("base", &["a", "b", "c"])]), prune, false).expect("pruned");
        assert!(allowed.held.is_empty());
        // Pruned removed waves count towards the share.
        let r = record(&[("base", &["a"]), ("old", &["x", "y"])]);
        assert!(check(&r, &plan(&[("base", &["a"])]), prune, false).is_err());
    }
}
