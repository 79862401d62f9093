//! The regular expressions kustomize accepts in patch targets
//! (`name: api-.*`) and image names, with the `regex` crate: like Go's RE2,
//! which kustomize compiles them with, it guarantees linear-time matching
//! and has the same syntax for what such patterns use (classes, groups,
//! alternation, counted and lazy repetition, flags like `(?i)`, named groups
//! and Unicode classes). kustomize anchors a pattern to the whole value as
//! `^(?:PATTERN)$`, and so does this.
//!
//! Two of Go's rules are kept where the crates differ: a `{` that does not
//! start a counted repetition is a literal (Go reads `x{1` as the text
//! `x{1`; the crate would refuse it), and `\d`, `\w`, `\s` are ASCII, which
//! cannot matter for Kubernetes names, which are ASCII.

/// A compiled pattern.
#[derive(Debug, Clone)]
pub(crate) struct Regex(regex::Regex);

/// A pattern's compiled size limit: target patterns are short; a huge one
/// is refused rather than allowed to use memory.
const SIZE_LIMIT: usize = 1 << 20;

impl Regex {
    /// Compiles `pattern`; the error says what is malformed.
    pub(crate) fn new(pattern: &str) -> Result<Self, String> {
        regex::RegexBuilder::new(&format!("^(?:{})$", literal_braces(pattern)))
            .size_limit(SIZE_LIMIT)
            .build()
            .map(Regex)
            .map_err(|e| {
                let why = e.to_string();
                let why = why
                    .lines()
                    .rev()
                    .find_map(|l| l.strip_prefix("error: "))
                    .unwrap_or(why.trim());
                format!("invalid regular expression `{pattern}`: {why}")
            })
    }

    /// Whether the whole of `text` matches (kustomize anchors target patterns).
    pub(crate) fn is_full_match(&self, text: &str) -> bool {
        self.0.is_match(text)
    }
}

/// `pattern` with every `{` that does not open a counted repetition
/// (`{n}`, `{n,}`, `{n,m}`) escaped, as Go's parser reads it as a literal.
fn literal_braces(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len());
    let mut chars = pattern.char_indices().peekable();
    let mut in_class = false;
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => {
                out.push(c);
                if let Some((_, next)) = chars.next() {
                    out.push(next);
                    // `\p{L}`, `\x{41}`: the braces belong to the escape.
                    if matches!(next, 'p' | 'P' | 'x')
                        && chars.peek().is_some_and(|(_, c)| *c == '{')
                    {
                        for (_, c) in chars.by_ref() {
                            out.push(c);
                            if c == '}' {
                                break;
                            }
                        }
                    }
                }
                continue;
            }
            '[' if !in_class => in_class = true,
            ']' if in_class => in_class = false,
            '{' if !in_class && !is_repetition(&pattern[i + 1..]) => {
                out.push_str("\\{");
                continue;
            }
            _ => {}
        }
        out.push(c);
    }
    out
}

/// Whether `rest` (what follows a `{`) is `n}`, `n,}` or `n,m}`.
fn is_repetition(rest: &str) -> bool {
    let Some(end) = rest.find('}') else {
        return false;
    };
    let body = &rest[..end];
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    match body.split_once(',') {
        None => digits(body),
        Some((lo, hi)) => digits(lo) && (hi.is_empty() || digits(hi)),
    }
}

#[cfg(test)]
mod tests {
    use super::Regex;

    fn full(p: &str, t: &str) -> bool {
        Regex::new(p).expect("pattern").is_full_match(t)
    }

    #[test]
    fn patterns_match_the_whole_value() {
        assert!(full("api-.*", "api-public"));
        assert!(!full("api-.*", "my-api-public"));
        assert!(!full("api", "api-public"));
        assert!(full("Deployment|StatefulSet", "StatefulSet"));
        assert!(!full("Deployment|StatefulSet", "DaemonSet"));
        assert!(!full("a|b", "ab"), "the alternation is anchored as a whole");
        assert!(full("(api|web)-[0-9]+", "web-42"));
        assert!(!full("(api|web)-[0-9]+", "web-"));
        assert!(full("[^.]+\\.acme\\.io", "pipelines.acme.io"));
        assert!(!full("[^.]+\\.acme\\.io", "a.b.acme.io"));
        assert!(full("a{2,3}b?", "aaa"));
        assert!(!full("a{2,3}", "aaaa"));
        assert!(
            full("x{1", "x{1"),
            "a `{{` that opens no repetition is a literal, as in Go"
        );
        assert!(full("x{a}", "x{a}"));
        assert!(full("[{]x", "{x"));
        assert!(full("\\d\\w\\s", "1_ "));
        assert!(full("(?:ab)*c", "ababc"));
        assert!(full("^api$", "api"));
        assert!(full("", ""));
        assert!(full("a.*?b", "axxb"));
        assert!(full("[a-]z", "-z"));
        // RE2 syntax Go accepts, and so does this.
        assert!(full("(?i)API", "api"));
        assert!(full("(?P<n>a)b", "ab"));
        assert!(full("\\p{L}+", "api"));
    }

    #[test]
    fn malformed_patterns_are_refused_with_the_reason() {
        for p in ["(a", "a)", "[a", "*a", "[z-a]"] {
            let e = Regex::new(p).expect_err(p);
            assert!(
                e.starts_with(&format!("invalid regular expression `{p}`: ")),
                "{e}"
            );
            assert!(!e.contains('\n'), "one line: {e}");
        }
    }

    #[test]
    fn pathological_patterns_match_in_linear_time() {
        let long = "a".repeat(10_000);
        assert!(!full("(a*)*b", &long));
    }
}
