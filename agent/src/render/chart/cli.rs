//! The `helm` CLI engine: `helm template`, its output split back into files
//! by the `# Source:` comment Helm writes before every document.

use super::protocol::{Failed, Job, Rendered, Reply};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Renders `job` with the `helm` binary at `helm`; `helm template` is
/// killed when it runs longer than `timeout`.
pub fn render(helm: &Path, job: &Job, timeout: Duration) -> Reply {
    let values = match ValuesFile::write(&job.values) {
        Ok(f) => f,
        Err(e) => return engine(format!("cannot write the values file: {e}")),
    };
    let mut cmd = Command::new(helm);
    cmd.arg("template")
        .arg(&job.release)
        .arg(&job.chart)
        .arg("--namespace")
        .arg(&job.namespace)
        .arg("--values")
        .arg(&values.0);
    if job.include_crds {
        cmd.arg("--include-crds");
    }
    let out = match output_within(&mut cmd, timeout) {
        Ok(Some(out)) => out,
        Ok(None) => {
            return Reply::Err {
                failed: Failed::Timeout,
                message: super::worker::timed_out(timeout),
            };
        }
        Err(e) => return engine(format!("cannot run {}: {e}", helm.display())),
    };
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        // Advice about helm's own flags means nothing to a wavesync user.
        let message = stderr
            .lines()
            .filter(|l| !l.starts_with("Use --debug flag"))
            .collect::<Vec<_>>()
            .join("\n")
            .trim()
            .trim_start_matches("Error: ")
            .to_owned();
        return Reply::Err {
            failed: classify(&message),
            message,
        };
    }
    Reply::Ok(split(&String::from_utf8_lossy(&out.stdout)).normalize())
}

/// Runs `cmd` to its end and collects its output, or kills it after
/// `timeout` (None).
fn output_within(cmd: &mut Command, timeout: Duration) -> std::io::Result<Option<Output>> {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut p) = pipe {
                let _ = p.read_to_end(&mut buf);
            }
            buf
        })
    };
    let stdout = drain(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let stderr = drain(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Ok(None);
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Ok(Some(Output {
        status,
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
    }))
}

/// The `helm --version` line, to tell the engines apart in the cache key.
pub fn version(helm: &Path) -> Result<String, String> {
    let out = Command::new(helm)
        .arg("version")
        .arg("--short")
        .output()
        .map_err(|e| format!("cannot run {}: {e}", helm.display()))?;
    Ok(format!(
        "helm {}",
        String::from_utf8_lossy(&out.stdout).trim()
    ))
}

/// Which step a `helm template` error message is about.
fn classify(message: &str) -> Failed {
    if message.contains("schema") || message.contains("values") && message.contains("parse") {
        Failed::Values
    } else if message.contains("Chart.yaml")
        || message.contains("no such file")
        || message.contains("chart") && (message.contains("load") || message.contains("not found"))
    {
        Failed::Load
    } else {
        Failed::Template
    }
}

/// Splits `helm template` output into files by their `# Source:` comment;
/// documents of one template stay together, in order.
pub(crate) fn split(output: &str) -> Rendered {
    let mut rendered = Rendered::default();
    for doc in output
        .split("\n---")
        .flat_map(|d| d.strip_prefix("---").or(Some(d)))
    {
        let mut lines = doc.trim_start_matches('\n').splitn(2, '\n');
        let Some(source) = lines.next().and_then(|l| l.strip_prefix("# Source: ")) else {
            continue;
        };
        let mut body = lines.next().unwrap_or_default().to_owned();
        if !body.ends_with('\n') {
            body.push('\n');
        }
        let is_crd = source.split('/').nth(1).is_some_and(|dir| dir == "crds");
        let list = if is_crd {
            &mut rendered.crds
        } else {
            &mut rendered.templates
        };
        match list.iter_mut().find(|(name, _)| name == source) {
            Some((_, text)) => {
                text.push_str("---\n");
                text.push_str(&body);
            }
            None => list.push((source.to_owned(), body)),
        }
    }
    rendered
}

fn engine(message: String) -> Reply {
    Reply::Err {
        failed: Failed::Engine,
        message,
    }
}

/// A values file for one `helm template` run, removed when dropped.
struct ValuesFile(PathBuf);

impl ValuesFile {
    fn write(values: &serde_json::Value) -> std::io::Result<ValuesFile> {
        static SEQ: AtomicU64 = AtomicU64::new(0);
        let path = std::env::temp_dir().join(format!(
            "wavesync-values-{}-{}.json",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed)
        ));
        // JSON is YAML: Helm reads it as a values file unchanged.
        std::fs::write(&path, values.to_string())?;
        Ok(ValuesFile(path))
    }
}

impl Drop for ValuesFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helm_template_output_splits_by_source() {
        let out = "---\n# Source: demo/crds/foo.yaml\nkind: CustomResourceDefinition\n\
                   ---\n# Source: demo/templates/svc.yaml\nkind: Service\n\
                   ---\n# Source: demo/templates/all.yaml\nkind: A\n\
                   ---\n# Source: demo/templates/all.yaml\nkind: B\n";
        let r = split(out).normalize();
        assert_eq!(
            r.crds,
            [(
                "demo/crds/foo.yaml".into(),
                "kind: CustomResourceDefinition\n".into()
            )]
        );
        assert_eq!(
            r.templates,
            [
                (
                    "demo/templates/all.yaml".to_owned(),
                    "kind: A\n---\nkind: B\n".to_owned()
                ),
                (
                    "demo/templates/svc.yaml".to_owned(),
                    "kind: Service\n".to_owned()
                ),
            ]
        );
    }
}
