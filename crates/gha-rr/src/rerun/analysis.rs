//! What failed: the failed job of a run, its workflow job and matrix combination, the failing
//! workflow step, and whether that step opted in to being re-run.

use gha_expr::{Object, Value};
use gha_model::Workflow;
use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

use super::api::{ApiJob, ApiRun, GitHubApi};
use super::error::RerunError;
use super::opt_in::{DEFAULT_OPT_IN_VARIABLES, EnvLevel, OptIn, evaluate_env, find_opt_in};
use super::run_ref::RunRef;
use super::step_map::map_step_number;

/// Choices for [`FailureAnalysis`].
///
/// ```
/// let o = gha_rr::rerun::AnalysisOptions::default();
/// assert_eq!(o.opt_in_variables, ["PERNOSCO_ENABLED", "PERNOSCO_ENABLE"]);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AnalysisOptions {
    /// The job to re-run (its display name or numeric id); default: the first failed job.
    pub job: Option<String>,
    /// The variables that opt a step in (`--require-env`); the first one set counts.
    pub opt_in_variables: Vec<String>,
}

impl Default for AnalysisOptions {
    fn default() -> Self {
        AnalysisOptions {
            job: None,
            opt_in_variables: DEFAULT_OPT_IN_VARIABLES
                .iter()
                .map(|s| s.to_string())
                .collect(),
        }
    }
}

/// The workflow job (and matrix combination) behind a GitHub job.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkflowJob {
    /// The job id (its key under `jobs:`).
    pub id: String,
    /// The display name (GitHub's job name).
    pub display_name: String,
    /// The matrix combination, for a matrix leg.
    pub matrix: Option<serde_json::Map<String, serde_json::Value>>,
}

/// The failing step, in GitHub's numbering and in the workflow.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailedStep {
    /// GitHub's step number (counting "Set up job" and pre steps).
    pub github_number: u64,
    /// GitHub's step name.
    pub github_name: String,
    /// The workflow step's 0-based index in `steps:`.
    pub index: usize,
    /// The workflow step's `id:`, if any.
    pub id: Option<String>,
    /// Entries GitHub lists before the workflow's first step.
    pub leading_entries: usize,
    /// Of those, actions' pre steps.
    pub pre_steps: usize,
}

/// Everything known about a failed run before anything is re-run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailureAnalysis {
    /// `owner/repo`.
    pub repository: String,
    /// The run id.
    pub run_id: u64,
    /// The commit.
    pub head_sha: String,
    /// The branch, if any.
    pub head_branch: Option<String>,
    /// The triggering event.
    pub event: String,
    /// The workflow file.
    pub workflow_path: String,
    /// GitHub's job id.
    pub github_job_id: u64,
    /// The workflow job and matrix combination.
    pub job: WorkflowJob,
    /// The failing step.
    pub step: FailedStep,
    /// The opt-in variable as the failing step sees it (`None`: not set at any level).
    pub opt_in: Option<OptIn>,
    /// The variables that were looked for.
    pub opt_in_variables: Vec<String>,
    /// Other failed jobs of the run (display names).
    pub other_failed_jobs: Vec<String>,
    /// The workflow file's text at the run's commit.
    pub workflow_source: String,
}

fn failed(conclusion: &Option<String>) -> bool {
    matches!(conclusion.as_deref(), Some("failure"))
}

impl FailureAnalysis {
    /// Reads the run, its jobs and the workflow through `api`, then analyses them.
    pub async fn fetch(
        api: &GitHubApi,
        run_ref: &RunRef,
        options: &AnalysisOptions,
    ) -> Result<FailureAnalysis, RerunError> {
        let run = api.run(run_ref).await?;
        let jobs = api.jobs(run_ref).await?;
        let path = workflow_path(&run.path);
        let source = api
            .file(&run_ref.owner, &run_ref.repo, &path, &run.head_sha)
            .await?;
        FailureAnalysis::from_parts(run_ref, &run, &jobs, &source, options)
    }

