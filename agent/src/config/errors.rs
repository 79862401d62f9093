//! Errors of the `config` stage: everything that can be wrong with
//! `wavesync.yaml`, a cluster's values file or a placeholder.
//!
//! Every error says where: the file relative to the repository root, the
//! `line:column` when the YAML gives it, and the path in the document
//! (`spec.waves[2].requires[0]`), then what was expected. They are all
//! configuration errors (fail fast: retrying does not fix a typo), except
//! [`ConfigError::Io`], which may be a passing condition of the checkout.

use std::fmt;
use std::path::PathBuf;

use crate::error::{Categorized, Category};

use super::duration::DurationError;
use super::paths::PathProblem;

/// A position in a file: the file, relative to the repository root, and the
/// 1-based line and column when known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Position {
    /// The file, relative to the repository root (`wavesync.yaml`).
    pub file: PathBuf,
    /// Line and column (1-based, columns in characters), when known.
    pub line_col: Option<(u32, u32)>,
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line_col {
            Some((line, col)) => write!(f, "{}:{line}:{col}", self.file.display()),
            None => write!(f, "{}", self.file.display()),
        }
    }
}

/// Where an error is: a [`Position`] plus the path inside the YAML document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Site {
    /// The file and line:column.
    pub pos: Position,
    /// The path in the document (`spec.waves[2].requires[0]`); empty for the
    /// document root or for files that are not YAML documents we parsed.
    pub path: String,
}

impl fmt::Display for Site {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            write!(f, "{}", self.pos)
        } else {
            write!(f, "{}: {}", self.pos, self.path)
        }
    }
}

/// Where a cluster's values came from, so that a message about a missing or
/// empty value says which file to fix.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ValuesOrigin {
    /// The selected cluster, if any.
    pub cluster: Option<String>,
    /// Where that cluster's values are.
    pub source: ValuesSource,
}

/// The source of a cluster's values.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum ValuesSource {
    /// A values file, relative to the repository root.
    File(PathBuf),
    /// A map written inline under `clusters[].values` in `wavesync.yaml`.
    Inline,
    /// No values: only the defaults declared under `values` apply.
    #[default]
    None,
}

impl fmt::Display for ValuesOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.cluster, &self.source) {
            (Some(c), ValuesSource::File(p)) => write!(f, "for cluster \"{c}\" ({})", p.display()),
            (Some(c), ValuesSource::Inline) => {
                write!(f, "for cluster \"{c}\" (inline values in wavesync.yaml)")
            }
            (Some(c), ValuesSource::None) => {
                write!(
                    f,
                    "for cluster \"{c}\" (it has no values; only the defaults apply)"
                )
            }
            (None, _) => f.write_str("(no cluster selected; only the defaults apply)"),
        }
    }
}

/// Everything that can be wrong with the repository's configuration.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file does not exist (the repository has no `wavesync.yaml`, or the
    /// repository root itself is missing).
    #[error("{}: not found", file.display())]
    NotFound {
        /// The missing file or directory.
        file: PathBuf,
    },

    /// Reading a file failed for another reason than its absence.
    #[error("{}: cannot read: {source}", file.display())]
    Io {
        /// The file.
        file: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },

    /// The YAML is malformed or does not fit the schema: a syntax error, an
    /// unknown field (the message lists the expected ones), an unknown
    /// requirement type, a missing field, a value of the wrong type.
    #[error("{at}: {message}")]
    Yaml {
        /// Where.
        at: Site,
        /// The parser's message, without its location.
        message: String,
    },

    /// A rule of the format is broken: a wave with both or neither of `path`
    /// and `components`, an empty CEL expression, a wrong `apiVersion`...
    #[error("{at}: {message}")]
    Invalid {
        /// Where.
        at: Site,
        /// What is wrong and what was expected.
        message: String,
    },

    /// Two waves, components or clusters share a name.
    #[error("{at}: duplicate {what} name \"{name}\" (first used on line {first_line})")]
    Duplicate {
        /// Where the second one is.
        at: Site,
        /// `wave`, `component`, `cluster`.
        what: &'static str,
        /// The name.
        name: String,
        /// The line of the first one.
        first_line: u32,
    },

    /// A duration that does not parse.
    #[error("{at}: invalid duration \"{text}\": {problem} (write e.g. 500ms, 90s, 5m, 1h30m)")]
    Duration {
        /// Where.
        at: Site,
        /// The text as written.
        text: String,
        /// What is wrong with it.
        problem: DurationError,
    },

    /// A path that leaves the repository, is absolute, or does not exist.
    #[error("{at}: path \"{path}\" {problem}")]
    RepoPath {
        /// Where the path is written.
        at: Site,
        /// The path as written.
        path: String,
        /// What is wrong with it.
        problem: PathProblem,
    },

    /// A placeholder, or a required value, whose value is empty (`""` or
    /// null): the seed installer's bug 2, an empty storageClass reaching the
    /// cluster, is caught here before anything is applied.
    #[error("{at}: value \"{key}\" is empty {origin}; set it or drop the {usage}")]
    EmptyValue {
        /// Where the value is used (or declared, for a required value).
        at: Site,
        /// The value's key.
        key: String,
        /// Which cluster and file should set it (boxed: it is large and rare).
        origin: Box<ValuesOrigin>,
        /// `placeholder` or `requirement`: what the user could remove instead.
        usage: &'static str,
    },

    /// A placeholder, or a required value, whose value is set nowhere.
    #[error(
        "{at}: value \"{key}\" is not set {origin}; set it or give it a default under `values`"
    )]
    UnsetValue {
        /// Where the value is used (or declared, for a required value).
        at: Site,
        /// The value's key.
        key: String,
        /// Which cluster and file should set it (boxed: it is large and rare).
        origin: Box<ValuesOrigin>,
    },

    /// A placeholder names a value that is neither declared under `values`
    /// nor set for the cluster, or a cluster sets a value that the
    /// declarations do not list (a typo, most likely).
    #[error("{at}: value \"{key}\" is not declared; declared values: {known}")]
    UndeclaredValue {
        /// Where.
        at: Site,
        /// The unknown key.
        key: String,
        /// The known keys, comma-separated (`(none)` when there are none).
        known: String,
    },

    /// A placeholder whose value is a map or a list: it cannot be spliced
    /// into a string.
    #[error("{at}: value \"{key}\" is a {kind}; a placeholder needs a string, number or boolean")]
    NotScalarValue {
        /// Where the placeholder is.
        at: Site,
        /// The value's key.
        key: String,
        /// `map` or `list`.
        kind: &'static str,
    },

    /// Text that starts like one of our placeholders but does not parse.
    #[error(
        "{at}: malformed placeholder \"{text}\": write {{{{ .values.KEY }}}} or {{{{ .cluster.KEY }}}}"
    )]
    MalformedPlaceholder {
        /// Where it starts.
        at: Site,
        /// The text from `{{` up to the end of the line (at most 40 characters).
        text: String,
    },

    /// More than one cluster is declared and none was selected.
    #[error("{at}: {count} clusters are declared ({known}); choose one with --cluster")]
    ClusterRequired {
        /// Where the clusters are declared.
        at: Site,
        /// How many.
        count: usize,
        /// Their names, comma-separated.
        known: String,
    },

    /// The selected cluster is not declared.
    #[error("{at}: unknown cluster \"{name}\"; known clusters: {known}")]
    UnknownCluster {
        /// Where the clusters are (or would be) declared.
        at: Site,
        /// The requested name.
        name: String,
        /// The declared names, comma-separated (`(none)` when there are none).
        known: String,
    },
}

