//! Resolving `spec.notifications` (`schema.rs` → `types.rs`): where alerts
//! go. Each field is checked on its own and every error recorded, so that
//! `wavesync validate` reports them all and [`load()`](super::load) the
//! first.
//!
//! The rules keep secrets out of Git: an inline `url` may not carry
//! credentials and a Slack URL (which *is* the credential) must come from a
//! file or a Secret; tokens and HMAC keys are only ever named by file; an
//! `Authorization` header cannot be written inline. Files are absolute
//! paths on the agent's filesystem (mounted Secrets), read when the
//! notifier starts, not here.

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

use serde_saphyr::Spanned;

use super::errors::ConfigError;
use super::resolve::{Ctx, Names, field};
use super::schema::{self, Text};
use super::types::{NotificationEvent, NotificationSink, SinkType, UrlSource};
use super::yaml::loc_of;

/// Headers wavesync sets itself, which `headers` and `tokenHeader` may not.
const RESERVED_HEADERS: [&str; 7] = [
    "host",
    "content-type",
    "content-length",
    "transfer-encoding",
    "connection",
    "user-agent",
    "x-wavesync-signature-256",
];

/// Labels every alert already has, which `labels` may not replace.
const RESERVED_LABELS: [&str; 8] = [
    "alertname",
    "waveset",
    "cluster",
    "wave",
    "severity",
    "kind",
    "namespace",
    "name",
];

/// Resolves every sink, checking that names are unique; a sink with an
/// error is recorded in `errors` and left out.
pub(crate) fn notifications(
    ctx: &Ctx<'_>,
    raw: &[Spanned<schema::Notification>],
    errors: &mut Vec<ConfigError>,
) -> Vec<NotificationSink> {
    let mut names = Names::new("notification");
    let mut out = Vec::with_capacity(raw.len());
    for (i, n) in raw.iter().enumerate() {
        let path = format!("spec.notifications[{i}]");
        let before = errors.len();
        let resolved = sink(ctx, n, &path, errors);
        if let Some(s) = &resolved {
            let name_path = field(&path, "name");
            if let Err(e) = names.insert(ctx, &s.name, &n.value.name, &name_path) {
                errors.push(e);
            }
        }
        if errors.len() == before {
            out.extend(resolved);
        }
    }
    out
}

/// Records the error of `result`, if any.
fn keep<T>(result: Result<T, ConfigError>, errors: &mut Vec<ConfigError>) -> Option<T> {
    result.map_err(|e| errors.push(e)).ok()
}

