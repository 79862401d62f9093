//! Normalization and comparison of responses, ported from `replay.py` beside this file.
//!
//! Every function here mirrors one of replay.py's (`Norm.walk`, `Norm.unwalk`, `canon`,
//! `diff`, `json.dumps`) closely enough that both print the same mismatches for the same
//! responses. Objects keep their key order (serde_json's `preserve_order` feature is on in
//! the workspace), which matters because tokens are numbered in order of first appearance.

use serde_json::{Map, Value};

/// Keys whose string values are timestamps.
const TIME_KEYS: [&str; 6] = [
    "creationTimestamp",
    "deletionTimestamp",
    "time",
    "lastTransitionTime",
    "lastUpdateTime",
    "startTime",
];

/// Messages longer than this compare on their first [`MESSAGE_PREFIX`] characters.
const LONG_MESSAGE: usize = 300;
const MESSAGE_PREFIX: usize = 100;

/// The kinds of value that get tokens, with the token's prefix (`<rv1>`, `<uid1>`, `<ip1>`).
#[derive(Clone, Copy)]
enum Kind {
    ResourceVersion,
    Uid,
    Ip,
}

impl Kind {
    fn prefix(self) -> &'static str {
        match self {
            Kind::ResourceVersion => "rv",
            Kind::Uid => "uid",
            Kind::Ip => "ip",
        }
    }
}

/// Real value → token, in order of first appearance (a Python dict).
type TokenMap = Vec<(String, String)>;

/// The per-case normalizer (replay.py's `Norm`): remembers which real resourceVersions,
/// uids and cluster IPs got which token, so equal values get equal tokens within a case.
#[derive(Clone, Default)]
pub struct Norm {
    rvs: TokenMap,
    uids: TokenMap,
    ips: TokenMap,
}

impl Norm {
    fn map_mut(&mut self, kind: Kind) -> &mut TokenMap {
        match kind {
            Kind::ResourceVersion => &mut self.rvs,
            Kind::Uid => &mut self.uids,
            Kind::Ip => &mut self.ips,
        }
    }

    /// The token of `value`, assigning the next one if it is new.
    fn token(&mut self, kind: Kind, value: &str) -> String {
        let map = self.map_mut(kind);
        if let Some((_, token)) = map.iter().find(|(v, _)| v == value) {
            return token.clone();
        }
        let token = format!("<{}{}>", kind.prefix(), map.len() + 1);
        map.push((value.to_owned(), token.clone()));
        token
    }

    /// Replaces every uid seen so far inside `s` by its token.
    fn replace_uids(&self, s: &str) -> String {
        self.uids
            .iter()
            .fold(s.to_owned(), |acc, (uid, token)| acc.replace(uid, token))
    }

    /// Normalizes a response body (replay.py's `Norm.walk`).
    pub fn walk(&mut self, value: &Value) -> Value {
        match value {
            Value::Object(map) => Value::Object(self.walk_object(map)),
            Value::Array(items) => Value::Array(items.iter().map(|i| self.walk(i)).collect()),
            Value::String(s) => Value::String(self.replace_uids(s)),
            other => other.clone(),
        }
    }

    fn walk_object(&mut self, map: &Map<String, Value>) -> Map<String, Value> {
        let generated = generated_name(map);
        let mut out = Map::new();
        for (key, value) in map {
            let value = match (&generated, key.as_str()) {
                (Some(name), "name") => Value::String(name.clone()),
                _ => value.clone(),
            };
            let key = self.replace_uids(key);
            let normalized = self.walk_entry(&key, &value);
            out.insert(key, normalized);
        }
        out
    }

    /// The normalized value of one object entry.
    fn walk_entry(&mut self, key: &str, value: &Value) -> Value {
        match (key, value) {
            (k, Value::String(_)) if TIME_KEYS.contains(&k) => Value::from("<time>"),
            ("resourceVersion", Value::String(rv)) if !rv.is_empty() => {
                Value::String(self.token(Kind::ResourceVersion, rv))
            }
            ("uid", Value::String(uid)) => Value::String(self.token(Kind::Uid, uid)),
            ("clusterIP", Value::String(ip)) if ip != "None" && !ip.is_empty() => {
                Value::String(self.token(Kind::Ip, ip))
            }
            ("clusterIPs", Value::Array(ips)) => Value::Array(
                ips.iter()
                    .map(|ip| Value::String(self.token(Kind::Ip, &plain_text(ip))))
                    .collect(),
            ),
            ("continue", Value::String(c)) if !c.is_empty() => Value::from("<continue>"),
            _ => self.walk(value),
        }
    }

    /// Turns uid tokens in a request body back into the uids this server gave
    /// (replay.py's `Norm.unwalk`, which replaces them in the serialized text).
    pub fn unwalk(&self, value: &Value) -> Value {
        let text = self
            .uids
            .iter()
            .fold(value.to_string(), |acc, (uid, token)| {
                acc.replace(token, uid)
            });
        serde_json::from_str(&text).unwrap_or_else(|e| {
            panic!("request body no longer parses after replacing uid tokens ({e}): {text}")
        })
    }
}

