//! Name, label and annotation validation with kube-apiserver v1.32's exact messages.
//!
//! The `is_*` functions mirror `k8s.io/apimachinery/pkg/util/validation` and return the
//! bare detail strings (the part after `Invalid value: "x": `). The `validate_*` functions
//! wrap those into [`Cause`]s the way `ValidateObjectMeta` and friends do.
//!
//! Go measures string lengths in bytes, so every length check here uses `str::len`.

use crate::validation::Cause;
use rand::Rng;
use serde_json::Value;

const DNS1123_LABEL_FMT: &str = "[a-z0-9]([-a-z0-9]*[a-z0-9])?";
const DNS1123_LABEL_ERR_MSG: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character";
const DNS1123_SUBDOMAIN_FMT: &str =
    "[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*";
const DNS1123_SUBDOMAIN_ERR_MSG: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character";
const DNS1035_LABEL_FMT: &str = "[a-z]([-a-z0-9]*[a-z0-9])?";
const DNS1035_LABEL_ERR_MSG: &str = "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character";
const QUALIFIED_NAME_FMT: &str = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]";
const QUALIFIED_NAME_ERR_MSG: &str = "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
const LABEL_VALUE_FMT: &str = "(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?";
const LABEL_VALUE_ERR_MSG: &str = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
const CONFIG_MAP_KEY_FMT: &str = "[-._a-zA-Z0-9]+";
const CONFIG_MAP_KEY_ERR_MSG: &str =
    "a valid config key must consist of alphanumeric characters, '-', '_' or '.'";

/// Maximum length of a DNS-1123 / DNS-1035 label and of a label value or name part.
pub const LABEL_MAX_LENGTH: usize = 63;
/// Maximum length of a DNS-1123 subdomain (and of a ConfigMap/Secret key).
pub const SUBDOMAIN_MAX_LENGTH: usize = 253;
/// `TotalAnnotationSizeLimitB`: the summed byte size of all annotation keys and values.
pub const TOTAL_ANNOTATION_SIZE_LIMIT: usize = 256 * 1024;

/// The alphabet `k8s.io/apimachinery/pkg/util/rand.String` draws from (no vowels, no
/// confusable characters), so generated suffixes look like kube's.
const GENERATE_ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

/// `MaxLenError`: the detail for a value longer than `n` bytes.
pub fn max_len_error(n: usize) -> String {
    format!("must be no more than {n} characters")
}

/// `RegexError`: the detail for a value not matching `fmt`, with optional examples.
///
/// The double space before `or` is Go's, kept so messages compare byte for byte.
pub fn regex_error(msg: &str, fmt: &str, examples: &[&str]) -> String {
    if examples.is_empty() {
        return format!("{msg} (regex used for validation is '{fmt}')");
    }
    let mut out = format!("{msg} (e.g. ");
    for (i, ex) in examples.iter().enumerate() {
        if i > 0 {
            out.push_str(" or ");
        }
        out.push('\'');
        out.push_str(ex);
        out.push_str("', ");
    }
    out.push_str("regex used for validation is '");
    out.push_str(fmt);
    out.push_str("')");
    out
}

/// `InclusiveRangeError`.
pub fn inclusive_range_error(lo: i64, hi: i64) -> String {
    format!("must be between {lo} and {hi}, inclusive")
}

fn is_lower_alnum(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit()
}

/// Matches `[a-z0-9]([-a-z0-9]*[a-z0-9])?` anchored.
fn matches_dns1123_label(s: &str) -> bool {
    let b = s.as_bytes();
    match (b.first(), b.last()) {
        (Some(&f), Some(&l)) => {
            is_lower_alnum(f)
                && is_lower_alnum(l)
                && b.iter().all(|&c| is_lower_alnum(c) || c == b'-')
        }
        _ => false,
    }
}

/// Matches the subdomain regex: dot-separated DNS-1123 labels.
fn matches_dns1123_subdomain(s: &str) -> bool {
    !s.is_empty() && s.split('.').all(matches_dns1123_label)
}

fn matches_dns1035_label(s: &str) -> bool {
    s.as_bytes().first().is_some_and(|b| b.is_ascii_lowercase()) && matches_dns1123_label(s)
}

