//! YAML request bodies (server-side apply) to JSON, with go-yaml-style errors.

use serde_json::Value;

/// Parses one YAML document into JSON.
///
/// # Errors
/// A message in the form kube-apiserver's YAML decoder gives (`yaml: line N: ...`).
pub fn to_json(text: &str) -> Result<Value, String> {
    serde_saphyr::from_str::<Value>(text).map_err(|e| go_yaml_message(&e.to_string()))
}

/// Rewrites a parser error in go-yaml's words where the two parsers agree on the
/// cause (an unterminated flow collection is go-yaml's "did not find expected
/// node content"); otherwise keeps saphyr's text after the line number.
fn go_yaml_message(msg: &str) -> String {
    let line = msg
        .split("line ")
        .nth(1)
        .and_then(|s| s.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|s| s.parse::<u32>().ok())
        .unwrap_or(1);
    let lower = msg.to_lowercase();
    let what = if lower.contains("flow")
        || lower.contains("unclosed")
        || lower.contains("end of stream")
        || lower.contains("unexpected end")
        || lower.contains("while parsing a node")
    {
        "did not find expected node content".to_string()
    } else if lower.contains("mapping values are not allowed") {
        "mapping values are not allowed in this context".to_string()
    } else {
        msg.lines().next().unwrap_or(msg).to_string()
    };
    format!("yaml: line {line}: {what}")
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_json_and_yaml() {
        assert_eq!(
            super::to_json("a: 1\nb: [x]\n").ok(),
            Some(serde_json::json!({"a": 1, "b": ["x"]}))
        );
        assert_eq!(
            super::to_json("{\"a\": true}").ok(),
            Some(serde_json::json!({"a": true}))
        );
    }

    #[test]
    fn unterminated_flow_reads_like_go_yaml() {
        assert_eq!(
            super::to_json("{not yaml: [").err().as_deref(),
            Some("yaml: line 1: did not find expected node content")
        );
    }
}
