//! Signed commits made in a temporary repository with git2, signed
//! in-process with ssh-key (fixed ed25519 keys, namespace `git`).

use super::*;
use crate::error::{Categorized, Category};
use crate::source::{Auth, GitSource, SourceSpec, Tracking};
use git2::{RepositoryInitOptions, Signature};
use ssh_key::private::Ed25519Keypair;
use ssh_key::{LineEnding, PrivateKey};

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn key(seed: u8) -> PrivateKey {
    PrivateKey::from(Ed25519Keypair::from_seed(&[seed; 32]))
}

fn line(principals: &str, options: &str, key: &PrivateKey) -> String {
    let public = key.public_key().to_openssh().unwrap_or_default();
    format!("{principals} {options} {public}\n")
}

/// How to sign a commit.
enum Sign<'a> {
    Not,
    With(&'a PrivateKey, &'a str),
    /// A signature over other content than the commit's.
    Tampered(&'a PrivateKey),
}

struct Repo {
    dir: tempfile::TempDir,
    repo: Repository,
}

impl Repo {
    fn new() -> Result<Repo, Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let mut opts = RepositoryInitOptions::new();
        opts.initial_head("main");
        let repo = Repository::init_opts(dir.path(), &opts)?;
        Ok(Repo { dir, repo })
    }

    /// Commits `file` on main, signed as `how` says.
    fn commit(&self, file: &str, how: Sign<'_>) -> Result<Oid, Box<dyn std::error::Error>> {
        std::fs::write(self.dir.path().join(file), file)?;
        let mut index = self.repo.index()?;
        index.add_path(Path::new(file))?;
        index.write()?;
        let tree = self.repo.find_tree(index.write_tree()?)?;
        let sig = Signature::now("t", "t@example.com")?;
        let parent = self.repo.head().ok().and_then(|h| h.peel_to_commit().ok());
        let parents: Vec<&git2::Commit<'_>> = parent.iter().collect();
        let oid = match how {
            Sign::Not => self
                .repo
                .commit(Some("HEAD"), &sig, &sig, file, &tree, &parents)?,
            Sign::With(..) | Sign::Tampered(..) => {
                let buf = self
                    .repo
                    .commit_create_buffer(&sig, &sig, file, &tree, &parents)?;
                let content = buf.as_str()?.to_string();
                let (k, ns, signed) = match how {
                    Sign::With(k, ns) => (k, ns, content.clone()),
                    Sign::Tampered(k) => (k, "git", content.replace(file, "something else")),
                    Sign::Not => unreachable!(),
                };
                let pem = SshSig::sign(k, ns, HashAlg::Sha512, signed.as_bytes())?
                    .to_pem(LineEnding::LF)?;
                let oid = self.repo.commit_signed(&content, &pem, None)?;
                self.repo
                    .reference("refs/heads/main", oid, true, "signed commit")?;
                oid
            }
        };
        Ok(oid)
    }

    fn check(&self, oid: Oid, allowed: &str) -> Result<Verified, String> {
        let signers = AllowedSigners::parse(allowed).map_err(|e| e.to_string())?;
        check(&self.repo, oid, &signers, Path::new("allowed_signers"))
    }
}

#[test]
fn a_good_signature_by_a_listed_key_passes_and_names_the_principal() -> TestResult {
    let r = Repo::new()?;
    let alice = key(1);
    let oid = r.commit("a", Sign::With(&alice, "git"))?;
    let good = r
        .check(oid, &line("alice@example.com", "", &alice))
        .map_err(|e| format!("refused: {e}"))?;
    assert_eq!(good.principals, "alice@example.com");
    assert!(good.fingerprint.starts_with("SHA256:"), "{good:?}");
    Ok(())
}

#[test]
fn an_unsigned_commit_is_refused() -> TestResult {
    let r = Repo::new()?;
    let oid = r.commit("a", Sign::Not)?;
    let why = r.check(oid, &line("alice@example.com", "", &key(1)));
    assert_eq!(why, Err("is not signed".into()));
    Ok(())
}

