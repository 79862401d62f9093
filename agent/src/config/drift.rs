//! Resolving the drift settings of the WaveSet, a wave or a component:
//! `drift` (alert or heal), `ignoreDifferences` and `spec.healLimit`.

use serde_saphyr::Spanned;

use super::errors::ConfigError;
use super::resolve::{Ctx, field, positive};
use super::schema::{self, Text};
use super::types::{DriftPolicy, DriftSettings, HealLimit, IgnoreRule};
use super::yaml::loc_of;
use crate::drift::ignore::{check_pointer, normalize_field_path};

/// One level's `drift` and `ignoreDifferences`, under `path`.
pub(super) fn settings(
    ctx: &Ctx<'_>,
    policy: Option<&Text>,
    ignore: &[Spanned<schema::Ignore>],
    path: &str,
) -> Result<DriftSettings, ConfigError> {
    let policy = policy
        .map(|t| self::policy(ctx, t, &field(path, "drift")))
        .transpose()?;
    let ignore = ignore
        .iter()
        .enumerate()
        .map(|(i, rule)| self::rule(ctx, rule, &format!("{path}.ignoreDifferences[{i}]")))
        .collect::<Result<_, _>>()?;
    Ok(DriftSettings { policy, ignore })
}

fn policy(ctx: &Ctx<'_>, t: &Text, path: &str) -> Result<DriftPolicy, ConfigError> {
    match ctx.text(t, path)?.as_str() {
        "alert" => Ok(DriftPolicy::Alert),
        "heal" => Ok(DriftPolicy::Heal),
        other => Err(ctx.invalid(
            loc_of(t),
            path,
            format!("unknown drift policy {other:?}: expected alert or heal"),
        )),
    }
}

fn rule(
    ctx: &Ctx<'_>,
    raw: &Spanned<schema::Ignore>,
    path: &str,
) -> Result<IgnoreRule, ConfigError> {
    let r = &raw.value;
    let opt = |t: &Option<Text>, name: &str| {
        t.as_ref()
            .map(|t| ctx.text(t, &field(path, name)))
            .transpose()
    };
    let mut json_pointers = Vec::new();
    for (i, t) in r.json_pointers.iter().enumerate() {
        let at = format!("{path}.jsonPointers[{i}]");
        let p = ctx.text(t, &at)?;
        check_pointer(&p).map_err(|m| ctx.invalid(loc_of(t), &at, m))?;
        json_pointers.push(p);
    }
    let mut field_paths = Vec::new();
    for (i, t) in r.field_paths.iter().enumerate() {
        let at = format!("{path}.fieldPaths[{i}]");
        let p = ctx.text(t, &at)?;
        let p = normalize_field_path(&p)
            .map_err(|m| ctx.invalid(loc_of(t), &at, format!("{p:?} is not a field path: {m}")))?;
        field_paths.push(p);
    }
    let mut managers = Vec::new();
    for (i, t) in r.managed_fields_managers.iter().enumerate() {
        managers.push(ctx.required(t, &format!("{path}.managedFieldsManagers[{i}]"))?);
    }
    if json_pointers.is_empty() && field_paths.is_empty() && managers.is_empty() {
        return Err(ctx.invalid(
            loc_of(raw),
            path,
            "ignores nothing: give jsonPointers, fieldPaths or managedFieldsManagers",
        ));
    }
    Ok(IgnoreRule {
        group: opt(&r.group, "group")?,
        kind: opt(&r.kind, "kind")?,
        name: opt(&r.name, "name")?,
        namespace: opt(&r.namespace, "namespace")?,
        json_pointers,
        field_paths,
        managers,
    })
}

/// `spec.healLimit`, filled from the defaults.
pub(super) fn heal_limit(
    ctx: &Ctx<'_>,
    raw: Option<&Spanned<schema::HealLimit>>,
) -> Result<HealLimit, ConfigError> {
    let mut limit = HealLimit::default();
    let Some(raw) = raw else { return Ok(limit) };
    let path = "spec.healLimit";
    if let Some(h) = &raw.value.heals {
        if h.value == 0 {
            return Err(ctx.invalid(
                loc_of(h),
                &field(path, "heals"),
                "heals must be at least 1 (use drift: alert to never heal)",
            ));
        }
        limit.heals = h.value;
    }
    if let Some(t) = &raw.value.window {
        limit.window = positive(ctx, t, &field(path, "window"))?;
    }
    Ok(limit)
}
