//! The fault suite at test size: each area fails on any problem it finds
//! (see `tests/suite/`); `cargo bench --bench faults` prints the figures.

#![allow(clippy::unwrap_used)]

mod common;
mod suite;
