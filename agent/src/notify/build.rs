//! From configuration to sinks ready to post: `spec.notifications` of
//! `wavesync.yaml` and the `--notify-…` flags of `wavesync run`, with every
//! URL, token and HMAC key read from its file or Secret. Run when the
//! notifier starts and when the configuration changes (a rotated Secret is
//! read again then).
//!
//! A file named in `wavesync.yaml` must be under `--notify-files-dir`
//! (default `/etc/wavesync/notify`): whoever can push to the repository
//! must not be able to make the agent send any file it can read — its
//! service-account token, the Git credentials — as a token to a URL of
//! their choosing. Files given by flags are the operator's own choice.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine as _;
use hyper::Uri;
use hyper::header::{AUTHORIZATION, HeaderName, HeaderValue};

use super::error::NotifyError;
use super::http::Target;
use super::mask::{self, Scrubber};
use crate::config::{NotificationEvent, NotificationSink, SinkType, UrlSource};

/// Where the files named in `wavesync.yaml` must be, unless told otherwise.
pub const DEFAULT_FILES_DIR: &str = "/etc/wavesync/notify";

/// A sink with everything it needs to post: its URL and secrets read.
/// Printing it shows `scheme://host/…` only.
#[derive(Clone, PartialEq, Eq)]
pub struct ResolvedSink {
    name: String,
    kind: SinkType,
    /// Where bodies are posted (for Alertmanager, `…/api/v2/alerts`),
    /// without userinfo.
    url: String,
    /// The header of the token, or of the URL's userinfo, and its value.
    auth: Option<(String, String)>,
    hmac_key: Option<Vec<u8>>,
    headers: BTreeMap<String, String>,
    labels: BTreeMap<String, String>,
    events: Vec<NotificationEvent>,
    repeat_interval: Duration,
}

impl std::fmt::Debug for ResolvedSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResolvedSink")
            .field("name", &self.name)
            .field("kind", &self.kind)
            .field("url", &mask::redact_url(&self.url))
            .field("auth", &self.auth.as_ref().map(|(h, _)| h))
            .field("signs", &self.hmac_key.is_some())
            .field("headers", &self.headers.keys().collect::<Vec<_>>())
            .field("labels", &self.labels)
            .field("events", &self.events)
            .field("repeat_interval", &self.repeat_interval)
            .finish()
    }
}

impl ResolvedSink {
    /// A sink of `kind` posting to `url` (for Alertmanager, its base URL;
    /// `/api/v2/alerts` is added). Userinfo in the URL becomes a Basic
    /// `Authorization` header. The default events and repeat interval.
    ///
    /// # Errors
    ///
    /// [`NotifyError::InvalidUrl`] when it is not an http(s) URL.
    pub fn new(name: &str, kind: SinkType, url: &str) -> Result<ResolvedSink, NotifyError> {
        Self::from_url(name, kind, url, "the configuration")
    }

    fn from_url(
        name: &str,
        kind: SinkType,
        url: &str,
        from: &str,
    ) -> Result<ResolvedSink, NotifyError> {
        let invalid = |problem: &str| NotifyError::InvalidUrl {
            sink: name.to_string(),
            from: from.to_string(),
            problem: problem.to_string(),
        };
        let url = url.trim();
        if let Some(problem) = crate::config::url_problem(url) {
            return Err(invalid(problem));
        }
        let (url, auth) = split_userinfo(url);
        let mut url = url.to_string();
        if kind == SinkType::Alertmanager && !url.trim_end_matches('/').ends_with("/api/v2/alerts")
        {
            url = format!("{}/api/v2/alerts", url.trim_end_matches('/'));
        }
        url.parse::<Uri>()
            .map_err(|_| invalid("it does not parse as a URL"))?;
        let sink = ResolvedSink {
            name: name.to_string(),
            kind,
            url,
            auth: auth.map(|basic| (AUTHORIZATION.as_str().to_string(), basic)),
            hmac_key: None,
            headers: BTreeMap::new(),
            labels: BTreeMap::new(),
            events: NotificationEvent::defaults(),
            repeat_interval: NotificationSink::DEFAULT_REPEAT_INTERVAL,
        };
        sink.check_headers()?;
        Ok(sink)
    }