    /// Analyses a run from its API responses and workflow text (no network).
    pub fn from_parts(
        run_ref: &RunRef,
        run: &ApiRun,
        jobs: &[ApiJob],
        workflow_source: &str,
        options: &AnalysisOptions,
    ) -> Result<FailureAnalysis, RerunError> {
        let path = workflow_path(&run.path);
        // The job.
        let wanted = options
            .job
            .clone()
            .or(run_ref.job_id.map(|id| id.to_string()));
        let job = match &wanted {
            Some(w) => jobs
                .iter()
                .find(|j| &j.name == w || j.id.to_string() == *w)
                .ok_or_else(|| RerunError::JobNotFound {
                    run_id: run.id,
                    wanted: w.clone(),
                    available: jobs
                        .iter()
                        .map(|j| j.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                })?,
            None => jobs
                .iter()
                .find(|j| failed(&j.conclusion))
                .ok_or(RerunError::NoFailedJob { run_id: run.id })?,
        };
        let other_failed_jobs = jobs
            .iter()
            .filter(|j| j.id != job.id && failed(&j.conclusion))
            .map(|j| j.name.clone())
            .collect();
        let Some(failing) = job.steps.iter().find(|s| failed(&s.conclusion)) else {
            return Err(RerunError::NoFailedStep {
                job: job.name.clone(),
                detail: format!(
                    "the job's conclusion is {} and none of its {} steps failed",
                    job.conclusion.as_deref().unwrap_or("unknown"),
                    job.steps.len()
                ),
            });
        };

        // The workflow job and matrix leg.
        let workflow =
            Workflow::from_yaml(workflow_source).map_err(|diags| RerunError::Workflow {
                path: path.clone(),
                sha: run.head_sha.clone(),
                detail: diags
                    .iter()
                    .map(|d| d.message.clone())
                    .collect::<Vec<_>>()
                    .join("; "),
            })?;
        let (wf_job, combo) = find_job(&workflow, &job.name, &path)?;
        let mapping = map_step_number(&job.name, &job.steps, failing.number, &wf_job.steps)?;
        let step = &wf_job.steps[mapping.index];

        // The step's env, level by level.
        let contexts = static_contexts(run_ref, run, &wf_job.id.value, combo.as_ref(), step);
        let mut env: IndexMap<String, (String, EnvLevel)> = IndexMap::new();
        let env_error = |detail: String| RerunError::Env {
            step: failing.name.clone(),
            detail,
        };
        evaluate_env(&workflow.env, EnvLevel::Workflow, &contexts, &mut env).map_err(env_error)?;
        evaluate_env(&wf_job.env, EnvLevel::Job, &contexts, &mut env).map_err(env_error)?;
        evaluate_env(&step.env, EnvLevel::Step, &contexts, &mut env).map_err(env_error)?;
        let opt_in = find_opt_in(&env, &options.opt_in_variables);

        Ok(FailureAnalysis {
            repository: run_ref.repository(),
            run_id: run.id,
            head_sha: run.head_sha.clone(),
            head_branch: run.head_branch.clone(),
            event: run.event.clone(),
            workflow_path: path,
            github_job_id: job.id,
            job: WorkflowJob {
                id: wf_job.id.value.clone(),
                display_name: job.name.clone(),
                matrix: combo.map(|c| c.values),
            },
            step: FailedStep {
                github_number: mapping.github_number,
                github_name: mapping.github_name,
                index: mapping.index,
                id: step.id.as_ref().map(|i| i.value.clone()),
                leading_entries: mapping.leading_entries,
                pre_steps: mapping.pre_steps,
            },
            opt_in,
            opt_in_variables: options.opt_in_variables.clone(),
            other_failed_jobs,
            workflow_source: workflow_source.to_string(),
        })
    }

    /// Whether the failing step opted in (the variable is set, and not to empty, `0` or
    /// `false`).
    pub fn opted_in(&self) -> bool {
        self.opt_in.as_ref().is_some_and(OptIn::enabled)
    }

    /// Why the step did not opt in, for the user.
    pub fn not_opted_in_reason(&self) -> String {
        match &self.opt_in {
            Some(o) => format!(
                "not opted in: {} is '{}' (set at {} level) for step {} ('{}')",
                o.variable,
                o.value,
                match o.level {
                    EnvLevel::Workflow => "workflow",
                    EnvLevel::Job => "job",
                    EnvLevel::Step => "step",
                },
                self.step.github_number,
                self.step.github_name
            ),
            None => format!(
                "not opted in: step {} ('{}') of job '{}' does not set {} in its env (workflow, job or step level)",
                self.step.github_number,
                self.step.github_name,
                self.job.display_name,
                self.opt_in_variables.join(" or ")
            ),
        }
    }
}

/// The workflow file of a run's `path` (which may end in `@ref`).
fn workflow_path(path: &str) -> String {
    path.split('@').next().unwrap_or(path).to_string()
}

/// The workflow job whose display name (or a matrix leg's) is `name`.
fn find_job<'w>(
    workflow: &'w Workflow,
    name: &str,
    path: &str,
) -> Result<(&'w gha_model::Job, Option<gha_model::MatrixCombination>), RerunError> {
    let mut known = Vec::new();
    for job in &workflow.jobs {
        match job.strategy.as_ref().and_then(|s| s.matrix.as_ref()) {
            Some(m) => match m.expand() {
                Ok(combos) => {
                    for c in combos {
                        let n = job.display_name(Some(&c));
                        if n == name {
                            return Ok((job, Some(c)));
                        }
                        known.push(n);
                    }
                }
                Err(e) => known.push(format!(
                    "{} (matrix not expandable before the run: {e})",
                    job.display_name(None)
                )),
            },
            None => {
                let n = job.display_name(None);
                if n == name || job.id.value == name {
                    return Ok((job, None));
                }
                known.push(n);
            }
        }
    }
    Err(RerunError::JobNotInWorkflow {
        job: name.into(),
        path: path.into(),
        known: known.join(", "),
    })
}

