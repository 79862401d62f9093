//! A Slack-compatible incoming webhook (Slack, Mattermost, Rocket.Chat,
//! Teams' Slack-compatible connectors): `{"text", "blocks"}`. `text` is the
//! whole message in one line (notifications and receivers without blocks
//! show it); the blocks lay out the object, wave, fields with their
//! managers, and revision for a channel.

use serde_json::{Value, json};

use crate::notify::mask;
use crate::notify::notice::{FieldChange, Notice, NotifyContext};

/// Changed fields listed, at most; the rest are counted.
const MAX_FIELDS: usize = 10;

/// Slack's limit on the text of a section is 3,000 characters.
const MAX_SECTION: usize = 2900;

/// The message for `notice`, sent at `at`.
pub fn body(notice: &Notice, ctx: &NotifyContext, at: jiff::Timestamp) -> Value {
    let (emoji, title) = heading(notice);
    let place = match &ctx.cluster {
        Some(c) => format!("{} on {c}", ctx.waveset),
        None => ctx.waveset.clone(),
    };
    let summary = notice.summary();
    let text = format!("{emoji} {title} in {place}: {}", escape(&summary));
    let mut blocks = vec![json!({
        "type": "section",
        "text": {
            "type": "mrkdwn",
            "text": super::truncate(&format!("{emoji} *{title}* in {}\n{}", code(&place), escape(&summary)), MAX_SECTION),
        },
    })];
    let facts = facts(notice);
    if !facts.is_empty() {
        blocks.push(json!({ "type": "section", "fields": facts }));
    }
    if let Some(more) = more(notice) {
        blocks.push(json!({
            "type": "section",
            "text": { "type": "mrkdwn", "text": super::truncate(&more, MAX_SECTION) },
        }));
    }
    blocks.push(json!({
        "type": "context",
        "elements": [{
            "type": "mrkdwn",
            "text": format!("wavesync {} in namespace {} · {at}", escape(&ctx.identity), escape(&ctx.namespace)),
        }],
    }));
    json!({ "text": super::truncate(&text, MAX_SECTION), "blocks": blocks })
}

/// The emoji and title of each kind.
fn heading(notice: &Notice) -> (&'static str, &'static str) {
    match notice {
        Notice::DriftDetected(_) => (":warning:", "Drift detected"),
        Notice::DriftResolved(_) => (":white_check_mark:", "Drift resolved"),
        Notice::SyncFailed { .. } => (":x:", "Sync failed"),
        Notice::Stalled { .. } => (":octagonal_sign:", "Stalled"),
        Notice::WaveFailed { .. } => (":x:", "Wave failed"),
        Notice::SyncSucceeded { .. } => (":white_check_mark:", "Synced"),
        Notice::RevisionRefused { .. } => (":no_entry:", "Revision refused"),
    }
}

/// Object, wave, revision and the like, as a section's fields.
fn facts(notice: &Notice) -> Vec<Value> {
    let mut out = Vec::new();
    let mut fact = |name: &str, value: String| {
        out.push(json!({ "type": "mrkdwn", "text": format!("*{name}*\n{value}") }));
    };
    if let Some(o) = notice.object() {
        fact("Object", code(&o.to_string()));
    }
    if let Some(w) = notice.wave() {
        fact("Wave", code(w));
    }
    if let Some(r) = notice.revision() {
        fact("Revision", code(r.short()));
    }
    match notice {
        Notice::DriftDetected(d) => {
            fact("Policy", d.policy.as_str().to_string());
            if let Some(m) = &d.contested_by {
                fact("Contested by", code(m));
            }
        }
        Notice::DriftResolved(d) => fact("How", d.how.as_str().to_string()),
        Notice::SyncFailed { category, .. } | Notice::Stalled { category, .. } => {
            fact("Category", category.as_str().to_string());
        }
        _ => {}
    }
    out
}

