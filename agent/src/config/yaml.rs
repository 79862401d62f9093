//! Reading wavesync's own YAML files (`wavesync.yaml`, values files) with
//! locations: the parser options, typed parsing whose errors carry
//! `file:line:column` and the path in the document, and a span-aware tree of
//! the document used to turn a location into that path.
//!
//! serde-saphyr reports where an error is but not the path to it; the tree
//! maps one to the other, so that `unknown field` says
//! `spec.waves[1].components[0]` and not just `line 12`.

use std::path::Path;

use serde::Deserialize;
use serde::de::{self, DeserializeOwned, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::{Location, MessageFormatter, Spanned, UserMessageFormatter};

use super::errors::{ConfigError, Position, Site};

/// Parser options for wavesync's own files.
///
/// `strict_booleans`: YAML 1.2 booleans only, so that `name: N`, `on` or
/// `yes` in a values file stay strings (kubectl still reads manifests as YAML
/// 1.1; that is the renderer's business, not ours). Snippets are off because
/// our messages have their own `file:line:column` layout.
pub(crate) fn options() -> serde_saphyr::Options {
    serde_saphyr::options! {
        strict_booleans: true,
        with_snippet: false,
    }
}

/// Parses `text` (the contents of `file`) into `T`.
///
/// # Errors
///
/// [`ConfigError::Yaml`] with the location and document path of the problem.
pub(crate) fn parse<T: DeserializeOwned>(text: &str, file: &Path) -> Result<T, ConfigError> {
    serde_saphyr::from_str_with_options(text, options()).map_err(|e| yaml_error(&e, text, file))
}

/// Parses `text` into a [`Node`] tree.
///
/// # Errors
///
/// [`ConfigError::Yaml`] for malformed YAML.
pub(crate) fn parse_tree(text: &str, file: &Path) -> Result<Node, ConfigError> {
    if text.trim().is_empty() {
        // An empty document is null; the parser reports it as an unexpected end.
        return Ok(Node {
            at: None,
            kind: Kind::Scalar(serde_json::Value::Null),
        });
    }
    parse(text, file)
}

/// Converts a parser error into a [`ConfigError::Yaml`], finding the document
/// path of its location in a tree of the same text (when the text parses as
/// YAML at all: a syntax error has no path).
fn yaml_error(e: &serde_saphyr::Error, text: &str, file: &Path) -> ConfigError {
    // The parser calls an empty file an "unexpected end of file".
    let blank = text
        .lines()
        .all(|l| l.trim().is_empty() || l.trim_start().starts_with('#'));
    if blank {
        return ConfigError::Yaml {
            at: Site {
                pos: Position {
                    file: file.to_path_buf(),
                    line_col: Some((1, 1)),
                },
                path: String::new(),
            },
            message: "the file is empty (nothing but blank lines and comments); it must hold \
                      the WaveSet: apiVersion, kind, metadata and spec"
                .to_owned(),
        };
    }
    let inner = e.without_snippet();
    let message: String = UserMessageFormatter
        .format_message(inner)
        .chars()
        // The renderer neutralizes control characters; we call the formatter
        // directly, so do the same before the text reaches a terminal.
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let location = inner.location();
    // A missing field is reported at the mapping that lacks it; other errors
    // at the offending key or value, the deepest node that starts there.
    let container = matches!(inner, serde_saphyr::Error::SerdeMissingField { .. });
    let line_col = location.map(line_col);
    let (path, container_at) = match (
        line_col,
        serde_saphyr::from_str_with_options::<Node>(text, options()),
    ) {
        (Some(at), Ok(tree)) => tree.locate(at, container),
        _ => (String::new(), None),
    };
    let line_col = container_at.or(line_col);
    ConfigError::Yaml {
        at: Site {
            pos: Position {
                file: file.to_path_buf(),
                line_col,
            },
            path,
        },
        message,
    }
}

/// The 1-based line and column of a location.
pub(crate) fn line_col(loc: Location) -> (u32, u32) {
    // The parser counts in u32 and widens to u64 when asked.
    let clamp = |n: u64| u32::try_from(n).unwrap_or(u32::MAX);
    (clamp(loc.line()), clamp(loc.column()))
}

/// The location of a spanned value: where it is written (for an alias, where
/// the alias is), unless the parser did not know it.
pub(crate) fn loc_of<T>(s: &Spanned<T>) -> Option<(u32, u32)> {
    let loc = s.referenced;
    (loc.line() > 0).then(|| line_col(loc))
}

/// A YAML node with where it starts.
#[derive(Debug, Clone)]
pub(crate) struct Node {
    /// Line and column; `None` for an empty document.
    pub(crate) at: Option<(u32, u32)>,
    /// What it is.
    pub(crate) kind: Kind,
}

/// The shape of a [`Node`].
#[derive(Debug, Clone)]
pub(crate) enum Kind {
    /// A string, number, boolean or null.
    Scalar(serde_json::Value),
    /// A sequence.
    Seq(Vec<Node>),
    /// A mapping, in document order, with where each key is.
    Map(Vec<(String, (u32, u32), Node)>),
}

/// One node or key of a tree, flattened for lookups by location.
struct Entry {
    /// Where it starts.
    at: (u32, u32),
    /// Its document path (a key shares it with its value).
    path: String,
    /// For a key, the path of the map holding it.
    parent: Option<String>,
}

impl Node {
    /// The document path of the node at or just before `at`, the deepest one
    /// starting there. With `container`, the map or list holding the error
    /// instead (a missing field is reported at the last key the parser saw),
    /// together with where that container starts.
    pub(crate) fn locate(&self, at: (u32, u32), container: bool) -> (String, Option<(u32, u32)>) {
        let entries = self.entries();
        // Document order: the last entry starting at or before `at` is the
        // deepest node there (a map starts where its first key does).
        let Some(best) = entries.iter().rev().find(|e| e.at <= at) else {
            return (String::new(), None);
        };
        match (&best.parent, container) {
            (Some(parent), true) => {
                let start = entries
                    .iter()
                    .find(|e| e.path == *parent && e.parent.is_none())
                    .map(|e| e.at);
                (parent.clone(), start)
            }
            _ => (best.path.clone(), None),
        }
    }

    /// The location of the node at `path` (for a map entry, of its key).
    pub(crate) fn location_of(&self, path: &str) -> Option<(u32, u32)> {
        self.entries()
            .into_iter()
            .find(|e| e.path == path)
            .map(|e| e.at)
    }

    /// Every node and key with its start and document path, in document order.
    fn entries(&self) -> Vec<Entry> {
        let mut out = Vec::new();
        self.collect(String::new(), &mut out);
        out
    }

    fn collect(&self, path: String, out: &mut Vec<Entry>) {
        if let Some(at) = self.at {
            out.push(Entry {
                at,
                path: path.clone(),
                parent: None,
            });
        }
        match &self.kind {
            Kind::Scalar(_) => {}
            Kind::Seq(items) => {
                for (i, item) in items.iter().enumerate() {
                    item.collect(format!("{path}[{i}]"), out);
                }
            }
            Kind::Map(entries) => {
                for (key, key_at, value) in entries {
                    let child = if path.is_empty() {
                        key.clone()
                    } else {
                        format!("{path}.{key}")
                    };
                    out.push(Entry {
                        at: *key_at,
                        path: child.clone(),
                        parent: Some(path.clone()),
                    });
                    value.collect(child, out);
                }
            }
        }
    }

    /// The node as JSON (map keys in document order).
    pub(crate) fn to_json(&self) -> serde_json::Value {
        match &self.kind {
            Kind::Scalar(v) => v.clone(),
            Kind::Seq(items) => items.iter().map(Node::to_json).collect(),
            Kind::Map(entries) => entries
                .iter()
                .map(|(k, _, v)| (k.clone(), v.to_json()))
                .collect::<serde_json::Map<_, _>>()
                .into(),
        }
    }
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let spanned = Spanned::<Kind>::deserialize(d)?;
        let at = loc_of(&spanned);
        Ok(Node {
            at,
            kind: spanned.value,
        })
    }
}

