//! Composite actions: their steps run in order with the action's own `inputs` and `steps`
//! contexts, `if`, `env`, `working-directory`, `shell`, `continue-on-error`,
//! `GITHUB_ACTION_PATH`, and nested actions; `outputs` are evaluated at the end.

use gha_actions::{ActionDirectory, ActionRef, ResolvedAction};
use gha_expr::{Object, Value};
use gha_model::{Step, StepKind};
use indexmap::IndexMap;

use super::inputs::{self, ResolvedInputs};
use super::process::{self, ProcessSpec};
use super::{ActionCall, JobActions, JobVars, eval, javascript, run_resolved};
use crate::conclusion::Conclusion;
use crate::log_sink::OutputStream;
use crate::observer::{RunEvent, StepRef};
use crate::shell::{Shell, which_on_path};

#[allow(clippy::too_many_arguments)]
pub(crate) async fn run(
    call: &ActionCall<'_>,
    vars: &mut JobVars<'_>,
    actions: &mut JobActions,
    d: &ActionDirectory,
    steps: &[Step],
    inputs: &ResolvedInputs,
    step_env: IndexMap<String, String>,
    step_ref: &StepRef,
    instance: &str,
    ctx: &Object,
    depth: usize,
) -> Result<(Conclusion, IndexMap<String, String>), String> {
    let emitter = &call.shared.emitter;
    javascript::echo(call, step_ref, &format!("Run {}", d.reference), inputs);
    let mut inner_steps = Object::new();
    let mut failed = false;
    let action_path = actions.env_dir(call, d).await?;
    let mut base_ctx = ctx.clone();
    base_ctx.insert(
        "inputs",
        Value::Object(inputs::inputs_object(&inputs.values)),
    );
    if let Some(Value::Object(g)) = base_ctx.get("github").cloned() {
        let mut g = g;
        g.insert("action_path", Value::from(action_path.as_str()));
        base_ctx.insert("github", Value::Object(g));
    }
    let ids = generated_ids(steps);
    // The `pre` of actions nested here runs when this step starts (the runner's embedded pre
    // steps), each with its `pre-if`; a failing one fails the composite step.
    if call.job_env.is_some() {
        let mut pre_env = vars.env.clone();
        for (k, v) in &step_env {
            pre_env.insert(k.clone(), v.clone());
        }
        let pctx = eval::with_env(base_ctx.clone(), &pre_env);
        for (inner, inner_id) in steps.iter().zip(&ids) {
            let Some(Ok(reference @ ActionRef::Repo(_))) =
                inner.uses.as_ref().map(|u| ActionRef::parse(&u.value))
            else {
                continue;
            };
            let ResolvedAction::Directory(nested) = actions.resolve(call, &reference).await? else {
                continue;
            };
            if !super::has_pre(&nested) {
                continue;
            }
            let saved = vars.env.clone();
            *vars.env = pre_env.clone();
            let r = super::run_pre(
                call,
                vars,
                actions,
                &nested,
                inner,
                &format!("{instance}_{inner_id}"),
                step_ref,
                &pctx,
            )
            .await;
            let mut after = saved;
            for (k, v) in vars.env.iter() {
                if pre_env.get(k) != Some(v) {
                    after.insert(k.clone(), v.clone());
                }
            }
            *vars.env = after;
            match r {
                Ok(Conclusion::Failure) => failed = true,
                Ok(_) => {}
                Err(e) => {
                    emitter.error(call.job_ref, Some(step_ref), &e);
                    failed = true;
                }
            }
        }
    }
    for (inner, inner_id) in steps.iter().zip(ids) {
        // Env the step sees: the job's env as it is now, the composite step's env, then its own.
        let mut env = vars.env.clone();
        for (k, v) in &step_env {
            env.insert(k.clone(), v.clone());
        }
        let mut sctx = eval::with_env(base_ctx.clone(), &env);
        sctx.insert("steps", Value::Object(inner_steps.clone()));
        let status = eval::Status {
            failed,
            cancelled: call.cancel.is_cancelled(),
        };
        let run_it = match &inner.if_condition {
            None => !failed && !status.cancelled,
            Some(c) => eval::condition(c, &sctx, &status, call.hash)?,
        };
        let (outcome, outputs) = if !run_it {
            (Conclusion::Skipped, IndexMap::new())
        } else {
            eval::env(&inner.env, &sctx, call.hash, &mut env)
                .map_err(|e| format!("Error evaluating env of a step of `{}`: {e}", d.reference))?;
            let sctx = eval::with_env(sctx.clone(), &env);
            let inner_instance = format!("{instance}_{inner_id}");
            let result = match inner.kind() {
                StepKind::Run(script) => {
                    run_script(
                        call,
                        vars,
                        inner,
                        script,
                        env,
                        &sctx,
                        step_ref,
                        &inner_instance,
                        &action_path,
                    )
                    .await
                }
                StepKind::Uses(u) => {
                    let reference = ActionRef::parse(u).map_err(|e| e.to_string())?;
                    let resolved = actions.resolve(call, &reference).await?;
                    // Nested actions see the composite step's env; only GITHUB_ENV changes
                    // they make survive into the job's env.
                    let saved = vars.env.clone();
                    let merged = env.clone();
                    *vars.env = env;
                    let r = run_resolved(
                        call,
                        vars,
                        actions,
                        &resolved,
                        inner,
                        step_ref,
                        &inner_instance,
                        &sctx,
                        depth + 1,
                    )
                    .await;
                    let mut after = saved;
                    for (k, v) in vars.env.iter() {
                        if merged.get(k) != Some(v) {
                            after.insert(k.clone(), v.clone());
                        }
                    }
                    *vars.env = after;
                    r
                }
                _ => Err(format!(
                    "`{}`: a composite action step must have `run` or `uses`",
                    d.reference
                )),
            };
            match result {
                Ok(r) => r,
                Err(e) => {
                    emitter.error(call.job_ref, Some(step_ref), &e);
                    (Conclusion::Failure, IndexMap::new())
                }
            }
        };
        let continue_on_error =
            eval::bool_flag(&inner.continue_on_error, &sctx, call.hash).unwrap_or(false);
        let conclusion = if outcome == Conclusion::Failure && continue_on_error {
            Conclusion::Success
        } else {
            outcome
        };
        if conclusion == Conclusion::Failure {
            failed = true;
        }
        let mut o = Object::new();
        let mut out_obj = Object::new();
        for (k, v) in &outputs {
            out_obj.insert(k.clone(), Value::from(v.as_str()));
        }
        o.insert("outputs", Value::Object(out_obj));
        o.insert("outcome", Value::from(outcome.as_str()));
        o.insert("conclusion", Value::from(conclusion.as_str()));
        if let Some(id) = &inner.id {
            inner_steps.insert(id.value.clone(), Value::Object(o));
        }
    }
    // Outputs see the final steps context.
    let mut octx = eval::with_env(base_ctx, vars.env);
    octx.insert("steps", Value::Object(inner_steps));
    let mut outputs = IndexMap::new();
    for (name, out) in &d.action.outputs {
        if let Some(v) = &out.value {
            match eval::string(v, &octx, call.hash) {
                Ok(s) => {
                    outputs.insert(name.clone(), s);
                }
                Err(e) => emitter.error(
                    call.job_ref,
                    Some(step_ref),
                    &format!("Error evaluating output '{name}' of `{}`: {e}", d.reference),
                ),
            }
        }
    }
    let outcome = if failed {
        Conclusion::Failure
    } else if call.cancel.is_cancelled() {
        Conclusion::Cancelled
    } else {
        Conclusion::Success
    };
    Ok((outcome, outputs))
}

