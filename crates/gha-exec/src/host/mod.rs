//! The host backend: jobs run as child processes on this machine.
//!
//! Each job gets a run directory under [`HostBackendOptions::runs_dir`]:
//!
//! ```text
//! <runs_dir>/<run id>-<job>-<n>/
//!     work/<repo>/   the workspace: a copy of the working tree (or the tree itself with --bind)
//!     _temp/         RUNNER_TEMP
//!     _tool/         RUNNER_TOOL_CACHE
//! ```
//!
//! Every step process starts in its own process group; cancellation escalates SIGINT → SIGTERM →
//! SIGKILL on that group, and [`JobEnv::stop`] kills every group the job started and removes the
//! run directory: it renames it out of the way (`<runs_dir>/.removing-<name>`) and deletes it on
//! a background thread, so the next job does not wait for the deletion. Those deletions are
//! awaited by [`HostBackend::wait_for_removals`] and, at the latest, when the backend (and every
//! job environment it made) is dropped: nothing is left behind once `gha` exits.

mod process;
mod workspace;

pub use workspace::git_working_tree_files;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use async_trait::async_trait;
use tokio_util::sync::CancellationToken;

use crate::backend::{Backend, BackendError, JobEnv, JobPaths, JobSpec};
use crate::exec::{Exec, ExitStatus};
use crate::log_sink::LogSink;

/// Settings of a [`HostBackend`].
///
/// ```
/// use gha_exec::HostBackendOptions;
/// let o = HostBackendOptions::new("/tmp/gha-runs");
/// assert!(!o.keep_run_dirs);
/// ```
#[derive(Clone, Debug)]
pub struct HostBackendOptions {
    /// Where per-job run directories are created.
    pub runs_dir: PathBuf,
    /// Keep run directories after the job (for debugging).
    pub keep_run_dirs: bool,
}

impl HostBackendOptions {
    /// Run directories under `runs_dir`, removed after each job.
    pub fn new(runs_dir: impl Into<PathBuf>) -> HostBackendOptions {
        HostBackendOptions {
            runs_dir: runs_dir.into(),
            keep_run_dirs: false,
        }
    }
}

/// Runs jobs on this machine (the embedded default backend). See the module docs.
///
/// ```
/// use gha_exec::{Backend, HostBackend, HostBackendOptions, JobSpec};
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let repo = tempfile::tempdir().unwrap();
/// std::fs::write(repo.path().join("Cargo.toml"), "[package]").unwrap();
/// let runs = tempfile::tempdir().unwrap();
/// let backend = HostBackend::new(HostBackendOptions::new(runs.path()));
/// let env = backend.start_job(&JobSpec::new("build", repo.path())).await.unwrap();
/// let ws = env.paths().workspace.clone();
/// assert!(std::path::Path::new(&ws).join("Cargo.toml").exists());
/// env.stop().await.unwrap();
/// assert!(!std::path::Path::new(&ws).exists());
/// # });
/// ```
#[derive(Debug)]
pub struct HostBackend {
    options: HostBackendOptions,
    counter: AtomicU64,
    removals: Arc<Removals>,
}

impl HostBackend {
    /// A host backend with `options`.
    pub fn new(options: HostBackendOptions) -> HostBackend {
        HostBackend {
            options,
            counter: AtomicU64::new(0),
            removals: Arc::default(),
        }
    }

    /// Waits until the run directories of stopped jobs are deleted (they are deleted in the
    /// background; dropping the backend waits too). The first deletion error, if any.
    ///
    /// ```
    /// use gha_exec::{Backend, HostBackend, HostBackendOptions, JobSpec};
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let repo = tempfile::tempdir().unwrap();
    /// let runs = tempfile::tempdir().unwrap();
    /// let backend = HostBackend::new(HostBackendOptions::new(runs.path()));
    /// let env = backend.start_job(&JobSpec::new("build", repo.path())).await.unwrap();
    /// env.stop().await.unwrap();
    /// backend.wait_for_removals().unwrap();
    /// assert_eq!(std::fs::read_dir(runs.path()).unwrap().count(), 0);
    /// # });
    /// ```
    pub fn wait_for_removals(&self) -> Result<(), BackendError> {
        self.removals.wait()
    }
}

