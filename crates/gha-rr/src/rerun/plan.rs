//! Running a failed job again up to and including its failing step, with only that step under
//! the tracer, and judging whether the failure reproduced.

use std::path::{Path, PathBuf};

use gha_exec::run::{Executor, GitInfo, RunCancellation, RunOptions, RunReport, WorkflowFile};
use gha_exec::{Conclusion, StepInfo};
use gha_model::Workflow;
use serde::{Deserialize, Serialize};

use super::analysis::FailureAnalysis;
use super::error::RerunError;
use crate::layout::TraceLayout;
use crate::select::{StepSelector, TraceTargets};

/// Where the repository's files come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RerunSource {
    /// A local checkout (of the run's commit).
    Directory(PathBuf),
    /// GitHub's tarball of the run's commit.
    Download,
}

/// What the rerun showed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "verdict")]
pub enum RerunVerdict {
    /// The same step failed again.
    Reproduced,
    /// The step ran and did not fail.
    NotReproduced {
        /// Its outcome (`success`, `skipped`, ...).
        outcome: Conclusion,
    },
    /// An earlier step failed, so the failing step did not run.
    EarlierStepFailed {
        /// Its 1-based number in the workflow.
        number: usize,
        /// Its name.
        name: String,
    },
    /// The job stopped before its steps (set-up or tracer preflight failed; see the log).
    NotRun,
}

/// The result of [`RerunPlan::execute`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RerunOutcome {
    /// What happened.
    #[serde(flatten)]
    pub verdict: RerunVerdict,
    /// The failing step's trace directory, when a trace was written.
    pub trace: Option<PathBuf>,
    /// The run report of the rerun.
    pub report: RunReport,
}

impl RerunOutcome {
    /// Whether the failure reproduced.
    pub fn reproduced(&self) -> bool {
        self.verdict == RerunVerdict::Reproduced
    }
}

/// The rerun of one failed job: its workflow cut down to that job (without `needs` and job
/// `if:`), its steps up to and including the failing one, and the tracer's target.
///
/// ```
/// use gha_rr::rerun::{FailureAnalysis, FailedStep, RerunPlan, WorkflowJob};
/// let analysis = FailureAnalysis {
///     repository: "o/r".into(), run_id: 1, head_sha: "abc".into(), head_branch: Some("main".into()),
///     event: "push".into(), workflow_path: ".github/workflows/ci.yml".into(), github_job_id: 9,
///     job: WorkflowJob { id: "test".into(), display_name: "test".into(), matrix: None },
///     step: FailedStep { github_number: 3, github_name: "Run make test".into(), index: 1, id: None,
///                        leading_entries: 1, pre_steps: 0 },
///     opt_in: None, opt_in_variables: vec![], other_failed_jobs: vec![],
///     workflow_source: "on: push\njobs:\n  build: {runs-on: x, steps: [{run: make}]}\n  test:\n    needs: build\n    runs-on: x\n    steps: [{run: make}, {run: make test}, {run: make install}]\n".into(),
/// };
/// let plan = RerunPlan::new(&analysis).unwrap();
/// assert_eq!(plan.workflow.jobs.len(), 1);
/// assert!(plan.workflow.jobs[0].needs.is_empty());
/// assert_eq!(plan.workflow.jobs[0].steps.len(), 2);
/// assert_eq!(plan.targets().job.as_deref(), Some("test"));
/// ```
#[derive(Clone, Debug)]
pub struct RerunPlan {
    /// The analysis it came from.
    pub analysis: FailureAnalysis,
    /// The cut-down workflow.
    pub workflow: Workflow,
}

impl RerunPlan {
    /// The plan for `analysis` (whether or not the step opted in: check
    /// [`FailureAnalysis::opted_in`] first).
    pub fn new(analysis: &FailureAnalysis) -> Result<RerunPlan, RerunError> {
        let mut workflow =
            Workflow::from_yaml(&analysis.workflow_source).map_err(|d| RerunError::Workflow {
                path: analysis.workflow_path.clone(),
                sha: analysis.head_sha.clone(),
                detail: d
                    .iter()
                    .map(|d| d.message.clone())
                    .collect::<Vec<_>>()
                    .join("; "),
            })?;
        workflow.jobs.retain(|j| j.id.value == analysis.job.id);
        let Some(job) = workflow.jobs.first_mut() else {
            return Err(RerunError::JobNotInWorkflow {
                job: analysis.job.id.clone(),
                path: analysis.workflow_path.clone(),
                known: String::new(),
            });
        };
        job.needs.clear();
        job.if_condition = None;
        job.steps.truncate(analysis.step.index + 1);
        Ok(RerunPlan {
            analysis: analysis.clone(),
            workflow,
        })
    }

