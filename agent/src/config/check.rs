//! [`check()`]: `wavesync.yaml` read as [`load()`](super::load) reads it,
//! but collecting every error instead of stopping at the first, for
//! `wavesync validate`.
//!
//! It uses the same pieces as `load()` (the schema, the per-field resolvers
//! of `resolve.rs`, the values), one wave, component, requirement and rule at
//! a time, so that one mistake does not hide the next. What resolved is kept
//! in a best-effort [`WaveSet`], so that the sources of the waves that are
//! fine can still be rendered and checked, together with where each part is
//! written ([`WaveSites`]) for messages about it.
//!
//! A YAML file that does not fit the schema gives one error per parse; for
//! the commonest mistake, a misspelt field, the offending key is blanked out
//! (keeping every line where it was) and the file parsed again, so that each
//! typo is reported.

use std::collections::HashMap;
use std::path::Path;

use serde_saphyr::Spanned;

use super::errors::{ConfigError, Position, Site, ValuesOrigin};
use super::load::{FILE_NAME, check_header, cluster_values, read, select_cluster};
use super::paths::Expect;
use super::resolve::{
    self, COMPONENT_BOTH, COMPONENT_NEITHER, Ctx, NO_COMPONENTS, Names, WAVE_BOTH, WAVE_NEITHER,
    field,
};
use super::schema;
use super::types::{Component, Defaults, Wave, WaveSet};
use super::values::Values;
use super::yaml::{self, Kind, Node, loc_of};

/// How many misspelt fields are blanked out and parsed again, at most.
const MAX_REPAIRS: usize = 50;

/// What [`check()`] found: every error, and what resolved despite them.
#[derive(Debug, Default)]
pub struct Checked {
    /// The waves, components, requirements and rules that resolved; `None`
    /// when the file cannot be read or parsed, or the cluster's values
    /// cannot be loaded (then nothing else can be checked).
    pub waveset: Option<WaveSet>,
    /// Where each part of `waveset` is written, wave by wave (same order).
    pub sites: Vec<WaveSites>,
    /// Every error, in the order found, except those of `required`.
    pub errors: Vec<ConfigError>,
    /// Values declared `required: true` that are unset or empty for the
    /// cluster, each at the place that sets the empty value (the cluster's
    /// values, or the declared default), or at its declaration when nothing
    /// sets it.
    pub required: Vec<ConfigError>,
    /// The parsed file, to find the line of a document path.
    tree: Option<Node>,
    /// Where the selected cluster sets each top-level value.
    settings: HashMap<String, Site>,
}

/// Where one resolved wave and its parts are written in `wavesync.yaml`, as
/// document paths (`spec.waves[2].components[0]`); each list is in the order
/// of the resolved wave's list of the same name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WaveSites {
    /// The wave (`spec.waves[2]`).
    pub wave: String,
    /// Each component: the wave itself for a wave written with `path`.
    pub components: Vec<String>,
    /// Each of the wave's requirements.
    pub requires: Vec<String>,
    /// Each of the wave's health rules.
    pub health: Vec<String>,
    /// Each component's requirements.
    pub component_requires: Vec<Vec<String>>,
    /// Each component's health rules.
    pub component_health: Vec<Vec<String>>,
}

impl Checked {
    /// The line and column of a document path in `wavesync.yaml`
    /// (`spec.waves[1].path`); for a map entry, of its key.
    pub fn location(&self, doc_path: &str) -> Option<(u32, u32)> {
        self.tree.as_ref()?.location_of(doc_path)
    }

    /// A site in `wavesync.yaml` at a document path.
    pub fn site(&self, doc_path: &str) -> Site {
        site_in(Path::new(FILE_NAME), self.location(doc_path), doc_path)
    }

    /// Where the value `key` (or, for `a.b`, its top-level key) is set for
    /// the checked cluster: the cluster's values file or inline values, else
    /// the declared default; `None` when nothing sets it.
    pub fn value_site(&self, key: &str) -> Option<Site> {
        let top = key.split('.').next().unwrap_or(key);
        if let Some(site) = self.settings.get(top) {
            return Some(site.clone());
        }
        let path = format!("values.{top}.default");
        self.location(&path)
            .map(|at| site_in(Path::new(FILE_NAME), Some(at), &path))
    }

    /// Where the value `key` (its top-level key) is declared under `values`.
    pub fn declaration_site(&self, key: &str) -> Option<Site> {
        let top = key.split('.').next().unwrap_or(key);
        let path = format!("values.{top}");
        self.location(&path)
            .map(|at| site_in(Path::new(FILE_NAME), Some(at), &path))
    }
}

