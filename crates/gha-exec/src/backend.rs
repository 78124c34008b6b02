//! The seam between the executor and the places jobs run: [`Backend`] brings a job environment
//! up, [`JobEnv`] runs processes and moves files inside it.
//!
//! The executor only ever talks to these traits; the host backend
//! ([`HostBackend`](crate::HostBackend)), Docker and the ECS agent implement them.

use std::path::PathBuf;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use crate::action_container::ActionContainer;
use crate::exec::{Exec, ExitStatus};
use crate::log_sink::LogSink;
use crate::tracer::TracerRequirements;

/// Starts job environments. One backend serves a whole run; it is shared between jobs that run
/// at the same time, so it is `Send + Sync` and takes `&self`.
///
/// ```
/// use std::sync::Arc;
/// use gha_exec::{Backend, HostBackend, HostBackendOptions, JobSpec, Exec, NullLogSink};
/// use tokio_util::sync::CancellationToken;
///
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let repo = tempfile::tempdir().unwrap();
/// let runs = tempfile::tempdir().unwrap();
/// let backend: Arc<dyn Backend> = Arc::new(HostBackend::new(HostBackendOptions::new(runs.path())));
/// let env = backend.start_job(&JobSpec::new("build", repo.path())).await.unwrap();
/// let status = env
///     .exec(&Exec::new(["true"]), &NullLogSink, CancellationToken::new())
///     .await
///     .unwrap();
/// assert!(status.success());
/// env.stop().await.unwrap();
/// # });
/// ```
#[async_trait]
pub trait Backend: Send + Sync {
    /// A short name for messages (`"host"`, `"docker"`, `"ecs"`).
    fn name(&self) -> &str;

    /// Brings up everything one job needs (workspace, temp and tool-cache directories, container,
    /// network, services) and returns a handle to it. The caller must call [`JobEnv::stop`] when
    /// the job ends, whatever happened.
    async fn start_job(&self, spec: &JobSpec) -> Result<Box<dyn JobEnv>, BackendError>;
}

/// A running job's environment: where its steps' processes run.
///
/// All paths are as seen *inside* the environment (see [`JobEnv::paths`]).
///
/// ```
/// use gha_exec::{Backend, HostBackend, HostBackendOptions, JobSpec, Exec, VecLogSink, OutputStream};
/// use tokio_util::sync::CancellationToken;
///
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// # let repo = tempfile::tempdir().unwrap();
/// # let runs = tempfile::tempdir().unwrap();
/// let backend = HostBackend::new(HostBackendOptions::new(runs.path()));
/// let env = backend.start_job(&JobSpec::new("build", repo.path())).await.unwrap();
/// let script = format!("{}/hello.sh", env.paths().temp);
/// env.write_file(&script, b"echo hello from $GREETER\n").await.unwrap();
/// let sink = VecLogSink::default();
/// let status = env
///     .exec(&Exec::new(["sh", script.as_str()]).env("GREETER", "sh"), &sink, CancellationToken::new())
///     .await
///     .unwrap();
/// assert!(status.success());
/// assert_eq!(sink.lines(), vec![(OutputStream::Stdout, "hello from sh".to_string())]);
/// env.stop().await.unwrap();
/// env.stop().await.unwrap(); // idempotent
/// # });
/// ```
#[async_trait]
pub trait JobEnv: Send + Sync {
    /// Where things are, as seen inside the environment.
    fn paths(&self) -> &JobPaths;

    /// What `runner.os`, `runner.arch` and `runner.name` say for this environment.
    fn runner_info(&self) -> RunnerInfo {
        RunnerInfo::host()
    }

    /// The job container and service containers, for the `job` context. Empty by default.
    fn container_info(&self) -> ContainerInfo {
        ContainerInfo::default()
    }

