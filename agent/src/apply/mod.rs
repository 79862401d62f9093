//! Apply: server-side apply of planned objects (field manager `wavesync`,
//! forced — Git is the truth), staged inside a component (CRDs and Namespaces
//! first, CRDs waited on until Established), bounded concurrency, objects
//! whose desired state did not change left unwritten, Jobs recreated when
//! their content changes, and pruning of objects removed from
//! Git with safety rails.

pub mod action;
pub mod changeset;
pub mod error;
pub mod jobs;
pub mod object;
pub mod prune;
pub mod revision;
pub mod ssa;
pub mod staged;

pub use changeset::{Action, Change, ChangeSet};
pub use error::ApplyError;

/// The field manager wavesync applies with.
pub const FIELD_MANAGER: &str = "wavesync";
/// Annotation: `"false"` never prunes the object; `"true"` allows pruning PVCs and Namespaces.
pub const PRUNE_ANNOTATION: &str = "wavesync.io/prune";
/// Label naming the WaveSet that applied an object.
pub const WAVESET_LABEL: &str = "wavesync.io/waveset";
/// Label naming the wave that applied an object.
pub const WAVE_LABEL: &str = "wavesync.io/wave";
