//! Multi-document YAML to JSON documents, with kubectl's YAML 1.1 semantics.
//!
//! The text is read with the YAML event parser that serde-saphyr is built on
//! (`serde_saphyr::granit_parser`), and each node is converted here so that
//! scalars resolve exactly as in kubectl (see [`super::scalar`]); serde-saphyr's
//! own inference differs (it takes `yEs` as a boolean and keeps `on:` as the
//! key `"on"`). Anchors, aliases and merge keys (`<<`) work as in go-yaml v2;
//! a repeated key keeps the last value, as kubectl does.

use super::RenderError;
use super::scalar::{self, Resolved, ScalarTag};
use serde_json::{Map, Value};
use serde_saphyr::granit_parser::{
    Event, Marker, Options, Parser, ScalarStyle, Span, StrInput, Tag,
};
use std::collections::HashMap;
use std::path::Path;

/// Deeper nesting than this is refused rather than risking the stack.
const MAX_DEPTH: usize = 200;

/// At most this many values may be copied by aliases in one file (against
/// "billion laughs" documents).
const MAX_ALIAS_EXPANSION: usize = 1_000_000;

/// The YAML core tag namespace (`!!int` is `tag:yaml.org,2002:int`).
const CORE_TAGS: &str = "tag:yaml.org,2002:";

/// One document of a file, converted to JSON.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Document {
    /// Index within the file, 0-based, counting empty documents too.
    pub index: usize,
    /// 1-based line where the document's content starts.
    pub line: usize,
    /// The content; `Null` for an empty or comment-only document.
    pub value: Value,
}

/// Parses every document of a YAML text.
///
/// # Errors
/// [`RenderError::Syntax`] with the file, line and column of the problem.
pub(crate) fn documents(text: &str, file: &Path) -> Result<Vec<Document>, RenderError> {
    parse(text, file, false)
}

/// As [`documents`], but a key repeated in a mapping is an error, as
/// kustomize reads `kustomization.yaml` (kubectl keeps the last value of a
/// manifest's repeated key; kustomize refuses one in its own file, where
/// keeping one `resources` of two would silently drop objects).
///
/// # Errors
/// As [`documents`], and [`RenderError::Syntax`] at a repeated key.
pub(crate) fn documents_unique_keys(text: &str, file: &Path) -> Result<Vec<Document>, RenderError> {
    parse(text, file, true)
}

fn parse(text: &str, file: &Path, unique_keys: bool) -> Result<Vec<Document>, RenderError> {
    check_separators(text, file)?;
    let mut options = Options::default();
    options.set_emit_comments(false);
    let mut builder = Builder {
        events: Parser::new_from_str_with_options(text, options),
        anchors: HashMap::new(),
        expanded: 0,
        file,
        unique_keys,
    };
    builder.stream()
}

/// kubectl splits documents on lines starting with `---` and refuses content
/// after the separator other than a comment; so do we.
fn check_separators(text: &str, file: &Path) -> Result<(), RenderError> {
    for (n, line) in text.lines().enumerate() {
        let Some(rest) = line.strip_prefix("---") else {
            continue;
        };
        let rest = rest.trim();
        if !rest.is_empty() && !rest.starts_with('#') {
            return Err(RenderError::Syntax {
                file: file.to_path_buf(),
                line: n + 1,
                column: 4,
                message: "content after the `---` document separator (kubectl refuses it too); \
                          start it on the next line"
                    .to_owned(),
            });
        }
    }
    Ok(())
}

/// A node while its document is being built.
#[derive(Debug, Clone)]
enum Node {
    Scalar(Resolved),
    Seq(Vec<Value>),
    Map(Map<String, Value>),
}

struct Builder<'i, 'f> {
    events: Parser<'i, StrInput<'i>>,
    /// Anchored nodes by id, with their size in values.
    anchors: HashMap<usize, (Node, usize)>,
    /// Values copied by aliases so far.
    expanded: usize,
    file: &'f Path,
    /// Whether a repeated mapping key is an error.
    unique_keys: bool,
}

