//! JSON manifests: one or more concatenated JSON values per file, as kubectl
//! reads them, with numbers normalized the way kubectl sends them.

use super::RenderError;
use super::scalar::float_value;
use super::yaml::Document;
use serde_json::Value;
use std::path::Path;

/// Parses a stream of JSON values (`{…}{…}` or one per line).
///
/// # Errors
/// [`RenderError::Syntax`] with the file, line and column.
pub(crate) fn documents(text: &str, file: &Path) -> Result<Vec<Document>, RenderError> {
    let syntax = |line, column, message: String| RenderError::Syntax {
        file: file.to_path_buf(),
        line,
        column,
        message,
    };
    let mut stream = serde_json::Deserializer::from_str(text).into_iter::<Value>();
    let mut docs = Vec::new();
    loop {
        let start = stream.byte_offset();
        let Some(next) = stream.next() else { break };
        let value = next.map_err(|e| syntax(e.line(), e.column(), e.to_string()))?;
        let skipped = text
            .get(start..)
            .map_or(0, |rest| rest.len() - rest.trim_start().len());
        let line = line_of(text, start + skipped);
        let value = normalize(value).map_err(|m| syntax(line, 1, m))?;
        docs.push(Document {
            index: docs.len(),
            line,
            value,
        });
    }
    Ok(docs)
}

/// 1-based line of a byte offset.
fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()
        .iter()
        .take(offset)
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// Integral floats become integers and integers above `i64::MAX` floats, as
/// kubectl's decoding into unstructured objects does.
fn normalize(value: Value) -> Result<Value, String> {
    Ok(match value {
        Value::Number(n) if n.is_f64() || n.is_u64() && n.as_i64().is_none() => {
            float_value(n.as_f64().unwrap_or(f64::NAN))?
        }
        Value::Array(items) => {
            Value::Array(items.into_iter().map(normalize).collect::<Result<_, _>>()?)
        }
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| Ok((k, normalize(v)?)))
                .collect::<Result<_, String>>()?,
        ),
        other => other,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_concatenated_values_with_their_lines() {
        let d = documents(
            "{\"a\": 1.0}\n\n  {\"b\": 18446744073709551615}",
            Path::new("x.json"),
        )
        .expect("parses");
        assert_eq!(d.len(), 2);
        assert_eq!((d[0].line, &d[0].value), (1, &json!({"a": 1})));
        assert_eq!(
            (d[1].line, &d[1].value),
            (3, &json!({"b": 18446744073709551615.0_f64}))
        );
    }

    #[test]
    fn malformed_json_names_line_and_column() {
        let e = documents("{\n  \"a\": }\n", Path::new("x.json")).expect_err("malformed");
        assert!(e.to_string().starts_with("x.json:2:"), "{e}");
    }
}
