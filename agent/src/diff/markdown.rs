//! The diff as a pull-request comment: a heading saying what is compared, a
//! table of counts per wave, then a collapsible section per changed wave
//! with its objects and their diffs.
//!
//! GitHub caps a comment at 65,536 characters: past [`LIMIT`] (or the
//! limit given to [`render_markdown_within`]), diffs that
//! no longer fit are left out (taken in order, each kept if it still fits)
//! and a note says so. The table and the lists of objects stay (only a plan
//! of thousands of objects loses list entries too).

use super::text::{counts_phrase, short, short_id};
use super::{Changed, Counts, Mode, PlanDiff, Source, WaveDiff, WaveState};
use std::fmt::Write;

/// Output size past which diffs are left out: under GitHub's 65,536 with
/// room for what a CI step adds around the comment.
pub const LIMIT: usize = 60_000;

/// What an object whose diff was left out says after its name.
const LEFT_OUT: &str = " *(diff left out: comment size limit)*";

/// Room kept for the note and the `… and N more` lines.
const RESERVE: usize = 2_000;

/// The diff as Markdown, ready to post as a pull-request comment.
pub fn render_markdown(diff: &PlanDiff, source: &Source) -> String {
    render_markdown_within(diff, source, LIMIT)
}

/// The diff as Markdown in about `limit` characters at most (several
/// clusters' diffs sharing one comment each get a part of [`LIMIT`]).
pub fn render_markdown_within(diff: &PlanDiff, source: &Source, limit: usize) -> String {
    let mut head = String::from("### wavesync diff\n\n");
    let _ = writeln!(head, "{}\n", compared(source));
    if !diff.has_changes() {
        head.push_str(match source.mode {
            Mode::Revisions => "No changes: every wave renders the same objects.\n",
            Mode::Live => "No changes: the cluster already has what the head applies.\n",
        });
        for w in diff.shown() {
            let _ = writeln!(head, "\n**{}**:\n", html(&w.name));
            for item in gate_items(w) {
                head.push_str(&item.text);
                if let Some(block) = &item.block {
                    head.push_str(block);
                }
            }
        }
        return head;
    }
    let changed = diff.waves.iter().filter(|w| w.has_changes()).count();
    let _ = writeln!(
        head,
        "**{changed} of {} waves change**: {}.\n",
        diff.waves.len(),
        counts_phrase(&diff.totals(), false)
    );
    table(&mut head, diff, source.mode);
    let sections: Vec<Section> = diff
        .waves
        .iter()
        .filter(|w| w.has_changes() || w.has_notes())
        .map(|w| section(w, source.mode))
        .collect();
    let keep = fit(&head, &sections, limit);
    if let Some(note) = keep.note() {
        let _ = writeln!(head, "> [!NOTE]\n> {note}\n");
    }
    let mut out = head;
    let mut index = 0;
    for s in &sections {
        s.render(&mut out, &keep, &mut index);
    }
    while out.ends_with("\n\n") {
        out.pop();
    }
    out
}

/// `Base … → head …`, and the cluster whose values were used.
fn compared(source: &Source) -> String {
    let head = if is_hex(&source.head) {
        code(short_id(&source.head))
    } else {
        format!("the {}", escape(&source.head))
    };
    let mut line = match source.mode {
        Mode::Revisions => format!("Base {} → head {head}", code(short_id(&source.base))),
        Mode::Live => format!("Live cluster {} → head {head}", code(&source.base)),
    };
    if let Some(c) = &source.cluster {
        let _ = write!(line, ", values of cluster {}", code(c));
    }
    line
}

