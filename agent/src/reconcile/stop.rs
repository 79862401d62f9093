//! Asking a sync pass to stop at its next safe point: between waves, before
//! a retry, before a prune, while waiting on health — never in the middle of
//! a record write. A shutdown still lets the pass write its checkpoint; a
//! lost lease forbids any further write, since another agent now acts.

use tokio::sync::watch;

/// Why a pass is asked to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    /// SIGTERM or Ctrl-C: stop at a safe point, record the checkpoint.
    Shutdown,
    /// Another agent holds the lease now: stop and write nothing more.
    LeaseLost,
}

/// A stop request shared by the agent loop and the pass it runs. Cheap to clone.
#[derive(Clone)]
pub struct Stop {
    tx: watch::Sender<Option<StopReason>>,
}

impl Default for Stop {
    fn default() -> Self {
        Stop {
            tx: watch::Sender::new(None),
        }
    }
}

impl std::fmt::Debug for Stop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Stop({:?})", self.reason())
    }
}

impl Stop {
    /// Asks the pass to stop; the first reason given sticks, except that a
    /// lost lease overrides a shutdown (it forbids writes).
    pub fn request(&self, reason: StopReason) {
        self.tx.send_if_modified(|r| match r {
            None => {
                *r = Some(reason);
                true
            }
            Some(StopReason::Shutdown) if reason == StopReason::LeaseLost => {
                *r = Some(reason);
                true
            }
            _ => false,
        });
    }

    /// Clears the request (the agent loop does before each pass).
    pub fn clear(&self) {
        self.tx.send_replace(None);
    }

    /// Why a stop was asked, if it was.
    pub fn reason(&self) -> Option<StopReason> {
        *self.tx.borrow()
    }

    /// Resolves once a stop is asked.
    pub async fn stopped(&self) {
        let mut rx = self.tx.subscribe();
        let _ = rx.wait_for(Option::is_some).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_lost_lease_overrides_a_shutdown_but_not_the_reverse() {
        let s = Stop::default();
        assert_eq!(s.reason(), None);
        s.request(StopReason::Shutdown);
        s.stopped().await;
        s.request(StopReason::LeaseLost);
        assert_eq!(s.reason(), Some(StopReason::LeaseLost));
        s.request(StopReason::Shutdown);
        assert_eq!(s.reason(), Some(StopReason::LeaseLost));
        s.clear();
        assert_eq!(s.reason(), None);
    }
}
