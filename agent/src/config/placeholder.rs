//! Finding `{{ .cluster.KEY }}` and `{{ .values.KEY }}` placeholders in text.
//!
//! Only these two forms are ours; any other `{{ ... }}` (a Go template in an
//! Alertmanager ConfigMap, a Helm expression) is left as it is, since plain
//! manifests legitimately contain them. Text that starts like ours but does
//! not parse (`{{ .values. }}`, a missing `}}`) is an error rather than
//! silently left in: it would reach the cluster verbatim.

/// A piece of scanned text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Piece<'a> {
    /// Literal text, copied as is.
    Text(&'a str),
    /// A placeholder starting at byte `start` of the text, naming `key`
    /// (dotted for nested maps: `postgres.size`).
    Value {
        /// Byte offset of its `{{`.
        start: usize,
        /// The key after `.cluster.` or `.values.`.
        key: &'a str,
    },
}

/// A placeholder that does not parse, at byte `start`, with the text from
/// there (up to the end of the line, at most 40 characters) for the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Malformed {
    /// Byte offset of its `{{`.
    pub(crate) start: usize,
    /// The offending text.
    pub(crate) text: String,
}

const PREFIXES: [&str; 2] = [".cluster.", ".values."];

/// Splits `text` into literal pieces and placeholders, in order.
///
/// # Errors
///
/// [`Malformed`] for the first `{{ .cluster.` or `{{ .values.` that is not
/// followed by a key and `}}`.
pub(crate) fn scan(text: &str) -> Result<Vec<Piece<'_>>, Malformed> {
    let mut pieces = Vec::new();
    let mut copied = 0;
    let mut from = 0;
    while let Some(found) = text[from..].find("{{") {
        let start = from + found;
        let inner = &text[start + 2..];
        let body = inner.trim_start_matches([' ', '\t']);
        let Some(prefix) = PREFIXES.iter().find(|p| body.starts_with(**p)) else {
            // Not ours: keep scanning after these braces.
            from = start + 2;
            continue;
        };
        let after_prefix = &body[prefix.len()..];
        let key_len = after_prefix
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.'))
            .unwrap_or(after_prefix.len());
        let key = &after_prefix[..key_len];
        let rest = after_prefix[key_len..].trim_start_matches([' ', '\t']);
        let well_formed =
            !key.is_empty() && key.split('.').all(|s| !s.is_empty()) && rest.starts_with("}}");
        if !well_formed {
            let line = text[start..].lines().next().unwrap_or_default();
            return Err(Malformed {
                start,
                text: line.chars().take(40).collect(),
            });
        }
        let end = text.len() - rest.len() + 2;
        if copied < start {
            pieces.push(Piece::Text(&text[copied..start]));
        }
        pieces.push(Piece::Value { start, key });
        copied = end;
        from = end;
    }
    if copied < text.len() {
        pieces.push(Piece::Text(&text[copied..]));
    }
    Ok(pieces)
}

/// The 1-based line and column (in characters) of byte `offset` in `text`.
pub(crate) fn line_col(text: &str, offset: usize) -> (u32, u32) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    // Saturate rather than wrap: a text of 4 billion lines is not a manifest.
    let clamp = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
    (clamp(line), clamp(column))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_both_spellings_with_or_without_spaces() {
        let pieces =
            scan("sc: {{ .cluster.storageClass }}, n={{.values.replicas}}!").expect("scans");
        assert_eq!(
            pieces,
            vec![
                Piece::Text("sc: "),
                Piece::Value {
                    start: 4,
                    key: "storageClass"
                },
                Piece::Text(", n="),
                Piece::Value {
                    start: 35,
                    key: "replicas"
                },
                Piece::Text("!"),
            ]
        );
        assert_eq!(
            scan("{{ .values.pg.size }}").expect("scans"),
            vec![Piece::Value {
                start: 0,
                key: "pg.size"
            }]
        );
    }

    #[test]
    fn leaves_other_templates_alone() {
        let text = "summary: {{ .Labels.alertname }} {{- if .x }}{{ end }} {{";
        assert_eq!(scan(text).expect("scans"), vec![Piece::Text(text)]);
    }

    #[test]
    fn reports_malformed_placeholders_where_they_start() {
        for (text, start) in [
            ("a: {{ .values. }}", 3),
            ("a: {{ .values.x\nb", 3),
            ("x {{ .cluster.a..b }}", 2),
            ("x {{ .cluster.a b }}", 2),
        ] {
            let err = scan(text).expect_err(text);
            assert_eq!(err.start, start, "{text}");
        }
        assert_eq!(
            scan("a: {{ .values.x\nb").expect_err("open").text,
            "{{ .values.x"
        );
    }

    #[test]
    fn line_and_column_count_characters() {
        let text = "ab\nçé {{";
        assert_eq!(line_col(text, 0), (1, 1));
        assert_eq!(line_col(text, 3), (2, 1));
        assert_eq!(line_col(text, text.find("{{").expect("present")), (2, 4));
    }
}
