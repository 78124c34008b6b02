//! JavaScript actions (`node12` … `node24`): `pre` at job set-up, `main` as the step, `post`
//! queued for the end of the job; `STATE_*` carries `GITHUB_STATE` values between them.

use gha_actions::ActionDirectory;
use gha_expr::Object;
use gha_model::Runs;
use indexmap::IndexMap;

use super::inputs::{self, ResolvedInputs};
use super::process::{self, ProcessSpec};
use super::{ActionCall, JobActions, JobVars, PostStep, action_vars, node};
use crate::conclusion::Conclusion;
use crate::log_sink::OutputStream;
use crate::observer::{RunEvent, StepRef};

fn node_binary(
    call: &ActionCall<'_>,
    vars: &JobVars<'_>,
    env: &IndexMap<String, String>,
    d: &ActionDirectory,
    using: &str,
) -> Result<String, String> {
    node::find_node(
        call.shared.facts.options.actions.node.as_deref(),
        &process::step_path(vars, env),
        call.on_host,
        &d.reference.to_string(),
        using,
    )
}

/// `file` of the action whose directory is `dir` inside the job environment.
fn entry_point(dir: &str, file: &str) -> String {
    format!(
        "{}/{}",
        dir.trim_end_matches('/'),
        file.trim_start_matches("./")
    )
}

/// The log group GitHub prints before an action: `Run owner/repo@ref` and its inputs.
pub(crate) fn echo(
    call: &ActionCall<'_>,
    step_ref: &StepRef,
    title: &str,
    inputs: &ResolvedInputs,
) {
    let emitter = &call.shared.emitter;
    emitter.emit(RunEvent::GroupStarted {
        job: call.job_ref.clone(),
        step: step_ref.clone(),
        title: emitter.mask(title),
    });
    if !inputs.values.is_empty() {
        emitter.log(call.job_ref, Some(step_ref), OutputStream::Stdout, "with:");
        for (k, v) in &inputs.values {
            emitter.log(
                call.job_ref,
                Some(step_ref),
                OutputStream::Stdout,
                &format!("  {k}: {v}"),
            );
        }
    }
    emitter.emit(RunEvent::GroupEnded {
        job: call.job_ref.clone(),
        step: step_ref.clone(),
    });
}

#[allow(clippy::too_many_arguments)]
pub(crate) async fn run_main(
    call: &ActionCall<'_>,
    vars: &mut JobVars<'_>,
    actions: &mut JobActions,
    d: &ActionDirectory,
    inputs: &ResolvedInputs,
    step_env: IndexMap<String, String>,
    step_ref: &StepRef,
    instance: &str,
    ctx: &Object,
) -> Result<(Conclusion, IndexMap<String, String>), String> {
    let Runs::Node {
        using,
        main,
        post,
        post_if,
        ..
    } = &d.action.runs
    else {
        unreachable!("run_main is only called for node actions")
    };
    echo(call, step_ref, &format!("Run {}", d.reference), inputs);
    let node = node_binary(call, vars, &step_env, d, &using.value)?;
    let dir = actions.env_dir(call, d).await?;
    let mut env = step_env.clone();
    env.extend(inputs::input_env(&inputs.values));
    for (k, v) in actions.state.get(instance).into_iter().flatten() {
        env.insert(format!("STATE_{k}"), v.clone());
    }
    let spec = ProcessSpec {
        argv: vec![node.clone(), entry_point(&dir, &main.value)],
        container: None,
        env,
        extra: action_vars(d, &dir),
        working_dir: None,
        action_id: instance.to_string(),
    };
    let result = process::run_process(call, vars, step_ref, spec).await?;
    actions
        .state
        .entry(instance.to_string())
        .or_default()
        .extend(result.state);
    if let Some(post) = post {
        let mut env = step_env;
        env.extend(inputs::input_env(&inputs.values));
        actions.post.push(PostStep {
            step_ref: StepRef {
                index: step_ref.index,
                id: format!("__post_{instance}"),
                name: format!("Post {}", step_ref.name),
            },
            spec: ProcessSpec {
                argv: vec![node, entry_point(&dir, &post.value)],
                container: None,
                env,
                extra: action_vars(d, &dir),
                working_dir: None,
                action_id: instance.to_string(),
            },
            condition: post_if.clone(),
            state_key: instance.to_string(),
            ctx: ctx.clone(),
        });
    }
    Ok((result.outcome, result.outputs))
}

/// Runs `pre` (the file of a JavaScript action) for instance `instance`; its `GITHUB_STATE`
/// values are kept for `main` and `post`.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn run_pre(
    call: &ActionCall<'_>,
    vars: &mut JobVars<'_>,
    actions: &mut JobActions,
    d: &ActionDirectory,
    inputs: &ResolvedInputs,
    step_env: IndexMap<String, String>,
    instance: &str,
    step_ref: &StepRef,
    pre: &str,
    using: &str,
) -> Result<Conclusion, String> {
    echo(call, step_ref, &format!("Pre {}", d.reference), inputs);
    let node = node_binary(call, vars, &step_env, d, using)?;
    let dir = actions.env_dir(call, d).await?;
    let mut env = step_env;
    env.extend(inputs::input_env(&inputs.values));
    let spec = ProcessSpec {
        argv: vec![node, entry_point(&dir, pre)],
        container: None,
        env,
        extra: action_vars(d, &dir),
        working_dir: None,
        action_id: instance.to_string(),
    };
    let result = process::run_process(call, vars, step_ref, spec).await?;
    actions
        .state
        .entry(instance.to_string())
        .or_default()
        .extend(result.state);
    Ok(result.outcome)
}
