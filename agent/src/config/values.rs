//! Per-cluster values: the declarations under `values` in `wavesync.yaml`
//! (with their defaults), merged with the selected cluster's values, and the
//! substitution of `{{ .cluster.KEY }}` / `{{ .values.KEY }}` placeholders.
//!
//! Both placeholder spellings read the same map. Substitution is used on every
//! string of `wavesync.yaml` while loading it, and by the renderer on plain
//! manifests through [`Values::substitute`]. An empty value is an error, not
//! an empty string: the seed installer's bug 2 was an empty storageClass that
//! reached the cluster.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{Map, Value};
use serde_saphyr::Spanned;

use super::errors::{ConfigError, Position, Site, ValuesOrigin, join_names};
use super::placeholder::{self, Piece};
use super::schema::Declaration;

/// The merged values of the selected cluster.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Values {
    /// Declared defaults overlaid (deeply) with the cluster's values.
    map: Map<String, Value>,
    /// The keys declared under `values` in `wavesync.yaml`.
    declared: Vec<String>,
    /// Which cluster and file the values came from, for messages.
    origin: ValuesOrigin,
}

/// A value a cluster sets, with where its key is written.
#[derive(Debug, Clone)]
pub(crate) struct Setting {
    /// The top-level key.
    pub(crate) key: String,
    /// Its value.
    pub(crate) value: Value,
    /// Where the key is written.
    pub(crate) at: Site,
}

/// What is wrong with one placeholder; turned into a [`ConfigError`] by the
/// caller, which knows where the text is.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Problem {
    /// It does not parse.
    Malformed(String),
    /// Its key is neither declared nor set.
    Undeclared(String),
    /// Its key is declared but set nowhere.
    Unset(String),
    /// Its value is null or blank.
    Empty(String),
    /// Its value is a map or a list.
    NotScalar(String, &'static str),
}

impl Values {
    /// Values from a plain map, with no declarations and no cluster: for
    /// tests and tools that have no `wavesync.yaml`.
    pub fn from_map(map: Map<String, Value>) -> Values {
        Values {
            map,
            declared: Vec::new(),
            origin: ValuesOrigin::default(),
        }
    }

    /// Merges `declarations` (their defaults) with a cluster's values.
    ///
    /// `cluster` holds each key the cluster sets with the value and where the
    /// key is written. When `values` declares anything, the declarations are
    /// the full list and a cluster key outside it is a typo.
    ///
    /// # Errors
    ///
    /// [`ConfigError::UndeclaredValue`] for a cluster key that is not declared.
    pub(crate) fn build(
        declarations: &BTreeMap<String, Spanned<Declaration>>,
        cluster: Vec<Setting>,
        origin: ValuesOrigin,
    ) -> Result<Values, ConfigError> {
        let declared: Vec<String> = declarations.keys().cloned().collect();
        let mut map = Map::new();
        for (key, decl) in declarations {
            if let Some(default) = &decl.value.default {
                map.insert(key.clone(), default.clone());
            }
        }
        for Setting { key, value, at } in cluster {
            if !declared.is_empty() && !declared.contains(&key) {
                let known = join_names(declared.iter().map(String::as_str));
                return Err(ConfigError::UndeclaredValue { at, key, known });
            }
            match map.get_mut(&key) {
                Some(existing) => merge(existing, value),
                None => {
                    map.insert(key, value);
                }
            }
        }
        Ok(Values {
            map,
            declared,
            origin,
        })
    }

    /// The value of `key`; a dotted key (`postgres.size`) reads nested maps.
    pub fn get(&self, key: &str) -> Option<&Value> {
        if let Some(v) = self.map.get(key) {
            return Some(v);
        }
        let mut parts = key.split('.');
        let first = self.map.get(parts.next()?)?;
        parts.try_fold(first, |v, part| v.get(part))
    }

    /// All values, declared defaults overlaid with the cluster's.
    pub fn as_map(&self) -> &Map<String, Value> {
        &self.map
    }

    /// The cluster these values belong to.
    pub fn cluster(&self) -> Option<&str> {
        self.origin.cluster.as_deref()
    }

    /// Where the values came from, as messages print it.
    pub fn origin(&self) -> &ValuesOrigin {
        &self.origin
    }

