//! The rr tracer: `rr record` of each targeted step into its trace directory, then `rr pack`.

use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use gha_exec::{
    BackendError, Exec, ExitStatus, JobEnv, StepInfo, StepTracer, TraceArtifact, TracerRequirements,
};

use crate::bundle::{Tool, ToolBundle};
use crate::placement::{TracerCore, run_captured};
use crate::preflight::PreflightFailure;
use crate::select::TraceTargets;

/// The name of a step's rr trace directory inside its trace directory.
pub const RR_TRACE: &str = "rr-trace";

/// How long rr gets after SIGTERM to stop its tracees and close the trace before SIGKILL.
pub const RR_SIGTERM_GRACE: Duration = Duration::from_secs(30);

/// `rr record` options.
///
/// ```
/// let o = gha_rr::RrOptions { chaos: true, ..Default::default() };
/// assert!(o.pack && o.preflight && !o.no_syscall_buffer);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RrOptions {
    /// `--chaos`: randomise scheduling to shake out races.
    pub chaos: bool,
    /// `-n`: no syscall buffer (slower; works with `perf_event_paranoid` 2).
    pub no_syscall_buffer: bool,
    /// More `rr record` arguments, before the program.
    pub extra_args: Vec<String>,
    /// Run `rr pack` on the trace after the step (makes it self-contained).
    pub pack: bool,
    /// Record a trivial program before the job's first step and fail the job with a
    /// classified reason when that does not work.
    pub preflight: bool,
}

impl Default for RrOptions {
    fn default() -> Self {
        RrOptions {
            chaos: false,
            no_syscall_buffer: false,
            extra_args: Vec::new(),
            pack: true,
            preflight: true,
        }
    }
}

/// Records targeted steps with `rr record -o DIR/<job>/<n>-<slug>/rr-trace`. `rr record` exits
/// with the recorded program's status, so a recorded step fails exactly when it fails
/// unrecorded. Cancellation stops rr with SIGTERM (with [`RR_SIGTERM_GRACE`] before SIGKILL), so
/// the trace is closed cleanly.
///
/// ```
/// use gha_exec::{Exec, StepInfo, StepTracer};
/// use gha_rr::{RrOptions, RrTracer, TraceTargets};
///
/// let tracer = RrTracer::new(TraceTargets::default(), "/tmp/traces",
///                            RrOptions { chaos: true, ..Default::default() });
/// let step = StepInfo { job_id: "test".into(), job_name: "test".into(), index: 1,
///                       name: "unit".into(), run: Some("cargo test\n".into()), ..Default::default() };
/// let exec = tracer.wrap(&step, Exec::new(["bash", "-e", "/tmp/step.sh"]));
/// assert_eq!(exec.argv[1..], ["record", "--chaos", "-o", "/tmp/traces/test/2-unit/rr-trace", "cargo", "test"]);
/// assert!(tracer.requirements().seccomp_unconfined);
/// ```
pub struct RrTracer {
    core: TracerCore,
    options: RrOptions,
    preflight_failure: Mutex<Option<PreflightFailure>>,
}

impl RrTracer {
    /// A tracer for `targets`, writing under `trace_dir`, using this machine's rr (found on
    /// `PATH`) for host jobs.
    pub fn new(
        targets: TraceTargets,
        trace_dir: impl Into<PathBuf>,
        options: RrOptions,
    ) -> RrTracer {
        RrTracer {
            core: TracerCore::new(Tool::Rr, targets, trace_dir.into()),
            options,
            preflight_failure: Mutex::new(None),
        }
    }

    /// Uses `bundle` (see [`ToolBundle::create`]) in job containers.
    pub fn with_bundle(mut self, bundle: ToolBundle) -> RrTracer {
        self.core.bundle = Some(bundle);
        self
    }

