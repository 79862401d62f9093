//! The time a sync pass reads: the record's timestamps (wave started and
//! finished, history, stalls, conditions) all come from one [`Clock`], the
//! system's in the agent and a [`ManualClock`] in tests, so a test states
//! the times it expects instead of bounding the wall clock.

use std::sync::{Arc, Mutex};

/// A source of the current time.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// Now.
    fn now(&self) -> jiff::Timestamp;

    /// Now as the record writes it (RFC 3339, milliseconds, UTC).
    fn stamp(&self) -> String {
        stamp(self.now())
    }
}

/// `t` as the record writes it.
pub fn stamp(t: jiff::Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> jiff::Timestamp {
        jiff::Timestamp::now()
    }
}

/// A clock that moves only when told to.
#[derive(Debug)]
pub struct ManualClock(Mutex<jiff::Timestamp>);

impl ManualClock {
    /// A clock standing at `t`.
    pub fn at(t: jiff::Timestamp) -> Arc<Self> {
        Arc::new(ManualClock(Mutex::new(t)))
    }

    /// Moves the clock forward by `d`.
    pub fn advance(&self, d: std::time::Duration) {
        let mut t = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if let Ok(span) = jiff::SignedDuration::try_from(d)
            && let Ok(next) = t.checked_add(span)
        {
            *t = next;
        }
    }
}

impl Clock for ManualClock {
    fn now(&self) -> jiff::Timestamp {
        *self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The clock shared by the parts of a pass.
pub type SharedClock = Arc<dyn Clock>;

/// The system clock, shared.
pub fn system() -> SharedClock {
    Arc::new(SystemClock)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_manual_clock_moves_only_when_advanced() {
        let c = ManualClock::at("2026-12-03T10:00:00Z".parse().expect("time"));
        assert_eq!(c.stamp(), "2026-12-03T10:00:00.000Z");
        c.advance(Duration::from_millis(1500));
        assert_eq!(c.stamp(), "2026-12-03T10:00:01.500Z");
    }
}
