//! Where a tracer's tool and traces are, as seen from the job environment: the host's own
//! installation and `--trace-dir` itself (host backend), or the tool bundle and the trace
//! directory mounted into the job container.

use std::path::PathBuf;
use std::sync::Mutex;

use gha_exec::{
    BackendError, CancellationToken, Exec, ExitStatus, JobEnv, Mount, StepInfo, TraceArtifact,
    TracerRequirements, VecLogSink,
};

use crate::bundle::{MANIFEST, Tool, ToolBundle};
use crate::layout::{TraceLayout, create_shared_dir};
use crate::select::TraceTargets;
use crate::simple_command::simple_command_argv;

/// Where tool bundles are mounted inside a job container.
pub const BUNDLE_MOUNT: &str = "/__gha/tools";
/// Where `--trace-dir` is mounted inside a job container.
pub const TRACE_MOUNT: &str = "/__gha/traces";

/// How to start the tool and where traces go, inside one job environment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Placement {
    /// The argv prefix that starts the tool.
    pub(crate) prefix: Vec<String>,
    /// `--trace-dir` as seen inside.
    pub(crate) traces_root: String,
    /// A human description ("the bundled strace 6.1").
    pub(crate) description: String,
}

/// What the strace and rr tracers share.
pub(crate) struct TracerCore {
    pub(crate) tool: Tool,
    pub(crate) host_binary: Option<PathBuf>,
    pub(crate) bundle: Option<ToolBundle>,
    pub(crate) targets: TraceTargets,
    pub(crate) layout: TraceLayout,
    pub(crate) placement: Mutex<Option<Placement>>,
    pub(crate) artifacts: Mutex<Vec<(StepInfo, TraceArtifact)>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Runs `exec` and returns its status and its output lines joined.
pub(crate) async fn run_captured(
    env: &dyn JobEnv,
    exec: &Exec,
) -> Result<(ExitStatus, String), BackendError> {
    let sink = VecLogSink::default();
    let status = env.exec(exec, &sink, CancellationToken::new()).await?;
    let text = sink
        .lines()
        .into_iter()
        .map(|(_, l)| l)
        .collect::<Vec<_>>()
        .join("\n");
    Ok((status, text))
}

impl TracerCore {
    pub(crate) fn new(tool: Tool, targets: TraceTargets, trace_dir: PathBuf) -> TracerCore {
        TracerCore {
            tool,
            host_binary: crate::bundle::which(tool.program()),
            bundle: None,
            targets,
            layout: TraceLayout::new(trace_dir),
            placement: Mutex::new(None),
            artifacts: Mutex::new(Vec::new()),
        }
    }

    fn bundle_target(&self, bundle: &ToolBundle) -> String {
        let name = bundle
            .dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| self.tool.program().into());
        format!("{BUNDLE_MOUNT}/{name}")
    }

    /// The mounts (bundle read-only, trace directory read-write) and capabilities.
    pub(crate) fn requirements(&self, seccomp_unconfined: bool) -> TracerRequirements {
        let mut r = TracerRequirements {
            capabilities: vec!["SYS_PTRACE".into()],
            seccomp_unconfined,
            ..Default::default()
        };
        if let Some(b) = &self.bundle {
            r.mounts.push(Mount {
                source: b.dir.clone(),
                target: self.bundle_target(b),
                read_only: true,
            });
            // Make sure the directory exists for the bind mount.
            let _ = create_shared_dir(self.layout.root());
            r.mounts.push(Mount {
                source: std::path::absolute(self.layout.root())
                    .unwrap_or_else(|_| self.layout.root().to_path_buf()),
                target: TRACE_MOUNT.into(),
                read_only: false,
            });
        }
        r
    }

    /// Decides where the tool is in `env` and checks that it runs there.
    pub(crate) async fn place(&self, env: &dyn JobEnv) -> Result<Placement, BackendError> {
        create_shared_dir(self.layout.root()).map_err(|e| {
            BackendError::io(format!("creating {}", self.layout.root().display()), e)
        })?;
        let program = self.tool.program();
        let mounted = match &self.bundle {
            Some(b) => {
                let target = self.bundle_target(b);
                env.read_file(&format!("{target}/{MANIFEST}"))
                    .await
                    .is_ok()
                    .then_some((b, target))
            }
            None => None,
        };
        let placement = match mounted {
            Some((b, target)) => Placement {
                prefix: b.invocation(&target),
                traces_root: TRACE_MOUNT.into(),
                description: format!("the bundled {program} {}", b.manifest.version),
            },
            None => {
                let root = std::path::absolute(self.layout.root())
                    .unwrap_or_else(|_| self.layout.root().to_path_buf());
                let binary = self
                    .host_binary
                    .as_ref()
                    .map(|p| p.to_string_lossy().into_owned())
                    .ok_or_else(|| {
                        BackendError::Other(format!(
                            "{program} is not installed on this machine (install Debian's `{program}` package: `apt-get install {program}`)"
                        ))
                    })?;
                Placement {
                    description: format!("{binary} of this machine"),
                    prefix: vec![binary],
                    traces_root: root.to_string_lossy().into_owned(),
                }
            }
        };
        let mut argv = placement.prefix.clone();
        argv.push(self.tool.version_flag().into());
        let (status, output) = run_captured(env, &Exec::new(argv)).await.map_err(|e| {
            BackendError::Other(format!(
                "{} does not run in the job environment: {e}",
                placement.description
            ))
        })?;
        if !status.success() {
            return Err(BackendError::Other(format!(
                "{} does not run in the job environment ({status}): {output}",
                placement.description
            )));
        }
        *lock(&self.placement) = Some(placement.clone());
        Ok(placement)
    }

    /// The placement `prepare` chose (the host's tool if it was not called).
    pub(crate) fn current(&self) -> Placement {
        if let Some(p) = lock(&self.placement).clone() {
            return p;
        }
        let binary = self
            .host_binary
            .as_ref()
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_else(|| self.tool.program().into());
        Placement {
            description: binary.clone(),
            prefix: vec![binary],
            traces_root: std::path::absolute(self.layout.root())
                .unwrap_or_else(|_| self.layout.root().to_path_buf())
                .to_string_lossy()
                .into_owned(),
        }
    }

    /// A fresh, empty trace directory for `step`: its path here and as seen inside.
    pub(crate) fn fresh_step_dir(
        &self,
        step: &StepInfo,
        placement: &Placement,
    ) -> std::io::Result<(PathBuf, String)> {
        let host = self.layout.step_dir(step);
        if host.exists() {
            std::fs::remove_dir_all(&host)?;
        }
        if let Some(parent) = host.parent() {
            create_shared_dir(parent)?;
        }
        create_shared_dir(&host)?;
        let inside = format!(
            "{}/{}",
            placement.traces_root.trim_end_matches('/'),
            self.layout.step_relative(step)
        );
        Ok((host, inside))
    }

    /// The step's program: the simple-command shortcut's argv when it applies, else `exec`'s.
    pub(crate) fn step_argv(step: &StepInfo, exec: &Exec) -> Vec<String> {
        step.run
            .as_deref()
            .and_then(|body| simple_command_argv(body, step.shell.as_deref()))
            .unwrap_or_else(|| exec.argv.clone())
    }

    pub(crate) fn remember(&self, step: &StepInfo, artifact: &TraceArtifact) {
        lock(&self.artifacts).push((step.clone(), artifact.clone()));
    }

    pub(crate) fn artifacts(&self) -> Vec<(StepInfo, TraceArtifact)> {
        lock(&self.artifacts).clone()
    }
}
