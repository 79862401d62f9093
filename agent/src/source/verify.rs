//! Commit signature verification, part of the source stage: before
//! [`super::GitSource::sync`] hands a fetched revision out, the head commit's
//! signature is checked, and a commit that is unsigned, wrongly signed or
//! signed by a key nobody listed is refused ([`SourceError::Unverified`]):
//! it is not checked out, so nothing of it is rendered or applied.
//!
//! Signatures are git's `gpg.format=ssh` ones: an armored SSHSIG (namespace
//! `git`) over the commit without its `gpgsig` header, checked against an
//! `allowed_signers` file in the format of `ssh-keygen -Y verify` (see
//! `man ssh-keygen`, ALLOWED SIGNERS):
//!
//! ```text
//! # principals        [options]            key type    base64 key          [comment]
//! alice@example.com   ssh-ed25519 AAAAC3Nza...  alice's laptop
//! ops@example.com,ci  namespaces="git"     ssh-ed25519 AAAAC3Nza...
//! bob@example.com     valid-after="20260101",valid-before="20270101" ssh-ed25519 AAAA...
//! ```
//!
//! As git does, the signer need not be the committer: a signature by any key
//! listed (for the namespace `git`, within its validity at the committer's
//! time) is good, and the principals of its line are logged. `cert-authority`
//! lines (SSH certificates) are read but never match: a commit signed with a
//! certificate is refused. PGP signatures are not verified.

use std::fmt;
use std::path::{Path, PathBuf};

use git2::{ErrorCode, Oid, Repository};
use ssh_key::{HashAlg, PublicKey, SshSig};

use super::SourceError;

/// The SSHSIG namespace of git's commit and tag signatures.
pub const GIT_NAMESPACE: &str = "git";

/// What a commit's signature must satisfy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VerifyCommits {
    /// An SSH signature by a key of this `allowed_signers` file (read again
    /// at every sync, so a rotated ConfigMap or Secret is picked up).
    AllowedSigners(PathBuf),
    /// A PGP signature by a key of this public keyring (armored or binary),
    /// checked by `gpg` in a throwaway home directory.
    PgpKeys(PathBuf),
    /// Either kind of signature, each against its own keys.
    Either {
        /// For SSH signatures.
        allowed_signers: PathBuf,
        /// For PGP signatures.
        pgp_keys: PathBuf,
    },
}

/// One line of an allowed_signers file.
#[derive(Debug, Clone)]
pub struct AllowedSigner {
    /// The principals (as written: comma-separated patterns allowed).
    pub principals: String,
    /// The `namespaces="…"` option: which signature namespaces the key may
    /// sign for (`None`: every namespace).
    pub namespaces: Option<String>,
    /// `cert-authority`: the key signs certificates, not commits.
    pub cert_authority: bool,
    /// `valid-after`, in unix seconds.
    pub valid_after: Option<i64>,
    /// `valid-before`, in unix seconds.
    pub valid_before: Option<i64>,
    /// The key.
    pub key: PublicKey,
    /// Line number in the file (1-based).
    pub line: usize,
}

/// An allowed_signers file, parsed.
#[derive(Debug, Clone, Default)]
pub struct AllowedSigners {
    /// The lines with a key, in file order.
    pub signers: Vec<AllowedSigner>,
}

/// Why a line of an allowed_signers file was not understood.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// Line number (1-based).
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

/// Splits a line into whitespace-separated fields; a double-quoted part
/// (`namespaces="git, file"`) does not split.
fn fields(line: &str) -> Result<Vec<&str>, String> {
    let mut out = Vec::new();
    let mut start = None;
    let mut quoted = false;
    for (i, c) in line.char_indices() {
        match c {
            '"' => {
                quoted = !quoted;
                start.get_or_insert(i);
            }
            c if c.is_whitespace() && !quoted => {
                if let Some(s) = start.take() {
                    out.push(&line[s..i]);
                }
            }
            _ => {
                start.get_or_insert(i);
            }
        }
    }
    if quoted {
        return Err("unterminated quote".into());
    }
    if let Some(s) = start {
        out.push(&line[s..]);
    }
    Ok(out)
}

