//! Finding the line a problem is on, when the error that reports it knows
//! less: the `kind:` or `metadata.name` line of an object's document, the
//! line of a kustomization that names a missing file, the template and line
//! inside Helm's message.
//!
//! These are searches in the text, so each falls back to what the error
//! itself knew (the document's first line, the file) when the text does not
//! read as expected.

use crate::model::Origin;
use std::cell::RefCell;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::rc::Rc;

/// The files a kustomization can be called, in the order overlays look for them.
const KUSTOMIZATION_FILES: [&str; 3] = ["kustomization.yaml", "kustomization.yml", "Kustomization"];

/// Repository files, each read at most once per validation.
pub(crate) struct Files {
    root: PathBuf,
    cache: RefCell<HashMap<PathBuf, Option<Rc<str>>>>,
}

impl Files {
    /// The files of the repository at `root`.
    pub(crate) fn new(root: &Path) -> Files {
        Files {
            root: root.to_path_buf(),
            cache: RefCell::new(HashMap::new()),
        }
    }

    /// The text of a repository-relative file; `None` when it cannot be read.
    pub(crate) fn text(&self, rel: &Path) -> Option<Rc<str>> {
        if let Some(hit) = self.cache.borrow().get(rel) {
            return hit.clone();
        }
        let text: Option<Rc<str>> = std::fs::read_to_string(self.root.join(rel))
            .ok()
            .map(Into::into);
        self.cache
            .borrow_mut()
            .insert(rel.to_path_buf(), text.clone());
        text
    }

    /// The line of the field at `path` (`["metadata", "name"]`) in the
    /// document of `origin`, whose object has kind `kind`; the document's
    /// first line when the field cannot be found, or the document is not
    /// plain YAML in the repository (a chart's output, JSON), or it does not
    /// declare that kind (an item of a List, a generated object).
    pub(crate) fn field_line(&self, origin: &Origin, kind: &str, path: &[&str]) -> usize {
        let start = origin.line.unwrap_or(1);
        let is_yaml = origin
            .file
            .extension()
            .is_some_and(|e| e == "yaml" || e == "yml");
        if origin.release_namespace.is_some() || !is_yaml {
            return start;
        }
        let Some(text) = self.text(&origin.file) else {
            return start;
        };
        let lines: Vec<&str> = text.lines().collect();
        let first = start.saturating_sub(1);
        let end = lines
            .iter()
            .enumerate()
            .skip(first + 1)
            .find(|(_, l)| l.starts_with("---"))
            .map_or(lines.len(), |(i, _)| i);
        let Some(doc) = lines.get(first..end) else {
            return start;
        };
        let declares_kind = find_key(doc, 0, doc.len(), None, "kind")
            .is_some_and(|(i, _)| unquote(value_of(doc[i])) == kind);
        if !declares_kind {
            return start;
        }
        let (mut from, mut to, mut parent) = (0, doc.len(), None);
        let mut found = first;
        for key in path {
            let Some((i, indent)) = find_key(doc, from, to, parent, key) else {
                break;
            };
            found = first + i;
            if !value_of(doc[i]).is_empty() {
                break;
            }
            from = i + 1;
            to = (from..doc.len())
                .find(|&j| is_content(doc[j]) && indent_of(doc[j]) <= indent)
                .unwrap_or(doc.len());
            parent = Some(indent);
        }
        found + 1
    }

    /// The line of the top-level key `key` in a file (a kustomization field).
    pub(crate) fn key_line(&self, rel: &Path, key: &str) -> Option<usize> {
        let text = self.text(rel)?;
        let lines: Vec<&str> = text.lines().collect();
        find_key(&lines, 0, lines.len(), None, key).map(|(i, _)| i + 1)
    }

    /// The kustomization that names `missing` (a path relative to the
    /// repository root, as an overlay joined it: `waves/app/../base`), and
    /// the line where it does.
    pub(crate) fn kustomization_naming(&self, missing: &str) -> Option<(PathBuf, usize)> {
        let parts: Vec<&str> = missing.split('/').collect();
        for split in (1..parts.len()).rev() {
            let dir = parts[..split].join("/");
            let entry = parts[split..].join("/");
            for name in KUSTOMIZATION_FILES {
                let file = Path::new(&dir).join(name);
                let Some(text) = self.text(&file) else {
                    continue;
                };
                let line = text.lines().position(|l| {
                    let item = l.trim().trim_start_matches('-').trim();
                    let item = item.split_once(':').map_or(item, |(_, v)| v.trim());
                    let item = item.trim_start_matches("./");
                    unquote(item) == entry || unquote(item).trim_start_matches("./") == entry
                });
                if let Some(i) = line {
                    return Some((file, i + 1));
                }
            }
        }
        None
    }
}

/// Whether a line holds YAML content (not blank, not only a comment).
fn is_content(line: &str) -> bool {
    let t = line.trim_start();
    !t.is_empty() && !t.starts_with('#')
}

/// The number of leading spaces.
fn indent_of(line: &str) -> usize {
    line.len() - line.trim_start_matches(' ').len()
}

/// The text after `key:` on a line, comments aside.
fn value_of(line: &str) -> &str {
    let rest = line.split_once(':').map_or("", |(_, v)| v);
    let rest = match rest.find(" #") {
        Some(i) => &rest[..i],
        None => rest,
    };
    rest.trim()
}

fn unquote(s: &str) -> &str {
    s.trim_matches(|c| c == '"' || c == '\'')
}