    /// Only these events (none: the default ones).
    pub fn with_events(mut self, events: Vec<NotificationEvent>) -> ResolvedSink {
        self.events = if events.is_empty() {
            NotificationEvent::defaults()
        } else {
            events
        };
        self
    }

    /// Sends `token` as `Authorization: Bearer <token>`, or as it is in
    /// `header`.
    ///
    /// # Errors
    ///
    /// [`NotifyError::InvalidHeader`] when it cannot be a header value.
    pub fn with_token(
        mut self,
        token: &str,
        header: Option<&str>,
    ) -> Result<ResolvedSink, NotifyError> {
        let token = token.trim();
        self.auth = Some(match header {
            Some(h) => (h.to_string(), token.to_string()),
            None => (
                AUTHORIZATION.as_str().to_string(),
                format!("Bearer {token}"),
            ),
        });
        self.check_headers()?;
        Ok(self)
    }

    /// Signs every body with HMAC-SHA256 under `key`
    /// (`X-Wavesync-Signature-256: sha256=<hex>`).
    pub fn with_hmac_key(mut self, key: impl Into<Vec<u8>>) -> ResolvedSink {
        self.hmac_key = Some(key.into());
        self
    }

    /// Adds these request headers.
    ///
    /// # Errors
    ///
    /// [`NotifyError::InvalidHeader`] for a name or value HTTP refuses.
    pub fn with_headers(
        mut self,
        headers: BTreeMap<String, String>,
    ) -> Result<ResolvedSink, NotifyError> {
        self.headers.extend(headers);
        self.check_headers()?;
        Ok(self)
    }

    /// Adds these labels to every alert (Alertmanager).
    pub fn with_labels(mut self, labels: BTreeMap<String, String>) -> ResolvedSink {
        self.labels.extend(labels);
        self
    }

    /// Sends firing alerts again this often (Alertmanager).
    pub fn with_repeat_interval(mut self, every: Duration) -> ResolvedSink {
        self.repeat_interval = every.max(Duration::from_millis(10));
        self
    }

    /// The sink's name (the `sink` label of its metrics).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// What the receiver speaks.
    pub fn kind(&self) -> SinkType {
        self.kind
    }

    /// What it is sent.
    pub fn events(&self) -> &[NotificationEvent] {
        &self.events
    }

    /// How often firing alerts are sent again (Alertmanager).
    pub fn repeat_interval(&self) -> Duration {
        self.repeat_interval
    }

    /// The extra alert labels (Alertmanager).
    pub fn labels(&self) -> &BTreeMap<String, String> {
        &self.labels
    }

    /// Where it posts, as logs may show it.
    pub fn redacted_url(&self) -> String {
        mask::redact_url(&self.url)
    }

    /// Whether a notice of `event` is queued for it: those it asks for,
    /// and for Alertmanager also the resolves of the alerts it fired.
    pub(crate) fn wants(&self, event: NotificationEvent) -> bool {
        self.events.contains(&event)
            || (self.kind == SinkType::Alertmanager
                && matches!(
                    event,
                    NotificationEvent::DriftResolved | NotificationEvent::SyncSucceeded
                ))
    }

    /// Every header it sends (auth first), checked.
    fn header_pairs(&self) -> Result<Vec<(HeaderName, HeaderValue)>, NotifyError> {
        let bad = |what: String| NotifyError::InvalidHeader {
            sink: self.name.clone(),
            what,
        };
        let mut out = Vec::new();
        if let Some((name, value)) = &self.auth {
            let name = HeaderName::try_from(name.as_str())
                .map_err(|_| bad(format!("header name {name}")))?;
            let mut value =
                HeaderValue::try_from(value.as_str()).map_err(|_| bad("token".into()))?;
            value.set_sensitive(true);
            out.push((name, value));
        }
        for (name, value) in &self.headers {
            let header = HeaderName::try_from(name.as_str())
                .map_err(|_| bad(format!("header name {name}")))?;
            let value =
                HeaderValue::try_from(value.as_str()).map_err(|_| bad(format!("header {name}")))?;
            out.push((header, value));
        }
        Ok(out)
    }

    fn check_headers(&self) -> Result<(), NotifyError> {
        self.header_pairs().map(|_| ())
    }

