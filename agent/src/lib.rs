//! wavesync: a GitOps reconciliation agent that rolls dataplane specs out of a
//! Git repository in ordered waves, each healthy before the next.
//!
//! The pipeline (source → render → plan → apply → health → state → report)
//! arrives with the issues that build it; for now the crate holds the command
//! line and the simulated cluster command.

pub mod cli;
