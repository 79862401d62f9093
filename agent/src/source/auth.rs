//! Credentials and server verification for the source stage, as git2
//! `RemoteCallbacks`: which credential answers which request, the SSH host
//! key check against a known_hosts file, and a deadline on transfers.
//!
//! The callbacks record why they refused something in a [`CallbackState`],
//! so that the error built afterwards says "host key unknown" or "credentials
//! rejected" rather than libgit2's generic text.

use std::cell::{Cell, RefCell};
use std::path::PathBuf;
use std::time::Instant;

use git2::{CertificateCheckStatus, Cred, CredentialType, RemoteCallbacks};

use super::Auth;
use super::known_hosts::KnownHosts;

/// Username sent with a token when none is configured (GitHub's convention,
/// accepted by most forges for tokens).
pub(crate) const TOKEN_USERNAME: &str = "x-access-token";
/// Username for SSH when the URL has none.
const SSH_USERNAME: &str = "git";

/// What the callbacks saw during one connection.
pub(crate) struct CallbackState {
    deadline: Option<Instant>,
    /// Credentials handed out (other than a bare username).
    attempts: Cell<u32>,
    /// Set when the transfer was cancelled because the deadline passed.
    pub(crate) timed_out: Cell<bool>,
    /// Set when the credentials callback refused, with the reason.
    pub(crate) auth_problem: RefCell<Option<String>>,
    /// Set when the host key was rejected: `(host, reason)`.
    pub(crate) host_key_problem: RefCell<Option<(String, String)>>,
}

impl CallbackState {
    pub(crate) fn new(deadline: Option<Instant>) -> Self {
        CallbackState {
            deadline,
            attempts: Cell::new(0),
            timed_out: Cell::new(false),
            auth_problem: RefCell::new(None),
            host_key_problem: RefCell::new(None),
        }
    }

    fn expired(&self) -> bool {
        let expired = self.deadline.is_some_and(|d| Instant::now() > d);
        if expired {
            self.timed_out.set(true);
        }
        expired
    }
}

/// How the SSH host key is verified.
pub(crate) enum HostKeyPolicy {
    /// Against this file, by us.
    File {
        path: PathBuf,
        hosts: KnownHosts,
        port: u16,
    },
    /// By libgit2, against `~/.ssh/known_hosts` (it rejects unknown hosts).
    Libgit2,
}

/// The callbacks for one connection or download.
pub(crate) fn callbacks<'a>(
    auth: &'a Auth,
    host_keys: &'a HostKeyPolicy,
    state: &'a CallbackState,
) -> RemoteCallbacks<'a> {
    let mut cb = RemoteCallbacks::new();
    cb.credentials(move |_url, url_user, allowed| {
        if state.expired() {
            return Err(git2::Error::from_str("timed out"));
        }
        let attempt = state.attempts.get() + 1;
        match choose(auth, url_user, allowed, attempt) {
            Choice::Username(u) => Cred::username(&u),
            Choice::UserPass { username, password } => {
                state.attempts.set(attempt);
                Cred::userpass_plaintext(&username, password)
            }
            Choice::SshKey {
                username,
                private_key,
                passphrase,
            } => {
                state.attempts.set(attempt);
                Cred::ssh_key(&username, None, private_key, passphrase)
            }
            Choice::Refuse(reason) => {
                let e = git2::Error::from_str(&reason);
                *state.auth_problem.borrow_mut() = Some(reason);
                Err(e)
            }
        }
    });
    cb.certificate_check(move |cert, host| {
        let (Some(hostkey), HostKeyPolicy::File { path, hosts, port }) =
            (cert.as_hostkey(), host_keys)
        else {
            // TLS certificates, and SSH without a configured file: libgit2's
            // own verification decides.
            return Ok(CertificateCheckStatus::CertificatePassthrough);
        };
        let Some(key) = hostkey.hostkey() else {
            let reason = "the server did not present a raw host key".to_string();
            *state.host_key_problem.borrow_mut() = Some((host.to_string(), reason.clone()));
            return Err(git2::Error::from_str(&reason));
        };
        match hosts
            .check(host, *port, key)
            .reason(&path.display().to_string())
        {
            None => Ok(CertificateCheckStatus::CertificateOk),
            Some(reason) => {
                let e = git2::Error::from_str(&reason);
                *state.host_key_problem.borrow_mut() = Some((host.to_string(), reason));
                Err(e)
            }
        }
    });
    cb.transfer_progress(move |_| !state.expired());
    cb.sideband_progress(move |_| !state.expired());
    cb
}