impl<'de> Deserialize<'de> for Kind {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(KindVisitor)
    }
}

/// Builds a [`Kind`] from whatever the parser finds.
struct KindVisitor;

impl<'de> Visitor<'de> for KindVisitor {
    type Value = Kind;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("any YAML node")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Kind, E> {
        Ok(Kind::Scalar(v.into()))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Kind, E> {
        Ok(Kind::Scalar(v.into()))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Kind, E> {
        Ok(Kind::Scalar(v.into()))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Kind, E> {
        // Non-finite floats are rejected by the parser before they get here;
        // should one slip through, null is what serde_json makes of it too.
        Ok(Kind::Scalar(
            serde_json::Number::from_f64(v).map_or(serde_json::Value::Null, Into::into),
        ))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Kind, E> {
        Ok(Kind::Scalar(v.into()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Kind, E> {
        Ok(Kind::Scalar(v.into()))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Kind, E> {
        Ok(Kind::Scalar(serde_json::Value::Null))
    }

    fn visit_none<E: de::Error>(self) -> Result<Kind, E> {
        Ok(Kind::Scalar(serde_json::Value::Null))
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Kind, D::Error> {
        Kind::deserialize(d)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Kind, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Node>()? {
            items.push(item);
        }
        Ok(Kind::Seq(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Kind, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = map.next_key::<Spanned<serde_json::Value>>()? {
            let at = loc_of(&key).unwrap_or((0, 0));
            // Keys are strings in our files; a number or boolean key (`1: x`)
            // is kept as its text, as a JSON object key must be a string.
            let text = match key.value {
                serde_json::Value::String(s) => s,
                other => other.to_string(),
            };
            entries.push((text, at, map.next_value::<Node>()?));
        }
        Ok(Kind::Map(entries))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = "\
a: 1
b:
  c: [x, yes]
  d:
    - e: N
      f: ~
";

    #[test]
    fn the_tree_knows_where_each_node_is() {
        let tree = parse_tree(DOC, Path::new("t.yaml")).expect("parses");
        assert_eq!(tree.location_of("b.c"), Some((3, 3)));
        assert_eq!(tree.location_of("b.c[1]"), Some((3, 10)));
        assert_eq!(tree.location_of("b.d[0].f"), Some((6, 7)));
        assert_eq!(tree.locate((6, 10), false), ("b.d[0].f".into(), None));
        assert_eq!(tree.locate((5, 7), false), ("b.d[0].e".into(), None));
        assert_eq!(tree.locate((6, 7), true), ("b.d[0]".into(), Some((5, 7))));
        assert_eq!(tree.locate((2, 1), true), ("".into(), Some((1, 1))));
    }

    #[test]
    fn booleans_are_yaml_1_2_only() {
        let tree = parse_tree(DOC, Path::new("t.yaml")).expect("parses");
        let json = tree.to_json();
        assert_eq!(json["b"]["c"], serde_json::json!(["x", "yes"]));
        assert_eq!(json["b"]["d"][0]["e"], "N");
        assert_eq!(json["b"]["d"][0]["f"], serde_json::Value::Null);
        let t = parse_tree("a: true\nb: on\n", Path::new("t.yaml"))
            .expect("parses")
            .to_json();
        assert_eq!(t, serde_json::json!({"a": true, "b": "on"}));
    }

    #[test]
    fn errors_carry_file_line_column_and_path() {
        #[derive(Debug, Deserialize)]
        #[serde(deny_unknown_fields)]
        #[allow(dead_code)]
        struct T {
            a: u32,
            b: B,
        }
        #[derive(Debug, Deserialize)]
        #[serde(deny_unknown_fields)]
        #[allow(dead_code)]
        struct B {
            c: Vec<String>,
        }
        let err = parse::<T>(DOC, Path::new("t.yaml")).expect_err("d is unknown");
        assert_eq!(
            err.to_string(),
            "t.yaml:4:3: b.d: unknown field `d`, expected one of c"
        );
        let err = parse::<T>("a: 1\nb: {}\n", Path::new("t.yaml")).expect_err("c is missing");
        assert_eq!(err.to_string(), "t.yaml:2:4: b: missing field `c`");
        let err = parse::<T>("# nothing yet\n\n", Path::new("t.yaml")).expect_err("empty");
        assert!(
            err.to_string().starts_with("t.yaml:1:1: the file is empty"),
            "{err}"
        );
        let err = parse::<T>("a: [\n", Path::new("t.yaml")).expect_err("syntax");
        assert!(err.to_string().starts_with("t.yaml:1:4: "), "{err}");
    }
}
