//! The strace tracer: `strace -f -o FILE PROGRAM…` around each targeted step.

use std::path::PathBuf;

use async_trait::async_trait;
use gha_exec::{
    BackendError, Exec, ExitStatus, JobEnv, StepInfo, StepTracer, TraceArtifact, TracerRequirements,
};

use crate::bundle::{Tool, ToolBundle};
use crate::placement::TracerCore;
use crate::select::TraceTargets;

/// The file name of a step's strace output inside its trace directory.
pub const STRACE_FILE: &str = "strace.txt";

/// Traces targeted steps with `strace -f -o DIR/<job>/<n>-<slug>/strace.txt`. strace exits
/// with the traced program's status, so a traced step fails exactly when it fails untraced.
///
/// ```
/// use gha_exec::{Exec, StepInfo, StepTracer};
/// use gha_rr::{StraceTracer, TraceTargets};
///
/// let tracer = StraceTracer::new(TraceTargets::default(), "/tmp/traces");
/// let step = StepInfo { job_id: "test".into(), job_name: "test".into(), index: 0,
///                       name: "Run make check".into(), run: Some("make check\n".into()),
///                       ..Default::default() };
/// let exec = tracer.wrap(&step, Exec::new(["bash", "-e", "/tmp/step.sh"]));
/// // A single simple command is traced directly: the trace starts at make's execve.
/// assert_eq!(exec.argv[1..], ["-f", "-o", "/tmp/traces/test/1-run-make-check/strace.txt", "make", "check"]);
/// ```
pub struct StraceTracer {
    core: TracerCore,
}

impl StraceTracer {
    /// A tracer for `targets`, writing under `trace_dir`, using this machine's strace (found on
    /// `PATH`) for host jobs.
    pub fn new(targets: TraceTargets, trace_dir: impl Into<PathBuf>) -> StraceTracer {
        StraceTracer {
            core: TracerCore::new(Tool::Strace, targets, trace_dir.into()),
        }
    }

    /// Uses `bundle` (see [`ToolBundle::create`]) in job containers: it is mounted read-only and
    /// started through its own loader, and the trace directory is mounted too.
    pub fn with_bundle(mut self, bundle: ToolBundle) -> StraceTracer {
        self.core.bundle = Some(bundle);
        self
    }

    /// The traces collected so far, with their steps.
    pub fn artifacts(&self) -> Vec<(StepInfo, TraceArtifact)> {
        self.core.artifacts()
    }
}

#[async_trait]
impl StepTracer for StraceTracer {
    fn name(&self) -> &str {
        "strace"
    }

    fn requirements(&self) -> TracerRequirements {
        // strace traces its own child: no extra capability is needed, but SYS_PTRACE lets it
        // follow processes that change credentials.
        self.core.requirements(false)
    }

    fn targets(&self, step: &StepInfo) -> bool {
        self.core.targets.matches(step)
    }

    async fn prepare(&self, env: &dyn JobEnv) -> Result<(), BackendError> {
        self.core.place(env).await.map(|_| ())
    }

    fn wrap(&self, step: &StepInfo, mut exec: Exec) -> Exec {
        let placement = self.core.current();
        let inside = match self.core.fresh_step_dir(step, &placement) {
            Ok((_, inside)) => inside,
            Err(_) => format!(
                "{}/{}",
                placement.traces_root,
                self.core.layout.step_relative(step)
            ),
        };
        let mut argv = placement.prefix.clone();
        argv.extend([
            "-f".to_string(),
            "-o".into(),
            format!("{inside}/{STRACE_FILE}"),
        ]);
        argv.extend(TracerCore::step_argv(step, &exec));
        exec.argv = argv;
        exec
    }

    async fn collect(
        &self,
        step: &StepInfo,
        _status: &ExitStatus,
        _env: &dyn JobEnv,
    ) -> Result<Vec<TraceArtifact>, BackendError> {
        let file = self.core.layout.step_dir(step).join(STRACE_FILE);
        if !file.is_file() {
            return Err(BackendError::NotFound(format!(
                "{} (strace wrote no trace)",
                file.display()
            )));
        }
        let artifact = TraceArtifact {
            path: file,
            description: format!("strace of step {} ({})", step.index + 1, step.name),
        };
        self.core.remember(step, &artifact);
        Ok(vec![artifact])
    }
}