/// `generateName` followed by `<generated>`, where the object's name was made from it.
fn generated_name(map: &Map<String, Value>) -> Option<String> {
    let prefix = map.get("generateName")?.as_str()?;
    let name = map.get("name")?.as_str()?;
    name.starts_with(prefix)
        .then(|| format!("{prefix}<generated>"))
}

/// A string's own text, or any other value's JSON text.
fn plain_text(value: &Value) -> String {
    value
        .as_str()
        .map_or_else(|| value.to_string(), str::to_owned)
}

/// Puts a normalized body into its comparable form (replay.py's `canon`): `managedFields`
/// sorted, so they compare as a set, and long messages cut to their first characters.
pub fn canon(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut out: Map<String, Value> =
                map.iter().map(|(k, v)| (k.clone(), canon(v))).collect();
            sort_managed_fields(&mut out);
            shorten_message(&mut out);
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.iter().map(canon).collect()),
        other => other.clone(),
    }
}

fn sort_managed_fields(object: &mut Map<String, Value>) {
    let fields = object
        .get_mut("metadata")
        .and_then(Value::as_object_mut)
        .and_then(|metadata| metadata.get_mut("managedFields"))
        .and_then(Value::as_array_mut);
    if let Some(fields) = fields {
        fields.sort_by_cached_key(|entry| py_dumps(entry, true));
    }
}

fn shorten_message(object: &mut Map<String, Value>) {
    if let Some(Value::String(message)) = object.get_mut("message")
        && message.chars().count() > LONG_MESSAGE
    {
        *message = message.chars().take(MESSAGE_PREFIX).collect();
    }
}

/// The differences between the expected and the actual value, one line each, as replay.py's
/// `diff` words them.
pub fn diff(expected: &Value, got: &Value) -> Vec<String> {
    let mut out = Vec::new();
    diff_at(expected, got, "", &mut out);
    out
}

/// [`diff`] below `path`, appending to `out`.
pub fn diff_at(expected: &Value, got: &Value, path: &str, out: &mut Vec<String>) {
    if py_type(expected) != py_type(got) {
        let at = if path.is_empty() { "/" } else { path };
        out.push(format!(
            "{at}: expected {} got {}",
            short(expected, 80),
            short(got, 80)
        ));
        return;
    }
    match (expected, got) {
        (Value::Object(a), Value::Object(b)) => diff_objects(a, b, path, out),
        (Value::Array(a), Value::Array(b)) if a.len() != b.len() => {
            out.push(format!(
                "{path}: expected {} items got {}",
                a.len(),
                b.len()
            ));
        }
        (Value::Array(a), Value::Array(b)) => {
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                diff_at(x, y, &format!("{path}[{i}]"), out);
            }
        }
        (a, b) if a != b => {
            out.push(format!(
                "{path}: expected {} got {}",
                short(a, 80),
                short(b, 80)
            ));
        }
        _ => {}
    }
}

fn diff_objects(a: &Map<String, Value>, b: &Map<String, Value>, path: &str, out: &mut Vec<String>) {
    let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
    keys.sort();
    keys.dedup();
    for key in keys {
        let at = format!("{path}/{key}");
        match (a.get(key), b.get(key)) {
            (_, None) => out.push(format!("{at}: missing")),
            (None, Some(extra)) => out.push(format!("{at}: unexpected {}", short(extra, 60))),
            (Some(x), Some(y)) => diff_at(x, y, &at, out),
        }
    }
}

/// Python's type of a parsed JSON value: `1` (int) and `1.0` (float) differ there.
fn py_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "NoneType",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "float",
        Value::Number(_) => "int",
        Value::String(_) => "str",
        Value::Array(_) => "list",
        Value::Object(_) => "dict",
    }
}

/// The first `max` characters of the value's JSON text, as Python's `json.dumps(v)[:max]`.
pub fn short(value: &Value, max: usize) -> String {
    py_dumps(value, false).chars().take(max).collect()
}

/// The value as Python's `json.dumps` writes it: `, ` and `: ` separators, non-ASCII
/// escaped, keys in their order or sorted (`sort_keys=True`).
pub fn py_dumps(value: &Value, sort_keys: bool) -> String {
    let mut out = String::new();
    write_py(value, sort_keys, &mut out);
    out
}

fn write_py(value: &Value, sort_keys: bool, out: &mut String) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) => write_py_string(s, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_py(item, sort_keys, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            if sort_keys {
                entries.sort_by(|x, y| x.0.cmp(y.0));
            }
            out.push('{');
            for (i, (key, item)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_py_string(key, out);
                out.push_str(": ");
                write_py(item, sort_keys, out);
            }
            out.push('}');
        }
    }
}