/// Run directories being deleted on background threads.
#[derive(Debug, Default)]
struct Removals {
    pending: Mutex<Vec<JoinHandle<Result<(), BackendError>>>>,
    /// The first error of a deletion that finished before anyone waited for it.
    failed: Mutex<Option<BackendError>>,
}

impl Removals {
    /// Deletes `dir` on a new thread.
    fn start(&self, dir: PathBuf) -> Result<(), BackendError> {
        let handle = std::thread::Builder::new()
            .name("gha-remove".into())
            .spawn(move || remove_dir(&dir))
            .map_err(|e| BackendError::io("starting a removal thread", e))?;
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        // Reap the finished ones so that a long run does not accumulate handles.
        let (done, running): (Vec<_>, Vec<_>) = pending.drain(..).partition(|h| h.is_finished());
        *pending = running;
        pending.push(handle);
        drop(pending);
        for h in done {
            self.record(h.join());
        }
        Ok(())
    }

    fn record(&self, joined: std::thread::Result<Result<(), BackendError>>) {
        let result =
            joined.unwrap_or_else(|_| Err(BackendError::Other("a removal thread panicked".into())));
        if let Err(e) = result {
            self.failed
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .get_or_insert(e);
        }
    }

    fn wait(&self) -> Result<(), BackendError> {
        let handles: Vec<_> =
            std::mem::take(&mut *self.pending.lock().unwrap_or_else(|p| p.into_inner()));
        for h in handles {
            self.record(h.join());
        }
        match self.failed.lock().unwrap_or_else(|p| p.into_inner()).take() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

impl Drop for Removals {
    fn drop(&mut self) {
        // The last owner (the backend or a job environment that outlived it) waits, so that
        // nothing is left behind when the program ends.
        let _ = self.wait();
    }
}

fn remove_dir(dir: &Path) -> Result<(), BackendError> {
    match std::fs::remove_dir_all(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(BackendError::io(format!("removing {}", dir.display()), e)),
    }
}

#[async_trait]
impl Backend for HostBackend {
    fn name(&self) -> &str {
        "host"
    }

    async fn start_job(&self, spec: &JobSpec) -> Result<Box<dyn JobEnv>, BackendError> {
        if spec.container.is_some() {
            return Err(BackendError::Unsupported(
                "a job `container:` (use --backend docker)".into(),
            ));
        }
        if !spec.services.is_empty() {
            return Err(BackendError::Unsupported(
                "service containers (use --backend docker)".into(),
            ));
        }
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let run_dir = self.options.runs_dir.join(format!(
            "{}-{}-{}-{n}",
            crate::backend::sanitize_name(&spec.run_id),
            spec.unique_name,
            std::process::id()
        ));
        let repo_name = spec
            .repository
            .rsplit('/')
            .next()
            .filter(|s| !s.is_empty())
            .map(crate::backend::sanitize_name)
            .unwrap_or_else(|| "repo".into());
        let spec = spec.clone();
        let keep = self.options.keep_run_dirs;
        let removals = self.removals.clone();
        tokio::task::spawn_blocking(move || {
            HostJobEnv::create(run_dir, &repo_name, &spec, keep, removals)
        })
        .await
        .map_err(|e| BackendError::Other(format!("job set-up panicked: {e}")))?
        .map(|env| Box::new(env) as Box<dyn JobEnv>)
    }
}

/// One job's environment on the host.
#[derive(Debug)]
pub struct HostJobEnv {
    run_dir: PathBuf,
    paths: JobPaths,
    workspace: PathBuf,
    keep: bool,
    groups: process::ProcessGroups,
    stopped: AtomicBool,
    removals: Arc<Removals>,
}

impl HostJobEnv {
    fn create(
        run_dir: PathBuf,
        repo_name: &str,
        spec: &JobSpec,
        keep: bool,
        removals: Arc<Removals>,
    ) -> Result<HostJobEnv, BackendError> {
        let temp = run_dir.join("_temp");
        let tool = run_dir.join("_tool");
        for d in [&temp, &tool] {
            std::fs::create_dir_all(d)
                .map_err(|e| BackendError::io(format!("creating {}", d.display()), e))?;
        }
        let workspace = if spec.bind_workspace {
            spec.source_dir.clone()
        } else {
            let ws = run_dir.join("work").join(repo_name);
            if let Err(e) = workspace::copy_working_tree(&spec.source_dir, &ws) {
                let _ = std::fs::remove_dir_all(&run_dir);
                return Err(e);
            }
            ws
        };
        let s = |p: &Path| p.to_string_lossy().into_owned();
        let paths = JobPaths {
            workspace: s(&workspace),
            temp: s(&temp),
            tool_cache: s(&tool),
            home: std::env::var("HOME").unwrap_or_else(|_| s(&run_dir)),
            host_workspace: Some(workspace.clone()),
        };
        Ok(HostJobEnv {
            run_dir,
            paths,
            workspace,
            keep,
            groups: process::ProcessGroups::default(),
            stopped: AtomicBool::new(false),
            removals,
        })
    }

    /// The job's run directory on the host.
    pub fn run_dir(&self) -> &Path {
        &self.run_dir
    }
}

#[async_trait]
impl JobEnv for HostJobEnv {
    fn paths(&self) -> &JobPaths {
        &self.paths
    }

    async fn exec(
        &self,
        exec: &Exec,
        sink: &dyn LogSink,
        cancel: CancellationToken,
    ) -> Result<ExitStatus, BackendError> {
        if self.stopped.load(Ordering::SeqCst) {
            return Err(BackendError::Other(
                "the job environment was stopped".into(),
            ));
        }
        process::run(exec, &self.workspace, sink, cancel, &self.groups).await
    }

    async fn write_file(&self, path: &str, contents: &[u8]) -> Result<(), BackendError> {
        // Small files (scripts, file commands): plain blocking I/O is cheaper than a hop to the
        // blocking thread pool. Existing files are overwritten in place and then cut to length
        // rather than truncated first: freeing and reallocating their blocks is slow on some
        // file systems (ext4 mounted with `discard`).
        let path = Path::new(path);
        let write = || -> std::io::Result<()> {
            use std::io::Write;
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(false)
                .open(path)?;
            f.write_all(contents)?;
            f.set_len(contents.len() as u64)
        };
        match write() {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if let Some(parent) = path.parent() {
                    std::fs::create_dir_all(parent).map_err(|e| {
                        BackendError::io(format!("creating {}", parent.display()), e)
                    })?;
                }
                write().map_err(|e| BackendError::io(format!("writing {}", path.display()), e))
            }
            Err(e) => Err(BackendError::io(format!("writing {}", path.display()), e)),
        }
    }

    async fn read_file(&self, path: &str) -> Result<Vec<u8>, BackendError> {
        match std::fs::read(path) {
            Ok(bytes) => Ok(bytes),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Err(BackendError::NotFound(path.to_string()))
            }
            Err(e) => Err(BackendError::io(format!("reading {path}"), e)),
        }
    }

