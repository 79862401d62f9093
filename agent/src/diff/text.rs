//! The diff for a terminal: what is compared, then wave by wave, counts
//! first, then each object, then the totals.

use super::{Changed, Counts, Mode, PlanDiff, Source, WaveDiff, WaveState};
use anstyle::{AnsiColor, Style};
use std::fmt::Write;

const PLAIN: Style = Style::new();
const BOLD: Style = Style::new().bold();
const GREEN: Style = AnsiColor::Green.on_default();
const RED: Style = AnsiColor::Red.on_default();
const CYAN: Style = AnsiColor::Cyan.on_default();
const YELLOW: Style = AnsiColor::Yellow.on_default();
const BOLD_RED: Style = AnsiColor::Red.on_default().bold();

/// The diff as text; `colour` adds ANSI colours (without it the text has no
/// escape codes at all, so that it can be piped or stored).
pub fn render_text(diff: &PlanDiff, source: &Source, colour: bool) -> String {
    let mut out = Out {
        text: String::new(),
        colour,
    };
    out.line(PLAIN, &header(source));
    if !diff.has_changes() {
        out.line(
            PLAIN,
            match source.mode {
                Mode::Revisions => "no changes: every wave renders the same objects",
                Mode::Live => "no changes: the cluster already has what the head applies",
            },
        );
        for w in diff.shown() {
            notes(&mut out, w);
        }
        return out.text;
    }
    for w in diff.shown() {
        wave(&mut out, w, source.mode);
    }
    let changed = diff.waves.iter().filter(|w| w.has_changes()).count();
    out.line(
        BOLD,
        &format!(
            "total: {} (in {changed} of {} waves)",
            counts_phrase(&diff.totals(), true),
            diff.waves.len()
        ),
    );
    out.text
}

fn wave(out: &mut Out, w: &WaveDiff, mode: Mode) {
    let state = match (w.state(), &w.base_digest, &w.head_digest) {
        (WaveState::New, _, _) if mode == Mode::Live => "new wave (never completed)".to_owned(),
        (WaveState::New, _, _) => "new wave".to_owned(),
        (WaveState::Removed, _, _) => "wave removed".to_owned(),
        (WaveState::Reruns, Some(b), Some(h)) => {
            format!("re-runs (digest {} → {})", short(b), short(h))
        }
        // A completed wave at the same digest is only checked for health,
        // so what differs in it stays as it is.
        (_, _, _) if mode == Mode::Live && w.has_changes() => {
            "unchanged digest (a sync skips the wave: these differences stay until sync --repair)"
                .to_owned()
        }
        (_, _, _) => "unchanged digest".to_owned(),
    };
    let mut counts = w.counts();
    // The wave line has never counted Jobs: they have their own ↻ lines.
    counts.jobs_rerun = 0;
    out.line(
        BOLD,
        &format!("wave {}: {state}; {}", w.name, counts_phrase(&counts, true)),
    );
    for a in &w.added {
        out.line(GREEN, &format!("  + {}", a.reference));
        for line in a.yaml.lines() {
            out.line(GREEN, &format!("    + {line}"));
        }
    }
    for c in &w.changed {
        changed(out, c);
    }
    for r in &w.removed {
        out.line(RED, &format!("  - {r} (pruned)"));
    }
    for r in &w.jobs_rerun {
        out.line(PLAIN, &format!("  ↻ Job {} runs again", r.name));
    }
    for c in &w.conflicts {
        out.message(
            YELLOW,
            &format!("  ! {}: conflict: ", c.reference),
            &c.message,
            " (the sync takes these fields over)",
        );
    }
    for r in &w.rejected {
        let origin = if r.origin.is_empty() {
            String::new()
        } else {
            format!(" ({})", r.origin)
        };
        out.message(
            BOLD_RED,
            &format!("  ✗ {}{origin}: rejected: ", r.reference),
            &r.message,
            "",
        );
    }
    gates(out, w);
}

/// A wave with nothing to change but notes, when nothing changes at all.
fn notes(out: &mut Out, w: &WaveDiff) {
    out.line(BOLD, &format!("wave {}:", w.name));
    gates(out, w);
}

/// What the live gates say: components the sync skips, requirements it
/// will wait for.
fn gates(out: &mut Out, w: &WaveDiff) {
    for s in &w.skipped {
        let what = if s.component == "*" {
            "the wave is skipped".to_owned()
        } else {
            format!("component {} is skipped", s.component)
        };
        out.line(PLAIN, &format!("  » {what} (skipIf): {}", s.reason));
    }
    for u in &w.unmet {
        out.message(
            YELLOW,
            "  ⧗ requires not met yet: ",
            u,
            " (the sync waits for it before this wave)",
        );
    }
}

