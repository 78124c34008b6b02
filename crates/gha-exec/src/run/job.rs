//! Running one job instance (one matrix leg): environment set-up, steps in order with their
//! conditions, timeouts, file and workflow commands, then job outputs and tear-down.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use gha_expr::{EvalEnv, Object, StatusFunctions, Value};
use gha_model::{Job, Step, StepKind, TemplateString};
use indexmap::IndexMap;
use tokio_util::sync::CancellationToken;

use super::contexts::{self, FileCommandPaths, GithubFacts, RunFacts};
use super::emitter::Emitter;
use super::report::{JobReport, StepReport};
use super::step_output::StepOutput;
use super::{RunCancellation, WorkflowFile};
use crate::action::eval;
use crate::backend::{
    Backend, ContainerInfo, ContainerSpec, JobEnv, JobPaths, JobSpec, RegistryCredentials,
    RunnerInfo, ServiceSpec,
};
use crate::commands::{parse_key_value_file, parse_path_file};
use crate::conclusion::Conclusion;
use crate::exec::Exec;
use crate::log_sink::OutputStream;
use crate::observer::{JobRef, RunEvent, StepRef};
use crate::shell::{Shell, which_on_path};
use crate::tracer::{StepInfo, StepTracer};

/// GitHub's default job timeout (minutes).
const DEFAULT_JOB_TIMEOUT_MINUTES: f64 = 360.0;
/// GitHub's limit for one step summary.
const STEP_SUMMARY_LIMIT: usize = 1024 * 1024;

/// Everything shared by the jobs of a run.
pub(crate) struct RunShared {
    pub(crate) backend: Arc<dyn Backend>,
    pub(crate) tracers: Vec<Arc<dyn StepTracer>>,
    pub(crate) emitter: Emitter,
    pub(crate) facts: RunFacts,
    pub(crate) workflows: Vec<WorkflowFile>,
    /// `inputs` context per workflow.
    pub(crate) inputs: Vec<Object>,
    pub(crate) cancellation: RunCancellation,
}

/// One job instance to run.
pub(crate) struct JobInstance {
    pub(crate) wf: usize,
    pub(crate) job_index: usize,
    pub(crate) job_ref: JobRef,
    pub(crate) matrix: Option<serde_json::Map<String, serde_json::Value>>,
    pub(crate) strategy: Value,
    pub(crate) needs: Value,
    /// Fires on fail-fast of a sibling and on Ctrl-C.
    pub(crate) cancel: CancellationToken,
}

/// Status functions over the job's state so far.
struct JobStatus {
    failed: bool,
    cancelled: bool,
}

impl StatusFunctions for JobStatus {
    fn success(&self) -> bool {
        !self.failed && !self.cancelled
    }
    fn failure(&self) -> bool {
        self.failed
    }
    fn cancelled(&self) -> bool {
        self.cancelled
    }
}

/// `hashFiles` over the job's workspace (on every backend: see
/// [`JobHashFiles`](crate::hash_files::JobHashFiles)).
type WorkspaceHash<'a> = crate::hash_files::JobHashFiles<'a>;

/// The mutable state of a running job.
struct JobState {
    env: IndexMap<String, String>,
    path_prepend: Vec<String>,
    steps: Object,
    failed: bool,
    cancelled: bool,
    state: IndexMap<String, String>,
    step_reports: Vec<StepReport>,
    /// Names this job's script and file-command files.
    uid: String,
    /// File-command files known to be empty: no reset needed before the next step.
    fc_clean: std::collections::HashSet<String>,
    /// Resolved actions, their `STATE_*` values and queued post steps.
    actions: crate::action::JobActions,
}

/// What expressions of this job can see.
struct Scope<'a> {
    shared: &'a RunShared,
    wf: &'a WorkflowFile,
    inst: &'a JobInstance,
    paths: Option<&'a JobPaths>,
    runner: RunnerInfo,
    container_info: ContainerInfo,
    event_path: Option<String>,
}

impl Scope<'_> {
    fn github(&self, action: &str) -> Value {
        contexts::github_context(
            &self.shared.facts,
            &GithubFacts {
                workflow_name: workflow_name(self.wf),
                workflow_path: &self.wf.path,
                job_id: &self.inst.job_ref.id,
                event_path: self.event_path.as_deref(),
                workspace: self.paths.map(|p| p.workspace.as_str()),
                action,
                file_commands: None,
            },
        )
    }

    fn contexts(
        &self,
        env: &IndexMap<String, String>,
        state: Option<&JobState>,
        action: &str,
    ) -> Object {
        let mut o = Object::new();
        o.insert("github", self.github(action));
        let mut env_obj = Object::new();
        for (k, v) in env {
            env_obj.insert(k.clone(), Value::from(v.as_str()));
        }
        o.insert("env", Value::Object(env_obj));
        o.insert("vars", Value::Object(self.shared.facts.vars.clone()));
        o.insert("secrets", Value::Object(self.shared.facts.secrets.clone()));
        o.insert(
            "inputs",
            Value::Object(self.shared.inputs[self.inst.wf].clone()),
        );
        o.insert("needs", self.inst.needs.clone());
        o.insert("strategy", self.inst.strategy.clone());
        o.insert(
            "matrix",
            self.inst
                .matrix
                .as_ref()
                .map(|m| Value::from(serde_json::Value::Object(m.clone())))
                .unwrap_or(Value::Object(Object::new())),
        );
        let status = match state {
            Some(s) if s.cancelled => "cancelled",
            Some(s) if s.failed => "failure",
            _ => "success",
        };
        o.insert("job", contexts::job_context(status, &self.container_info));
        o.insert(
            "runner",
            contexts::runner_context(&self.runner, self.paths, self.shared.facts.options.debug),
        );
        o.insert(
            "steps",
            Value::Object(state.map(|s| s.steps.clone()).unwrap_or_default()),
        );
        o
    }
}