    async fn stop(&self) -> Result<(), BackendError> {
        if self.stopped.swap(true, Ordering::SeqCst) {
            return Ok(());
        }
        self.groups.kill_all();
        if self.keep {
            return Ok(());
        }
        // Move the directory out of the way (one rename), delete it in the background.
        let name = self
            .run_dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let trash = self.run_dir.with_file_name(format!(".removing-{name}"));
        match std::fs::rename(&self.run_dir, &trash) {
            Ok(()) => self.removals.start(trash),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(_) => {
                let dir = self.run_dir.clone();
                tokio::task::spawn_blocking(move || remove_dir(&dir))
                    .await
                    .map_err(|e| BackendError::Other(e.to_string()))?
            }
        }
    }
}

impl Drop for HostJobEnv {
    fn drop(&mut self) {
        // A job dropped without stop() (panic, cancelled future): still leave nothing running.
        self.groups.kill_all();
    }
}

#[cfg(test)]
mod tests {
    //! Host-specific behaviour; the JobEnv contract (exit codes, streams, files, cancellation,
    //! ...) is checked by the conformance suite in `tests/conformance_host.rs`.

    use std::time::Duration;

    use super::*;
    use crate::log_sink::VecLogSink;

    async fn env() -> (tempfile::TempDir, tempfile::TempDir, Box<dyn JobEnv>) {
        let repo = tempfile::tempdir().unwrap();
        let runs = tempfile::tempdir().unwrap();
        let backend = HostBackend::new(HostBackendOptions::new(runs.path()));
        let env = backend
            .start_job(&JobSpec::new("t", repo.path()))
            .await
            .unwrap();
        (repo, runs, env)
    }

