//! `wavesync diff`: what a change does, wave by wave — between two
//! revisions (default: the merge-base with the default branch, and the
//! working tree), rendered and planned without a cluster; or, with `--live`,
//! the head against the cluster by server-side apply dry-run.

use crate::cli::{ColorChoice, DiffArgs, DiffOutput};
use crate::diff::live::{LiveOptions, diff_live};
use crate::diff::{
    Mode, PlanDiff, Source, compare, render_json, render_markdown_within, render_text,
};
use crate::plan::{self, Builtin, Plan};
use crate::reconcile::prepare::render_all;
use crate::reconcile::sync::{Engine, SyncOptions};
use crate::render::Helm;
use anyhow::{Context, anyhow};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Prints the diff; returns whether anything changes (exit code 2).
pub fn run(args: DiffArgs) -> anyhow::Result<bool> {
    let dir = args
        .dir
        .canonicalize()
        .with_context(|| format!("{}", args.dir.display()))?;
    let helm = Helm::new(args.helm.settings());
    let (diff, source) = if args.live {
        live(&args, &dir, helm)?
    } else {
        revisions(&args, &dir, &helm)?
    };
    let text = match args.output {
        DiffOutput::Text => render_text(&diff, &source, colour(args.color)),
        DiffOutput::Markdown => render_markdown_within(&diff, &source, args.markdown_limit),
        DiffOutput::Json => render_json(&diff, &source),
    };
    print!("{text}");
    Ok(diff.has_changes())
}

/// Whether to colour: as asked, else when stdout is a terminal and
/// `NO_COLOR` is not set (<https://no-color.org>).
fn colour(choice: ColorChoice) -> bool {
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
                && std::io::stdout().is_terminal()
        }
    }
}

fn revisions(args: &DiffArgs, dir: &Path, helm: &Helm) -> anyhow::Result<(PlanDiff, Source)> {
    let (repo, inside) = open_repo(dir)?;
    let scratch = tempfile_dir()?;

    let base_rev = match &args.base {
        Some(rev) => rev.clone(),
        None => default_base(&repo)?,
    };
    let base_id = commit_id(&repo, &base_rev)?;
    let base_root = export(&repo, &base_rev, &scratch.0.join("base"))?.join(&inside);
    let (head_root, head_id) = match &args.head {
        Some(rev) => (
            export(&repo, rev, &scratch.0.join("head"))?.join(&inside),
            commit_id(&repo, rev)?,
        ),
        None => (dir.to_path_buf(), "working tree".to_owned()),
    };
    let file = crate::config::FILE_NAME;
    if !base_root.join(file).exists() && !head_root.join(file).exists() {
        return Err(anyhow!(
            "no {file} in {} at the base ({base_rev}) nor at the head: give --dir the directory that holds it",
            dir.display()
        ));
    }
    let cluster = args.cluster_name.as_deref();
    let base = planned(&base_root, cluster, helm).with_context(|| format!("base {base_rev}"))?;
    let head = planned(&head_root, cluster, helm)
        .with_context(|| format!("head {}", args.head.as_deref().unwrap_or("(working tree)")))?;
    let source = Source {
        mode: Mode::Revisions,
        base: base_id,
        head: head_id,
        cluster: args.cluster_name.clone(),
    };
    Ok((compare(&base, &head), source))
}

/// The head (a revision or the working tree) against the cluster.
fn live(args: &DiffArgs, dir: &Path, helm: Helm) -> anyhow::Result<(PlanDiff, Source)> {
    let scratch = tempfile_dir()?;
    let (root, head_id) = match &args.head {
        Some(rev) => {
            let (repo, inside) = open_repo(dir)?;
            let root = export(&repo, rev, &scratch.0.join("head"))?.join(inside);
            (root, commit_id(&repo, rev)?)
        }
        None => (dir.to_path_buf(), "working tree".to_owned()),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let client = super::cluster::client(&args.cluster).await?;
        let options = SyncOptions {
            cluster: args.cluster_name.clone(),
            state_namespace: args.state_namespace.clone(),
            concurrency: args.concurrency,
            ..SyncOptions::default()
        };
        let engine = Engine::new(
            client,
            options,
            Arc::new(crate::report::progress::LogProgress),
        )
        .with_helm(helm);
        let (ws, plan) = engine.plan(&root).await?;
        let diff = diff_live(
            engine.resolver(),
            &ws,
            &plan,
            &LiveOptions {
                concurrency: args.concurrency.max(1),
                state_namespace: args.state_namespace.clone(),
                ..LiveOptions::default()
            },
        )
        .await?;
        let context = context_name(&args.cluster);
        Ok((
            diff,
            Source {
                mode: Mode::Live,
                base: context,
                head: head_id,
                cluster: args.cluster_name.clone(),
            },
        ))
    })
}

/// What the base of a live diff is called: the kubeconfig context, as
/// kubectl would pick it.
fn context_name(args: &crate::cli::ClusterArgs) -> String {
    if let Some(c) = &args.context {
        return c.clone();
    }
    let kubeconfig = match &args.kubeconfig {
        Some(path) => kube::config::Kubeconfig::read_from(path).ok(),
        None => kube::config::Kubeconfig::read().ok(),
    };
    kubeconfig
        .and_then(|k| k.current_context)
        .unwrap_or_else(|| "in-cluster".into())
}

/// The plan of the revision checked out at `root`. A revision without
/// `wavesync.yaml` (the pull request that adds it, or removes it) plans
/// nothing, so that everything shows as added (or removed).
fn planned(root: &Path, cluster: Option<&str>, helm: &Helm) -> anyhow::Result<Plan> {
    if !root.join(crate::config::FILE_NAME).exists() {
        return Ok(Plan { waves: Vec::new() });
    }
    let ws = crate::config::load(root, cluster)?;
    let inputs = render_all(root, &ws, helm)?;
    Ok(plan::plan(
        &ws.name,
        ws.namespace.as_deref(),
        inputs,
        &Builtin,
    )?)
}

/// The repository `dir` is in, and where `dir` is inside its working tree
/// (the same place in an exported revision).
fn open_repo(dir: &Path) -> anyhow::Result<(git2::Repository, PathBuf)> {
    let repo = crate::source::local::open(dir)?;
    let workdir = repo
        .workdir()
        .ok_or_else(|| anyhow!("the repository has no working tree"))?
        .canonicalize()?;
    let inside = dir
        .strip_prefix(&workdir)
        .unwrap_or(Path::new(""))
        .to_path_buf();
    Ok((repo, inside))
}

/// The full commit id a revision names.
fn commit_id(repo: &git2::Repository, rev: &str) -> anyhow::Result<String> {
    Ok(repo
        .revparse_single(rev)
        .with_context(|| format!("revision {rev:?} not found"))?
        .peel_to_commit()
        .with_context(|| format!("revision {rev:?} is not a commit"))?
        .id()
        .to_string())
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
