//! The agent's error policy by category (STYLE 5), as pure functions: how
//! long to wait before the next pass, given how the last one ended.
//!
//! - success, up to date, stalled: the poll interval (a stalled WaveSet is
//!   only tried again for a new revision, which the poll finds);
//! - transient and component failures: exponential backoff per WaveSet,
//!   `base · 2^(n-1)` with ±20 % jitter, capped, reset by the next success;
//! - config and permission failures: the engine stalled the record, so the
//!   poll interval again — the next pass returns at once unless the commit
//!   changed.

use crate::error::Category;
use std::time::Duration;

/// How a pass ended, as far as scheduling the next one goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Ready, or already up to date.
    Succeeded,
    /// Held by a stall at this revision: nothing was tried.
    Stalled,
    /// Failed with this category.
    Failed(Category),
    /// Stopped on request.
    Cancelled,
}

/// Exponential backoff of failed passes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The first delay.
    pub base: Duration,
    /// The longest delay.
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            base: Duration::from_secs(5),
            max: Duration::from_secs(300),
        }
    }
}

impl Backoff {
    /// The delay after the `failures`-th consecutive failure (1-based);
    /// `jitter` in [0, 1) spreads it over ±20 % so that many agents failing
    /// at once (an API server restart) do not come back in step.
    pub fn delay(&self, failures: u32, jitter: f64) -> Duration {
        let exp = failures.saturating_sub(1).min(20);
        let raw = self.base.saturating_mul(1u32 << exp).min(self.max);
        let factor = 0.8 + 0.4 * jitter.clamp(0.0, 1.0);
        raw.mul_f64(factor).min(self.max)
    }
}

/// The schedule state carried from pass to pass.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Schedule {
    /// Consecutive retryable failures.
    pub failures: u32,
}

impl Schedule {
    /// Records `outcome` and returns how long to wait before the next pass.
    pub fn next(
        &mut self,
        outcome: Outcome,
        interval: Duration,
        backoff: Backoff,
        jitter: f64,
    ) -> Duration {
        match outcome {
            Outcome::Succeeded | Outcome::Stalled => {
                self.failures = 0;
                interval
            }
            Outcome::Failed(Category::Config | Category::Permission) => {
                self.failures = 0;
                interval
            }
            Outcome::Failed(Category::Transient | Category::Component) => {
                self.failures = self.failures.saturating_add(1);
                backoff.delay(self.failures, jitter)
            }
            // The pass resumes as soon as the agent leads again.
            Outcome::Cancelled => Duration::ZERO,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const INTERVAL: Duration = Duration::from_secs(30);

    #[test]
    fn transient_failures_back_off_exponentially_to_the_cap_and_reset_on_success() {
        let b = Backoff::default();
        let mut s = Schedule::default();
        let delays: Vec<u64> = (0..9)
            .map(|_| {
                s.next(Outcome::Failed(Category::Transient), INTERVAL, b, 0.5)
                    .as_secs()
            })
            .collect();
        assert_eq!(delays, [5, 10, 20, 40, 80, 160, 300, 300, 300]);
        assert_eq!(s.next(Outcome::Succeeded, INTERVAL, b, 0.5), INTERVAL);
        assert_eq!(
            s.next(Outcome::Failed(Category::Component), INTERVAL, b, 0.5)
                .as_secs(),
            5
        );
    }

    #[test]
    fn jitter_spreads_within_twenty_percent_and_never_past_the_cap() {
        let b = Backoff::default();
        assert_eq!(b.delay(2, 0.0), Duration::from_secs(8));
        assert_eq!(b.delay(2, 0.999_999).as_secs(), 11);
        assert_eq!(b.delay(30, 0.999), b.max);
    }

    #[test]
    fn config_and_permission_failures_wait_for_the_poll_not_a_retry() {
        let b = Backoff::default();
        let mut s = Schedule::default();
        s.next(Outcome::Failed(Category::Transient), INTERVAL, b, 0.5);
        assert_eq!(
            s.next(Outcome::Failed(Category::Config), INTERVAL, b, 0.5),
            INTERVAL
        );
        assert_eq!(s.failures, 0);
        assert_eq!(
            s.next(Outcome::Failed(Category::Permission), INTERVAL, b, 0.5),
            INTERVAL
        );
        assert_eq!(s.next(Outcome::Stalled, INTERVAL, b, 0.5), INTERVAL);
    }
}
