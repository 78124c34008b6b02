//! Docker container actions (`runs.using: docker`, `uses: docker://image`), run through
//! [`JobEnv::run_action_container`](crate::JobEnv::run_action_container): the backend builds or
//! finds the image and runs it with GitHub's `/github/...` mounts; `pre-entrypoint` runs at job
//! set-up (or when the composite step using the action starts) and `post-entrypoint` at the
//! end of the job, each in its own container, as the official runner does.

use gha_actions::ActionDirectory;
use gha_expr::Object;
use gha_model::Runs;
use indexmap::IndexMap;

use super::inputs::{self, ResolvedInputs};
use super::process::{self, ProcessSpec};
use super::{ActionCall, JobActions, JobVars, PostStep, action_vars, eval, javascript};
use crate::action_container::{ActionContainer, ActionImage};
use crate::conclusion::Conclusion;
use crate::observer::StepRef;

/// What every stage of one use of a Docker action shares.
struct Plan {
    template: ActionContainer,
    /// `runs.entrypoint` (or the `entrypoint` input), `pre-entrypoint`, `post-entrypoint`.
    main: Option<String>,
    pre: Option<String>,
    post: Option<String>,
    /// The step's environment plus `runs.env` (where the step does not set it) and `INPUT_*`.
    env: IndexMap<String, String>,
    extra: Vec<(String, String)>,
}

fn plan(
    call: &ActionCall<'_>,
    image: &str,
    dir: Option<&ActionDirectory>,
    inputs: &ResolvedInputs,
    step_env: &IndexMap<String, String>,
) -> Result<Plan, String> {
    let name = dir
        .map(|d| d.reference.to_string())
        .unwrap_or_else(|| format!("docker://{image}"));
    let paths = call.job_env.map(|e| e.paths().clone()).unwrap_or_default();
    let input = |key: &str| {
        inputs
            .values
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.clone())
    };
    let mut env = step_env.clone();
    env.extend(inputs::input_env(&inputs.values));
    let Some(d) = dir else {
        // `docker://image`: the image's own entrypoint unless the step gives one; arguments
        // from the `args` input.
        let mut template = ActionContainer::new(&name, ActionImage::Image(image.into()), &paths);
        template.args = input("args")
            .map(|a| shell_words_split(&a))
            .unwrap_or_default();
        return Ok(Plan {
            template,
            main: input("entrypoint"),
            pre: None,
            post: None,
            env,
            extra: Vec::new(),
        });
    };
    let Runs::Docker {
        image,
        entrypoint,
        args,
        env: action_env,
        pre_entrypoint,
        post_entrypoint,
        ..
    } = &d.action.runs
    else {
        unreachable!("docker::plan with a non-docker action")
    };
    let mut ctx = eval::with_env(Object::new(), step_env);
    ctx.insert(
        "inputs",
        gha_expr::Value::Object(inputs::inputs_object(&inputs.values)),
    );
    let text = |t: &Option<gha_model::TemplateString>| -> Result<Option<String>, String> {
        t.as_ref()
            .map(|t| eval::string(t, &ctx, call.hash))
            .transpose()
    };
    let main = match text(entrypoint)? {
        Some(ep) if !ep.is_empty() => Some(ep),
        _ => input("entrypoint"),
    };
    let pre = text(pre_entrypoint)?;
    let post = text(post_entrypoint)?;
    // `runs.args`, each one argument (empty ones too); without them, the `args` input split.
    let args = if args.is_empty() {
        input("args")
            .map(|a| shell_words_split(&a))
            .unwrap_or_default()
    } else {
        args.iter()
            .map(|t| eval::string(t, &ctx, call.hash))
            .collect::<Result<_, _>>()?
    };
    // `runs.env` only where the step does not set the variable (the runner's rule).
    let mut declared = IndexMap::new();
    eval::env(action_env, &ctx, call.hash, &mut declared)?;
    for (k, v) in declared {
        env.entry(k).or_insert(v);
    }
    let image = match image.value.strip_prefix("docker://") {
        Some(img) => ActionImage::Image(img.to_string()),
        None => {
            let file = d.dir.join(&image.value);
            if !file.is_file() {
                return Err(format!(
                    "`{name}`: the Dockerfile `{}` does not exist",
                    image.value
                ));
            }
            let context = file.parent().unwrap_or(&d.dir).to_path_buf();
            let dockerfile = file
                .file_name()
                .map(|f| f.to_string_lossy().into_owned())
                .unwrap_or_else(|| "Dockerfile".into());
            ActionImage::Dockerfile {
                context,
                dockerfile,
            }
        }
    };
    let mut template = ActionContainer::new(&name, image, &paths);
    template.args = args;
    Ok(Plan {
        template,
        main,
        pre,
        post,
        env,
        extra: action_vars(d, &d.dir.display().to_string()),
    })
}

