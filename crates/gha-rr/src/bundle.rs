//! Tool bundling: a self-contained copy of the host's installed `rr` or `strace` (the binary,
//! every shared library `ldd` lists, the dynamic loader, and rr's `lib/rr` and `share/rr`
//! resources) that runs in any glibc image through its own loader:
//! `DIR/lib/ld-linux-….so.2 --library-path DIR/lib DIR/bin/TOOL`. Calling the loader directly
//! keeps `LD_LIBRARY_PATH` out of the traced step's environment. Bundles are cached by tool,
//! version and architecture.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde::{Deserialize, Serialize};

/// The name of the manifest file at the top of a bundle.
pub const MANIFEST: &str = "gha-bundle.json";

/// A tool that can be bundled.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Tool {
    /// The rr record-and-replay debugger.
    Rr,
    /// strace.
    Strace,
}

impl Tool {
    /// The program's name.
    ///
    /// ```
    /// assert_eq!(gha_rr::Tool::Rr.program(), "rr");
    /// ```
    pub fn program(self) -> &'static str {
        match self {
            Tool::Rr => "rr",
            Tool::Strace => "strace",
        }
    }

    /// The flag that prints the version.
    pub fn version_flag(self) -> &'static str {
        match self {
            Tool::Rr => "--version",
            Tool::Strace => "-V",
        }
    }
}

/// Why a bundle could not be made.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    /// The tool is not installed on this machine.
    #[error(
        "{program} is not installed on this machine (install Debian's `{program}` package: `apt-get install {program}`)"
    )]
    NotInstalled {
        /// The program.
        program: String,
    },
    /// A command the bundler runs failed.
    #[error("{0}")]
    Command(String),
    /// A file operation failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The error.
        #[source]
        source: std::io::Error,
    },
}

fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> BundleError {
    let context = context.into();
    move |source| BundleError::Io { context, source }
}

/// What a bundle holds (its `gha-bundle.json`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BundleManifest {
    /// Which tool.
    pub tool: Tool,
    /// Its version as it reports it (`5.6.0`).
    pub version: String,
    /// The binary, relative to the bundle (`bin/rr`).
    pub binary: String,
    /// The dynamic loader, relative to the bundle (`lib/ld-linux-x86-64.so.2`).
    pub loader: String,
}

/// A bundle on the machine running `gha`.
///
/// ```no_run
/// let bundle = gha_rr::ToolBundle::create(gha_rr::Tool::Strace, None, "/tmp/gha-tools".as_ref()).unwrap();
/// let argv = bundle.invocation("/__gha/tools/strace");
/// assert_eq!(argv[1], "--library-path");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ToolBundle {
    /// The bundle directory.
    pub dir: PathBuf,
    /// Its manifest.
    pub manifest: BundleManifest,
}

/// Finds `program` on this process's `PATH`.
pub(crate) fn which(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(program))
        .find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// The version `binary` reports: the last word of the first line of `--version`/`-V`.
pub(crate) fn tool_version(tool: Tool, binary: &Path) -> Result<String, BundleError> {
    let out = Command::new(binary)
        .arg(tool.version_flag())
        .output()
        .map_err(io(format!(
            "running {} {}",
            binary.display(),
            tool.version_flag()
        )))?;
    let text = String::from_utf8_lossy(&out.stdout);
    let version = text
        .lines()
        .next()
        .and_then(|l| l.split_whitespace().last())
        .filter(|v| v.chars().next().is_some_and(|c| c.is_ascii_digit()))
        .ok_or_else(|| {
            BundleError::Command(format!(
                "cannot read the version of {} from `{} {}`: {:?}",
                tool.program(),
                binary.display(),
                tool.version_flag(),
                text.trim()
            ))
        })?;
    Ok(version.to_string())
}

