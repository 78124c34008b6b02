//! The run report (`--report FILE`): the shape DESIGN.md fixes.

use serde::{Deserialize, Serialize};

use crate::conclusion::Conclusion;

/// The outcome of a whole run.
///
/// A job that failed with `continue-on-error: true` keeps `"conclusion": "failure"` (with
/// `"continue_on_error": true`) while the run's `conclusion` is `success`, as on GitHub.
///
/// ```
/// use gha_exec::run::{RunReport, JobReport};
/// use gha_exec::Conclusion;
/// let report = RunReport { conclusion: Conclusion::Success, jobs: vec![] };
/// assert_eq!(serde_json::to_value(&report).unwrap(), serde_json::json!({"conclusion": "success", "jobs": []}));
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunReport {
    /// `success` when no job failed or was cancelled.
    pub conclusion: Conclusion,
    /// Every job instance (matrix legs separately), in the order they finished.
    pub jobs: Vec<JobReport>,
}

/// One job instance.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct JobReport {
    /// The job id.
    pub id: String,
    /// The display name.
    pub name: String,
    /// The matrix leg (`null` without a matrix).
    pub matrix: serde_json::Value,
    /// The job's result, as GitHub shows it for the job: a failed job stays `failure` even
    /// when `continue-on-error` lets the run go on.
    pub conclusion: Conclusion,
    /// `true` when the job failed but `continue-on-error` applied: the run does not fail
    /// because of it, and `needs.<id>.result` is `success` for the jobs that need it.
    #[serde(default)]
    pub continue_on_error: bool,
    /// For a job of a called (reusable) workflow: the caller job's id. Its `name` is then
    /// `caller / callee`, as GitHub shows it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caller: Option<String>,
    /// `jobs.<id>.outputs` (masked; outputs containing secrets are dropped).
    pub outputs: serde_json::Map<String, serde_json::Value>,
    /// The steps, in order (skipped ones included).
    pub steps: Vec<StepReport>,
}

/// One step.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StepReport {
    /// The step id (`id:` or the generated `__run`, `__run_2`, ...).
    pub id: String,
    /// The display name.
    pub name: String,
    /// What happened.
    pub outcome: Conclusion,
    /// After `continue-on-error`.
    pub conclusion: Conclusion,
    /// `steps.<id>.outputs` (masked).
    pub outputs: serde_json::Map<String, serde_json::Value>,
}

impl JobReport {
    /// The result jobs that need this one see (`needs.<id>.result`): `success` for a failure
    /// that continues on error, else the conclusion.
    ///
    /// ```
    /// use gha_exec::run::JobReport;
    /// use gha_exec::Conclusion;
    /// let mut job = JobReport {
    ///     id: "lint".into(), name: "lint".into(), matrix: serde_json::Value::Null,
    ///     conclusion: Conclusion::Failure, continue_on_error: true, caller: None,
    ///     outputs: Default::default(), steps: vec![],
    /// };
    /// assert_eq!(job.result(), Conclusion::Success);
    /// job.continue_on_error = false;
    /// assert_eq!(job.result(), Conclusion::Failure);
    /// ```
    pub fn result(&self) -> Conclusion {
        if self.continue_on_error && self.conclusion == Conclusion::Failure {
            Conclusion::Success
        } else {
            self.conclusion
        }
    }
}

impl RunReport {
    /// The job instances with this id.
    pub fn jobs_with_id<'a>(&'a self, id: &'a str) -> impl Iterator<Item = &'a JobReport> + 'a {
        self.jobs.iter().filter(move |j| j.id == id)
    }
}