impl<'i> Builder<'i, '_> {
    fn error(&self, at: Marker, message: impl Into<String>) -> RenderError {
        RenderError::Syntax {
            file: self.file.to_path_buf(),
            line: at.line(),
            column: at.col() + 1,
            message: message.into(),
        }
    }

    /// The next event that matters (anchor metadata is skipped).
    fn next(&mut self) -> Result<(Event<'i>, Span), RenderError> {
        loop {
            match self.events.next_event() {
                None => {
                    return Err(
                        self.error(Marker::new(0, 1, 0), "unexpected end of the YAML stream")
                    );
                }
                Some(Err(e)) => return Err(self.error(*e.marker(), e.info())),
                // Not requested (nor comments, see `documents`), skipped should they come.
                Some(Ok((Event::Anchor(..), _))) => continue,
                Some(Ok(ev)) => return Ok(ev),
            }
        }
    }

    fn stream(&mut self) -> Result<Vec<Document>, RenderError> {
        let mut docs = Vec::new();
        loop {
            let (event, span) = self.next()?;
            match event {
                Event::StreamStart | Event::DocumentEnd => {}
                Event::StreamEnd => return Ok(docs),
                Event::DocumentStart(..) => {
                    let Some((node, at)) = self.node(0)? else {
                        return Err(self.error(span.start, "empty document structure"));
                    };
                    let value = self.value(node, at)?;
                    self.anchors.clear();
                    docs.push(Document {
                        index: docs.len(),
                        line: at.line(),
                        value,
                    });
                }
                _ => return Err(self.error(span.start, "unexpected YAML event outside a document")),
            }
        }
    }

    /// Reads one node, or `None` at the end of the enclosing collection.
    fn node(&mut self, depth: usize) -> Result<Option<(Node, Marker)>, RenderError> {
        let (event, span) = self.next()?;
        let at = span.start;
        if depth > MAX_DEPTH {
            return Err(self.error(at, format!("nesting deeper than {MAX_DEPTH} levels")));
        }
        let (node, anchor) = match event {
            Event::SequenceEnd | Event::MappingEnd => return Ok(None),
            Event::Scalar(text, style, anchor, tag) => {
                let tag = scalar_tag(tag.as_deref());
                let plain = style == ScalarStyle::Plain;
                let r = scalar::resolve(&text, plain, tag).map_err(|m| self.error(at, m))?;
                (Node::Scalar(r), anchor)
            }
            Event::Alias(id) => (self.alias(id, at)?, 0),
            Event::SequenceStart(_, anchor, _) => (self.sequence(depth)?, anchor),
            Event::MappingStart(_, anchor, _) => (self.mapping(depth)?, anchor),
            _ => return Err(self.error(at, "unexpected YAML event")),
        };
        if anchor != 0 {
            self.anchors
                .insert(anchor, (node.clone(), node_size(&node)));
        }
        Ok(Some((node, at)))
    }

    /// A copy of an anchored node, within the expansion budget.
    fn alias(&mut self, id: usize, at: Marker) -> Result<Node, RenderError> {
        let Some((node, size)) = self.anchors.get(&id) else {
            return Err(self.error(at, "alias to an unknown anchor"));
        };
        self.expanded += size;
        if self.expanded > MAX_ALIAS_EXPANSION {
            return Err(self.error(
                at,
                format!("aliases expand to more than {MAX_ALIAS_EXPANSION} values"),
            ));
        }
        Ok(node.clone())
    }

    fn sequence(&mut self, depth: usize) -> Result<Node, RenderError> {
        let mut items = Vec::new();
        while let Some((node, at)) = self.node(depth + 1)? {
            items.push(self.value(node, at)?);
        }
        Ok(Node::Seq(items))
    }

    fn mapping(&mut self, depth: usize) -> Result<Node, RenderError> {
        let mut map = Map::new();
        while let Some((key, key_at)) = self.node(depth + 1)? {
            let Some((value, value_at)) = self.node(depth + 1)? else {
                return Err(self.error(key_at, "mapping key without a value"));
            };
            match key {
                Node::Scalar(Resolved::Merge) => self.merge(&mut map, value, value_at)?,
                Node::Scalar(r) => {
                    let key = scalar::key_string(r).map_err(|m| self.error(key_at, m))?;
                    if self.unique_keys && map.contains_key(&key) {
                        return Err(self.error(
                            key_at,
                            format!("key `{key}` is repeated in this mapping (kustomize refuses a repeated key)"),
                        ));
                    }
                    let value = self.value(value, value_at)?;
                    map.insert(key, value);
                }
                Node::Seq(_) | Node::Map(_) => {
                    return Err(self.error(key_at, "a mapping or sequence cannot be a mapping key"));
                }
            }
        }
        Ok(Node::Map(map))
    }

    /// go-yaml v2's merge: the merged keys are set in place (a sequence of
    /// mappings is merged last to first, so that earlier ones win).
    fn merge(
        &self,
        map: &mut Map<String, Value>,
        value: Node,
        at: Marker,
    ) -> Result<(), RenderError> {
        let sources: Vec<Map<String, Value>> = match value {
            Node::Map(m) => vec![m],
            Node::Seq(items) => items
                .into_iter()
                .rev()
                .map(|v| match v {
                    Value::Object(m) => Ok(m),
                    _ => Err(self.error(at, "a merge key `<<` takes mappings only")),
                })
                .collect::<Result<_, _>>()?,
            Node::Scalar(_) => {
                return Err(self.error(
                    at,
                    "a merge key `<<` takes a mapping or a sequence of mappings",
                ));
            }
        };
        for source in sources {
            map.extend(source);
        }
        Ok(())
    }

    fn value(&self, node: Node, at: Marker) -> Result<Value, RenderError> {
        match node {
            Node::Scalar(r) => scalar::to_json(r).map_err(|m| self.error(at, m)),
            Node::Seq(items) => Ok(Value::Array(items)),
            Node::Map(map) => Ok(Value::Object(map)),
        }
    }
}