fn workflow_name(wf: &WorkflowFile) -> &str {
    wf.workflow
        .name
        .as_ref()
        .map(|n| n.value.as_str())
        .unwrap_or(wf.path.as_str())
}

/// Evaluates a template to a string.
fn eval_string(
    t: &TemplateString,
    ctx: &Object,
    status: Option<&JobStatus>,
    hash: &WorkspaceHash,
) -> Result<String, String> {
    let mut env = EvalEnv::new(ctx).with_hash_files(hash);
    if let Some(s) = status {
        env = env.with_status(s);
    }
    t.template()
        .evaluate_to_string(&env)
        .map_err(|e| e.message.clone())
}

fn first_line(s: &str) -> &str {
    let t = s.trim_start_matches([' ', '\t', '\r', '\n']);
    t.split(['\r', '\n']).next().unwrap_or("")
}

/// A duration in the form GitHub's messages use (`1m0s`, `1h0m0s`, `30s`).
fn go_duration(minutes: f64) -> String {
    let total = (minutes * 60.0).round() as u64;
    let (h, m, s) = (total / 3600, (total % 3600) / 60, total % 60);
    if h > 0 {
        format!("{h}h{m}m{s}s")
    } else if m > 0 {
        format!("{m}m{s}s")
    } else {
        format!("{s}s")
    }
}

fn minutes_to_duration(minutes: f64) -> Duration {
    Duration::from_secs_f64((minutes * 60.0).max(0.0))
}

fn runs_on_labels(job: &Job, ctx: &Object, hash: &WorkspaceHash) -> Result<Vec<String>, String> {
    let Some(r) = &job.runs_on else {
        return Ok(Vec::new());
    };
    let mut labels = Vec::new();
    for l in &r.labels {
        match eval::value(l, ctx, hash)? {
            Value::Array(items) => labels.extend(items.iter().map(Value::to_display_string)),
            v => labels.push(v.to_display_string()),
        }
    }
    Ok(labels)
}

fn container_spec(
    c: &gha_model::Container,
    ctx: &Object,
    hash: &WorkspaceHash,
) -> Result<ContainerSpec, String> {
    let image = match &c.image {
        Some(i) => eval_string(i, ctx, None, hash)?,
        None => String::new(),
    };
    let mut spec = ContainerSpec::new(image);
    if let Some(cred) = &c.credentials {
        let username = match &cred.username {
            Some(u) => eval_string(u, ctx, None, hash)?,
            None => String::new(),
        };
        let password = match &cred.password {
            Some(p) => eval_string(p, ctx, None, hash)?,
            None => String::new(),
        };
        spec.credentials = Some(RegistryCredentials { username, password });
    }
    let mut env = IndexMap::new();
    eval::env(&c.env, ctx, hash, &mut env)?;
    spec.env = env.into_iter().collect();
    for p in &c.ports {
        spec.ports.push(eval_string(p, ctx, None, hash)?);
    }
    for v in &c.volumes {
        spec.volumes.push(eval_string(v, ctx, None, hash)?);
    }
    if let Some(o) = &c.options {
        spec.options = Some(eval_string(o, ctx, None, hash)?);
    }
    Ok(spec)
}

/// Runs one job instance to completion and reports it, with the reports of the jobs of the
/// workflow it called (for `jobs.<id>.uses`).
pub(crate) async fn run_job(
    shared: Arc<RunShared>,
    inst: JobInstance,
) -> (JobReport, Vec<JobReport>) {
    let started = Instant::now();
    let emitter = shared.emitter.clone();
    let job_ref = inst.job_ref.clone();
    emitter.emit(RunEvent::JobStarted {
        job: job_ref.clone(),
    });
    let mut called = Vec::new();
    let (conclusion, outputs, steps) = run_job_inner(&shared, &inst, &mut called).await;
    let outputs_json: serde_json::Map<String, serde_json::Value> = outputs
        .into_iter()
        .map(|(k, v)| (k, serde_json::Value::String(v)))
        .collect();
    emitter.emit(RunEvent::JobFinished {
        job: job_ref.clone(),
        conclusion,
        duration: started.elapsed(),
        outputs: outputs_json.clone(),
    });
    let report = JobReport {
        id: job_ref.id,
        name: job_ref.name,
        matrix: job_ref.matrix,
        conclusion,
        continue_on_error: false,
        caller: None,
        outputs: outputs_json,
        steps,
    };
    (report, called)
}