    /// Runs one process to completion, handing every output line to `sink`.
    ///
    /// When `cancel` fires, the process (and everything it started) is stopped following
    /// [`Exec::kill_policy`] and the returned status has `cancelled: true`. An `Err` means the
    /// process could not be run at all (e.g. the program does not exist), not that it failed.
    async fn exec(
        &self,
        exec: &Exec,
        sink: &dyn LogSink,
        cancel: CancellationToken,
    ) -> Result<ExitStatus, BackendError>;

    /// Writes (creates or replaces) a file, creating missing parent directories.
    async fn write_file(&self, path: &str, contents: &[u8]) -> Result<(), BackendError>;

    /// Reads a whole file. A missing file is [`BackendError::NotFound`].
    async fn read_file(&self, path: &str) -> Result<Vec<u8>, BackendError>;

    /// `hashFiles(patterns...)` over the job's workspace, with GitHub's semantics (see
    /// [`hash_files`](crate::hash_files::hash_files)): patterns relative to `GITHUB_WORKSPACE`,
    /// `!` excludes, files outside the workspace never count, and the empty string when nothing
    /// matches. A bad pattern is [`BackendError::Other`] with the message GitHub's would give.
    ///
    /// The default hashes [`JobPaths::host_workspace`] on a blocking thread, and is
    /// [`BackendError::Unsupported`] when the workspace is not visible on this machine.
    /// Environments whose workspace lives elsewhere (an ECS task) override it to hash the files
    /// where they are; wrappers around another `JobEnv` forward it.
    ///
    /// ```
    /// use gha_exec::{Backend, HostBackend, HostBackendOptions, JobSpec};
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// # let runs = tempfile::tempdir().unwrap();
    /// let repo = tempfile::tempdir().unwrap();
    /// std::fs::write(repo.path().join("Cargo.lock"), "lock").unwrap();
    /// let env = HostBackend::new(HostBackendOptions::new(runs.path()))
    ///     .start_job(&JobSpec::new("build", repo.path())).await.unwrap();
    /// let hash = env.hash_files(&["**/Cargo.lock".into()]).await.unwrap();
    /// assert_eq!(hash.len(), 64);
    /// assert_eq!(env.hash_files(&["*.nothing".into()]).await.unwrap(), "");
    /// env.stop().await.unwrap();
    /// # });
    /// ```
    async fn hash_files(&self, patterns: &[String]) -> Result<String, BackendError> {
        default_hash_files(self.paths(), patterns).await
    }

    /// Makes a directory of this machine (an action's files) available inside the environment
    /// and returns its path there. `layout` is where it belongs under `<work>/_actions/`, the
    /// official runner's layout: `owner/repo/ref` (container jobs see `/__w/_actions/...`).
    ///
    /// The default needs no copy on the host (the path itself) or for a directory of a workspace
    /// shared with this machine (the matching workspace path); otherwise it writes every file
    /// with [`JobEnv::write_file`] under `<work>/_actions/<layout>` (`<work>` being the parent of
    /// [`JobPaths::temp`]) and restores executable bits with one `chmod +x` exec (see
    /// [`default_provide_action_dir`](crate::action_container::default_provide_action_dir)).
    /// Callers call it once per directory and job.
    ///
    /// ```
    /// use gha_exec::{Backend, HostBackend, HostBackendOptions, JobSpec};
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// # let repo = tempfile::tempdir().unwrap();
    /// # let runs = tempfile::tempdir().unwrap();
    /// let env = HostBackend::new(HostBackendOptions::new(runs.path()))
    ///     .start_job(&JobSpec::new("build", repo.path())).await.unwrap();
    /// let action = tempfile::tempdir().unwrap();
    /// // On the host the action is used where it is.
    /// let inside = env.provide_action_dir(action.path(), "octo/hello/v1").await.unwrap();
    /// assert_eq!(inside, action.path().to_str().unwrap());
    /// env.stop().await.unwrap();
    /// # });
    /// ```
    async fn provide_action_dir(
        &self,
        host_dir: &std::path::Path,
        layout: &str,
    ) -> Result<String, BackendError> {
        crate::action_container::default_provide_action_dir(self, host_dir, layout).await
    }