fn site_in(file: &Path, at: Option<(u32, u32)>, path: &str) -> Site {
    Site {
        pos: Position {
            file: file.to_path_buf(),
            line_col: at,
        },
        path: path.to_string(),
    }
}

/// The names of the clusters `wavesync.yaml` at `repo_root` declares, read
/// leniently (the rest of the file may be wrong); empty when there are none
/// or the file is not YAML.
pub fn cluster_names(repo_root: &Path) -> Vec<String> {
    let Ok(root) = repo_root.canonicalize() else {
        return Vec::new();
    };
    let Ok(text) = read(&root, Path::new(FILE_NAME)) else {
        return Vec::new();
    };
    let Ok(tree) = yaml::parse_tree(&text, Path::new(FILE_NAME)) else {
        return Vec::new();
    };
    let Some(Kind::Seq(items)) = entry(&tree, "clusters").map(|n| &n.kind) else {
        return Vec::new();
    };
    items
        .iter()
        .filter_map(|item| match entry(item, "name").map(|n| &n.kind) {
            Some(Kind::Scalar(serde_json::Value::String(s))) => Some(s.clone()),
            _ => None,
        })
        .collect()
}

/// The value of `key` in a map node.
fn entry<'a>(node: &'a Node, key: &str) -> Option<&'a Node> {
    let Kind::Map(entries) = &node.kind else {
        return None;
    };
    entries.iter().find(|(k, _, _)| k == key).map(|(_, _, v)| v)
}

/// Reads `wavesync.yaml` at `repo_root` for `cluster` as [`load()`](super::load)
/// does, collecting every error it can find.
pub fn check(repo_root: &Path, cluster: Option<&str>) -> Checked {
    let mut out = Checked::default();
    let root = match repo_root.canonicalize() {
        Ok(root) => root,
        Err(e) => {
            out.errors.push(ConfigError::io(repo_root, e));
            return out;
        }
    };
    let file = Path::new(FILE_NAME);
    let source = match read(&root, file) {
        Ok(text) => text,
        Err(e) => {
            out.errors.push(e);
            return out;
        }
    };
    let Some((raw, tree, text)) = parse(&source, file, &mut out.errors) else {
        return out;
    };
    let here = |at: Option<(u32, u32)>, path: &str| site_in(file, at, path);
    keep(check_header(&raw, &here), &mut out.errors);
    let selected = match select_cluster(&raw, cluster, &here) {
        Ok(selected) => selected,
        Err(e) => {
            out.errors.push(e);
            return out;
        }
    };
    let (entries, origin) = match selected {
        Some((index, c)) => match cluster_values(&root, &tree, index, c, &here) {
            Ok(found) => found,
            Err(e) => {
                out.errors.push(e);
                return out;
            }
        },
        None => (Vec::new(), ValuesOrigin::default()),
    };
    out.settings = entries
        .iter()
        .map(|s| (s.key.clone(), s.at.clone()))
        .collect();
    // An undeclared key is reported and left out, so that the others still
    // give their values (instead of every placeholder failing after it).
    let (entries, undeclared): (Vec<_>, Vec<_>) = entries
        .into_iter()
        .partition(|s| raw.values.is_empty() || raw.values.contains_key(&s.key));
    for s in undeclared {
        let known = super::errors::join_names(raw.values.keys().map(String::as_str));
        out.errors.push(ConfigError::UndeclaredValue {
            at: s.at,
            key: s.key,
            known,
        });
    }
    let values = match Values::build(&raw.values, entries, origin) {
        Ok(values) => values,
        Err(e) => {
            out.errors.push(e);
            return out;
        }
    };
    out.tree = Some(tree);

    let mut ctx = Ctx {
        file,
        source: &text,
        root: &root,
        values: &values,
        namespace: None,
    };
    let spec = &raw.spec.value;
    let name = keep(
        ctx.name(&raw.metadata.name, "metadata.name"),
        &mut out.errors,
    )
    .unwrap_or_else(|| raw.metadata.name.value.clone());
    ctx.namespace = spec
        .namespace
        .as_ref()
        .and_then(|t| keep(ctx.name(t, "spec.namespace"), &mut out.errors));
    let defaults = keep(
        resolve::defaults(&ctx, spec.defaults.as_ref()),
        &mut out.errors,
    )
    .unwrap_or_default();
    if spec.waves.is_empty() {
        let at = out
            .tree
            .as_ref()
            .and_then(|t| t.location_of("spec.waves"))
            .or(loc_of(&raw.spec));
        let e = ctx.invalid(at, "spec.waves", "declares no waves");
        out.errors.push(e);
    }
    let mut names = Names::new("wave");
    let mut waves = Vec::with_capacity(spec.waves.len());
    for (i, w) in spec.waves.iter().enumerate() {
        let (wave, sites) = wave(&ctx, w, i, &defaults, &mut names, &mut out.errors);
        waves.push(wave);
        out.sites.push(sites);
    }
    let notifications =
        super::notifications::notifications(&ctx, &spec.notifications, &mut out.errors);
    let site_of = |key: &str| {
        out.value_site(key)
            .or_else(|| out.declaration_site(key))
            .unwrap_or_else(|| here(None, &format!("values.{key}")))
    };
    out.required = values.check_required_all(&raw.values, site_of);
    let drift = keep(
        super::drift::settings(&ctx, spec.drift.as_ref(), &spec.ignore_differences, "spec"),
        &mut out.errors,
    )
    .unwrap_or_default();
    let heal_limit = keep(
        super::drift::heal_limit(&ctx, spec.heal_limit.as_ref()),
        &mut out.errors,
    )
    .unwrap_or_default();
    let prune = keep(
        super::prune::policy(&ctx, spec.prune.as_ref()),
        &mut out.errors,
    )
    .unwrap_or_default();
    out.waveset = Some(WaveSet {
        name,
        namespace: ctx.namespace.clone(),
        defaults,
        waves,
        cluster: selected.map(|(_, c)| c.value.name.value.clone()),
        values,
        drift,
        heal_limit,
        notifications,
        prune,
    });
    out
}

