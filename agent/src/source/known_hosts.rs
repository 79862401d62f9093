//! A reader for OpenSSH `known_hosts` files, used to check an SSH server's
//! host key in git2's `certificate_check` callback.
//!
//! Supported: plain host patterns (comma-separated, `*` and `?` wildcards,
//! `!` negation, `[host]:port` for non-default ports) and the `@revoked`
//! marker. Not read: hashed hostnames (`|1|…`, as written by
//! `ssh-keyscan -H`) and `@cert-authority` lines; a host only listed that way
//! is reported as unknown, with a hint.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

/// The verdict on one host key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// A plain entry for the host lists exactly this key.
    Trusted,
    /// The host is listed, with other keys: possibly an impostor.
    Mismatch,
    /// The key is marked `@revoked` for this host.
    Revoked,
    /// No entry applies to the host.
    Unknown {
        /// Whether the file has entries that were skipped (hashed or
        /// `@cert-authority`), which may have been meant for this host.
        skipped_entries: bool,
    },
}

impl Verdict {
    /// A reason for an error message; `None` when trusted.
    pub(crate) fn reason(&self, file: &str) -> Option<String> {
        match self {
            Verdict::Trusted => None,
            Verdict::Mismatch => Some(format!(
                "the key differs from the one listed in {file} (the host key changed, or someone is impersonating the host)"
            )),
            Verdict::Revoked => Some(format!("the key is marked @revoked in {file}")),
            Verdict::Unknown {
                skipped_entries: false,
            } => Some(format!("the host is not listed in {file}")),
            Verdict::Unknown {
                skipped_entries: true,
            } => Some(format!(
                "the host is not listed in plain form in {file} (hashed |1| and @cert-authority entries are not read; add the output of `ssh-keyscan` without -H)"
            )),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    revoked: bool,
    patterns: Vec<String>,
    key: Vec<u8>,
}

/// The usable entries of one known_hosts file.
#[derive(Debug, Clone, Default)]
pub(crate) struct KnownHosts {
    entries: Vec<Entry>,
    skipped: usize,
}

impl KnownHosts {
    /// Parses a known_hosts file; malformed lines are skipped, as ssh does.
    pub(crate) fn parse(text: &str) -> Self {
        let mut hosts = KnownHosts::default();
        for line in text.lines() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let mut fields = line.split_whitespace();
            let mut first = fields.next().unwrap_or_default();
            let mut revoked = false;
            if first.starts_with('@') {
                if first != "@revoked" {
                    hosts.skipped += 1;
                    continue;
                }
                revoked = true;
                first = fields.next().unwrap_or_default();
            }
            if first.starts_with('|') {
                hosts.skipped += 1;
                continue;
            }
            let (Some(_key_type), Some(key)) = (fields.next(), fields.next()) else {
                continue;
            };
            let Ok(key) = STANDARD.decode(key) else {
                continue;
            };
            let patterns = first.split(',').map(str::to_ascii_lowercase).collect();
            hosts.entries.push(Entry {
                revoked,
                patterns,
                key,
            });
        }
        hosts
    }

    /// Checks the raw host key blob (SSH wire format, what the file encodes
    /// in base64) presented by `host` on `port`.
    pub(crate) fn check(&self, host: &str, port: u16, key: &[u8]) -> Verdict {
        let name = if port == 22 {
            host.to_ascii_lowercase()
        } else {
            format!("[{}]:{port}", host.to_ascii_lowercase())
        };
        let applicable: Vec<&Entry> = self
            .entries
            .iter()
            .filter(|e| host_matches(&e.patterns, &name))
            .collect();
        if applicable.iter().any(|e| e.revoked && e.key == key) {
            return Verdict::Revoked;
        }
        if applicable.iter().any(|e| !e.revoked && e.key == key) {
            return Verdict::Trusted;
        }
        if applicable.iter().any(|e| !e.revoked) {
            return Verdict::Mismatch;
        }
        Verdict::Unknown {
            skipped_entries: self.skipped > 0,
        }
    }
}

/// ssh's rule: some positive pattern matches and no negated one does.
fn host_matches(patterns: &[String], name: &str) -> bool {
    let mut matched = false;
    for p in patterns {
        if let Some(negated) = p.strip_prefix('!') {
            if glob(negated.as_bytes(), name.as_bytes()) {
                return false;
            }
        } else if glob(p.as_bytes(), name.as_bytes()) {
            matched = true;
        }
    }
    matched
}

/// `*` (any run) and `?` (any one character) wildcards.
fn glob(pattern: &[u8], text: &[u8]) -> bool {
    match (pattern.first(), text.first()) {
        (None, None) => true,
        (Some(b'*'), _) => {
            glob(&pattern[1..], text) || (!text.is_empty() && glob(pattern, &text[1..]))
        }
        (Some(b'?'), Some(_)) => glob(&pattern[1..], &text[1..]),
        (Some(p), Some(t)) if p == t => glob(&pattern[1..], &text[1..]),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(bytes: &[u8]) -> String {
        STANDARD.encode(bytes)
    }

    #[test]
    fn plain_entries_match_by_host_port_and_key() {
        let file = format!(
            "# comment\ngithub.com,140.82.121.4 ssh-ed25519 {}\n[git.example.com]:2222 ssh-rsa {}\n*.corp ssh-ed25519 {}\n",
            b64(b"gh-key"),
            b64(b"ex-key"),
            b64(b"corp-key")
        );
        let k = KnownHosts::parse(&file);
        assert_eq!(k.check("github.com", 22, b"gh-key"), Verdict::Trusted);
        assert_eq!(k.check("GitHub.com", 22, b"gh-key"), Verdict::Trusted);
        assert_eq!(k.check("140.82.121.4", 22, b"gh-key"), Verdict::Trusted);
        assert_eq!(k.check("github.com", 22, b"evil"), Verdict::Mismatch);
        assert_eq!(
            k.check("git.example.com", 2222, b"ex-key"),
            Verdict::Trusted
        );
        // The same host on the default port is a different entry.
        assert_eq!(
            k.check("git.example.com", 22, b"ex-key"),
            Verdict::Unknown {
                skipped_entries: false
            }
        );
        assert_eq!(k.check("git.corp", 22, b"corp-key"), Verdict::Trusted);
        assert_eq!(
            k.check("gitlab.com", 22, b"gh-key"),
            Verdict::Unknown {
                skipped_entries: false
            }
        );
    }

    #[test]
    fn revoked_negated_and_hashed_entries() {
        let file = format!(
            "@revoked * ssh-ed25519 {}\n*.corp,!bad.corp ssh-ed25519 {}\n|1|c2FsdA==|aGFzaA== ssh-ed25519 {}\n@cert-authority *.ca ssh-ed25519 {}\nbroken-line\n",
            b64(b"stolen"),
            b64(b"corp-key"),
            b64(b"h-key"),
            b64(b"ca-key")
        );
        let k = KnownHosts::parse(&file);
        assert_eq!(k.check("a.corp", 22, b"stolen"), Verdict::Revoked);
        assert_eq!(k.check("a.corp", 22, b"corp-key"), Verdict::Trusted);
        assert_eq!(
            k.check("bad.corp", 22, b"corp-key"),
            Verdict::Unknown {
                skipped_entries: true
            }
        );
        let reason = k
            .check("hashed.example", 22, b"h-key")
            .reason("kh")
            .unwrap_or_default();
        assert!(reason.contains("hashed"), "{reason}");
    }

    #[test]
    fn globs() {
        assert!(glob(b"*.example.com", b"git.example.com"));
        assert!(!glob(b"*.example.com", b"example.com"));
        assert!(glob(b"git?.corp", b"git1.corp"));
        assert!(glob(b"*", b""));
    }
}
