//! Request counters per verb and resource, for tests and benchmarks that
//! measure how many API calls a client makes.

use std::collections::BTreeMap;
use std::sync::Mutex;

/// Counts requests by (verb, resource).
#[derive(Debug, Default)]
pub struct Counters {
    counts: Mutex<BTreeMap<(String, String), u64>>,
}

impl Counters {
    /// Records one request. `verb` is kube's verb (get, list, watch, create, update, patch, delete, deletecollection).
    pub fn record(&self, verb: &str, resource: &str) {
        let mut c = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        *c.entry((verb.to_string(), resource.to_string()))
            .or_default() += 1;
    }

    /// Requests of one verb on one resource (plural, e.g. `configmaps`; "" for non-resource paths).
    pub fn get(&self, verb: &str, resource: &str) -> u64 {
        let c = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        c.get(&(verb.to_string(), resource.to_string()))
            .copied()
            .unwrap_or(0)
    }

    /// All requests of one verb.
    pub fn verb(&self, verb: &str) -> u64 {
        let c = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        c.iter()
            .filter(|((v, _), _)| v == verb)
            .map(|(_, n)| n)
            .sum()
    }

    /// All requests.
    pub fn total(&self) -> u64 {
        self.counts
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .sum()
    }

    /// A copy of every counter.
    pub fn snapshot(&self) -> BTreeMap<(String, String), u64> {
        self.counts
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Forgets all counts.
    pub fn reset(&self) {
        self.counts
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }
}
