//! The run report (`--report FILE`): the shape DESIGN.md fixes.

use serde::{Deserialize, Serialize};

use crate::conclusion::Conclusion;

/// The outcome of a whole run.
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
    /// The job's result.
    pub conclusion: Conclusion,
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

impl RunReport {
    /// The job instances with this id.
    pub fn jobs_with_id<'a>(&'a self, id: &'a str) -> impl Iterator<Item = &'a JobReport> + 'a {
        self.jobs.iter().filter(move |j| j.id == id)
    }
}
