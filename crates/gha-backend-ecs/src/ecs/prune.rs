//! `gha prune --backend ecs`: stop tasks that `gha` started and that are still running.

use super::backend::{STARTED_BY_PREFIX, sdk_error, started_by};
use super::job_env::stop_task;

/// What [`prune`] stopped.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PruneReport {
    /// ARNs of the stopped tasks.
    pub stopped: Vec<String>,
}

/// Stops every task in `cluster` whose `startedBy` says `gha` started it (only those of
/// `run_id` when given).
///
/// ```no_run
/// # async fn f(ecs: aws_sdk_ecs::Client) -> Result<(), String> {
/// let report = gha_backend_ecs::prune(&ecs, "ci", None).await?;
/// println!("stopped {} task(s)", report.stopped.len());
/// # Ok(()) }
/// ```
pub async fn prune(
    ecs: &aws_sdk_ecs::Client,
    cluster: &str,
    run_id: Option<&str>,
) -> Result<PruneReport, String> {
    let wanted = run_id.map(started_by);
    let mut arns = Vec::new();
    let mut next: Option<String> = None;
    loop {
        let mut request = ecs
            .list_tasks()
            .cluster(cluster)
            .desired_status(aws_sdk_ecs::types::DesiredStatus::Running);
        if let Some(w) = &wanted {
            request = request.started_by(w);
        }
        let out = request
            .set_next_token(next.take())
            .send()
            .await
            .map_err(|e| format!("ListTasks failed in cluster {cluster}: {}", sdk_error(&e)))?;
        arns.extend(out.task_arns().iter().cloned());
        match out.next_token {
            Some(t) if !t.is_empty() => next = Some(t),
            _ => break,
        }
    }
    let mut report = PruneReport::default();
    for batch in arns.chunks(100) {
        let out = ecs
            .describe_tasks()
            .cluster(cluster)
            .set_tasks(Some(batch.to_vec()))
            .send()
            .await
            .map_err(|e| {
                format!(
                    "DescribeTasks failed in cluster {cluster}: {}",
                    sdk_error(&e)
                )
            })?;
        for task in out.tasks() {
            let ours = task
                .started_by()
                .is_some_and(|s| s.starts_with(STARTED_BY_PREFIX));
            let running = task.last_status() != Some("STOPPED");
            if let (true, true, Some(arn)) = (ours, running, task.task_arn()) {
                stop_task(ecs, cluster, arn, "gha prune").await?;
                report.stopped.push(arn.to_string());
            }
        }
    }
    Ok(report)
}
