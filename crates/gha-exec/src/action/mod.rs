//! Running `uses:` steps: JavaScript actions (pre/main/post), composite actions and Docker
//! actions, resolved through [`gha_actions::ActionResolver`].
//!
//! The executor lends an [`ActionCall`] (what the job has) and [`JobVars`] (the job's `env`
//! and `PATH` additions, which actions may change) to [`run_uses_step`]; [`JobActions`] keeps
//! the per-job state: resolved actions, `STATE_*` values and the post steps to run at job end.

mod composite;
mod docker;
pub(crate) mod eval;
mod inputs;
mod javascript;
mod node;
mod process;
mod reusable;
mod settings;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use gha_actions::{
    ActionRef, ActionResolver, LocalResolver, ResolvedAction, Resolver, ResolverConfig,
};
use gha_expr::{HashFiles, Object};
use gha_model::{Runs, Step};
use indexmap::IndexMap;
use tokio_util::sync::CancellationToken;

pub use inputs::input_env_name;
pub use reusable::MAX_WORKFLOW_DEPTH;
pub(crate) use reusable::run_workflow_call;
pub use settings::ActionSettings;

use crate::backend::{JobEnv, RunnerInfo};
use crate::conclusion::Conclusion;
use crate::observer::{JobRef, RunEvent, StepRef};
use crate::run::job::RunShared;

/// GitHub's limit on nested composite actions (the runner's `CompositeActionsMaxDepth`).
pub(crate) const MAX_COMPOSITE_DEPTH: usize = 9;

/// What the executor lends an action run.
#[derive(Clone)]
pub(crate) struct ActionCall<'a> {
    pub(crate) shared: &'a RunShared,
    pub(crate) job_ref: &'a JobRef,
    /// `None` in a dry run.
    pub(crate) job_env: Option<&'a dyn JobEnv>,
    pub(crate) workflow_name: String,
    pub(crate) workflow_path: String,
    pub(crate) event_path: Option<String>,
    pub(crate) runner: RunnerInfo,
    pub(crate) hash: &'a (dyn HashFiles + Sync),
    /// The job's cancellation.
    pub(crate) cancel: CancellationToken,
    /// Where `./` references resolve (the job's workspace as this machine sees it).
    pub(crate) workspace: PathBuf,
    /// Whether processes run on this machine (node is looked up on `PATH`).
    pub(crate) on_host: bool,
}

/// The parts of the job's state an action may change.
pub(crate) struct JobVars<'a> {
    pub(crate) env: &'a mut IndexMap<String, String>,
    pub(crate) path_prepend: &'a mut Vec<String>,
}

/// A step that ran outside the job's `steps:` list (a `Pre` or `Post` step), for the report.
pub(crate) struct ExtraStep {
    pub(crate) step_ref: StepRef,
    pub(crate) outcome: Conclusion,
    pub(crate) duration: Duration,
}

/// A post step waiting for the end of the job.
struct PostStep {
    step_ref: StepRef,
    argv: Vec<String>,
    env: IndexMap<String, String>,
    extra: Vec<(String, String)>,
    action_id: String,
    condition: Option<gha_model::IfCondition>,
    state_key: String,
    ctx: Object,
}

/// Per-job action state.
#[derive(Default)]
pub(crate) struct JobActions {
    resolved: HashMap<ActionRef, ResolvedAction>,
    /// `STATE_*` per action instance.
    state: HashMap<String, IndexMap<String, String>>,
    post: Vec<PostStep>,
    default_resolver: Option<Arc<dyn ActionResolver>>,
}

impl JobActions {
    fn resolver(&mut self, call: &ActionCall<'_>) -> Arc<dyn ActionResolver> {
        if let Some(r) = &call.shared.facts.options.actions.resolver {
            return r.clone();
        }
        self.default_resolver
            .get_or_insert_with(|| Arc::new(Resolver::new(ResolverConfig::new(&call.workspace))))
            .clone()
    }

    /// Resolves a reference once per job (`./` against the job's workspace).
    pub(crate) async fn resolve(
        &mut self,
        call: &ActionCall<'_>,
        reference: &ActionRef,
    ) -> Result<ResolvedAction, String> {
        if let Some(r) = self.resolved.get(reference) {
            return Ok(r.clone());
        }
        let result = match reference {
            ActionRef::Local { .. } => LocalResolver::new(&call.workspace).resolve(reference).await,
            _ => self.resolver(call).resolve(reference).await,
        };
        let r = result.map_err(|e| e.to_string())?;
        if !matches!(reference, ActionRef::Local { .. }) {
            self.resolved.insert(reference.clone(), r.clone());
        }
        Ok(r)
    }