/// Resolves one sink; `None` when any of its fields is wrong.
fn sink(
    ctx: &Ctx<'_>,
    n: &Spanned<schema::Notification>,
    path: &str,
    errors: &mut Vec<ConfigError>,
) -> Option<NotificationSink> {
    let raw = &n.value;
    let before = errors.len();
    let name = keep(ctx.name(&raw.name, &field(path, "name")), errors);
    let kind = keep(sink_type(ctx, &raw.kind, &field(path, "type")), errors);
    let url = kind.and_then(|kind| keep(url(ctx, n, kind, path), errors));
    let only = |allowed: &[SinkType], present: Option<(u32, u32)>, name: &str| match (kind, present)
    {
        (Some(k), Some(at)) if !allowed.contains(&k) => {
            let types: Vec<&str> = allowed.iter().map(|t| t.as_str()).collect();
            let msg = format!(
                "`{name}` is only for type {}{}",
                types.join(" and "),
                if k == SinkType::Slack && name != "labels" && name != "repeatInterval" {
                    " (a Slack URL is its own credential)"
                } else {
                    ""
                }
            );
            Err(ctx.invalid(Some(at), &field(path, name), msg))
        }
        _ => Ok(()),
    };
    use SinkType::{Alertmanager, Webhook};
    let checks = [
        only(
            &[Webhook, Alertmanager],
            raw.token_file.as_ref().and_then(loc_of),
            "tokenFile",
        ),
        only(
            &[Webhook, Alertmanager],
            raw.token_header.as_ref().and_then(loc_of),
            "tokenHeader",
        ),
        only(
            &[Webhook],
            raw.hmac_secret_file.as_ref().and_then(loc_of),
            "hmacSecretFile",
        ),
        only(
            &[Webhook, Alertmanager],
            raw.headers.as_ref().and_then(loc_of),
            "headers",
        ),
        only(
            &[Alertmanager],
            raw.labels.as_ref().and_then(loc_of),
            "labels",
        ),
        only(
            &[Alertmanager],
            raw.repeat_interval.as_ref().and_then(loc_of),
            "repeatInterval",
        ),
    ];
    for check in checks {
        keep(check, errors);
    }
    let token_file = opt_file(
        ctx,
        raw.token_file.as_ref(),
        &field(path, "tokenFile"),
        errors,
    );
    let token_header = raw.token_header.as_ref().and_then(|t| {
        let p = field(path, "tokenHeader");
        if raw.token_file.is_none() {
            let msg = "`tokenHeader` names the header of the token in `tokenFile`; add `tokenFile`";
            errors.push(ctx.invalid(loc_of(t), &p, msg));
            return None;
        }
        keep(header_name(ctx, t, &p), errors)
    });
    let hmac_secret_file = opt_file(
        ctx,
        raw.hmac_secret_file.as_ref(),
        &field(path, "hmacSecretFile"),
        errors,
    );
    let headers = raw
        .headers
        .as_ref()
        .map(|h| headers(ctx, h, &field(path, "headers"), errors))
        .unwrap_or_default();
    let labels = raw
        .labels
        .as_ref()
        .map(|l| labels(ctx, l, &field(path, "labels"), errors))
        .unwrap_or_default();
    let events = match &raw.events {
        None => Some(NotificationEvent::defaults()),
        Some(list) => events(ctx, list, &field(path, "events"), errors),
    };
    let repeat_interval = match &raw.repeat_interval {
        None => Some(NotificationSink::DEFAULT_REPEAT_INTERVAL),
        Some(t) => {
            let p = field(path, "repeatInterval");
            keep(ctx.duration(t, &p), errors).and_then(|d| {
                if d.is_zero() {
                    errors.push(ctx.invalid(loc_of(t), &p, "must be longer than 0s"));
                    None
                } else {
                    Some(d)
                }
            })
        }
    };
    if errors.len() != before {
        return None;
    }
    Some(NotificationSink {
        name: name?,
        kind: kind?,
        url: url?,
        token_file,
        token_header,
        hmac_secret_file,
        headers,
        labels,
        events: events?,
        repeat_interval: repeat_interval?,
    })
}

/// `type`.
fn sink_type(ctx: &Ctx<'_>, t: &Text, path: &str) -> Result<SinkType, ConfigError> {
    let s = ctx.required(t, path)?;
    SinkType::parse(&s).ok_or_else(|| {
        let known: Vec<&str> = SinkType::ALL.iter().map(|k| k.as_str()).collect();
        let msg = format!("unknown type `{s}`, expected one of {}", known.join(", "));
        ctx.invalid(loc_of(t), path, msg)
    })
}

/// Exactly one of `url`, `urlFile` and `urlSecretRef`.
fn url(
    ctx: &Ctx<'_>,
    n: &Spanned<schema::Notification>,
    kind: SinkType,
    path: &str,
) -> Result<UrlSource, ConfigError> {
    let raw = &n.value;
    let written: Vec<(&str, Option<(u32, u32)>)> = [
        ("url", raw.url.as_ref().map(loc_of)),
        ("urlFile", raw.url_file.as_ref().map(loc_of)),
        ("urlSecretRef", raw.url_secret_ref.as_ref().map(loc_of)),
    ]
    .into_iter()
    .filter_map(|(name, at)| at.map(|at| (name, at)))
    .collect();
    match written.as_slice() {
        [] => Err(ctx.invalid(
            loc_of(n),
            path,
            "missing field `url`: write `urlFile` (a file, e.g. a mounted Secret), \
             `urlSecretRef` (a Secret in the agent's namespace) or, for a URL that is \
             not a secret, `url`",
        )),
        [_] => {
            if let Some(t) = &raw.url {
                inline_url(ctx, t, kind, &field(path, "url"))
            } else if let Some(t) = &raw.url_file {
                Ok(UrlSource::File(file(ctx, t, &field(path, "urlFile"))?))
            } else if let Some(r) = &raw.url_secret_ref {
                secret_ref(ctx, r, &field(path, "urlSecretRef"))
            } else {
                Err(ctx.invalid(loc_of(n), path, "missing field `url`"))
            }
        }
        [_, (second, at), ..] => Err(ctx.invalid(
            *at,
            &field(path, second),
            "`url`, `urlFile` and `urlSecretRef` exclude each other: write one",
        )),
    }
}

