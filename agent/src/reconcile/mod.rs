//! Reconcile: one sync pass from a checked-out revision to a healthy cluster,
//! wave by wave, with the record written at every transition. [`sync`] holds
//! the thin orchestration and records how a pass ends; [`prepare`] renders
//! and plans; `wave` runs one wave's stages (gates, apply, health, prune);
//! [`gates`] the prerequisites and skip rules; [`guard`] the prune guards;
//! [`lease`] the one-agent-at-a-time lock; [`stop`] how a pass is asked to
//! stop at a safe point.

pub mod gates;
pub mod guard;
pub mod lease;
mod pass;
pub mod prepare;
pub mod stop;
pub mod sync;
pub mod watched;
mod wave;

pub use sync::{Engine, SyncError, SyncOptions, SyncReport};
