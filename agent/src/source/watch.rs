//! Waking the agent loop when a local repository gets a new commit: a
//! `notify` watcher on the repository's refs, debounced into one message.
//!
//! The watch covers `refs/` (recursively), `packed-refs` and `HEAD` of the
//! repository's common directory (and `HEAD` of a linked worktree). Lock
//! files are ignored. Any ref change wakes the loop, not only the tracked
//! branch: the loop's `sync()` then costs one cheap local fetch, and the
//! watcher needs no knowledge of the tracking.

use std::path::Path;
use std::sync::mpsc as std_mpsc;
use std::thread;
use std::time::{Duration, Instant};

use notify::event::{AccessKind, AccessMode};
use notify::{Event, EventKind, RecommendedWatcher, RecursiveMode, Watcher};
use tokio::sync::mpsc;
use tracing::{debug, warn};

use super::SourceError;

/// Events closer together than this are sent as one (a commit touches a
/// ref's lock file, the ref and its log).
pub const DEBOUNCE: Duration = Duration::from_millis(150);

/// Watches the local repository at `path` (a directory inside a working
/// tree, a bare repository, or a `file://` URL) and sends `()` on `tx` within
/// [`DEBOUNCE`] of a ref change. A burst of changes gives one message; when
/// the channel is full a message is already pending and nothing more is sent.
///
/// Keep the returned watcher alive: dropping it stops the watch (and its
/// debounce thread). The thread also stops when the receiver is dropped.
///
/// # Errors
///
/// [`SourceError::NotARepository`] when `path` is not a Git repository,
/// [`SourceError::Watch`] when the watch cannot be set up.
pub fn watch_local(path: &Path, tx: mpsc::Sender<()>) -> Result<RecommendedWatcher, SourceError> {
    let repo = super::local::open(path)?;
    let gitdir = repo.path().to_path_buf();
    let common = repo.commondir().to_path_buf();
    let refs = common.join("refs");
    let watch_err = |path: &Path| {
        let path = path.to_path_buf();
        move |source| SourceError::Watch { path, source }
    };

    let (raw_tx, raw_rx) = std_mpsc::channel::<()>();
    let refs_in_closure = refs.clone();
    let mut watcher = notify::recommended_watcher(move |res: notify::Result<Event>| match res {
        Ok(event) if is_ref_change(&event, &refs_in_closure) => {
            // The receiver is gone only when the debounce thread stopped.
            let _ = raw_tx.send(());
        }
        Ok(_) => {}
        Err(e) => warn!(error = %e, "file watch error"),
    })
    .map_err(watch_err(&common))?;
    watcher
        .watch(&refs, RecursiveMode::Recursive)
        .map_err(watch_err(&refs))?;
    watcher
        .watch(&common, RecursiveMode::NonRecursive)
        .map_err(watch_err(&common))?;
    if gitdir != common {
        watcher
            .watch(&gitdir, RecursiveMode::NonRecursive)
            .map_err(watch_err(&gitdir))?;
    }
    thread::Builder::new()
        .name("wavesync-watch".into())
        .spawn(move || debounce(&raw_rx, &tx))
        .map_err(|e| SourceError::Watch {
            path: common.clone(),
            source: notify::Error::io(e),
        })?;
    debug!(path = %common.display(), "watching refs");
    Ok(watcher)
}

/// Whether an event is a change of a ref, `HEAD` or `packed-refs`.
fn is_ref_change(event: &Event, refs: &Path) -> bool {
    let kind_counts = match event.kind {
        EventKind::Access(AccessKind::Close(AccessMode::Write)) => true,
        EventKind::Access(_) => false,
        _ => true,
    };
    kind_counts
        && event.paths.iter().any(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            !name.ends_with(".lock")
                && (name == "HEAD" || name == "packed-refs" || p.starts_with(refs))
        })
}

/// One message per burst: wait for an event, gather the rest of the burst
/// for [`DEBOUNCE`], send. Stops when either side is gone.
fn debounce(raw: &std_mpsc::Receiver<()>, tx: &mpsc::Sender<()>) {
    while raw.recv().is_ok() {
        let until = Instant::now() + DEBOUNCE;
        loop {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            match raw.recv_timeout(left) {
                Ok(()) | Err(std_mpsc::RecvTimeoutError::Timeout) => {}
                Err(std_mpsc::RecvTimeoutError::Disconnected) => return,
            }
        }
        match tx.try_send(()) {
            Ok(()) | Err(mpsc::error::TrySendError::Full(())) => {}
            Err(mpsc::error::TrySendError::Closed(())) => return,
        }
    }
}
