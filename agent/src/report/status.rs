//! `wavesync status`: the record as a table or as JSON.

use crate::state::{Record, WaveRecord};

fn duration(w: &WaveRecord) -> String {
    let (Some(s), Some(f)) = (&w.started, &w.finished) else {
        return "-".into();
    };
    match (s.parse::<jiff::Timestamp>(), f.parse::<jiff::Timestamp>()) {
        (Ok(s), Ok(f)) => {
            let ms = (f.as_millisecond() - s.as_millisecond()).max(0);
            format!("{:.1}s", ms as f64 / 1000.0)
        }
        _ => "-".into(),
    }
}

/// The record as a human-readable table.
pub fn table(r: &Record) -> String {
    let short = |s: &Option<String>| {
        s.as_deref()
            .map(|s| s[..s.len().min(12)].to_string())
            .unwrap_or_else(|| "-".into())
    };
    let mut out = String::new();
    out.push_str(&format!("WaveSet:  {}\n", r.waveset));
    if let Some(c) = &r.cluster {
        out.push_str(&format!("Cluster:  {c}\n"));
    }
    out.push_str(&format!("Phase:    {}\n", r.phase.as_str()));
    out.push_str(&format!(
        "Target:   {}\nApplied:  {}\n",
        short(&r.target_revision),
        short(&r.applied_revision)
    ));
    if let Some(m) = &r.message {
        out.push_str(&format!("Message:  {m}\n"));
    }
    if let Some(x) = &r.refused {
        out.push_str(&format!(
            "Refused:  {} {} (since {}); the applied revision stays\n",
            short(&Some(x.revision.clone())),
            x.reason,
            x.since
        ));
    }
    out.push_str(&format!("Objects:  {}\n\n", r.inventory.len()));
    let rows: Vec<[String; 6]> = r
        .waves
        .iter()
        .map(|w| {
            [
                w.name.clone(),
                w.status.as_str().to_string(),
                w.objects.to_string(),
                duration(w),
                w.attempts.to_string(),
                w.message.clone().unwrap_or_default(),
            ]
        })
        .collect();
    let header = [
        "WAVE", "STATUS", "OBJECTS", "DURATION", "ATTEMPTS", "MESSAGE",
    ]
    .map(String::from);
    let mut widths = header.clone().map(|h| h.len());
    for row in &rows {
        for (i, c) in row.iter().enumerate() {
            widths[i] = widths[i].max(c.chars().count());
        }
    }
    for row in std::iter::once(&header).chain(rows.iter()) {
        let cells: Vec<String> = row
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{c:<w$}", w = widths[i]))
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    if let Some(d) = &r.drift {
        out.push_str(&format!(
            "\nDrift: {} object{} since {}\n",
            d.objects,
            if d.objects == 1 { "" } else { "s" },
            d.since
        ));
        for i in &d.items {
            out.push_str(&format!(
                "  {} (wave {}, {}):\n",
                i.object, i.wave, i.policy
            ));
            for f in &i.fields {
                out.push_str(&format!("    {f}\n"));
            }
        }
        if d.objects > d.items.len() {
            out.push_str(&format!("  … and {} more\n", d.objects - d.items.len()));
        }
    }
    out
}

/// The record as JSON, inventory included as a count per wave.
pub fn json(r: &Record) -> serde_json::Value {
    let mut v = serde_json::to_value(r).unwrap_or_default();
    let counts: serde_json::Map<String, serde_json::Value> = r
        .inventory
        .waves
        .iter()
        .map(|(k, refs)| (k.clone(), refs.len().into()))
        .collect();
    v["inventory"] = serde_json::Value::Object(counts);
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::{Phase, WaveStatus};

    #[test]
    fn the_table_lists_drifted_objects_with_fields_and_managers() {
        let mut r = Record::new("shop");
        r.phase = Phase::Degraded;
        r.drift = Some(crate::state::DriftStatus {
            objects: 1,
            since: "2026-12-02T10:00:00Z".into(),
            items: vec![crate::state::DriftItem {
                object: "Deployment.apps shop/web".into(),
                wave: "apps".into(),
                fields: vec!["spec.replicas by kubectl-scale (Update via scale)".into()],
                policy: "alert".into(),
                since: "2026-12-02T10:00:00Z".into(),
            }],
        });
        let t = table(&r);
        assert!(t.contains("Drift: 1 object since 2026-12-02T10:00:00Z\n  Deployment.apps shop/web (wave apps, alert):\n    spec.replicas by kubectl-scale (Update via scale)\n"), "{t}");
    }

    #[test]
    fn table_lists_every_wave_with_status_and_duration() {
        let mut r = Record::new("dataplane");
        r.phase = Phase::Failed;
        r.target_revision = Some("0123456789abcdef".into());
        let w = r.wave_mut("database");
        w.status = WaveStatus::Failed;
        w.started = Some("2026-01-01T00:00:00Z".into());
        w.finished = Some("2026-01-01T00:00:02.5Z".into());
        w.message = Some("Job failed: BackoffLimitExceeded".into());
        let t = table(&r);
        assert!(t.contains("Phase:    Failed"), "{t}");
        assert!(t.contains("Target:   0123456789ab"), "{t}");
        assert!(!t.contains("Refused:"), "{t}");
        r.refused = Some(crate::state::record::Refusal {
            revision: "fedcba9876543210".into(),
            reason: "is not signed".into(),
            since: "2026-01-01T00:00:03Z".into(),
        });
        let t = table(&r);
        assert!(
            t.contains("Refused:  fedcba987654 is not signed (since 2026-01-01T00:00:03Z)"),
            "{t}"
        );
        assert!(
            t.lines().any(|l| l.starts_with("database")
                && l.contains("failed")
                && l.contains("2.5s")
                && l.contains("BackoffLimitExceeded")),
            "{t}"
        );
    }
}
