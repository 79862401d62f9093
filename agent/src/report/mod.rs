//! Report: what a sync shows people — progress on a terminal (or in logs) as
//! it happens, and the status table of the record.

pub mod progress;
pub mod status;

pub use progress::{Event, Progress, TerminalProgress};