/// Matches `([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]` anchored.
fn matches_qualified_name_part(s: &str) -> bool {
    let b = s.as_bytes();
    match (b.first(), b.last()) {
        (Some(&f), Some(&l)) => {
            f.is_ascii_alphanumeric()
                && l.is_ascii_alphanumeric()
                && b.iter()
                    .all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
        }
        _ => false,
    }
}

/// `IsDNS1123Label`.
pub fn validate_dns1123_label(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if value.len() > LABEL_MAX_LENGTH {
        errs.push(max_len_error(LABEL_MAX_LENGTH));
    }
    if !matches_dns1123_label(value) {
        if matches_dns1123_subdomain(value) {
            // A valid subdomain that is not a valid label can only be failing on dots,
            // and kube says so rather than quoting the regex.
            errs.push("must not contain dots".to_string());
        } else {
            errs.push(regex_error(
                DNS1123_LABEL_ERR_MSG,
                DNS1123_LABEL_FMT,
                &["my-name", "123-abc"],
            ));
        }
    }
    errs
}

/// `IsDNS1123Subdomain`.
pub fn validate_dns1123_subdomain(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if value.len() > SUBDOMAIN_MAX_LENGTH {
        errs.push(max_len_error(SUBDOMAIN_MAX_LENGTH));
    }
    if !matches_dns1123_subdomain(value) {
        errs.push(regex_error(
            DNS1123_SUBDOMAIN_ERR_MSG,
            DNS1123_SUBDOMAIN_FMT,
            &["example.com"],
        ));
    }
    errs
}

/// `IsDNS1035Label`.
pub fn validate_dns1035_label(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if value.len() > LABEL_MAX_LENGTH {
        errs.push(max_len_error(LABEL_MAX_LENGTH));
    }
    if !matches_dns1035_label(value) {
        errs.push(regex_error(
            DNS1035_LABEL_ERR_MSG,
            DNS1035_LABEL_FMT,
            &["my-name", "abc-123"],
        ));
    }
    errs
}

/// `IsQualifiedName`: a label key / annotation key (`[prefix/]name`).
pub fn validate_qualified_name(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    let parts: Vec<&str> = value.split('/').collect();
    let name = match parts.as_slice() {
        [name] => *name,
        [prefix, name] => {
            if prefix.is_empty() {
                errs.push("prefix part must be non-empty".to_string());
            } else {
                for m in validate_dns1123_subdomain(prefix) {
                    errs.push(format!("prefix part {m}"));
                }
            }
            *name
        }
        _ => {
            return vec![format!(
                "a qualified name {} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')",
                regex_error(
                    QUALIFIED_NAME_ERR_MSG,
                    QUALIFIED_NAME_FMT,
                    &["MyName", "my.name", "123-abc"]
                )
            )];
        }
    };
    if name.is_empty() {
        errs.push("name part must be non-empty".to_string());
    } else if name.len() > LABEL_MAX_LENGTH {
        errs.push(format!("name part {}", max_len_error(LABEL_MAX_LENGTH)));
    }
    if !matches_qualified_name_part(name) {
        errs.push(format!(
            "name part {}",
            regex_error(
                QUALIFIED_NAME_ERR_MSG,
                QUALIFIED_NAME_FMT,
                &["MyName", "my.name", "123-abc"]
            )
        ));
    }
    errs
}

/// `IsValidLabelValue`.
pub fn validate_label_value(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if value.len() > LABEL_MAX_LENGTH {
        errs.push(max_len_error(LABEL_MAX_LENGTH));
    }
    if !value.is_empty() && !matches_qualified_name_part(value) {
        errs.push(regex_error(
            LABEL_VALUE_ERR_MSG,
            LABEL_VALUE_FMT,
            &["MyValue", "my_value", "12345"],
        ));
    }
    errs
}

