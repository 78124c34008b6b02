//! Watching a step: a [`StepTracer`] rewrites the step's process invocation (e.g. to run it
//! under `rr record` or `strace -f`) and collects what it produced afterwards.

use std::path::PathBuf;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::backend::{BackendError, JobEnv};
use crate::exec::{Exec, ExitStatus};

/// The step a tracer is asked about.
///
/// ```
/// use gha_exec::StepInfo;
/// let step = StepInfo { job_id: "test".into(), job_name: "test".into(), index: 2,
///                       id: Some("unit".into()), name: "cargo test".into(),
///                       run: Some("cargo test".into()), shell: None };
/// assert_eq!(step.index, 2);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepInfo {
    /// The job's id.
    pub job_id: String,
    /// The job's display name (matrix leg included).
    pub job_name: String,
    /// The step's position in `steps:` (0-based).
    pub index: usize,
    /// The step's `id:`, if it has one.
    pub id: Option<String>,
    /// The step's display name (`name:`, or GitHub's default such as `Run cargo test`).
    pub name: String,
    /// The evaluated body of a `run` step (`None` for other steps).
    pub run: Option<String>,
    /// The evaluated `shell` of a `run` step (`None`: the default shell).
    pub shell: Option<String>,
}

/// What a tracer needs from the job environment; backends apply it when they start the job.
///
/// ```
/// use gha_exec::TracerRequirements;
/// let mut a = TracerRequirements::default();
/// a.capabilities.push("SYS_PTRACE".into());
/// let mut b = TracerRequirements::default();
/// b.seccomp_unconfined = true;
/// a.merge(&b);
/// assert!(a.seccomp_unconfined && a.capabilities == ["SYS_PTRACE"]);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TracerRequirements {
    /// Linux capabilities to add to a container (e.g. `SYS_PTRACE`, `PERFMON`).
    pub capabilities: Vec<String>,
    /// Host directories to make visible inside the environment.
    pub mounts: Vec<Mount>,
    /// Run containers with `seccomp=unconfined`.
    pub seccomp_unconfined: bool,
}

impl TracerRequirements {
    /// Adds `other`'s requirements to these (no duplicates).
    pub fn merge(&mut self, other: &TracerRequirements) {
        for c in &other.capabilities {
            if !self.capabilities.contains(c) {
                self.capabilities.push(c.clone());
            }
        }
        for m in &other.mounts {
            if !self.mounts.contains(m) {
                self.mounts.push(m.clone());
            }
        }
        self.seccomp_unconfined |= other.seccomp_unconfined;
    }
}

/// A host directory mounted into the job environment.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mount {
    /// Directory on the machine running `gha`.
    pub source: PathBuf,
    /// Where it appears inside the environment.
    pub target: String,
    /// Mounted read-only.
    pub read_only: bool,
}

/// A file a tracer collected (a trace directory, a log), on the machine running `gha`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TraceArtifact {
    /// Where it was saved.
    pub path: PathBuf,
    /// What it is, for the user ("rr trace of step 3").
    pub description: String,
}

/// Wraps selected steps' processes and collects the traces.
///
/// ```
/// use async_trait::async_trait;
/// use gha_exec::{StepTracer, StepInfo, TracerRequirements, Exec, ExitStatus, JobEnv,
///                BackendError, TraceArtifact};
///
/// /// Runs the step named "cargo test" under `strace -f`.
/// struct Strace;
///
/// #[async_trait]
/// impl StepTracer for Strace {
///     fn name(&self) -> &str { "strace" }
///     fn requirements(&self) -> TracerRequirements {
///         TracerRequirements { capabilities: vec!["SYS_PTRACE".into()], ..Default::default() }
///     }
///     fn targets(&self, step: &StepInfo) -> bool { step.name == "cargo test" }
///     fn wrap(&self, _step: &StepInfo, mut exec: Exec) -> Exec {
///         let mut argv = vec!["strace".to_string(), "-f".into(), "-o".into(), "/tmp/trace".into()];
///         argv.append(&mut exec.argv);
///         exec.argv = argv;
///         exec
///     }
///     async fn collect(&self, _step: &StepInfo, _status: &ExitStatus, _env: &dyn JobEnv)
///         -> Result<Vec<TraceArtifact>, BackendError> { Ok(vec![]) }
/// }
///
/// let step = StepInfo { name: "cargo test".into(), ..Default::default() };
/// let wrapped = Strace.wrap(&step, Exec::new(["bash", "/tmp/s.sh"]));
/// assert_eq!(wrapped.argv[0], "strace");
/// assert_eq!(wrapped.argv[4..], ["bash", "/tmp/s.sh"]);
/// ```
#[async_trait]
pub trait StepTracer: Send + Sync {
    /// A short name (`"rr"`, `"strace"`).
    fn name(&self) -> &str;

    /// What the job environment must provide for this tracer to work.
    fn requirements(&self) -> TracerRequirements;

    /// Whether this tracer watches `step`.
    fn targets(&self, step: &StepInfo) -> bool;

    /// Runs once in each job environment, right after it started and before any step runs
    /// (install tools, preflight checks); an error fails the job before its first step. Does
    /// nothing by default.
    async fn prepare(&self, _env: &dyn JobEnv) -> Result<(), BackendError> {
        Ok(())
    }

    /// Rewrites a targeted step's invocation. The executor calls this last, after it built the
    /// shell command, so the wrapper sees the step's full environment and working directory.
    fn wrap(&self, step: &StepInfo, exec: Exec) -> Exec;

    /// After a targeted step ended: fetch the trace out of the environment.
    async fn collect(
        &self,
        step: &StepInfo,
        status: &ExitStatus,
        env: &dyn JobEnv,
    ) -> Result<Vec<TraceArtifact>, BackendError>;
}
