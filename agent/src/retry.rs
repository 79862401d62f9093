//! Retrying one Kubernetes API request on transient failures (429, 5xx,
//! dropped connections), for the request paths outside server-side apply
//! that a pass cannot do without: the record's load and save, Job
//! re-creation. Apply has its own loop (`apply::ssa`), which also keeps
//! Secret values out of its messages.

use crate::apply::ssa::Backoff;
use crate::error::{Category, category_of_kube};
use std::future::Future;

/// Runs `op` until it succeeds, fails with a non-transient error, or
/// `backoff.attempts` are used up; returns the last result. `what` names the
/// request in the debug log.
///
/// # Errors
/// The last error of `op`.
pub async fn transient<T, F, Fut>(what: &str, backoff: Backoff, mut op: F) -> Result<T, kube::Error>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, kube::Error>>,
{
    let mut attempt = 0;
    loop {
        attempt += 1;
        match op().await {
            Err(e) if category_of_kube(&e) == Category::Transient && attempt < backoff.attempts => {
                // The status, never the server's message: it may quote a
                // Secret value the request carried.
                let error = match &e {
                    kube::Error::Api(s) => format!("{} {}", s.code, s.reason),
                    other => other.to_string(),
                };
                tracing::debug!(what, attempt, %error, "transient API failure; retrying");
                tokio::time::sleep(backoff.delay(attempt)).await;
            }
            other => return other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::time::Duration;

    fn status(code: u16) -> kube::Error {
        kube::Error::Api(
            kube::core::Status::failure("injected", "Injected")
                .with_code(code)
                .boxed(),
        )
    }

    fn quick(attempts: u32) -> Backoff {
        Backoff {
            attempts,
            initial: Duration::from_millis(1),
            max: Duration::from_millis(1),
        }
    }

    #[tokio::test]
    async fn transient_failures_are_retried_until_success() {
        let calls = AtomicU32::new(0);
        let res = transient("get", quick(5), || async {
            match calls.fetch_add(1, Ordering::SeqCst) {
                0 => Err(status(503)),
                1 => Err(status(429)),
                _ => Ok(7),
            }
        })
        .await;
        assert_eq!(res.ok(), Some(7));
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn config_errors_and_a_spent_budget_end_the_retries() {
        let calls = AtomicU32::new(0);
        let res: Result<(), _> = transient("get", quick(5), || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(status(422))
        })
        .await;
        assert!(res.is_err());
        assert_eq!(calls.load(Ordering::SeqCst), 1, "a 422 is not retried");
        calls.store(0, Ordering::SeqCst);
        let res: Result<(), _> = transient("get", quick(3), || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(status(503))
        })
        .await;
        assert!(res.is_err());
        assert_eq!(calls.load(Ordering::SeqCst), 3, "three attempts in all");
    }
}