fn is_hex(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// One row per wave, changed or not, and the totals.
fn table(out: &mut String, diff: &PlanDiff, mode: Mode) {
    let live = mode == Mode::Live;
    out.push_str("| Wave | State | Added | Changed | Removed | Jobs re-run |");
    if live {
        out.push_str(" Drifted | Conflicts | Rejected |");
    }
    out.push_str("\n| --- | --- | ---: | ---: | ---: | ---: |");
    if live {
        out.push_str(" ---: | ---: | ---: |");
    }
    out.push('\n');
    let row = |out: &mut String, name: &str, state: &str, c: &Counts| {
        let _ = write!(
            out,
            "| {name} | {state} | {} | {} | {} | {} |",
            c.added, c.changed, c.removed, c.jobs_rerun
        );
        if live {
            let _ = write!(out, " {} | {} | {} |", c.drifted, c.conflicts, c.rejected);
        }
        out.push('\n');
    };
    for w in &diff.waves {
        row(out, &escape(&w.name), w.state().as_str(), &w.counts());
    }
    row(out, "**Total**", "", &diff.totals());
    out.push('\n');
}

/// A changed wave's collapsible section, before it is fitted to the limit.
struct Section {
    /// `<details>`, the summary and the digests.
    open: String,
    groups: Vec<Group>,
}

/// A titled list of objects.
struct Group {
    title: String,
    items: Vec<Item>,
}

/// One object: its list entry and, when it has one, its diff (or YAML).
struct Item {
    text: String,
    block: Option<String>,
}

fn section(w: &WaveDiff, mode: Mode) -> Section {
    let mut open = String::from("<details>\n");
    let _ = writeln!(
        open,
        "<summary><b>{}</b>: {}; {}</summary>\n",
        html(&w.name),
        w.state().as_str(),
        counts_phrase(&w.counts(), false)
    );
    let digest = |d: &Option<String>| d.as_deref().map(|d| code(short(d))).unwrap_or_default();
    let (base, head) = (digest(&w.base_digest), digest(&w.head_digest));
    let about = match (w.state(), mode) {
        (WaveState::New, Mode::Revisions) => format!("New wave, digest {head}."),
        (WaveState::New, Mode::Live) => {
            format!("Never completed in the cluster; the head's digest is {head}.")
        }
        (WaveState::Removed, _) => "The wave is removed: a sync prunes its objects.".to_owned(),
        (WaveState::Reruns, Mode::Revisions) => {
            format!("Digest {base} → {head}: a sync applies the wave again.")
        }
        (WaveState::Reruns, Mode::Live) => format!(
            "Completed in the cluster at digest {base}; the head's is {head}: a sync applies the wave again."
        ),
        // A completed wave at the same digest is only checked for health,
        // so what differs in it stays as it is.
        (WaveState::Unchanged, Mode::Live) if w.has_changes() => {
            format!(
                "Digest unchanged ({head}): a sync skips the wave, so these differences stay until `wavesync sync --repair`."
            )
        }
        (WaveState::Unchanged, _) => format!("Digest unchanged ({head})."),
    };
    let _ = writeln!(open, "{about}\n");

    let mut groups = Vec::new();
    let mut group = |title: &str, items: Vec<Item>| {
        if !items.is_empty() {
            groups.push(Group {
                title: title.to_owned(),
                items,
            });
        }
    };
    group(
        "**Added**",
        w.added
            .iter()
            .map(|a| Item {
                text: format!("- {}\n", code(&a.reference.to_string())),
                block: Some(fenced("yaml", &a.yaml, "  ")),
            })
            .collect(),
    );
    group("**Changed**", w.changed.iter().map(changed).collect());
    group("**Removed** (pruned by the sync)", ref_items(&w.removed));
    group("**Jobs that run again**", ref_items(&w.jobs_rerun));
    group(
        "**Conflicts**: fields another manager owns, which the sync takes over",
        w.conflicts
            .iter()
            .map(|c| message_item(format!("- {}", code(&c.reference.to_string())), &c.message))
            .collect(),
    );
    group(
        "**Rejected** by the API server: the sync would fail here",
        w.rejected
            .iter()
            .map(|r| {
                let mut lead = format!("- {}", code(&r.reference.to_string()));
                if !r.origin.is_empty() {
                    let _ = write!(lead, " ({})", code(&r.origin));
                }
                message_item(lead, &r.message)
            })
            .collect(),
    );
    group("**Gates**", gate_items(w));
    Section { open, groups }
}

/// Components the sync skips and requirements it will wait for.
fn gate_items(w: &WaveDiff) -> Vec<Item> {
    let skipped = w.skipped.iter().map(|s| {
        let what = if s.component == "*" {
            "The whole wave is skipped".to_owned()
        } else {
            format!("Component {} is skipped", code(&s.component))
        };
        Item {
            text: format!("- {what} (`skipIf`): {}\n", escape(&s.reason)),
            block: None,
        }
    });
    let unmet = w.unmet.iter().map(|u| {
        message_item(
            "- Requires not met yet (the sync waits for it before this wave)".to_owned(),
            u,
        )
    });
    skipped.chain(unmet).collect()
}

fn changed(c: &Changed) -> Item {
    let mut text = format!("- {}", code(&c.reference.to_string()));
    if let Some(from) = &c.moved_from {
        let _ = write!(text, " (moved from wave {})", code(from));
    }
    text.push('\n');
    for d in &c.drift {
        let when = d
            .time
            .as_deref()
            .map(|t| format!(", {}", escape(t)))
            .unwrap_or_default();
        let via = d
            .subresource
            .as_deref()
            .map(|s| format!(" via {}", code(s)))
            .unwrap_or_default();
        let _ = writeln!(
            text,
            "  - drift: {} changed by {}{via} ({}{when})",
            code(&d.path),
            code(&d.manager),
            escape(&d.operation)
        );
    }
    Item {
        text,
        block: (!c.diff.is_empty()).then(|| fenced("diff", &c.diff, "  ")),
    }
}

/// A server message: inline when it is one line, else as a block under the
/// entry (its lines would otherwise break out of the list).
fn message_item(lead: String, message: &str) -> Item {
    let message = message.trim_end();
    if message.contains('\n') {
        Item {
            text: format!("{lead}:\n"),
            block: Some(fenced("text", message, "  ")),
        }
    } else {
        Item {
            text: format!("{lead}: {}\n", code(message)),
            block: None,
        }
    }
}

/// Which entries and blocks fit in the comment.
struct Keep {
    /// Entries kept, counted in document order over all sections.
    entries: usize,
    /// Per entry (in document order): whether its block is kept.
    blocks: Vec<bool>,
    /// Entries that have a block.
    with_block: usize,
    /// Whether an entry whose block is left out says so (not when every
    /// block is: the note says it once).
    mark: bool,
}

impl Keep {
    fn note(&self) -> Option<String> {
        let total = self.blocks.len();
        let kept_blocks = self.blocks.iter().filter(|b| **b).count();
        if self.entries == total && kept_blocks == self.with_block {
            return None;
        }
        let mut note = format!(
            "This comment would be longer than GitHub allows: {} of {} diffs are left out",
            self.with_block - kept_blocks,
            self.with_block
        );
        if self.entries < total {
            let _ = write!(
                note,
                ", and {} of {total} objects are not listed",
                total - self.entries
            );
        }
        note.push_str(". Run `wavesync diff` to see everything.");
        Some(note)
    }
}

/// Chooses what fits under `limit`: everything if it does; else every
/// entry and as many blocks as fit, in order; else as many entries as fit.
fn fit(head: &str, sections: &[Section], limit: usize) -> Keep {
    let items: Vec<&Item> = sections
        .iter()
        .flat_map(|s| &s.groups)
        .flat_map(|g| &g.items)
        .collect();
    let with_block = items.iter().filter(|i| i.block.is_some()).count();
    let frame: usize = head.len()
        + sections
            .iter()
            .map(|s| {
                s.open.len()
                    + "</details>\n\n".len()
                    + s.groups.iter().map(|g| g.title.len() + 3).sum::<usize>()
            })
            .sum::<usize>();
    let entries: usize = items.iter().map(|i| i.text.len()).sum();
    let blocks: usize = items
        .iter()
        .filter_map(|i| i.block.as_ref())
        .map(String::len)
        .sum();
    if frame + entries + blocks <= limit {
        return Keep {
            entries: items.len(),
            blocks: items.iter().map(|i| i.block.is_some()).collect(),
            with_block,
            mark: false,
        };
    }
    // A small limit (one cluster's share) keeps a share of the reserve.
    let mut room = limit.saturating_sub(frame + RESERVE.min(limit / 10));
    let mut keep = Keep {
        entries: items.len(),
        blocks: vec![false; items.len()],
        with_block,
        mark: true,
    };
    if entries + with_block * LEFT_OUT.len() > room {
        keep.mark = false;
        keep.entries = 0;
        for i in &items {
            if i.text.len() > room {
                break;
            }
            room -= i.text.len();
            keep.entries += 1;
        }
    } else {
        room -= entries + with_block * LEFT_OUT.len();
        for (n, i) in items.iter().enumerate() {
            // Its mark, counted above, goes when the block is kept.
            if let Some(b) = &i.block
                && b.len() <= room + LEFT_OUT.len()
            {
                room = room + LEFT_OUT.len() - b.len();
                keep.blocks[n] = true;
            }
        }
    }
    keep
}

impl Section {
    /// Writes the section as `keep` has it; `index` counts entries over all
    /// sections.
    fn render(&self, out: &mut String, keep: &Keep, index: &mut usize) {
        out.push_str(&self.open);
        for g in &self.groups {
            let _ = writeln!(out, "{}\n", g.title);
            let mut more = 0;
            for item in &g.items {
                let n = *index;
                *index += 1;
                if n >= keep.entries {
                    more += 1;
                    continue;
                }
                match &item.block {
                    Some(b) if keep.blocks[n] => {
                        out.push_str(&item.text);
                        out.push_str(b);
                    }
                    Some(_) if keep.mark => {
                        let (first, rest) = item.text.split_once('\n').unwrap_or((&item.text, ""));
                        let _ = write!(out, "{first}{LEFT_OUT}\n{rest}");
                    }
                    _ => out.push_str(&item.text),
                }
            }
            if more > 0 {
                let _ = writeln!(out, "- … and {more} more");
            }
            out.push('\n');
        }
        out.push_str("</details>\n\n");
    }
}

/// `content` in a fenced code block, each line after `indent` (to sit in a
/// list entry); the fence is longer than any run of backticks in `content`,
/// so that nothing in it can close the block.
fn fenced(lang: &str, content: &str, indent: &str) -> String {
    let fence = "`".repeat(longest_backticks(content).max(2) + 1);
    let mut out = format!("{indent}{fence}{lang}\n");
    for line in content.lines() {
        if !line.is_empty() {
            out.push_str(indent);
        }
        out.push_str(line);
        out.push('\n');
    }
    let _ = writeln!(out, "{indent}{fence}");
    out
}

/// `s` as an inline code span on one line (backticks in it are fenced by a
/// longer run, so that they cannot end the span; a span's `|` still needs
/// escaping in a table, which takes only [`escape`]d text).
fn code(s: &str) -> String {
    let s = s.replace(['\n', '\r'], " ");
    let ticks = "`".repeat(longest_backticks(&s) + 1);
    let pad = if s.starts_with('`') || s.ends_with('`') {
        " "
    } else {
        ""
    };
    format!("{ticks}{pad}{s}{pad}{ticks}")
}

fn longest_backticks(s: &str) -> usize {
    s.split(|c| c != '`').map(str::len).max().unwrap_or(0)
}

/// Plain text in Markdown: every ASCII punctuation character that could
/// start markup (a table's `|` included) escaped, and `@`/`#` too so that a
/// name cannot mention a user or link an issue.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '|' | '#' | '@' | '~' | '&' | '!' => {
                out.push('\\');
                out.push(c);
            }
            '\n' | '\r' => out.push(' '),
            _ => out.push(c),
        }
    }
    out
}

/// Text inside an HTML element (the `<summary>` line is HTML: Markdown is
/// not read there).
fn html(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// One list item per object, without a block.
fn ref_items(refs: &[crate::model::ObjRef]) -> Vec<Item> {
    refs.iter()
        .map(|r| Item {
            text: format!("- {}\n", code(&r.to_string())),
            block: None,
        })
        .collect()
}
