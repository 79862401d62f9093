//! A chart's user values: its values files in order, then the inline values,
//! deep-merged as Helm merges `-f` files and `--set` (maps key by key,
//! everything else replaced; a `null` is kept, so that Helm removes the
//! chart's default for that key).

use super::super::{RenderError, yaml};
use crate::config::merge_values;
use serde_json::{Map, Value};
use std::path::Path;

/// Reads `files` (repository-relative; placeholders substituted first) and
/// merges them, then `inline`, into one map.
///
/// # Errors
/// A file that cannot be read, has a bad placeholder, is not YAML, or is not
/// a mapping.
pub fn layered(
    repo_root: &Path,
    files: &[String],
    inline: &Map<String, Value>,
    substitute: &dyn Fn(&str, &Path) -> Result<String, String>,
) -> Result<Value, RenderError> {
    let mut merged = Value::Object(Map::new());
    for rel in files {
        let rel = Path::new(rel);
        let text =
            std::fs::read_to_string(repo_root.join(rel)).map_err(|source| RenderError::Io {
                path: rel.to_path_buf(),
                source,
            })?;
        let text = substitute(&text, rel).map_err(|message| RenderError::Substitute {
            file: rel.to_path_buf(),
            message,
        })?;
        // Helm reads values as YAML 1.1 (sigs.k8s.io/yaml), like kubectl
        // reads manifests: the same reader gives the same `yes`/`on`/octals.
        let docs = yaml::documents(&text, rel)?;
        match docs.into_iter().next().map(|d| d.value) {
            None | Some(Value::Null) => {}
            Some(v @ Value::Object(_)) => merge_values(&mut merged, v),
            Some(_) => {
                return Err(RenderError::NotAMapping {
                    file: rel.to_path_buf(),
                    line: 1,
                    doc: 0,
                    found: "not a mapping of values",
                });
            }
        }
    }
    merge_values(&mut merged, Value::Object(inline.clone()));
    Ok(merged)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn files_then_inline_merge_deeply() {
        let dir = tempfile::tempdir().expect("tmp");
        std::fs::write(
            dir.path().join("a.yaml"),
            "image: {repository: r, tag: \"1\"}\nreplicas: 1\nflag: yes\n",
        )
        .expect("write");
        std::fs::write(
            dir.path().join("b.yaml"),
            "image: {tag: \"2\"}\nextra: null\n",
        )
        .expect("write");
        let inline = json!({"replicas": 3}).as_object().cloned().expect("map");
        let v = layered(
            dir.path(),
            &["a.yaml".into(), "b.yaml".into()],
            &inline,
            &crate::render::verbatim,
        )
        .expect("values");
        assert_eq!(
            v,
            json!({"image": {"repository": "r", "tag": "2"}, "replicas": 3, "flag": true, "extra": null})
        );
    }
}
