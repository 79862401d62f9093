//! The only `unsafe` code of wavesync: calls into `libhelm_c`, Helm's Go SDK
//! behind a C ABI (the library of the PyPI wheel `helm-python-sdk`).
//!
//! It runs in the helm worker process (`wavesync helm-worker`), never in the
//! agent itself: the Go runtime inside the library owns signal handlers and
//! threads, and a panic or fatal error there must not take the agent down.
//!
//! The ABI, as `helm_python/_native.py` declares it: every call returns an
//! `int32` status (0 = OK, negative = an error code) and hands out strings
//! that the caller owns and must release with `helm_free_string`; charts are
//! opaque `uint64` handles released with `helm_chart_free`.
#![allow(unsafe_code)]

use std::ffi::{CStr, CString, c_char};
use std::path::Path;

type Status = i32;
type Handle = u64;
type LoadFn = unsafe extern "C" fn(*const c_char, *mut Handle, *mut *mut c_char) -> Status;
type RenderFn = unsafe extern "C" fn(
    Handle,
    *const c_char,
    *const c_char,
    *mut *mut c_char,
    *mut *mut c_char,
) -> Status;
type OutFn = unsafe extern "C" fn(Handle, *mut *mut c_char, *mut *mut c_char) -> Status;
type FreeHandleFn = unsafe extern "C" fn(Handle, *mut *mut c_char) -> Status;
type FreeStringFn = unsafe extern "C" fn(*mut c_char);
type VersionFn = unsafe extern "C" fn() -> *mut c_char;

/// An error the library reported: its status code and message.
#[derive(Debug, Clone)]
pub struct LibError {
    /// The `helm_error_code` (negative); 0 when the library could not be loaded.
    pub code: i32,
    /// The library's message.
    pub message: String,
}

/// `helm_error_code` values wavesync tells apart.
pub mod code {
    /// `HELM_ERR_CHART_LOAD`.
    pub const CHART_LOAD: i32 = -20;
    /// `HELM_ERR_CHART_INVALID`.
    pub const CHART_INVALID: i32 = -21;
    /// `HELM_ERR_VALUES`: malformed values or a `values.schema.json` violation.
    pub const VALUES: i32 = -22;
    /// `HELM_ERR_RENDER`: a template failed.
    pub const RENDER: i32 = -23;
    /// `HELM_ERR_NOT_FOUND` / `HELM_ERR_IO`: the chart path.
    pub const NOT_FOUND: i32 = -7;
}

/// The loaded library with the functions wavesync uses resolved once.
pub struct LibHelm {
    load: LoadFn,
    render: RenderFn,
    crds: OutFn,
    free_chart: FreeHandleFn,
    free_string: FreeStringFn,
    version: VersionFn,
    sdk_version: VersionFn,
    // Kept last so that it is dropped after nothing can call into it.
    _lib: libloading::Library,
}

impl LibHelm {
    /// Loads the library at `path` and resolves its symbols.
    ///
    /// # Errors
    /// The loader's message, or the name of a missing symbol (not a
    /// `libhelm_c` of the 0.x ABI).
    pub fn open(path: &Path) -> Result<LibHelm, String> {
        // SAFETY: loading runs the library's initialisers (the Go runtime's);
        // libhelm_c is built as a C shared library for exactly this use.
        let lib = unsafe { libloading::Library::new(path) }
            .map_err(|e| format!("cannot load {}: {e}", path.display()))?;
        macro_rules! sym {
            ($name:literal, $ty:ty) => {{
                // SAFETY: the type is the one `_native.py` declares for this
                // symbol; the pointer stays valid while `_lib` is alive.
                let s: libloading::Symbol<$ty> = unsafe { lib.get($name) }
                    .map_err(|e| format!("{} is not a libhelm_c library: {e}", path.display()))?;
                *s
            }};
        }
        Ok(LibHelm {
            load: sym!(b"helm_chart_load\0", LoadFn),
            render: sym!(b"helm_render\0", RenderFn),
            crds: sym!(b"helm_chart_crds\0", OutFn),
            free_chart: sym!(b"helm_chart_free\0", FreeHandleFn),
            free_string: sym!(b"helm_free_string\0", FreeStringFn),
            version: sym!(b"helm_c_version\0", VersionFn),
            sdk_version: sym!(b"helm_sdk_version\0", VersionFn),
            _lib: lib,
        })
    }

