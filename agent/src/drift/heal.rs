//! How often one object may be healed. Two controllers that both own a
//! field (wavesync from Git, an operator or an HPA from its own idea) would
//! otherwise take turns writing it forever. After `heals` heals inside
//! `window` the object is *contested*: it is reported with the manager that
//! keeps changing it, and not healed again until the window has passed
//! since the last heal.

use crate::config::HealLimit;
use crate::model::ObjRef;
use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

/// What to do about a drifted object under `drift: heal`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Apply it again; this is heal number `n` in the window.
    Heal(u32),
    /// Too many heals: leave it until `retry_in` has passed.
    Contested {
        /// When healing may be tried again.
        retry_in: Duration,
    },
}

/// The heals of every object, by time.
#[derive(Debug, Default)]
pub struct Ledger {
    heals: HashMap<ObjRef, VecDeque<Instant>>,
}

impl Ledger {
    /// Whether `r` may be healed at `now` under `limit`; a heal is counted
    /// when the verdict is [`Verdict::Heal`].
    pub fn decide(&mut self, r: &ObjRef, now: Instant, limit: HealLimit) -> Verdict {
        let times = self.heals.entry(r.clone()).or_default();
        while times
            .front()
            .is_some_and(|t| now.duration_since(*t) >= limit.window)
        {
            times.pop_front();
        }
        if times.len() >= limit.heals as usize {
            let last = times.back().copied().unwrap_or(now);
            return Verdict::Contested {
                retry_in: limit.window.saturating_sub(now.duration_since(last)),
            };
        }
        times.push_back(now);
        Verdict::Heal(times.len() as u32)
    }

    /// Heals of `r` still inside the window at the last decision.
    pub fn count(&self, r: &ObjRef) -> u32 {
        self.heals.get(r).map_or(0, |t| t.len() as u32)
    }

    /// Forgets objects no longer drifted, so memory stays bounded by what drifts.
    pub fn retain(&mut self, keep: impl Fn(&ObjRef) -> bool) {
        self.heals.retain(|r, _| keep(r));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_nth_heal_in_the_window_makes_it_contested_until_the_window_passes() {
        let r = ObjRef {
            api_version: "apps/v1".into(),
            kind: "Deployment".into(),
            namespace: "shop".into(),
            name: "web".into(),
        };
        let limit = HealLimit {
            heals: 3,
            window: Duration::from_secs(600),
        };
        let t0 = Instant::now();
        let mut l = Ledger::default();
        let at = |s| t0 + Duration::from_secs(s);
        assert_eq!(l.decide(&r, at(0), limit), Verdict::Heal(1));
        assert_eq!(l.decide(&r, at(60), limit), Verdict::Heal(2));
        assert_eq!(l.decide(&r, at(120), limit), Verdict::Heal(3));
        assert_eq!(
            l.decide(&r, at(180), limit),
            Verdict::Contested {
                retry_in: Duration::from_secs(540)
            }
        );
        // The first heal leaves the window: one more is allowed.
        assert_eq!(l.decide(&r, at(600), limit), Verdict::Heal(3));
        assert_eq!(l.count(&r), 3);
        l.retain(|_| false);
        assert_eq!(l.count(&r), 0);
    }
}
