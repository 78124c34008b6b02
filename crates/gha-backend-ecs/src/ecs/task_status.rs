//! Turning what ECS reports about a task into messages a person can act on.

use aws_sdk_ecs::types::{Failure, Task};

/// RunTask's `failures[]` as one message.
///
/// ```
/// use aws_sdk_ecs::types::Failure;
/// let f = Failure::builder().arn("arn:aws:ecs:eu-west-1:1:container-instance/x").reason("RESOURCE:MEMORY").build();
/// let msg = gha_backend_ecs::describe_failures(&[f]);
/// assert!(msg.contains("RESOURCE:MEMORY"), "{msg}");
/// assert!(msg.contains("not enough memory"), "{msg}");
/// ```
pub fn describe_failures(failures: &[Failure]) -> String {
    let parts: Vec<String> = failures
        .iter()
        .map(|f| {
            let reason = f.reason().unwrap_or("unknown reason");
            let mut s = reason.to_string();
            if let Some(hint) = failure_hint(reason) {
                s.push_str(&format!(" ({hint})"));
            }
            if let Some(d) = f.detail() {
                s.push_str(&format!(": {d}"));
            }
            if let Some(a) = f.arn() {
                s.push_str(&format!(" [{a}]"));
            }
            s
        })
        .collect();
    if parts.is_empty() {
        "ECS started no task and gave no reason".into()
    } else {
        parts.join("; ")
    }
}

fn failure_hint(reason: &str) -> Option<&'static str> {
    Some(match reason {
        r if r.starts_with("RESOURCE:MEMORY") => "not enough memory on any container instance",
        r if r.starts_with("RESOURCE:CPU") => "not enough CPU on any container instance",
        r if r.starts_with("RESOURCE:PORTS") => {
            "a needed port is taken on every container instance"
        }
        r if r.starts_with("RESOURCE:ENI") => "no free network interface for an awsvpc task",
        "AGENT" => "the ECS agent on the container instance is disconnected",
        "ATTRIBUTE" => "no container instance has an attribute the task needs",
        "MISSING" => "the resource does not exist",
        "LOCATION" => "the container instance is in another place",
        _ => return None,
    })
}

/// Why a stopped task stopped: `stopCode`, `stoppedReason`, and each container's `reason` and
/// exit code.
///
/// ```
/// use aws_sdk_ecs::types::{Container, Task, TaskStopCode};
/// let task = Task::builder()
///     .last_status("STOPPED")
///     .stop_code(TaskStopCode::TaskFailedToStart)
///     .stopped_reason("Task failed to start")
///     .containers(Container::builder().name("job").reason("CannotPullContainerError: pull access denied").build())
///     .build();
/// let msg = gha_backend_ecs::describe_stopped_task(&task);
/// assert!(msg.contains("TaskFailedToStart"), "{msg}");
/// assert!(msg.contains("CannotPullContainerError"), "{msg}");
/// ```
pub fn describe_stopped_task(task: &Task) -> String {
    let mut parts = Vec::new();
    if let Some(code) = task.stop_code() {
        parts.push(format!("stop code {}", code.as_str()));
    }
    if let Some(r) = task.stopped_reason().filter(|r| !r.is_empty()) {
        parts.push(format!("reason: {r}"));
    }
    for c in task.containers() {
        let name = c.name().unwrap_or("container");
        let mut s = Vec::new();
        if let Some(r) = c.reason().filter(|r| !r.is_empty()) {
            s.push(r.to_string());
            if let Some(hint) = container_hint(r) {
                s.push(format!("({hint})"));
            }
        }
        if let Some(code) = c.exit_code() {
            s.push(format!("exit code {code}"));
        }
        if !s.is_empty() {
            parts.push(format!("container {name}: {}", s.join(" ")));
        }
    }
    if parts.is_empty() {
        "ECS gave no reason".into()
    } else {
        parts.join("; ")
    }
}

fn container_hint(reason: &str) -> Option<&'static str> {
    Some(match reason {
        r if r.starts_with("CannotPullContainerError") => {
            "the image could not be pulled: check its name, the registry credentials and the execution role"
        }
        r if r.starts_with("OutOfMemoryError") => {
            "the job used more memory than the task has (GHA_ECS_MEMORY)"
        }
        r if r.starts_with("CannotStartContainerError") => {
            "the container could not start: is the agent command in the image?"
        }
        r if r.starts_with("ResourceInitializationError") => {
            "the task's resources (secrets, logs, network) could not be set up: check the execution role"
        }
        _ => return None,
    })
}

/// The last part of a task ARN (its id).
///
/// ```
/// assert_eq!(gha_backend_ecs::task_id("arn:aws:ecs:us-east-1:1:task/ci/0123abcd"), "0123abcd");
/// ```
pub fn task_id(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_failures_keep_their_text() {
        let f = Failure::builder()
            .reason("SOMETHING_NEW")
            .detail("d")
            .build();
        assert_eq!(describe_failures(&[f]), "SOMETHING_NEW: d");
        assert_eq!(
            describe_failures(&[]),
            "ECS started no task and gave no reason"
        );
    }

    #[test]
    fn a_task_without_reasons_says_so() {
        assert_eq!(
            describe_stopped_task(&Task::builder().build()),
            "ECS gave no reason"
        );
    }
}