    /// The classified preflight failure, when a job's preflight failed.
    pub fn preflight_failure(&self) -> Option<PreflightFailure> {
        self.preflight_failure
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The traces collected so far, with their steps.
    pub fn artifacts(&self) -> Vec<(StepInfo, TraceArtifact)> {
        self.core.artifacts()
    }

    fn record_options(&self) -> Vec<String> {
        let mut args = Vec::new();
        if self.options.chaos {
            args.push("--chaos".to_string());
        }
        if self.options.no_syscall_buffer {
            args.push("-n".into());
        }
        args.extend(self.options.extra_args.iter().cloned());
        args
    }

    /// `rr record` of `true` in `env`; `Err` with the classified failure.
    async fn preflight(
        &self,
        env: &dyn JobEnv,
        prefix: &[String],
        traces_root: &str,
    ) -> Result<(), PreflightFailure> {
        let name = format!(".preflight-{}", std::process::id());
        let host_dir = self.core.layout.root().join(&name);
        let _ = std::fs::remove_dir_all(&host_dir);
        let mut argv = prefix.to_vec();
        argv.push("record".into());
        if self.options.no_syscall_buffer {
            argv.push("-n".into());
        }
        argv.extend([
            "-o".to_string(),
            format!("{}/{name}", traces_root.trim_end_matches('/')),
            "true".into(),
        ]);
        let result = run_captured(env, &Exec::new(argv)).await;
        let _ = std::fs::remove_dir_all(&host_dir);
        let failure = match result {
            Ok((status, _)) if status.success() => return Ok(()),
            Ok((status, output)) => PreflightFailure::classify(&output, status.code),
            Err(e) => PreflightFailure::classify(&e.to_string(), None),
        };
        // Does the kernel list a CPU PMU at all?
        let sources =
            match run_captured(env, &Exec::new(["ls", "/sys/bus/event_source/devices"])).await {
                Ok((s, out)) if s.success() => out.split_whitespace().map(str::to_string).collect(),
                _ => Vec::new(),
            };
        Err(failure.with_sysfs_event_sources(&sources))
    }
}

#[async_trait]
impl StepTracer for RrTracer {
    fn name(&self) -> &str {
        "rr"
    }

    fn requirements(&self) -> TracerRequirements {
        self.core.requirements(true)
    }

    fn targets(&self, step: &StepInfo) -> bool {
        self.core.targets.matches(step)
    }

    async fn prepare(&self, env: &dyn JobEnv) -> Result<(), BackendError> {
        let placement = self.core.place(env).await?;
        if !self.options.preflight {
            return Ok(());
        }
        if let Err(failure) = self
            .preflight(env, &placement.prefix, &placement.traces_root)
            .await
        {
            let message = failure.to_string();
            *self
                .preflight_failure
                .lock()
                .unwrap_or_else(|p| p.into_inner()) = Some(failure);
            return Err(BackendError::Other(message));
        }
        Ok(())
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
        argv.push("record".into());
        argv.extend(self.record_options());
        argv.extend(["-o".to_string(), format!("{inside}/{RR_TRACE}")]);
        argv.extend(TracerCore::step_argv(step, &exec));
        exec.argv = argv;
        // rr closes the trace on SIGTERM; give it time before anything stronger.
        exec.kill_policy.after_sigterm = exec.kill_policy.after_sigterm.max(RR_SIGTERM_GRACE);
        exec
    }

    async fn collect(
        &self,
        step: &StepInfo,
        _status: &ExitStatus,
        env: &dyn JobEnv,
    ) -> Result<Vec<TraceArtifact>, BackendError> {
        let host = self.core.layout.step_dir(step).join(RR_TRACE);
        if !host.is_dir() {
            return Err(BackendError::NotFound(format!(
                "{} (rr wrote no trace)",
                host.display()
            )));
        }
        let mut description = format!("rr trace of step {} ({})", step.index + 1, step.name);
        if self.options.pack {
            let placement = self.core.current();
            let mut argv = placement.prefix.clone();
            argv.extend([
                "pack".to_string(),
                format!(
                    "{}/{}/{RR_TRACE}",
                    placement.traces_root.trim_end_matches('/'),
                    self.core.layout.step_relative(step)
                ),
            ]);
            let (status, output) = run_captured(env, &Exec::new(argv)).await?;
            if !status.success() {
                return Err(BackendError::Other(format!(
                    "rr pack failed ({status}): {output}"
                )));
            }
            description.push_str(", packed");
        }
        let artifact = TraceArtifact {
            path: host,
            description,
        };
        self.core.remember(step, &artifact);
        Ok(vec![artifact])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_options_come_before_the_trace_dir_and_cancellation_waits_for_rr() {
        let tracer = RrTracer::new(
            TraceTargets::default(),
            "/tmp/gha-rr-unit",
            RrOptions {
                chaos: true,
                no_syscall_buffer: true,
                extra_args: vec!["--num-cores=2".into()],
                ..Default::default()
            },
        );
        let step = StepInfo {
            job_id: "j".into(),
            job_name: "j".into(),
            index: 0,
            name: "multi".into(),
            run: Some("make\nmake test\n".into()),
            ..Default::default()
        };
        let exec = tracer.wrap(&step, Exec::new(["bash", "-e", "/tmp/s.sh"]));
        assert_eq!(
            exec.argv[1..],
            [
                "record",
                "--chaos",
                "-n",
                "--num-cores=2",
                "-o",
                "/tmp/gha-rr-unit/j/1-multi/rr-trace",
                "bash",
                "-e",
                "/tmp/s.sh"
            ]
        );
        // SIGINT first, then SIGTERM, and rr gets RR_SIGTERM_GRACE before any SIGKILL.
        assert!(exec.kill_policy.after_sigterm >= RR_SIGTERM_GRACE);
    }
}