#[test]
fn a_commit_signed_by_an_unlisted_key_is_refused_naming_its_fingerprint() -> TestResult {
    let r = Repo::new()?;
    let mallory = key(9);
    let oid = r.commit("a", Sign::With(&mallory, "git"))?;
    let Err(why) = r.check(oid, &line("alice@example.com", "", &key(1))) else {
        panic!("an unlisted key passed");
    };
    let fp = mallory
        .public_key()
        .fingerprint(HashAlg::Sha256)
        .to_string();
    assert!(why.contains(&fp), "{why}");
    assert!(why.contains("does not list"), "{why}");
    Ok(())
}

#[test]
fn a_signature_over_other_content_is_refused() -> TestResult {
    let r = Repo::new()?;
    let alice = key(1);
    let oid = r.commit("a", Sign::Tampered(&alice))?;
    let Err(why) = r.check(oid, &line("alice@example.com", "", &alice)) else {
        panic!("a tampered commit passed");
    };
    assert!(why.starts_with("has a bad signature"), "{why}");
    Ok(())
}

#[test]
fn the_namespaces_option_must_allow_git() -> TestResult {
    let r = Repo::new()?;
    let alice = key(1);
    let oid = r.commit("a", Sign::With(&alice, "git"))?;
    let Err(why) = r.check(
        oid,
        &line("alice@example.com", "namespaces=\"file\"", &alice),
    ) else {
        panic!("a key listed for `file` only passed");
    };
    assert!(why.contains("other namespaces"), "{why}");
    for ok in [
        "namespaces=\"file,git\"",
        "namespaces=\"g*\"",
        "namespaces=\"*,!file\"",
    ] {
        assert!(
            r.check(oid, &line("alice@example.com", ok, &alice)).is_ok(),
            "{ok}"
        );
    }
    assert!(
        r.check(
            oid,
            &line("alice@example.com", "namespaces=\"*,!git\"", &alice)
        )
        .is_err()
    );
    // A signature made for another namespace (`ssh-keygen -Y sign -n file`).
    let other = r.commit("b", Sign::With(&alice, "file"))?;
    let Err(why) = r.check(other, &line("alice@example.com", "", &alice)) else {
        panic!("a `file` signature passed as a commit signature");
    };
    assert!(why.contains("namespace \"file\""), "{why}");
    Ok(())
}

#[test]
fn validity_is_checked_at_the_committers_time() -> TestResult {
    let r = Repo::new()?;
    let alice = key(1);
    let oid = r.commit("a", Sign::With(&alice, "git"))?;
    let future = line("alice@example.com", "valid-after=\"29990101\"", &alice);
    assert!(
        r.check(oid, &future)
            .is_err_and(|e| e.contains("not valid"))
    );
    let expired = line("alice@example.com", "valid-before=\"20000101Z\"", &alice);
    assert!(r.check(oid, &expired).is_err());
    let window = line(
        "alice@example.com",
        "valid-after=\"20000101\",valid-before=\"299901010000\"",
        &alice,
    );
    assert!(r.check(oid, &window).is_ok());
    Ok(())
}

#[test]
fn allowed_signers_files_are_read_as_ssh_keygen_writes_them() -> TestResult {
    let (alice, bob) = (key(1), key(2));
    let text = format!(
        "# team keys\n\n   \n{}  # indented comment\n{}{}",
        line("alice@example.com,alice@corp", "", &alice).trim_end(),
        line(
            "\"bob@example.com\"",
            "namespaces=\"git, file\",valid-after=\"20260101\"",
            &bob
        ),
        line("*@example.com", "cert-authority", &bob),
    );
    let s = AllowedSigners::parse(&text).map_err(|e| e.to_string())?;
    assert_eq!(s.signers.len(), 3);
    assert_eq!(s.signers[0].principals, "alice@example.com,alice@corp");
    assert_eq!(s.signers[0].line, 4);
    assert_eq!(s.signers[1].principals, "bob@example.com");
    assert_eq!(s.signers[1].namespaces.as_deref(), Some("git, file"));
    assert!(s.signers[1].valid_after.is_some());
    assert!(s.signers[2].cert_authority);
    // A certificate authority's key does not sign commits itself.
    let r = Repo::new()?;
    let oid = r.commit("a", Sign::With(&bob, "git"))?;
    assert!(
        r.check(oid, &line("*@example.com", "cert-authority", &bob))
            .is_err()
    );
    assert_eq!(
        r.check(oid, &text).map(|v| v.principals),
        Ok("bob@example.com".into())
    );

    for (bad, want) in [
        ("alice@example.com\n", "line 1: expected"),
        ("# c\nalice@example.com ssh-ed25519\n", "line 2: no key"),
        ("a ssh-ed25519 not-base64!\n", "unreadable ssh-ed25519 key"),
        ("a foo=\"bar\" ssh-ed25519 AAAA\n", "unknown option"),
        (
            "a namespaces=\"git ssh-ed25519 AAAA\n",
            "unterminated quote",
        ),
        (
            "a valid-after=\"tomorrow\" ssh-ed25519 AAAA\n",
            "not a time",
        ),
    ] {
        let e = AllowedSigners::parse(bad)
            .map(|_| ())
            .map_err(|e| e.to_string());
        assert!(
            e.as_ref().is_err_and(|e| e.contains(want)),
            "{bad:?}: {e:?}"
        );
    }
    Ok(())
}

