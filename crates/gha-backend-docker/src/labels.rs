//! The labels every object we create carries, so that cleanup and `gha prune` find them.

use std::collections::HashMap;

/// Present (value `true`) on every container, network and volume this crate creates.
pub const MANAGED: &str = "io.gha-runner.managed";
/// The run id (`github.run_id`).
pub const RUN_ID: &str = "io.gha-runner.run-id";
/// The backend instance (one `gha` process) that created the object.
pub const INSTANCE: &str = "io.gha-runner.instance";
/// The job's unique name within the run.
pub const JOB: &str = "io.gha-runner.job";
/// `job` for a job container, `service` for a service container.
pub const ROLE: &str = "io.gha-runner.role";

/// The labels for an object of job `job` in run `run_id`, created by backend `instance`.
pub(crate) fn for_job(run_id: &str, instance: &str, job: &str) -> HashMap<String, String> {
    HashMap::from([
        (MANAGED.to_string(), "true".to_string()),
        (RUN_ID.to_string(), run_id.to_string()),
        (INSTANCE.to_string(), instance.to_string()),
        (JOB.to_string(), job.to_string()),
    ])
}

/// Replaces every character Docker does not allow in names by `-`.
pub(crate) fn docker_name(parts: &[&str]) -> String {
    let joined = parts.join("-");
    let mut name: String = joined
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-') {
                c
            } else {
                '-'
            }
        })
        .collect();
    if !name.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        name.insert(0, 'g');
    }
    name.truncate(200);
    name
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_valid_docker_names() {
        assert_eq!(
            docker_name(&["gha", "1", "build (x, y)"]),
            "gha-1-build--x--y-"
        );
        assert_eq!(docker_name(&["_x"]), "g_x");
        assert!(docker_name(&[&"a".repeat(500)]).len() <= 200);
    }
}