    /// "Set up job": resolves every remote action of `steps` (a failure fails the job, as on
    /// GitHub) and runs the `pre` entry points of JavaScript actions.
    pub(crate) async fn set_up(
        &mut self,
        call: &ActionCall<'_>,
        vars: &mut JobVars<'_>,
        steps: &[(&Step, String, String)],
        ctx: &Object,
    ) -> Result<Vec<ExtraStep>, String> {
        let mut done = Vec::new();
        for (step, id, name) in steps {
            let Some(uses) = &step.uses else { continue };
            let Ok(reference) = ActionRef::parse(&uses.value) else {
                continue; // reported when the step runs
            };
            if !matches!(reference, ActionRef::Repo(_)) || skip_checkout(call, &reference, step) {
                continue;
            }
            let resolved = self
                .resolve(call, &reference)
                .await
                .map_err(|e| format!("Error: step `{name}`: {e}"))?;
            if let ResolvedAction::Directory(d) = &resolved
                && let Runs::Node {
                    pre: Some(pre),
                    pre_if,
                    using,
                    ..
                } = &d.action.runs
            {
                let step_ref = StepRef {
                    index: step.index,
                    id: format!("__pre_{id}"),
                    name: format!("Pre {name}"),
                };
                let started = Instant::now();
                call.shared.emitter.emit(RunEvent::StepStarted {
                    job: call.job_ref.clone(),
                    step: step_ref.clone(),
                });
                let outcome = javascript::run_pre(
                    call,
                    vars,
                    self,
                    d,
                    step,
                    id,
                    &step_ref,
                    ctx,
                    &pre.value,
                    pre_if.as_ref(),
                    &using.value,
                )
                .await
                .unwrap_or_else(|e| {
                    call.shared.emitter.error(call.job_ref, Some(&step_ref), &e);
                    Conclusion::Failure
                });
                done.push(ExtraStep {
                    step_ref,
                    outcome,
                    duration: started.elapsed(),
                });
            }
        }
        Ok(done)
    }

    /// Runs the queued post steps, last registered first. `failed`/`cancelled` are the job's
    /// status for `post-if`.
    pub(crate) async fn run_post(
        &mut self,
        call: &ActionCall<'_>,
        vars: &mut JobVars<'_>,
        failed: bool,
        cancelled: bool,
    ) -> Vec<ExtraStep> {
        let mut done = Vec::new();
        let mut failed = failed;
        while let Some(p) = self.post.pop() {
            let status = eval::Status { failed, cancelled };
            let run_it = match &p.condition {
                None => true, // post-if defaults to always()
                Some(c) => match eval::condition(c, &p.ctx, &status, call.hash) {
                    Ok(b) => b,
                    Err(e) => {
                        call.shared
                            .emitter
                            .error(call.job_ref, Some(&p.step_ref), &e);
                        false
                    }
                },
            };
            call.shared.emitter.emit(RunEvent::StepStarted {
                job: call.job_ref.clone(),
                step: p.step_ref.clone(),
            });
            if !run_it {
                done.push(ExtraStep {
                    step_ref: p.step_ref,
                    outcome: Conclusion::Skipped,
                    duration: Duration::ZERO,
                });
                continue;
            }
            let started = Instant::now();
            let mut env = p.env.clone();
            for (k, v) in self.state.get(&p.state_key).into_iter().flatten() {
                env.insert(format!("STATE_{k}"), v.clone());
            }
            let spec = process::ProcessSpec {
                argv: p.argv.clone(),
                env,
                extra: p.extra.clone(),
                working_dir: None,
                action_id: p.action_id.clone(),
            };
            let outcome = match process::run_process(call, vars, &p.step_ref, spec).await {
                Ok(r) => r.outcome,
                Err(e) => {
                    call.shared
                        .emitter
                        .error(call.job_ref, Some(&p.step_ref), &e);
                    Conclusion::Failure
                }
            };
            if outcome == Conclusion::Failure {
                failed = true;
            }
            done.push(ExtraStep {
                step_ref: p.step_ref,
                outcome,
                duration: started.elapsed(),
            });
        }
        done
    }
}

/// `actions/checkout` of the repository being run (no `repository:` input, or the same one)
/// is satisfied by the workspace unless `--real-checkout`.
pub(crate) fn skip_checkout(call: &ActionCall<'_>, reference: &ActionRef, step: &Step) -> bool {
    let is_checkout = matches!(reference, ActionRef::Repo(r) if r.owner.eq_ignore_ascii_case("actions")
        && r.repo.eq_ignore_ascii_case("checkout") && r.path.is_none());
    let same_repo = step
        .with
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("repository"))
        .is_none_or(|(_, v)| {
            let current = &call.shared.facts.options.git.repository;
            v.raw.eq_ignore_ascii_case(current) || v.raw == "${{ github.repository }}"
        });
    is_checkout && same_repo && !call.shared.facts.options.actions.real_checkout
}

