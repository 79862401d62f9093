//! A small backtracking matcher for the regular expressions kustomize
//! accepts in patch targets (`name: api-.*`) and image names.
//!
//! kustomize compiles them with Go's RE2 syntax and anchors them to the whole
//! string. The crate has no regex dependency, and target patterns are short,
//! so this implements the RE2 subset such patterns use: literals, `.`,
//! classes (`[a-z0-9-]`, `[^.]`, `\d`, `\w`, `\s`), groups with `|`,
//! `(?:…)`, the quantifiers `*`, `+`, `?`, `{n}`, `{n,}`, `{n,m}` (lazy forms
//! too) and `^`/`$`. Anything else (flags, named groups, Unicode classes) is
//! refused, so that a pattern never silently means something else.

use std::cell::Cell;

/// A compiled pattern.
#[derive(Debug, Clone)]
pub(crate) struct Regex {
    alts: Vec<Vec<Node>>,
}

#[derive(Debug, Clone)]
enum Node {
    Char(char),
    Any,
    Class(Vec<(char, char)>, bool),
    Group(Vec<Vec<Node>>),
    Repeat(Box<Node>, usize, Option<usize>),
    Start,
    End,
}

impl Regex {
    /// Compiles `pattern`; the error says what is not supported or malformed.
    pub(crate) fn new(pattern: &str) -> Result<Self, String> {
        let chars: Vec<char> = pattern.chars().collect();
        let mut p = Parser { s: &chars, i: 0 };
        let alts = p.alternation()?;
        if p.i < chars.len() {
            return Err(format!("unbalanced `)` in regular expression `{pattern}`"));
        }
        Ok(Regex { alts })
    }

    /// Whether the whole of `text` matches (kustomize anchors target patterns).
    pub(crate) fn is_full_match(&self, text: &str) -> bool {
        let t: Vec<char> = text.chars().collect();
        let m = Matcher {
            t: &t,
            steps: Cell::new(0),
        };
        m.alt(&self.alts, 0, &mut |i| i == t.len())
    }
}

/// Backtracking is bounded so that a pathological pattern cannot hang a render.
const MAX_STEPS: usize = 1_000_000;

