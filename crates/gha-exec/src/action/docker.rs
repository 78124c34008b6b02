//! Docker container actions (`runs.using: docker`, `uses: docker://image`). They run through
//! the `docker` CLI of the job's environment when a Docker engine answers there; otherwise the
//! step fails with a clear error. The workspace and the file-command directory are mounted at
//! the same paths inside the container, so `GITHUB_*` paths need no translation.

use gha_actions::ActionDirectory;
use gha_model::Runs;
use indexmap::IndexMap;

use super::inputs::{self, ResolvedInputs};
use super::process::{self, ProcessSpec};
use super::{ActionCall, JobVars, action_vars, eval, javascript};
use crate::conclusion::Conclusion;
use crate::exec::Exec;
use crate::log_sink::NullLogSink;
use crate::observer::StepRef;

async fn engine_answers(call: &ActionCall<'_>) -> Result<(), String> {
    let Some(env) = call.job_env else {
        return Ok(());
    };
    let probe = Exec::new(["docker", "version", "--format", "{{.Server.Version}}"]);
    match env
        .exec(&probe, &NullLogSink, call.cancel.child_token())
        .await
    {
        Ok(s) if s.success() => Ok(()),
        Ok(s) => Err(format!("`docker version` exited with {:?}", s.code)),
        Err(e) => Err(e.to_string()),
    }
}

#[allow(clippy::too_many_arguments)]
pub(crate) async fn run_image(
    call: &ActionCall<'_>,
    vars: &mut JobVars<'_>,
    image: &str,
    dir: Option<&ActionDirectory>,
    inputs: &ResolvedInputs,
    step_env: IndexMap<String, String>,
    step_ref: &StepRef,
    instance: &str,
) -> Result<(Conclusion, IndexMap<String, String>), String> {
    let name = dir
        .map(|d| d.reference.to_string())
        .unwrap_or_else(|| format!("docker://{image}"));
    javascript::echo(call, step_ref, &format!("Run {name}"), inputs);
    if let Err(e) = engine_answers(call).await {
        return Err(format!(
            "`{name}` is a Docker action, but no Docker engine answers in this job's environment ({e}); start Docker or use --backend docker"
        ));
    }
    let Some(job_env) = call.job_env else {
        return Ok((Conclusion::Success, IndexMap::new()));
    };
    let paths = job_env.paths().clone();
    let ctx = eval::with_env(gha_expr::Object::new(), &step_env);
    let mut entrypoint = None;
    let mut args: Vec<String> = Vec::new();
    let mut action_env = IndexMap::new();
    let tag = match dir {
        None => image.to_string(),
        Some(d) => {
            let Runs::Docker {
                image,
                entrypoint: ep,
                args: a,
                env,
                ..
            } = &d.action.runs
            else {
                unreachable!("docker::run_image with a non-docker action")
            };
            if let Some(ep) = ep {
                entrypoint = Some(eval::string(ep, &ctx, call.hash)?);
            }
            let mut ctx = ctx.clone();
            ctx.insert(
                "inputs",
                gha_expr::Value::Object(inputs::inputs_object(&inputs.values)),
            );
            for t in a {
                args.push(eval::string(t, &ctx, call.hash)?);
            }
            eval::env(env, &ctx, call.hash, &mut action_env)?;
            match image.value.strip_prefix("docker://") {
                Some(img) => img.to_string(),
                None => {
                    let tag = format!(
                        "gha-action-{}",
                        d.dir
                            .display()
                            .to_string()
                            .bytes()
                            .fold(0u64, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b)))
                    );
                    let build = Exec::new([
                        "docker".to_string(),
                        "build".into(),
                        "-q".into(),
                        "-t".into(),
                        tag.clone(),
                        "-f".into(),
                        d.dir.join(&image.value).display().to_string(),
                        d.dir.display().to_string(),
                    ]);
                    match job_env
                        .exec(&build, &NullLogSink, call.cancel.child_token())
                        .await
                    {
                        Ok(s) if s.success() => tag,
                        other => {
                            return Err(format!("Docker build of `{name}` failed: {other:?}"));
                        }
                    }
                }
            }
        }
    };
    if let Some(ep) = step_env
        .get("entrypoint")
        .or(inputs.values.get("entrypoint"))
    {
        entrypoint = Some(ep.clone());
    }
    if let Some(a) = inputs.values.get("args") {
        args = shell_words_split(a);
    }
    let fc_dir = paths.file_commands_dir();
    let mut argv = vec![
        "docker".to_string(),
        "run".into(),
        "--rm".into(),
        "-v".into(),
        format!("{0}:{0}", paths.workspace),
        "-v".into(),
        format!("{0}:{0}", fc_dir),
        "-w".into(),
        paths.workspace.clone(),
    ];
    let mut env_names: Vec<String> = step_env.keys().cloned().collect();
    env_names.extend(action_env.keys().cloned());
    env_names.extend(
        inputs::input_env(&inputs.values)
            .into_iter()
            .map(|(k, _)| k),
    );
    for k in [
        "GITHUB_ENV",
        "GITHUB_OUTPUT",
        "GITHUB_PATH",
        "GITHUB_STATE",
        "GITHUB_STEP_SUMMARY",
        "GITHUB_WORKSPACE",
        "GITHUB_ACTIONS",
        "CI",
        "GITHUB_REPOSITORY",
        "GITHUB_SHA",
        "GITHUB_REF",
        "GITHUB_EVENT_NAME",
        "GITHUB_JOB",
        "GITHUB_RUN_ID",
        "RUNNER_OS",
        "RUNNER_TEMP",
    ] {
        env_names.push(k.to_string());
    }
    for k in env_names {
        argv.push("-e".into());
        argv.push(k);
    }
    if let Some(ep) = entrypoint {
        argv.push("--entrypoint".into());
        argv.push(ep);
    }
    argv.push(tag);
    argv.extend(args);
    let mut env = step_env;
    env.extend(action_env);
    env.extend(inputs::input_env(&inputs.values));
    let spec = ProcessSpec {
        argv,
        env,
        extra: dir.map(action_vars).unwrap_or_default(),
        working_dir: None,
        action_id: instance.to_string(),
    };
    let r = process::run_process(call, vars, step_ref, spec).await?;
    Ok((r.outcome, r.outputs))
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
