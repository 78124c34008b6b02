//! Running workflows: the job graph scheduler, job and step execution, contexts, and the run
//! report. The entry point is [`Executor::run`].

pub(crate) mod contexts;
pub(crate) mod emitter;
pub mod event_filter;
pub mod git_info;
pub mod inputs;
pub(crate) mod job;
mod report;
mod scheduler;
pub mod selection;
pub(crate) mod step_output;

use std::path::PathBuf;
use std::sync::Arc;

pub use git_info::GitInfo;
pub use report::{JobReport, RunReport, StepReport};

use crate::backend::Backend;
use crate::exec::KillPolicy;
use crate::masker::Masker;
use crate::observer::RunObserver;
use crate::tracer::StepTracer;
use tokio_util::sync::CancellationToken;

/// A workflow file to run.
#[derive(Clone, Debug)]
pub struct WorkflowFile {
    /// The path as shown to the user (relative to the repository when possible).
    pub path: String,
    /// The parsed workflow.
    pub workflow: gha_model::Workflow,
}

/// Everything about a run that does not come from the workflow files.
///
/// ```
/// let opts = gha_exec::run::RunOptions::new("/src/repo");
/// assert_eq!(opts.event_name, "push");
/// assert!(opts.max_jobs >= 1);
/// ```
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// `github.event_name`.
    pub event_name: String,
    /// `github.event` (the `-e` file's JSON; `{}` by default).
    pub event: serde_json::Value,
    /// The repository's working tree.
    pub repo_dir: PathBuf,
    /// Git facts (`github.sha`, `github.ref`, ...).
    pub git: GitInfo,
    /// `secrets` (`GITHUB_TOKEN` is added when missing, as an empty string).
    pub secrets: Vec<(String, String)>,
    /// `vars`.
    pub vars: Vec<(String, String)>,
    /// Extra environment for every step (`--env`), applied over the workflow's `env`.
    pub env: Vec<(String, String)>,
    /// `--input name=value` (`workflow_dispatch` / `workflow_call` inputs).
    pub inputs: Vec<(String, String)>,
    /// `--matrix key:value`: run only matrix legs with these values.
    pub matrix_filter: Vec<(String, String)>,
    /// `-j`: a job id or display name; its transitive needs run first.
    pub job_filter: Option<String>,
    /// How many jobs may run at once.
    pub max_jobs: usize,
    /// Plan and report without running any step.
    pub dry_run: bool,
    /// Run in the working tree instead of a copy.
    pub bind_workspace: bool,
    /// `github.run_id`.
    pub run_id: String,
    /// `github.run_number`.
    pub run_number: String,
    /// How cancelled steps are stopped.
    pub kill_policy: KillPolicy,
    /// Show `::debug::` messages (`ACTIONS_STEP_DEBUG` / `RUNNER_DEBUG`).
    pub debug: bool,
    /// How `uses:` steps are resolved and run.
    pub actions: crate::action::ActionSettings,
}

impl RunOptions {
    /// Defaults for a `push` run of the repository at `repo_dir` (git facts are read from it).
    pub fn new(repo_dir: impl Into<PathBuf>) -> RunOptions {
        let repo_dir = repo_dir.into();
        RunOptions {
            event_name: "push".into(),
            event: serde_json::json!({}),
            git: GitInfo::read(&repo_dir),
            repo_dir,
            secrets: Vec::new(),
            vars: Vec::new(),
            env: Vec::new(),
            inputs: Vec::new(),
            matrix_filter: Vec::new(),
            job_filter: None,
            max_jobs: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2),
            dry_run: false,
            bind_workspace: false,
            run_id: std::process::id().to_string(),
            run_number: "1".into(),
            kill_policy: KillPolicy::default(),
            debug: false,
            actions: Default::default(),
        }
    }
}

/// Bad input found before anything ran (exit code 2).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct PlanError(pub String);

/// How a run is stopped from outside (Ctrl-C).
#[derive(Clone, Debug, Default)]
pub struct RunCancellation {
    /// First Ctrl-C: cancel running steps; `always()` / `cancelled()` steps still run.
    pub cancel: CancellationToken,
    /// Second Ctrl-C: stop everything now, cleanup steps included.
    pub force: CancellationToken,
}