/// The number of values in a node.
fn node_size(node: &Node) -> usize {
    fn size(v: &Value) -> usize {
        match v {
            Value::Array(items) => 1 + items.iter().map(size).sum::<usize>(),
            Value::Object(map) => 1 + map.values().map(size).sum::<usize>(),
            _ => 1,
        }
    }
    match node {
        Node::Scalar(_) => 1,
        Node::Seq(items) => 1 + items.iter().map(size).sum::<usize>(),
        Node::Map(map) => 1 + map.values().map(size).sum::<usize>(),
    }
}

/// The tags resolution knows; any other tag leaves the text a string.
const KNOWN_CORE_TAGS: [&str; 8] = [
    "str",
    "int",
    "float",
    "bool",
    "null",
    "timestamp",
    "binary",
    "merge",
];

fn scalar_tag(tag: Option<&Tag>) -> ScalarTag {
    let Some(suffix) = tag.and_then(|t| t.suffix_in_namespace(CORE_TAGS)) else {
        return if tag.is_some() {
            ScalarTag::Other
        } else {
            ScalarTag::None
        };
    };
    KNOWN_CORE_TAGS
        .iter()
        .find(|k| **k == suffix)
        .map_or(ScalarTag::Other, |k| ScalarTag::Core(k))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn docs(text: &str) -> Vec<Document> {
        documents(text, Path::new("f.yaml")).expect("parses")
    }

    #[test]
    fn splits_documents_and_keeps_empty_ones_as_null() {
        let d = docs("# only a comment\n---\na: 1\n---\n---\n# c\nb: 2\n");
        let values: Vec<_> = d.iter().map(|d| d.value.clone()).collect();
        assert!(values.contains(&json!({"a": 1})));
        assert!(values.contains(&json!({"b": 2})));
        let b = d.iter().find(|d| d.value == json!({"b": 2})).expect("b");
        assert_eq!(b.line, 7);
        assert!(d.iter().any(|d| d.value.is_null()));
    }

    #[test]
    fn anchors_aliases_and_merge_keys_work_as_in_go_yaml_v2() {
        let d = docs("base: &b {p: 1, q: 2}\nm:\n  <<: *b\n  q: 3\nl: [*b]\n");
        assert_eq!(
            d[0].value,
            json!({"base": {"p": 1, "q": 2}, "m": {"p": 1, "q": 3}, "l": [{"p": 1, "q": 2}]})
        );
    }

    #[test]
    fn alias_bombs_are_refused() {
        let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..9 {
            let refs = vec![format!("*a{}", i - 1); 10].join(", ");
            text.push_str(&format!("a{i}: &a{i} [{refs}]\n"));
        }
        let e = documents(&text, Path::new("bomb.yaml")).expect_err("bomb");
        assert!(e.to_string().contains("aliases expand to more than"), "{e}");
    }

    #[test]
    fn repeated_keys_keep_the_last_value_like_kubectl() {
        assert_eq!(docs("a: 1\na: 2\n")[0].value, json!({"a": 2}));
    }

    #[test]
    fn repeated_keys_are_refused_where_kustomize_refuses_them() {
        let e = documents_unique_keys("a: 1\nb:\n  c: 1\n  c: 2\n", Path::new("k.yaml"))
            .expect_err("repeated key");
        assert!(
            e.to_string().starts_with("k.yaml:4:3: key `c` is repeated"),
            "{e}"
        );
    }

    #[test]
    fn syntax_errors_give_line_and_column() {
        let e = documents("a: 1\nb: [\n", Path::new("x.yaml")).expect_err("malformed");
        match e {
            RenderError::Syntax { line, column, .. } => {
                assert!(line >= 2 && column >= 1, "{line}:{column}")
            }
            other => panic!("unexpected {other}"),
        }
        let e = documents("a: 1\nb: .inf\n", Path::new("x.yaml")).expect_err("infinite");
        assert!(e.to_string().starts_with("x.yaml:2:4:"), "{e}");
        let e = documents("--- {a: 1}\n", Path::new("x.yaml")).expect_err("content after ---");
        assert!(e.to_string().starts_with("x.yaml:1:"), "{e}");
    }
}