    /// Whether `pid` exists and is not a zombie (an orphan's zombie waits for init to reap it).
    fn alive(pid: i32) -> bool {
        match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            Ok(stat) => {
                let state = stat.rsplit_once(") ").map(|(_, r)| r.chars().next());
                state != Some(Some('Z'))
            }
            Err(_) => false,
        }
    }

    #[tokio::test]
    async fn stop_kills_background_processes_and_removes_the_run_dir() {
        let (_r, _d, env) = env().await;
        let pidfile = format!("{}/bg", env.paths().temp);
        let script = format!("sleep 300 >/dev/null 2>&1 & echo $! > {pidfile}");
        let st = env
            .exec(
                &Exec::new(["sh", "-c", script.as_str()]),
                &VecLogSink::default(),
                CancellationToken::new(),
            )
            .await
            .unwrap();
        assert!(st.success());
        let pid: i32 = std::fs::read_to_string(&pidfile)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        assert!(alive(pid));
        let temp = env.paths().temp.clone();
        env.stop().await.unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!alive(pid));
        assert!(!Path::new(&temp).exists());
        env.stop().await.unwrap();
    }

    #[tokio::test]
    async fn run_dirs_are_removed_in_the_background_and_awaited_on_drop() {
        let repo = tempfile::tempdir().unwrap();
        for i in 0..200 {
            std::fs::write(repo.path().join(format!("f{i}")), "x").unwrap();
        }
        let runs = tempfile::tempdir().unwrap();
        let backend = HostBackend::new(HostBackendOptions::new(runs.path()));
        for i in 0..5 {
            let env = backend
                .start_job(&JobSpec::new(format!("j{i}"), repo.path()))
                .await
                .unwrap();
            let ws = env.paths().workspace.clone();
            assert!(Path::new(&ws).join("f199").exists());
            env.stop().await.unwrap();
            // Gone from its place at once, whatever the deletion thread is doing.
            assert!(!Path::new(&ws).exists());
        }
        drop(backend);
        let left: Vec<_> = std::fs::read_dir(runs.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert!(left.is_empty(), "left behind: {left:?}");
    }

    #[tokio::test]
    async fn keep_run_dirs_keeps_them() {
        let repo = tempfile::tempdir().unwrap();
        let runs = tempfile::tempdir().unwrap();
        let mut options = HostBackendOptions::new(runs.path());
        options.keep_run_dirs = true;
        let backend = HostBackend::new(options);
        let env = backend
            .start_job(&JobSpec::new("k", repo.path()))
            .await
            .unwrap();
        let temp = env.paths().temp.clone();
        env.stop().await.unwrap();
        backend.wait_for_removals().unwrap();
        assert!(Path::new(&temp).is_dir());
    }
}