    /// Replaces every `{{ .cluster.KEY }}` / `{{ .values.KEY }}` in `text`
    /// (the contents of `file`, relative to the repository root). Other
    /// `{{ ... }}` templates are left as they are.
    ///
    /// # Errors
    ///
    /// At the placeholder's `file:line:column`: a malformed placeholder, an
    /// undeclared key, a value that is unset, empty or not a scalar.
    pub fn substitute(&self, text: &str, file: &Path) -> Result<String, ConfigError> {
        self.expand(text).map_err(|(offset, problem)| {
            let pos = Position {
                file: file.to_path_buf(),
                line_col: Some(placeholder::line_col(text, offset)),
            };
            self.error(
                problem,
                Site {
                    pos,
                    path: String::new(),
                },
                "placeholder",
            )
        })
    }

    /// Substitutes placeholders in `text`; on failure, the byte offset of the
    /// placeholder in `text` and what is wrong with it.
    pub(crate) fn expand(&self, text: &str) -> Result<String, (usize, Problem)> {
        let pieces = placeholder::scan(text).map_err(|m| (m.start, Problem::Malformed(m.text)))?;
        let mut out = String::with_capacity(text.len());
        let mut skip_quote = false;
        for (i, piece) in pieces.iter().enumerate() {
            match piece {
                Piece::Text(t) if skip_quote => {
                    out.push_str(&t[1..]);
                    skip_quote = false;
                }
                Piece::Text(t) => out.push_str(t),
                Piece::Value { start, key } => {
                    let text = self.scalar(key).map_err(|p| (*start, p))?;
                    // A placeholder that is a whole quoted scalar keeps the
                    // value's YAML type: `replicas: "{{ .cluster.replicas }}"`
                    // becomes the number 3, not the string "3".
                    let quote = out.chars().last().filter(|c| *c == '"' || *c == '\'');
                    let closed = quote.is_some_and(
                        |q| matches!(pieces.get(i + 1), Some(Piece::Text(t)) if t.starts_with(q)),
                    );
                    match (quote, closed, self.get(key)) {
                        (Some(_), true, Some(Value::Number(_) | Value::Bool(_))) => {
                            out.pop();
                            out.push_str(&text);
                            skip_quote = true;
                        }
                        (Some('"'), true, _) => {
                            out.push_str(&text.replace('\\', "\\\\").replace('"', "\\\""))
                        }
                        (Some(_), true, _) => out.push_str(&text.replace('\'', "\'\'")),
                        _ => out.push_str(&text),
                    }
                }
            }
        }
        Ok(out)
    }

    /// The text a placeholder for `key` becomes.
    fn scalar(&self, key: &str) -> Result<String, Problem> {
        let top = key.split('.').next().unwrap_or(key);
        let known = self.declared.iter().any(|d| d == top) || self.map.contains_key(top);
        match self.get(key) {
            None if !known => Err(Problem::Undeclared(key.to_string())),
            None => Err(Problem::Unset(key.to_string())),
            Some(Value::Null) => Err(Problem::Empty(key.to_string())),
            Some(Value::String(s)) if s.trim().is_empty() => Err(Problem::Empty(key.to_string())),
            Some(Value::String(s)) => Ok(s.clone()),
            Some(Value::Object(_)) => Err(Problem::NotScalar(key.to_string(), "map")),
            Some(Value::Array(_)) => Err(Problem::NotScalar(key.to_string(), "list")),
            Some(other) => Ok(other.to_string()),
        }
    }

    /// The error for `problem` at `at`; `usage` names what the user could
    /// remove instead of setting the value (`placeholder`, `requirement`).
    pub(crate) fn error(&self, problem: Problem, at: Site, usage: &'static str) -> ConfigError {
        let origin = Box::new(self.origin.clone());
        match problem {
            Problem::Malformed(text) => ConfigError::MalformedPlaceholder { at, text },
            Problem::Undeclared(key) => {
                let mut known: Vec<&str> = self.declared.iter().map(String::as_str).collect();
                known.extend(
                    self.map
                        .keys()
                        .map(String::as_str)
                        .filter(|k| !self.declared.iter().any(|d| d == k)),
                );
                ConfigError::UndeclaredValue {
                    at,
                    key,
                    known: join_names(known),
                }
            }
            Problem::Unset(key) => ConfigError::UnsetValue { at, key, origin },
            Problem::Empty(key) => ConfigError::EmptyValue {
                at,
                key,
                origin,
                usage,
            },
            Problem::NotScalar(key, kind) => ConfigError::NotScalarValue { at, key, kind },
        }
    }

