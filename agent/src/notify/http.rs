//! Posting a JSON body to a sink: kube's own HTTP stack (hyper 1, the
//! pooled legacy client of hyper-util, rustls with ring and the platform's
//! verifier for https, plain http for in-cluster receivers and tests), a
//! per-request timeout, and each outcome classified as a [`DeliveryError`]
//! that the backoff reads. Nothing here logs, and no error holds the URL.

use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Bytes;
use hyper::header::{CONTENT_TYPE, HeaderName, HeaderValue, RETRY_AFTER, USER_AGENT};
use hyper::{Request, Uri};
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};

use super::backoff;
use super::error::DeliveryError;

/// The signature header of webhook bodies.
pub const SIGNATURE_HEADER: &str = "x-wavesync-signature-256";

/// How much of an error answer is kept for the log.
const ANSWER_LIMIT: usize = 2048;

/// Where and how one sink posts.
#[derive(Clone)]
pub(crate) struct Target {
    /// The full URL (a secret for Slack).
    pub(crate) uri: Uri,
    /// Authorization and configured headers.
    pub(crate) headers: Vec<(HeaderName, HeaderValue)>,
    /// The key of the signature header, when the sink signs.
    pub(crate) hmac: Option<ring::hmac::Key>,
}

/// `sha256=<hex>` of HMAC-SHA256 over `body` with `key`, as GitHub signs
/// its webhooks.
pub fn signature(key: &[u8], body: &[u8]) -> String {
    sign(&ring::hmac::Key::new(ring::hmac::HMAC_SHA256, key), body)
}

fn sign(key: &ring::hmac::Key, body: &[u8]) -> String {
    let tag = ring::hmac::sign(key, body);
    let mut out = String::with_capacity(7 + 64);
    out.push_str("sha256=");
    for b in tag.as_ref() {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

/// A pooled HTTP/1.1 client for http and https URLs.
#[derive(Clone)]
pub(crate) struct HttpClient {
    client: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
}

impl HttpClient {
    /// A client trusting the platform's roots, as kube-client does. Should
    /// the platform verifier not start, https sinks fail (every
    /// certificate unknown) and plain http ones still work.
    pub(crate) fn new() -> HttpClient {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = match HttpsConnectorBuilder::new()
            .with_provider_and_platform_verifier(provider.clone())
        {
            Ok(b) => b,
            Err(e) => {
                tracing::warn!(error = %e, "notifications: the platform's TLS verifier did not start; https sinks will fail");
                HttpsConnectorBuilder::new().with_tls_config(no_roots(provider))
            }
        };
        let connector = builder.https_or_http().enable_http1().build();
        let client = Client::builder(TokioExecutor::new())
            .pool_timer(TokioTimer::new())
            .pool_idle_timeout(Duration::from_secs(60))
            .pool_max_idle_per_host(2)
            .build(connector);
        HttpClient { client }
    }

    /// Posts `body` to `target`, waiting at most `timeout` for the whole
    /// answer; `Ok` with the status for a 2xx.
    pub(crate) async fn post(
        &self,
        target: &Target,
        body: Bytes,
        timeout: Duration,
    ) -> Result<u16, DeliveryError> {
        let mut req = Request::post(target.uri.clone())
            .header(CONTENT_TYPE, "application/json")
            .header(USER_AGENT, concat!("wavesync/", env!("CARGO_PKG_VERSION")));
        for (name, value) in &target.headers {
            req = req.header(name, value);
        }
        if let Some(key) = &target.hmac {
            req = req.header(SIGNATURE_HEADER, sign(key, &body));
        }
        let req = req
            .body(Full::new(body))
            .map_err(|e| DeliveryError::Connect {
                detail: format!("building the request: {e}"),
            })?;
        let exchange = async {
            let resp = self
                .client
                .request(req)
                .await
                .map_err(|e| DeliveryError::Connect { detail: chain(&e) })?;
            let code = resp.status().as_u16();
            let retry_after = resp
                .headers()
                .get(RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| backoff::retry_after(v, jiff::Timestamp::now()));
            // Read (part of) the answer, so that the connection is reused
            // and an error says what the receiver said.
            let answer = Limited::new(resp.into_body(), ANSWER_LIMIT)
                .collect()
                .await
                .map(|b| b.to_bytes())
                .unwrap_or_default();
            if (200..300).contains(&code) {
                return Ok(code);
            }
            let text: String = String::from_utf8_lossy(&answer)
                .chars()
                .map(|c| if c.is_control() { ' ' } else { c })
                .take(200)
                .collect();
            Err(DeliveryError::Status {
                code,
                retry_after,
                body: text.trim().to_string(),
            })
        };
        tokio::time::timeout(timeout, exchange)
            .await
            .unwrap_or(Err(DeliveryError::Timeout(timeout)))
    }
}

/// A TLS configuration that trusts nothing.
fn no_roots(provider: Arc<rustls::crypto::CryptoProvider>) -> rustls::ClientConfig {
    let roots = rustls::RootCertStore::empty();
    match rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
    {
        Ok(b) => b.with_root_certificates(roots).with_no_client_auth(),
        // ring supports the default versions; this is the same without asking.
        Err(_) => rustls::ClientConfig::builder()
            .with_root_certificates(roots)
            .with_no_client_auth(),
    }
}

/// An error and its causes on one line (`client error (Connect): tcp
/// connect error: Connection refused`).
fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_are_hmac_sha256_in_hex() {
        // RFC 4231, test case 2.
        assert_eq!(
            signature(b"Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
