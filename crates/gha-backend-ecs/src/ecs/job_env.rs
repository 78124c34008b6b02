//! A job running in an ECS task: the agent's [`RemoteJobEnv`] plus the task to stop at the end.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use async_trait::async_trait;
use gha_exec::{
    BackendError, Exec, ExitStatus, JobEnv, JobPaths, LogSink, Mount, RunnerInfo, VecLogSink,
};
use tokio_util::sync::CancellationToken;

use super::backend::sdk_error;
use super::task_status::task_id;
use crate::agent::RemoteJobEnv;

/// Stops a task (StopTask with `reason`).
pub(crate) async fn stop_task(
    ecs: &aws_sdk_ecs::Client,
    cluster: &str,
    task_arn: &str,
    reason: &str,
) -> Result<(), String> {
    ecs.stop_task()
        .cluster(cluster)
        .task(task_arn)
        .reason(reason)
        .send()
        .await
        .map(|_| ())
        .map_err(|e| {
            format!(
                "StopTask failed for the ECS task {}: {}",
                task_id(task_arn),
                sdk_error(&e)
            )
        })
}

/// A job's environment in an ECS task. Every call goes to the task's agent; [`JobEnv::stop`]
/// stops the agent and then the task.
pub struct EcsJobEnv {
    remote: RemoteJobEnv,
    ecs: aws_sdk_ecs::Client,
    cluster: String,
    task_arn: String,
    stopped: AtomicBool,
    /// Writable tracer directories shipped through the agent ([`TracerTools::Upload`]): their
    /// directories are made in the task before, and their new files copied back after, every
    /// process the job runs.
    ///
    /// [`TracerTools::Upload`]: crate::TracerTools::Upload
    synced: Vec<Mount>,
    /// Path in the task → (size, modification time) of the copy made here.
    copied: Mutex<HashMap<String, (u64, i64)>>,
}

impl std::fmt::Debug for EcsJobEnv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EcsJobEnv")
            .field("task_arn", &self.task_arn)
            .finish_non_exhaustive()
    }
}

impl EcsJobEnv {
    pub(crate) fn new(
        remote: RemoteJobEnv,
        ecs: aws_sdk_ecs::Client,
        cluster: String,
        task_arn: String,
    ) -> EcsJobEnv {
        EcsJobEnv {
            remote,
            ecs,
            cluster,
            task_arn,
            stopped: AtomicBool::new(false),
            synced: Vec::new(),
            copied: Mutex::new(HashMap::new()),
        }
    }

    /// Ships a tracer's directories through the agent: read-only ones (tool bundles) are
    /// copied into the task at their targets now; writable ones (trace directories) are kept
    /// in step from then on (see [`EcsJobEnv::synced`]).
    pub(crate) async fn ship_mounts(&mut self, mounts: &[Mount]) -> Result<(), BackendError> {
        for m in mounts {
            if m.read_only {
                gha_exec::action_container::copy_dir_through_files(
                    &self.remote,
                    &m.source,
                    &m.target,
                )
                .await
                .map_err(|e| {
                    BackendError::Other(format!(
                        "copying {} into the ECS task {} failed: {e}",
                        m.source.display(),
                        task_id(&self.task_arn)
                    ))
                })?;
            } else {
                self.synced.push(m.clone());
            }
        }
        self.make_synced_dirs().await
    }

    /// Runs a helper command in the task; its output lines.
    async fn helper(&self, argv: Vec<String>, what: &str) -> Result<Vec<String>, BackendError> {
        let sink = VecLogSink::default();
        let status = self
            .remote
            .exec(&Exec::new(argv), &sink, CancellationToken::new())
            .await?;
        let lines: Vec<String> = sink.lines().into_iter().map(|(_, l)| l).collect();
        if !status.success() {
            return Err(BackendError::Other(format!(
                "{what} in the ECS task {} failed ({status}): {}",
                task_id(&self.task_arn),
                lines.join("\n")
            )));
        }
        Ok(lines)
    }

    /// Makes every directory of the synced host directories in the task (a tracer makes a
    /// step's trace directory here just before the step).
    async fn make_synced_dirs(&self) -> Result<(), BackendError> {
        if self.synced.is_empty() {
            return Ok(());
        }
        let mut argv = vec!["mkdir".to_string(), "-p".into(), "--".into()];
        for m in &self.synced {
            argv.push(m.target.clone());
            for rel in directories_under(&m.source) {
                argv.push(format!("{}/{rel}", m.target.trim_end_matches('/')));
            }
        }
        self.helper(argv, "making the trace directories").await?;
        Ok(())
    }