/// The shared libraries `ldd` lists for `binary`: `(name, resolved path)`, and the loader.
pub(crate) fn shared_libraries(
    binary: &Path,
) -> Result<(Vec<(String, PathBuf)>, PathBuf), BundleError> {
    let out = Command::new("ldd")
        .arg(binary)
        .output()
        .map_err(io("running ldd (is libc-bin installed?)"))?;
    if !out.status.success() {
        return Err(BundleError::Command(format!(
            "ldd {} failed: {}",
            binary.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    parse_ldd(&String::from_utf8_lossy(&out.stdout)).ok_or_else(|| {
        BundleError::Command(format!(
            "{} is not dynamically linked through a loader ldd names",
            binary.display()
        ))
    })
}

/// Parses `ldd` output: `name => /path (addr)` lines are libraries, the `/path (addr)` line
/// without `=>` is the loader; `linux-vdso` and other kernel-provided objects are skipped.
///
/// ```
/// let out = "\tlinux-vdso.so.1 (0x1)\n\tlibz.so.1 => /lib/x86_64-linux-gnu/libz.so.1 (0x2)\n\t/lib64/ld-linux-x86-64.so.2 (0x3)\n";
/// let (libs, loader) = gha_rr::bundle::parse_ldd(out).unwrap();
/// assert_eq!(libs, vec![("libz.so.1".to_string(), "/lib/x86_64-linux-gnu/libz.so.1".into())]);
/// assert_eq!(loader, std::path::Path::new("/lib64/ld-linux-x86-64.so.2"));
/// ```
pub fn parse_ldd(text: &str) -> Option<(Vec<(String, PathBuf)>, PathBuf)> {
    let mut libs = Vec::new();
    let mut loader = None;
    for line in text.lines() {
        let line = line.trim();
        if let Some((name, rest)) = line.split_once("=>") {
            let path = rest.trim().split(" (").next().unwrap_or("").trim();
            if path.starts_with('/') {
                libs.push((name.trim().to_string(), PathBuf::from(path)));
            }
        } else if line.starts_with('/') {
            loader = Some(PathBuf::from(
                line.split(" (").next().unwrap_or(line).trim(),
            ));
        }
    }
    Some((libs, loader?))
}

impl ToolBundle {
    /// Bundles `tool` (the installed one found on `PATH`, or `binary`) under `cache_root`, in
    /// `cache_root/<tool>-<version>-<arch>`; an existing bundle of that version is reused.
    pub fn create(
        tool: Tool,
        binary: Option<&Path>,
        cache_root: &Path,
    ) -> Result<ToolBundle, BundleError> {
        let binary = match binary {
            Some(b) => b.to_path_buf(),
            None => which(tool.program()).ok_or_else(|| BundleError::NotInstalled {
                program: tool.program().into(),
            })?,
        };
        let binary = std::fs::canonicalize(&binary)
            .map_err(io(format!("resolving {}", binary.display())))?;
        let version = tool_version(tool, &binary)?;
        let name = format!("{}-{version}-{}", tool.program(), std::env::consts::ARCH);
        let dir = cache_root.join(&name);
        if let Ok(bundle) = ToolBundle::open(&dir)
            && bundle.manifest.tool == tool
            && bundle.manifest.version == version
        {
            return Ok(bundle);
        }
        std::fs::create_dir_all(cache_root)
            .map_err(io(format!("creating {}", cache_root.display())))?;
        let staging = tempfile::Builder::new()
            .prefix(&format!(".{name}-"))
            .tempdir_in(cache_root)
            .map_err(io(format!(
                "creating a directory in {}",
                cache_root.display()
            )))?;
        let manifest = fill(tool, &binary, version, staging.path())?;
        let staged = staging.keep();
        let _ = std::fs::remove_dir_all(&dir);
        if let Err(e) = std::fs::rename(&staged, &dir) {
            // Another process may have won the race with an identical bundle.
            let _ = std::fs::remove_dir_all(&staged);
            if ToolBundle::open(&dir).is_err() {
                return Err(io(format!("moving the bundle to {}", dir.display()))(e));
            }
        }
        set_mode(&dir, 0o755)?;
        Ok(ToolBundle { dir, manifest })
    }

    /// Opens an existing bundle directory.
    pub fn open(dir: &Path) -> Result<ToolBundle, BundleError> {
        let text = std::fs::read(dir.join(MANIFEST))
            .map_err(io(format!("reading {}", dir.join(MANIFEST).display())))?;
        let manifest: BundleManifest = serde_json::from_slice(&text)
            .map_err(|e| BundleError::Command(format!("{}: {e}", dir.join(MANIFEST).display())))?;
        Ok(ToolBundle {
            dir: dir.to_path_buf(),
            manifest,
        })
    }

    /// The argv prefix that starts the tool when the bundle is at `dir_inside` (a path inside
    /// the job environment): the bundled loader with the bundle's library path, the binary,
    /// and for rr its `--resource-path`.
    ///
    /// ```
    /// use gha_rr::bundle::{BundleManifest, Tool, ToolBundle};
    /// let b = ToolBundle { dir: "/x".into(), manifest: BundleManifest { tool: Tool::Rr,
    ///     version: "5.6.0".into(), binary: "bin/rr".into(), loader: "lib/ld-linux-x86-64.so.2".into() } };
    /// assert_eq!(b.invocation("/t"), ["/t/lib/ld-linux-x86-64.so.2", "--library-path", "/t/lib",
    ///                                 "/t/bin/rr", "--resource-path=/t/"]);
    /// ```
    pub fn invocation(&self, dir_inside: &str) -> Vec<String> {
        let d = dir_inside.trim_end_matches('/');
        let mut argv = vec![
            format!("{d}/{}", self.manifest.loader),
            "--library-path".into(),
            format!("{d}/lib"),
            format!("{d}/{}", self.manifest.binary),
        ];
        if self.manifest.tool == Tool::Rr {
            argv.push(format!("--resource-path={d}/"));
        }
        argv
    }
}

fn set_mode(p: &Path, mode: u32) -> Result<(), BundleError> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode))
        .map_err(io(format!("chmod {}", p.display())))
}

fn copy(from: &Path, to: &Path) -> Result<(), BundleError> {
    if let Some(parent) = to.parent() {
        std::fs::create_dir_all(parent).map_err(io(format!("creating {}", parent.display())))?;
    }
    std::fs::copy(from, to).map_err(io(format!("copying {}", from.display())))?;
    Ok(())
}

fn copy_tree(from: &Path, to: &Path) -> Result<(), BundleError> {
    for entry in std::fs::read_dir(from).map_err(io(format!("reading {}", from.display())))? {
        let entry = entry.map_err(io(format!("reading {}", from.display())))?;
        let src = entry.path();
        let dst = to.join(entry.file_name());
        if std::fs::metadata(&src).map(|m| m.is_dir()).unwrap_or(false) {
            copy_tree(&src, &dst)?;
        } else {
            copy(&src, &dst)?;
        }
    }
    Ok(())
}

/// Fills `dir` with the bundle and writes its manifest.
fn fill(
    tool: Tool,
    binary: &Path,
    version: String,
    dir: &Path,
) -> Result<BundleManifest, BundleError> {
    let program = tool.program();
    copy(binary, &dir.join("bin").join(program))?;
    let (libs, loader) = shared_libraries(binary)?;
    // rr's helpers and the 32-bit/preload libraries are loaded by the tracee, not rr: copy them
    // as resources, and bundle the libraries rr itself needs.
    let mut all = libs;
    if tool == Tool::Rr {
        let prefix = binary
            .parent()
            .and_then(Path::parent)
            .ok_or_else(|| BundleError::Command(format!("{} has no prefix", binary.display())))?;
        for (sub, required) in [("lib/rr", true), ("share/rr", false), ("lib64/rr", false)] {
            let src = prefix.join(sub);
            if src.is_dir() {
                copy_tree(&src, &dir.join(sub))?;
            } else if required {
                return Err(BundleError::Command(format!(
                    "rr's resources are missing: {} does not exist",
                    src.display()
                )));
            }
        }
        for helper in ["rr_exec_stub", "rr_exec_stub_32"] {
            let p = prefix.join("bin").join(helper);
            if p.is_file() {
                copy(&p, &dir.join("bin").join(helper))?;
            }
        }
    }
    for (name, path) in &all {
        copy(path, &dir.join("lib").join(name))?;
    }
    let loader_name = loader
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| BundleError::Command(format!("bad loader path {}", loader.display())))?;
    copy(&loader, &dir.join("lib").join(&loader_name))?;
    set_mode(&dir.join("lib").join(&loader_name), 0o755)?;
    all.clear();
    let manifest = BundleManifest {
        tool,
        version,
        binary: format!("bin/{program}"),
        loader: format!("lib/{loader_name}"),
    };
    let json = serde_json::to_vec_pretty(&manifest).unwrap_or_default();
    std::fs::write(dir.join(MANIFEST), json).map_err(io("writing the bundle manifest"))?;
    Ok(manifest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ldd_output_without_a_loader_is_rejected() {
        assert!(parse_ldd("\tnot a dynamic executable\n").is_none());
        assert!(parse_ldd("\tstatically linked\n").is_none());
    }

    #[test]
    fn a_missing_tool_names_the_package() {
        let err = ToolBundle::create(
            Tool::Strace,
            Some(Path::new("/nonexistent/strace")),
            Path::new("/tmp"),
        )
        .unwrap_err();
        assert!(err.to_string().contains("/nonexistent/strace"), "{err}");
    }

    #[test]
    fn bundles_the_installed_strace_with_its_loader_and_reuses_it() {
        if which("strace").is_none() {
            eprintln!("skipped: strace is not installed (apt-get install strace)");
            return;
        }
        let cache = tempfile::tempdir().unwrap();
        let b = ToolBundle::create(Tool::Strace, None, cache.path()).unwrap();
        assert!(b.dir.join("bin/strace").is_file());
        assert!(b.dir.join(&b.manifest.loader).is_file());
        assert!(b.dir.join("lib/libc.so.6").is_file());
        let argv = b.invocation(&b.dir.to_string_lossy());
        let out = Command::new(&argv[0])
            .args(&argv[1..])
            .arg("-V")
            .env_clear()
            .output()
            .unwrap();
        assert!(String::from_utf8_lossy(&out.stdout).contains(&b.manifest.version));
        let again = ToolBundle::create(Tool::Strace, None, cache.path()).unwrap();
        assert_eq!(again, b);
    }
}
