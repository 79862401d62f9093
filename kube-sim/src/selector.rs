//! Label and field selectors for LIST/WATCH (`?labelSelector=`, `?fieldSelector=`).
//!
//! The label selector parser is a transcription of `k8s.io/apimachinery/pkg/labels`
//! (lexer, recursive-descent parser and `NewRequirement` checks) so that a malformed
//! selector yields the very string kube-apiserver puts in its 400 Status, e.g.
//! `unable to parse requirement: found '', expected: ',' or ')'`.
//!
//! Field selectors follow `k8s.io/apimachinery/pkg/fields` for the grammar and the
//! per-kind field-label conversion functions registered in kube-apiserver for which
//! labels a kind accepts and the error it returns for the others.

use crate::names::{go_quote, validate_label_value, validate_qualified_name};
use serde_json::{Map, Value};

/// A label selector operator (`k8s.io/apimachinery/pkg/selection`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operator {
    /// `key in (a,b)`
    In,
    /// `key notin (a,b)`
    NotIn,
    /// `key=a`
    Equals,
    /// `key==a`
    DoubleEquals,
    /// `key!=a`
    NotEquals,
    /// `key`
    Exists,
    /// `!key`
    DoesNotExist,
    /// `key>5`
    GreaterThan,
    /// `key<5`
    LessThan,
}

/// One requirement of a label selector; all of a selector's requirements must hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirement {
    /// The label key.
    pub key: String,
    /// How the key's value is tested.
    pub operator: Operator,
    /// The values, sorted and deduplicated as Go's `sets.String.List()` leaves them.
    pub values: Vec<String>,
}

impl Requirement {
    fn matches(&self, labels: Option<&Map<String, Value>>) -> bool {
        let value = labels
            .and_then(|l| l.get(&self.key))
            .map(|v| v.as_str().unwrap_or_default());
        match self.operator {
            Operator::In | Operator::Equals | Operator::DoubleEquals => {
                value.is_some_and(|v| self.values.iter().any(|x| x == v))
            }
            Operator::NotIn | Operator::NotEquals => {
                value.is_none_or(|v| !self.values.iter().any(|x| x == v))
            }
            Operator::Exists => value.is_some(),
            Operator::DoesNotExist => value.is_none(),
            Operator::GreaterThan | Operator::LessThan => {
                let Some(actual) = value.and_then(|v| v.parse::<i64>().ok()) else {
                    return false;
                };
                let [wanted] = self.values.as_slice() else {
                    return false;
                };
                let Ok(wanted) = wanted.parse::<i64>() else {
                    return false;
                };
                if self.operator == Operator::GreaterThan {
                    actual > wanted
                } else {
                    actual < wanted
                }
            }
        }
    }
}

/// A parsed label selector. The empty selector matches everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LabelSelector {
    requirements: Vec<Requirement>,
    /// Set for `LabelSelectorAsSelector(nil)`, which selects nothing.
    nothing: bool,
}

impl LabelSelector {
    /// A selector that matches every object.
    pub fn everything() -> Self {
        Self::default()
    }

    /// A selector that matches no object (what a missing spec selector means to kube).
    pub fn nothing() -> Self {
        Self {
            requirements: Vec::new(),
            nothing: true,
        }
    }

    /// Whether all requirements hold for `labels` (`None` means the object has no labels).
    pub fn matches(&self, labels: Option<&Map<String, Value>>) -> bool {
        !self.nothing && self.requirements.iter().all(|r| r.matches(labels))
    }

    /// Whether the selector places no restriction (kube's `Selector.Empty()`).
    pub fn is_empty(&self) -> bool {
        !self.nothing && self.requirements.is_empty()
    }