/// Runs one `uses:` step of the job. `ctx` is the job's expression context for this step.
pub(crate) async fn run_uses_step(
    call: &ActionCall<'_>,
    vars: &mut JobVars<'_>,
    actions: &mut JobActions,
    step: &Step,
    step_ref: &StepRef,
    ctx: &Object,
) -> Result<(Conclusion, IndexMap<String, String>), String> {
    let uses = step
        .uses
        .as_ref()
        .map(|u| u.value.as_str())
        .unwrap_or_default();
    let reference = ActionRef::parse(uses).map_err(|e| e.to_string())?;
    if skip_checkout(call, &reference, step) {
        call.shared.emitter.notice(
            call.job_ref,
            Some(step_ref),
            &format!("{uses}: satisfied locally (the workspace is already a copy of the working tree; pass --real-checkout to run it)"),
        );
        return Ok((Conclusion::Success, IndexMap::new()));
    }
    let resolved = actions.resolve(call, &reference).await?;
    // `timeout-minutes`: cancel the step's processes when it runs out.
    let timeout = eval::number(&step.timeout_minutes, ctx, call.hash)
        .map_err(|e| format!("Error evaluating timeout-minutes: {e}"))?;
    let mut step_call = call.clone();
    step_call.cancel = call.cancel.child_token();
    let timed_out = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let timer = timeout.map(|minutes| {
        let token = step_call.cancel.clone();
        let flag = timed_out.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs_f64((minutes * 60.0).max(0.0))).await;
            flag.store(true, std::sync::atomic::Ordering::SeqCst);
            token.cancel();
        })
    });
    let result = run_resolved(
        &step_call,
        vars,
        actions,
        &resolved,
        step,
        step_ref,
        &step_ref.id,
        ctx,
        0,
    )
    .await;
    if let Some(t) = timer {
        t.abort();
    }
    if timed_out.load(std::sync::atomic::Ordering::SeqCst) {
        return Err(format!(
            "The action '{}' has timed out after {} minutes.",
            step_ref.name,
            timeout.map(gha_expr::number_to_string).unwrap_or_default()
        ));
    }
    result
}

/// A step's outcome and outputs, or the error that failed it.
pub(crate) type StepResult = Result<(Conclusion, IndexMap<String, String>), String>;

/// Runs a resolved action for `step` (a job step or a step of a composite action).
#[allow(clippy::too_many_arguments)]
pub(crate) fn run_resolved<'a>(
    call: &'a ActionCall<'a>,
    vars: &'a mut JobVars<'_>,
    actions: &'a mut JobActions,
    resolved: &'a ResolvedAction,
    step: &'a Step,
    step_ref: &'a StepRef,
    instance: &'a str,
    ctx: &'a Object,
    depth: usize,
) -> std::pin::Pin<Box<dyn Future<Output = StepResult> + Send + 'a>> {
    Box::pin(async move {
        let emitter = &call.shared.emitter;
        let mut step_env = vars.env.clone();
        eval::env(&step.env, ctx, call.hash, &mut step_env)
            .map_err(|e| format!("Error evaluating step env: {e}"))?;
        let ctx = eval::with_env(ctx.clone(), &step_env);
        let d = match resolved {
            ResolvedAction::DockerImage { image } => {
                let inputs = inputs::ResolvedInputs {
                    values: step
                        .with
                        .iter()
                        .map(|(k, t)| Ok((k.clone(), eval::string(t, &ctx, call.hash)?)))
                        .collect::<Result<_, String>>()?,
                    warnings: Vec::new(),
                };
                return docker::run_image(
                    call, vars, image, None, &inputs, step_env, step_ref, instance,
                )
                .await;
            }
            ResolvedAction::Directory(d) => d,
        };
        let inputs = inputs::resolve_inputs(&d.action, step, &ctx, call.hash)?;
        for w in &inputs.warnings {
            emitter.warning(call.job_ref, Some(step_ref), w);
        }
        match &d.action.runs {
            Runs::Node { .. } => {
                javascript::run_main(
                    call, vars, actions, d, &inputs, step_env, step_ref, instance, &ctx,
                )
                .await
            }
            Runs::Composite { steps } => {
                if depth >= MAX_COMPOSITE_DEPTH {
                    // The runner's check and message (`CompositeActionsMaxDepth`).
                    return Err(format!(
                        "Composite action depth exceeded max depth {MAX_COMPOSITE_DEPTH} (at `{}`)",
                        d.reference
                    ));
                }
                composite::run(
                    call, vars, actions, d, steps, &inputs, step_env, step_ref, instance, &ctx,
                    depth,
                )
                .await
            }
            Runs::Docker { .. } => {
                docker::run_image(
                    call,
                    vars,
                    "",
                    Some(d),
                    &inputs,
                    step_env,
                    step_ref,
                    instance,
                )
                .await
            }
            Runs::Invalid => Err(format!("`{}` has no valid `runs:`", d.reference)),
        }
    })
}

/// `GITHUB_ACTION_*` variables for an action directory.
pub(crate) fn action_vars(d: &gha_actions::ActionDirectory) -> Vec<(String, String)> {
    let mut v = vec![(
        "GITHUB_ACTION_PATH".to_string(),
        d.dir.display().to_string(),
    )];
    if let ActionRef::Repo(r) = &d.reference {
        v.push(("GITHUB_ACTION_REPOSITORY".into(), r.repository()));
        v.push(("GITHUB_ACTION_REF".into(), r.git_ref.clone()));
    }
    v
}
