//! Finding a Helm engine on this machine: the `helm` binary on `PATH`, and
//! `libhelm_c` in the `helm-python-sdk` wheel's install location.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The library's file names, most specific first (as the wheel's loader
/// looks for them).
fn library_names() -> &'static [&'static str] {
    if cfg!(target_os = "macos") {
        &[
            "libhelm_c.0.2.2.dylib",
            "libhelm_c.0.dylib",
            "libhelm_c.dylib",
        ]
    } else {
        &["libhelm_c.so.0.2.2", "libhelm_c.so.0", "libhelm_c.so"]
    }
}

/// `libhelm_c`: `explicit` (a file, or a directory holding it), else
/// `HELM_C_LIB` (the variable the wheel itself honours), else the `lib/`
/// directory of the installed `helm_python` package, as `python3` finds it
/// (without importing it, which would load the library into Python).
///
/// # Errors
/// Every place looked at, for the message.
pub fn libhelm(explicit: Option<&Path>) -> Result<PathBuf, String> {
    let mut tried = Vec::new();
    let env = std::env::var_os("HELM_C_LIB").map(PathBuf::from);
    for given in explicit.map(Path::to_path_buf).into_iter().chain(env) {
        if let Some(found) = in_place(&given, &mut tried) {
            return Ok(found);
        }
    }
    match wheel_dir() {
        Ok(dir) => {
            if let Some(found) = in_place(&dir.join("lib"), &mut tried) {
                return Ok(found);
            }
        }
        Err(why) => tried.push(why),
    }
    Err(format!(
        "no Helm engine: `helm` is not on PATH and libhelm_c was not found (looked at: {}). \
         Install the helm CLI, or `pip install helm-python-sdk`, or set WAVESYNC_LIBHELM \
         to the library's path",
        tried.join(", ")
    ))
}

fn in_place(given: &Path, tried: &mut Vec<String>) -> Option<PathBuf> {
    if given.is_file() {
        return Some(given.to_path_buf());
    }
    if given.is_dir() {
        for name in library_names() {
            let p = given.join(name);
            if p.is_file() {
                return Some(p);
            }
        }
    }
    tried.push(given.display().to_string());
    None
}

/// The installed `helm_python` package directory.
fn wheel_dir() -> Result<PathBuf, String> {
    const FIND: &str = "import importlib.util as u; s = u.find_spec('helm_python'); \
                        print(s.submodule_search_locations[0] if s else '')";
    for python in ["python3", "python"] {
        let Ok(out) = Command::new(python).arg("-c").arg(FIND).output() else {
            continue;
        };
        let dir = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        if out.status.success() && !dir.is_empty() {
            return Ok(PathBuf::from(dir));
        }
    }
    Err("the helm_python package (python3 cannot find it)".into())
}

/// An executable called `name` in a directory of `PATH`.
pub fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        p.metadata()
            .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    }
    #[cfg(not(unix))]
    {
        p.is_file()
    }
}