/// Ids for steps without `id:` (never visible in `steps`, only used to key state).
fn generated_ids(steps: &[Step]) -> Vec<String> {
    steps
        .iter()
        .enumerate()
        .map(|(i, s)| {
            s.id.as_ref()
                .map(|id| id.value.clone())
                .unwrap_or_else(|| format!("__{i}"))
        })
        .collect()
}

#[allow(clippy::too_many_arguments)]
async fn run_script(
    call: &ActionCall<'_>,
    vars: &mut JobVars<'_>,
    step: &Step,
    script: &gha_model::TemplateString,
    env: IndexMap<String, String>,
    ctx: &Object,
    step_ref: &StepRef,
    instance: &str,
    action_path: &str,
) -> Result<(Conclusion, IndexMap<String, String>), String> {
    let emitter = &call.shared.emitter;
    let contents =
        eval::string(script, ctx, call.hash).map_err(|e| format!("Error evaluating run: {e}"))?;
    let shell_raw = match &step.shell {
        Some(s) => Some(
            eval::string(s, ctx, call.hash).map_err(|e| format!("Error evaluating shell: {e}"))?,
        ),
        None => None,
    };
    let working_dir = match &step.working_directory {
        Some(w) => Some(
            eval::string(w, ctx, call.hash)
                .map_err(|e| format!("Error evaluating working-directory: {e}"))?,
        ),
        None => None,
    };
    let path = process::step_path(vars, &env);
    let on_host = call.on_host;
    let shell = Shell::resolve(shell_raw.as_deref(), |p| {
        if on_host {
            which_on_path(p, &path)
        } else {
            None
        }
    })?;
    emitter.emit(RunEvent::GroupStarted {
        job: call.job_ref.clone(),
        step: step_ref.clone(),
        title: emitter.mask(&format!(
            "Run {}",
            contents.trim_start().lines().next().unwrap_or("")
        )),
    });
    for line in contents.trim_end_matches('\n').lines() {
        emitter.log(call.job_ref, Some(step_ref), OutputStream::Stdout, line);
    }
    emitter.log(
        call.job_ref,
        Some(step_ref),
        OutputStream::Stdout,
        &format!("shell: {}", shell.display()),
    );
    emitter.emit(RunEvent::GroupEnded {
        job: call.job_ref.clone(),
        step: step_ref.clone(),
    });
    let Some(job_env) = call.job_env else {
        return Ok((Conclusion::Success, IndexMap::new()));
    };
    let script_path = format!(
        "{}/{}{}",
        job_env.paths().temp,
        instance_file(instance),
        shell.extension
    );
    job_env
        .write_file(&script_path, shell.fix_up_script(&contents).as_bytes())
        .await
        .map_err(|e| format!("Failed to write the step script: {e}"))?;
    let spec = ProcessSpec {
        argv: shell.argv(&script_path),
        container: None,
        env,
        extra: vec![("GITHUB_ACTION_PATH".into(), action_path.to_string())],
        working_dir,
        action_id: instance.to_string(),
    };
    let r = process::run_process(call, vars, step_ref, spec).await?;
    Ok((r.outcome, r.outputs))
}

fn instance_file(instance: &str) -> String {
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let safe: String = instance
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("composite_{safe}_{}_{n}", std::process::id())
}
