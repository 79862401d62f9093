//! Keeping Secret values out of the findings.
//!
//! Messages quote what parsers and Helm said, and those can quote the text
//! they choke on (`cannot decode \`hunter2\` as a !!int`). So every value of
//! every Secret the repository holds is collected — from the Secrets that
//! rendered, and, for files that did not, from the text under `data:` and
//! `stringData:` — and replaced in every message before it is printed.

use crate::model::Object;
use base64::Engine as _;
use serde_json::Value;

/// Shorter values are not masked: they would mangle ordinary words of the
/// messages, and carry little of a secret.
const MIN_LEN: usize = 4;

/// What replaces a Secret's value.
const MASK: &str = "***";

/// Every Secret value seen, longest first (so that a value containing
/// another is masked whole).
#[derive(Debug, Default)]
pub(crate) struct Secrets(Vec<String>);

impl Secrets {
    /// Adds the values of every Secret among `objects`, as written and, for
    /// `data`, decoded from base64.
    pub(crate) fn add_objects<'a>(&mut self, objects: impl IntoIterator<Item = &'a Object>) {
        for o in objects {
            if o.json["kind"] != "Secret" {
                continue;
            }
            for field in ["data", "stringData"] {
                let Some(map) = o.json.get(field).and_then(Value::as_object) else {
                    continue;
                };
                for v in map.values().filter_map(Value::as_str) {
                    self.push(v);
                    if field == "data"
                        && let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(v)
                        && let Ok(text) = String::from_utf8(bytes)
                    {
                        self.push(&text);
                    }
                }
            }
        }
    }

    /// Adds what looks like Secret values in a file's text: the scalars
    /// under `data:` and `stringData:` of a file that declares a Secret
    /// (for files that did not parse, whose Secrets never rendered).
    pub(crate) fn add_text(&mut self, text: &str) {
        if !declares_secret(text) {
            return;
        }
        let mut block: Option<usize> = None;
        for line in text.lines() {
            let trimmed = line.trim_start();
            let indent = line.len() - trimmed.len();
            if trimmed.is_empty() || trimmed.starts_with('#') {
                continue;
            }
            if block.is_some_and(|b| indent <= b) {
                block = None;
            }
            if let Some((key, value)) = trimmed.split_once(':') {
                let value = value.trim();
                if block.is_some() {
                    self.push_scalar(value);
                } else if key == "data" || key == "stringData" {
                    match value.strip_prefix('{') {
                        Some(flow) => {
                            for pair in flow.trim_end_matches('}').split(',') {
                                if let Some((_, v)) = pair.split_once(':') {
                                    self.push_scalar(v);
                                }
                            }
                        }
                        None if value.is_empty() => block = Some(indent),
                        None => {}
                    }
                }
            } else if block.is_some() {
                // A continuation of a multi-line value.
                self.push_scalar(trimmed);
            }
        }
    }

    /// A scalar as written: without a tag, quotes or a trailing comment.
    fn push_scalar(&mut self, written: &str) {
        let mut v = written.trim();
        if v.starts_with('!') {
            v = v.split_once(' ').map_or("", |(_, rest)| rest.trim());
        }
        if let Some(i) = v.find(" #") {
            v = v[..i].trim();
        }
        self.push(v.trim_matches(|c| c == '"' || c == '\''));
    }

    fn push(&mut self, value: &str) {
        let value = value.trim();
        if value.chars().count() >= MIN_LEN && !self.0.iter().any(|s| s == value) {
            self.0.push(value.to_owned());
            self.0.sort_by_key(|s| std::cmp::Reverse(s.len()));
        }
    }

    /// `message` with every known Secret value replaced by `***`.
    pub(crate) fn redact(&self, message: &str) -> String {
        let mut out = message.to_owned();
        for secret in &self.0 {
            if out.contains(secret.as_str()) {
                out = out.replace(secret.as_str(), MASK);
            }
        }
        out
    }
}

/// Whether a file's text declares a Secret (`kind: Secret` on a line).
pub(crate) fn declares_secret(text: &str) -> bool {
    text.lines().any(|l| {
        l.trim()
            .strip_prefix("kind:")
            .is_some_and(|k| k.trim().trim_matches(|c| c == '"' || c == '\'') == "Secret")
    })
}

/// `message` with text between backticks masked: what a parser quotes from
/// a file holding a Secret may be its value.
pub(crate) fn mask_quoted(message: &str) -> String {
    let parts: Vec<&str> = message.split('`').collect();
    if parts.len() < 3 {
        return message.to_owned();
    }
    parts
        .iter()
        .enumerate()
        .map(|(i, p)| {
            if i % 2 == 1 && i + 1 < parts.len() {
                MASK
            } else {
                p
            }
        })
        .collect::<Vec<_>>()
        .join("`")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn rendered_and_written_secret_values_are_masked() {
        let mut s = Secrets::default();
        s.add_objects([&Object {
            json: json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "a"},
                "data": {"password": "aHVudGVyMi1kYXRh"}, "stringData": {"token": "tok-3456"}}),
            origin: Default::default(),
        }]);
        s.add_text(
            "apiVersion: v1\nkind: Secret\nstringData:\n  pw: !!int hunter2-text # x\n  short: ab\ndata: {k: 'flow-value'}\n",
        );
        let m =
            s.redact("cannot decode `hunter2-text` near hunter2-data, tok-3456 and flow-value; ab");
        assert_eq!(m, "cannot decode `***` near ***, *** and ***; ab");
        assert_eq!(
            mask_quoted("cannot decode `x` as a !!int, `y"),
            "cannot decode `***` as a !!int, `y"
        );
    }

    #[test]
    fn files_without_a_secret_give_nothing() {
        let mut s = Secrets::default();
        s.add_text("kind: ConfigMap\ndata:\n  a: visible-value\n");
        assert_eq!(s.redact("visible-value"), "visible-value");
    }
}
