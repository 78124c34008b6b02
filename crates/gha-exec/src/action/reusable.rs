//! Reusable workflows (`jobs.<id>.uses`): the called workflow runs as a nested run on the same
//! backend, with typed inputs (`with:` checked against `on.workflow_call.inputs`, defaults
//! applied), `secrets:` (a map or `inherit`), its jobs shown as `caller / callee`, and the
//! caller job's outputs taken from `on.workflow_call.outputs`.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use gha_actions::{ActionResolver, LocalResolver, Resolver, ResolverConfig, WorkflowRef};
use gha_expr::{Object, Value};
use gha_model::{CallSecrets, MaybeExpr, WorkflowCall};
use indexmap::IndexMap;

use super::eval;
use crate::conclusion::Conclusion;
use crate::observer::{JobRef, RunEvent, RunObserver};
use crate::run::job::RunShared;
use crate::run::{Executor, JobReport, WorkflowFile};

/// How deep reusable workflows may call each other (the top-level caller counts as one level),
/// as GitHub documents it.
pub const MAX_WORKFLOW_DEPTH: usize = 10;

/// Shows the called workflow's jobs as `caller / callee` and drops the nested run's own
/// start and finish events.
struct CallerPrefix {
    inner: Arc<dyn RunObserver>,
    caller: String,
}

impl RunObserver for CallerPrefix {
    fn on_event(&self, event: &RunEvent) {
        let mut e = event.clone();
        match &mut e {
            RunEvent::RunStarted { .. } | RunEvent::RunFinished { .. } => return,
            RunEvent::JobStarted { job }
            | RunEvent::JobFinished { job, .. }
            | RunEvent::StepStarted { job, .. }
            | RunEvent::StepFinished { job, .. }
            | RunEvent::Log { job, .. }
            | RunEvent::GroupStarted { job, .. }
            | RunEvent::GroupEnded { job, .. }
            | RunEvent::Debug { job, .. }
            | RunEvent::Annotation { job, .. }
            | RunEvent::StepSummary { job, .. } => {
                job.name = format!("{} / {}", self.caller, job.name);
            }
        }
        self.inner.on_event(&e);
    }
}

/// What a call did.
pub(crate) struct CallOutcome {
    /// The caller job's conclusion (the called run's).
    pub(crate) conclusion: Conclusion,
    /// The caller job's outputs (`on.workflow_call.outputs`).
    pub(crate) outputs: IndexMap<String, String>,
    /// The called workflow's jobs, named `caller / callee`, with their steps.
    pub(crate) jobs: Vec<JobReport>,
}

/// The result of a call.
pub(crate) type CallResult = Result<CallOutcome, String>;

