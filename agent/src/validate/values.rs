//! Unset and empty values: one finding per value, where the value is.
//!
//! A value that is empty (`storageClass: ""`, the seed installer's bug 2) or
//! unset is reported by every placeholder that uses it and, when it is
//! declared `required`, by the declaration. The fix is in one place, so the
//! finding is there — the line of the cluster's values (or of the declared
//! default) that sets the empty value, or the declaration when nothing sets
//! it — and lists the places that use it.

use super::finding::{Check, Finding};
use crate::config::{Checked, ConfigError, Site, ValuesOrigin};
use std::collections::BTreeMap;

/// The unset and empty values found, by key.
#[derive(Debug, Default)]
pub(crate) struct ValueProblems {
    keys: BTreeMap<String, Problem>,
}

#[derive(Debug)]
struct Problem {
    /// Empty (set to null or blank) rather than unset.
    empty: bool,
    /// Which cluster and file, for the message.
    origin: ValuesOrigin,
    /// Where the `required` check put it, when the value is declared required.
    required: Option<Site>,
    /// Where placeholders use it.
    usages: Vec<Site>,
}

impl ValueProblems {
    /// Keeps `e` if it is about an unset or empty value (`required`: it
    /// comes from the `required` check, not from a placeholder); gives any
    /// other error back.
    pub(crate) fn take(&mut self, e: ConfigError, required: bool) -> Option<ConfigError> {
        let (at, key, origin, empty) = match e {
            ConfigError::EmptyValue {
                at, key, origin, ..
            } => (at, key, origin, true),
            ConfigError::UnsetValue { at, key, origin } => (at, key, origin, false),
            other => return Some(other),
        };
        let problem = self.keys.entry(key).or_insert_with(|| Problem {
            empty,
            origin: *origin,
            required: None,
            usages: Vec::new(),
        });
        if required {
            problem.required = Some(at);
        } else if !problem.usages.contains(&at) {
            problem.usages.push(at);
        }
        None
    }

    /// One finding per value.
    pub(crate) fn findings(self, checked: &Checked) -> Vec<Finding> {
        self.keys
            .into_iter()
            .map(|(key, p)| {
                let site = p
                    .required
                    .clone()
                    .or_else(|| match p.empty {
                        true => checked.value_site(&key),
                        false => checked.declaration_site(&key),
                    })
                    .or_else(|| p.usages.first().cloned());
                let (file, line) = site.map_or(("wavesync.yaml".into(), 1), |s| {
                    (s.pos.file, s.pos.line_col.map_or(1, |(l, _)| l as usize))
                });
                Finding::new(file, line, Check::RequiredValue, &message(&key, &p))
            })
            .collect()
    }
}

fn message(key: &str, p: &Problem) -> String {
    let state = if p.empty { "empty" } else { "not set" };
    let mut parts = vec![format!("value \"{key}\" is {state} {}", p.origin)];
    let used: Vec<String> = p.usages.iter().map(place).collect();
    match (p.required.is_some(), used.is_empty()) {
        (true, true) => parts.push("it is declared `required: true`".into()),
        (true, false) => parts.push(format!(
            "it is declared `required: true` and used at {}",
            used.join(", ")
        )),
        (false, _) => parts.push(format!("used at {}", used.join(", "))),
    }
    parts.push(match p.empty {
        true => "set it to a value that is not empty".into(),
        false => "set it, or give it a default under `values`".into(),
    });
    parts.join("; ")
}

/// `file:line` of a site.
fn place(s: &Site) -> String {
    match s.pos.line_col {
        Some((line, _)) => format!("{}:{line}", s.pos.file.display()),
        None => s.pos.file.display().to_string(),
    }
}