/// The first line in `lines[from..to]` that is the block key `key` at the
/// first indentation deeper than `parent` (top level when `None`), with
/// that indentation.
fn find_key(
    lines: &[&str],
    from: usize,
    to: usize,
    parent: Option<usize>,
    key: &str,
) -> Option<(usize, usize)> {
    let deeper = |l: &str| parent.is_none_or(|p| indent_of(l) > p);
    let level = (from..to)
        .filter(|&i| is_content(lines[i]))
        .map(|i| lines[i])
        .find(|l| deeper(l))
        .map(indent_of)?;
    (from..to)
        .find(|&i| {
            let l = lines[i];
            is_content(l)
                && indent_of(l) == level
                && l.trim_start()
                    .split_once(':')
                    .is_some_and(|(k, _)| unquote(k.trim()) == key)
        })
        .map(|i| (i, level))
}

/// The template and line a Helm error names, as a repository path: Helm
/// writes `<chart name>/templates/x.yaml:7:18`, wavesync's own messages
/// about a chart's output the repository path (`charts/x/templates/x.yaml:3`).
pub(crate) fn helm_template(message: &str, chart: &str) -> Option<(PathBuf, usize)> {
    let is_delimiter = |c: char| c.is_whitespace() || "()\"'`<>,".contains(c);
    let mut from = 0;
    while let Some(i) = message[from..].find("/templates/").map(|i| from + i) {
        from = i + 1;
        let start = message[..i].rfind(is_delimiter).map_or(0, |d| {
            d + message[d..].chars().next().map_or(1, char::len_utf8)
        });
        let rest = &message[i..];
        let end = i + rest
            .find(|c: char| c == ':' || is_delimiter(c))
            .unwrap_or(rest.len());
        let Some(after) = message[end..].strip_prefix(':') else {
            continue;
        };
        let digits: String = after.chars().take_while(char::is_ascii_digit).collect();
        let Ok(line) = digits.parse::<usize>() else {
            continue;
        };
        let named = &message[start..end];
        let file = if named.starts_with(&format!("{chart}/")) {
            PathBuf::from(named)
        } else {
            let inside = named.split_once('/').map_or(named, |(_, rest)| rest);
            Path::new(chart).join(inside)
        };
        return Some((file, line));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(content: &[(&str, &str)]) -> (tempfile::TempDir, Files) {
        let dir = crate::test_support::write_tree(content);
        let f = Files::new(dir.path());
        (dir, f)
    }

    fn origin(file: &str, line: usize) -> Origin {
        Origin {
            file: file.into(),
            doc: 0,
            line: Some(line),
            release_namespace: None,
        }
    }

    #[test]
    fn fields_are_found_inside_their_document() {
        let doc = "\
apiVersion: v1
kind: ConfigMap
metadata:
  name: a
---
# second
apiVersion: example.com/v1
metadata:
  labels:
    name: not-this-one
  annotations:
    wavesync.io/wave: apps   # moved
  name: b
kind: Widget
";
        let (_dir, f) = files(&[("w/a.yaml", doc), ("w/b.json", "{}")]);
        assert_eq!(
            f.field_line(&origin("w/a.yaml", 1), "ConfigMap", &["kind"]),
            2
        );
        assert_eq!(
            f.field_line(&origin("w/a.yaml", 1), "ConfigMap", &["metadata", "name"]),
            4
        );
        let second = origin("w/a.yaml", 6);
        assert_eq!(f.field_line(&second, "Widget", &["kind"]), 14);
        assert_eq!(f.field_line(&second, "Widget", &["metadata", "name"]), 13);
        let wave = ["metadata", "annotations", "wavesync.io/wave"];
        assert_eq!(f.field_line(&second, "Widget", &wave), 12);
        // Not the document's kind (a List item, a generated object): its first line.
        assert_eq!(f.field_line(&second, "ConfigMap", &["kind"]), 6);
        assert_eq!(f.field_line(&origin("w/b.json", 1), "Widget", &["kind"]), 1);
    }

    #[test]
    fn the_kustomization_naming_a_missing_path_is_found() {
        let k = "resources:\n  - deploy.yaml\n  - ./missing.yaml\n  - ../base\n";
        let (_dir, f) = files(&[("o/app/kustomization.yaml", k)]);
        assert_eq!(
            f.kustomization_naming("o/app/missing.yaml"),
            Some(("o/app/kustomization.yaml".into(), 3))
        );
        assert_eq!(
            f.kustomization_naming("o/app/../base"),
            Some(("o/app/kustomization.yaml".into(), 4))
        );
        assert_eq!(f.kustomization_naming("elsewhere/x.yaml"), None);
        assert_eq!(
            f.key_line(Path::new("o/app/kustomization.yaml"), "resources"),
            Some(1)
        );
    }

    #[test]
    fn helm_messages_give_the_template_and_line() {
        let m = "broken/templates/secret.yaml:7:18\n  executing \"broken/templates/secret.yaml\" at <.Values.x>: nil pointer";
        assert_eq!(
            helm_template(m, "charts/broken"),
            Some(("charts/broken/templates/secret.yaml".into(), 7))
        );
        let m = "parse error at (web/templates/cm.yaml:3): function \"nope\" not defined";
        assert_eq!(
            helm_template(m, "charts/webapp"),
            Some(("charts/webapp/templates/cm.yaml".into(), 3))
        );
        let m = "web/templates/x.yaml rendered to invalid manifests: charts/web/templates/x.yaml:4:1: bad";
        assert_eq!(
            helm_template(m, "charts/web"),
            Some(("charts/web/templates/x.yaml".into(), 4))
        );
        assert_eq!(helm_template("no engine", "charts/web"), None);
    }
}
