//! What `/healthz` and `/readyz` answer, kept apart from HTTP so it is
//! tested as plain data with an injected clock.
//!
//! - alive: the loop made progress (a sync event, a poll, a lease check)
//!   within `wedged_after`; otherwise something is stuck and the kubelet
//!   should restart the pod;
//! - ready: as leader, after the first pass that ran to its end; as a
//!   standby, once it has seen the lease held by another replica.

use super::super::report::{Event, Progress};
use std::sync::Mutex;
use std::time::{Duration, Instant};

#[derive(Debug)]
struct Inner {
    last_progress: Instant,
    passed: bool,
    saw_lease: bool,
}

/// The agent's liveness and readiness.
#[derive(Debug)]
pub struct Health {
    inner: Mutex<Inner>,
    wedged_after: Duration,
}

impl Health {
    /// Alive until no progress was made for `wedged_after`.
    pub fn new(wedged_after: Duration, now: Instant) -> Self {
        Health {
            inner: Mutex::new(Inner {
                last_progress: now,
                passed: false,
                saw_lease: false,
            }),
            wedged_after,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The loop did something.
    pub fn progress(&self, now: Instant) {
        self.lock().last_progress = now;
    }

    /// A pass ran to its end as leader.
    pub fn passed(&self) {
        self.lock().passed = true;
    }

    /// The lease was seen held by another replica.
    pub fn saw_lease(&self) {
        self.lock().saw_lease = true;
    }

    /// `Ok` while alive, else why not.
    pub fn alive(&self, now: Instant) -> Result<(), String> {
        let idle = now.saturating_duration_since(self.lock().last_progress);
        if idle > self.wedged_after {
            return Err(format!(
                "no progress for {}s (limit {}s)",
                idle.as_secs(),
                self.wedged_after.as_secs()
            ));
        }
        Ok(())
    }

    /// `Ok` once ready, else why not.
    pub fn ready(&self) -> Result<(), String> {
        let i = self.lock();
        if i.passed || i.saw_lease {
            Ok(())
        } else {
            Err("no sync pass completed yet, and no lease seen".into())
        }
    }
}

impl Progress for Health {
    fn event(&self, _: &Event) {
        self.progress(Instant::now());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wedged_after_no_progress_and_alive_again_after_some() {
        let t0 = Instant::now();
        let h = Health::new(Duration::from_secs(150), t0);
        assert!(h.alive(t0 + Duration::from_secs(149)).is_ok());
        let e = h.alive(t0 + Duration::from_secs(151)).expect_err("wedged");
        assert!(e.contains("no progress for 151s"), "{e}");
        h.progress(t0 + Duration::from_secs(151));
        assert!(h.alive(t0 + Duration::from_secs(200)).is_ok());
    }

    #[test]
    fn ready_after_a_pass_or_after_seeing_the_lease() {
        let h = Health::new(Duration::from_secs(60), Instant::now());
        assert!(h.ready().is_err());
        h.saw_lease();
        assert!(h.ready().is_ok());
        let h = Health::new(Duration::from_secs(60), Instant::now());
        h.passed();
        assert!(h.ready().is_ok());
    }
}