struct Parser<'a> {
    s: &'a [char],
    i: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<char> {
        self.s.get(self.i).copied()
    }

    fn alternation(&mut self) -> Result<Vec<Vec<Node>>, String> {
        let mut alts = vec![self.sequence()?];
        while self.peek() == Some('|') {
            self.i += 1;
            alts.push(self.sequence()?);
        }
        Ok(alts)
    }

    fn sequence(&mut self) -> Result<Vec<Node>, String> {
        let mut seq = Vec::new();
        while let Some(c) = self.peek() {
            if c == '|' || c == ')' {
                break;
            }
            let atom = self.atom()?;
            let atom = self.quantified(atom)?;
            seq.push(atom);
        }
        Ok(seq)
    }

    fn atom(&mut self) -> Result<Node, String> {
        let c = self.s[self.i];
        self.i += 1;
        Ok(match c {
            '.' => Node::Any,
            '^' => Node::Start,
            '$' => Node::End,
            '(' => {
                if self.peek() == Some('?') {
                    if self.s.get(self.i + 1) == Some(&':') {
                        self.i += 2;
                    } else {
                        return Err("group flags and named groups `(?…)` are not supported".into());
                    }
                }
                let inner = self.alternation()?;
                if self.peek() != Some(')') {
                    return Err("missing `)`".into());
                }
                self.i += 1;
                Node::Group(inner)
            }
            '[' => self.class()?,
            '\\' => self.escape(false)?,
            '*' | '+' | '?' => return Err(format!("nothing to repeat before `{c}`")),
            c => Node::Char(c),
        })
    }

    /// An escape after `\`; inside a class, only single characters and the
    /// `\d \w \s` classes make sense.
    fn escape(&mut self, in_class: bool) -> Result<Node, String> {
        let Some(c) = self.peek() else {
            return Err("trailing `\\`".into());
        };
        self.i += 1;
        let digit = vec![('0', '9')];
        let word = vec![('0', '9'), ('A', 'Z'), ('_', '_'), ('a', 'z')];
        let space = vec![
            ('\t', '\n'),
            ('\u{c}', '\r'),
            (' ', ' '),
            ('\u{b}', '\u{b}'),
        ];
        Ok(match c {
            'd' => Node::Class(digit, false),
            'D' => Node::Class(digit, true),
            'w' => Node::Class(word, false),
            'W' => Node::Class(word, true),
            's' => Node::Class(space, false),
            'S' => Node::Class(space, true),
            'n' => Node::Char('\n'),
            't' => Node::Char('\t'),
            'r' => Node::Char('\r'),
            c if c.is_ascii_punctuation() => Node::Char(c),
            c if in_class => return Err(format!("escape `\\{c}` in a class is not supported")),
            c => return Err(format!("escape `\\{c}` is not supported")),
        })
    }

    fn class(&mut self) -> Result<Node, String> {
        let negated = self.peek() == Some('^');
        if negated {
            self.i += 1;
        }
        let mut ranges = Vec::new();
        let mut first = true;
        loop {
            let Some(c) = self.peek() else {
                return Err("missing `]`".into());
            };
            if c == ']' && !first {
                self.i += 1;
                break;
            }
            first = false;
            self.i += 1;
            let lo = if c == '\\' {
                match self.escape(true)? {
                    Node::Char(c) => c,
                    Node::Class(rs, false) => {
                        ranges.extend(rs);
                        continue;
                    }
                    _ => return Err("negated escapes inside a class are not supported".into()),
                }
            } else if c == '[' && self.peek() == Some(':') {
                return Err("POSIX classes `[:alpha:]` are not supported".into());
            } else {
                c
            };
            if self.peek() == Some('-') && self.s.get(self.i + 1).is_some_and(|&n| n != ']') {
                self.i += 1;
                let mut hi = self.s[self.i];
                self.i += 1;
                if hi == '\\' {
                    match self.escape(true)? {
                        Node::Char(c) => hi = c,
                        _ => return Err("a class range must end with a character".into()),
                    }
                }
                if hi < lo {
                    return Err(format!("invalid class range `{lo}-{hi}`"));
                }
                ranges.push((lo, hi));
            } else {
                ranges.push((lo, lo));
            }
        }
        Ok(Node::Class(ranges, negated))
    }

    fn quantified(&mut self, atom: Node) -> Result<Node, String> {
        let (min, max) = match self.peek() {
            Some(c @ ('*' | '+' | '?')) => {
                self.i += 1;
                match c {
                    '*' => (0, None),
                    '+' => (1, None),
                    _ => (0, Some(1)),
                }
            }
            Some('{') => match self.braces() {
                Some(b) => b,
                // Go takes a `{` that does not start a repetition literally.
                None => return Ok(atom),
            },
            _ => return Ok(atom),
        };
        if matches!(atom, Node::Start | Node::End) {
            return Err("cannot repeat `^` or `$`".into());
        }
        // Only whole-value matches are asked for, where lazy and greedy
        // repetitions accept the same texts: the lazy mark is read and ignored.
        if self.peek() == Some('?') {
            self.i += 1;
        }
        if matches!(self.peek(), Some('*' | '+' | '?')) {
            return Err("repeated quantifier".into());
        }
        Ok(Node::Repeat(Box::new(atom), min, max))
    }

    /// `{n}`, `{n,}` or `{n,m}` at the cursor; moves past it when it is one.
    fn braces(&mut self) -> Option<(usize, Option<usize>)> {
        let rest: String = self.s[self.i..].iter().collect();
        let end = rest.find('}')?;
        let body = &rest[1..end];
        let parse = |s: &str| -> Option<usize> {
            (!s.is_empty() && s.chars().all(|c| c.is_ascii_digit()))
                .then(|| s.parse().ok())
                .flatten()
        };
        let (min, max) = match body.split_once(',') {
            None => {
                let n = parse(body)?;
                (n, Some(n))
            }
            Some((a, "")) => (parse(a)?, None),
            Some((a, b)) => (parse(a)?, Some(parse(b)?)),
        };
        if max.is_some_and(|m| m < min) {
            return None;
        }
        self.i += rest[..=end].chars().count();
        Some((min, max))
    }
}