    /// Checks that every value declared `required: true` is set and not
    /// empty; `site` gives where each declaration is written.
    ///
    /// # Errors
    ///
    /// [`ConfigError::UnsetValue`] or [`ConfigError::EmptyValue`] at the first
    /// offending declaration.
    pub(crate) fn check_required(
        &self,
        declarations: &BTreeMap<String, Spanned<Declaration>>,
        site: impl Fn(&str) -> Site,
    ) -> Result<(), ConfigError> {
        for key in declarations
            .iter()
            .filter(|(_, d)| d.value.required)
            .map(|(k, _)| k)
        {
            match self.scalar(key) {
                Ok(_) | Err(Problem::NotScalar(..)) => {}
                Err(problem) => return Err(self.error(problem, site(key), "`required` flag")),
            }
        }
        Ok(())
    }

    /// Like [`Values::check_required`], but every offending declaration, not
    /// only the first: `wavesync validate` reports them all.
    pub(crate) fn check_required_all(
        &self,
        declarations: &BTreeMap<String, Spanned<Declaration>>,
        site: impl Fn(&str) -> Site,
    ) -> Vec<ConfigError> {
        declarations
            .iter()
            .filter(|(_, d)| d.value.required)
            .filter_map(|(key, _)| match self.scalar(key) {
                Ok(_) | Err(Problem::NotScalar(..)) => None,
                Err(problem) => Some(self.error(problem, site(key), "`required` flag")),
            })
            .collect()
    }
}

