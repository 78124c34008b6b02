//! What can go wrong before a rerun starts.

/// Why a failed run cannot be analysed or re-run.
///
/// ```
/// let e = gha_rr::rerun::RerunError::NoFailedJob { run_id: 7 };
/// assert_eq!(e.to_string(), "run 7 has no failed job: nothing to re-run");
/// ```
#[derive(Debug, thiserror::Error)]
pub enum RerunError {
    /// The run reference is not `OWNER/REPO RUN_ID` or a run URL.
    #[error("{0}")]
    BadReference(String),
    /// The GitHub API answered with an error or could not be reached.
    #[error("GitHub API: {0}")]
    Api(String),
    /// The run has no failed job.
    #[error("run {run_id} has no failed job: nothing to re-run")]
    NoFailedJob {
        /// The run.
        run_id: u64,
    },
    /// `--job` names no job of the run.
    #[error("run {run_id} has no job named '{wanted}' (jobs: {available})")]
    JobNotFound {
        /// The run.
        run_id: u64,
        /// What was asked for.
        wanted: String,
        /// The run's job names, comma-separated.
        available: String,
    },
    /// The job failed without a failed step (e.g. it was cancelled, or "Set up job" failed).
    #[error("job '{job}' has no failed step that belongs to the workflow: {detail}")]
    NoFailedStep {
        /// The job's display name.
        job: String,
        /// What GitHub reported.
        detail: String,
    },
    /// The workflow file cannot be loaded.
    #[error("{path} at {sha}: {detail}")]
    Workflow {
        /// The workflow path.
        path: String,
        /// The commit.
        sha: String,
        /// The errors.
        detail: String,
    },
    /// The job's display name matches no job (or matrix leg) of the workflow.
    #[error("job '{job}' is not a job of {path} (known: {known})")]
    JobNotInWorkflow {
        /// The display name from GitHub.
        job: String,
        /// The workflow path.
        path: String,
        /// The display names the workflow gives.
        known: String,
    },
    /// GitHub's step list does not line up with the workflow's steps.
    #[error("cannot map step {number} ('{name}') of job '{job}' to a workflow step: {detail}")]
    StepNotMapped {
        /// The job.
        job: String,
        /// GitHub's step number.
        number: u64,
        /// GitHub's step name.
        name: String,
        /// Why.
        detail: String,
    },
    /// The failing step's env cannot be evaluated.
    #[error("cannot evaluate the env of step '{step}': {detail}")]
    Env {
        /// The step.
        step: String,
        /// The evaluation error.
        detail: String,
    },
    /// Getting the repository's source failed.
    #[error("{0}")]
    Source(String),
}