    /// Runs a Docker action's container for one step to completion: builds or finds the image,
    /// mounts [`ActionContainer::mounts`], streams every output line to `sink` and returns the
    /// container's exit code. When `cancel` fires the container is stopped following
    /// [`ActionContainer::kill_policy`] and removed; the status has `cancelled: true`.
    ///
    /// The default runs the `docker` CLI inside the environment (`docker build`, `docker run
    /// --rm`), which works on the host when a Docker engine answers there and fails with a
    /// clear error otherwise (see
    /// [`run_with_docker_cli`](crate::action_container::run_with_docker_cli)).
    async fn run_action_container(
        &self,
        container: &ActionContainer,
        sink: &dyn LogSink,
        cancel: CancellationToken,
    ) -> Result<ExitStatus, BackendError> {
        crate::action_container::run_with_docker_cli(self, container, sink, cancel).await
    }

    /// Tears the environment down: stops every process still running, removes containers,
    /// networks and temporary directories. Idempotent: later calls do nothing and return `Ok`.
    async fn stop(&self) -> Result<(), BackendError>;
}

/// What the executor asks a [`Backend`] for: one job of a run.
///
/// Built with [`JobSpec::new`] and then filled field by field (fields may be added over time).
///
/// ```
/// use gha_exec::{JobSpec, ContainerSpec};
///
/// let mut spec = JobSpec::new("test", "/src/repo");
/// spec.name = "test (ubuntu-latest)".into();
/// spec.runs_on = vec!["ubuntu-latest".into()];
/// spec.container = Some(ContainerSpec::new("node:20"));
/// assert_eq!(spec.job_id, "test");
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobSpec {
    /// The job's id (its key under `jobs:`).
    pub job_id: String,
    /// The job's display name (with the matrix suffix for a matrix leg).
    pub name: String,
    /// A name unique within the run (job id plus matrix leg number), usable in directory and
    /// container names: only `[A-Za-z0-9_.-]`.
    pub unique_name: String,
    /// The run's id (`github.run_id`).
    pub run_id: String,
    /// `owner/name` of the repository (`github.repository`).
    pub repository: String,
    /// The labels of `runs-on`.
    pub runs_on: Vec<String>,
    /// The repository's working tree on the machine running `gha`: the workspace starts as a
    /// copy of it (or is it, with [`JobSpec::bind_workspace`]).
    pub source_dir: PathBuf,
    /// Use `source_dir` itself as the workspace instead of a copy (`--bind`).
    pub bind_workspace: bool,
    /// The job container (`jobs.<id>.container`), if any.
    pub container: Option<ContainerSpec>,
    /// Service containers (`jobs.<id>.services`), in declaration order.
    pub services: Vec<ServiceSpec>,
    /// What the step tracers of this run need from the environment.
    pub tracer_requirements: TracerRequirements,
}

impl JobSpec {
    /// A spec for job `job_id` whose workspace comes from `source_dir`; every other field empty.
    pub fn new(job_id: impl Into<String>, source_dir: impl Into<PathBuf>) -> JobSpec {
        let job_id = job_id.into();
        JobSpec {
            name: job_id.clone(),
            unique_name: sanitize_name(&job_id),
            job_id,
            run_id: "1".into(),
            source_dir: source_dir.into(),
            ..JobSpec::default()
        }
    }
}

/// Replaces every character outside `[A-Za-z0-9_.-]` by `-`.
///
/// ```
/// assert_eq!(gha_exec::backend::sanitize_name("Build (stable, 1.2)"), "Build--stable--1.2-");
/// ```
pub fn sanitize_name(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-') {
                c
            } else {
                '-'
            }
        })
        .collect()
}