async fn run_job_inner(
    shared: &RunShared,
    inst: &JobInstance,
    called: &mut Vec<JobReport>,
) -> (Conclusion, IndexMap<String, String>, Vec<StepReport>) {
    let wf = &shared.workflows[inst.wf];
    let job = &wf.workflow.jobs[inst.job_index];
    let emitter = &shared.emitter;
    let job_ref = &inst.job_ref;
    let no_hash = WorkspaceHash::none();
    let mut scope = Scope {
        shared,
        wf,
        inst,
        paths: None,
        runner: RunnerInfo::host(),
        container_info: ContainerInfo::default(),
        event_path: None,
    };
    let fail = |msg: &str| {
        emitter.error(job_ref, None, msg);
        (Conclusion::Failure, IndexMap::new(), Vec::new())
    };

    if let Some(call) = &job.call {
        let ctx = scope.contexts(&IndexMap::new(), None, "");
        return match crate::action::run_workflow_call(shared, job_ref, call, ctx).await {
            Ok(done) => {
                *called = done.jobs;
                (done.conclusion, done.outputs, Vec::new())
            }
            Err(msg) => fail(&msg),
        };
    }

    // Workflow env, then --env, then job env: each level sees the levels before it.
    let mut env: IndexMap<String, String> = IndexMap::new();
    if let Err(e) = eval::env(
        &wf.workflow.env,
        &scope.contexts(&env, None, ""),
        &no_hash,
        &mut env,
    ) {
        return fail(&format!("Error evaluating workflow env: {e}"));
    }
    for (k, v) in &shared.facts.options.env {
        env.insert(k.clone(), v.clone());
    }
    if let Err(e) = eval::env(
        &job.env,
        &scope.contexts(&env, None, ""),
        &no_hash,
        &mut env,
    ) {
        return fail(&format!("Error evaluating job env: {e}"));
    }
    let base_ctx = scope.contexts(&env, None, "");
    let timeout_minutes = match eval::number(&job.timeout_minutes, &base_ctx, &no_hash) {
        Ok(t) => t.unwrap_or(DEFAULT_JOB_TIMEOUT_MINUTES),
        Err(e) => return fail(&format!("Error evaluating timeout-minutes: {e}")),
    };

    // Bring up the job environment.
    let mut spec = JobSpec::new(job.id.value.clone(), shared.facts.options.repo_dir.clone());
    spec.name = job_ref.name.clone();
    spec.unique_name = crate::backend::sanitize_name(&format!(
        "{}-{}",
        job.id.value,
        inst.strategy
            .get("job-index")
            .map(Value::to_display_string)
            .unwrap_or_default()
    ));
    spec.run_id = shared.facts.options.run_id.clone();
    spec.repository = shared.facts.options.git.repository.clone();
    spec.bind_workspace = shared.facts.options.bind_workspace;
    match runs_on_labels(job, &base_ctx, &no_hash) {
        Ok(l) => spec.runs_on = l,
        Err(e) => return fail(&format!("Error evaluating runs-on: {e}")),
    }
    if let Some(c) = &job.container {
        match container_spec(c, &base_ctx, &no_hash) {
            Ok(c) => spec.container = Some(c),
            Err(e) => return fail(&format!("Error evaluating container: {e}")),
        }
    }
    for (id, c) in &job.services {
        match container_spec(c, &base_ctx, &no_hash) {
            Ok(c) => spec.services.push(ServiceSpec {
                id: id.clone(),
                container: c,
            }),
            Err(e) => return fail(&format!("Error evaluating services.{id}: {e}")),
        }
    }
    for t in &shared.tracers {
        spec.tracer_requirements.merge(&t.requirements());
    }

    let dry_run = shared.facts.options.dry_run;
    let job_env: Option<Box<dyn JobEnv>> = if dry_run {
        None
    } else {
        // A cancel (Ctrl-C, fail-fast) while the backend pulls images or waits for services
        // drops the start: backends clean up what a dropped start made.
        let started = tokio::select! {
            r = shared.backend.start_job(&spec) => r,
            () = inst.cancel.cancelled() => {
                emitter.error(job_ref, None, "The operation was canceled.");
                return (Conclusion::Cancelled, IndexMap::new(), Vec::new());
            }
        };
        match started {
            Ok(e) => Some(e),
            Err(e) => {
                return fail(&format!(
                    "Failed to set up the job on the {} backend: {e}",
                    shared.backend.name()
                ));
            }
        }
    };
    let paths = job_env.as_ref().map(|e| e.paths().clone());
    if let Some(e) = &job_env {
        scope.runner = e.runner_info();
        scope.container_info = e.container_info();
        let event_path = format!("{}/_github_workflow/event.json", e.paths().temp);
        let payload = serde_json::to_vec_pretty(&shared.facts.options.event).unwrap_or_default();
        if let Err(err) = e.write_file(&event_path, &payload).await {
            let _ = e.stop().await;
            return fail(&format!("Failed to write the event payload: {err}"));
        }
        scope.event_path = Some(event_path);
    }
    scope.paths = paths.as_ref();
    let hash = WorkspaceHash::for_env(job_env.as_deref());
    // Tracers prepare (install tools, preflight) before any step runs.
    if let Some(e) = &job_env {
        for t in &shared.tracers {
            if let Err(err) = t.prepare(e.as_ref()).await {
                let _ = e.stop().await;
                return fail(&format!("Tracer {} failed to prepare: {err}", t.name()));
            }
        }
    }

    // Job timeout.
    let job_cancel = inst.cancel.child_token();
    let timed_out = Arc::new(AtomicBool::new(false));
    let timer = {
        let job_cancel = job_cancel.clone();
        let timed_out = timed_out.clone();
        let d = minutes_to_duration(timeout_minutes);
        tokio::spawn(async move {
            tokio::time::sleep(d).await;
            timed_out.store(true, Ordering::SeqCst);
            job_cancel.cancel();
        })
    };

    let mut state = JobState {
        env,
        path_prepend: Vec::new(),
        steps: Object::new(),
        failed: false,
        cancelled: false,
        state: IndexMap::new(),
        step_reports: Vec::new(),
        uid: unique_suffix(),
        fc_clean: std::collections::HashSet::new(),
        actions: Default::default(),
    };
    let step_ids = job.step_ids();
    // Set up job: resolve the actions, run their `pre` entry points.
    {
        let call = action_call(shared, &scope, job_env.as_deref(), &hash, &job_cancel);
        let ctx = scope.contexts(&state.env, Some(&state), "");
        let list: Vec<(&Step, String, String)> = job
            .steps
            .iter()
            .zip(step_ids.iter())
            .map(|(s, id)| (s, id.clone(), s.display_name()))
            .collect();
        let mut vars = crate::action::JobVars {
            env: &mut state.env,
            path_prepend: &mut state.path_prepend,
        };
        let done = state.actions.set_up(&call, &mut vars, &list, &ctx).await;
        match done {
            Ok(done) => {
                for x in done {
                    if x.outcome == Conclusion::Failure {
                        state.failed = true;
                    }
                    finish_step(
                        emitter,
                        job_ref,
                        &x.step_ref,
                        &mut state,
                        x.outcome,
                        x.outcome,
                        x.duration,
                        IndexMap::new(),
                    );
                }
            }
            Err(msg) => {
                // As on GitHub, a job whose actions cannot be set up runs no step.
                emitter.error(job_ref, None, &msg);
                timer.abort();
                if let Some(e) = &job_env
                    && let Err(err) = e.stop().await
                {
                    emitter.warning(job_ref, None, &format!("Job tear-down failed: {err}"));
                }
                return (Conclusion::Failure, IndexMap::new(), state.step_reports);
            }
        }
    }
    let defaults = job
        .defaults
        .as_ref()
        .and_then(|d| d.run.as_ref())
        .or_else(|| wf.workflow.defaults.as_ref().and_then(|d| d.run.as_ref()));

    for (step, step_id) in job.steps.iter().zip(step_ids) {
        if job_cancel.is_cancelled() {
            state.cancelled = true;
        }
        let ctx = scope.contexts(&state.env, Some(&state), &step_id);
        let name = match &step.name {
            Some(n) => eval_string(n, &ctx, None, &hash).unwrap_or_else(|_| n.raw.clone()),
            None => step.display_name(),
        };
        // Step names may interpolate secrets: they leave the process masked like everything else.
        let step_ref = StepRef {
            index: step.index,
            id: step_id.clone(),
            name: emitter.mask(&name),
        };
        let status = JobStatus {
            failed: state.failed,
            cancelled: state.cancelled,
        };
        // `if:`
        let run_it =
            match &step.if_condition {
                None => status.success(),
                Some(c) => {
                    let env = EvalEnv::new(&ctx)
                        .with_status(&status)
                        .with_hash_files(&hash);
                    match c.condition().evaluate(&env) {
                        Ok(b) => b,
                        Err(e) => {
                            emitter.error(job_ref, Some(&step_ref), &format!(
                            "The step's `if` expression could not be evaluated: {} (in `{}`)",
                            e.message, c.raw
                        ));
                            finish_step(
                                emitter,
                                job_ref,
                                &step_ref,
                                &mut state,
                                Conclusion::Failure,
                                Conclusion::Failure,
                                Duration::ZERO,
                                IndexMap::new(),
                            );
                            continue;
                        }
                    }
                }
            };
        if !run_it {
            finish_step(
                emitter,
                job_ref,
                &step_ref,
                &mut state,
                Conclusion::Skipped,
                Conclusion::Skipped,
                Duration::ZERO,
                IndexMap::new(),
            );
            continue;
        }
        if shared.cancellation.force.is_cancelled() {
            finish_step(
                emitter,
                job_ref,
                &step_ref,
                &mut state,
                Conclusion::Cancelled,
                Conclusion::Cancelled,
                Duration::ZERO,
                IndexMap::new(),
            );
            state.cancelled = true;
            continue;
        }

        emitter.emit(RunEvent::StepStarted {
            job: job_ref.clone(),
            step: step_ref.clone(),
        });
        let step_started = Instant::now();
        let continue_on_error = match eval::bool_flag(&step.continue_on_error, &ctx, &hash) {
            Ok(b) => b,
            Err(e) => {
                emitter.error(
                    job_ref,
                    Some(&step_ref),
                    &format!("Error evaluating continue-on-error: {e}"),
                );
                false
            }
        };
        let result = run_step(
            shared,
            &scope,
            &mut state,
            job_env.as_deref(),
            step,
            &step_ref,
            &ctx,
            defaults,
            &hash,
            &job_cancel,
        )
        .await;
        let (outcome, outputs) = match result {
            Ok(r) => r,
            Err(msg) => {
                emitter.error(job_ref, Some(&step_ref), &msg);
                (Conclusion::Failure, IndexMap::new())
            }
        };
        let conclusion = if outcome == Conclusion::Failure && continue_on_error {
            Conclusion::Success
        } else {
            outcome
        };
        match conclusion {
            Conclusion::Failure => state.failed = true,
            Conclusion::Cancelled => state.cancelled = true,
            _ => {}
        }
        finish_step(
            emitter,
            job_ref,
            &step_ref,
            &mut state,
            outcome,
            conclusion,
            step_started.elapsed(),
            outputs,
        );
    }
    timer.abort();
    let job_timed_out = timed_out.load(Ordering::SeqCst);
    if job_timed_out {
        emitter.error(
            job_ref,
            None,
            &format!(
                "The job has exceeded the maximum execution time of {}",
                go_duration(timeout_minutes)
            ),
        );
        state.cancelled = true;
    }
    if job_cancel.is_cancelled() {
        state.cancelled = true;
    }

    // Post steps of actions, last first (also after a failure or cancellation).
    {
        let call = action_call(shared, &scope, job_env.as_deref(), &hash, &job_cancel);
        let (failed, cancelled) = (state.failed, state.cancelled);
        let mut vars = crate::action::JobVars {
            env: &mut state.env,
            path_prepend: &mut state.path_prepend,
        };
        let done = state
            .actions
            .run_post(&call, &mut vars, failed, cancelled)
            .await;
        for x in done {
            if x.outcome == Conclusion::Failure {
                state.failed = true;
            }
            finish_step(
                emitter,
                job_ref,
                &x.step_ref,
                &mut state,
                x.outcome,
                x.outcome,
                x.duration,
                IndexMap::new(),
            );
        }
    }

    // Job outputs.
    let mut outputs = IndexMap::new();
    let ctx = scope.contexts(&state.env, Some(&state), "");
    for (name, t) in &job.outputs {
        match eval_string(t, &ctx, None, &hash) {
            Ok(v) => {
                if emitter.masker.contains_secret(&v) {
                    emitter.warning(
                        job_ref,
                        None,
                        &format!("Skip output '{name}' since it may contain secret."),
                    );
                } else {
                    outputs.insert(name.clone(), v);
                }
            }
            Err(e) => emitter.error(
                job_ref,
                None,
                &format!("Error evaluating output '{name}': {e}"),
            ),
        }
    }

    if let Some(e) = job_env
        && let Err(err) = e.stop().await
    {
        emitter.warning(job_ref, None, &format!("Job tear-down failed: {err}"));
    }
    let conclusion = if state.cancelled {
        Conclusion::Cancelled
    } else if state.failed {
        Conclusion::Failure
    } else {
        Conclusion::Success
    };
    (conclusion, outputs, state.step_reports)
}

