//! YAML 1.1 scalar resolution, as kubectl does it.
//!
//! kubectl reads manifests with sigs.k8s.io/yaml, a fork of go-yaml v2, then
//! converts them to JSON. This module reproduces that chain for one scalar:
//! which plain spellings are booleans (`y`, `Y`, `yes`, `on`, `N`, `off`…, but
//! not `yEs`), nulls, integers (`0755` is octal, `1_000` is 1000, `0x1F`,
//! `0o17`, `0b11`), floats, and what a mapping key becomes once it must be a
//! JSON string (`on:` is the key `"true"`). Quoted scalars are strings.

use serde_json::{Number, Value};

/// A scalar after YAML 1.1 resolution.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Resolved {
    /// `~`, `null`, `Null`, `NULL`, or nothing.
    Null,
    /// One of the YAML 1.1 boolean spellings.
    Bool(bool),
    /// An integer that fits `i64`.
    Int(i64),
    /// An integer above `i64::MAX` that fits `u64`.
    UInt(u64),
    /// A float (possibly infinite or NaN).
    Float(f64),
    /// Anything else.
    Str(String),
    /// The merge key `<<`.
    Merge,
}

/// The tag written on a scalar, reduced to what resolution needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ScalarTag {
    /// No tag.
    None,
    /// A `tag:yaml.org,2002:` tag with this suffix (`str`, `int`…).
    Core(&'static str),
    /// Any other tag: go-yaml v2 keeps the text as a string.
    Other,
}

/// Resolves a scalar's text. `plain` is false for quoted and block scalars.
///
/// # Errors
/// A message when an explicit tag does not fit the text (`!!int abc`) or the
/// tag is one kubectl would turn into something JSON cannot hold.
pub(crate) fn resolve(text: &str, plain: bool, tag: ScalarTag) -> Result<Resolved, String> {
    match tag {
        ScalarTag::None if plain => Ok(resolve_plain(text)),
        ScalarTag::None | ScalarTag::Other => Ok(Resolved::Str(text.to_owned())),
        ScalarTag::Core("str") | ScalarTag::Core("timestamp") => Ok(Resolved::Str(text.to_owned())),
        ScalarTag::Core("merge") if text == "<<" => Ok(Resolved::Merge),
        ScalarTag::Core("binary") => {
            Err("the !!binary tag is not supported: put base64 text in a \
                                           Secret's or ConfigMap's binaryData instead"
                .to_owned())
        }
        ScalarTag::Core(suffix) => resolve_tagged(text, suffix),
    }
}

fn resolve_tagged(text: &str, suffix: &str) -> Result<Resolved, String> {
    let r = resolve_plain(text);
    let fits = match (suffix, &r) {
        ("null", Resolved::Null) | ("bool", Resolved::Bool(_)) => true,
        ("int", Resolved::Int(_) | Resolved::UInt(_)) => true,
        ("float", Resolved::Float(_)) => true,
        ("float", Resolved::Int(i)) => return Ok(Resolved::Float(*i as f64)),
        ("float", Resolved::UInt(u)) => return Ok(Resolved::Float(*u as f64)),
        _ => false,
    };
    if fits {
        Ok(r)
    } else {
        // The text is not quoted: it may be a Secret's value, and the error
        // reaches the record, Events and `render`/`diff` (which, unlike
        // `validate`, do not redact); its line and column point at it.
        Err(format!("cannot decode the value as a !!{suffix}"))
    }
}

/// go-yaml v2's `resolve` for an untagged plain scalar.
fn resolve_plain(text: &str) -> Resolved {
    if let Some(r) = lookup(text) {
        return r;
    }
    match text.as_bytes().first() {
        Some(b'.') => match text.parse::<f64>() {
            Ok(f) if f.is_finite() => Resolved::Float(f),
            _ => Resolved::Str(text.to_owned()),
        },
        Some(b'0'..=b'9' | b'+' | b'-') => {
            number(text).unwrap_or_else(|| Resolved::Str(text.to_owned()))
        }
        _ => Resolved::Str(text.to_owned()),
    }
}

/// The fixed spellings of go-yaml v2's resolve table.
fn lookup(text: &str) -> Option<Resolved> {
    Some(match text {
        "y" | "Y" | "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON" => {
            Resolved::Bool(true)
        }
        "n" | "N" | "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off" | "OFF" => {
            Resolved::Bool(false)
        }
        "" | "~" | "null" | "Null" | "NULL" => Resolved::Null,
        ".nan" | ".NaN" | ".NAN" => Resolved::Float(f64::NAN),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => Resolved::Float(f64::INFINITY),
        "-.inf" | "-.Inf" | "-.INF" => Resolved::Float(f64::NEG_INFINITY),
        "<<" => Resolved::Merge,
        _ => return None,
    })
}

