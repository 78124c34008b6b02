//! Running one process of an action (a JavaScript entry point, a composite `run` step, a
//! `docker run`) the way a step runs: fresh file-command files, GitHub's default variables,
//! workflow commands and masking on the output, then the file commands read back.

use indexmap::IndexMap;

use super::{ActionCall, JobVars};
use crate::action_container::ActionContainer;
use crate::commands::{parse_key_value_file, parse_path_file};
use crate::conclusion::Conclusion;
use crate::exec::Exec;
use crate::observer::{RunEvent, StepRef};
use crate::run::contexts::{self, FileCommandPaths, GithubFacts};
use crate::run::step_output::StepOutput;

/// One process to run.
#[derive(Clone)]
pub(crate) struct ProcessSpec {
    /// Program and arguments (unused for a container).
    pub(crate) argv: Vec<String>,
    /// A Docker action's container to run instead of `argv`: its image, entrypoint and
    /// arguments; mounts, working directory and environment are filled in here.
    pub(crate) container: Option<ActionContainer>,
    /// The step's environment (job env + step env + `INPUT_*` + `STATE_*`).
    pub(crate) env: IndexMap<String, String>,
    /// Variables set after GitHub's defaults (`GITHUB_ACTION_PATH`, ...).
    pub(crate) extra: Vec<(String, String)>,
    pub(crate) working_dir: Option<String>,
    /// `GITHUB_ACTION`.
    pub(crate) action_id: String,
}

/// What the process did.
pub(crate) struct ProcessResult {
    pub(crate) outcome: Conclusion,
    pub(crate) outputs: IndexMap<String, String>,
    /// `GITHUB_STATE` / `save-state` values.
    pub(crate) state: IndexMap<String, String>,
}

static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

fn unique() -> String {
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("action_{}_{n}", std::process::id())
}

/// The `PATH` a step sees: `GITHUB_PATH` entries (newest first) before the base `PATH`.
pub(crate) fn step_path(vars: &JobVars<'_>, env: &IndexMap<String, String>) -> String {
    let base = env
        .get("PATH")
        .cloned()
        .or_else(|| std::env::var("PATH").ok())
        .unwrap_or_default();
    let mut path: Vec<String> = vars.path_prepend.iter().rev().cloned().collect();
    if !base.is_empty() {
        path.push(base);
    }
    path.join(":")
}

