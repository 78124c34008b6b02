//! How a job or step ended, in GitHub's words.

use serde::{Deserialize, Serialize};

/// A job's result, a step's outcome or conclusion: `success`, `failure`, `cancelled`, `skipped`.
///
/// A step's *outcome* is what happened; its *conclusion* is the outcome after
/// `continue-on-error` (a failed step with `continue-on-error: true` has outcome `failure`,
/// conclusion `success`).
///
/// ```
/// use gha_exec::Conclusion;
/// assert_eq!(Conclusion::Failure.as_str(), "failure");
/// assert_eq!(serde_json::to_string(&Conclusion::Skipped).unwrap(), "\"skipped\"");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Conclusion {
    /// Ran and succeeded.
    Success,
    /// Ran and failed.
    Failure,
    /// Was cancelled (fail-fast, timeout of the job, Ctrl-C).
    Cancelled,
    /// Did not run (its `if:` was false, or its needs did not succeed).
    Skipped,
}

impl Conclusion {
    /// The lower-case name GitHub uses.
    pub fn as_str(self) -> &'static str {
        match self {
            Conclusion::Success => "success",
            Conclusion::Failure => "failure",
            Conclusion::Cancelled => "cancelled",
            Conclusion::Skipped => "skipped",
        }
    }
}

impl std::fmt::Display for Conclusion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
