//! The report as people and scripts read it: one line per finding
//! (`file:line: [check] message`, the form editors and pre-commit jump to)
//! and a summary line; or one JSON document.

use super::{Finding, Report};
use std::collections::BTreeSet;

/// The text output: one line per finding, then the summary.
pub fn text(report: &Report) -> String {
    let several = report.clusters.len() > 1;
    let mut out = String::new();
    for f in &report.findings {
        out.push_str(&format!(
            "{}:{}: [{}] {}",
            f.file, f.line, f.check, f.message
        ));
        if let (true, Some(cluster)) = (several, &f.cluster) {
            out.push_str(&format!(" (cluster {cluster})"));
        }
        out.push('\n');
    }
    for line in summary(report) {
        out.push_str(&line);
        out.push('\n');
    }
    out
}

/// The summary: `N errors in M files`, or one `valid: K waves, N objects`
/// line per cluster.
fn summary(report: &Report) -> Vec<String> {
    if !report.valid() {
        let files: BTreeSet<&str> = report.findings.iter().map(|f| f.file.as_str()).collect();
        return vec![format!(
            "{} in {}",
            plural(report.findings.len(), "error"),
            plural(files.len(), "file")
        )];
    }
    report
        .clusters
        .iter()
        .map(|c| {
            let mut line = format!(
                "valid: {}, {}",
                plural(c.waves.unwrap_or_default(), "wave"),
                plural(c.objects.unwrap_or_default(), "object")
            );
            if let Some(name) = &c.name {
                line.push_str(&format!(" (cluster {name})"));
            }
            line
        })
        .collect()
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

/// The JSON output: `valid`, `errors` (each with `file`, `line`, `check`,
/// `object`, `cluster`, `message`), `clusters` and `summary`.
pub fn json(report: &Report) -> String {
    let errors: Vec<&Finding> = report.findings.iter().collect();
    let doc = serde_json::json!({
        "valid": report.valid(),
        "errors": errors,
        "clusters": report.clusters,
        "summary": summary(report).join("\n"),
    });
    let mut text =
        serde_json::to_string_pretty(&doc).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validate::{Check, ClusterResult};

    fn report(findings: Vec<Finding>) -> Report {
        let cluster = |name: &str, valid| ClusterResult {
            name: Some(name.into()),
            valid,
            waves: valid.then_some(5),
            objects: valid.then_some(1),
        };
        Report {
            clusters: vec![cluster("east", findings.is_empty()), cluster("west", true)],
            findings,
        }
    }

    #[test]
    fn text_is_one_line_per_finding_then_a_summary() {
        let mut f = Finding::new("w/a.yaml", 3, Check::Identity, "object has no kind");
        f.cluster = Some("east".into());
        let g = Finding::new("wavesync.yaml", 9, Check::Schema, "spec.waves[0]: bad");
        assert_eq!(
            text(&report(vec![f, g])),
            "w/a.yaml:3: [identity] object has no kind (cluster east)\n\
             wavesync.yaml:9: [schema] spec.waves[0]: bad\n\
             2 errors in 2 files\n"
        );
        assert_eq!(
            text(&report(vec![])),
            "valid: 5 waves, 1 object (cluster east)\nvalid: 5 waves, 1 object (cluster west)\n"
        );
    }

    #[test]
    fn json_has_the_documented_fields() {
        let f = Finding::new("w/a.yaml", 3, Check::CrdOrder, "m").about("Widget/x");
        let v: serde_json::Value = serde_json::from_str(&json(&report(vec![f]))).expect("json");
        assert_eq!(v["valid"], false);
        assert_eq!(
            v["errors"][0],
            serde_json::json!({"file": "w/a.yaml", "line": 3, "check": "crd-order",
                "object": "Widget/x", "cluster": null, "message": "m"})
        );
        assert_eq!(v["clusters"][1]["name"], "west");
        assert_eq!(v["summary"], "1 error in 1 file");
    }
}
