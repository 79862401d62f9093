//! The state record: the revision, phase and every wave's status, kept in a
//! ConfigMap in the cluster so that any agent process resumes where the last
//! one stopped. [`record`] is the plain data and its encoding; [`store`]
//! reads and writes it with optimistic concurrency; [`conditions`] derives
//! the standard status conditions from the phase; [`transition`] is the
//! pure state machine every change of the record goes through.

pub mod conditions;
pub mod record;
pub mod store;
pub mod transition;

pub use record::{
    DRIFT_ITEMS, DriftItem, DriftStatus, HeldPrune, Inventory, Phase, Record,
    SYNC_REQUEST_ANNOTATION, Stall, SyncEntry, WaveRecord, WaveStatus,
};
pub use store::{StateError, StateStore};
pub use transition::Transition;
