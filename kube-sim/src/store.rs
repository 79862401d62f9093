//! The object store: every object as JSON under one global resourceVersion,
//! with a bounded history of changes that watches replay from.

use bytes::Bytes;
use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::watch;

/// Storage key of one object: resource key (`apps/deployments`), namespace, name.
pub type Key = (String, String, String);

/// What happened to an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    /// Created.
    Added,
    /// Changed.
    Modified,
    /// Removed.
    Deleted,
}

impl EventType {
    /// The watch event type name.
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Added => "ADDED",
            EventType::Modified => "MODIFIED",
            EventType::Deleted => "DELETED",
        }
    }
}

/// One change, as watches see it.
#[derive(Debug, Clone)]
pub struct Event {
    /// The resourceVersion of the change.
    pub rv: u64,
    /// Resource key (`apps/deployments`).
    pub resource: String,
    /// Namespace ("" for cluster-scoped).
    pub namespace: String,
    /// What happened.
    pub kind: EventType,
    /// The object after the change (before it, for deletions, with the deletion's resourceVersion).
    pub object: Arc<Value>,
    /// The object before the change, so that selector watches see objects leave.
    pub prev: Option<Arc<Value>>,
}

/// Mutable state behind the store lock.
#[derive(Debug, Default)]
pub struct State {
    /// Last resourceVersion handed out.
    pub rv: u64,
    /// All objects.
    pub objects: BTreeMap<Key, Arc<Value>>,
    /// Each object's JSON without apiVersion and kind, as list items are
    /// written; encoded once per write so that large LISTs are a copy.
    encoded: HashMap<Key, Bytes>,
    events: VecDeque<Event>,
    /// Oldest resourceVersion a watch may still start from.
    pub compacted: u64,
}

/// How many changes watches can replay.
const HISTORY: usize = 20_000;

impl State {
    /// The next resourceVersion.
    pub fn next_rv(&mut self) -> u64 {
        self.rv += 1;
        self.rv
    }

    /// Stores `obj` (whose resourceVersion must already be `rv`) and records the event.
    pub fn put(&mut self, key: Key, obj: Value, rv: u64, kind: EventType) -> Arc<Value> {
        let obj = Arc::new(obj);
        self.encoded.insert(key.clone(), encode_item(&obj));
        let prev = self.objects.insert(key.clone(), obj.clone());
        self.record(key, obj.clone(), prev, rv, kind);
        obj
    }

    /// Removes an object; the DELETED event carries `obj` as given.
    pub fn remove(&mut self, key: &Key, obj: Value, rv: u64) {
        let prev = self.objects.remove(key);
        self.encoded.remove(key);
        self.record(key.clone(), Arc::new(obj), prev, rv, EventType::Deleted);
    }

    fn record(
        &mut self,
        key: Key,
        object: Arc<Value>,
        prev: Option<Arc<Value>>,
        rv: u64,
        kind: EventType,
    ) {
        self.events.push_back(Event {
            rv,
            resource: key.0,
            namespace: key.1,
            kind,
            object,
            prev,
        });
        while self.events.len() > HISTORY {
            if let Some(e) = self.events.pop_front() {
                self.compacted = e.rv;
            }
        }
    }

    /// Forgets all history up to now, as an etcd compaction does.
    pub fn compact(&mut self) {
        self.events.clear();
        self.compacted = self.rv;
    }

    /// One object.
    pub fn get(&self, key: &Key) -> Option<Arc<Value>> {
        self.objects.get(key).cloned()
    }

    /// All objects of a resource, optionally in one namespace, in key order.
    pub fn list<'a>(
        &'a self,
        resource: &'a str,
        namespace: Option<&'a str>,
    ) -> impl Iterator<Item = (&'a Key, &'a Arc<Value>)> + 'a {
        let start = (
            resource.to_string(),
            namespace.unwrap_or_default().to_string(),
            String::new(),
        );
        self.objects
            .range(start..)
            .take_while(move |(k, _)| k.0 == resource && namespace.is_none_or(|ns| k.1 == ns))
    }

    /// The list-item JSON of a stored object (no apiVersion or kind).
    pub fn encoded(&self, key: &Key) -> Option<&Bytes> {
        self.encoded.get(key)
    }

    /// Events after `rv`, or `None` when history no longer reaches back that far.
    pub fn events_after(&self, rv: u64) -> Option<Vec<Event>> {
        if rv < self.compacted {
            return None;
        }
        let start = self.events.partition_point(|e| e.rv <= rv);
        Some(self.events.range(start..).cloned().collect())
    }
}

struct WithoutType<'a>(&'a Map<String, Value>);

impl Serialize for WithoutType<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        for (k, v) in self
            .0
            .iter()
            .filter(|(k, _)| *k != "apiVersion" && *k != "kind")
        {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

fn encode_item(obj: &Value) -> Bytes {
    let json = match obj.as_object() {
        Some(m) => serde_json::to_vec(&WithoutType(m)),
        None => serde_json::to_vec(obj),
    };
    Bytes::from(json.unwrap_or_default())
}

/// The shared store.
#[derive(Debug)]
pub struct Store {
    state: Mutex<State>,
    notify: watch::Sender<u64>,
}

impl Default for Store {
    fn default() -> Self {
        Self::new()
    }
}

impl Store {
    /// An empty store.
    pub fn new() -> Self {
        Store {
            state: Mutex::new(State::default()),
            notify: watch::channel(0).0,
        }
    }

    /// Locks the state; call [`Store::notify`] after changing it.
    pub fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Wakes watches after a change.
    pub fn notify(&self) {
        let rv = self.lock().rv;
        self.notify.send_replace(rv);
    }

    /// A receiver that changes whenever the store does.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.notify.subscribe()
    }
}
