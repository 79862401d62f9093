//! Rendered charts kept across reconciles: a chart is rendered once per
//! (engine, chart digest, values digest, release, namespace), so an
//! unchanged revision costs a digest of the chart's files and no Helm call.

use super::protocol::{Job, Rendered};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

/// Entries kept before the cache is emptied (many more than charts in a repo:
/// only revisions that changed values or charts add entries).
const CAPACITY: usize = 512;

/// Renders by key.
#[derive(Default)]
pub struct Cache {
    entries: Mutex<HashMap<String, Arc<Rendered>>>,
}

impl Cache {
    /// The cached render of `key`.
    pub fn get(&self, key: &str) -> Option<Arc<Rendered>> {
        self.lock().get(key).cloned()
    }

    /// Keeps `rendered` under `key`.
    pub fn put(&self, key: String, rendered: Arc<Rendered>) {
        let mut entries = self.lock();
        if entries.len() >= CAPACITY {
            entries.clear();
        }
        entries.insert(key, rendered);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Rendered>>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The cache key of `job` rendered by `engine` (its name and version).
///
/// # Errors
/// A chart file that cannot be read.
pub fn key(engine: &str, job: &Job) -> std::io::Result<String> {
    let mut h = Sha256::new();
    h.update(engine.as_bytes());
    h.update([0]);
    h.update(chart_digest(&job.chart)?);
    // The job without its absolute path: the same chart checked out in
    // another directory (a new cache dir, a test's temp dir) is the same input.
    let inputs = serde_json::json!([job.release, job.namespace, job.values, job.include_crds]);
    h.update(inputs.to_string().as_bytes());
    Ok(crate::plan::digest::hex(&h.finalize()))
}

/// sha256 over a chart's files (relative path and content, in path order),
/// or over the bytes of a `.tgz`.
pub fn chart_digest(chart: &Path) -> std::io::Result<Vec<u8>> {
    let mut h = Sha256::new();
    if chart.is_file() {
        h.update(std::fs::read(chart)?);
        return Ok(h.finalize().to_vec());
    }
    let mut files = Vec::new();
    walk(chart, chart, &mut files)?;
    files.sort();
    for rel in files {
        let bytes = std::fs::read(chart.join(&rel))?;
        h.update(rel.as_bytes());
        h.update((bytes.len() as u64).to_le_bytes());
        h.update(&bytes);
    }
    Ok(h.finalize().to_vec())
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        if entry.file_type()?.is_dir() {
            walk(root, &path, out)?;
        } else if let Ok(rel) = path.strip_prefix(root) {
            out.push(rel.to_string_lossy().replace('\\', "/"));
        }
    }
    Ok(())
}
