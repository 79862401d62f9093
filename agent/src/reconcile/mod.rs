//! Reconcile: one sync pass from a checked-out revision to a healthy cluster,
//! wave by wave, with the record written at every transition. [`sync`] holds
//! the thin orchestration; [`gates`] the prerequisites and skip rules;
//! [`lease`] the one-agent-at-a-time lock; [`stop`] how a pass is asked to
//! stop at a safe point.

pub mod gates;
pub mod guard;
pub mod lease;
mod pass;
pub mod stop;
pub mod sync;
pub mod watched;

pub use sync::{Engine, SyncError, SyncOptions, SyncReport};