/// What [`JobEnv::hash_files`] does by default: [`hash_files`](crate::hash_files::hash_files)
/// over `paths.host_workspace` on a blocking thread, or [`BackendError::Unsupported`] when the
/// workspace is not visible on this machine. Pattern errors are [`BackendError::Other`] with
/// the pattern's message.
///
/// ```
/// use gha_exec::{BackendError, JobPaths};
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let ws = tempfile::tempdir().unwrap();
/// std::fs::write(ws.path().join("a.txt"), "a").unwrap();
/// let mut paths = JobPaths::under("/w/_temp", "/w/repo/repo");
/// let err = gha_exec::backend::default_hash_files(&paths, &["*.txt".into()]).await.unwrap_err();
/// assert!(matches!(err, BackendError::Unsupported(_)), "{err}");
/// paths.host_workspace = Some(ws.path().to_path_buf());
/// let hash = gha_exec::backend::default_hash_files(&paths, &["*.txt".into()]).await.unwrap();
/// assert_eq!(hash.len(), 64);
/// # });
/// ```
pub async fn default_hash_files(
    paths: &JobPaths,
    patterns: &[String],
) -> Result<String, BackendError> {
    let Some(workspace) = paths.host_workspace.clone() else {
        return Err(BackendError::Unsupported(format!(
            "hashFiles: the workspace {} is not visible to gha",
            paths.workspace
        )));
    };
    let patterns = patterns.to_vec();
    tokio::task::spawn_blocking(move || crate::hash_files::hash_files(&workspace, &patterns))
        .await
        .map_err(|e| BackendError::Other(format!("hashFiles panicked: {e}")))?
        .map_err(BackendError::Other)
}

/// A container to start: `jobs.<id>.container` or one of `jobs.<id>.services`, with expressions
/// already evaluated.
///
/// ```
/// use gha_exec::ContainerSpec;
/// let mut c = ContainerSpec::new("postgres:16");
/// c.env.push(("POSTGRES_PASSWORD".into(), "postgres".into()));
/// c.ports.push("5432:5432".into());
/// assert_eq!(c.image, "postgres:16");
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerSpec {
    /// The image (`image:` or the short string form).
    pub image: String,
    /// Registry credentials (`credentials:`).
    pub credentials: Option<RegistryCredentials>,
    /// Environment variables (`env:`).
    pub env: Vec<(String, String)>,
    /// Port mappings as written (`ports:`), e.g. `"8080:80"` or `"6379"`.
    pub ports: Vec<String>,
    /// Volume mounts as written (`volumes:`), e.g. `"my_docker_volume:/volume_mount"`.
    pub volumes: Vec<String>,
    /// Extra `docker create` options as written (`options:`).
    pub options: Option<String>,
}

impl ContainerSpec {
    /// A container of `image` with nothing else set.
    pub fn new(image: impl Into<String>) -> ContainerSpec {
        ContainerSpec {
            image: image.into(),
            ..ContainerSpec::default()
        }
    }
}

/// `credentials:` of a container.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegistryCredentials {
    /// User name.
    pub username: String,
    /// Password or token (a secret: never log it).
    pub password: String,
}

/// One entry of `jobs.<id>.services`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceSpec {
    /// The service's key, which is also its host name on the job network.
    pub id: String,
    /// The container to run.
    pub container: ContainerSpec,
}

/// Where a job's directories are, as seen inside its environment (strings, because they may
/// not be paths of the machine running `gha`).
///
/// ```
/// use gha_exec::JobPaths;
/// let p = JobPaths::under("/home/runner/work/_temp", "/home/runner/work/repo/repo");
/// assert_eq!(p.workspace, "/home/runner/work/repo/repo");
/// assert_eq!(p.file_commands_dir(), "/home/runner/work/_temp/_runner_file_commands");
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobPaths {
    /// `GITHUB_WORKSPACE`: the checked-out repository; the default working directory.
    pub workspace: String,
    /// `RUNNER_TEMP`: emptied at the start of each job.
    pub temp: String,
    /// `RUNNER_TOOL_CACHE`.
    pub tool_cache: String,
    /// `HOME` for steps.
    pub home: String,
    /// The workspace on the machine running `gha`, when it is visible there (host backend,
    /// bind mounts). `hashFiles` reads files through it; when it is `None`, `hashFiles` asks
    /// the environment ([`JobEnv::hash_files`]).
    pub host_workspace: Option<PathBuf>,
}