    /// Where and how its worker posts.
    pub(crate) fn target(&self) -> Result<Target, NotifyError> {
        let uri = self
            .url
            .parse::<Uri>()
            .map_err(|_| NotifyError::InvalidUrl {
                sink: self.name.clone(),
                from: "the configuration".into(),
                problem: "it does not parse as a URL".into(),
            })?;
        Ok(Target {
            uri,
            headers: self.header_pairs()?,
            hmac: self
                .hmac_key
                .as_ref()
                .map(|k| ring::hmac::Key::new(ring::hmac::HMAC_SHA256, k)),
        })
    }

    /// What must never leave in a payload or a log line.
    pub(crate) fn scrubber(&self) -> Scrubber {
        let mut secrets = Scrubber::url_secrets(&self.url);
        if let Some((_, value)) = &self.auth {
            secrets.push(value.clone());
            if let Some(token) = value.strip_prefix("Bearer ") {
                secrets.push(token.to_string());
            }
        }
        if let Some(key) = self
            .hmac_key
            .as_ref()
            .and_then(|k| String::from_utf8(k.clone()).ok())
        {
            secrets.push(key);
        }
        Scrubber::new(secrets)
    }
}

/// `https://user:pw@host/x` → (`https://host/x`, `Basic <base64 user:pw>`).
fn split_userinfo(url: &str) -> (String, Option<String>) {
    let Some((scheme, rest)) = url.split_once("://") else {
        return (url.to_string(), None);
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..end].rsplit_once('@') {
        Some((userinfo, host)) => {
            let basic = base64::engine::general_purpose::STANDARD.encode(userinfo);
            (
                format!("{scheme}://{host}{}", &rest[end..]),
                Some(format!("Basic {basic}")),
            )
        }
        None => (url.to_string(), None),
    }
}

/// The sinks of the command line (`wavesync run --notify-…`), which add to
/// those of `wavesync.yaml`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlagSinks {
    /// `--notify-webhook-url-file`: sink `cli-webhook`.
    pub webhook_url_file: Option<PathBuf>,
    /// `--notify-webhook-token-file`.
    pub webhook_token_file: Option<PathBuf>,
    /// `--notify-webhook-hmac-secret-file`.
    pub webhook_hmac_secret_file: Option<PathBuf>,
    /// `--notify-alertmanager-url`: sink `cli-alertmanager`.
    pub alertmanager_url: Option<String>,
    /// `--notify-slack-url-file`: sink `cli-slack`.
    pub slack_url_file: Option<PathBuf>,
    /// `--notify-events` (empty: the default events).
    pub events: Vec<NotificationEvent>,
    /// `--notify-files-dir`: where files named in `wavesync.yaml` must be.
    pub files_dir: PathBuf,
}

impl Default for FlagSinks {
    fn default() -> Self {
        FlagSinks {
            webhook_url_file: None,
            webhook_token_file: None,
            webhook_hmac_secret_file: None,
            alertmanager_url: None,
            slack_url_file: None,
            events: Vec::new(),
            files_dir: PathBuf::from(DEFAULT_FILES_DIR),
        }
    }
}

/// What [`build_sinks`] made: the sinks that could be built, and why the
/// others could not (log them; the agent goes on with the rest).
#[derive(Debug, Default)]
pub struct Built {
    /// Ready to post.
    pub sinks: Vec<ResolvedSink>,
    /// One per sink left out.
    pub errors: Vec<NotifyError>,
}

/// Builds every sink of `config` (a WaveSet's `notifications`) and of
/// `flags`, reading files, and the Secrets of `urlSecretRef` through
/// `client` from `namespace` (the agent's).
pub async fn build_sinks(
    config: &[NotificationSink],
    flags: &FlagSinks,
    client: Option<&kube::Client>,
    namespace: &str,
) -> Built {
    let mut built = Built::default();
    for sink in config {
        match from_config(sink, &flags.files_dir, client, namespace).await {
            Ok(s) => built.sinks.push(s),
            Err(e) => built.errors.push(e),
        }
    }
    for result in from_flags(flags) {
        match result {
            Ok(s) if built.sinks.iter().any(|b| b.name == s.name) => {
                built.errors.push(NotifyError::Duplicate { sink: s.name });
            }
            Ok(s) => built.sinks.push(s),
            Err(e) => built.errors.push(e),
        }
    }
    built
}

