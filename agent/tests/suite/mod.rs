//! The fault suite, one module per area. The tests in `tests/fault_suite.rs`
//! run each area at test size and fail on any problem; `cargo bench --bench
//! faults` runs them at full size and prints one line per area.
//!
//! An area is `pub async fn run(scale: Scale) -> Outcome`.

#![allow(dead_code, clippy::unwrap_used)]

pub mod agents;
pub mod inputs;
pub mod kill;
pub mod secrets;
pub mod storms;

/// How much of an area to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scale {
    /// What CI runs: every acceptance point, kept to a minute or two.
    Test,
    /// The benchmark: more points, more repetitions.
    Full,
}

/// What an area found.
#[derive(Debug, Default)]
pub struct Outcome {
    /// The figure line, e.g. `kill -9: 20/20 resumed`.
    pub line: String,
    /// Every problem seen, each naming the case; empty when the area passed.
    pub problems: Vec<String>,
}

impl Outcome {
    /// Prints the line, and fails the test when there were problems.
    pub fn assert_clean(&self) {
        println!("{}", self.line);
        assert!(
            self.problems.is_empty(),
            "{}\n{} problem(s):\n  {}",
            self.line,
            self.problems.len(),
            self.problems.join("\n  ")
        );
    }
}