pub(crate) async fn run_process(
    call: &ActionCall<'_>,
    vars: &mut JobVars<'_>,
    step_ref: &StepRef,
    spec: ProcessSpec,
) -> Result<ProcessResult, String> {
    let emitter = &call.shared.emitter;
    let job_ref = call.job_ref;
    let Some(env) = call.job_env else {
        return Ok(ProcessResult {
            outcome: Conclusion::Success,
            outputs: IndexMap::new(),
            state: IndexMap::new(),
        });
    };
    let paths = env.paths();
    let uid = unique();
    let fc_dir = paths.file_commands_dir();
    let fc = FileCommandPaths {
        env: format!("{fc_dir}/set_env_{uid}"),
        output: format!("{fc_dir}/set_output_{uid}"),
        path: format!("{fc_dir}/add_path_{uid}"),
        state: format!("{fc_dir}/save_state_{uid}"),
        step_summary: format!("{fc_dir}/step_summary_{uid}"),
    };
    for f in [&fc.env, &fc.output, &fc.path, &fc.state, &fc.step_summary] {
        env.write_file(f, b"")
            .await
            .map_err(|e| format!("Failed to create {f}: {e}"))?;
    }
    let facts = GithubFacts {
        workflow_name: &call.workflow_name,
        workflow_path: &call.workflow_path,
        job_id: &job_ref.id,
        event_path: call.event_path.as_deref(),
        workspace: Some(&paths.workspace),
        action: &spec.action_id,
        file_commands: Some(&fc),
    };
    let path = step_path(vars, &spec.env);
    let mut exec = Exec::new(spec.argv);
    for (k, v) in &spec.env {
        exec.env.push((k.clone(), v.clone()));
    }
    exec.env.push(("PATH".into(), path));
    exec.env.extend(contexts::default_env(
        &call.shared.facts,
        &facts,
        paths,
        &call.runner,
    ));
    exec.env.extend(spec.extra);
    exec.working_dir = Some(match spec.working_dir {
        Some(w) if w.starts_with('/') => w,
        Some(w) => format!("{}/{}", paths.workspace, w),
        None => paths.workspace.clone(),
    });
    exec.kill_policy = call.shared.facts.options.kill_policy;
    let allow_unsecure = spec
        .env
        .get("ACTIONS_ALLOW_UNSECURE_COMMANDS")
        .is_some_and(|v| v.eq_ignore_ascii_case("true"));
    let sink = StepOutput::new(
        emitter,
        job_ref,
        step_ref,
        allow_unsecure,
        call.shared.facts.options.debug,
    );
    let parent = if call.cancel.is_cancelled() {
        call.shared.cancellation.force.clone()
    } else {
        call.cancel.clone()
    };
    let status = match spec.container {
        None => env.exec(&exec, &sink, parent.child_token()).await,
        Some(template) => {
            let container = container_request(template, exec, paths);
            env.run_action_container(&container, &sink, parent.child_token())
                .await
        }
    };
    let effects = sink.into_effects();
    let mut outcome = match status {
        Err(e) => {
            emitter.error(job_ref, Some(step_ref), &e.to_string());
            Conclusion::Failure
        }
        Ok(s) if s.cancelled => {
            emitter.error(job_ref, Some(step_ref), "The operation was canceled.");
            Conclusion::Cancelled
        }
        Ok(s) if !s.success() => {
            let code = s.code.unwrap_or(s.signal.map(|sig| 128 + sig).unwrap_or(1));
            emitter.error(
                job_ref,
                Some(step_ref),
                &format!("Process completed with exit code {code}."),
            );
            Conclusion::Failure
        }
        Ok(_) => Conclusion::Success,
    };
    if effects.failed && outcome == Conclusion::Success {
        outcome = Conclusion::Failure;
    }
    let mut outputs: IndexMap<String, String> = effects.outputs.into_iter().collect();
    let mut state: IndexMap<String, String> = effects.state.into_iter().collect();
    for (k, v) in effects.env {
        vars.env.insert(k, v);
    }
    vars.path_prepend.extend(effects.paths);
    for (command, file) in [
        ("env", &fc.env),
        ("output", &fc.output),
        ("state", &fc.state),
    ] {
        let text = match env.read_file(file).await {
            Ok(b) => String::from_utf8_lossy(&b).into_owned(),
            Err(crate::backend::BackendError::NotFound(_)) => String::new(),
            Err(e) => {
                emitter.error(
                    job_ref,
                    Some(step_ref),
                    &format!("Unable to process file command '{command}' successfully."),
                );
                emitter.error(job_ref, Some(step_ref), &e.to_string());
                outcome = Conclusion::Failure;
                continue;
            }
        };
        match parse_key_value_file(&text) {
            Ok(pairs) => {
                for (k, v) in pairs {
                    match command {
                        "env" => {
                            vars.env.insert(k, v);
                        }
                        "output" => {
                            outputs.insert(k, v);
                        }
                        _ => {
                            state.insert(k, v);
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
    if let Ok(b) = env.read_file(&fc.path).await {
        for p in parse_path_file(&String::from_utf8_lossy(&b)) {
            vars.path_prepend.retain(|x| x != &p);
            vars.path_prepend.push(p);
        }
    }
    if let Ok(b) = env.read_file(&fc.step_summary).await
        && !b.is_empty()
    {
        let t = String::from_utf8_lossy(&b);
        let masked: String = t.split_inclusive('\n').map(|l| emitter.mask(l)).collect();
        emitter.emit(RunEvent::StepSummary {
            job: job_ref.clone(),
            step: step_ref.clone(),
            markdown: masked,
        });
    }
    Ok(ProcessResult {
        outcome,
        outputs,
        state,
    })
}

/// A Docker action's container with the step's environment as the runner gives it: later
/// entries win, no `PATH` (the image's own), `HOME` the job's `_github_home`, and every value
/// under a mounted directory translated to the container's path.
fn container_request(
    mut template: ActionContainer,
    exec: Exec,
    paths: &crate::backend::JobPaths,
) -> ActionContainer {
    let mut env: IndexMap<String, String> = IndexMap::new();
    for (k, v) in exec.env {
        env.shift_remove(&k);
        env.insert(k, v);
    }
    env.shift_remove("PATH");
    env.insert("HOME".into(), format!("{}/_github_home", paths.temp));
    template.mounts = ActionContainer::github_mounts(paths);
    template.working_dir = crate::action_container::CONTAINER_WORKSPACE.into();
    template.kill_policy = exec.kill_policy;
    template.env = env.into_iter().collect();
    template.translate_env();
    template
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::action_container::ActionImage;

    #[test]
    fn containers_get_the_runner_environment() {
        let paths = crate::backend::JobPaths::under("/w/_temp", "/w/r/r");
        let template = ActionContainer::new("a", ActionImage::Image("i".into()), &paths);
        let exec = Exec::new(Vec::<String>::new())
            .env("A", "1")
            .env("PATH", "/host/bin")
            .env("GITHUB_WORKSPACE", "/w/r/r")
            .env("A", "2")
            .env("HOME", "/root");
        let c = container_request(template, exec, &paths);
        assert_eq!(
            c.env,
            [
                (
                    "GITHUB_WORKSPACE".to_string(),
                    "/github/workspace".to_string()
                ),
                ("A".into(), "2".into()),
                ("HOME".into(), "/github/home".into()),
            ]
        );
        assert_eq!(c.working_dir, "/github/workspace");
    }
}
