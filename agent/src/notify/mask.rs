//! Keeping secrets out of payloads and logs, whatever the producer of a
//! notice did: a Secret's field values are masked, the sink's own URL,
//! token and key are scrubbed from every string of a payload, as is the
//! userinfo of any URL in a message (a Git URL with a token in an error),
//! and URLs are logged as `scheme://host/…` only.

use serde_json::Value;

use super::notice::FieldChange;
use crate::model::ObjRef;

/// What a masked value or scrubbed secret becomes.
pub const MASK: &str = "***";

/// Secrets shorter than this are not scrubbed from text: masking every `/`
/// or `ab` would garble messages and protect nothing.
const MIN_SECRET_LEN: usize = 8;

/// Whether the object's values are never shown: a Secret, of any group.
pub fn is_secret(object: &ObjRef) -> bool {
    crate::secrets::is_secret_ref(object)
}

/// The changes as a payload may show them: for a Secret, every old and new
/// value masked (its `data` and `stringData`, and anything else: the values
/// of a Secret are not worth the risk).
pub fn fields(object: &ObjRef, fields: &[FieldChange]) -> Vec<FieldChange> {
    let secret = is_secret(object);
    fields
        .iter()
        .map(|f| {
            let mut f = f.clone();
            if secret {
                let mask = |v: Option<Value>| v.map(|_| Value::String(MASK.into()));
                f.old = mask(f.old);
                f.new = mask(f.new);
            }
            f
        })
        .collect()
}

/// A URL as logs and errors show it: `https://hooks.slack.com/…`, without
/// userinfo, path or query (a Slack URL's path is its secret).
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return "(not a URL)".to_string();
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..end];
    let host = authority.rsplit('@').next().unwrap_or(authority);
    let tail = if end < rest.len() && rest.len() > end + 1 {
        "/…"
    } else {
        ""
    };
    format!("{scheme}://{host}{tail}")
}

/// Every `scheme://userinfo@` in `text` with the userinfo masked (the
/// same redaction as the Git source's messages).
pub fn scrub_userinfo(text: &str) -> String {
    crate::source::redact_text(text)
}

/// Removes one sink's secrets (its URL, the URL's path, its token, its
/// HMAC key) and any URL userinfo from text and payloads.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Scrubber {
    secrets: Vec<String>,
}

impl std::fmt::Debug for Scrubber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Scrubber({} secrets)", self.secrets.len())
    }
}

impl Scrubber {
    /// A scrubber of these secrets (short ones are ignored).
    pub fn new(secrets: impl IntoIterator<Item = String>) -> Scrubber {
        let mut secrets: Vec<String> = secrets
            .into_iter()
            .filter(|s| s.len() >= MIN_SECRET_LEN)
            .collect();
        // Longest first, so that a secret holding another is masked whole.
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        secrets.dedup();
        Scrubber { secrets }
    }

    /// The secrets of a URL: the whole of it, and its path and query.
    pub fn url_secrets(url: &str) -> Vec<String> {
        let mut out = vec![url.to_string()];
        if let Some((_, rest)) = url.split_once("://")
            && let Some(i) = rest.find(['/', '?'])
        {
            out.push(rest[i..].to_string());
        }
        out
    }

    /// `text` without userinfo and without any of the secrets.
    pub fn text(&self, text: &str) -> String {
        let mut out = scrub_userinfo(text);
        for s in &self.secrets {
            if out.contains(s.as_str()) {
                out = out.replace(s.as_str(), MASK);
            }
        }
        out
    }

    /// Every string of a payload, keys included, scrubbed.
    pub fn json(&self, value: &mut Value) {
        match value {
            Value::String(s) => {
                let clean = self.text(s);
                if clean != *s {
                    *s = clean;
                }
            }
            Value::Array(items) => items.iter_mut().for_each(|v| self.json(v)),
            Value::Object(map) => {
                let dirty: Vec<String> = map
                    .keys()
                    .filter(|k| self.text(k) != **k)
                    .cloned()
                    .collect();
                for k in dirty {
                    if let Some(v) = map.remove(&k) {
                        map.insert(self.text(&k), v);
                    }
                }
                map.values_mut().for_each(|v| self.json(v));
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_secrets_values_are_masked_and_others_kept() {
        let change = FieldChange {
            path: "data.password".into(),
            manager: Some("kubectl-edit".into()),
            operation: Some("Update".into()),
            subresource: None,
            time: None,
            old: Some(json!("aHVudGVyMg==")),
            new: Some(json!("c2VjcmV0")),
        };
        let secret = ObjRef {
            api_version: "v1".into(),
            kind: "Secret".into(),
            namespace: "shop".into(),
            name: "db".into(),
        };
        let masked = fields(&secret, std::slice::from_ref(&change));
        assert_eq!(masked[0].old, Some(json!("***")));
        assert_eq!(masked[0].new, Some(json!("***")));
        assert_eq!(masked[0].path, "data.password", "the key is not a secret");
        let config_map = ObjRef {
            kind: "ConfigMap".into(),
            ..secret
        };
        assert_eq!(
            fields(&config_map, std::slice::from_ref(&change)),
            vec![change]
        );
    }

    #[test]
    fn urls_are_logged_as_scheme_and_host() {
        assert_eq!(
            redact_url("https://hooks.slack.com/services/T0/B0/XXXX"),
            "https://hooks.slack.com/…"
        );
        assert_eq!(
            redact_url("http://admin:pw@alertmanager:9093/"),
            "http://alertmanager:9093"
        );
        assert_eq!(redact_url("http://am:9093"), "http://am:9093");
        assert_eq!(redact_url("garbage"), "(not a URL)");
    }

    #[test]
    fn the_sinks_secrets_and_url_userinfo_are_scrubbed_everywhere() {
        let url = "https://hooks.slack.com/services/T0/B0/XXXXSECRET";
        let s = Scrubber::new(
            Scrubber::url_secrets(url)
                .into_iter()
                .chain(["tok-1234567890".to_string(), "ab".to_string()]),
        );
        let mut payload = json!({
            "text": format!("failed posting to {url} with tok-1234567890"),
            "nested": [{"m": "fetch https://x-access-token:ghp_abc@github.com/o/r failed"}],
            "/services/T0/B0/XXXXSECRET": "ab",
        });
        s.json(&mut payload);
        assert_eq!(
            payload,
            json!({
                "text": "failed posting to *** with ***",
                "nested": [{"m": "fetch https://***@github.com/o/r failed"}],
                "***": "ab",
            })
        );
    }
}
