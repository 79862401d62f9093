//! The subcommands' bodies, each in its own file; `main.rs` only dispatches.

pub mod cluster;
#[cfg(feature = "sim")]
pub mod demo;
pub mod diff;
pub mod render;
pub mod run;
#[cfg(feature = "sim")]
pub mod sim;
pub mod status;
pub mod sync;
pub mod validate;