#[allow(clippy::too_many_arguments)]
fn finish_step(
    emitter: &Emitter,
    job_ref: &JobRef,
    step_ref: &StepRef,
    state: &mut JobState,
    outcome: Conclusion,
    conclusion: Conclusion,
    duration: Duration,
    outputs: IndexMap<String, String>,
) {
    let mut out_obj = Object::new();
    let mut out_json = serde_json::Map::new();
    for (k, v) in &outputs {
        out_obj.insert(k.clone(), Value::from(v.as_str()));
        out_json.insert(k.clone(), serde_json::Value::String(emitter.mask(v)));
    }
    let mut step_obj = Object::new();
    step_obj.insert("outputs", Value::Object(out_obj));
    step_obj.insert("outcome", Value::from(outcome.as_str()));
    step_obj.insert("conclusion", Value::from(conclusion.as_str()));
    if !step_ref.id.starts_with("__") {
        state
            .steps
            .insert(step_ref.id.clone(), Value::Object(step_obj));
    }
    emitter.emit(RunEvent::StepFinished {
        job: job_ref.clone(),
        step: step_ref.clone(),
        outcome,
        conclusion,
        duration,
    });
    state.step_reports.push(StepReport {
        id: step_ref.id.clone(),
        name: step_ref.name.clone(),
        outcome,
        conclusion,
        outputs: out_json,
    });
}