impl ConfigError {
    /// Where the error is, when it is about a place in a file.
    pub fn site(&self) -> Option<&Site> {
        match self {
            ConfigError::NotFound { .. } | ConfigError::Io { .. } => None,
            ConfigError::Yaml { at, .. }
            | ConfigError::Invalid { at, .. }
            | ConfigError::Duplicate { at, .. }
            | ConfigError::Duration { at, .. }
            | ConfigError::RepoPath { at, .. }
            | ConfigError::EmptyValue { at, .. }
            | ConfigError::UnsetValue { at, .. }
            | ConfigError::UndeclaredValue { at, .. }
            | ConfigError::NotScalarValue { at, .. }
            | ConfigError::MalformedPlaceholder { at, .. }
            | ConfigError::ClusterRequired { at, .. }
            | ConfigError::UnknownCluster { at, .. } => Some(at),
        }
    }

    /// An [`ConfigError::Io`] or, for a missing file, [`ConfigError::NotFound`]:
    /// a missing file is a mistake in the repository, not a passing failure.
    pub(crate) fn io(file: impl Into<PathBuf>, source: std::io::Error) -> ConfigError {
        let file = file.into();
        if source.kind() == std::io::ErrorKind::NotFound {
            ConfigError::NotFound { file }
        } else {
            ConfigError::Io { file, source }
        }
    }
}

impl Categorized for ConfigError {
    fn category(&self) -> Category {
        match self {
            // A read that fails for another reason than absence (EIO, EMFILE,
            // a checkout being swapped underneath us) may pass on retry.
            ConfigError::Io { .. } => Category::Transient,
            _ => Category::Config,
        }
    }
}

/// Joins names for a message: `a, b, c`, or `(none)`.
pub(crate) fn join_names<'a>(names: impl IntoIterator<Item = &'a str>) -> String {
    let joined = names.into_iter().collect::<Vec<_>>().join(", ");
    if joined.is_empty() {
        "(none)".to_string()
    } else {
        joined
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_errors_are_transient_and_the_rest_config() {
        let e = ConfigError::io("wavesync.yaml", std::io::Error::other("EIO"));
        assert_eq!(e.category(), Category::Transient);
        let e = ConfigError::io("wavesync.yaml", std::io::ErrorKind::NotFound.into());
        assert!(matches!(e, ConfigError::NotFound { .. }));
        assert_eq!(e.category(), Category::Config);
    }

    #[test]
    fn sites_print_as_file_line_column_then_path() {
        let at = Site {
            pos: Position {
                file: "wavesync.yaml".into(),
                line_col: Some((14, 25)),
            },
            path: "spec.waves[2].requires[1].storageClass".into(),
        };
        assert_eq!(
            at.to_string(),
            "wavesync.yaml:14:25: spec.waves[2].requires[1].storageClass"
        );
        let at = Site {
            pos: Position {
                file: "a.yaml".into(),
                line_col: None,
            },
            path: String::new(),
        };
        assert_eq!(at.to_string(), "a.yaml");
    }
}