/// An inline `url`: not for Slack, and without credentials.
fn inline_url(
    ctx: &Ctx<'_>,
    t: &Text,
    kind: SinkType,
    path: &str,
) -> Result<UrlSource, ConfigError> {
    if kind == SinkType::Slack {
        let msg = "a Slack webhook URL is a secret (anyone who has it can post): \
                   do not write it in Git; use `urlFile` or `urlSecretRef`";
        return Err(ctx.invalid(loc_of(t), path, msg));
    }
    let s = ctx.required(t, path)?;
    if let Some(problem) = url_problem(&s) {
        return Err(ctx.invalid(loc_of(t), path, problem));
    }
    if has_userinfo(&s) {
        let msg = "credentials in a URL in Git are not secret: put the token in `tokenFile` \
                   (or the whole URL in `urlFile` or `urlSecretRef`)";
        return Err(ctx.invalid(loc_of(t), path, msg));
    }
    Ok(UrlSource::Inline(s))
}

/// What is wrong with a sink URL, if anything; the message never quotes
/// the URL (it may be a secret).
pub(crate) fn url_problem(url: &str) -> Option<&'static str> {
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Some("the URL contains spaces or control characters");
    }
    let lower = url.get(..8).unwrap_or(url).to_ascii_lowercase();
    let rest = if lower.starts_with("https://") {
        &url[8..]
    } else if lower.starts_with("http://") {
        &url[7..]
    } else {
        return Some("the URL must start with http:// or https://");
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = authority.rsplit('@').next().unwrap_or("");
    if host.is_empty() || host.starts_with(':') {
        return Some("the URL has no host");
    }
    None
}

/// Whether the URL carries `user[:password]@`.
fn has_userinfo(url: &str) -> bool {
    url.split_once("://")
        .map(|(_, rest)| rest.split(['/', '?', '#']).next().unwrap_or(""))
        .is_some_and(|authority| authority.contains('@'))
}

/// A file on the agent's filesystem: absolute, without `..`.
fn file(ctx: &Ctx<'_>, t: &Text, path: &str) -> Result<PathBuf, ConfigError> {
    let s = ctx.required(t, path)?;
    let p = Path::new(&s);
    if !p.is_absolute() || p.components().any(|c| c == Component::ParentDir) {
        let msg = "must be an absolute path on the agent's filesystem, without `..` \
                   (a mounted Secret, e.g. /etc/wavesync/notify/token)";
        return Err(ctx.invalid(loc_of(t), path, msg));
    }
    Ok(p.to_path_buf())
}

/// An optional file.
fn opt_file(
    ctx: &Ctx<'_>,
    t: Option<&Text>,
    path: &str,
    errors: &mut Vec<ConfigError>,
) -> Option<PathBuf> {
    t.and_then(|t| keep(file(ctx, t, path), errors))
}

/// `urlSecretRef`.
fn secret_ref(
    ctx: &Ctx<'_>,
    r: &Spanned<schema::SecretKeyRef>,
    path: &str,
) -> Result<UrlSource, ConfigError> {
    let name_path = field(path, "name");
    let name = ctx.required(&r.value.name, &name_path)?;
    let subdomain = name.len() <= 253 && name.split('.').all(super::resolve::is_dns_label);
    if !subdomain {
        let msg = format!("\"{name}\" is not a valid Secret name");
        return Err(ctx.invalid(loc_of(&r.value.name), &name_path, msg));
    }
    let key_path = field(path, "key");
    let key = ctx.required(&r.value.key, &key_path)?;
    let key_ok = key
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if !key_ok {
        let msg =
            format!("\"{key}\" is not a valid Secret key: use letters, digits, '-', '_', '.'");
        return Err(ctx.invalid(loc_of(&r.value.key), &key_path, msg));
    }
    Ok(UrlSource::SecretRef { name, key })
}

/// Whether `name` is an HTTP header name (an RFC 9110 token).
fn is_header_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c))
}

/// A header name that wavesync does not set itself.
fn header_name(ctx: &Ctx<'_>, t: &Text, path: &str) -> Result<String, ConfigError> {
    let s = ctx.required(t, path)?;
    header_name_problem(&s).map_or(Ok(s), |msg| Err(ctx.invalid(loc_of(t), path, msg)))
}

