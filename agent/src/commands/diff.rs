//! `wavesync diff`: what a change does, wave by wave, between two revisions
//! (default: the merge-base with the default branch, and the working tree),
//! rendered and planned without a cluster.

use crate::cli::DiffArgs;
use crate::diff::{compare, render_text};
use crate::plan::{self, Builtin, Plan};
use crate::reconcile::sync::render_all;
use crate::render::Helm;
use anyhow::{Context, anyhow};
use std::path::{Path, PathBuf};

/// Prints the diff; returns whether anything changes (exit code 2).
pub fn run(args: DiffArgs) -> anyhow::Result<bool> {
    let dir = args
        .dir
        .canonicalize()
        .with_context(|| format!("{}", args.dir.display()))?;
    let repo = git2::Repository::discover(&dir)
        .with_context(|| format!("{} is not inside a Git repository", dir.display()))?;
    let workdir = repo
        .workdir()
        .ok_or_else(|| anyhow!("the repository has no working tree"))?
        .canonicalize()?;
    let inside = dir
        .strip_prefix(&workdir)
        .unwrap_or(Path::new(""))
        .to_path_buf();
    let helm = Helm::new(args.helm.settings());
    let scratch = tempfile_dir()?;

    let base_rev = match &args.base {
        Some(rev) => rev.clone(),
        None => default_base(&repo)?,
    };
    let base_root = export(&repo, &base_rev, &scratch.0.join("base"))?.join(&inside);
    let head_root = match &args.head {
        Some(rev) => export(&repo, rev, &scratch.0.join("head"))?.join(&inside),
        None => dir.clone(),
    };
    let cluster = args.cluster_name.as_deref();
    let base = planned(&base_root, cluster, &helm).with_context(|| format!("base {base_rev}"))?;
    let head = planned(&head_root, cluster, &helm)
        .with_context(|| format!("head {}", args.head.as_deref().unwrap_or("(working tree)")))?;
    let diff = compare(&base, &head);
    print!("{}", render_text(&diff));
    Ok(diff.has_changes())
}

fn planned(root: &Path, cluster: Option<&str>, helm: &Helm) -> anyhow::Result<Plan> {
    let ws = crate::config::load(root, cluster)?;
    let inputs = render_all(root, &ws, helm)?;
    Ok(plan::plan(
        &ws.name,
        ws.namespace.as_deref(),
        inputs,
        &Builtin,
    )?)
}

/// The merge-base of `HEAD` with the default branch (`origin/HEAD`, else
/// `main`, else `master`).
fn default_base(repo: &git2::Repository) -> anyhow::Result<String> {
    let head = repo.head()?.peel_to_commit()?.id();
    for name in [
        "refs/remotes/origin/HEAD",
        "refs/heads/main",
        "refs/heads/master",
    ] {
        if let Ok(r) = repo.find_reference(name).and_then(|r| r.resolve())
            && let Some(target) = r.target()
        {
            return Ok(repo.merge_base(head, target)?.to_string());
        }
    }
    Err(anyhow!(
        "no default branch (origin/HEAD, main or master) to diff against: give --base"
    ))
}

/// Writes the tree of `rev` into `dest`; returns `dest`.
fn export(repo: &git2::Repository, rev: &str, dest: &Path) -> anyhow::Result<PathBuf> {
    let object = repo
        .revparse_single(rev)
        .with_context(|| format!("revision {rev:?} not found"))?;
    let tree = object.peel_to_tree()?;
    std::fs::create_dir_all(dest)?;
    let mut checkout = git2::build::CheckoutBuilder::new();
    checkout.target_dir(dest).force();
    repo.checkout_tree(tree.as_object(), Some(&mut checkout))
        .with_context(|| format!("writing revision {rev} to {}", dest.display()))?;
    Ok(dest.to_path_buf())
}

/// A scratch directory removed when dropped.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn tempfile_dir() -> anyhow::Result<Scratch> {
    let dir = std::env::temp_dir().join(format!("wavesync-diff-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    Ok(Scratch(dir))
}