/// Runs workflows on a backend, reporting to an observer.
///
/// ```
/// use std::sync::Arc;
/// use gha_exec::{HostBackend, HostBackendOptions, Masker, RunEvent, RunObserver};
/// use gha_exec::run::{Executor, RunOptions, RunCancellation, WorkflowFile};
///
/// struct Quiet;
/// impl RunObserver for Quiet { fn on_event(&self, _: &RunEvent) {} }
///
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let repo = tempfile::tempdir().unwrap();
/// let runs = tempfile::tempdir().unwrap();
/// let yaml = "on: push\njobs:\n  hello:\n    runs-on: ubuntu-latest\n    steps:\n      - id: greet\n        run: echo \"who=world\" >> \"$GITHUB_OUTPUT\"\n";
/// let workflow = gha_model::Workflow::from_yaml(yaml).unwrap();
/// let executor = Executor::new(
///     Arc::new(HostBackend::new(HostBackendOptions::new(runs.path()))),
///     Arc::new(Quiet),
///     Arc::new(Masker::new()),
/// );
/// let report = executor
///     .run(vec![WorkflowFile { path: "ci.yml".into(), workflow }], RunOptions::new(repo.path()), RunCancellation::default())
///     .await
///     .unwrap();
/// assert_eq!(report.conclusion, gha_exec::Conclusion::Success);
/// assert_eq!(report.jobs[0].steps[0].outputs["who"], "world");
/// # });
/// ```
#[derive(Clone)]
pub struct Executor {
    backend: Arc<dyn Backend>,
    observer: Arc<dyn RunObserver>,
    masker: Arc<Masker>,
    tracers: Vec<Arc<dyn StepTracer>>,
}

impl Executor {
    /// An executor running jobs on `backend`, reporting to `observer`, masking with `masker`
    /// (register secrets there, or pass them in [`RunOptions::secrets`]).
    pub fn new(
        backend: Arc<dyn Backend>,
        observer: Arc<dyn RunObserver>,
        masker: Arc<Masker>,
    ) -> Executor {
        Executor {
            backend,
            observer,
            masker,
            tracers: Vec::new(),
        }
    }

    /// Adds a step tracer.
    pub fn with_tracer(mut self, tracer: Arc<dyn StepTracer>) -> Executor {
        self.tracers.push(tracer);
        self
    }

    /// Runs `workflows` and returns the report. `Err` means bad input found before any job
    /// started (unknown `-j`, invalid inputs).
    pub async fn run(
        &self,
        workflows: Vec<WorkflowFile>,
        options: RunOptions,
        cancellation: RunCancellation,
    ) -> Result<RunReport, PlanError> {
        for (_, v) in &options.secrets {
            self.masker.add(v);
        }
        let emitter = emitter::Emitter {
            masker: self.masker.clone(),
            observer: self.observer.clone(),
        };
        scheduler::run(
            self.backend.clone(),
            self.tracers.clone(),
            emitter,
            workflows,
            options,
            cancellation,
        )
        .await
    }
}

/// The ref, sha, head ref and base ref a run of `options` sees (`github.ref`, `github.sha`,
/// `github.head_ref`, `github.base_ref`): from the git checkout, overridden by the event
/// payload (`ref`/`after` for pushes, `pull_request.number`/`head.ref`/`base.ref` for pull
/// requests).
///
/// ```
/// let mut o = gha_exec::run::RunOptions::new(".");
/// o.event_name = "pull_request".into();
/// o.event = serde_json::json!({"pull_request": {"number": 7, "head": {"ref": "fix"}, "base": {"ref": "main"}}});
/// let (r, _, head, base) = gha_exec::run::event_refs_of(&o);
/// assert_eq!((r.as_str(), head.as_str(), base.as_str()), ("refs/pull/7/merge", "fix", "main"));
/// ```
pub fn event_refs_of(options: &RunOptions) -> (String, String, String, String) {
    contexts::event_refs(options)
}
