//! Request counters per verb and resource, for tests and benchmarks that
//! measure how many API calls a client makes, and per named object, for
//! tests that check which objects a client wrote.

use std::collections::BTreeMap;
use std::sync::Mutex;

/// A request naming one object in its path (get, update, patch, delete; a
/// create names its object in the body and is counted per resource only).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ObjectRequest {
    /// kube verb.
    pub verb: String,
    /// Plural resource name.
    pub resource: String,
    /// Namespace, for a namespaced object.
    pub namespace: Option<String>,
    /// Object name.
    pub name: String,
    /// A dry run (`dryRun=All`): nothing was persisted.
    pub dry_run: bool,
}

/// Counts requests by (verb, resource), and by [`ObjectRequest`].
#[derive(Debug, Default)]
pub struct Counters {
    counts: Mutex<BTreeMap<(String, String), u64>>,
    objects: Mutex<BTreeMap<ObjectRequest, u64>>,
}

impl Counters {
    /// Records one request. `verb` is kube's verb (get, list, watch, create, update, patch, delete, deletecollection).
    pub fn record(&self, verb: &str, resource: &str) {
        let mut c = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        *c.entry((verb.to_string(), resource.to_string()))
            .or_default() += 1;
    }

    /// Records one request that names an object in its path.
    pub fn record_object(
        &self,
        verb: &str,
        resource: &str,
        namespace: Option<&str>,
        name: &str,
        dry_run: bool,
    ) {
        let key = ObjectRequest {
            verb: verb.to_string(),
            resource: resource.to_string(),
            namespace: namespace.map(String::from),
            name: name.to_string(),
            dry_run,
        };
        *self
            .objects
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(key)
            .or_default() += 1;
    }

    /// Requests that named an object, by verb, object and dry run.
    pub fn objects(&self) -> BTreeMap<ObjectRequest, u64> {
        self.objects
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Requests of one verb on one object that were not dry runs.
    pub fn object(&self, verb: &str, resource: &str, namespace: Option<&str>, name: &str) -> u64 {
        self.objects
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .filter(|(k, _)| {
                !k.dry_run
                    && k.verb == verb
                    && k.resource == resource
                    && k.namespace.as_deref() == namespace
                    && k.name == name
            })
            .map(|(_, n)| n)
            .sum()
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
        self.objects
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }
}