    /// What the tracer must watch: the failing step of that job (leg) only.
    pub fn targets(&self) -> TraceTargets {
        TraceTargets {
            job: Some(self.analysis.job.display_name.clone()),
            steps: vec![StepSelector::Number(self.analysis.step.index + 1)],
        }
    }

    /// Run options for the rerun of the repository at `repo_dir`: the run's commit, branch,
    /// event and id, and only this job (leg).
    pub fn run_options(&self, repo_dir: &Path) -> RunOptions {
        let a = &self.analysis;
        let mut o = RunOptions::new(repo_dir);
        o.event_name = a.event.clone();
        o.git = GitInfo {
            sha: a.head_sha.clone(),
            git_ref: a
                .head_branch
                .as_ref()
                .map(|b| format!("refs/heads/{b}"))
                .unwrap_or_default(),
            repository: a.repository.clone(),
            actor: "gha-rerun".into(),
        };
        o.run_id = a.run_id.to_string();
        o.job_filter = Some(if a.job.matrix.is_some() {
            a.job.display_name.clone()
        } else {
            a.job.id.clone()
        });
        o.max_jobs = 1;
        o
    }

    /// Runs the plan on `executor` (which should carry a tracer for [`RerunPlan::targets`]
    /// writing under `trace_dir`) and judges the result.
    pub async fn execute(
        &self,
        executor: &Executor,
        options: RunOptions,
        trace_dir: &Path,
    ) -> Result<RerunOutcome, RerunError> {
        let report = executor
            .run(
                vec![WorkflowFile {
                    path: self.analysis.workflow_path.clone(),
                    workflow: self.workflow.clone(),
                }],
                options,
                RunCancellation::default(),
            )
            .await
            .map_err(|e| RerunError::Workflow {
                path: self.analysis.workflow_path.clone(),
                sha: self.analysis.head_sha.clone(),
                detail: e.0,
            })?;
        Ok(self.judge(report, trace_dir))
    }

    /// Reads the verdict out of a rerun's report.
    pub fn judge(&self, report: RunReport, trace_dir: &Path) -> RerunOutcome {
        let index = self.analysis.step.index;
        let job = report
            .jobs
            .iter()
            .find(|j| j.id == self.analysis.job.id && j.name == self.analysis.job.display_name)
            .or_else(|| report.jobs.iter().find(|j| j.id == self.analysis.job.id));
        let steps = job.map(|j| j.steps.as_slice()).unwrap_or(&[]);
        let verdict = match steps.get(index) {
            None => RerunVerdict::NotRun,
            Some(s) if s.outcome == Conclusion::Failure => RerunVerdict::Reproduced,
            Some(s) => match steps[..index].iter().position(|e| {
                e.outcome == Conclusion::Failure && e.conclusion == Conclusion::Failure
            }) {
                Some(i) => RerunVerdict::EarlierStepFailed {
                    number: i + 1,
                    name: steps[i].name.clone(),
                },
                None => RerunVerdict::NotReproduced { outcome: s.outcome },
            },
        };
        let trace = steps.get(index).and_then(|s| {
            let info = StepInfo {
                job_id: self.analysis.job.id.clone(),
                job_name: self.analysis.job.display_name.clone(),
                index,
                name: s.name.clone(),
                ..Default::default()
            };
            let dir = TraceLayout::new(trace_dir).step_dir(&info);
            dir.is_dir().then_some(dir)
        });
        RerunOutcome {
            verdict,
            trace,
            report,
        }
    }

    /// Gets the repository's files for the rerun into a directory: `source` itself, or GitHub's
    /// tarball of the run's commit unpacked under `scratch`.
    pub async fn checkout(
        &self,
        api: &super::api::GitHubApi,
        source: &RerunSource,
        scratch: &Path,
    ) -> Result<PathBuf, RerunError> {
        match source {
            RerunSource::Directory(d) => {
                if !d.is_dir() {
                    return Err(RerunError::Source(format!(
                        "{} is not a directory",
                        d.display()
                    )));
                }
                Ok(d.clone())
            }
            RerunSource::Download => {
                let (owner, repo) = self
                    .analysis
                    .repository
                    .split_once('/')
                    .unwrap_or((&self.analysis.repository, ""));
                let dest = scratch.join(format!("{repo}-{}", self.analysis.head_sha));
                std::fs::create_dir_all(&dest).map_err(|e| {
                    RerunError::Source(format!("cannot create {}: {e}", dest.display()))
                })?;
                api.download_source(owner, repo, &self.analysis.head_sha, &dest)
                    .await?;
                Ok(dest)
            }
        }
    }
}
