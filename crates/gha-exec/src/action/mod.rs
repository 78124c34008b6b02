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
    /// The process (a node entry point, a Docker action's `post-entrypoint` container); its
    /// `STATE_*` variables are added when it runs.
    spec: process::ProcessSpec,
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
    /// Action directories already made available in the job environment (host path → path
    /// inside).
    dirs: HashMap<PathBuf, String>,
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

    /// The path inside the job environment of action directory `d` (see
    /// [`JobEnv::provide_action_dir`]), made available once per job. A dry run (no
    /// environment) gets the host path.
    pub(crate) async fn env_dir(
        &mut self,
        call: &ActionCall<'_>,
        d: &gha_actions::ActionDirectory,
    ) -> Result<String, String> {
        let Some(env) = call.job_env else {
            return Ok(d.dir.display().to_string());
        };
        if let Some(p) = self.dirs.get(&d.dir) {
            return Ok(p.clone());
        }
        // A repository action comes with its whole repository (`uses: o/r/path@v` may use
        // files beside `path`), at the runner's `_actions/<owner>/<repo>/<ref>`.
        let (root, layout, below) = match &d.reference {
            ActionRef::Repo(r) => {
                let sub = r.path.as_deref().map(|p| p.trim_matches('/')).unwrap_or("");
                let depth = if sub.is_empty() {
                    0
                } else {
                    sub.split('/').count()
                };
                let root = d.dir.ancestors().nth(depth).filter(|root| {
                    sub.is_empty()
                        || d.dir
                            .strip_prefix(root)
                            .is_ok_and(|rest| rest == std::path::Path::new(sub))
                });
                let layout = format!("{}/{}/{}", r.owner, r.repo, r.git_ref);
                match root {
                    Some(root) => (root.to_path_buf(), layout, sub.to_string()),
                    None => (d.dir.clone(), format!("{layout}/{sub}"), String::new()),
                }
            }
            other => {
                let name: String = other
                    .to_string()
                    .chars()
                    .map(|c| {
                        if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                            c
                        } else {
                            '_'
                        }
                    })
                    .collect();
                (d.dir.clone(), format!("_local/{name}"), String::new())
            }
        };
        let inside = env.provide_action_dir(&root, &layout).await.map_err(|e| {
            format!(
                "Failed to make `{}` available in the job environment: {e}",
                d.reference
            )
        })?;
        let inside = if below.is_empty() {
            inside
        } else {
            format!("{inside}/{below}")
        };
        self.dirs.insert(d.dir.clone(), inside.clone());
        Ok(inside)
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
                && has_pre(d)
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
                let outcome = run_pre(call, vars, self, d, step, id, &step_ref, ctx)
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
            let mut spec = p.spec.clone();
            for (k, v) in self.state.get(&p.state_key).into_iter().flatten() {
                spec.env.insert(format!("STATE_{k}"), v.clone());
            }
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
                    call, vars, actions, image, None, &inputs, step_env, step_ref, instance, &ctx,
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
                    actions,
                    "",
                    Some(d),
                    &inputs,
                    step_env,
                    step_ref,
                    instance,
                    &ctx,
                )
                .await
            }
            Runs::Invalid => Err(format!("`{}` has no valid `runs:`", d.reference)),
        }
    })
}

/// Whether an action has a `pre` (JavaScript) or `pre-entrypoint` (Docker).
pub(crate) fn has_pre(d: &gha_actions::ActionDirectory) -> bool {
    matches!(
        &d.action.runs,
        Runs::Node { pre: Some(_), .. }
            | Runs::Docker {
                pre_entrypoint: Some(_),
                ..
            }
    )
}

/// Runs the `pre` of action `d` used by `step` (instance `instance`, whose state it starts),
/// unless its `pre-if` is false. `ctx` is the context `step` is evaluated in.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn run_pre(
    call: &ActionCall<'_>,
    vars: &mut JobVars<'_>,
    actions: &mut JobActions,
    d: &gha_actions::ActionDirectory,
    step: &Step,
    instance: &str,
    step_ref: &StepRef,
    ctx: &Object,
) -> Result<Conclusion, String> {
    let pre_if = match &d.action.runs {
        Runs::Node { pre_if, .. } | Runs::Docker { pre_if, .. } => pre_if.as_ref(),
        _ => None,
    };
    if let Some(c) = pre_if {
        let status = eval::Status {
            failed: false,
            cancelled: call.cancel.is_cancelled(),
        };
        if !eval::condition(c, ctx, &status, call.hash)? {
            return Ok(Conclusion::Skipped);
        }
    }
    let mut step_env = vars.env.clone();
    eval::env(&step.env, ctx, call.hash, &mut step_env)
        .map_err(|e| format!("Error evaluating step env: {e}"))?;
    let ctx = eval::with_env(ctx.clone(), &step_env);
    let inputs = inputs::resolve_inputs(&d.action, step, &ctx, call.hash)?;
    match &d.action.runs {
        Runs::Node {
            pre: Some(pre),
            using,
            ..
        } => {
            javascript::run_pre(
                call,
                vars,
                actions,
                d,
                &inputs,
                step_env,
                instance,
                step_ref,
                &pre.value,
                &using.value,
            )
            .await
        }
        Runs::Docker {
            pre_entrypoint: Some(_),
            ..
        } => {
            docker::run_pre(
                call, vars, actions, d, &inputs, step_env, step_ref, instance,
            )
            .await
        }
        _ => Ok(Conclusion::Skipped),
    }
}

/// `GITHUB_ACTION_*` variables for an action directory whose path in the job environment is
/// `dir`.
pub(crate) fn action_vars(d: &gha_actions::ActionDirectory, dir: &str) -> Vec<(String, String)> {
    let mut v = vec![("GITHUB_ACTION_PATH".to_string(), dir.to_string())];
    if let ActionRef::Repo(r) = &d.reference {
        v.push(("GITHUB_ACTION_REPOSITORY".into(), r.repository()));
        v.push(("GITHUB_ACTION_REF".into(), r.git_ref.clone()));
    }
    v
}