/// The value of `result`, or `None` with its error recorded.
fn keep<T>(result: Result<T, ConfigError>, errors: &mut Vec<ConfigError>) -> Option<T> {
    result.map_err(|e| errors.push(e)).ok()
}

/// Parses the file into the schema and a tree, blanking out misspelt keys
/// one at a time to find the next error; returns the text actually parsed
/// (lines and columns unchanged).
fn parse(
    source: &str,
    file: &Path,
    errors: &mut Vec<ConfigError>,
) -> Option<(schema::File, Node, String)> {
    let mut text = source.to_string();
    for _ in 0..MAX_REPAIRS {
        match yaml::parse::<schema::File>(&text, file) {
            Ok(raw) => {
                let tree = keep(yaml::parse_tree(&text, file), errors)?;
                return Some((raw, tree, text));
            }
            Err(e) => {
                let repaired = match &e {
                    ConfigError::Yaml { at, message } if message.starts_with("unknown field") => {
                        at.pos.line_col.and_then(|at| blank_key(&text, at))
                    }
                    _ => None,
                };
                // Blanking always removes text; a repair that changes
                // nothing would report the same error again.
                let same = repaired.as_deref() == Some(text.as_str());
                errors.push(e);
                if same {
                    return None;
                }
                text = repaired?;
            }
        }
    }
    None
}

/// `text` with the block-style key at `(line, column)` and its value removed
/// (replaced by spaces and empty lines, so that every other position stays
/// the same); `None` when the key is not the first thing on its line (a flow
/// mapping), where blanking it would break the YAML.
fn blank_key(text: &str, (line, column): (u32, u32)) -> Option<String> {
    let line = usize::try_from(line).ok()?.checked_sub(1)?;
    let indent = usize::try_from(column).ok()?.checked_sub(1)?;
    let mut lines: Vec<String> = text.split('\n').map(str::to_owned).collect();
    let target = lines.get(line)?;
    let before: String = target.chars().take(indent).collect();
    if before.chars().count() != indent || !before.chars().all(|c| c == ' ' || c == '-') {
        return None;
    }
    lines[line] = before.trim_end().to_string();
    for l in lines.iter_mut().skip(line + 1) {
        let trimmed = l.trim_start();
        let own_indent = l.len() - trimmed.len();
        if trimmed.is_empty() || trimmed.starts_with('#') || own_indent > indent {
            l.clear();
        } else {
            break;
        }
    }
    Some(lines.join("\n"))
}