fn spec(plan: &Plan, entrypoint: Option<String>, instance: &str) -> ProcessSpec {
    let mut template = plan.template.clone();
    template.entrypoint = entrypoint;
    ProcessSpec {
        argv: Vec::new(),
        container: Some(template),
        env: plan.env.clone(),
        extra: plan.extra.clone(),
        working_dir: None,
        action_id: instance.to_string(),
    }
}

/// Runs a Docker action (`dir`) or a `docker://image` step as the step's main stage and queues
/// its `post-entrypoint`.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn run_image(
    call: &ActionCall<'_>,
    vars: &mut JobVars<'_>,
    actions: &mut JobActions,
    image: &str,
    dir: Option<&ActionDirectory>,
    inputs: &ResolvedInputs,
    step_env: IndexMap<String, String>,
    step_ref: &StepRef,
    instance: &str,
    ctx: &Object,
) -> Result<(Conclusion, IndexMap<String, String>), String> {
    let plan = plan(call, image, dir, inputs, &step_env)?;
    javascript::echo(
        call,
        step_ref,
        &format!("Run {}", plan.template.name),
        inputs,
    );
    if call.job_env.is_none() {
        return Ok((Conclusion::Success, IndexMap::new()));
    }
    let mut main = spec(&plan, plan.main.clone(), instance);
    for (k, v) in actions.state.get(instance).into_iter().flatten() {
        main.env.insert(format!("STATE_{k}"), v.clone());
    }
    let r = process::run_process(call, vars, step_ref, main).await?;
    actions
        .state
        .entry(instance.to_string())
        .or_default()
        .extend(r.state);
    if let (Some(post), Some(d)) = (&plan.post, dir) {
        let post_if = match &d.action.runs {
            Runs::Docker { post_if, .. } => post_if.clone(),
            _ => None,
        };
        actions.post.push(PostStep {
            step_ref: StepRef {
                index: step_ref.index,
                id: format!("__post_{instance}"),
                name: format!("Post {}", step_ref.name),
            },
            spec: spec(&plan, Some(post.clone()), instance),
            condition: post_if,
            state_key: instance.to_string(),
            ctx: ctx.clone(),
        });
    }
    Ok((r.outcome, r.outputs))
}

/// Runs the `pre-entrypoint` of Docker action `d` for instance `instance`.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn run_pre(
    call: &ActionCall<'_>,
    vars: &mut JobVars<'_>,
    actions: &mut JobActions,
    d: &ActionDirectory,
    inputs: &ResolvedInputs,
    step_env: IndexMap<String, String>,
    step_ref: &StepRef,
    instance: &str,
) -> Result<Conclusion, String> {
    let plan = plan(call, "", Some(d), inputs, &step_env)?;
    javascript::echo(call, step_ref, &format!("Pre {}", d.reference), inputs);
    let r = process::run_process(
        call,
        vars,
        step_ref,
        spec(&plan, plan.pre.clone(), instance),
    )
    .await?;
    actions
        .state
        .entry(instance.to_string())
        .or_default()
        .extend(r.state);
    Ok(r.outcome)
}

/// Splits `args` the way the runner does for Docker actions (whitespace, double quotes group).
fn shell_words_split(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut any = false;
    for c in s.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                any = true;
            }
            c if c.is_whitespace() && !quoted => {
                if any {
                    out.push(std::mem::take(&mut cur));
                    any = false;
                }
            }
            c => {
                cur.push(c);
                any = true;
            }
        }
    }
    if any {
        out.push(cur);
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn splits_args() {
        assert_eq!(
            super::shell_words_split(r#"a "b c"  d"#),
            vec!["a", "b c", "d"]
        );
    }
}