/// One sink of `wavesync.yaml`.
async fn from_config(
    sink: &NotificationSink,
    files_dir: &Path,
    client: Option<&kube::Client>,
    namespace: &str,
) -> Result<ResolvedSink, NotifyError> {
    let name = sink.name.as_str();
    let dir = Some(files_dir);
    let (url, from) = match &sink.url {
        UrlSource::Inline(url) => (url.clone(), "wavesync.yaml".to_string()),
        UrlSource::File(path) => (
            read_text(name, "URL", path, dir)?,
            format!("the file {}", path.display()),
        ),
        UrlSource::SecretRef { name: secret, key } => {
            let Some(client) = client else {
                return Err(NotifyError::NoCluster { sink: name.into() });
            };
            let value = read_secret(name, client, namespace, secret, key).await?;
            (value, format!("Secret {namespace}/{secret} key {key}"))
        }
    };
    let mut out = ResolvedSink::from_url(name, sink.kind, &url, &from)?
        .with_events(sink.events.clone())
        .with_headers(sink.headers.clone())?
        .with_labels(sink.labels.clone())
        .with_repeat_interval(sink.repeat_interval);
    if let Some(path) = &sink.token_file {
        let token = read_text(name, "token", path, dir)?;
        out = out.with_token(&token, sink.token_header.as_deref())?;
    }
    if let Some(path) = &sink.hmac_secret_file {
        out = out.with_hmac_key(read_bytes(name, "HMAC key", path, dir)?);
    }
    Ok(out)
}

/// The sinks of the flags, named `cli-webhook`, `cli-alertmanager` and
/// `cli-slack`.
fn from_flags(flags: &FlagSinks) -> Vec<Result<ResolvedSink, NotifyError>> {
    let mut out = Vec::new();
    let events = flags.events.clone();
    if let Some(path) = &flags.webhook_url_file {
        let name = "cli-webhook";
        out.push((|| {
            let url = read_text(name, "URL", path, None)?;
            let from = format!("the file {}", path.display());
            let mut s = ResolvedSink::from_url(name, SinkType::Webhook, &url, &from)?
                .with_events(events.clone());
            if let Some(t) = &flags.webhook_token_file {
                s = s.with_token(&read_text(name, "token", t, None)?, None)?;
            }
            if let Some(k) = &flags.webhook_hmac_secret_file {
                s = s.with_hmac_key(read_bytes(name, "HMAC key", k, None)?);
            }
            Ok(s)
        })());
    }
    if let Some(url) = &flags.alertmanager_url {
        let from = "--notify-alertmanager-url";
        out.push(
            ResolvedSink::from_url("cli-alertmanager", SinkType::Alertmanager, url, from)
                .map(|s| s.with_events(events.clone())),
        );
    }
    if let Some(path) = &flags.slack_url_file {
        let name = "cli-slack";
        out.push((|| {
            let url = read_text(name, "URL", path, None)?;
            let from = format!("the file {}", path.display());
            Ok(ResolvedSink::from_url(name, SinkType::Slack, &url, &from)?
                .with_events(events.clone()))
        })());
    }
    out
}

/// A file's bytes, trimmed; under `dir` when given.
fn read_bytes(
    sink: &str,
    what: &'static str,
    path: &Path,
    dir: Option<&Path>,
) -> Result<Vec<u8>, NotifyError> {
    let read_error = |source| NotifyError::ReadFile {
        sink: sink.into(),
        what,
        path: path.to_path_buf(),
        source,
    };
    if let Some(dir) = dir {
        let outside = || NotifyError::OutsideFilesDir {
            sink: sink.into(),
            what,
            path: path.to_path_buf(),
            dir: dir.to_path_buf(),
        };
        // Symlinks resolved: a mounted Secret's files link into its own
        // `..data`, which stays inside; a link out of the directory does not.
        let dir = dir.canonicalize().map_err(|_| outside())?;
        let full = path.canonicalize().map_err(read_error)?;
        if !full.starts_with(&dir) {
            return Err(outside());
        }
    }
    let bytes = std::fs::read(path).map_err(read_error)?;
    let trimmed = bytes.trim_ascii().to_vec();
    if trimmed.is_empty() {
        return Err(NotifyError::Empty {
            sink: sink.into(),
            what,
            from: format!("the file {}", path.display()),
        });
    }
    Ok(trimmed)
}