/// Runs one step; `Err` is an error message (the step fails).
#[allow(clippy::too_many_arguments)]
async fn run_step(
    shared: &RunShared,
    scope: &Scope<'_>,
    state: &mut JobState,
    job_env: Option<&dyn JobEnv>,
    step: &Step,
    step_ref: &StepRef,
    ctx: &Object,
    defaults: Option<&gha_model::RunDefaults>,
    hash: &WorkspaceHash<'_>,
    job_cancel: &CancellationToken,
) -> Result<(Conclusion, IndexMap<String, String>), String> {
    let emitter = &shared.emitter;
    let job_ref = &scope.inst.job_ref;
    let script = match step.kind() {
        StepKind::Run(r) => r,
        StepKind::Uses(_) => {
            let call = action_call(shared, scope, job_env, hash, job_cancel);
            let mut vars = crate::action::JobVars {
                env: &mut state.env,
                path_prepend: &mut state.path_prepend,
            };
            return crate::action::run_uses_step(
                &call,
                &mut vars,
                &mut state.actions,
                step,
                step_ref,
                ctx,
            )
            .await;
        }
        StepKind::Parallel(_) | StepKind::Wait(_) | StepKind::WaitAll | StepKind::Cancel(_) => {
            return Err(
                "`parallel`, `background`, `wait` and `cancel` steps are not supported yet".into(),
            );
        }
        StepKind::Invalid => return Err("A step must have `run` or `uses`".into()),
    };

    // Step env: job env + GITHUB_ENV so far, then the step's own env (seeing the former).
    let mut step_env = state.env.clone();
    eval::env(&step.env, ctx, hash, &mut step_env)
        .map_err(|e| format!("Error evaluating step env: {e}"))?;
    let ctx = eval::with_env(ctx.clone(), &step_env);
    let contents =
        eval_string(script, &ctx, None, hash).map_err(|e| format!("Error evaluating run: {e}"))?;
    let shell_raw = match step
        .shell
        .as_ref()
        .or(defaults.and_then(|d| d.shell.as_ref()))
    {
        Some(s) => Some(
            eval_string(s, &ctx, None, hash).map_err(|e| format!("Error evaluating shell: {e}"))?,
        ),
        None => None,
    };
    let working_dir = match step
        .working_directory
        .as_ref()
        .or(defaults.and_then(|d| d.working_directory.as_ref()))
    {
        Some(w) => Some(
            eval_string(w, &ctx, None, hash)
                .map_err(|e| format!("Error evaluating working-directory: {e}"))?,
        ),
        None => None,
    };
    let timeout = eval::number(&step.timeout_minutes, &ctx, hash)
        .map_err(|e| format!("Error evaluating timeout-minutes: {e}"))?;

    // PATH for this step: GITHUB_PATH entries (newest first) before the environment's PATH.
    let base_path = step_env
        .get("PATH")
        .cloned()
        .or_else(|| std::env::var("PATH").ok())
        .unwrap_or_default();
    let mut path = state.path_prepend.iter().rev().cloned().collect::<Vec<_>>();
    if !base_path.is_empty() {
        path.push(base_path);
    }
    let path = path.join(":");
    let on_host = scope.paths.is_some_and(|p| {
        p.host_workspace
            .as_ref()
            .is_some_and(|h| h.to_str() == Some(p.workspace.as_str()))
    });
    // On the host, programs are looked up on the step's PATH. Elsewhere they cannot be checked:
    // in a job container the default shell is `sh` (as GitHub runs it there), on a runner-like
    // image (another backend, no `container:`) it is `bash`.
    let in_container = scope.wf.workflow.jobs[scope.inst.job_index]
        .container
        .is_some();
    let shell = Shell::resolve(shell_raw.as_deref(), |p| {
        if on_host {
            which_on_path(p, &path)
        } else if !in_container && p == "bash" {
            Some("bash".to_string())
        } else {
            None
        }
    })?;

    // The log echo, as the runner prints it.
    let echo_group = format!("Run {}", first_line(&contents));
    emitter.emit(RunEvent::GroupStarted {
        job: job_ref.clone(),
        step: step_ref.clone(),
        title: emitter.mask(&echo_group),
    });
    for line in contents
        .replace("\r\n", "\n")
        .trim_end_matches('\n')
        .split('\n')
    {
        emitter.log(job_ref, Some(step_ref), OutputStream::Stdout, line);
    }
    emitter.log(
        job_ref,
        Some(step_ref),
        OutputStream::Stdout,
        &format!("shell: {}", shell.display()),
    );
    if !step_env.is_empty() {
        emitter.log(job_ref, Some(step_ref), OutputStream::Stdout, "env:");
        for (k, v) in &step_env {
            emitter.log(
                job_ref,
                Some(step_ref),
                OutputStream::Stdout,
                &format!("  {k}: {v}"),
            );
        }
    }
    emitter.emit(RunEvent::GroupEnded {
        job: job_ref.clone(),
        step: step_ref.clone(),
    });

    let Some(env) = job_env else {
        // Dry run.
        return Ok((Conclusion::Success, IndexMap::new()));
    };
    let paths = env.paths();

    // Script and file-command files: per-job names, rewritten (truncated) for each step, which
    // on slow file systems is much cheaper than creating new files.
    let uid = &state.uid;
    let script_path = format!("{}/{uid}{}", paths.temp, shell.extension);
    env.write_file(&script_path, shell.fix_up_script(&contents).as_bytes())
        .await
        .map_err(|e| format!("Failed to write the step script: {e}"))?;
    let fc_dir = paths.file_commands_dir();
    let fc = FileCommandPaths {
        env: format!("{fc_dir}/set_env_{uid}"),
        output: format!("{fc_dir}/set_output_{uid}"),
        path: format!("{fc_dir}/add_path_{uid}"),
        state: format!("{fc_dir}/save_state_{uid}"),
        step_summary: format!("{fc_dir}/step_summary_{uid}"),
    };
    // Only files a step wrote to need resetting (truncating is slow on some file systems).
    for f in [&fc.env, &fc.output, &fc.path, &fc.state, &fc.step_summary] {
        if !state.fc_clean.insert(f.clone()) {
            continue;
        }
        env.write_file(f, b"")
            .await
            .map_err(|e| format!("Failed to create {f}: {e}"))?;
    }

    // Process environment: workflow/job/step env, PATH, then the variables GitHub sets (which
    // a workflow cannot override).
    let facts = GithubFacts {
        workflow_name: workflow_name(scope.wf),
        workflow_path: &scope.wf.path,
        job_id: &job_ref.id,
        event_path: scope.event_path.as_deref(),
        workspace: Some(&paths.workspace),
        action: &step_ref.id,
        file_commands: Some(&fc),
    };
    let mut exec = Exec::new(shell.argv(&script_path));
    for (k, v) in &step_env {
        exec.env.push((k.clone(), v.clone()));
    }
    exec.env.push(("PATH".into(), path));
    exec.env.extend(contexts::default_env(
        &shared.facts,
        &facts,
        paths,
        &scope.runner,
    ));
    exec.working_dir = Some(match working_dir {
        Some(w) if w.starts_with('/') => w,
        Some(w) => format!("{}/{}", paths.workspace, w),
        None => paths.workspace.clone(),
    });
    exec.kill_policy = shared.facts.options.kill_policy;
    let allow_unsecure = step_env
        .get("ACTIONS_ALLOW_UNSECURE_COMMANDS")
        .is_some_and(|v| v.eq_ignore_ascii_case("true"));

    // Tracers.
    let info = StepInfo {
        job_id: job_ref.id.clone(),
        job_name: job_ref.name.clone(),
        index: step.index,
        id: step.id.as_ref().map(|i| i.value.clone()),
        name: step_ref.name.clone(),
        run: Some(contents.clone()),
        shell: shell_raw.clone(),
    };
    let tracers: Vec<&Arc<dyn StepTracer>> =
        shared.tracers.iter().filter(|t| t.targets(&info)).collect();
    for t in &tracers {
        exec = t.wrap(&info, exec);
    }

    // Cancellation: a step started after the job was cancelled (an always() step) is only
    // stopped by a forced cancel.
    let parent = if job_cancel.is_cancelled() {
        shared.cancellation.force.clone()
    } else {
        job_cancel.clone()
    };
    let step_cancel = parent.child_token();
    let force_link = {
        let force = shared.cancellation.force.clone();
        let sc = step_cancel.clone();
        tokio::spawn(async move {
            force.cancelled().await;
            sc.cancel();
        })
    };
    let step_timed_out = Arc::new(AtomicBool::new(false));
    let step_timer = timeout.map(|minutes| {
        let sc = step_cancel.clone();
        let flag = step_timed_out.clone();
        tokio::spawn(async move {
            tokio::time::sleep(minutes_to_duration(minutes)).await;
            flag.store(true, Ordering::SeqCst);
            sc.cancel();
        })
    });

    let sink = StepOutput::new(
        emitter,
        job_ref,
        step_ref,
        allow_unsecure,
        shared.facts.options.debug,
    );
    let status = env.exec(&exec, &sink, step_cancel).await;
    let exit_status = status.as_ref().ok().copied();
    force_link.abort();
    if let Some(t) = step_timer {
        t.abort();
    }
    let effects = sink.into_effects();
    let mut outcome = Conclusion::Success;
    match status {
        Err(e) => {
            emitter.error(job_ref, Some(step_ref), &e.to_string());
            outcome = Conclusion::Failure;
        }
        Ok(s) if s.cancelled && step_timed_out.load(Ordering::SeqCst) => {
            emitter.error(
                job_ref,
                Some(step_ref),
                &format!(
                    "The action '{}' has timed out after {} minutes.",
                    step_ref.name,
                    timeout.map(gha_expr::number_to_string).unwrap_or_default()
                ),
            );
            outcome = Conclusion::Failure;
        }
        Ok(s) if s.cancelled => {
            emitter.error(job_ref, Some(step_ref), "The operation was canceled.");
            outcome = Conclusion::Cancelled;
        }
        Ok(s) if !s.success() => {
            let code = s.code.unwrap_or(s.signal.map(|sig| 128 + sig).unwrap_or(1));
            emitter.error(
                job_ref,
                Some(step_ref),
                &format!("Process completed with exit code {code}."),
            );
            outcome = Conclusion::Failure;
        }
        Ok(_) => {}
    }
    if effects.failed && outcome == Conclusion::Success {
        outcome = Conclusion::Failure;
    }
    for t in &tracers {
        let st = exit_status.unwrap_or(crate::exec::ExitStatus {
            code: Some(1),
            ..Default::default()
        });
        match t.collect(&info, &st, env).await {
            Ok(artifacts) => {
                for a in artifacts {
                    emitter.notice(
                        job_ref,
                        Some(step_ref),
                        &format!("{}: {}", a.description, a.path.display()),
                    );
                }
            }
            Err(e) => emitter.warning(
                job_ref,
                Some(step_ref),
                &format!("Tracer {} failed to collect: {e}", t.name()),
            ),
        }
    }

    // File commands.
    let mut outputs: IndexMap<String, String> = effects.outputs.into_iter().collect();
    for (k, v) in effects.env {
        state.env.insert(k, v);
    }
    state.path_prepend.extend(effects.paths);
    for (k, v) in effects.state {
        state.state.insert(k, v);
    }
    state.fc_clean.clear();
    let dirty = std::sync::Mutex::new(Vec::new());
    let read = |p: String| {
        let dirty = &dirty;
        async move {
            match env.read_file(&p).await {
                Ok(b) => {
                    if !b.is_empty() {
                        dirty
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .push(p.clone());
                    }
                    Ok(String::from_utf8_lossy(&b).into_owned())
                }
                Err(crate::backend::BackendError::NotFound(_)) => {
                    dirty
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .push(p.clone());
                    Ok(String::new())
                }
                Err(e) => {
                    dirty
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .push(p.clone());
                    Err(e.to_string())
                }
            }
        }
    };
    for (command, file) in [
        ("env", &fc.env),
        ("output", &fc.output),
        ("state", &fc.state),
    ] {
        let text = match read(file.clone()).await {
            Ok(t) => t,
            Err(e) => {
                emitter.error(
                    job_ref,
                    Some(step_ref),
                    &format!("Unable to process file command '{command}' successfully."),
                );
                emitter.error(job_ref, Some(step_ref), &e);
                outcome = Conclusion::Failure;
                continue;
            }
        };
        match parse_key_value_file(&text) {
            Ok(pairs) => {
                for (k, v) in pairs {
                    match command {
                        "env" => {
                            state.env.insert(k, v);
                        }
                        "output" => {
                            outputs.insert(k, v);
                        }
                        _ => {
                            state.state.insert(k, v);
                        }
                    }
                }
            }
            Err(e) => {
                for line in e.report(command) {
                    emitter.error(job_ref, Some(step_ref), &line);
                }
                if outcome == Conclusion::Success {
                    outcome = Conclusion::Failure;
                }
            }
        }
    }
    match read(fc.path.clone()).await {
        Ok(t) => {
            for p in parse_path_file(&t) {
                state.path_prepend.retain(|x| x != &p);
                state.path_prepend.push(p);
            }
        }
        Err(e) => emitter.error(job_ref, Some(step_ref), &e),
    }
    match read(fc.step_summary.clone()).await {
        Ok(t) if t.len() > STEP_SUMMARY_LIMIT => {
            emitter.error(job_ref, Some(step_ref), &format!(
                "$GITHUB_STEP_SUMMARY upload aborted, supports content up to a size of {}k, got {}k. For more information see: https://docs.github.com/actions/using-workflows/workflow-commands-for-github-actions#adding-a-markdown-summary",
                STEP_SUMMARY_LIMIT / 1024,
                t.len() / 1024
            ));
        }
        Ok(t) if !t.is_empty() => {
            let masked: String = t.split_inclusive('\n').map(|l| emitter.mask(l)).collect();
            emitter.emit(RunEvent::StepSummary {
                job: job_ref.clone(),
                step: step_ref.clone(),
                markdown: masked,
            });
        }
        Ok(_) => {}
        Err(e) => emitter.error(job_ref, Some(step_ref), &e),
    }
    // Files written this step are reset before the next one; the others stay as they are.
    let written = dirty.into_inner().unwrap_or_else(|e| e.into_inner());
    for f in [&fc.env, &fc.output, &fc.path, &fc.state, &fc.step_summary] {
        if !written.contains(f) {
            state.fc_clean.insert(f.clone());
        }
    }
    Ok((outcome, outputs))
}