/// `IsConfigMapKey`: keys of ConfigMap `data`/`binaryData` and Secret `data`.
pub fn validate_config_map_key(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if value.len() > SUBDOMAIN_MAX_LENGTH {
        errs.push(max_len_error(SUBDOMAIN_MAX_LENGTH));
    }
    let ok = !value.is_empty()
        && value
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'));
    if !ok {
        errs.push(regex_error(
            CONFIG_MAP_KEY_ERR_MSG,
            CONFIG_MAP_KEY_FMT,
            &["key.name", "KEY_NAME", "key-name"],
        ));
    }
    // Keys become file names in volumes, so kube refuses the directory-walking ones.
    if value == "." {
        errs.push("must not be '.'".to_string());
    } else if value == ".." {
        errs.push("must not be '..'".to_string());
    } else if value.starts_with("..") {
        errs.push("must not start with '..'".to_string());
    }
    errs
}

/// `IsValidPathSegmentName` (`prefix == false`) / `IsValidPathSegmentPrefix` (`true`):
/// the rule for RBAC object names.
pub fn validate_path_segment_name(value: &str, prefix: bool) -> Vec<String> {
    if !prefix {
        for bad in [".", ".."] {
            if value == bad {
                return vec![format!("may not be '{bad}'")];
            }
        }
    }
    ["/", "%"]
        .iter()
        .filter(|bad| value.contains(**bad))
        .map(|bad| format!("may not contain '{bad}'"))
        .collect()
}

/// `IsValidPortNum`: 1..=65535.
pub fn validate_port_num(port: i64) -> Vec<String> {
    if (1..=65535).contains(&port) {
        Vec::new()
    } else {
        vec![inclusive_range_error(1, 65535)]
    }
}

/// `IsValidPortName` (IANA_SVC_NAME).
pub fn validate_port_name(port: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if port.len() > 15 {
        errs.push(max_len_error(15));
    }
    if port.is_empty()
        || !port
            .bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-')
    {
        errs.push(
            "must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)".to_string(),
        );
    }
    if !port.bytes().any(|c| c.is_ascii_lowercase()) {
        errs.push("must contain at least one letter (a-z)".to_string());
    }
    if port.contains("--") {
        errs.push("must not contain consecutive hyphens".to_string());
    }
    if port.starts_with('-') || port.ends_with('-') {
        errs.push("must not begin or end with a hyphen".to_string());
    }
    errs
}

/// Which rule kube applies to `metadata.name` of a kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameRule {
    /// `NameIsDNSSubdomain`: the default for most kinds, and custom resources.
    Subdomain,
    /// `NameIsDNSLabel`: Namespace, and StatefulSet since v1.27.
    Label,
    /// `NameIsDNS1035Label`: Service.
    Dns1035,
    /// `ValidatePathSegmentName`: the RBAC kinds.
    PathSegment,
}

/// The name rule kube-apiserver v1.32 uses for `group`/`kind`.
pub fn name_rule(group: &str, kind: &str) -> NameRule {
    match (group, kind) {
        ("", "Namespace") | ("apps", "StatefulSet") => NameRule::Label,
        ("", "Service") => NameRule::Dns1035,
        (
            "rbac.authorization.k8s.io",
            "Role" | "ClusterRole" | "RoleBinding" | "ClusterRoleBinding",
        ) => NameRule::PathSegment,
        _ => NameRule::Subdomain,
    }
}

/// `maskTrailingDash`: a generateName prefix may end in '-', which the rules would
/// otherwise reject; Go replaces the last two bytes with "a" (dropping one), and so do we.
fn mask_trailing_dash(name: &str) -> String {
    if name.len() > 1 && name.ends_with('-') {
        let cut = name.len() - 2;
        if name.is_char_boundary(cut) {
            return format!("{}a", &name[..cut]);
        }
    }
    name.to_string()
}

/// Applies `rule` to `name`; `prefix` is true for a generateName prefix.
pub fn check_name(rule: NameRule, name: &str, prefix: bool) -> Vec<String> {
    let masked;
    let name = if prefix && rule != NameRule::PathSegment {
        masked = mask_trailing_dash(name);
        masked.as_str()
    } else {
        name
    };
    match rule {
        NameRule::Subdomain => validate_dns1123_subdomain(name),
        NameRule::Label => validate_dns1123_label(name),
        NameRule::Dns1035 => validate_dns1035_label(name),
        NameRule::PathSegment => validate_path_segment_name(name, prefix),
    }
}

