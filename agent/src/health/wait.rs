//! Waiting for a wave's objects to become healthy: each object is read until
//! [`assess`](super::assess) says Ready; NotFound and transient API errors mean
//! "not yet", a Failed object fails the wait at once, and the wave's timeout
//! bounds the whole.

use super::{CompiledRule, Health, assess};
use crate::apply::ApplyError;
use crate::cluster::Resolver;
use crate::error::{Categorized, Category};
use crate::model::ObjRef;
use futures::StreamExt;
use serde_json::Value;
use std::time::{Duration, Instant};

/// Why a wait ended without every object healthy.
#[derive(Debug, thiserror::Error)]
pub enum WaitError {
    /// An object reported failure (a Job's Failed condition, a failed rule).
    #[error("{object}: {message}")]
    Failed {
        /// The object.
        object: ObjRef,
        /// Why, from its status.
        message: String,
    },
    /// The timeout passed with objects still not ready.
    #[error("timed out after {timeout:?} waiting for {}", describe(pending))]
    Timeout {
        /// The timeout.
        timeout: Duration,
        /// Objects still not ready, with why.
        pending: Vec<(ObjRef, String)>,
    },
    /// Reading an object (or discovering its kind) failed in a way that
    /// waiting does not fix: refused (403), or an answer that cannot be read.
    #[error("{0}")]
    Unreadable(#[source] ApplyError),
}

fn describe(pending: &[(ObjRef, String)]) -> String {
    let mut parts: Vec<String> = pending
        .iter()
        .take(3)
        .map(|(r, why)| format!("{r} ({why})"))
        .collect();
    if pending.len() > 3 {
        parts.push(format!("and {} more", pending.len() - 3));
    }
    parts.join(", ")
}

impl Categorized for WaitError {
    fn category(&self) -> Category {
        match self {
            WaitError::Failed { .. } | WaitError::Timeout { .. } => Category::Component,
            WaitError::Unreadable(e) => e.category(),
        }
    }
}

/// Reads one object: `Ok(None)` when it does not exist (yet), or its kind is
/// not served (yet). A failed discovery is an error, not "not found".
async fn read(resolver: &Resolver, r: &ObjRef) -> Result<Option<Value>, ApplyError> {
    let Some((_, Some(live))) = resolver.get(r).await? else {
        return Ok(None);
    };
    match serde_json::to_value(live) {
        Ok(v) => Ok(Some(v)),
        Err(e) => Err(ApplyError::Decode {
            object: r.clone(),
            message: e.to_string(),
        }),
    }
}

/// Waits until every object in `objects` is healthy.
///
/// `report` is called now and then with the number still pending and the first one's reason.
///
/// # Errors
/// See [`WaitError`].
pub async fn wait_healthy(
    resolver: &Resolver,
    objects: &[ObjRef],
    rules: &[CompiledRule],
    timeout: Duration,
    report: &(dyn Fn(usize, &str) + Send + Sync),
) -> Result<(), WaitError> {
    let start = Instant::now();
    let mut pending: Vec<(ObjRef, String)> = objects
        .iter()
        .map(|r| (r.clone(), "not checked yet".into()))
        .collect();
    // Start polling fast: most objects turn ready within tens of milliseconds.
    let mut delay = Duration::from_millis(20);
    let mut last_report = Instant::now();
    let mut last_line = String::new();
    loop {
        // Owned refs, collected first: a closure over `&(ObjRef, String)` inside
        // the stream keeps the future from being provably `Send` (rustc #100013),
        // and `Engine::sync` must be spawnable.
        let refs: Vec<ObjRef> = pending.iter().map(|(r, _)| r.clone()).collect();
        let checks: Vec<(ObjRef, Result<Option<Value>, ApplyError>)> = futures::stream::iter(refs)
            .map(|r| async move {
                let res = read(resolver, &r).await;
                (r, res)
            })
            .buffer_unordered(8)
            .collect()
            .await;
        let mut still = Vec::new();
        for (r, res) in checks {
            match res {
                Ok(obj) => match assess(obj.as_ref(), rules) {
                    Health::Ready => {}
                    Health::Progressing(why) => still.push((r, why)),
                    Health::Failed(message) => {
                        return Err(WaitError::Failed { object: r, message });
                    }
                },
                Err(e) if e.category() != Category::Transient => {
                    return Err(WaitError::Unreadable(e));
                }
                Err(e) => still.push((r, format!("not readable yet: {e}"))),
            }
        }
        still.sort_by(|a, b| a.0.cmp(&b.0));
        pending = still;
        if pending.is_empty() {
            return Ok(());
        }
        if start.elapsed() >= timeout {
            return Err(WaitError::Timeout { timeout, pending });
        }
        // Report what changed as soon as it changes, and the same thing only every 15 s.
        let line = format!("{} {}", pending[0].0, pending[0].1);
        let interval = if line == last_line {
            Duration::from_secs(15)
        } else {
            Duration::from_secs(2)
        };
        if last_report.elapsed() >= interval {
            report(pending.len(), &line);
            last_report = Instant::now();
            last_line = line;
        }
        tokio::time::sleep(delay.min(timeout.saturating_sub(start.elapsed()))).await;
        delay = (delay * 2).min(Duration::from_secs(2));
    }
}