/// Resolves one wave part by part; what fails is recorded and left out.
fn wave(
    ctx: &Ctx<'_>,
    w: &Spanned<schema::Wave>,
    index: usize,
    defaults: &Defaults,
    names: &mut Names,
    errors: &mut Vec<ConfigError>,
) -> (Wave, WaveSites) {
    let raw = &w.value;
    let path = format!("spec.waves[{index}]");
    let name_path = field(&path, "name");
    // A wave whose name is wrong keeps the name as written, so that objects
    // annotated with it are not reported as well.
    let name =
        keep(ctx.name(&raw.name, &name_path), errors).unwrap_or_else(|| raw.name.value.clone());
    keep(names.insert(ctx, &name, &raw.name, &name_path), errors);
    let mut sites = WaveSites {
        wave: path.clone(),
        ..WaveSites::default()
    };
    let mut components = Vec::new();
    match (&raw.path, &raw.components) {
        (Some(p), None) => {
            let resolved = ctx.repo_path(p, &field(&path, "path"), Expect::FileOrDir);
            if let Some(source) = keep(resolved, errors) {
                components.push(Component {
                    name: name.clone(),
                    path: source,
                    chart: None,
                    skip_if: None,
                    requires: Vec::new(),
                    health: Vec::new(),
                    drift: Default::default(),
                });
                sites.components.push(path.clone());
                sites.component_requires.push(Vec::new());
                sites.component_health.push(Vec::new());
            }
        }
        (None, Some(list)) => {
            let list_path = field(&path, "components");
            if list.value.is_empty() {
                errors.push(ctx.invalid(loc_of(list), &list_path, NO_COMPONENTS));
            }
            let mut seen = Names::new("component");
            for (j, c) in list.value.iter().enumerate() {
                let c_path = format!("{list_path}[{j}]");
                if let Some((component, requires, health)) =
                    component(ctx, c, &c_path, &mut seen, errors)
                {
                    components.push(component);
                    sites.components.push(c_path);
                    sites.component_requires.push(requires);
                    sites.component_health.push(health);
                }
            }
        }
        (Some(_), Some(_)) => errors.push(ctx.invalid(loc_of(w), &path, WAVE_BOTH)),
        (None, None) => errors.push(ctx.invalid(loc_of(w), &path, WAVE_NEITHER)),
    }
    let (requires, requires_sites) = requirements(ctx, &raw.requires, &path, errors);
    sites.requires = requires_sites;
    let (health, health_sites) = rules(ctx, &raw.health, &path, errors);
    sites.health = health_sites;
    let skip_if = raw
        .skip_if
        .as_ref()
        .and_then(|s| keep(resolve::skip_if(ctx, s, &field(&path, "skipIf")), errors));
    let timeout = raw
        .timeout
        .as_ref()
        .and_then(|t| keep(resolve::positive(ctx, t, &field(&path, "timeout")), errors))
        .unwrap_or(defaults.timeout);
    let retry = keep(
        resolve::retry(
            ctx,
            raw.retry.as_ref(),
            defaults.retry,
            &field(&path, "retry"),
        ),
        errors,
    )
    .unwrap_or(defaults.retry);
    let drift = keep(
        super::drift::settings(ctx, raw.drift.as_ref(), &raw.ignore_differences, &path),
        errors,
    )
    .unwrap_or_default();
    let wave = Wave {
        name,
        components,
        requires,
        skip_if,
        health,
        timeout,
        retry,
        drift,
    };
    (wave, sites)
}

/// A resolved component with the sites of its requirements and rules.
type ComponentParts = (Component, Vec<String>, Vec<String>);

/// Resolves one component part by part; `None` when its source (path or
/// chart) does not resolve, since there is then nothing to render.
fn component(
    ctx: &Ctx<'_>,
    c: &Spanned<schema::Component>,
    path: &str,
    seen: &mut Names,
    errors: &mut Vec<ConfigError>,
) -> Option<ComponentParts> {
    let raw = &c.value;
    let name_path = field(path, "name");
    let name =
        keep(ctx.name(&raw.name, &name_path), errors).unwrap_or_else(|| raw.name.value.clone());
    keep(seen.insert(ctx, &name, &raw.name, &name_path), errors);
    let source = match (&raw.path, &raw.chart) {
        (Some(p), None) => keep(
            ctx.repo_path(p, &field(path, "path"), Expect::FileOrDir),
            errors,
        )
        .map(|p| (p, None)),
        (None, Some(ch)) => keep(
            resolve::chart(ctx, ch, &field(path, "chart"), &name),
            errors,
        )
        .map(|(p, chart)| (p, Some(chart))),
        (Some(_), Some(_)) => {
            errors.push(ctx.invalid(loc_of(c), path, COMPONENT_BOTH));
            None
        }
        (None, None) => {
            errors.push(ctx.invalid(loc_of(c), path, COMPONENT_NEITHER));
            None
        }
    };
    let skip_if = raw
        .skip_if
        .as_ref()
        .and_then(|s| keep(resolve::skip_if(ctx, s, &field(path, "skipIf")), errors));
    let (requires, requires_sites) = requirements(ctx, &raw.requires, path, errors);
    let (health, health_sites) = rules(ctx, &raw.health, path, errors);
    let drift = keep(
        super::drift::settings(ctx, raw.drift.as_ref(), &raw.ignore_differences, path),
        errors,
    )
    .unwrap_or_default();
    let (source_path, chart) = source?;
    let component = Component {
        name,
        path: source_path,
        chart,
        skip_if,
        requires,
        health,
        drift,
    };
    Some((component, requires_sites, health_sites))
}