/// The contexts a step's `env` can use, as far as they are known without running anything.
fn static_contexts(
    run_ref: &RunRef,
    run: &ApiRun,
    job_id: &str,
    combo: Option<&gha_model::MatrixCombination>,
    step: &gha_model::Step,
) -> Object {
    let git_ref = run
        .head_branch
        .as_ref()
        .map(|b| format!("refs/heads/{b}"))
        .unwrap_or_default();
    let github = serde_json::json!({
        "repository": run_ref.repository(),
        "repository_owner": run_ref.owner,
        "sha": run.head_sha,
        "ref": git_ref,
        "ref_name": run.head_branch.clone().unwrap_or_default(),
        "event_name": run.event,
        "run_id": run.id.to_string(),
        "run_number": run.run_number.to_string(),
        "run_attempt": run.run_attempt.unwrap_or(1).to_string(),
        "workflow": run.name.clone().unwrap_or_default(),
        "job": job_id,
        "action": step.id.as_ref().map(|i| i.value.clone()).unwrap_or_else(|| step.generated_id_base()),
        "server_url": "https://github.com",
        "api_url": "https://api.github.com",
        "event": {},
    });
    let mut o = Object::new();
    o.insert("github", Value::from(github));
    o.insert(
        "matrix",
        combo
            .map(|c| c.to_value())
            .unwrap_or(Value::Object(Object::new())),
    );
    o.insert(
        "strategy",
        Value::from(serde_json::json!({"fail-fast": true, "job-index": 0, "job-total": 1, "max-parallel": 1})),
    );
    o.insert(
        "runner",
        Value::from(serde_json::json!({"os": "Linux", "arch": "X64", "name": "GitHub Actions", "environment": "github-hosted"})),
    );
    o.insert("job", Value::from(serde_json::json!({"status": "success"})));
    for empty in ["needs", "vars", "secrets", "inputs", "steps", "env"] {
        o.insert(empty, Value::Object(Object::new()));
    }
    o
}
