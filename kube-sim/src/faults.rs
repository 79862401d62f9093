//! Fault injection: rules that make matching requests fail, slow down or
//! drop, or run a test's closure while the request is in flight.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What a matching request gets.
#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    /// An error status: 429 (with Retry-After), 500, 503 or 504.
    Status(u16),
    /// Extra latency before the request is served normally.
    Latency(Duration),
    /// The connection is closed without a response.
    Drop,
    /// The closure runs when the request has arrived and before it is
    /// served; then the request is served normally. A test uses it to act
    /// at an exact request: kill the client while its write is in flight
    /// (the server still performs the write; the client never sees the
    /// answer), or count requests to pick the N-th.
    Hook(Hook),
}

/// The request a [`Fault::Hook`] sees.
#[derive(Debug, Clone, Copy)]
pub struct Call<'a> {
    /// kube verb (get, list, watch, create, update, patch, delete, deletecollection).
    pub verb: &'a str,
    /// Plural resource name ("" for non-resource paths such as discovery).
    pub resource: &'a str,
    /// Namespace in the path.
    pub namespace: Option<&'a str>,
    /// Object name in the path.
    pub name: Option<&'a str>,
    /// `dryRun=All`: the server will not persist it.
    pub dry_run: bool,
}

/// The closure of a [`Fault::Hook`]. It runs on the server's request task,
/// so it should be quick (killing a process and reaping it is fine).
#[derive(Clone)]
pub struct Hook(Arc<dyn Fn(&Call<'_>) + Send + Sync>);

impl Hook {
    /// A hook running `f`.
    pub fn new(f: impl Fn(&Call<'_>) + Send + Sync + 'static) -> Self {
        Hook(Arc::new(f))
    }

    /// Runs the closure.
    pub fn call(&self, call: &Call<'_>) {
        (self.0)(call)
    }
}

impl std::fmt::Debug for Hook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Hook(..)")
    }
}

impl PartialEq for Hook {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

/// Which requests a rule applies to; `None` matches anything.
#[derive(Debug, Clone, Default)]
pub struct FaultRule {
    /// kube verb (get, list, watch, create, update, patch, delete).
    pub verb: Option<String>,
    /// Plural resource name.
    pub resource: Option<String>,
    /// Object name.
    pub name: Option<String>,
    /// Apply to at most this many requests, then expire.
    pub count: Option<u32>,
    /// Probability (0.0–1.0) that a matching request is affected.
    pub probability: Option<f64>,
    /// The fault.
    pub fault: Option<Fault>,
}

impl FaultRule {
    /// A rule that fails matching requests with `fault`.
    pub fn new(fault: Fault) -> Self {
        FaultRule {
            fault: Some(fault),
            ..Default::default()
        }
    }

    /// Only this verb.
    pub fn verb(mut self, v: &str) -> Self {
        self.verb = Some(v.into());
        self
    }

    /// Only this resource.
    pub fn resource(mut self, r: &str) -> Self {
        self.resource = Some(r.into());
        self
    }

    /// Only this object name.
    pub fn name(mut self, n: &str) -> Self {
        self.name = Some(n.into());
        self
    }

    /// Only the next `n` matching requests.
    pub fn times(mut self, n: u32) -> Self {
        self.count = Some(n);
        self
    }

    /// Only with probability `p`.
    pub fn probability(mut self, p: f64) -> Self {
        self.probability = Some(p);
        self
    }
}

/// The active rules.
#[derive(Debug, Default)]
pub struct Faults {
    rules: Mutex<Vec<FaultRule>>,
    /// Set by [`Faults::seed`]: probabilities drawn from it, so a storm replays.
    rng: Mutex<Option<StdRng>>,
}

impl Faults {
    /// Adds a rule.
    pub fn add(&self, rule: FaultRule) {
        self.rules
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(rule);
    }

    /// Draws the probabilities of every rule from a generator seeded with
    /// `seed` (instead of the thread's), so the same requests meet the same
    /// faults run after run — as far as the requests come in the same order.
    pub fn seed(&self, seed: u64) {
        *self.rng.lock().unwrap_or_else(|p| p.into_inner()) = Some(StdRng::seed_from_u64(seed));
    }

    fn draw(&self) -> f64 {
        match self.rng.lock().unwrap_or_else(|p| p.into_inner()).as_mut() {
            Some(rng) => rng.random::<f64>(),
            None => rand::rng().random::<f64>(),
        }
    }

    /// Removes all rules.
    pub fn clear(&self) {
        self.rules.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }

    /// The fault for a request, if a rule matches (consuming one of its
    /// uses). A [`Fault::Hook`] is returned like any fault: the caller runs
    /// it, outside this lock, so a slow hook does not hold other requests.
    pub fn check(&self, verb: &str, resource: &str, name: Option<&str>) -> Option<Fault> {
        let mut rules = self.rules.lock().unwrap_or_else(|p| p.into_inner());
        let mut hit = None;
        for rule in rules.iter_mut() {
            let matches = rule.verb.as_deref().is_none_or(|v| v == verb)
                && rule.resource.as_deref().is_none_or(|r| r == resource)
                && rule.name.as_deref().is_none_or(|n| Some(n) == name)
                && rule.count.is_none_or(|c| c > 0);
            if !matches {
                continue;
            }
            if let Some(p) = rule.probability
                && self.draw() >= p
            {
                continue;
            }
            if let Some(c) = rule.count.as_mut() {
                *c -= 1;
            }
            hit = rule.fault.clone();
            break;
        }
        rules.retain(|r| r.count != Some(0));
        hit
    }
}
