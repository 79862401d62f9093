//! The diff for a terminal: wave by wave, counts first, then each object.

use super::PlanDiff;
use std::fmt::Write;

/// The diff as text (no colour).
pub fn render_text(diff: &PlanDiff) -> String {
    let mut out = String::new();
    if !diff.has_changes() {
        out.push_str("no changes: every wave renders the same objects\n");
        return out;
    }
    for w in diff.waves.iter().filter(|w| w.has_changes()) {
        let state = match (&w.base_digest, &w.head_digest) {
            (None, Some(_)) => "new wave".to_owned(),
            (Some(_), None) => "wave removed".to_owned(),
            (Some(b), Some(h)) if b != h => format!("re-runs (digest {} → {})", short(b), short(h)),
            _ => "unchanged digest".to_owned(),
        };
        let _ = writeln!(
            out,
            "wave {}: {state}; {} added, {} changed, {} removed",
            w.name,
            w.added.len(),
            w.changed.len(),
            w.removed.len()
        );
        for (r, yaml) in &w.added {
            let _ = writeln!(out, "  + {r}");
            for line in yaml.lines() {
                let _ = writeln!(out, "    + {line}");
            }
        }
        for c in &w.changed {
            match &c.moved_from {
                Some(from) => {
                    let _ = writeln!(out, "  ~ {} (moved from wave {from})", c.reference);
                }
                None => {
                    let _ = writeln!(out, "  ~ {}", c.reference);
                }
            }
            for line in c.diff.lines() {
                let _ = writeln!(out, "    {line}");
            }
        }
        for r in &w.removed {
            let _ = writeln!(out, "  - {r} (pruned)");
        }
        for r in &w.jobs_rerun {
            let _ = writeln!(out, "  ↻ Job {} runs again", r.name);
        }
    }
    out
}

fn short(digest: &str) -> &str {
    &digest[..12.min(digest.len())]
}