impl JobPaths {
    /// Paths with `temp` and `workspace` given, `tool_cache` and `home` derived from `temp`'s
    /// parent.
    pub fn under(temp: &str, workspace: &str) -> JobPaths {
        let parent = temp.rsplit_once('/').map(|(p, _)| p).unwrap_or("");
        JobPaths {
            workspace: workspace.to_string(),
            temp: temp.to_string(),
            tool_cache: format!("{parent}/_tool"),
            home: format!("{parent}/_home"),
            host_workspace: None,
        }
    }

    /// Where the executor writes `GITHUB_ENV`, `GITHUB_OUTPUT`, ... files (as the official
    /// runner: `$RUNNER_TEMP/_runner_file_commands`).
    pub fn file_commands_dir(&self) -> String {
        format!("{}/_runner_file_commands", self.temp)
    }
}

/// What the `runner` context says about an environment.
///
/// ```
/// let info = gha_exec::RunnerInfo::host();
/// assert!(["Linux", "macOS", "Windows"].contains(&info.os.as_str()));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunnerInfo {
    /// `runner.os`: `Linux`, `Windows` or `macOS`.
    pub os: String,
    /// `runner.arch`: `X86`, `X64`, `ARM` or `ARM64`.
    pub arch: String,
    /// `runner.name`.
    pub name: String,
    /// `runner.environment`: `github-hosted` or `self-hosted`.
    pub environment: String,
}

impl RunnerInfo {
    /// The machine running `gha`.
    pub fn host() -> RunnerInfo {
        let os = match std::env::consts::OS {
            "linux" => "Linux",
            "macos" => "macOS",
            "windows" => "Windows",
            other => other,
        };
        let arch = match std::env::consts::ARCH {
            "x86_64" => "X64",
            "x86" => "X86",
            "aarch64" => "ARM64",
            "arm" => "ARM",
            other => other,
        };
        RunnerInfo {
            os: os.into(),
            arch: arch.into(),
            name: "gha".into(),
            environment: "self-hosted".into(),
        }
    }
}

/// The job container and services as the `job` context shows them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerInfo {
    /// `job.container` (`id`, `network`), when the job runs in a container.
    pub container: Option<RunningContainer>,
    /// `job.services.<id>`, in declaration order.
    pub services: Vec<RunningService>,
}

/// A started container.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunningContainer {
    /// `id`: the container id.
    pub id: String,
    /// `network`: the job network's id.
    pub network: String,
}

/// A started service container.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunningService {
    /// The service's key.
    pub name: String,
    /// The container.
    pub container: RunningContainer,
    /// `ports`: container port → host port.
    pub ports: Vec<(String, String)>,
}

/// Why a backend could not do what it was asked.
///
/// ```
/// use gha_exec::BackendError;
/// let e = BackendError::NotFound("/tmp/x".into());
/// assert_eq!(e.to_string(), "not found: /tmp/x");
/// ```
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    /// An I/O operation failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A file or program does not exist.
    #[error("not found: {0}")]
    NotFound(String),
    /// The backend cannot do this (e.g. services on the host backend).
    #[error("not supported by this backend: {0}")]
    Unsupported(String),
    /// Anything else, with a message for the user.
    #[error("{0}")]
    Other(String),
}

impl BackendError {
    /// An [`BackendError::Io`] with `context` ("reading /x", ...).
    pub fn io(context: impl Into<String>, source: std::io::Error) -> BackendError {
        BackendError::Io {
            context: context.into(),
            source,
        }
    }
}