/// Go's `%q` for a string, used wherever kube renders a bad string value.
pub fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn invalid_str(field: &str, value: &str, detail: &str) -> Cause {
    Cause {
        reason: "FieldValueInvalid",
        field: field.to_string(),
        message: format!("Invalid value: {}: {detail}", go_quote(value)),
    }
}

/// Validates `metadata.name` of a `group`/`kind` object as kube-apiserver v1.32 does.
/// An empty name yields `Required value: name or generateName is required`.
pub fn validate_object_name(group: &str, kind: &str, name: &str) -> Vec<Cause> {
    if name.is_empty() {
        return vec![Cause {
            reason: "FieldValueRequired",
            field: "metadata.name".to_string(),
            message: "Required value: name or generateName is required".to_string(),
        }];
    }
    check_name(name_rule(group, kind), name, false)
        .iter()
        .map(|m| invalid_str("metadata.name", name, m))
        .collect()
}

/// Validates `metadata.generateName` (a prefix, so a trailing '-' is fine).
pub fn validate_generate_name(group: &str, kind: &str, prefix: &str) -> Vec<Cause> {
    if prefix.is_empty() {
        return Vec::new();
    }
    check_name(name_rule(group, kind), prefix, true)
        .iter()
        .map(|m| invalid_str("metadata.generateName", prefix, m))
        .collect()
}

/// The name kube makes from `generateName`: the prefix (cut to 58 bytes so the result fits
/// a 63-byte label) plus 5 random characters from kube's alphabet.
pub fn generate_name(prefix: &str) -> String {
    const MAX_PREFIX: usize = 63 - 5;
    let mut cut = prefix.len().min(MAX_PREFIX);
    while !prefix.is_char_boundary(cut) {
        cut -= 1;
    }
    let mut rng = rand::rng();
    let mut out = String::with_capacity(cut + 5);
    out.push_str(&prefix[..cut]);
    for _ in 0..5 {
        let i = rng.random_range(0..GENERATE_ALPHABET.len());
        out.push(char::from(GENERATE_ALPHABET[i]));
    }
    out
}

/// Sorted entries of a JSON object; Go iterates maps randomly, sorting keeps our output stable.
fn sorted_entries(v: &Value) -> Vec<(&String, &Value)> {
    let mut entries: Vec<(&String, &Value)> = v
        .as_object()
        .map(|m| m.iter().collect())
        .unwrap_or_default();
    entries.sort_by(|a, b| a.0.cmp(b.0));
    entries
}

/// `ValidateLabels`: every key must be a qualified name and every value a label value.
/// Causes carry `field` itself (kube does not index by key here).
pub fn validate_labels(labels: &Value, field: &str) -> Vec<Cause> {
    let mut out = Vec::new();
    for (k, v) in sorted_entries(labels) {
        for m in validate_qualified_name(k) {
            out.push(invalid_str(field, k, &m));
        }
        let value = v.as_str().unwrap_or_default();
        for m in validate_label_value(value) {
            out.push(invalid_str(field, value, &m));
        }
    }
    out
}