/// A file's text, trimmed.
fn read_text(
    sink: &str,
    what: &'static str,
    path: &Path,
    dir: Option<&Path>,
) -> Result<String, NotifyError> {
    let bytes = read_bytes(sink, what, path, dir)?;
    String::from_utf8(bytes).map_err(|_| NotifyError::InvalidHeader {
        sink: sink.into(),
        what: format!("{what} in {} (not UTF-8)", path.display()),
    })
}

/// A key of a Secret in `namespace`, trimmed.
async fn read_secret(
    sink: &str,
    client: &kube::Client,
    namespace: &str,
    name: &str,
    key: &str,
) -> Result<String, NotifyError> {
    use k8s_openapi::api::core::v1::Secret;
    let api: kube::Api<Secret> = kube::Api::namespaced(client.clone(), namespace);
    let secret = api.get(name).await.map_err(|e| NotifyError::SecretRead {
        sink: sink.into(),
        namespace: namespace.into(),
        name: name.into(),
        source: e.into(),
    })?;
    let missing = || NotifyError::SecretKey {
        sink: sink.into(),
        namespace: namespace.into(),
        name: name.into(),
        key: key.into(),
    };
    let bytes = secret
        .data
        .as_ref()
        .and_then(|d| d.get(key))
        .map(|b| b.0.clone())
        .ok_or_else(missing)?;
    let text = String::from_utf8(bytes).map_err(|_| missing())?;
    let text = text.trim();
    if text.is_empty() {
        return Err(NotifyError::Empty {
            sink: sink.into(),
            what: "URL",
            from: format!("Secret {namespace}/{name} key {key}"),
        });
    }
    Ok(text.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn userinfo_becomes_basic_auth_and_leaves_the_url() {
        let s = ResolvedSink::new("am", SinkType::Alertmanager, "http://admin:pw@am:9093/")
            .expect("valid");
        assert_eq!(s.url, "http://am:9093/api/v2/alerts");
        assert_eq!(
            s.auth,
            Some(("authorization".into(), "Basic YWRtaW46cHc=".into()))
        );
        assert_eq!(s.redacted_url(), "http://am:9093/…");
        let debug = format!("{s:?}");
        assert!(
            !debug.contains("YWRtaW46cHc") && !debug.contains("pw@"),
            "{debug}"
        );
        let s = ResolvedSink::new("am", SinkType::Alertmanager, "http://am:9093/api/v2/alerts")
            .expect("valid");
        assert_eq!(s.url, "http://am:9093/api/v2/alerts", "not added twice");
    }

    #[test]
    fn a_token_goes_in_authorization_or_its_own_header() {
        let s = ResolvedSink::new("w", SinkType::Webhook, "https://h.example/x").expect("valid");
        let bearer = s.clone().with_token("abc123\n", None).expect("valid");
        assert_eq!(
            bearer.auth,
            Some(("authorization".into(), "Bearer abc123".into()))
        );
        let custom = s
            .clone()
            .with_token("abc123", Some("X-Api-Key"))
            .expect("valid");
        assert_eq!(custom.auth, Some(("X-Api-Key".into(), "abc123".into())));
        assert!(matches!(
            s.with_token("a\nb", None),
            Err(NotifyError::InvalidHeader { .. })
        ));
    }

    #[test]
    fn bad_urls_are_refused_without_being_quoted() {
        let err =
            ResolvedSink::new("w", SinkType::Webhook, "ftp://secret-token@x").expect_err("bad");
        let text = err.to_string();
        assert!(text.contains("must start with http"), "{text}");
        assert!(!text.contains("secret-token"), "{text}");
    }

    #[test]
    fn alertmanager_also_gets_the_resolves_it_did_not_ask_for() {
        let am = ResolvedSink::new("am", SinkType::Alertmanager, "http://am:9093")
            .expect("valid")
            .with_events(vec![NotificationEvent::Stalled]);
        assert!(am.wants(NotificationEvent::Stalled));
        assert!(am.wants(NotificationEvent::SyncSucceeded));
        assert!(am.wants(NotificationEvent::DriftResolved));
        assert!(!am.wants(NotificationEvent::DriftDetected));
        let hook = ResolvedSink::new("w", SinkType::Webhook, "http://w").expect("valid");
        assert!(!hook.wants(NotificationEvent::SyncSucceeded), "opt-in");
        assert!(hook.wants(NotificationEvent::RevisionRefused));
    }

    fn sink(url: UrlSource) -> NotificationSink {
        NotificationSink {
            name: "team".into(),
            kind: SinkType::Webhook,
            url,
            token_file: None,
            token_header: None,
            hmac_secret_file: None,
            headers: BTreeMap::new(),
            labels: BTreeMap::new(),
            events: NotificationEvent::defaults(),
            repeat_interval: Duration::from_secs(60),
        }
    }

    #[tokio::test]
    async fn files_named_in_the_repository_must_be_under_the_files_dir() {
        let allowed = tempfile::tempdir().expect("tempdir");
        let elsewhere = tempfile::tempdir().expect("tempdir");
        std::fs::write(allowed.path().join("url"), "https://h.example/hook\n").expect("write");
        std::fs::write(elsewhere.path().join("token"), "sa-token-value-1234").expect("write");
        std::os::unix::fs::symlink(elsewhere.path().join("token"), allowed.path().join("link"))
            .expect("symlink");
        let flags = FlagSinks {
            files_dir: allowed.path().to_path_buf(),
            ..FlagSinks::default()
        };
        let mut ok = sink(UrlSource::File(allowed.path().join("url")));
        let built = build_sinks(std::slice::from_ref(&ok), &flags, None, "wavesync").await;
        assert!(built.errors.is_empty(), "{:?}", built.errors);
        assert_eq!(built.sinks[0].url, "https://h.example/hook");
        for token in [elsewhere.path().join("token"), allowed.path().join("link")] {
            ok.token_file = Some(token);
            let built = build_sinks(std::slice::from_ref(&ok), &flags, None, "wavesync").await;
            assert!(built.sinks.is_empty());
            let text = built.errors[0].to_string();
            assert!(text.contains("is not under"), "{text}");
            assert!(!text.contains("sa-token-value"), "{text}");
        }
        // The same file given by a flag is the operator's choice.
        let from_flag = FlagSinks {
            webhook_url_file: Some(allowed.path().join("url")),
            webhook_token_file: Some(elsewhere.path().join("token")),
            ..flags
        };
        let built = build_sinks(&[], &from_flag, None, "wavesync").await;
        assert!(built.errors.is_empty(), "{:?}", built.errors);
        assert_eq!(built.sinks[0].name(), "cli-webhook");
    }

    #[tokio::test]
    async fn missing_files_secrets_and_names_used_twice_are_errors() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("empty"), "\n").expect("write");
        let flags = FlagSinks {
            files_dir: dir.path().to_path_buf(),
            alertmanager_url: Some("http://am:9093".into()),
            ..FlagSinks::default()
        };
        let mut named_like_a_flag = sink(UrlSource::Inline("http://w".into()));
        named_like_a_flag.name = "cli-alertmanager".into();
        let config = [
            sink(UrlSource::File(dir.path().join("nope"))),
            sink(UrlSource::File(dir.path().join("empty"))),
            sink(UrlSource::SecretRef {
                name: "s".into(),
                key: "k".into(),
            }),
            named_like_a_flag,
        ];
        let built = build_sinks(&config, &flags, None, "wavesync").await;
        let errors: Vec<String> = built.errors.iter().map(ToString::to_string).collect();
        assert_eq!(errors.len(), 4, "{errors:#?}");
        assert!(
            errors[0].contains("cannot read the URL file"),
            "{}",
            errors[0]
        );
        assert!(errors[1].contains("is empty"), "{}", errors[1]);
        assert!(errors[2].contains("needs cluster access"), "{}", errors[2]);
        assert!(
            errors[3].starts_with("notification sink cli-alertmanager: the name is used twice")
        );
        assert_eq!(
            built.sinks.len(),
            1,
            "the yaml sink named cli-alertmanager stays"
        );
    }
}