    /// The requirements, sorted by key.
    pub fn requirements(&self) -> &[Requirement] {
        &self.requirements
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Token {
    Error,
    EndOfString,
    ClosedPar,
    Comma,
    DoesNotExist,
    DoubleEquals,
    Equals,
    GreaterThan,
    Identifier,
    In,
    LessThan,
    NotEquals,
    NotIn,
    OpenPar,
}

fn string_to_token(s: &[u8]) -> Option<Token> {
    Some(match s {
        b")" => Token::ClosedPar,
        b"," => Token::Comma,
        b"!" => Token::DoesNotExist,
        b"==" => Token::DoubleEquals,
        b"=" => Token::Equals,
        b">" => Token::GreaterThan,
        b"in" => Token::In,
        b"<" => Token::LessThan,
        b"!=" => Token::NotEquals,
        b"notin" => Token::NotIn,
        b"(" => Token::OpenPar,
        _ => return None,
    })
}

fn is_whitespace(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\r' | b'\n')
}

fn is_special(c: u8) -> bool {
    matches!(c, b'=' | b'!' | b'(' | b')' | b',' | b'>' | b'<')
}

/// Splits the selector into (token, literal) pairs, ending with `EndOfString`.
fn lex(s: &str) -> Vec<(Token, String)> {
    let b = s.as_bytes();
    let mut pos = 0;
    let mut out = Vec::new();
    loop {
        while pos < b.len() && is_whitespace(b[pos]) {
            pos += 1;
        }
        if pos >= b.len() {
            out.push((Token::EndOfString, String::new()));
            return out;
        }
        if is_special(b[pos]) {
            // Greedy like Go's scanSpecialSymbol: extend while the buffer stays a token.
            let start = pos;
            let mut last: Option<(Token, usize)> = None;
            while pos < b.len() && is_special(b[pos]) {
                match string_to_token(&b[start..=pos]) {
                    Some(t) => last = Some((t, pos + 1)),
                    None if last.is_some() => break,
                    None => {}
                }
                pos += 1;
            }
            match last {
                Some((t, end)) => {
                    pos = end;
                    out.push((t, String::from_utf8_lossy(&b[start..end]).into_owned()));
                }
                None => out.push((
                    Token::Error,
                    format!(
                        "error expected: keyword found '{}'",
                        String::from_utf8_lossy(&b[start..pos])
                    ),
                )),
            }
        } else {
            let start = pos;
            while pos < b.len() && !is_special(b[pos]) && !is_whitespace(b[pos]) {
                pos += 1;
            }
            // Boundaries are ASCII bytes, so the slice is valid UTF-8.
            let lit = String::from_utf8_lossy(&b[start..pos]).into_owned();
            let tok = string_to_token(lit.as_bytes()).unwrap_or(Token::Identifier);
            out.push((tok, lit));
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Context {
    KeyAndOperator,
    Values,
}

struct Parser {
    items: Vec<(Token, String)>,
    pos: usize,
}

impl Parser {
    fn at(&self, i: usize, ctx: Context) -> (Token, String) {
        let (mut tok, lit) = self
            .items
            .get(i)
            .cloned()
            .unwrap_or((Token::EndOfString, String::new()));
        // In value position 'in' and 'notin' are ordinary identifiers ("x in (in)").
        if ctx == Context::Values && matches!(tok, Token::In | Token::NotIn) {
            tok = Token::Identifier;
        }
        (tok, lit)
    }

    fn lookahead(&self, ctx: Context) -> (Token, String) {
        self.at(self.pos, ctx)
    }

    fn consume(&mut self, ctx: Context) -> (Token, String) {
        let r = self.at(self.pos, ctx);
        if self.pos < self.items.len() {
            self.pos += 1;
        }
        r
    }

    fn parse(&mut self) -> Result<Vec<Requirement>, String> {
        let mut reqs = Vec::new();
        loop {
            let (tok, lit) = self.lookahead(Context::Values);
            match tok {
                Token::Identifier | Token::DoesNotExist => {
                    let r = self
                        .parse_requirement()
                        .map_err(|e| format!("unable to parse requirement: {e}"))?;
                    reqs.push(r);
                    let (t, l) = self.consume(Context::Values);
                    match t {
                        Token::EndOfString => return Ok(reqs),
                        Token::Comma => {
                            let (t2, l2) = self.lookahead(Context::Values);
                            if t2 != Token::Identifier && t2 != Token::DoesNotExist {
                                return Err(format!(
                                    "found '{l2}', expected: identifier after ','"
                                ));
                            }
                        }
                        _ => return Err(format!("found '{l}', expected: ',' or 'end of string'")),
                    }
                }
                Token::EndOfString => return Ok(reqs),
                _ => {
                    return Err(format!(
                        "found '{lit}', expected: !, identifier, or 'end of string'"
                    ));
                }
            }
        }
    }

    fn parse_requirement(&mut self) -> Result<Requirement, String> {
        let (key, op) = self.parse_key_and_infer_operator()?;
        if let Some(op @ (Operator::Exists | Operator::DoesNotExist)) = op {
            return new_requirement(key, op, Vec::new());
        }
        let op = self.parse_operator()?;
        let values = match op {
            Operator::In | Operator::NotIn => self.parse_values()?,
            _ => self.parse_exact_value()?,
        };
        new_requirement(key, op, values)
    }

    fn parse_key_and_infer_operator(&mut self) -> Result<(String, Option<Operator>), String> {
        let mut op = None;
        let (mut tok, mut lit) = self.consume(Context::Values);
        if tok == Token::DoesNotExist {
            op = Some(Operator::DoesNotExist);
            (tok, lit) = self.consume(Context::Values);
        }
        if tok != Token::Identifier {
            return Err(format!("found '{lit}', expected: identifier"));
        }
        let errs = validate_qualified_name(&lit);
        if !errs.is_empty() {
            // The parser's field path is nil, which Go prints as "<nil>".
            return Err(format!(
                "<nil>: Invalid value: {}: {}",
                go_quote(&lit),
                errs.join("; ")
            ));
        }
        let (t, _) = self.lookahead(Context::Values);
        if (t == Token::EndOfString || t == Token::Comma) && op.is_none() {
            op = Some(Operator::Exists);
        }
        Ok((lit, op))
    }

    fn parse_operator(&mut self) -> Result<Operator, String> {
        let (tok, lit) = self.consume(Context::KeyAndOperator);
        Ok(match tok {
            Token::In => Operator::In,
            Token::Equals => Operator::Equals,
            Token::DoubleEquals => Operator::DoubleEquals,
            Token::GreaterThan => Operator::GreaterThan,
            Token::LessThan => Operator::LessThan,
            Token::NotIn => Operator::NotIn,
            Token::NotEquals => Operator::NotEquals,
            _ => {
                return Err(format!(
                    "found '{lit}', expected: in, notin, =, ==, !=, gt, lt"
                ));
            }
        })
    }

    fn parse_values(&mut self) -> Result<Vec<String>, String> {
        let (tok, lit) = self.consume(Context::Values);
        if tok != Token::OpenPar {
            return Err(format!("found '{lit}' expected: '('"));
        }
        let (tok, lit) = self.lookahead(Context::Values);
        match tok {
            Token::Identifier | Token::Comma => {
                let set = self.parse_identifiers_list()?;
                let (tok, _) = self.consume(Context::Values);
                if tok != Token::ClosedPar {
                    // Go reports the literal seen before the list, not the offending one.
                    return Err(format!("found '{lit}', expected: ')'"));
                }
                Ok(set)
            }
            Token::ClosedPar => {
                self.consume(Context::Values);
                Ok(vec![String::new()])
            }
            _ => Err(format!("found '{lit}', expected: ',', ')' or identifier")),
        }
    }

    fn parse_identifiers_list(&mut self) -> Result<Vec<String>, String> {
        let mut set: Vec<String> = Vec::new();
        loop {
            let (tok, lit) = self.consume(Context::Values);
            match tok {
                Token::Identifier => {
                    set.push(lit);
                    let (tok2, lit2) = self.lookahead(Context::Values);
                    match tok2 {
                        Token::Comma => continue,
                        Token::ClosedPar => return Ok(set),
                        _ => return Err(format!("found '{lit2}', expected: ',' or ')'")),
                    }
                }
                Token::Comma => {
                    if set.is_empty() {
                        set.push(String::new());
                    }
                    let (tok2, _) = self.lookahead(Context::Values);
                    if tok2 == Token::ClosedPar {
                        set.push(String::new());
                        return Ok(set);
                    }
                    if tok2 == Token::Comma {
                        self.consume(Context::Values);
                        set.push(String::new());
                    }
                }
                _ => return Err(format!("found '{lit}', expected: ',', or identifier")),
            }
        }
    }

    fn parse_exact_value(&mut self) -> Result<Vec<String>, String> {
        let (tok, _) = self.lookahead(Context::Values);
        if tok == Token::EndOfString || tok == Token::Comma {
            return Ok(vec![String::new()]);
        }
        let (tok, lit) = self.consume(Context::Values);
        if tok == Token::Identifier {
            return Ok(vec![lit]);
        }
        Err(format!("found '{lit}', expected: identifier"))
    }
}

/// `NewRequirement`'s value checks; errors aggregate like `ErrorList.ToAggregate()`.
fn new_requirement(
    key: String,
    operator: Operator,
    mut values: Vec<String>,
) -> Result<Requirement, String> {
    values.sort();
    values.dedup();
    let mut errs: Vec<String> = Vec::new();
    if matches!(operator, Operator::GreaterThan | Operator::LessThan) {
        for (i, v) in values.iter().enumerate() {
            if v.parse::<i64>().is_err() {
                errs.push(format!(
                    "values[{i}]: Invalid value: {}: for 'Gt', 'Lt' operators, the value must be an integer",
                    go_quote(v)
                ));
            }
        }
    }
    for (i, v) in values.iter().enumerate() {
        let msgs = validate_label_value(v);
        if !msgs.is_empty() {
            errs.push(format!(
                "values[{i}][{key}]: Invalid value: {}: {}",
                go_quote(v),
                msgs.join("; ")
            ));
        }
    }
    match aggregate(errs) {
        Some(e) => Err(e),
        None => Ok(Requirement {
            key,
            operator,
            values,
        }),
    }
}

/// `utilerrors.Aggregate.Error()`: one message as is, several deduplicated in brackets.
pub(crate) fn aggregate(msgs: Vec<String>) -> Option<String> {
    let mut seen: Vec<String> = Vec::new();
    for m in msgs {
        if !seen.contains(&m) {
            seen.push(m);
        }
    }
    match seen.len() {
        0 => None,
        1 => seen.pop(),
        _ => Some(format!("[{}]", seen.join(", "))),
    }
}

/// Parses a `labelSelector` query parameter; the error is kube's 400 message verbatim.
pub fn parse_label_selector(s: &str) -> Result<LabelSelector, String> {
    let mut p = Parser {
        items: lex(s),
        pos: 0,
    };
    let mut requirements = p.parse()?;
    requirements.sort_by(|a, b| a.key.cmp(&b.key));
    Ok(LabelSelector {
        requirements,
        nothing: false,
    })
}

/// Converts a `metav1.LabelSelector` object (`{matchLabels, matchExpressions}`) as
/// `LabelSelectorAsSelector` does: `null` selects nothing, `{}` everything. Operators are
/// the API spellings `In`, `NotIn`, `Exists`, `DoesNotExist`; an unknown one is an error.
pub fn label_selector_from_object(sel: &Value) -> Result<LabelSelector, String> {
    let Some(obj) = sel.as_object() else {
        return Ok(LabelSelector::nothing());
    };
    let mut requirements = Vec::new();
    if let Some(ml) = obj.get("matchLabels").and_then(Value::as_object) {
        for (k, v) in ml {
            requirements.push(new_requirement(
                k.clone(),
                Operator::Equals,
                vec![v.as_str().unwrap_or_default().to_string()],
            )?);
        }
    }
    if let Some(exprs) = obj.get("matchExpressions").and_then(Value::as_array) {
        for e in exprs {
            let key = e
                .get("key")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            let values: Vec<String> = e
                .get("values")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default();
            let op = match e
                .get("operator")
                .and_then(Value::as_str)
                .unwrap_or_default()
            {
                "In" => Operator::In,
                "NotIn" => Operator::NotIn,
                "Exists" => Operator::Exists,
                "DoesNotExist" => Operator::DoesNotExist,
                other => {
                    return Err(format!(
                        "{} is not a valid label selector operator",
                        go_quote(other)
                    ));
                }
            };
            requirements.push(new_requirement(key, op, values)?);
        }
    }
    requirements.sort_by(|a, b| a.key.cmp(&b.key));
    Ok(LabelSelector {
        requirements,
        nothing: false,
    })
}

/// Matches a spec's `LabelSelector` object against `labels`. A `null`/missing selector
/// matches nothing and `{}` matches everything, as in kube; an invalid one matches nothing.
pub fn match_label_selector_object(sel: &Value, labels: Option<&Map<String, Value>>) -> bool {
    label_selector_from_object(sel).is_ok_and(|s| s.matches(labels))
}

/// How a field selector value is read from the object when the field is absent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FieldKind {
    String,
    Bool,
    Int,
}

/// One selectable field: the label clients write, and where its value lives.
#[derive(Debug, Clone)]
struct FieldSpec {
    label: &'static str,
    /// Canonical label after conversion (e.g. pods' `spec.host` → `spec.nodeName`).
    canonical: &'static str,
    /// Dotted path into the JSON object; empty when kube accepts but never sets the field.
    path: &'static str,
    kind: FieldKind,
}

const fn f(label: &'static str, path: &'static str, kind: FieldKind) -> FieldSpec {
    FieldSpec {
        label,
        canonical: label,
        path,
        kind,
    }
}

/// The field-label rules for one kind.
#[derive(Debug, Clone)]
pub struct FieldRules {
    fields: Vec<FieldSpec>,
    /// A custom resource's selectableFields, as dotted paths.
    extra: Vec<String>,
    reject: RejectStyle,
}

#[derive(Debug, Clone, Copy)]
enum RejectStyle {
    /// `runtime.DefaultMetaV1FieldSelectorConversion`.
    Default,
    /// `field label not supported: X`.
    NotSupported,
    /// batch/v1 Job's own wording.
    Job,
}

impl FieldRules {
    /// Rules for a built-in `group`/`kind` (kinds without a registered conversion func,
    /// e.g. ConfigMap and all of apps, accept only `metadata.name`/`metadata.namespace`).
    pub fn for_kind(group: &str, kind: &str) -> Self {
        use FieldKind::*;
        let name = f("metadata.name", "metadata.name", String);
        let ns = f("metadata.namespace", "metadata.namespace", String);
        let (fields, reject) = match (group, kind) {
            ("", "Pod") => (
                vec![
                    name,
                    ns,
                    f("spec.nodeName", "spec.nodeName", String),
                    f("spec.restartPolicy", "spec.restartPolicy", String),
                    f("spec.schedulerName", "spec.schedulerName", String),
                    f("spec.serviceAccountName", "spec.serviceAccountName", String),
                    f("spec.hostNetwork", "spec.hostNetwork", Bool),
                    f("status.phase", "status.phase", String),
                    f("status.podIP", "status.podIP", String),
                    // Accepted by the conversion func but never set by PodToSelectableFields.
                    f("status.podIPs", "", String),
                    f(
                        "status.nominatedNodeName",
                        "status.nominatedNodeName",
                        String,
                    ),
                    FieldSpec {
                        label: "spec.host",
                        canonical: "spec.nodeName",
                        path: "spec.nodeName",
                        kind: String,
                    },
                ],
                RejectStyle::NotSupported,
            ),
            ("", "Node") => (
                vec![name, f("spec.unschedulable", "spec.unschedulable", Bool)],
                RejectStyle::NotSupported,
            ),
            ("", "ReplicationController") => (
                vec![name, ns, f("status.replicas", "status.replicas", Int)],
                RejectStyle::NotSupported,
            ),
            ("", "Namespace") => (
                vec![name, f("status.phase", "status.phase", String)],
                RejectStyle::NotSupported,
            ),
            ("", "Secret") => (
                vec![name, ns, f("type", "type", String)],
                RejectStyle::NotSupported,
            ),
            ("", "Service") => (
                vec![
                    name,
                    ns,
                    f("spec.clusterIP", "spec.clusterIP", String),
                    f("spec.type", "spec.type", String),
                ],
                RejectStyle::NotSupported,
            ),
            ("", "Event") => {
                let mut v = vec![name, ns];
                for l in [
                    "involvedObject.kind",
                    "involvedObject.namespace",
                    "involvedObject.name",
                    "involvedObject.uid",
                    "involvedObject.apiVersion",
                    "involvedObject.resourceVersion",
                    "involvedObject.fieldPath",
                    "reason",
                    "reportingComponent",
                    "type",
                ] {
                    v.push(f(l, l, String));
                }
                v.push(f("source", "source.component", String));
                (v, RejectStyle::NotSupported)
            }
            ("batch", "Job") => (
                vec![name, ns, f("status.successful", "status.succeeded", Int)],
                RejectStyle::Job,
            ),
            _ => (vec![name, ns], RejectStyle::Default),
        };
        Self {
            fields,
            extra: Vec::new(),
            reject,
        }
    }

    /// Rules for a custom resource: `metadata.name`, `metadata.namespace` unless
    /// cluster-scoped, and the version's `selectableFields` (JSON paths like `.spec.color`).
    pub fn for_custom_resource(cluster_scoped: bool, selectable: &[String]) -> Self {
        let mut fields = vec![f("metadata.name", "metadata.name", FieldKind::String)];
        if !cluster_scoped {
            fields.push(f(
                "metadata.namespace",
                "metadata.namespace",
                FieldKind::String,
            ));
        }
        let extra = selectable
            .iter()
            .map(|p| p.trim_start_matches('.').to_string())
            .collect();
        Self {
            fields,
            extra,
            reject: RejectStyle::NotSupported,
        }
    }

    fn lookup(&self, label: &str) -> Option<(String, String, FieldKind)> {
        if let Some(s) = self.fields.iter().find(|s| s.label == label) {
            return Some((s.canonical.to_string(), s.path.to_string(), s.kind));
        }
        self.extra
            .iter()
            .find(|p| *p == label)
            .map(|p| (p.clone(), p.clone(), FieldKind::String))
    }

    fn reject(&self, label: &str) -> String {
        match self.reject {
            RejectStyle::Default => format!(
                "{} is not a known field selector: only \"metadata.name\", \"metadata.namespace\"",
                go_quote(label)
            ),
            RejectStyle::NotSupported => format!("field label not supported: {label}"),
            RejectStyle::Job => format!("field label {} not supported for Job", go_quote(label)),
        }
    }
}

/// One `field=value` / `field!=value` term, already converted to its canonical field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldTerm {
    /// The canonical field label.
    pub field: String,
    /// True for `!=`.
    pub negated: bool,
    /// The unescaped value.
    pub value: String,
    path: String,
    kind: FieldKind,
}

/// A parsed field selector: all terms must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldSelector {
    terms: Vec<FieldTerm>,
}

impl FieldSelector {
    /// Whether every term holds for `obj`.
    pub fn matches(&self, obj: &Value) -> bool {
        self.terms
            .iter()
            .all(|t| (field_value(obj, &t.path, t.kind) == t.value) != t.negated)
    }

    /// Whether the selector places no restriction.
    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }

    /// The terms, in kube's (sorted) order.
    pub fn terms(&self) -> &[FieldTerm] {
        &self.terms
    }
}

/// The string kube's `ToSelectableFields` would produce for a field: bools and ints
/// render as Go would and an absent one as its zero value.
fn field_value(obj: &Value, path: &str, kind: FieldKind) -> String {
    let mut cur = Some(obj);
    if path.is_empty() {
        cur = None;
    }
    for seg in path.split('.').filter(|s| !s.is_empty()) {
        cur = cur.and_then(|c| c.get(seg));
    }
    let fallback = || -> String {
        match kind {
            FieldKind::String => String::new(),
            FieldKind::Bool => "false".into(),
            FieldKind::Int => "0".into(),
        }
    };
    let s = match cur {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Bool(b)) => b.to_string(),
        Some(Value::Number(n)) => n.to_string(),
        _ => fallback(),
    };
    // core Events report `source` from source.component, else reportingComponent.
    if s.is_empty() && path == "source.component" {
        return obj
            .get("reportingComponent")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
    }
    s
}

