//! Cluster access the stages share: which resource serves an apiVersion and
//! kind (discovery, cached), and the API to act on it. Apply, prune, health,
//! gates, drift and the live diff all reach the cluster through it, so it
//! belongs to none of them.

pub mod resolver;

pub use resolver::{Resolved, Resolver};
