//! Report: what a sync shows people — progress on a terminal (or in logs) as
//! it happens, and the status table of the record.

pub mod events;
pub mod metrics;
pub mod progress;
pub mod status;

pub use metrics::Metrics;
pub use progress::{ApplyAction, Event, Fanout, Progress, TerminalProgress};
