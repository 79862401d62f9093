//! Drift: live objects that no longer match what wavesync applied.
//!
//! `fields.rs` is the field-path notation shared with `diff`; `ignore.rs`
//! the rules that make a difference not count.

pub mod fields;
pub mod ignore;