    /// `libhelm_c 0.2.2 (Helm v4.2.3)`.
    pub fn describe(&self) -> String {
        // SAFETY: both return a library-owned string or NULL, taken once.
        let (c, sdk) = unsafe { (self.take((self.version)()), self.take((self.sdk_version)())) };
        format!(
            "libhelm_c {} (Helm {})",
            c.unwrap_or_default(),
            sdk.unwrap_or_default()
        )
    }

    /// Loads the chart at `path` (a directory or a `.tgz`).
    ///
    /// # Errors
    /// The library's error.
    pub fn load_chart(&self, path: &Path) -> Result<Chart<'_>, LibError> {
        let c_path = cstring(&path.to_string_lossy())?;
        let mut handle: Handle = 0;
        let mut err: *mut c_char = std::ptr::null_mut();
        // SAFETY: valid NUL-terminated input, valid out-pointers.
        let status = unsafe { (self.load)(c_path.as_ptr(), &mut handle, &mut err) };
        // SAFETY: `err` is NULL or a library-owned string, taken once.
        let message = unsafe { self.take(err) };
        check(status, message)?;
        Ok(Chart { lib: self, handle })
    }

    /// Copies a library-owned string and frees it.
    ///
    /// # Safety
    /// `ptr` is NULL or a string returned by the library and not freed yet.
    unsafe fn take(&self, ptr: *mut c_char) -> Option<String> {
        if ptr.is_null() {
            return None;
        }
        // SAFETY: the caller guarantees a live NUL-terminated string.
        let text = unsafe { CStr::from_ptr(ptr) }
            .to_string_lossy()
            .into_owned();
        // SAFETY: freed exactly once, by the library's own allocator.
        unsafe { (self.free_string)(ptr) };
        Some(text)
    }
}

/// A loaded chart; released when dropped.
pub struct Chart<'l> {
    lib: &'l LibHelm,
    handle: Handle,
}

impl Chart<'_> {
    /// `helm_render`: the rendered templates as a JSON object (template
    /// path → text). `values` and `options` are JSON documents.
    ///
    /// # Errors
    /// The library's error (a template error names the template and line).
    pub fn render(&self, values: &str, options: &str) -> Result<String, LibError> {
        let (values, options) = (cstring(values)?, cstring(options)?);
        let mut out: *mut c_char = std::ptr::null_mut();
        let mut err: *mut c_char = std::ptr::null_mut();
        // SAFETY: a live handle, valid inputs and out-pointers.
        let status = unsafe {
            (self.lib.render)(
                self.handle,
                values.as_ptr(),
                options.as_ptr(),
                &mut out,
                &mut err,
            )
        };
        self.result(status, out, err)
    }

    /// `helm_chart_crds`: the files of `crds/` as a JSON array of
    /// `{name, filename, data}`.
    ///
    /// # Errors
    /// The library's error.
    pub fn crds(&self) -> Result<String, LibError> {
        let mut out: *mut c_char = std::ptr::null_mut();
        let mut err: *mut c_char = std::ptr::null_mut();
        // SAFETY: a live handle and valid out-pointers.
        let status = unsafe { (self.lib.crds)(self.handle, &mut out, &mut err) };
        self.result(status, out, err)
    }

    fn result(
        &self,
        status: Status,
        out: *mut c_char,
        err: *mut c_char,
    ) -> Result<String, LibError> {
        // SAFETY: both are NULL or library-owned strings, each taken once.
        let (out, err) = unsafe { (self.lib.take(out), self.lib.take(err)) };
        check(status, err)?;
        Ok(out.unwrap_or_default())
    }
}

impl Drop for Chart<'_> {
    fn drop(&mut self) {
        let mut err: *mut c_char = std::ptr::null_mut();
        // SAFETY: the handle is live and released once; the error string, if
        // any, is taken (nothing to do about a failed release).
        unsafe {
            (self.lib.free_chart)(self.handle, &mut err);
            self.lib.take(err);
        }
    }
}

fn check(status: Status, message: Option<String>) -> Result<(), LibError> {
    if status == 0 {
        return Ok(());
    }
    Err(LibError {
        code: status,
        message: message.unwrap_or_else(|| format!("libhelm_c error {status}")),
    })
}

fn cstring(s: &str) -> Result<CString, LibError> {
    CString::new(s).map_err(|_| LibError {
        code: -2,
        message: "input contains a NUL byte".into(),
    })
}
