//! Area 3: several agents, a killed leader, a restarted API server.

use super::{Outcome, Scale};

/// Area 3.
pub async fn run(scale: Scale) -> Outcome {
    let _ = scale;
    Outcome::default()
}
