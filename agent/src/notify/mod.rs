//! Notifications: telling people what happened — drift found and resolved,
//! failed and stalled syncs, failed waves, refused commits, and (opt-in)
//! successful syncs — through a generic JSON webhook, the Alertmanager v2
//! API, or a Slack-compatible incoming webhook.
//!
//! It sits at the end of the pipeline, with the rest of `report`: other
//! stages hand it plain-data [`Notice`]s and never wait for a receiver.
//! Why a module of its own: delivery is the one part of reporting that
//! talks to services outside the cluster, so it owns a queue, retries and
//! secrets (URLs, tokens, HMAC keys) that must never reach a payload or a
//! log line.
//!
//! Files, one job each: `notice.rs` (what happened), `sinks/` (the payload
//! of each kind of sink; Alertmanager's firing alerts), `mask.rs` (Secret
//! values, the sinks' own secrets, URLs in logs), `build.rs` (sinks from
//! `wavesync.yaml` and the flags, secrets read from files and Secrets),
//! `deliver.rs` ([`Notifier`]: queues and one task per sink), `queue.rs`
//! (bounded, drop-oldest), `backoff.rs` (retries, `Retry-After`),
//! `http.rs` (the client), `error.rs`. The formats are documented in
//! docs/notifications.md.
//!
//! ```ignore
//! let built = notify::build_sinks(&waveset.notifications, &args.notify.sinks(), Some(&client), &ns).await;
//! for e in &built.errors { tracing::error!(error = %e, "notification sink left out"); }
//! let notifier = Notifier::start(built.sinks, context, metrics.clone());
//! notifier.notify(Notice::SyncFailed { revision, category, message });
//! notifier.ready();
//! notifier.shutdown(Duration::from_secs(5)).await;
//! ```

mod backoff;
mod build;
mod deliver;
mod error;
mod http;
pub mod mask;
mod notice;
mod queue;
pub mod sinks;

pub use backoff::{Retry, retry_after};
pub use build::{Built, DEFAULT_FILES_DIR, FlagSinks, ResolvedSink, build_sinks};
pub use deliver::{DeliveryOptions, Notifier};
pub use error::{DeliveryError, NotifyError};
pub use http::{SIGNATURE_HEADER, signature};
pub use notice::{
    DriftDetected, DriftPolicy, DriftResolved, FieldChange, Notice, NotifyContext, Resolution,
    Severity,
};
pub use sinks::webhook::SCHEMA_VERSION;
