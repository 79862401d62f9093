//! The change set: what apply and prune did to each object, handed on to
//! health (the live objects, so they need not be read again), the record's
//! inventory (what is now managed) and the report (counts by action) — one
//! account of a wave instead of lists each stage keeps its own way.

use super::error::ApplyError;
use crate::error::{Categorized, Category};
use crate::model::{ApplyAction, ObjRef};
use serde_json::Value;

/// What a stage did to one object.
#[derive(Debug)]
pub enum Action {
    /// It did not exist and was created.
    Created,
    /// It existed and the apply changed it.
    Configured,
    /// Its desired state is what is live: nothing was written.
    Unchanged,
    /// A Job whose content changed, deleted and created again (it re-runs).
    Recreated,
    /// Pruned: deleted from the cluster.
    Deleted,
    /// Pruned, but it was already gone (or its kind is no longer served).
    Gone,
    /// Left alone on purpose, with the reason (a prune rail); no longer managed.
    Skipped(String),
    /// The apply or delete failed.
    Failed(ApplyError),
}

impl Action {
    /// Whether the object is in the cluster as desired after this action.
    pub fn is_applied(&self) -> bool {
        matches!(
            self,
            Action::Created | Action::Configured | Action::Unchanged | Action::Recreated
        )
    }

    /// Whether the action wrote to the cluster.
    pub fn is_write(&self) -> bool {
        matches!(
            self,
            Action::Created | Action::Configured | Action::Recreated | Action::Deleted
        )
    }

    /// How an applied object is counted in progress and metrics.
    pub fn apply_action(&self) -> Option<ApplyAction> {
        match self {
            Action::Created | Action::Recreated => Some(ApplyAction::Created),
            Action::Configured => Some(ApplyAction::Configured),
            Action::Unchanged => Some(ApplyAction::Unchanged),
            _ => None,
        }
    }
}

/// One object's entry.
#[derive(Debug)]
pub struct Change {
    /// The object.
    pub object: ObjRef,
    /// What was done.
    pub action: Action,
    /// The live object after an apply (the server's answer, or what was
    /// read when nothing had to be written).
    pub live: Option<Value>,
}

/// What one or more stages did, object by object, in the order they finished.
#[derive(Debug, Default)]
pub struct ChangeSet {
    /// The entries.
    pub changes: Vec<Change>,
}

impl ChangeSet {
    /// Adds an entry.
    pub fn push(&mut self, object: ObjRef, action: Action, live: Option<Value>) {
        self.changes.push(Change {
            object,
            action,
            live,
        });
    }

    /// Appends every entry of `other`.
    pub fn extend(&mut self, other: ChangeSet) {
        self.changes.extend(other.changes);
    }

    /// Entries whose action matches `keep`.
    pub fn with<'a>(
        &'a self,
        keep: impl Fn(&Action) -> bool + 'a,
    ) -> impl Iterator<Item = &'a Change> + 'a {
        self.changes.iter().filter(move |c| keep(&c.action))
    }

    /// Objects now in the cluster as desired.
    pub fn applied(&self) -> impl Iterator<Item = &ObjRef> {
        self.with(Action::is_applied).map(|c| &c.object)
    }

    /// How many entries have an action matching `keep`.
    pub fn count(&self, keep: impl Fn(&Action) -> bool) -> usize {
        self.changes.iter().filter(|c| keep(&c.action)).count()
    }

    /// Writes sent to the cluster (creates, changes, re-creations, deletes).
    pub fn writes(&self) -> usize {
        self.count(Action::is_write)
    }

    /// The failures, in order.
    pub fn errors(&self) -> Vec<&ApplyError> {
        self.changes
            .iter()
            .filter_map(|c| match &c.action {
                Action::Failed(e) => Some(e),
                _ => None,
            })
            .collect()
    }

    /// The category a retry is least likely to fix, when something failed.
    pub fn worst_failure(&self) -> Option<Category> {
        Category::worst(self.errors().into_iter().map(Categorized::category))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(name: &str) -> ObjRef {
        ObjRef {
            api_version: "v1".into(),
            kind: "ConfigMap".into(),
            namespace: "ns".into(),
            name: name.into(),
        }
    }

    #[test]
    fn applied_writes_and_failures_are_counted_by_action() {
        let mut cs = ChangeSet::default();
        cs.push(r("a"), Action::Created, None);
        cs.push(r("b"), Action::Unchanged, None);
        cs.push(r("c"), Action::Deleted, None);
        cs.push(r("d"), Action::Gone, None);
        cs.push(r("e"), Action::Skipped("annotated".into()), None);
        cs.push(
            r("f"),
            Action::Failed(ApplyError::Timeout("slow".into())),
            None,
        );
        let applied: Vec<&str> = cs.applied().map(|o| o.name.as_str()).collect();
        assert_eq!(applied, ["a", "b"]);
        assert_eq!(
            cs.writes(),
            2,
            "a create and a delete; unchanged is no write"
        );
        assert_eq!(cs.errors().len(), 1);
        assert_eq!(cs.worst_failure(), Some(Category::Transient));
    }
}