/// Splits on commas not escaped by a backslash (`splitTerms`), keeping escapes.
fn split_terms(s: &str) -> Vec<&str> {
    if s.is_empty() {
        return Vec::new();
    }
    let mut terms = Vec::new();
    let mut start = 0;
    let mut in_slash = false;
    for (i, c) in s.char_indices() {
        if in_slash {
            in_slash = false;
        } else if c == '\\' {
            in_slash = true;
        } else if c == ',' {
            terms.push(&s[start..i]);
            start = i + 1;
        }
    }
    terms.push(&s[start..]);
    terms
}

/// Finds the leftmost operator (`!=`, `==`, `=` tried in that order at each position).
fn split_term(term: &str) -> Option<(&str, bool, &str)> {
    for (i, _) in term.char_indices() {
        let rest = &term[i..];
        for (op, neg) in [("!=", true), ("==", false), ("=", false)] {
            if rest.starts_with(op) {
                return Some((&term[..i], neg, &term[i + op.len()..]));
            }
        }
    }
    None
}

fn unescape_value(s: &str) -> Result<String, String> {
    if !s.contains(['\\', ',', '=']) {
        return Ok(s.to_string());
    }
    let mut out = String::with_capacity(s.len());
    let mut in_slash = false;
    for c in s.chars() {
        if in_slash {
            match c {
                '\\' | ',' | '=' => out.push(c),
                _ => {
                    return Err(format!(
                        "invalid field selector: invalid escape sequence: \\{c}"
                    ));
                }
            }
            in_slash = false;
            continue;
        }
        match c {
            '\\' => in_slash = true,
            // Go formats the rune with %v, i.e. as its code point number.
            ',' | '=' => {
                return Err(format!(
                    "invalid field selector: unescaped character in value: {}",
                    c as u32
                ));
            }
            _ => out.push(c),
        }
    }
    if in_slash {
        return Err("invalid field selector: invalid escape sequence: \\".to_string());
    }
    Ok(out)
}