/// Integers as Go's `strconv.ParseInt(s, 0, 64)` then `ParseUint` read them
/// (underscores removed first), else a YAML-style float. Timestamps such as
/// `2024-01-01` fail all three and stay strings, as kubectl keeps them.
fn number(text: &str) -> Option<Resolved> {
    let plain: String = text.chars().filter(|&c| c != '_').collect();
    if let Some(i) = go_int(&plain) {
        return Some(match i64::try_from(i) {
            Ok(i) => Resolved::Int(i),
            Err(_) => Resolved::UInt(u64::try_from(i).ok()?),
        });
    }
    let f = plain.parse::<f64>().ok().filter(|f| f.is_finite())?;
    yaml_style_float(&plain).then_some(Resolved::Float(f))
}

/// Go's base-0 integer syntax: sign, then `0x`, `0o`, `0b`, a leading `0`
/// (octal) or decimal digits. Returns `None` outside `i64::MIN..=u64::MAX`.
fn go_int(s: &str) -> Option<i128> {
    let (neg, body) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let lower = body.get(..2).map(str::to_ascii_lowercase);
    let (radix, digits) = match lower.as_deref() {
        Some("0x") => (16, &body[2..]),
        Some("0o") => (8, &body[2..]),
        Some("0b") => (2, &body[2..]),
        _ if body.len() > 1 && body.starts_with('0') => (8, &body[1..]),
        _ => (10, body),
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let magnitude = u64::from_str_radix(digits, radix).ok()? as i128;
    let value = if neg { -magnitude } else { magnitude };
    (value >= i128::from(i64::MIN)).then_some(value)
}

/// go-yaml v2's `^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`.
fn yaml_style_float(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = usize::from(matches!(b.first(), Some(b'-' | b'+')));
    let digits = |i: &mut usize| {
        let start = *i;
        while b.get(*i).is_some_and(u8::is_ascii_digit) {
            *i += 1;
        }
        *i - start
    };
    if b.get(i) == Some(&b'.') {
        i += 1;
        if digits(&mut i) == 0 {
            return false;
        }
    } else {
        if digits(&mut i) == 0 {
            return false;
        }
        if b.get(i) == Some(&b'.') {
            i += 1;
            digits(&mut i);
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'-' | b'+')) {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return false;
        }
    }
    i == b.len()
}

/// The JSON value kubectl sends for a resolved scalar: integral floats become
/// integers (Go's JSON encoder writes `1.0` as `1`, which then decodes as an
/// integer), integers above `i64::MAX` become floats.
///
/// # Errors
/// NaN and infinities, which kubectl refuses ("json: unsupported value").
pub(crate) fn to_json(r: Resolved) -> Result<Value, String> {
    Ok(match r {
        Resolved::Null => Value::Null,
        Resolved::Bool(b) => Value::Bool(b),
        Resolved::Int(i) => Value::from(i),
        Resolved::UInt(u) => float_value(u as f64)?,
        Resolved::Float(f) => float_value(f)?,
        Resolved::Str(s) => Value::String(s),
        Resolved::Merge => Value::String("<<".to_owned()),
    })
}

/// A JSON number as kubectl would produce it from a float.
pub(crate) fn float_value(f: f64) -> Result<Value, String> {
    const TWO_63: f64 = 9_223_372_036_854_775_808.0;
    if !f.is_finite() {
        return Err("infinity and NaN cannot be represented in JSON (kubectl refuses them too); quote the value".to_owned());
    }
    if f.fract() == 0.0 && (-TWO_63..TWO_63).contains(&f) {
        return Ok(Value::from(f as i64));
    }
    Number::from_f64(f)
        .map(Value::Number)
        .ok_or_else(|| format!("{f} is not a JSON number"))
}

/// The JSON object key kubectl makes of a resolved mapping key.
///
/// # Errors
/// Null keys, which sigs.k8s.io/yaml refuses.
pub(crate) fn key_string(r: Resolved) -> Result<String, String> {
    Ok(match r {
        Resolved::Str(s) => s,
        Resolved::Bool(b) => b.to_string(),
        Resolved::Int(i) => i.to_string(),
        Resolved::UInt(u) => u.to_string(),
        Resolved::Float(f) => go_float32_g(f),
        Resolved::Merge => "<<".to_owned(),
        Resolved::Null => {
            return Err("a null mapping key cannot become a JSON key; quote it".to_owned());
        }
    })
}