/// Whether `field` is a key type (so no options stand before it).
fn is_key_type(field: &str) -> bool {
    ["ssh-", "ecdsa-sha2-", "sk-ssh-", "sk-ecdsa-", "rsa-sha2-"]
        .iter()
        .any(|p| field.starts_with(p))
}

/// Splits `a="x,y",b` at the commas outside quotes.
fn split_options(options: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut quoted = false;
    let mut start = 0;
    for (i, c) in options.char_indices() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => {
                out.push(&options[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&options[start..]);
    out
}

fn unquote(v: &str) -> &str {
    v.strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .unwrap_or(v)
}

/// `YYYYMMDD[HHMM[SS]][Z]` as unix seconds (UTC; ssh-keygen reads a time
/// without `Z` in the local zone, which is UTC in a container).
fn parse_time(v: &str) -> Result<i64, String> {
    let digits = v.strip_suffix(['Z', 'z']).unwrap_or(v);
    let bad = || format!("{v:?} is not a time as YYYYMMDD[HHMM[SS]][Z]");
    if !matches!(digits.len(), 8 | 12 | 14) || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let num = |r: std::ops::Range<usize>| digits.get(r).and_then(|s| s.parse::<i16>().ok());
    let at = |r: std::ops::Range<usize>| num(r).unwrap_or(0);
    let year = num(0..4).ok_or_else(bad)?;
    let dt = jiff::civil::DateTime::new(
        year,
        i8::try_from(at(4..6)).map_err(|_| bad())?,
        i8::try_from(at(6..8)).map_err(|_| bad())?,
        i8::try_from(at(8..10)).map_err(|_| bad())?,
        i8::try_from(at(10..12)).map_err(|_| bad())?,
        i8::try_from(at(12..14)).map_err(|_| bad())?,
        0,
    )
    .map_err(|_| bad())?;
    dt.to_zoned(jiff::tz::TimeZone::UTC)
        .map(|z| z.timestamp().as_second())
        .map_err(|_| bad())
}

impl AllowedSigners {
    /// Parses the text of an allowed_signers file. Blank lines and lines
    /// starting with `#` are skipped.
    ///
    /// # Errors
    /// The first line that is not `principals [options] keytype base64 [comment]`,
    /// or has an unknown option or an unreadable key.
    pub fn parse(text: &str) -> Result<Self, ParseError> {
        let mut signers = Vec::new();
        for (i, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let err = |message: String| ParseError {
                line: i + 1,
                message,
            };
            let f = fields(line).map_err(err)?;
            let (principals, options, key) = match f.as_slice() {
                [p, t, rest @ ..] if is_key_type(t) => (*p, None, (t, rest)),
                [p, o, t, rest @ ..] if is_key_type(t) => (*p, Some(*o), (t, rest)),
                _ => {
                    return Err(err(
                        "expected `principals [options] key-type base64-key [comment]`".into(),
                    ));
                }
            };
            let (key_type, rest) = key;
            let Some(base64) = rest.first() else {
                return Err(err(format!("no key after the key type {key_type}")));
            };
            let (mut namespaces, mut cert_authority) = (None, false);
            let (mut valid_after, mut valid_before) = (None, None);
            for opt in options.map(split_options).unwrap_or_default() {
                let (name, value) = match opt.split_once('=') {
                    Some((n, v)) => (n, Some(unquote(v))),
                    None => (opt, None),
                };
                match (name.to_ascii_lowercase().as_str(), value) {
                    ("cert-authority", None) => cert_authority = true,
                    ("namespaces", Some(v)) => namespaces = Some(v.to_string()),
                    ("valid-after", Some(v)) => valid_after = Some(parse_time(v).map_err(err)?),
                    ("valid-before", Some(v)) => valid_before = Some(parse_time(v).map_err(err)?),
                    _ => return Err(err(format!("unknown option {opt:?}"))),
                }
            }
            let key = PublicKey::from_openssh(&format!("{key_type} {base64}"))
                .map_err(|e| err(format!("unreadable {key_type} key: {e}")))?;
            let signer = AllowedSigner {
                principals: unquote(principals).to_string(),
                namespaces,
                cert_authority,
                valid_after,
                valid_before,
                key,
                line: i + 1,
            };
            signers.push(signer);
        }
        Ok(AllowedSigners { signers })
    }

    /// Reads and parses `path`.
    ///
    /// # Errors
    /// [`SourceError::CredentialFile`] when it cannot be read,
    /// [`SourceError::AllowedSigners`] when a line is wrong.
    pub fn read(path: &Path) -> Result<Self, SourceError> {
        let text = std::fs::read_to_string(path).map_err(|source| SourceError::CredentialFile {
            what: "allowed_signers file",
            path: path.to_path_buf(),
            source,
        })?;
        AllowedSigners::parse(&text).map_err(|e| SourceError::AllowedSigners {
            path: path.to_path_buf(),
            line: e.line,
            message: e.message,
        })
    }
}

/// Whether `name` matches an OpenSSH pattern list (`git,file`, `*`, `!x`):
/// a negated match wins, else any positive match.
fn matches_list(name: &str, list: &str) -> bool {
    let mut any = false;
    for pat in list.split(',').map(str::trim) {
        match pat.strip_prefix('!') {
            Some(neg) if wildcard(neg, name) => return false,
            Some(_) => {}
            None => any |= wildcard(pat, name),
        }
    }
    any
}

/// `*` and `?` glob of OpenSSH patterns.
fn wildcard(pat: &str, s: &str) -> bool {
    let (p, s): (Vec<char>, Vec<char>) = (pat.chars().collect(), s.chars().collect());
    let (mut pi, mut si, mut star, mut mark) = (0, 0, None, 0);
    while si < s.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == s[si]) {
            pi += 1;
            si += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = si;
            pi += 1;
        } else if let Some(st) = star {
            pi = st + 1;
            mark += 1;
            si = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// A good signature: who made it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// The principals of the allowed_signers line that matched.
    pub principals: String,
    /// The key's SHA256 fingerprint.
    pub fingerprint: String,
}

/// Checks the signature of `oid`'s commit against `signers` (read from
/// `file`, named in messages). The error is the reason, to go after
/// "commit <sha> ": "is not signed", "is signed by SHA256:… which … does not list".
///
/// # Errors
/// The reason the commit is refused.
pub fn check(
    repo: &Repository,
    oid: Oid,
    signers: &AllowedSigners,
    file: &Path,
) -> Result<Verified, String> {
    let (signature, payload) = match repo.extract_signature(&oid, None) {
        Ok(pair) => pair,
        Err(e) if e.code() == ErrorCode::NotFound => return Err("is not signed".into()),
        Err(e) => return Err(format!("has an unreadable signature: {}", e.message())),
    };
    let signature = String::from_utf8_lossy(&signature);
    let armor = signature.trim_start();
    if armor.starts_with("-----BEGIN PGP SIGNATURE-----") {
        return Err("is signed with PGP, and only SSH keys are configured: pass the PGP public keys with --verify-commits-pgp-keys, or sign with an SSH key (git config gpg.format ssh)".into());
    }
    if !armor.starts_with("-----BEGIN SSH SIGNATURE-----") {
        return Err("has a signature that is not an SSH signature (x509?); sign commits with an SSH key (git config gpg.format ssh)".into());
    }
    let sig = SshSig::from_pem(armor.trim_end())
        .map_err(|e| format!("has an unreadable SSH signature: {e}"))?;
    let fingerprint = sig.public_key().fingerprint(HashAlg::Sha256).to_string();
    let listed: Vec<&AllowedSigner> = signers
        .signers
        .iter()
        .filter(|s| !s.cert_authority && s.key.key_data() == sig.public_key())
        .collect();
    let file = file.display();
    if listed.is_empty() {
        return Err(format!(
            "is signed by {fingerprint}, which the allowed_signers file {file} does not list"
        ));
    }
    let for_git: Vec<&AllowedSigner> = listed
        .into_iter()
        .filter(|s| {
            s.namespaces
                .as_deref()
                .is_none_or(|n| matches_list(GIT_NAMESPACE, n))
        })
        .collect();
    let Some(first) = for_git.first() else {
        return Err(format!(
            "is signed by {fingerprint}, which the allowed_signers file {file} lists only for other namespaces than \"git\""
        ));
    };
    let when = repo
        .find_commit(oid)
        .map(|c| c.committer().when().seconds())
        .map_err(|e| format!("cannot be read: {}", e.message()))?;
    let Some(signer) = for_git.iter().find(|s| {
        s.valid_after.is_none_or(|t| when >= t) && s.valid_before.is_none_or(|t| when < t)
    }) else {
        return Err(format!(
            "is signed by {fingerprint} ({}), whose entry in {file} (line {}) is not valid at the commit's time",
            first.principals, first.line
        ));
    };
    if sig.namespace() != GIT_NAMESPACE {
        return Err(format!(
            "has an SSH signature for the namespace {:?}, not \"git\"",
            sig.namespace()
        ));
    }
    PublicKey::from(sig.public_key().clone())
        .verify(GIT_NAMESPACE, &payload, &sig)
        .map_err(|e| {
            format!(
                "has a bad signature by {fingerprint} ({}): {e}",
                signer.principals
            )
        })?;
    Ok(Verified {
        principals: signer.principals.clone(),
        fingerprint,
    })
}

/// Verifies the commit `oid` as `how` says.
///
/// # Errors
/// [`SourceError::Unverified`] when the commit is refused; file errors of
/// the allowed_signers file.
pub fn verify(repo: &Repository, oid: Oid, how: &VerifyCommits) -> Result<Verified, SourceError> {
    let unverified = |reason: String| SourceError::Unverified {
        revision: oid.to_string(),
        reason,
    };
    let pgp = is_pgp(repo, oid);
    match (how, pgp) {
        (VerifyCommits::AllowedSigners(file), _)
        | (VerifyCommits::Either { allowed_signers: file, .. }, false) => {
            let signers = AllowedSigners::read(file)?;
            check(repo, oid, &signers, file).map_err(unverified)
        }
        (VerifyCommits::PgpKeys(keys), true) | (VerifyCommits::Either { pgp_keys: keys, .. }, true) => {
            check_pgp(repo, oid, keys).map_err(unverified)
        }
        (VerifyCommits::PgpKeys(_), false) => Err(unverified(match repo.extract_signature(&oid, None) {
            Err(e) if e.code() == ErrorCode::NotFound => "is not signed".into(),
            _ => "is not signed with PGP, and only PGP keys are configured (--verify-commits-pgp-keys)".into(),
        })),
    }
}

/// Whether `oid`'s signature, if any, is a PGP one.
fn is_pgp(repo: &Repository, oid: Oid) -> bool {
    repo.extract_signature(&oid, None).is_ok_and(|(sig, _)| {
        String::from_utf8_lossy(&sig)
            .trim_start()
            .starts_with("-----BEGIN PGP SIGNATURE-----")
    })
}

/// Checks a PGP signature with `gpg` against the keyring `keys` only: the
/// keyring is imported into a new home directory, so the machine's own
/// keys and trust settings play no part, and a key not in `keys` is
/// `NO_PUBKEY`. The verdict is read from gpg's machine-readable status.
///
/// # Errors
/// The reason the commit is refused.
pub fn check_pgp(repo: &Repository, oid: Oid, keys: &Path) -> Result<Verified, String> {
    let (signature, payload) = match repo.extract_signature(&oid, None) {
        Ok(pair) => pair,
        Err(e) if e.code() == ErrorCode::NotFound => return Err("is not signed".into()),
        Err(e) => return Err(format!("has an unreadable signature: {}", e.message())),
    };
    let home = std::env::temp_dir().join(format!(
        "wavesync-gpg-{}-{}",
        std::process::id(),
        jiff::Timestamp::now().as_nanosecond()
    ));
    let result = gpg_verify(&home, keys, &signature, &payload);
    let _ = std::fs::remove_dir_all(&home);
    result
}

fn gpg_verify(
    home: &Path,
    keys: &Path,
    signature: &[u8],
    payload: &[u8],
) -> Result<Verified, String> {
    use std::process::{Command, Stdio};
    let setup = |e: std::io::Error| format!("cannot be checked: a temporary gpg home: {e}");
    std::fs::create_dir_all(home).map_err(setup)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(home, std::fs::Permissions::from_mode(0o700)).map_err(setup)?;
    }
    let (sig_file, data_file) = (home.join("commit.sig"), home.join("commit.payload"));
    std::fs::write(&sig_file, signature).map_err(setup)?;
    std::fs::write(&data_file, payload).map_err(setup)?;
    let gpg = |args: &[&std::ffi::OsStr]| {
        Command::new("gpg")
            .args(["--batch", "--no-tty", "--homedir"])
            .arg(home)
            .args(args)
            .stdin(Stdio::null())
            .output()
    };
    let imported = gpg(&["--import".as_ref(), keys.as_os_str()]).map_err(|e| {
        format!("is signed with PGP, and gpg, which checks PGP signatures, does not run here ({e})")
    })?;
    if !imported.status.success() {
        return Err(format!(
            "cannot be checked: the PGP keyring {} does not import: {}",
            keys.display(),
            String::from_utf8_lossy(&imported.stderr).trim()
        ));
    }
    let out = gpg(&[
        "--status-fd".as_ref(),
        "1".as_ref(),
        "--verify".as_ref(),
        sig_file.as_os_str(),
        data_file.as_os_str(),
    ])
    .map_err(|e| format!("cannot be checked: gpg: {e}"))?;
    let status = String::from_utf8_lossy(&out.stdout);
    pgp_verdict(&status, keys)
}

/// gpg's `--status-fd` lines to a verdict.
fn pgp_verdict(status: &str, keys: &Path) -> Result<Verified, String> {
    let line = |tag: &str| {
        status
            .lines()
            .filter_map(|l| l.strip_prefix("[GNUPG:] "))
            .find_map(|l| l.strip_prefix(tag).map(str::trim))
    };
    if let Some(rest) = line("NO_PUBKEY") {
        return Err(format!(
            "is signed by the PGP key {rest}, which the keyring {} does not hold",
            keys.display()
        ));
    }
    for (tag, what) in [
        ("BADSIG", "has a bad PGP signature by"),
        ("EXPKEYSIG", "is signed by an expired PGP key:"),
        ("REVKEYSIG", "is signed by a revoked PGP key:"),
        ("EXPSIG", "has an expired PGP signature by"),
    ] {
        if let Some(rest) = line(tag) {
            return Err(format!("{what} {rest}"));
        }
    }
    match (line("GOODSIG"), line("VALIDSIG")) {
        (Some(good), Some(valid)) => {
            let principals = good
                .split_once(' ')
                .map_or(good, |(_, uid)| uid)
                .to_string();
            let fingerprint = valid
                .split_whitespace()
                .next()
                .unwrap_or_default()
                .to_string();
            Ok(Verified {
                principals,
                fingerprint,
            })
        }
        _ => Err(match line("ERRSIG") {
            Some(rest) => format!("has a PGP signature gpg cannot check ({rest})"),
            None => "has a PGP signature gpg did not accept".into(),
        }),
    }
}

#[cfg(test)]
mod tests;