fn write_py_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            ' '..='~' => out.push(c),
            _ => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            }
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    //! Expected values below were produced by running replay.py's own functions on the
    //! same inputs.

    use super::*;
    use serde_json::json;

    #[test]
    fn walk_tokenizes_like_replay_py() {
        let mut norm = Norm::default();
        let body = json!({
            "metadata": {
                "name": "job-x7k2q", "generateName": "job-", "uid": "aaaa-1111",
                "resourceVersion": "17", "creationTimestamp": "2025-01-01T00:00:00Z",
                "labels": {"controller-uid": "aaaa-1111"},
                "managedFields": [{"fieldsV1": {"k:{\"uid\":\"aaaa-1111\"}": {}}, "time": "t"}]
            },
            "spec": {"clusterIP": "10.0.0.7", "clusterIPs": ["10.0.0.7", "fd00::1"]},
            "other": {"clusterIP": "None", "resourceVersion": "", "continue": "abc"},
            "items": [{"metadata": {"resourceVersion": "17", "uid": "bbbb"}},
                      {"metadata": {"resourceVersion": "18", "uid": "aaaa-1111"}}]
        });
        let want = json!({
            "metadata": {
                "name": "job-<generated>", "generateName": "job-", "uid": "<uid1>",
                "resourceVersion": "<rv1>", "creationTimestamp": "<time>",
                "labels": {"controller-uid": "<uid1>"},
                "managedFields": [{"fieldsV1": {"k:{\"uid\":\"<uid1>\"}": {}}, "time": "<time>"}]
            },
            "spec": {"clusterIP": "<ip1>", "clusterIPs": ["<ip1>", "<ip2>"]},
            "other": {"clusterIP": "None", "resourceVersion": "", "continue": "<continue>"},
            "items": [{"metadata": {"resourceVersion": "<rv1>", "uid": "<uid2>"}},
                      {"metadata": {"resourceVersion": "<rv2>", "uid": "<uid1>"}}]
        });
        assert_eq!(norm.walk(&body), want);
        let request = json!({"metadata": {"ownerReferences": [{"uid": "<uid2>"}]}, "x": "<uid1>"});
        assert_eq!(
            norm.unwalk(&request),
            json!({"metadata": {"ownerReferences": [{"uid": "bbbb"}]}, "x": "aaaa-1111"})
        );
    }

    #[test]
    fn a_uid_inside_a_string_is_only_replaced_once_known() {
        // Keys are walked in order: the label precedes the uid it contains.
        let mut norm = Norm::default();
        let got = norm.walk(&json!({"labels": {"u": "id-9"}, "uid": "id-9", "b": "x id-9"}));
        assert_eq!(
            got,
            json!({"labels": {"u": "id-9"}, "uid": "<uid1>", "b": "x <uid1>"})
        );
    }

    #[test]
    fn canon_sorts_managed_fields_and_cuts_long_messages() {
        let long = "é".repeat(301);
        let got = canon(&json!({
            "metadata": {"managedFields": [{"manager": "b", "z": 1}, {"manager": "a"},
                                           {"manager": "a", "b": 2}]},
            "details": {"message": long},
            "message": "short"
        }));
        let want = json!({
            "metadata": {"managedFields": [{"b": 2, "manager": "a"}, {"manager": "a"},
                                           {"manager": "b", "z": 1}]},
            "details": {"message": "é".repeat(100)},
            "message": "short"
        });
        assert_eq!(got, want);
    }

    #[test]
    fn diff_words_mismatches_like_replay_py() {
        let expected = json!({"a": 1, "b": [1, 2], "c": {"d": "x"}, "e": "ü\n", "f": 1, "l": [1]});
        let got = json!({"a": 1.0, "b": [1], "c": {"d": "y", "g": [true, null]}, "e": "v", "f": 2,
                         "l": [{"k": "v"}]});
        assert_eq!(
            diff(&expected, &got),
            vec![
                "/a: expected 1 got 1.0",
                "/b: expected 2 items got 1",
                "/c/d: expected \"x\" got \"y\"",
                "/c/g: unexpected [true, null]",
                "/e: expected \"\\u00fc\\n\" got \"v\"",
                "/f: expected 1 got 2",
                "/l[0]: expected 1 got {\"k\": \"v\"}",
            ]
        );
        assert_eq!(
            diff(&json!({"x": 1}), &json!("404 page not found\n")),
            vec!["/: expected {\"x\": 1} got \"404 page not found\\n\""]
        );
        assert_eq!(diff(&json!({"x": 1}), &json!({})), vec!["/x: missing"]);
        assert_eq!(
            diff(&json!([1]), &json!([])),
            vec![": expected 1 items got 0"]
        );
    }

    #[test]
    fn py_dumps_matches_python() {
        let v = json!({"b": [1, "😀", null], "a": {"y": false, "x": 0.5}, "c": "\u{1}\u{7f}/"});
        assert_eq!(
            py_dumps(&v, false),
            r#"{"b": [1, "\ud83d\ude00", null], "a": {"y": false, "x": 0.5}, "c": "\u0001\u007f/"}"#
        );
        assert_eq!(
            py_dumps(&v, true),
            r#"{"a": {"x": 0.5, "y": false}, "b": [1, "\ud83d\ude00", null], "c": "\u0001\u007f/"}"#
        );
        assert_eq!(short(&json!("0123456789"), 5), "\"0123");
    }
}
