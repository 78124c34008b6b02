//! `--tracer rr|strace`: building the step tracer `gha run` and `gha rerun` attach.

use std::path::PathBuf;
use std::sync::Arc;

use clap::{Args, ValueEnum};
use gha_exec::StepTracer;
use gha_rr::{PreflightFailure, RrOptions, RrTracer, StraceTracer, Tool, ToolBundle, TraceTargets};

/// Which tool watches the traced steps.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum TracerKind {
    /// Record with rr (`rr record`, then `rr pack`).
    Rr,
    /// Trace system calls with `strace -f`.
    Strace,
}

/// rr's recording options (shared by `gha run` and `gha rerun`).
#[derive(Debug, Default, Args)]
pub struct RrArgs {
    /// rr: record in chaos mode (randomised scheduling).
    #[arg(long = "rr-chaos")]
    pub chaos: bool,
    /// rr: disable the syscall buffer (`rr record -n`; slower, works with perf_event_paranoid 2).
    #[arg(long = "rr-no-syscall-buffer")]
    pub no_syscall_buffer: bool,
    /// rr: one more `rr record` argument (repeatable).
    #[arg(long = "rr-arg", value_name = "ARG", allow_hyphen_values = true)]
    pub args: Vec<String>,
}

impl RrArgs {
    fn options(&self) -> RrOptions {
        RrOptions {
            chaos: self.chaos,
            no_syscall_buffer: self.no_syscall_buffer,
            extra_args: self.args.clone(),
            ..RrOptions::default()
        }
    }
}

/// `gha run`'s tracing flags.
#[derive(Debug, Default, Args)]
pub struct TraceArgs {
    /// Run selected steps under rr or strace.
    #[arg(long = "tracer", value_enum)]
    pub tracer: Option<TracerKind>,
    /// A step to trace: its id, name or 1-based number (repeatable; default: every `run` step).
    #[arg(long = "trace-step", value_name = "SEL", requires = "tracer")]
    pub trace_steps: Vec<String>,
    /// Where traces go, as DIR/<job>/<step-number>-<step-slug>/ (default: ./gha-traces).
    #[arg(long = "trace-dir", value_name = "DIR", requires = "tracer")]
    pub trace_dir: Option<PathBuf>,
    #[command(flatten)]
    pub rr: RrArgs,
}

/// A built tracer, with typed access to what the CLI reports afterwards.
pub enum Tracer {
    /// rr.
    Rr(Arc<RrTracer>),
    /// strace.
    Strace(Arc<StraceTracer>),
}

/// Where bundles of the host's rr/strace are cached.
fn bundle_cache() -> PathBuf {
    if let Some(d) = std::env::var_os("XDG_CACHE_HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(d).join("gha/tools");
    }
    match std::env::var_os("HOME").filter(|d| !d.is_empty()) {
        Some(h) => PathBuf::from(h).join(".cache/gha/tools"),
        None => std::env::temp_dir().join("gha-tools"),
    }
}

impl Tracer {
    /// Builds `kind` for `targets`, writing under `trace_dir`; `in_containers`: bundle the
    /// host's tool for mounting into job containers.
    pub fn build(
        kind: TracerKind,
        targets: TraceTargets,
        trace_dir: PathBuf,
        in_containers: bool,
        rr: &RrArgs,
    ) -> Result<Tracer, String> {
        let tool = match kind {
            TracerKind::Rr => Tool::Rr,
            TracerKind::Strace => Tool::Strace,
        };
        let bundle = if in_containers {
            Some(
                ToolBundle::create(tool, None, &bundle_cache()).map_err(|e| {
                    format!(
                        "cannot bundle {} for the job containers: {e}",
                        tool.program()
                    )
                })?,
            )
        } else {
            None
        };
        Ok(match kind {
            TracerKind::Rr => {
                let mut t = RrTracer::new(targets, trace_dir, rr.options());
                if let Some(b) = bundle {
                    t = t.with_bundle(b);
                }
                Tracer::Rr(Arc::new(t))
            }
            TracerKind::Strace => {
                let mut t = StraceTracer::new(targets, trace_dir);
                if let Some(b) = bundle {
                    t = t.with_bundle(b);
                }
                Tracer::Strace(Arc::new(t))
            }
        })
    }

    /// From `gha run`'s flags (`None` without `--tracer`).
    pub fn from_args(args: &TraceArgs, in_containers: bool) -> Result<Option<Tracer>, String> {
        let Some(kind) = args.tracer else {
            return Ok(None);
        };
        let targets = TraceTargets::from_selectors(&args.trace_steps)?;
        let dir = args
            .trace_dir
            .clone()
            .unwrap_or_else(|| PathBuf::from("gha-traces"));
        Tracer::build(kind, targets, dir, in_containers, &args.rr).map(Some)
    }

    /// The tracer as the executor takes it.
    pub fn step_tracer(&self) -> Arc<dyn StepTracer> {
        match self {
            Tracer::Rr(t) => t.clone(),
            Tracer::Strace(t) => t.clone(),
        }
    }

    /// rr's classified preflight failure, if a job's preflight failed.
    pub fn preflight_failure(&self) -> Option<PreflightFailure> {
        match self {
            Tracer::Rr(t) => t.preflight_failure(),
            Tracer::Strace(_) => None,
        }
    }
}
