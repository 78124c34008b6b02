//! Re-running a failed GitHub run up to its failing step, with that step under a tracer.
//!
//! 1. [`RunRef::parse`] reads `OWNER/REPO RUN_ID` or a run URL.
//! 2. [`GitHubApi`] reads the run (head SHA, workflow path), its jobs with their steps and the
//!    workflow file at the head SHA through GitHub's REST API (octocrab).
//! 3. [`FailureAnalysis::from_parts`] picks the failed job, maps its display name back to the
//!    workflow job and matrix combination, maps GitHub's failing step number (which counts
//!    "Set up job" and actions' pre steps) back to the workflow step, and checks the opt-in
//!    variable in that step's evaluated `env` ([`OptIn`]).
//! 4. [`RerunPlan`] runs the job's steps up to and including that step, only it under the
//!    tracer, and says whether the failure reproduced ([`RerunOutcome`]).

mod analysis;
mod api;
mod error;
mod opt_in;
mod plan;
mod run_ref;
mod step_map;
#[cfg(feature = "test-server")]
pub mod test_server;

pub use analysis::{AnalysisOptions, FailedStep, FailureAnalysis, WorkflowJob};
pub use api::{ApiJob, ApiRun, ApiStep, GITHUB_API_URL, GitHubApi};
pub use error::RerunError;
pub use opt_in::{DEFAULT_OPT_IN_VARIABLES, EnvLevel, OptIn};
pub use plan::{RerunOutcome, RerunPlan, RerunSource, RerunVerdict};
pub use run_ref::RunRef;
pub use step_map::{StepMapping, map_step_number};