/// What an action run borrows from the job (see `crate::action`).
fn action_call<'a>(
    shared: &'a RunShared,
    scope: &Scope<'a>,
    job_env: Option<&'a dyn JobEnv>,
    hash: &'a WorkspaceHash,
    job_cancel: &CancellationToken,
) -> crate::action::ActionCall<'a> {
    let host_workspace = scope.paths.and_then(|p| p.host_workspace.clone());
    let on_host = scope.paths.is_some_and(|p| {
        p.host_workspace
            .as_ref()
            .is_some_and(|h| h.to_str() == Some(p.workspace.as_str()))
    });
    let inst: &'a JobInstance = scope.inst;
    crate::action::ActionCall {
        shared,
        job_ref: &inst.job_ref,
        job_env,
        workflow_name: workflow_name(scope.wf).to_string(),
        workflow_path: scope.wf.path.clone(),
        event_path: scope.event_path.clone(),
        runner: scope.runner.clone(),
        hash,
        cancel: job_cancel.clone(),
        workspace: host_workspace.unwrap_or_else(|| shared.facts.options.repo_dir.clone()),
        on_host: on_host || job_env.is_none(),
    }
}

fn unique_suffix() -> String {
    use std::sync::atomic::AtomicU64;
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("{:08x}-{:04x}-{n:x}", nanos, std::process::id() & 0xffff)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_as_github_prints_them() {
        assert_eq!(go_duration(1.0), "1m0s");
        assert_eq!(go_duration(60.0), "1h0m0s");
        assert_eq!(go_duration(0.5), "30s");
        assert_eq!(go_duration(360.0), "6h0m0s");
    }

    #[test]
    fn first_line_skips_leading_blank_lines() {
        assert_eq!(first_line("\n\n  echo a\necho b"), "echo a");
        assert_eq!(first_line(""), "");
    }
}