/// Parses a field selector and converts each term with `rules`, failing with kube's
/// 400 message for syntax errors and unsupported field labels.
pub fn parse_field_selector_with(s: &str, rules: &FieldRules) -> Result<FieldSelector, String> {
    let mut parts = split_terms(s);
    parts.sort();
    let mut raw = Vec::new();
    for part in parts {
        if part.is_empty() {
            continue;
        }
        let Some((lhs, negated, rhs)) = split_term(part) else {
            return Err(format!(
                "invalid selector: '{s}'; can't understand '{part}'"
            ));
        };
        raw.push((lhs.to_string(), negated, unescape_value(rhs)?));
    }
    // Conversion runs after the whole string parsed, as Transform does in kube.
    let mut terms = Vec::new();
    for (label, negated, value) in raw {
        let Some((field, path, kind)) = rules.lookup(&label) else {
            return Err(rules.reject(&label));
        };
        terms.push(FieldTerm {
            field,
            negated,
            value,
            path,
            kind,
        });
    }
    Ok(FieldSelector { terms })
}

/// Parses a field selector for a kind with no conversion func of its own: only
/// `metadata.name` and `metadata.namespace` are accepted.
pub fn parse_field_selector(s: &str) -> Result<FieldSelector, String> {
    parse_field_selector_with(s, &FieldRules::for_kind("", ""))
}

