//! Keeping credentials out of logs and errors: URL userinfo redaction and a
//! scrubber for messages that come back from libgit2.

use super::Auth;

const MASK: &str = "***";

/// The URL with its userinfo replaced: `https://user:token@host/r` →
/// `https://***@host/r`. Applies to every `scheme://` URL (a lone username
/// may be a token); scp-like `git@host:path` is returned as is, since SSH
/// URLs cannot carry a secret. Anything else is returned unchanged.
pub fn redact_url(url: &str) -> String {
    redact_with(url, |_| false)
}

/// Every `scheme://userinfo@` inside a message redacted (a URL ends at
/// whitespace or a quote).
pub fn redact_text(text: &str) -> String {
    redact_with(text, |c| {
        c.is_whitespace() || matches!(c, '\'' | '"' | '`' | '<' | '>')
    })
}

fn redact_with(text: &str, is_delimiter: impl Fn(char) -> bool) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("://") {
        let (head, tail) = rest.split_at(i + 3);
        out.push_str(head);
        let end = tail
            .find(|c: char| c == '/' || c == '?' || c == '#' || is_delimiter(c))
            .unwrap_or(tail.len());
        let authority = &tail[..end];
        match authority.rfind('@') {
            Some(at) => {
                out.push_str(MASK);
                out.push_str(&authority[at..]);
            }
            None => out.push_str(authority),
        }
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

/// Removes the secrets of one source from any text: URL userinfo, then each
/// configured token, password and passphrase, wherever it appears.
#[derive(Clone, Default)]
pub(crate) struct Redactor {
    secrets: Vec<String>,
}

impl Redactor {
    /// The secrets of `url` and `auth`.
    pub(crate) fn new(url: &str, auth: &Auth) -> Self {
        let mut secrets = Vec::new();
        if let Some((user, password)) = url_userinfo(url) {
            match password {
                Some(p) => secrets.push(p.to_string()),
                // `https://TOKEN@host`: the username is the secret.
                None if url.starts_with("http") => secrets.push(user.to_string()),
                None => {}
            }
        }
        match auth {
            Auth::None => {}
            Auth::Token { token, .. } => secrets.push(token.clone()),
            Auth::Basic { password, .. } => secrets.push(password.clone()),
            Auth::SshKey { passphrase, .. } => secrets.extend(passphrase.clone()),
        }
        secrets.retain(|s| !s.is_empty());
        // Longest first, so that a secret containing another is masked whole.
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        Redactor { secrets }
    }

    /// `text` without URL userinfo and without any of the secrets.
    pub(crate) fn redact(&self, text: &str) -> String {
        let mut out = redact_text(text);
        for s in &self.secrets {
            if out.contains(s.as_str()) {
                out = out.replace(s.as_str(), MASK);
            }
        }
        out
    }
}

impl std::fmt::Debug for Redactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Redactor({} secrets)", self.secrets.len())
    }
}

/// `(user, password)` of a `scheme://user[:password]@host` URL.
fn url_userinfo(url: &str) -> Option<(&str, Option<&str>)> {
    let (_, tail) = url.split_once("://")?;
    let authority = &tail[..tail.find(['/', '?', '#']).unwrap_or(tail.len())];
    let (userinfo, _) = authority.rsplit_once('@')?;
    Some(match userinfo.split_once(':') {
        Some((u, p)) => (u, Some(p)),
        None => (userinfo, None),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn userinfo_is_replaced_in_urls() {
        assert_eq!(
            redact_url("https://user:tok3n@github.com/o/r.git"),
            "https://***@github.com/o/r.git"
        );
        assert_eq!(
            redact_url("https://ghp_abc@github.com/o/r"),
            "https://***@github.com/o/r"
        );
        assert_eq!(
            redact_url("https://u:p@w@host:8443"),
            "https://***@host:8443"
        );
        assert_eq!(
            redact_url("ssh://git@host:2222/r.git"),
            "ssh://***@host:2222/r.git"
        );
        assert_eq!(
            redact_url("https://github.com/o/r.git"),
            "https://github.com/o/r.git"
        );
        assert_eq!(
            redact_url("git@github.com:o/r.git"),
            "git@github.com:o/r.git"
        );
        assert_eq!(redact_url("/srv/git/repo"), "/srv/git/repo");
        assert_eq!(redact_url("file:///srv/git/repo"), "file:///srv/git/repo");
        // An @ in the path is not userinfo.
        assert_eq!(redact_url("https://host/a@b"), "https://host/a@b");
    }

    #[test]
    fn urls_inside_messages_are_redacted() {
        let m = "failed to fetch 'https://u:s3cret@h/r' (see http://x:y@z)";
        assert_eq!(
            redact_text(m),
            "failed to fetch 'https://***@h/r' (see http://***@z)"
        );
    }

    #[test]
    fn configured_secrets_are_scrubbed_from_any_text() {
        let auth = Auth::Token {
            username: None,
            token: "tok-123".into(),
        };
        let r = Redactor::new("https://alice:pw-456@h/r", &auth);
        let m = r.redact("bad token tok-123, password pw-456, in https://alice:pw-456@h/r");
        assert!(!m.contains("tok-123") && !m.contains("pw-456"), "{m}");
        let r = Redactor::new("https://ghp_abc@h/r", &Auth::None);
        assert!(!r.redact("user ghp_abc rejected").contains("ghp_abc"));
    }
}
