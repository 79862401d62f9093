//! The Kubernetes client every stage uses: kube's, with its request retry
//! bounded. kube's default layer retries a 429, 503 or 504 up to 15 times
//! with delays growing to 1,000 s, so one request to an overloaded API server
//! can take many minutes: a stop request waits for it, and a sync past its
//! budget takes hours to say so. Here a request is retried a few times
//! (honouring Retry-After) and then fails as `transient`; the wave's retry
//! policy and the agent's backoff take it from there, within their budgets.

use kube::client::ClientBuilder;
use kube::client::retry::RetryPolicy;
use std::time::Duration;
use tower::buffer::BufferLayer;
use tower::retry::RetryLayer;

/// Retries of one request answered 429, 503 or 504.
pub const REQUEST_RETRIES: u32 = 3;

/// Requests queued for the retrying layer (the client's own buffer is behind it).
const BUFFER: usize = 1024;

/// A client for `config`, with [`REQUEST_RETRIES`] retries per request,
/// 100 ms to 2 s apart (or as the server's Retry-After says).
///
/// # Errors
/// When the configuration cannot make a client (TLS, auth, proxy).
pub fn client(mut config: kube::Config) -> Result<kube::Client, kube::Error> {
    config.default_retry = false;
    let policy = RetryPolicy::new(
        Duration::from_millis(100),
        Duration::from_secs(2),
        REQUEST_RETRIES,
        true,
    )
    .map_err(|e| kube::Error::Service(Box::new(e)))?;
    // The retry layer clones the service per request: a buffer in front of
    // the boxed stack makes it cloneable.
    Ok(ClientBuilder::try_from(config)?
        .with_layer(&BufferLayer::new(BUFFER))
        .with_layer(&RetryLayer::new(policy))
        .build())
}