/// Go's `strconv.FormatFloat(f, 'g', -1, 32)` with go-yaml's names for
/// infinities and NaN.
fn go_float32_g(f: f64) -> String {
    let f = f as f32;
    if f.is_nan() {
        return ".nan".to_owned();
    }
    if f.is_infinite() {
        return if f > 0.0 { ".inf" } else { "-.inf" }.to_owned();
    }
    let sci = format!("{f:e}");
    let Some((mantissa, exp)) = sci.split_once('e') else {
        return f.to_string();
    };
    let exp: i32 = exp.parse().unwrap_or(0);
    if (-4..6).contains(&exp) {
        return f.to_string();
    }
    let sign = if exp < 0 { '-' } else { '+' };
    format!("{mantissa}e{sign}{:02}", exp.abs())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plain(s: &str) -> Value {
        to_json(resolve(s, true, ScalarTag::None).expect("resolves")).expect("json")
    }

    #[test]
    fn yaml11_booleans_are_the_go_yaml_v2_spellings_only() {
        for t in [
            "y", "Y", "yes", "Yes", "YES", "on", "On", "ON", "true", "True", "TRUE",
        ] {
            assert_eq!(plain(t), Value::Bool(true), "{t}");
        }
        for f in [
            "n", "N", "no", "No", "NO", "off", "Off", "OFF", "false", "False", "FALSE",
        ] {
            assert_eq!(plain(f), Value::Bool(false), "{f}");
        }
        for s in ["yEs", "oN", "oFF", "nO", "tRUE", "yes please"] {
            assert_eq!(plain(s), Value::String(s.to_owned()), "{s}");
        }
    }

    #[test]
    fn a_tag_that_does_not_fit_is_an_error_that_does_not_quote_the_text() {
        // Found by the fault suite's secrets area: `pin: !!int <a Secret's
        // value>` put the value into `render`, `diff` and the record.
        assert_eq!(
            resolve("hunter2-planted", true, ScalarTag::Core("int")),
            Err("cannot decode the value as a !!int".to_owned())
        );
    }

    #[test]
    fn quoted_and_str_tagged_scalars_stay_strings() {
        assert_eq!(
            resolve("yes", false, ScalarTag::None),
            Ok(Resolved::Str("yes".into()))
        );
        assert_eq!(
            resolve("yes", true, ScalarTag::Core("str")),
            Ok(Resolved::Str("yes".into()))
        );
        assert_eq!(
            resolve("12", false, ScalarTag::Core("int")),
            Ok(Resolved::Int(12))
        );
        assert!(resolve("abc", true, ScalarTag::Core("int")).is_err());
    }

    #[test]
    fn numbers_follow_go_yaml_v2_and_kubectl_json() {
        // Figures observed with `kubectl label --local -o json` (v1.32).
        let cases: [(&str, Value); 14] = [
            ("0755", 493.into()),
            ("0o17", 15.into()),
            ("0x1F", 31.into()),
            ("1_000", 1000.into()),
            ("1.0", 1.into()),
            ("1e3", 1000.into()),
            ("08", 8.into()),
            (".5", 0.5.into()),
            ("-0b101", (-5).into()),
            ("+12", 12.into()),
            ("1e20", 1e20.into()),
            ("18446744073709551615", 18446744073709551615.0_f64.into()),
            ("2024-01-01", "2024-01-01".into()),
            ("1e400", "1e400".into()),
        ];
        for (text, want) in cases {
            assert_eq!(plain(text), want, "{text}");
        }
        assert_eq!(plain("~"), Value::Null);
        assert!(to_json(resolve(".inf", true, ScalarTag::None).expect("resolves")).is_err());
    }

    #[test]
    fn keys_become_strings_as_sigs_yaml_makes_them() {
        let key = |s: &str| key_string(resolve(s, true, ScalarTag::None).expect("resolves"));
        assert_eq!(key("on").as_deref(), Ok("true"));
        assert_eq!(key("N").as_deref(), Ok("false"));
        assert_eq!(key("10").as_deref(), Ok("10"));
        assert_eq!(key("1.5").as_deref(), Ok("1.5"));
        assert_eq!(key("1e6").as_deref(), Ok("1e+06"));
        assert_eq!(key("0.00001").as_deref(), Ok("1e-05"));
        assert!(key("~").is_err());
    }
}
