//! Reconcile: one sync pass from a checked-out revision to a healthy cluster,
//! wave by wave, with the record written at every transition. [`sync`] holds
//! the thin orchestration; [`gates`] the prerequisites and skip rules;
//! [`lease`] the one-agent-at-a-time lock.

pub mod gates;
pub mod lease;
mod pass;
pub mod sync;

pub use sync::{Engine, SyncError, SyncOptions, SyncReport};