/// Runs the workflow `call` names for the caller job `caller`; `ctx` is the caller's context
/// for `with:` and `secrets:` (github, needs, strategy, matrix, inputs, vars, secrets).
pub(crate) fn run_workflow_call<'a>(
    shared: &'a RunShared,
    caller: &'a JobRef,
    call: &'a WorkflowCall,
    ctx: Object,
) -> Pin<Box<dyn Future<Output = CallResult> + Send + 'a>> {
    Box::pin(async move {
        let options = &shared.facts.options;
        let uses = &call.uses.value;
        let depth = options.actions.call_depth + 1;
        if depth >= MAX_WORKFLOW_DEPTH {
            // Local trees are checked before the run starts (`gha run` exits 2); this catches
            // remote callees, with GitHub's message.
            let name = |p: &str| {
                if p.contains('@') {
                    p.to_string()
                } else {
                    format!("./{}@", p.trim_start_matches("./"))
                }
            };
            return Err(format!(
                "error parsing called workflow \"{}\": job \"{}\" calls workflow \"{}\", but doing so would exceed the limit on called workflow depth of {}",
                name(&caller.workflow),
                caller.id,
                name(uses),
                MAX_WORKFLOW_DEPTH - 1
            ));
        }
        let reference = WorkflowRef::parse(uses).map_err(|e| format!("`{uses}`: {e}"))?;
        let resolved = match &reference {
            WorkflowRef::Local { .. } => {
                LocalResolver::new(&options.repo_dir)
                    .resolve_workflow(&reference)
                    .await
            }
            WorkflowRef::Remote(_) => match &options.actions.resolver {
                Some(r) => r.resolve_workflow(&reference).await,
                None => {
                    Resolver::new(ResolverConfig::new(&options.repo_dir))
                        .resolve_workflow(&reference)
                        .await
                }
            },
        }
        .map_err(|e| e.to_string())?;
        let event = resolved.workflow.on.workflow_call().ok_or_else(|| {
            format!("{uses}: workflow_call key is not defined in the referenced workflow.")
        })?;

        // Inputs: only declared ones; values are typed again by the callee's definitions.
        let hash = NoHashFiles;
        let mut given = Vec::new();
        for (name, v) in &call.with {
            let Some(def_name) = event.inputs.keys().find(|k| k.eq_ignore_ascii_case(name)) else {
                return Err(format!(
                    "`{uses}`: Invalid input, {name} is not defined in the referenced workflow."
                ));
            };
            let value = match v {
                MaybeExpr::Value(j) => j.value.clone(),
                MaybeExpr::Expr(t) => eval::value(t, &ctx, &hash)
                    .map_err(|e| format!("Error evaluating `with.{name}`: {e}"))?
                    .to_json(),
            };
            let text = match value {
                serde_json::Value::String(s) => s,
                serde_json::Value::Null => String::new(),
                other => other.to_string(),
            };
            given.push((def_name.clone(), text));
        }
        for (name, def) in &event.inputs {
            if def.required && def.default.is_none() && !given.iter().any(|(k, _)| k == name) {
                return Err(format!(
                    "`{uses}`: Input {name} is required, but not provided while calling."
                ));
            }
        }

        // Secrets: inherit, or the mapped ones (GITHUB_TOKEN always).
        let mut secrets: Vec<(String, String)> = Vec::new();
        match &call.secrets {
            Some(CallSecrets::Inherit(_)) => secrets = options.secrets.clone(),
            Some(CallSecrets::Map(m)) => {
                for (k, t) in m {
                    let v = eval::string(t, &ctx, &hash)
                        .map_err(|e| format!("Error evaluating `secrets.{k}`: {e}"))?;
                    secrets.push((k.clone(), v));
                }
            }
            None => {}
        }
        if !secrets.iter().any(|(k, _)| k == "GITHUB_TOKEN")
            && let Some(t) = options.secrets.iter().find(|(k, _)| k == "GITHUB_TOKEN")
        {
            secrets.push(t.clone());
        }
        for (name, def) in &event.secrets {
            if def.required && !secrets.iter().any(|(k, _)| k.eq_ignore_ascii_case(name)) {
                return Err(format!(
                    "`{uses}`: Secret {name} is required, but not provided while calling."
                ));
            }
        }

        let mut nested = options.clone();
        nested.inputs = given;
        nested.secrets = secrets;
        nested.job_filter = None;
        nested.matrix_filter = Vec::new();
        nested.actions.call_depth = depth;
        let mut executor = Executor::new(
            shared.backend.clone(),
            Arc::new(CallerPrefix {
                inner: shared.emitter.observer.clone(),
                caller: caller.name.clone(),
            }),
            shared.emitter.masker.clone(),
        );
        for t in &shared.tracers {
            executor = executor.with_tracer(t.clone());
        }
        let file = WorkflowFile {
            path: match &reference {
                WorkflowRef::Local { path } => path.clone(),
                WorkflowRef::Remote(r) => r.to_string(),
            },
            workflow: resolved.workflow.clone(),
        };
        let report = executor
            .run(vec![file], nested, shared.cancellation.clone())
            .await
            .map_err(|e| format!("`{uses}`: {e}"))?;

        // Outputs from `on.workflow_call.outputs`, over the callee's `jobs` context.
        let mut jobs = Object::new();
        for j in &report.jobs {
            let mut outputs = match jobs.get(&j.id) {
                Some(Value::Object(o)) => match o.get("outputs") {
                    Some(Value::Object(p)) => p.clone(),
                    _ => Object::new(),
                },
                _ => Object::new(),
            };
            for (k, v) in &j.outputs {
                outputs.insert(k.clone(), Value::from(v.as_str().unwrap_or_default()));
            }
            let mut o = Object::new();
            o.insert("result", Value::from(j.conclusion.as_str()));
            o.insert("outputs", Value::Object(outputs));
            jobs.insert(j.id.clone(), Value::Object(o));
        }
        let mut octx = ctx.clone();
        octx.insert("jobs", Value::Object(jobs));
        let mut outputs = IndexMap::new();
        for (name, out) in &event.outputs {
            if let Some(t) = &out.value {
                let v = eval::string(t, &octx, &hash)
                    .map_err(|e| format!("Error evaluating output '{name}' of `{uses}`: {e}"))?;
                outputs.insert(name.clone(), v);
            }
        }
        // The called jobs as GitHub lists them: `caller / callee`.
        let jobs = report
            .jobs
            .into_iter()
            .map(|mut j| {
                j.name = format!("{} / {}", caller.name, j.name);
                j.caller.get_or_insert_with(|| caller.id.clone());
                j
            })
            .collect();
        Ok(CallOutcome {
            conclusion: report.conclusion,
            outputs,
            jobs,
        })
    })
}