    /// Copies new or changed files of the synced directories back here.
    async fn copy_back(&self) -> Result<(), BackendError> {
        for m in &self.synced {
            let target = m.target.trim_end_matches('/');
            let argv = [
                "find", target, "-type", "f", "-exec", "stat", "-c", "%s %Y %n", "{}", "+",
            ]
            .map(String::from)
            .to_vec();
            for line in self.helper(argv, "listing the traces").await? {
                let mut parts = line.splitn(3, ' ');
                let (Some(size), Some(mtime), Some(path)) =
                    (parts.next(), parts.next(), parts.next())
                else {
                    continue;
                };
                let (Ok(size), Ok(mtime)) = (size.parse::<u64>(), mtime.parse::<i64>()) else {
                    continue;
                };
                let Some(rel) = path.strip_prefix(target).and_then(|r| r.strip_prefix('/')) else {
                    continue;
                };
                let local = m.source.join(rel);
                let seen = lock(&self.copied).get(path).copied();
                if seen == Some((size, mtime)) && local.exists() {
                    continue;
                }
                let bytes = self.remote.read_file(path).await?;
                if let Some(parent) = local.parent() {
                    std::fs::create_dir_all(parent).map_err(|e| {
                        BackendError::io(format!("creating {}", parent.display()), e)
                    })?;
                }
                std::fs::write(&local, bytes)
                    .map_err(|e| BackendError::io(format!("writing {}", local.display()), e))?;
                lock(&self.copied).insert(path.to_string(), (size, mtime));
            }
        }
        Ok(())
    }

    /// The task's ARN.
    pub fn task_arn(&self) -> &str {
        &self.task_arn
    }
}

#[async_trait]
impl JobEnv for EcsJobEnv {
    fn paths(&self) -> &JobPaths {
        self.remote.paths()
    }

    fn runner_info(&self) -> RunnerInfo {
        let mut info = self.remote.runner_info();
        info.name = format!("ecs-{}", task_id(&self.task_arn));
        info
    }

    async fn exec(
        &self,
        exec: &Exec,
        sink: &dyn LogSink,
        cancel: CancellationToken,
    ) -> Result<ExitStatus, BackendError> {
        if self.synced.is_empty() {
            return self.remote.exec(exec, sink, cancel).await;
        }
        self.make_synced_dirs().await?;
        let status = self.remote.exec(exec, sink, cancel).await?;
        // The process's status stands; the tracer reports the trace it then does not find.
        if let Err(e) = self.copy_back().await {
            sink.stderr_line(&format!(
                "gha: copying the traces back from the ECS task failed: {e}"
            ));
        }
        Ok(status)
    }

    async fn write_file(&self, path: &str, contents: &[u8]) -> Result<(), BackendError> {
        self.remote.write_file(path, contents).await
    }

    async fn read_file(&self, path: &str) -> Result<Vec<u8>, BackendError> {
        self.remote.read_file(path).await
    }

    async fn hash_files(&self, patterns: &[String]) -> Result<String, BackendError> {
        self.remote.hash_files(patterns).await
    }

    async fn stop(&self) -> Result<(), BackendError> {
        if self.stopped.swap(true, Ordering::SeqCst) {
            return Ok(());
        }
        let agent = self.remote.stop().await;
        let task = stop_task(
            &self.ecs,
            &self.cluster,
            &self.task_arn,
            "gha: the job ended",
        )
        .await;
        match (agent, task) {
            (_, Err(e)) => Err(BackendError::Other(e)),
            // A lost agent already failed the job; the task is stopped now, which is all that
            // is left to do.
            (Err(_), Ok(())) if self.remote.lost().is_some() => Ok(()),
            (Err(e), Ok(())) => Err(e),
            (Ok(()), Ok(())) => Ok(()),
        }
    }
}

impl Drop for EcsJobEnv {
    fn drop(&mut self) {
        // Dropped without stop() (a panic, a cancelled future): still stop the task.
        if !self.stopped.load(Ordering::SeqCst)
            && let Ok(handle) = tokio::runtime::Handle::try_current()
        {
            {
                let ecs = self.ecs.clone();
                let cluster = self.cluster.clone();
                let arn = self.task_arn.clone();
                handle.spawn(async move {
                    let _ = stop_task(&ecs, &cluster, &arn, "gha: the job was abandoned").await;
                });
            }
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The directories under `root`, relative to it (`a`, `a/b`, ...); none when it is unreadable.
fn directories_under(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack: Vec<PathBuf> = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                let path = e.path();
                if let Ok(rel) = path.strip_prefix(root) {
                    out.push(rel.to_string_lossy().into_owned());
                }
                stack.push(path);
            }
        }
    }
    out.sort();
    out
}