fn changed(out: &mut Out, c: &Changed) {
    match &c.moved_from {
        Some(from) => out.line(
            PLAIN,
            &format!("  ~ {} (moved from wave {from})", c.reference),
        ),
        None => out.line(PLAIN, &format!("  ~ {}", c.reference)),
    }
    for d in &c.drift {
        let when = d
            .time
            .as_deref()
            .map(|t| format!(", {t}"))
            .unwrap_or_default();
        let via = d
            .subresource
            .as_deref()
            .map(|s| format!(" via {s}"))
            .unwrap_or_default();
        out.line(
            YELLOW,
            &format!(
                "    drift: {} changed by {}{via} ({}{when})",
                d.path, d.manager, d.operation
            ),
        );
    }
    for (i, line) in c.diff.lines().enumerate() {
        // Only the first two lines can be the file header; a removed line
        // whose content starts with `--` must stay red.
        let style = if i < 2 && (line.starts_with("--- ") || line.starts_with("+++ ")) {
            BOLD
        } else if line.starts_with("@@") {
            CYAN
        } else if line.starts_with('+') {
            GREEN
        } else if line.starts_with('-') {
            RED
        } else {
            PLAIN
        };
        out.line(style, &format!("    {line}"));
    }
}

/// What is compared with what, in one line.
fn header(source: &Source) -> String {
    let head = short_id(&source.head);
    let mut h = match source.mode {
        Mode::Revisions => format!("diff base {} → head {head}", short_id(&source.base)),
        Mode::Live => format!("diff live cluster {} → head {head}", source.base),
    };
    if let Some(c) = &source.cluster {
        let _ = write!(h, " (values of cluster {c})");
    }
    h
}

/// `N added, N changed, N removed`, then what else is not zero. With
/// `all` false, only what is not zero (the markdown summaries).
pub(super) fn counts_phrase(c: &Counts, all: bool) -> String {
    let mut parts = Vec::new();
    for (n, what) in [
        (c.added, "added"),
        (c.changed, "changed"),
        (c.removed, "removed"),
    ] {
        if all || n > 0 {
            parts.push(format!("{n} {what}"));
        }
    }
    if c.jobs_rerun > 0 {
        let jobs = if c.jobs_rerun == 1 { "Job" } else { "Jobs" };
        parts.push(format!("{} {jobs} re-run", c.jobs_rerun));
    }
    for (n, one, many) in [
        (c.drifted, "drifted", "drifted"),
        (c.conflicts, "conflict", "conflicts"),
        (c.rejected, "rejected", "rejected"),
    ] {
        if n > 0 {
            parts.push(format!("{n} {}", if n == 1 { one } else { many }));
        }
    }
    if parts.is_empty() {
        "no object changes".to_owned()
    } else {
        parts.join(", ")
    }
}

/// The first 12 characters of a commit id or digest.
pub(super) fn short(digest: &str) -> &str {
    digest.get(..12).unwrap_or(digest)
}

/// A commit id shortened; anything else (`working tree`) as it is.
pub(super) fn short_id(id: &str) -> &str {
    if id.len() > 12 && id.bytes().all(|b| b.is_ascii_hexdigit()) {
        short(id)
    } else {
        id
    }
}

/// Text being written, coloured or not.
struct Out {
    text: String,
    colour: bool,
}

impl Out {
    fn line(&mut self, style: Style, line: &str) {
        if self.colour && style != PLAIN {
            let _ = writeln!(self.text, "{style}{line}{style:#}");
        } else {
            self.text.push_str(line);
            self.text.push('\n');
        }
    }

    /// A server message after `lead`, its further lines indented under it,
    /// then `tail`.
    fn message(&mut self, style: Style, lead: &str, message: &str, tail: &str) {
        let mut lines = message.trim_end().lines();
        let first = lines.next().unwrap_or_default();
        let rest: Vec<&str> = lines.collect();
        if rest.is_empty() {
            self.line(style, &format!("{lead}{first}{tail}"));
            return;
        }
        self.line(style, &format!("{lead}{first}"));
        for l in rest {
            self.line(style, &format!("      {l}"));
        }
        // On a line of its own, so as not to read as part of the last one.
        let tail = tail.trim_start();
        if !tail.is_empty() {
            self.line(style, &format!("      {tail}"));
        }
    }
}