/// The answer to one credentials request.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Choice<'a> {
    /// Only the username was asked for (SSH asks this first).
    Username(String),
    /// Basic auth.
    UserPass { username: String, password: &'a str },
    /// An SSH key file.
    SshKey {
        username: String,
        private_key: &'a std::path::Path,
        passphrase: Option<&'a str>,
    },
    /// Nothing fits, or the server already rejected what we sent.
    Refuse(String),
}

/// Picks the credential for a request. `attempt` counts real credentials
/// handed out in this connection, including this one: libgit2 asks again
/// after a rejection, and the second ask means the first was refused.
pub(crate) fn choose<'a>(
    auth: &'a Auth,
    url_user: Option<&str>,
    allowed: CredentialType,
    attempt: u32,
) -> Choice<'a> {
    let configured_user = match auth {
        Auth::Token { username, .. } => username.as_deref(),
        Auth::Basic { username, .. } => Some(username.as_str()),
        _ => None,
    };
    if allowed == CredentialType::USERNAME {
        let user = url_user.or(configured_user).unwrap_or(SSH_USERNAME);
        return Choice::Username(user.to_string());
    }
    if attempt > 1 {
        return Choice::Refuse("the server rejected the configured credentials".into());
    }
    let plaintext = allowed.contains(CredentialType::USER_PASS_PLAINTEXT);
    match auth {
        Auth::None => Choice::Refuse(
            "the server asks for credentials and none are configured".into(),
        ),
        Auth::Token { username, token } if plaintext => Choice::UserPass {
            username: username.clone().unwrap_or_else(|| TOKEN_USERNAME.to_string()),
            password: token,
        },
        Auth::Basic { username, password } if plaintext => {
            Choice::UserPass { username: username.clone(), password }
        }
        Auth::Token { .. } | Auth::Basic { .. } => Choice::Refuse(
            "a token or password works only over HTTP(S); use an SSH key for this URL".into(),
        ),
        Auth::SshKey { private_key, passphrase, .. } if allowed.contains(CredentialType::SSH_KEY) => {
            Choice::SshKey {
                username: url_user.unwrap_or(SSH_USERNAME).to_string(),
                private_key,
                passphrase: passphrase.as_deref(),
            }
        }
        Auth::SshKey { .. } => Choice::Refuse(
            "the server does not accept an SSH key (an SSH key works only over SSH; use a token or basic auth for HTTPS)".into(),
        ),
    }
}

/// Host and port of an SSH URL (`ssh://[user@]host[:port]/path`,
/// `git+ssh://…`, or scp-like `[user@]host:path`); `None` for other URLs.
pub(crate) fn ssh_host_port(url: &str) -> Option<(String, u16)> {
    if let Some((scheme, rest)) = url.split_once("://") {
        if !matches!(scheme, "ssh" | "git+ssh" | "ssh+git") {
            return None;
        }
        let authority = &rest[..rest.find('/').unwrap_or(rest.len())];
        let hostport = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
        return Some(split_port(hostport));
    }
    // scp-like: a colon before any slash, and not a local path.
    if url.starts_with('/') || url.starts_with('.') {
        return None;
    }
    let colon = url.find(':')?;
    if url.find('/').is_some_and(|slash| slash < colon) {
        return None;
    }
    let hostpart = &url[..colon];
    let host = hostpart.rsplit_once('@').map_or(hostpart, |(_, h)| h);
    Some((host.trim_matches(['[', ']']).to_string(), 22))
}

