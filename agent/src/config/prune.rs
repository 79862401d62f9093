//! Resolving `spec.prune`: the share of the inventory one pass may delete,
//! and whether the objects of removed waves are pruned.

use serde_saphyr::Spanned;

use super::errors::ConfigError;
use super::resolve::{Ctx, field};
use super::schema;
use super::types::PrunePolicy;
use super::yaml::loc_of;

/// `spec.prune`, filled from the defaults.
pub(super) fn policy(
    ctx: &Ctx<'_>,
    raw: Option<&Spanned<schema::Prune>>,
) -> Result<PrunePolicy, ConfigError> {
    let mut policy = PrunePolicy::default();
    let Some(raw) = raw else { return Ok(policy) };
    let path = "spec.prune";
    if let Some(share) = &raw.value.max_delete_share {
        if !(1..=100).contains(&share.value) {
            return Err(ctx.invalid(
                loc_of(share),
                &field(path, "maxDeleteShare"),
                "maxDeleteShare is a percentage of the inventory from 1 to 100 (100 turns the guard off)",
            ));
        }
        policy.max_delete_share = share.value;
    }
    if let Some(removed) = &raw.value.removed_waves {
        policy.removed_waves = removed.value;
    }
    Ok(policy)
}