/// Parses a field selector with the field-label rules kube-apiserver v1.32 applies to
/// the built-in `group`/`kind`.
pub fn parse_field_selector_for(group: &str, kind: &str, s: &str) -> Result<FieldSelector, String> {
    parse_field_selector_with(s, &FieldRules::for_kind(group, kind))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn labels(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn recorded_bad_selector() {
        assert_eq!(
            parse_label_selector("tier in (a").err().as_deref(),
            Some("unable to parse requirement: found '', expected: ',' or ')'")
        );
    }

    #[test]
    fn recorded_selectors_match() {
        let l1 = labels(json!({"tier": "a"}));
        let l2 = labels(json!({"tier": "b", "legacy": "yes"}));
        let l3 = labels(json!({"tier": "c"}));
        let s = parse_label_selector("tier in (a,b),!legacy").expect("parses");
        assert!(s.matches(Some(&l1)) && !s.matches(Some(&l2)) && !s.matches(Some(&l3)));
        let s = parse_label_selector("tier!=a,tier").expect("parses");
        assert!(!s.matches(Some(&l1)) && s.matches(Some(&l2)) && s.matches(Some(&l3)));
        assert!(!s.matches(None));
        assert!(parse_label_selector("").expect("parses").is_empty());
        assert!(parse_label_selector("  ").expect("parses").matches(None));
    }

    #[test]
    fn operators_and_values() {
        let l = labels(json!({"n": "7", "in": "notin"}));
        assert!(parse_label_selector("n>5").expect("ok").matches(Some(&l)));
        assert!(!parse_label_selector("n<5").expect("ok").matches(Some(&l)));
        assert!(
            parse_label_selector("in in (notin)")
                .expect("ok")
                .matches(Some(&l))
        );
        assert!(
            parse_label_selector("x notin (a)")
                .expect("ok")
                .matches(Some(&l))
        );
        assert!(
            parse_label_selector("n==7, in = notin")
                .expect("ok")
                .matches(Some(&l))
        );
        assert!(
            parse_label_selector("x=").expect("ok").requirements()[0].values == vec![String::new()]
        );
    }

    #[test]
    fn parse_errors() {
        assert_eq!(
            parse_label_selector("a,").err().as_deref(),
            Some("found '', expected: identifier after ','")
        );
        assert_eq!(
            parse_label_selector("a b").err().as_deref(),
            Some("unable to parse requirement: found 'b', expected: in, notin, =, ==, !=, gt, lt")
        );
        assert_eq!(
            parse_label_selector("=a").err().as_deref(),
            Some("found '=', expected: !, identifier, or 'end of string'")
        );
        assert_eq!(
            parse_label_selector("a in b").err().as_deref(),
            Some("unable to parse requirement: found 'b' expected: '('")
        );
        assert_eq!(
            parse_label_selector("a ! b").err().as_deref(),
            Some("unable to parse requirement: found '!', expected: in, notin, =, ==, !=, gt, lt")
        );
        assert_eq!(
            parse_label_selector("a>x").err().as_deref(),
            Some(
                "unable to parse requirement: values[0]: Invalid value: \"x\": for 'Gt', 'Lt' operators, the value must be an integer"
            )
        );
        let e = parse_label_selector("Bad_Key_-=x")
            .err()
            .unwrap_or_default();
        assert!(e.starts_with("unable to parse requirement: <nil>: Invalid value: \"Bad_Key_-\": name part must consist"), "{e}");
        let e = parse_label_selector("k=-x").err().unwrap_or_default();
        assert!(
            e.starts_with(
                "unable to parse requirement: values[0][k]: Invalid value: \"-x\": a valid label"
            ),
            "{e}"
        );
    }

    #[test]
    fn selector_objects() {
        let l = labels(json!({"app": "web", "tier": "fe"}));
        assert!(match_label_selector_object(
            &json!({"matchLabels": {"app": "web"}}),
            Some(&l)
        ));
        assert!(match_label_selector_object(&json!({}), Some(&l)));
        assert!(!match_label_selector_object(&Value::Null, Some(&l)));
        let sel = json!({"matchExpressions": [{"key": "tier", "operator": "In", "values": ["fe", "be"]},
                                              {"key": "x", "operator": "DoesNotExist"}]});
        assert!(match_label_selector_object(&sel, Some(&l)));
        assert!(!match_label_selector_object(
            &json!({"matchLabels": {"app": "db"}}),
            Some(&l)
        ));
    }

    #[test]
    fn field_selectors() {
        let obj = json!({"metadata": {"name": "l3", "namespace": "ns"}});
        assert!(
            parse_field_selector("metadata.name=l3")
                .expect("ok")
                .matches(&obj)
        );
        assert!(
            parse_field_selector("metadata.name==l3,metadata.namespace!=x")
                .expect("ok")
                .matches(&obj)
        );
        assert!(
            !parse_field_selector("metadata.name!=l3")
                .expect("ok")
                .matches(&obj)
        );
        assert!(parse_field_selector("").expect("ok").is_empty());
        assert_eq!(
            parse_field_selector("spec.foo=x").err().as_deref(),
            Some(
                "\"spec.foo\" is not a known field selector: only \"metadata.name\", \"metadata.namespace\""
            )
        );
        assert_eq!(
            parse_field_selector_for("", "Pod", "spec.foo=x")
                .err()
                .as_deref(),
            Some("field label not supported: spec.foo")
        );
        assert_eq!(
            parse_field_selector_for("batch", "Job", "spec.foo=x")
                .err()
                .as_deref(),
            Some("field label \"spec.foo\" not supported for Job")
        );
        assert_eq!(
            parse_field_selector("metadata.name").err().as_deref(),
            Some("invalid selector: 'metadata.name'; can't understand 'metadata.name'")
        );
        assert_eq!(
            parse_field_selector("metadata.name=a=b").err().as_deref(),
            Some("invalid field selector: unescaped character in value: 61")
        );
        assert_eq!(
            parse_field_selector("metadata.name=a\\x").err().as_deref(),
            Some("invalid field selector: invalid escape sequence: \\x")
        );
        let odd = json!({"metadata": {"name": "a,b"}});
        assert!(
            parse_field_selector("metadata.name=a\\,b")
                .expect("ok")
                .matches(&odd)
        );
    }

    #[test]
    fn per_kind_field_values() {
        let pod = json!({"metadata": {"name": "p"}, "spec": {"nodeName": "n1"}, "status": {"phase": "Running"}});
        assert!(
            parse_field_selector_for("", "Pod", "spec.host=n1,status.phase=Running")
                .expect("ok")
                .matches(&pod)
        );
        assert!(
            parse_field_selector_for("", "Pod", "spec.hostNetwork=false")
                .expect("ok")
                .matches(&pod)
        );
        let job = json!({"status": {"succeeded": 2}});
        assert!(
            parse_field_selector_for("batch", "Job", "status.successful=2")
                .expect("ok")
                .matches(&job)
        );
        let ns = FieldRules::for_kind("", "Namespace");
        assert!(parse_field_selector_with("metadata.namespace=x", &ns).is_err());
        let cr = FieldRules::for_custom_resource(false, &[".spec.color".to_string()]);
        let obj = json!({"spec": {"color": "red"}});
        assert!(
            parse_field_selector_with("spec.color=red", &cr)
                .expect("ok")
                .matches(&obj)
        );
        assert_eq!(
            parse_field_selector_with("spec.size=1", &cr)
                .err()
                .as_deref(),
            Some("field label not supported: spec.size")
        );
    }
}