fn split_port(hostport: &str) -> (String, u16) {
    if let Some(rest) = hostport.strip_prefix('[') {
        // [ipv6]:port
        if let Some((host, tail)) = rest.split_once(']') {
            let port = tail
                .strip_prefix(':')
                .and_then(|p| p.parse().ok())
                .unwrap_or(22);
            return (host.to_string(), port);
        }
    }
    match hostport.rsplit_once(':') {
        Some((host, port)) => match port.parse() {
            Ok(port) => (host.to_string(), port),
            Err(_) => (hostport.to_string(), 22),
        },
        None => (hostport.to_string(), 22),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn a_token_is_the_password_of_x_access_token() {
        let auth = Auth::Token {
            username: None,
            token: "t0k".into(),
        };
        let c = choose(&auth, None, CredentialType::USER_PASS_PLAINTEXT, 1);
        assert_eq!(
            c,
            Choice::UserPass {
                username: "x-access-token".into(),
                password: "t0k"
            }
        );
        let auth = Auth::Token {
            username: Some("oauth2".into()),
            token: "t0k".into(),
        };
        let c = choose(&auth, None, CredentialType::USER_PASS_PLAINTEXT, 1);
        assert_eq!(
            c,
            Choice::UserPass {
                username: "oauth2".into(),
                password: "t0k"
            }
        );
    }

    #[test]
    fn a_second_request_means_rejected_and_is_refused() {
        let auth = Auth::Basic {
            username: "u".into(),
            password: "p".into(),
        };
        assert!(matches!(
            choose(&auth, None, CredentialType::USER_PASS_PLAINTEXT, 2),
            Choice::Refuse(_)
        ));
        assert!(matches!(
            choose(&Auth::None, None, CredentialType::USER_PASS_PLAINTEXT, 1),
            Choice::Refuse(_)
        ));
    }

    #[test]
    fn ssh_asks_the_username_first_then_the_key() {
        let auth = Auth::SshKey {
            private_key: "/k/id".into(),
            passphrase: Some("pp".into()),
            known_hosts: None,
        };
        assert_eq!(
            choose(&auth, None, CredentialType::USERNAME, 1),
            Choice::Username("git".into())
        );
        let c = choose(&auth, Some("deploy"), CredentialType::SSH_KEY, 1);
        assert_eq!(
            c,
            Choice::SshKey {
                username: "deploy".into(),
                private_key: Path::new("/k/id"),
                passphrase: Some("pp")
            }
        );
        // A key offered to an HTTPS server, a token to an SSH server: refused, clearly.
        assert!(
            matches!(choose(&auth, None, CredentialType::USER_PASS_PLAINTEXT, 1), Choice::Refuse(m) if m.contains("only over SSH"))
        );
        let token = Auth::Token {
            username: None,
            token: "t".into(),
        };
        assert!(
            matches!(choose(&token, None, CredentialType::SSH_KEY, 1), Choice::Refuse(m) if m.contains("only over HTTP"))
        );
    }

    #[test]
    fn ssh_hosts_and_ports_from_urls() {
        assert_eq!(
            ssh_host_port("git@github.com:o/r.git"),
            Some(("github.com".into(), 22))
        );
        assert_eq!(
            ssh_host_port("ssh://git@h.example:2222/o/r"),
            Some(("h.example".into(), 2222))
        );
        assert_eq!(
            ssh_host_port("ssh://[::1]:2222/r"),
            Some(("::1".into(), 2222))
        );
        assert_eq!(ssh_host_port("ssh://h/r"), Some(("h".into(), 22)));
        assert_eq!(ssh_host_port("https://h/r"), None);
        assert_eq!(ssh_host_port("/srv/repo"), None);
        assert_eq!(ssh_host_port("./a:b"), None);
        assert_eq!(ssh_host_port("dir/a:b"), None);
    }
}