#[test]
fn a_refused_head_is_a_config_error_and_is_not_checked_out() -> TestResult {
    let r = Repo::new()?;
    let alice = key(1);
    let good = r.commit("a", Sign::With(&alice, "git"))?;
    let work = tempfile::tempdir()?;
    let allowed = work.path().join("allowed_signers");
    std::fs::write(&allowed, line("alice@example.com", "", &alice))?;
    let cache = work.path().join("cache");
    let mut src = GitSource::new(SourceSpec {
        url: format!("file://{}", r.dir.path().display()),
        tracking: Tracking::Branch("main".into()),
        auth: Auth::None,
        cache_dir: cache.clone(),
        verify: Some(VerifyCommits::AllowedSigners(allowed.clone())),
    });
    assert_eq!(src.sync()?.revision.0, good.to_string());
    let bad = r.commit("b", Sign::Not)?;
    let e = src.sync().expect_err("an unsigned head is refused");
    assert_eq!(e.category(), Category::Config);
    assert_eq!(
        e.to_string(),
        format!("commit {bad} is not signed; it is not deployed")
    );
    assert!(matches!(&e, SourceError::Unverified { revision, .. } if *revision == bad.to_string()));
    assert!(!cache.join("trees").join(bad.to_string()).exists());
    // The allowed_signers file is read at every sync: listing nobody refuses
    // even the good commit, a missing file is a config error naming it.
    let again = r.commit("c", Sign::With(&alice, "git"))?;
    std::fs::write(&allowed, "# nobody\n")?;
    assert!(matches!(src.sync(), Err(SourceError::Unverified { .. })));
    std::fs::remove_file(&allowed)?;
    let e = src.sync().expect_err("missing file");
    assert!(e.to_string().contains("allowed_signers file"), "{e}");
    assert_eq!(e.category(), Category::Config);
    std::fs::write(&allowed, line("alice@example.com", "", &alice))?;
    assert_eq!(src.sync()?.revision.0, again.to_string());
    Ok(())
}

/// A gpg home with one new signing key for `uid`; its armored public key.
fn pgp_key(uid: &str) -> Result<(tempfile::TempDir, String), Box<dyn std::error::Error>> {
    let home = tempfile::tempdir()?;
    let gpg = |args: &[&str]| -> Result<std::process::Output, Box<dyn std::error::Error>> {
        let out = std::process::Command::new("gpg")
            .args(["--batch", "--no-tty", "--homedir"])
            .arg(home.path())
            .args(args)
            .output()?;
        if !out.status.success() {
            return Err(format!("gpg {args:?}: {}", String::from_utf8_lossy(&out.stderr)).into());
        }
        Ok(out)
    };
    gpg(&[
        "--passphrase",
        "",
        "--quick-gen-key",
        uid,
        "ed25519",
        "sign",
        "never",
    ])?;
    let public = String::from_utf8(gpg(&["--armor", "--export", uid])?.stdout)?;
    Ok((home, public))
}

