//! The fault suite of issue 12 at full size: every area of `tests/suite/`
//! (kill -9, fault storms, agents and API server restarts, bad inputs,
//! secrets) runs once, and one figure line per area is printed at the end,
//! followed by the problems any area found. Figures only: the same areas run
//! at test size, and fail on any problem, in `tests/fault_suite.rs`.
//!
//! ```text
//! cargo bench -p wavesync --bench faults            # every area
//! cargo bench -p wavesync --bench faults -- kill    # areas whose name matches
//! ```

#![allow(missing_docs, clippy::unwrap_used)]

#[path = "../tests/common/mod.rs"]
mod common;
#[path = "../tests/suite/mod.rs"]
mod suite;

use std::future::Future;
use std::pin::Pin;
use std::time::Instant;
use suite::{Outcome, Scale};

type Area = fn(Scale) -> Pin<Box<dyn Future<Output = Outcome>>>;

fn main() {
    let filters: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let areas: [(&str, Area); 5] = [
        ("kill", |s| Box::pin(suite::kill::run(s))),
        ("storms", |s| Box::pin(suite::storms::run(s))),
        ("agents", |s| Box::pin(suite::agents::run(s))),
        ("inputs", |s| Box::pin(suite::inputs::run(s))),
        ("secrets", |s| Box::pin(suite::secrets::run(s))),
    ];
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut lines = Vec::new();
    let mut problems = Vec::new();
    for (name, area) in areas {
        if !filters.is_empty() && !filters.iter().any(|f| name.contains(f.as_str())) {
            continue;
        }
        eprintln!("fault suite: {name} …");
        let started = Instant::now();
        let outcome = runtime.block_on(area(Scale::Full));
        eprintln!(
            "fault suite: {name} done in {:.0} s: {}",
            started.elapsed().as_secs_f64(),
            outcome.line
        );
        lines.push(outcome.line);
        problems.extend(outcome.problems.into_iter().map(|p| format!("{name}: {p}")));
    }
    println!();
    for line in &lines {
        println!("{line}");
    }
    if !problems.is_empty() {
        println!("\n{} problem(s):", problems.len());
        for p in &problems {
            println!("  {p}");
        }
    }
}