/// The changed fields, or the error text.
fn more(notice: &Notice) -> Option<String> {
    match notice {
        Notice::DriftDetected(d) if !d.deleted && !d.fields.is_empty() => {
            let fields = mask::fields(&d.object, &d.fields);
            let mut lines: Vec<String> = fields.iter().take(MAX_FIELDS).map(line).collect();
            if fields.len() > MAX_FIELDS {
                lines.push(format!("…and {} more", fields.len() - MAX_FIELDS));
            }
            Some(lines.join("\n"))
        }
        other => other
            .detail()
            .filter(|d| !d.is_empty())
            .map(|d| format!("```{}```", escape(&d.replace("```", "'''")))),
    }
}

/// `• spec.replicas by *kubectl* (Update, scale): 3 → 5`.
fn line(f: &FieldChange) -> String {
    let mut s = format!("• {}", code(&f.path));
    if let Some(m) = &f.manager {
        s.push_str(&format!(" by *{}*", escape(m)));
    }
    let how: Vec<&str> = [f.operation.as_deref(), f.subresource.as_deref()]
        .into_iter()
        .flatten()
        .collect();
    if !how.is_empty() {
        s.push_str(&format!(" ({})", escape(&how.join(", "))));
    }
    if f.old.is_some() || f.new.is_some() {
        let v = |v: &Option<Value>| code(&super::value_text(v.as_ref()));
        s.push_str(&format!(": {} → {}", v(&f.old), v(&f.new)));
    }
    s
}

/// Text Slack shows as written: `&`, `<` and `>` escaped.
fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Inline code, with backticks that would end it replaced.
fn code(s: &str) -> String {
    format!("`{}`", escape(&s.replace('`', "'")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Category;
    use crate::notify::notice::fixtures::*;

    #[test]
    fn a_drift_message_shows_object_wave_field_manager_and_revision() {
        let got = body(&scaled(), &context(), at());
        let expected = json!({
            "text": ":warning: Drift detected in dataplane on dp-east: Deployment.apps shop/web (wave apps) drifted: spec.replicas changed by kubectl",
            "blocks": [
                {
                    "type": "section",
                    "text": {
                        "type": "mrkdwn",
                        "text": ":warning: *Drift detected* in `dataplane on dp-east`\nDeployment.apps shop/web (wave apps) drifted: spec.replicas changed by kubectl",
                    },
                },
                {
                    "type": "section",
                    "fields": [
                        { "type": "mrkdwn", "text": "*Object*\n`Deployment.apps shop/web`" },
                        { "type": "mrkdwn", "text": "*Wave*\n`apps`" },
                        { "type": "mrkdwn", "text": "*Revision*\n`0123456789ab`" },
                        { "type": "mrkdwn", "text": "*Policy*\nalert" },
                    ],
                },
                {
                    "type": "section",
                    "text": { "type": "mrkdwn", "text": "• `spec.replicas` by *kubectl* (Update, scale): `3` → `5`" },
                },
                {
                    "type": "context",
                    "elements": [{ "type": "mrkdwn", "text": "wavesync wavesync-7d9f-abcde in namespace wavesync · 2025-03-04T05:06:07Z" }],
                },
            ],
        });
        assert_eq!(got, expected);
    }

    #[test]
    fn a_failure_shows_its_error_escaped() {
        let n = Notice::SyncFailed {
            revision: revision(),
            category: Category::Config,
            message: "Deployment <web> & more: ```bad```".into(),
        };
        let got = body(&n, &context(), at());
        assert_eq!(
            got["blocks"][2]["text"]["text"],
            json!("```Deployment &lt;web&gt; &amp; more: '''bad'''```")
        );
        assert_eq!(
            got["blocks"][1]["fields"][1]["text"],
            json!("*Category*\nconfig")
        );
        assert!(
            got["text"]
                .as_str()
                .is_some_and(|t| t.starts_with(":x: Sync failed in"))
        );
    }
}