/// The text being matched, and the work done so far.
struct Matcher<'a> {
    t: &'a [char],
    steps: Cell<usize>,
}

impl Matcher<'_> {
    /// Counts one step; false once the bound is reached (the match then fails).
    fn tick(&self) -> bool {
        let n = self.steps.get() + 1;
        self.steps.set(n);
        n <= MAX_STEPS
    }

    fn alt(&self, alts: &[Vec<Node>], i: usize, k: &mut dyn FnMut(usize) -> bool) -> bool {
        alts.iter().any(|seq| self.seq(seq, i, k))
    }

    fn seq(&self, seq: &[Node], i: usize, k: &mut dyn FnMut(usize) -> bool) -> bool {
        if !self.tick() {
            return false;
        }
        let Some((first, rest)) = seq.split_first() else {
            return k(i);
        };
        match first {
            Node::Repeat(node, min, max) => {
                let r = Rep {
                    node,
                    min: *min,
                    max: *max,
                    rest,
                };
                self.repeat(&r, 0, i, k)
            }
            Node::Group(alts) => self.alt(alts, i, &mut |j| self.seq(rest, j, k)),
            node => match single(node, self.t, i) {
                Some(j) => self.seq(rest, j, k),
                None => false,
            },
        }
    }

    fn repeat(&self, r: &Rep, count: usize, i: usize, k: &mut dyn FnMut(usize) -> bool) -> bool {
        if !self.tick() {
            return false;
        }
        let can_more = r.max.is_none_or(|m| count < m);
        let more = |k: &mut dyn FnMut(usize) -> bool| -> bool {
            can_more
                && self.seq(std::slice::from_ref(r.node), i, &mut |j| {
                    // An iteration that consumes nothing cannot lead anywhere new.
                    j > i && self.repeat(r, count + 1, j, k)
                })
        };
        let done =
            |k: &mut dyn FnMut(usize) -> bool| -> bool { count >= r.min && self.seq(r.rest, i, k) };
        more(k) || done(k)
    }
}

/// A repetition being matched, and what follows it.
struct Rep<'a> {
    node: &'a Node,
    min: usize,
    max: Option<usize>,
    rest: &'a [Node],
}

fn single(node: &Node, t: &[char], i: usize) -> Option<usize> {
    match node {
        Node::Start => (i == 0).then_some(i),
        Node::End => (i == t.len()).then_some(i),
        Node::Char(c) => (t.get(i) == Some(c)).then_some(i + 1),
        Node::Any => t.get(i).filter(|&&c| c != '\n').map(|_| i + 1),
        Node::Class(ranges, negated) => {
            let c = *t.get(i)?;
            let inside = ranges.iter().any(|&(lo, hi)| lo <= c && c <= hi);
            (inside != *negated).then_some(i + 1)
        }
        Node::Group(_) | Node::Repeat(..) => None,
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
        assert!(full("(api|web)-[0-9]+", "web-42"));
        assert!(!full("(api|web)-[0-9]+", "web-"));
        assert!(full("[^.]+\\.acme\\.io", "pipelines.acme.io"));
        assert!(!full("[^.]+\\.acme\\.io", "a.b.acme.io"));
        assert!(full("a{2,3}b?", "aaa"));
        assert!(!full("a{2,3}", "aaaa"));
        assert!(full("x{1", "x{1"));
        assert!(full("\\d\\w\\s", "1_ "));
        assert!(full("(?:ab)*c", "ababc"));
        assert!(full("^api$", "api"));
        assert!(full("", ""));
        assert!(full("a.*?b", "axxb"));
        assert!(full("[a-]z", "-z"));
    }

    #[test]
    fn unsupported_or_malformed_patterns_are_refused() {
        for p in [
            "(?i)api", "(?P<n>a)", "(a", "a)", "[a", "*a", "a**", "\\p{L}", "[z-a]",
        ] {
            assert!(Regex::new(p).is_err(), "{p}");
        }
    }

    #[test]
    fn pathological_patterns_give_up_instead_of_hanging() {
        let long = "a".repeat(40);
        assert!(!full("(a*)*b", &long));
    }
}