/// `ValidateAnnotations`: keys are qualified names compared case-insensitively, and the
/// whole map must stay under 256 KiB.
pub fn validate_annotations(annotations: &Value, field: &str) -> Vec<Cause> {
    let mut out = Vec::new();
    let mut total = 0usize;
    for (k, v) in sorted_entries(annotations) {
        for m in validate_qualified_name(&k.to_lowercase()) {
            out.push(invalid_str(field, k, &m));
        }
        total += k.len() + v.as_str().map_or(0, str::len);
    }
    if total > TOTAL_ANNOTATION_SIZE_LIMIT {
        out.push(Cause {
            reason: "FieldValueTooLong",
            field: field.to_string(),
            message: format!("Too long: may not be more than {TOTAL_ANNOTATION_SIZE_LIMIT} bytes"),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn subdomain_message_matches_recording() {
        let causes = validate_object_name("", "ConfigMap", "Bad_Name");
        assert_eq!(causes.len(), 1);
        assert_eq!(causes[0].field, "metadata.name");
        assert_eq!(
            causes[0].message,
            "Invalid value: \"Bad_Name\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
        );
    }

    #[test]
    fn empty_name_is_required() {
        let causes = validate_object_name("", "ConfigMap", "");
        assert_eq!(causes[0].reason, "FieldValueRequired");
        assert_eq!(
            causes[0].message,
            "Required value: name or generateName is required"
        );
    }

    #[test]
    fn per_kind_rules() {
        assert!(validate_object_name("", "ConfigMap", "a.b").is_empty());
        assert_eq!(
            validate_object_name("", "Namespace", "a.b")[0].message,
            "Invalid value: \"a.b\": must not contain dots"
        );
        assert!(
            validate_object_name("", "Service", "1abc")[0]
                .message
                .contains("DNS-1035")
        );
        assert!(
            validate_object_name("apps", "StatefulSet", "a.b")[0]
                .message
                .contains("dots")
        );
        assert!(
            validate_object_name("rbac.authorization.k8s.io", "ClusterRole", "system:admin")
                .is_empty()
        );
        assert_eq!(
            validate_object_name("rbac.authorization.k8s.io", "Role", "a/b")[0].message,
            "Invalid value: \"a/b\": may not contain '/'"
        );
    }

    #[test]
    fn label_rules() {
        assert!(validate_dns1123_label("abc-1").is_empty());
        assert_eq!(
            validate_dns1123_label(&"a".repeat(64)),
            vec![max_len_error(63)]
        );
        assert!(validate_dns1123_label("-a")[0].contains("(e.g. 'my-name',  or '123-abc', regex"));
        assert!(validate_dns1123_subdomain("a.b-c.d").is_empty());
        assert_eq!(validate_dns1123_subdomain("a..b").len(), 1);
    }

    #[test]
    fn generate_name_shape() {
        let n = generate_name("web-");
        assert_eq!(n.len(), 9);
        assert!(n.starts_with("web-"));
        assert!(n[4..].bytes().all(|b| GENERATE_ALPHABET.contains(&b)));
        assert_eq!(generate_name(&"x".repeat(80)).len(), 63);
        assert!(validate_generate_name("", "ConfigMap", "web-").is_empty());
    }

    #[test]
    fn labels_and_annotations() {
        let causes = validate_labels(
            &json!({"ok": "v", "bad key": "x", "k": "-v"}),
            "metadata.labels",
        );
        assert_eq!(causes.len(), 2);
        assert_eq!(causes[0].field, "metadata.labels");
        assert!(
            causes[0]
                .message
                .starts_with("Invalid value: \"bad key\": name part must consist of")
        );
        assert!(
            causes[1]
                .message
                .starts_with("Invalid value: \"-v\": a valid label must be an empty string")
        );
        assert!(validate_labels(&json!({"example.com/Name": ""}), "f").is_empty());
        assert!(validate_annotations(&json!({"Example.com/X": "anything at all"}), "f").is_empty());
        let big = "x".repeat(TOTAL_ANNOTATION_SIZE_LIMIT);
        let causes = validate_annotations(&json!({ "a": big }), "metadata.annotations");
        assert_eq!(
            causes[0].message,
            "Too long: may not be more than 262144 bytes"
        );
    }

    #[test]
    fn qualified_name_with_two_slashes() {
        let errs = validate_qualified_name("a/b/c");
        assert_eq!(errs.len(), 1);
        assert!(errs[0].starts_with("a qualified name must consist of"));
        assert!(errs[0].ends_with(
            "with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
        ));
    }

    #[test]
    fn config_keys() {
        assert!(validate_config_map_key("a.b_C-1").is_empty());
        assert_eq!(
            validate_config_map_key("..x"),
            vec!["must not start with '..'".to_string()]
        );
        assert!(validate_config_map_key("a b")[0].starts_with(
            "a valid config key must consist of alphanumeric characters, '-', '_' or '.'"
        ));
    }

    #[test]
    fn quoting() {
        assert_eq!(go_quote("a\"b\\c\n"), "\"a\\\"b\\\\c\\n\"");
        assert_eq!(go_quote("é"), "\"é\"");
    }
}