/// Deep merge: maps merge key by key, anything else is replaced, as Helm
/// merges values (a cluster overrides one nested default, not the whole map).
pub(crate) fn merge(base: &mut Value, overlay: Value) {
    match (base, overlay) {
        (Value::Object(base), Value::Object(overlay)) => {
            for (k, v) in overlay {
                match base.get_mut(&k) {
                    Some(existing) => merge(existing, v),
                    None => {
                        base.insert(k, v);
                    }
                }
            }
        }
        (base, overlay) => *base = overlay,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::errors::ValuesSource;
    use serde_json::json;

    fn site() -> Site {
        Site {
            pos: Position {
                file: "clusters/dp-east.yaml".into(),
                line_col: Some((1, 1)),
            },
            path: String::new(),
        }
    }

    fn declarations(yaml: &str) -> BTreeMap<String, Spanned<Declaration>> {
        serde_saphyr::from_str(yaml).expect("declarations parse")
    }

    fn values() -> Values {
        let decl = declarations(
            "storageClass: { required: true }\nreplicas: { default: 2 }\npg: { default: { size: 1Gi, class: x } }\n",
        );
        let origin = ValuesOrigin {
            cluster: Some("dp-east".into()),
            source: ValuesSource::File("clusters/dp-east.yaml".into()),
        };
        let cluster = vec![
            Setting {
                key: "storageClass".into(),
                value: json!("fast"),
                at: site(),
            },
            Setting {
                key: "pg".into(),
                value: json!({ "size": "5Gi" }),
                at: site(),
            },
        ];
        Values::build(&decl, cluster, origin).expect("builds")
    }

    #[test]
    fn defaults_are_overlaid_deeply_by_the_cluster() {
        let v = values();
        assert_eq!(v.get("storageClass"), Some(&json!("fast")));
        assert_eq!(v.get("replicas"), Some(&json!(2)));
        assert_eq!(v.get("pg.size"), Some(&json!("5Gi")));
        assert_eq!(v.get("pg.class"), Some(&json!("x")));
        assert_eq!(v.get("nope"), None);
        assert_eq!(v.cluster(), Some("dp-east"));
    }

    #[test]
    fn substitutes_both_spellings_in_manifests() {
        let v = values();
        let text = "storageClassName: {{ .cluster.storageClass }}\nreplicas: {{.values.replicas}}\nsize: {{ .values.pg.size }}\n";
        let out = v
            .substitute(text, Path::new("waves/20/pvc.yaml"))
            .expect("substitutes");
        assert_eq!(out, "storageClassName: fast\nreplicas: 2\nsize: 5Gi\n");
    }

    #[test]
    fn substitution_errors_point_at_the_placeholder() {
        let mut v = values();
        v.map.insert("storageClass".into(), json!(""));
        let text =
            "kind: PersistentVolumeClaim\nspec:\n  storageClassName: {{ .cluster.storageClass }}\n";
        let err = v
            .substitute(text, Path::new("waves/20/pvc.yaml"))
            .expect_err("empty");
        assert_eq!(
            err.to_string(),
            "waves/20/pvc.yaml:3:21: value \"storageClass\" is empty for cluster \"dp-east\" \
             (clusters/dp-east.yaml); set it or drop the placeholder"
        );
        let err = v
            .substitute("a\n  x: {{ .values.storgeClass }}", Path::new("m.yaml"))
            .expect_err("typo");
        assert_eq!(
            err.to_string(),
            "m.yaml:2:6: value \"storgeClass\" is not declared; declared values: pg, replicas, storageClass"
        );
        let err = v
            .substitute("x: {{ .values.pg }}", Path::new("m.yaml"))
            .expect_err("map");
        assert!(
            err.to_string()
                .starts_with("m.yaml:1:4: value \"pg\" is a map"),
            "{err}"
        );
        let err = v
            .substitute("x: {{ .values.pg", Path::new("m.yaml"))
            .expect_err("open");
        assert!(
            err.to_string()
                .starts_with("m.yaml:1:4: malformed placeholder"),
            "{err}"
        );
    }

    #[test]
    fn cluster_keys_must_be_declared_when_declarations_exist() {
        let decl = declarations("storageClass: { required: true }\n");
        let cluster = vec![Setting {
            key: "storgeClass".into(),
            value: json!("fast"),
            at: site(),
        }];
        let err = Values::build(&decl, cluster, ValuesOrigin::default()).expect_err("typo");
        assert!(
            matches!(err, ConfigError::UndeclaredValue { ref key, .. } if key == "storgeClass"),
            "{err}"
        );
        // Without declarations, anything the cluster sets is known.
        let cluster = vec![Setting {
            key: "anything".into(),
            value: json!(1),
            at: site(),
        }];
        let v = Values::build(&BTreeMap::new(), cluster, ValuesOrigin::default()).expect("builds");
        assert_eq!(
            v.substitute("{{ .values.anything }}", Path::new("m"))
                .expect("known"),
            "1"
        );
    }

    #[test]
    fn required_values_must_be_set_and_not_blank() {
        let decl = declarations("storageClass: { required: true }\n");
        let v = Values::build(&decl, vec![], ValuesOrigin::default()).expect("builds");
        let err = v.check_required(&decl, |_| site()).expect_err("unset");
        assert!(matches!(err, ConfigError::UnsetValue { .. }), "{err}");
        let v = Values::build(
            &decl,
            vec![Setting {
                key: "storageClass".into(),
                value: json!("  "),
                at: site(),
            }],
            ValuesOrigin::default(),
        )
        .expect("builds");
        let err = v.check_required(&decl, |_| site()).expect_err("blank");
        assert!(matches!(err, ConfigError::EmptyValue { .. }), "{err}");
    }

    #[test]
    fn a_whole_quoted_placeholder_keeps_the_value_type() {
        let v = Values::from_map(
            serde_json::from_value(
                json!({"replicas": 3, "on": true, "class": "fast", "q": "a\"b"}),
            )
            .expect("map"),
        );
        let out = v.expand("replicas: \"{{ .cluster.replicas }}\"\nflag: '{{ .cluster.on }}'\nsc: \"{{ .cluster.class }}\"\nimg: \"r/{{ .cluster.class }}:1\"\nq: \"{{ .cluster.q }}\"\n").expect("expands");
        assert_eq!(
            out,
            "replicas: 3\nflag: true\nsc: \"fast\"\nimg: \"r/fast:1\"\nq: \"a\\\"b\"\n"
        );
    }
}