/// Commits `file` signed by the key in `home` (as `git commit -S` would).
fn pgp_commit(
    repo: &Repo,
    file: &str,
    home: &Path,
    uid: &str,
) -> Result<Oid, Box<dyn std::error::Error>> {
    std::fs::write(repo.dir.path().join(file), file)?;
    let mut index = repo.repo.index()?;
    index.add_path(Path::new(file))?;
    index.write()?;
    let tree = repo.repo.find_tree(index.write_tree()?)?;
    let sig = Signature::now("t", "t@example.com")?;
    let parent = repo.repo.head().ok().and_then(|h| h.peel_to_commit().ok());
    let parents: Vec<&git2::Commit<'_>> = parent.iter().collect();
    let buf = repo
        .repo
        .commit_create_buffer(&sig, &sig, file, &tree, &parents)?;
    let content = buf.as_str()?.to_string();
    let payload = home.join("payload");
    std::fs::write(&payload, &content)?;
    let out = std::process::Command::new("gpg")
        .args(["--batch", "--no-tty", "--homedir"])
        .arg(home)
        .args([
            "--armor",
            "--detach-sign",
            "--local-user",
            uid,
            "--output",
            "-",
        ])
        .arg(&payload)
        .output()?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).to_string().into());
    }
    let oid = repo
        .repo
        .commit_signed(&content, std::str::from_utf8(&out.stdout)?, None)?;
    repo.repo
        .reference("refs/heads/main", oid, true, "signed commit")?;
    Ok(oid)
}

#[test]
fn pgp_signatures_are_checked_by_gpg_against_the_configured_keyring_only() -> TestResult {
    let (alice_home, alice) = pgp_key("Alice <alice@example.com>")?;
    let (mallory_home, _) = pgp_key("Mallory <mallory@example.com>")?;
    let r = Repo::new()?;
    let keys = r.dir.path().join("keys.asc");
    std::fs::write(&keys, &alice)?;
    let how = VerifyCommits::PgpKeys(keys.clone());

    let good = pgp_commit(&r, "a", alice_home.path(), "alice@example.com")?;
    let v = verify(&r.repo, good, &how)?;
    assert!(v.principals.contains("alice@example.com"), "{v:?}");
    assert_eq!(v.fingerprint.len(), 40, "{v:?}");

    let forged = pgp_commit(&r, "b", mallory_home.path(), "mallory@example.com")?;
    let e = verify(&r.repo, forged, &how)
        .expect_err("an unknown key")
        .to_string();
    assert!(
        e.contains("which the keyring") && e.contains("does not hold"),
        "{e}"
    );

    let unsigned = r.commit("c", Sign::Not)?;
    let e = verify(&r.repo, unsigned, &how)
        .expect_err("unsigned")
        .to_string();
    assert!(e.contains("is not signed"), "{e}");

    // With SSH keys only, a PGP signature is refused and says what to do.
    let ssh_only = r.dir.path().join("allowed_signers");
    std::fs::write(&ssh_only, line("t@example.com", "", &key(1)))?;
    let e = verify(
        &r.repo,
        good,
        &VerifyCommits::AllowedSigners(ssh_only.clone()),
    )
    .expect_err("PGP with SSH keys only")
    .to_string();
    assert!(e.contains("--verify-commits-pgp-keys"), "{e}");
    // With both, each kind goes to its own keys.
    let both = VerifyCommits::Either {
        allowed_signers: ssh_only,
        pgp_keys: keys,
    };
    assert!(verify(&r.repo, good, &both).is_ok());
    let ssh_signed = r.commit("d", Sign::With(&key(1), "git"))?;
    assert!(verify(&r.repo, ssh_signed, &both).is_ok());
    Ok(())
}

#[test]
fn gpg_status_lines_give_the_verdict() {
    let k = Path::new("keys.asc");
    let good = "[GNUPG:] NEWSIG\n[GNUPG:] GOODSIG 1234ABCD Alice <a@x>\n[GNUPG:] VALIDSIG 0123456789ABCDEF0123456789ABCDEF01234567 2026-12-02 0 4 0 22 10 00 0123\n";
    let v = pgp_verdict(good, k).expect("good");
    assert_eq!(v.principals, "Alice <a@x>");
    assert!(
        pgp_verdict("[GNUPG:] BADSIG 1234ABCD Alice <a@x>\n", k)
            .expect_err("refused")
            .contains("bad PGP signature")
    );
    assert!(
        pgp_verdict(
            "[GNUPG:] EXPKEYSIG 1234ABCD Alice\n[GNUPG:] VALIDSIG X\n",
            k
        )
        .expect_err("refused")
        .contains("expired")
    );
    assert!(pgp_verdict("", k).is_err());
}