/// Resolves `{parent}.requires`, each entry on its own.
fn requirements(
    ctx: &Ctx<'_>,
    raw: &[Spanned<schema::Requirement>],
    parent: &str,
    errors: &mut Vec<ConfigError>,
) -> (Vec<super::Requirement>, Vec<String>) {
    let mut resolved = Vec::new();
    let mut sites = Vec::new();
    for (i, r) in raw.iter().enumerate() {
        let path = format!("{parent}.requires[{i}]");
        if let Some(req) = keep(resolve::requirement(ctx, r, &path), errors) {
            resolved.push(req);
            sites.push(path);
        }
    }
    (resolved, sites)
}

/// Resolves `{parent}.health`, each rule on its own.
fn rules(
    ctx: &Ctx<'_>,
    raw: &[Spanned<schema::Health>],
    parent: &str,
    errors: &mut Vec<ConfigError>,
) -> (Vec<super::HealthRule>, Vec<String>) {
    let mut resolved = Vec::new();
    let mut sites = Vec::new();
    for (i, h) in raw.iter().enumerate() {
        let path = format!("{parent}.health[{i}]");
        if let Some(rule) = keep(resolve::health_rule(ctx, h, &path), errors) {
            resolved.push(rule);
            sites.push(path);
        }
    }
    (resolved, sites)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blanking_a_key_keeps_every_other_position() {
        let text =
            "a:\n  - name: x\n    timeot: 5m\n    path: p\n  - timeot:\n      x: 1\n    name: y\n";
        let once = blank_key(text, (3, 5)).expect("block key");
        assert_eq!(
            once,
            "a:\n  - name: x\n\n    path: p\n  - timeot:\n      x: 1\n    name: y\n"
        );
        let twice = blank_key(&once, (5, 5)).expect("first key of an item");
        assert_eq!(
            twice,
            "a:\n  - name: x\n\n    path: p\n  -\n\n    name: y\n"
        );
        assert_eq!(blank_key("a: {b: 1, c: 2}\n", (1, 11)), None);
    }

    use crate::test_support::write_tree as repo;

    #[test]
    fn every_error_of_every_wave_is_collected() {
        let yaml = "\
apiVersion: wavesync.io/v1alpha1
kind: WaveSet
metadata: { name: demo }
spec:
  waves:
    - name: one
      path: w/one
      timeot: 5m
    - name: Two
      path: w/missing
      timeout: 2min
    - name: three
      path: w/one
      health:
        - { kind: Widget, ready: '' }
clusters:
  - name: dev
    values: { storageClass: '' }
values:
  storageClass: { required: true }
";
        let r = repo(&[("wavesync.yaml", yaml), ("w/one/a.yaml", "")]);
        let checked = check(r.path(), None);
        let errors: Vec<String> = checked.errors.iter().map(ToString::to_string).collect();
        assert_eq!(errors.len(), 5, "{errors:#?}");
        assert!(errors[0].starts_with("wavesync.yaml:8:7: spec.waves[0].timeot: unknown field"));
        assert!(errors[1].starts_with("wavesync.yaml:9:13: spec.waves[1].name: \"Two\""));
        assert!(
            errors[2].starts_with("wavesync.yaml:10:13: spec.waves[1].path: path \"w/missing\"")
        );
        assert!(errors[3].starts_with("wavesync.yaml:11:16: spec.waves[1].timeout: invalid"));
        assert!(errors[4].contains("spec.waves[2].health[0].ready: the CEL expression is empty"));
        let required: Vec<String> = checked.required.iter().map(ToString::to_string).collect();
        assert_eq!(required.len(), 1);
        assert!(
            required[0].starts_with("wavesync.yaml:18:15: clusters[0].values.storageClass: value \"storageClass\" is empty"),
            "{required:?}"
        );
        let ws = checked.waveset.as_ref().expect("partial waveset");
        let waves: Vec<(&str, usize)> = ws
            .waves
            .iter()
            .map(|w| (w.name.as_str(), w.components.len()))
            .collect();
        assert_eq!(waves, [("one", 1), ("Two", 0), ("three", 1)]);
        assert_eq!(checked.sites[2].components, ["spec.waves[2]"]);
        assert_eq!(checked.location("spec.waves[2].path"), Some((13, 7)));
        assert_eq!(cluster_names(r.path()), ["dev"]);
    }
}