/// Why `name` cannot be a configured header, if it cannot.
fn header_name_problem(name: &str) -> Option<String> {
    if !is_header_name(name) {
        return Some(format!("\"{name}\" is not a valid HTTP header name"));
    }
    let lower = name.to_ascii_lowercase();
    if RESERVED_HEADERS.contains(&lower.as_str()) {
        return Some(format!("`{name}` is set by wavesync"));
    }
    None
}

/// `headers`: not secrets (they are in Git), so no `Authorization`.
fn headers(
    ctx: &Ctx<'_>,
    raw: &Spanned<BTreeMap<String, Text>>,
    path: &str,
    errors: &mut Vec<ConfigError>,
) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for (name, value) in &raw.value {
        let p = field(path, name);
        let problem = if name.eq_ignore_ascii_case("authorization") {
            Some(
                "an Authorization header in Git is not secret: put the token in `tokenFile`"
                    .to_string(),
            )
        } else {
            header_name_problem(name)
        };
        if let Some(msg) = problem {
            errors.push(ctx.invalid(loc_of(value), &p, msg));
            continue;
        }
        let Some(v) = keep(ctx.text(value, &p), errors) else {
            continue;
        };
        if v.chars().any(|c| c.is_control()) {
            errors.push(ctx.invalid(
                loc_of(value),
                &p,
                "a header value cannot hold control characters",
            ));
            continue;
        }
        out.insert(name.clone(), v);
    }
    out
}

/// Whether `name` is a Prometheus label name users may set.
fn is_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !name.starts_with("__")
}

/// `labels` (Alertmanager).
fn labels(
    ctx: &Ctx<'_>,
    raw: &Spanned<BTreeMap<String, Text>>,
    path: &str,
    errors: &mut Vec<ConfigError>,
) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for (name, value) in &raw.value {
        let p = field(path, name);
        if !is_label_name(name) {
            let msg = format!(
                "\"{name}\" is not a valid label name: use letters, digits and '_', \
                 not starting with a digit or \"__\""
            );
            errors.push(ctx.invalid(loc_of(value), &p, msg));
            continue;
        }
        if RESERVED_LABELS.contains(&name.as_str()) {
            let msg = format!("the label `{name}` is set by wavesync");
            errors.push(ctx.invalid(loc_of(value), &p, msg));
            continue;
        }
        if let Some(v) = keep(ctx.required(value, &p), errors) {
            out.insert(name.clone(), v);
        }
    }
    out
}

/// `events`: known names, at least one.
fn events(
    ctx: &Ctx<'_>,
    list: &Spanned<Vec<Text>>,
    path: &str,
    errors: &mut Vec<ConfigError>,
) -> Option<Vec<NotificationEvent>> {
    if list.value.is_empty() {
        let msg = "lists no events: the sink would never be sent anything \
                   (leave `events` out for the default)";
        errors.push(ctx.invalid(loc_of(list), path, msg));
        return None;
    }
    let before = errors.len();
    let mut out = Vec::new();
    for (i, t) in list.value.iter().enumerate() {
        let p = format!("{path}[{i}]");
        let Some(name) = keep(ctx.required(t, &p), errors) else {
            continue;
        };
        match NotificationEvent::parse(&name) {
            Some(e) if !out.contains(&e) => out.push(e),
            Some(_) => {}
            None => {
                let msg = format!(
                    "unknown event `{name}`, expected one of {}",
                    NotificationEvent::names()
                );
                errors.push(ctx.invalid(loc_of(t), &p, msg));
            }
        }
    }
    (errors.len() == before).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_checked_without_quoting_them() {
        assert_eq!(url_problem("https://hooks.example.com/x"), None);
        assert_eq!(url_problem("http://alertmanager:9093"), None);
        assert_eq!(url_problem("HTTPS://a.b"), None);
        assert!(url_problem("ftp://a.b").is_some());
        assert!(url_problem("https://").is_some());
        assert!(url_problem("https://:80/x").is_some());
        assert!(url_problem("https://a b").is_some());
        assert!(has_userinfo("https://user:pw@host/x"));
        assert!(!has_userinfo("https://host/x@y"));
    }

    #[test]
    fn names_of_headers_and_labels() {
        assert!(is_header_name("X-Api-Key"));
        assert!(!is_header_name("X Api"));
        assert!(header_name_problem("Content-Type").is_some());
        assert!(is_label_name("team"));
        assert!(is_label_name("_x1"));
        assert!(!is_label_name("1x"));
        assert!(!is_label_name("__meta"));
        assert!(!is_label_name("a-b"));
    }
}
