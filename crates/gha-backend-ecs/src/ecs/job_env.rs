//! A job running in an ECS task: the agent's [`RemoteJobEnv`] plus the task to stop at the end.

use std::sync::atomic::{AtomicBool, Ordering};

use async_trait::async_trait;
use gha_exec::{BackendError, Exec, ExitStatus, JobEnv, JobPaths, LogSink, RunnerInfo};
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
        }
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
        self.remote.exec(exec, sink, cancel).await
    }

    async fn write_file(&self, path: &str, contents: &[u8]) -> Result<(), BackendError> {
        self.remote.write_file(path, contents).await
    }

    async fn read_file(&self, path: &str) -> Result<Vec<u8>, BackendError> {
        self.remote.read_file(path).await
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
