//! `wavesync status`: the record as a table or as JSON.

use crate::state::{Record, StateError, WaveRecord, WaveStatus};

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
    for h in &r.held {
        out.push_str(&format!(
            "Held:     wave {} left wavesync.yaml; its {} object(s) are kept, not pruned (spec.prune.removedWaves: true prunes them)\n",
            h.wave, h.objects
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

/// Every record of a namespace, one line each (`wavesync status` without
/// `--waveset`); an unreadable record shows its error.
pub fn list_table(namespace: &str, records: &[(String, Result<Record, StateError>)]) -> String {
    let short = |s: &Option<String>| {
        s.as_deref()
            .map(|s| s[..s.len().min(12)].to_string())
            .unwrap_or_else(|| "-".into())
    };
    let header = [
        "WAVESET", "PHASE", "TARGET", "APPLIED", "WAVES", "OBJECTS", "DRIFT", "UPDATED", "MESSAGE",
    ]
    .map(String::from);
    let rows: Vec<[String; 9]> = records
        .iter()
        .map(|(name, r)| match r {
            Ok(r) => {
                let done = r
                    .waves
                    .iter()
                    .filter(|w| matches!(w.status, WaveStatus::Completed | WaveStatus::Skipped))
                    .count();
                [
                    name.clone(),
                    r.phase.as_str().to_string(),
                    short(&r.target_revision),
                    short(&r.applied_revision),
                    format!("{done}/{}", r.waves.len()),
                    r.inventory.len().to_string(),
                    r.drift.as_ref().map_or(0, |d| d.objects).to_string(),
                    r.updated.clone().unwrap_or_else(|| "-".into()),
                    r.message
                        .as_deref()
                        .and_then(|m| m.lines().next())
                        .unwrap_or_default()
                        .to_string(),
                ]
            }
            Err(e) => {
                let mut row = [
                    "-".to_string(),
                    "-".into(),
                    "-".into(),
                    "-".into(),
                    "-".into(),
                    "-".into(),
                    "-".into(),
                    "-".into(),
                    e.to_string(),
                ];
                row[0] = name.clone();
                row[1] = "Unreadable".into();
                row
            }
        })
        .collect();
    let mut widths = header.clone().map(|h| h.len());
    for row in &rows {
        for (i, c) in row.iter().enumerate() {
            widths[i] = widths[i].max(c.chars().count());
        }
    }
    let mut out = format!(
        "{} WaveSet records in namespace {namespace} (--waveset NAME shows one):\n\n",
        records.len()
    );
    for row in std::iter::once(&header).chain(rows.iter()) {
        let cells: Vec<String> = row
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{c:<w$}", w = widths[i]))
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out
}

/// Every record of a namespace as JSON: `{"records": [...]}`, each as
/// [`json`] gives it, an unreadable one as `{"waveset", "error"}`.
///
/// # Errors
/// When a record cannot be serialized.
pub fn list_json(
    records: &[(String, Result<Record, StateError>)],
) -> Result<serde_json::Value, serde_json::Error> {
    let items = records
        .iter()
        .map(|(name, r)| match r {
            Ok(r) => json(r),
            Err(e) => Ok(serde_json::json!({"waveset": name, "error": e.to_string()})),
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(serde_json::json!({ "records": items }))
}

/// The record as JSON, inventory included as a count per wave.
///
/// # Errors
/// When the record cannot be serialized.
pub fn json(r: &Record) -> Result<serde_json::Value, serde_json::Error> {
    let mut v = serde_json::to_value(r)?;
    let counts: serde_json::Map<String, serde_json::Value> = r
        .inventory
        .waves
        .iter()
        .map(|(k, refs)| (k.clone(), refs.len().into()))
        .collect();
    v["inventory"] = serde_json::Value::Object(counts);
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::Phase;

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
