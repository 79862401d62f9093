//! wavesync: a GitOps reconciliation agent that rolls dataplane specs out of a
//! Git repository in ordered waves, each healthy before the next.
//!
//! The modules follow the pipeline: [`source`] (Git) → [`render`] (objects) →
//! [`plan`] (waves, order, digests) → [`apply`] (server-side apply, prune) →
//! [`health`] (readiness) → [`state`] (the ConfigMap record) → [`report`]
//! (progress, status, metrics, Events) and [`notify`] (webhook, Alertmanager
//! and Slack notifications). [`config`] reads `wavesync.yaml`;
//! [`model`] holds the plain data the stages hand each other; [`reconcile`]
//! runs one pass through the stages; [`controller`] is the long-running
//! in-cluster agent around it (leader election, error policy, health
//! endpoints).

pub mod apply;
pub mod cli;
pub mod client;
pub mod clock;
pub mod cluster;
pub mod commands;
pub mod config;
pub mod controller;
pub mod diff;
pub mod drift;
pub mod error;
pub mod health;
pub mod kinds;
pub mod model;
pub mod notify;
pub mod plan;
pub mod reconcile;
pub mod render;
pub mod report;
pub mod retry;
pub mod secrets;
pub mod source;
pub mod state;
pub mod validate;

#[cfg(test)]
mod test_support;
