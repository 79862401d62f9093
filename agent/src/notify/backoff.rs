//! When a failed delivery is tried again, as pure functions: exponential
//! backoff with jitter for transient failures, the receiver's
//! `Retry-After` when it gives one (bounded, so that a receiver cannot hold
//! a sink for hours), and no retry for a 4xx other than 408 and 429.

use std::time::Duration;

use super::error::DeliveryError;

/// How failed deliveries are retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retry {
    /// Attempts in all, the first included.
    pub attempts: u32,
    /// The delay after the first failure; it doubles after each further one.
    pub backoff: Duration,
    /// The ceiling of that delay.
    pub max_backoff: Duration,
    /// The longest `Retry-After` honoured as given; longer ones are cut to it.
    pub max_retry_after: Duration,
}

impl Default for Retry {
    /// 6 attempts over about a minute: 1 s, 2 s, 4 s, 8 s, 16 s (±20 %);
    /// `Retry-After` up to 5 minutes.
    fn default() -> Self {
        Retry {
            attempts: 6,
            backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(60),
            max_retry_after: Duration::from_secs(300),
        }
    }
}

impl Retry {
    /// The delay after the `failures`-th failure in a row (1-based):
    /// `backoff · 2^(failures-1)`, capped, spread over ±20 % by `jitter`
    /// in [0, 1) so that sinks that fail together do not retry together.
    pub fn backoff(&self, failures: u32, jitter: f64) -> Duration {
        let exp = failures.saturating_sub(1).min(20);
        let raw = self
            .backoff
            .saturating_mul(1u32 << exp)
            .min(self.max_backoff);
        let factor = 0.8 + 0.4 * jitter.clamp(0.0, 1.0);
        raw.mul_f64(factor).min(self.max_backoff)
    }

    /// How long to wait before the next attempt after `error`, the
    /// `failures`-th in a row; `None`: give up (the error is permanent, or
    /// every attempt is used).
    pub fn next(&self, error: &DeliveryError, failures: u32, jitter: f64) -> Option<Duration> {
        if !error.retryable() || failures >= self.attempts {
            return None;
        }
        match error {
            DeliveryError::Status {
                retry_after: Some(after),
                ..
            } => Some((*after).min(self.max_retry_after)),
            _ => Some(self.backoff(failures, jitter)),
        }
    }
}

/// A `Retry-After` header: seconds, or an HTTP date (then the time from
/// `now` until it; zero when it is past). `None` when it is neither.
pub fn retry_after(value: &str, now: jiff::Timestamp) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = jiff::fmt::rfc2822::DateTimeParser::new()
        .parse_timestamp(value)
        .ok()?;
    let wait = when.duration_since(now);
    Some(Duration::try_from(wait).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(code: u16, retry_after: Option<Duration>) -> DeliveryError {
        DeliveryError::Status {
            code,
            retry_after,
            body: String::new(),
        }
    }

    #[test]
    fn delays_double_within_their_jitter_up_to_the_ceiling() {
        let r = Retry::default();
        let secs = |failures, jitter| r.backoff(failures, jitter).as_secs_f64();
        assert_eq!(secs(1, 0.5), 1.0);
        assert_eq!(secs(2, 0.5), 2.0);
        assert_eq!(secs(5, 0.5), 16.0);
        assert_eq!(secs(1, 0.0), 0.8);
        assert_eq!(secs(1, 1.0), 1.2);
        assert_eq!(secs(30, 1.0), 60.0, "capped, jitter included");
        assert!((secs(3, 0.0)..=secs(3, 1.0)).contains(&4.0));
    }

    #[test]
    fn transient_failures_are_retried_until_the_attempts_are_used() {
        let r = Retry::default();
        let down = DeliveryError::Connect {
            detail: "refused".into(),
        };
        assert_eq!(r.next(&down, 1, 0.5), Some(Duration::from_secs(1)));
        assert_eq!(
            r.next(&status(503, None), 2, 0.5),
            Some(Duration::from_secs(2))
        );
        assert_eq!(
            r.next(&status(408, None), 3, 0.5),
            Some(Duration::from_secs(4))
        );
        assert_eq!(
            r.next(&down, 6, 0.5),
            None,
            "the sixth attempt was the last"
        );
        for code in [400, 401, 403, 404, 422] {
            assert_eq!(r.next(&status(code, None), 1, 0.5), None, "{code}");
        }
    }

    #[test]
    fn retry_after_is_honoured_but_bounded() {
        let r = Retry::default();
        let limited = status(429, Some(Duration::from_secs(7)));
        assert_eq!(r.next(&limited, 1, 0.9), Some(Duration::from_secs(7)));
        let greedy = status(503, Some(Duration::from_secs(86_400)));
        assert_eq!(r.next(&greedy, 1, 0.9), Some(Duration::from_secs(300)));
        // A 4xx with Retry-After is still not retried.
        assert_eq!(
            r.next(&status(400, Some(Duration::from_secs(1))), 1, 0.5),
            None
        );
    }

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        let now: jiff::Timestamp = "2025-03-04T05:06:07Z".parse().expect("a timestamp");
        assert_eq!(retry_after("120", now), Some(Duration::from_secs(120)));
        assert_eq!(retry_after(" 0 ", now), Some(Duration::ZERO));
        assert_eq!(
            retry_after("Tue, 04 Mar 2025 05:07:07 GMT", now),
            Some(Duration::from_secs(60))
        );
        assert_eq!(
            retry_after("Tue, 04 Mar 2025 05:00:00 GMT", now),
            Some(Duration::ZERO),
            "a date past is now"
        );
        assert_eq!(retry_after("soon", now), None);
        assert_eq!(retry_after("-5", now), None);
    }
}