struct NoHashFiles;

impl gha_expr::HashFiles for NoHashFiles {
    fn hash_files(&self, _: &[String]) -> Result<String, String> {
        Err("hashFiles is not available in `with:` of a reusable workflow call".into())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;
    use crate::run::{RunCancellation, RunOptions};
    use crate::{HostBackend, HostBackendOptions, Masker};

    #[derive(Default)]
    struct Collect(Mutex<Vec<String>>);

    impl RunObserver for Collect {
        fn on_event(&self, e: &RunEvent) {
            self.0.lock().unwrap().push(format!("{e:?}"));
        }
    }

    /// The executor alone (no pre-run check, as for remote callees) stops at GitHub's depth.
    #[tokio::test]
    async fn the_run_time_guard_stops_the_tenth_called_level_with_githubs_message() {
        let repo = tempfile::tempdir().unwrap();
        let runs = tempfile::tempdir().unwrap();
        let dir = repo.path().join(".github/workflows");
        std::fs::create_dir_all(&dir).unwrap();
        let n = 11;
        for i in 1..n {
            let body = if i + 1 < n {
                format!("  l{i}:\n    uses: ./.github/workflows/w{}.yml\n", i + 1)
            } else {
                format!("  l{i}:\n    runs-on: x\n    steps: [{{run: echo leaf-ran}}]\n")
            };
            std::fs::write(
                dir.join(format!("w{i}.yml")),
                format!("on: workflow_call\njobs:\n{body}"),
            )
            .unwrap();
        }
        let top = gha_model::Workflow::from_yaml(
            "on: push\njobs:\n  l0:\n    uses: ./.github/workflows/w1.yml\n",
        )
        .unwrap();
        let observer = Arc::new(Collect::default());
        let executor = Executor::new(
            Arc::new(HostBackend::new(HostBackendOptions::new(runs.path()))),
            observer.clone(),
            Arc::new(Masker::new()),
        );
        let report = executor
            .run(
                vec![WorkflowFile {
                    path: ".github/workflows/w0.yml".into(),
                    workflow: top,
                }],
                RunOptions::new(repo.path()),
                RunCancellation::default(),
            )
            .await
            .unwrap();
        assert_eq!(report.conclusion, Conclusion::Failure);
        let events = observer.0.lock().unwrap().join("\n");
        assert!(
            events.contains(
                r#"error parsing called workflow \"./.github/workflows/w9.yml@\": job \"l9\" calls workflow \"./.github/workflows/w10.yml@\", but doing so would exceed the limit on called workflow depth of 9"#
            ),
            "{events}"
        );
        assert!(!events.contains("leaf-ran"), "{events}");
    }
}
