//! The job graph scheduler: a job starts as soon as all its `needs` are done (not stage by
//! stage), at most `max_jobs` at once; matrix legs are separate jobs with `fail-fast` and
//! `max-parallel`; matrices written as expressions are expanded when the job becomes ready.

use std::sync::Arc;
use std::time::{Duration, Instant};

use gha_expr::{EvalEnv, Object, StatusFunctions, Value};
use gha_model::{Matrix, MatrixCombination, MatrixError, MaybeExpr};
use indexmap::IndexMap;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use super::contexts::{self, RunFacts};
use super::emitter::Emitter;
use super::job::{JobInstance, RunShared, run_job};
use super::report::{JobReport, RunReport};
use super::{PlanError, RunCancellation, RunOptions, WorkflowFile, inputs, selection};
use crate::backend::Backend;
use crate::conclusion::Conclusion;
use crate::observer::{JobRef, RunEvent};
use crate::tracer::StepTracer;

/// A job (all its legs) in the graph.
struct Node {
    wf: usize,
    job_index: usize,
    id: String,
    needs: Vec<usize>,
    /// `-j` named one matrix leg of this job: only that leg runs.
    leg_filter: Option<String>,
    state: NodeState,
}

enum NodeState {
    Pending,
    Running {
        total: usize,
        done: usize,
        /// Each finished leg's result as `needs` sees it (a failure that continues on error
        /// counts as a success).
        results: Vec<Conclusion>,
        outputs: IndexMap<String, String>,
    },
    Done {
        /// `needs.<id>.result`.
        result: Conclusion,
        outputs: IndexMap<String, String>,
    },
}

struct NeedsStatus {
    success: bool,
    failure: bool,
    cancelled: bool,
}

impl StatusFunctions for NeedsStatus {
    fn success(&self) -> bool {
        self.success
    }
    fn failure(&self) -> bool {
        self.failure
    }
    fn cancelled(&self) -> bool {
        self.cancelled
    }
}

fn json_to_value(v: &serde_json::Value) -> Value {
    Value::from(v.clone())
}

pub(crate) async fn run(
    backend: Arc<dyn Backend>,
    tracers: Vec<Arc<dyn StepTracer>>,
    emitter: Emitter,
    workflows: Vec<WorkflowFile>,
    mut options: RunOptions,
    cancellation: RunCancellation,
) -> Result<RunReport, PlanError> {
    let started = Instant::now();
    // Inputs per workflow.
    let mut inputs_ctx = Vec::new();
    for wf in &workflows {
        let defs = if options.event_name == "workflow_call" || options.actions.call_depth > 0 {
            wf.workflow
                .on
                .workflow_call()
                .map(|e| e.inputs.clone())
                .unwrap_or_default()
        } else {
            wf.workflow.on.workflow_dispatch_inputs().clone()
        };
        let given: Vec<(String, String)> = options
            .inputs
            .iter()
            .filter(|(k, _)| workflows.len() == 1 || defs.keys().any(|d| d.eq_ignore_ascii_case(k)))
            .cloned()
            .collect();
        let (ctx, event_inputs) = inputs::resolve(&defs, &given)
            .map_err(|e| PlanError(format!("{}: {}", wf.path, e.0)))?;
        if options.event_name == "workflow_dispatch"
            && let Some(ev) = options.event.as_object_mut()
            && !ev.contains_key("inputs")
        {
            ev.insert("inputs".into(), serde_json::Value::Object(event_inputs));
        }
        inputs_ctx.push(match json_to_value(&serde_json::Value::Object(ctx)) {
            Value::Object(o) => o,
            _ => Object::new(),
        });
    }

    // Nodes.
    let mut nodes: Vec<Node> = Vec::new();
    for (wi, wf) in workflows.iter().enumerate() {
        let base = nodes.len();
        for (ji, job) in wf.workflow.jobs.iter().enumerate() {
            let needs = job
                .needs
                .iter()
                .filter_map(|n| {
                    wf.workflow
                        .jobs
                        .iter()
                        .position(|j| j.id.value == n.value)
                        .map(|p| base + p)
                })
                .collect();
            nodes.push(Node {
                wf: wi,
                job_index: ji,
                id: job.id.value.clone(),
                needs,
                leg_filter: None,
                state: NodeState::Pending,
            });
        }
    }

    // -j selection.
    let mut selected: Vec<bool> = vec![true; nodes.len()];
    if let Some(wanted) = &options.job_filter {
        selected = vec![false; nodes.len()];
        let mut found = false;
        for (wi, wf) in workflows.iter().enumerate() {
            for job in &wf.workflow.jobs {
                let legs: Vec<String> = match job.strategy.as_ref().and_then(|s| s.matrix.as_ref())
                {
                    Some(m) => m
                        .expand()
                        .map(|combos| combos.iter().map(|c| job.display_name(Some(c))).collect())
                        .unwrap_or_default(),
                    None => Vec::new(),
                };
                let Some(one_leg) =
                    selection::matches_job(&job.id.value, &job.display_name(None), &legs, wanted)
                else {
                    continue;
                };
                found = true;
                for id in selection::with_needs(&wf.workflow, &job.id.value) {
                    if let Some(n) = nodes.iter().position(|n| n.wf == wi && n.id == id) {
                        selected[n] = true;
                    }
                }
                if one_leg
                    && let Some(n) = nodes
                        .iter()
                        .position(|n| n.wf == wi && n.id == job.id.value)
                {
                    nodes[n].leg_filter = Some(wanted.clone());
                }
            }
        }
        if !found {
            let mut known: Vec<String> = Vec::new();
            for wf in &workflows {
                for j in &wf.workflow.jobs {
                    known.push(j.id.value.clone());
                }
            }
            return Err(PlanError(format!(
                "no job named '{wanted}' (jobs: {})",
                known.join(", ")
            )));
        }
    }

    let mut secrets = contexts::object_from_pairs(&options.secrets);
    if secrets.get("GITHUB_TOKEN").is_none() {
        secrets.insert("GITHUB_TOKEN", Value::from(""));
    }
    let vars = contexts::object_from_pairs(&options.vars);
    let max_jobs = options.max_jobs.max(1);
    let shared = Arc::new(RunShared {
        backend,
        tracers,
        emitter: emitter.clone(),
        facts: RunFacts {
            options,
            secrets,
            vars,
        },
        workflows,
        inputs: inputs_ctx,
        cancellation: cancellation.clone(),
    });
    let global = Arc::new(Semaphore::new(max_jobs));

    let display_names: Vec<String> = nodes
        .iter()
        .enumerate()
        .filter(|(i, _)| selected[*i])
        .map(|(_, n)| shared.workflows[n.wf].workflow.jobs[n.job_index].display_name(None))
        .collect();
    emitter.emit(RunEvent::RunStarted {
        jobs: display_names,
    });

    let mut reports: Vec<JobReport> = Vec::new();
    let mut set: JoinSet<LegDone> = JoinSet::new();
    loop {
        // Start every node whose needs are done.
        let mut progressed = true;
        while progressed {
            progressed = false;
            for i in 0..nodes.len() {
                if !selected[i] || !matches!(nodes[i].state, NodeState::Pending) {
                    continue;
                }
                let needs_done = nodes[i]
                    .needs
                    .iter()
                    .all(|&n| !selected[n] || matches!(nodes[n].state, NodeState::Done { .. }));
                if !needs_done {
                    continue;
                }
                progressed = true;
                start_node(
                    &shared,
                    &mut nodes,
                    &selected,
                    i,
                    &global,
                    &mut set,
                    &mut reports,
                );
            }
        }
        let Some(joined) = set.join_next().await else {
            break;
        };
        let LegDone {
            node: i,
            report,
            called,
        } = match joined {
            Ok(r) => r,
            Err(e) => {
                emitter.emit(RunEvent::Log {
                    job: JobRef::default(),
                    step: None,
                    stream: crate::log_sink::OutputStream::Stderr,
                    line: format!("internal error: a job task failed: {e}"),
                });
                continue;
            }
        };
        let conclusion = report.result();
        let leg_outputs: Vec<(String, String)> = report
            .outputs
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
            .collect();
        reports.push(report);
        reports.extend(called);
        if let NodeState::Running {
            total,
            done,
            results,
            outputs,
        } = &mut nodes[i].state
        {
            *done += 1;
            results.push(conclusion);
            for (k, v) in leg_outputs {
                if !v.is_empty() || !outputs.contains_key(&k) {
                    outputs.insert(k, v);
                }
            }
            if *done == *total {
                let result = aggregate(results);
                let outputs = std::mem::take(outputs);
                nodes[i].state = NodeState::Done { result, outputs };
            }
        }
    }

    let mut conclusion = Conclusion::Success;
    for (i, n) in nodes.iter().enumerate() {
        if !selected[i] {
            continue;
        }
        if let NodeState::Done { result, .. } = &n.state {
            match result {
                Conclusion::Failure => conclusion = Conclusion::Failure,
                Conclusion::Cancelled if conclusion == Conclusion::Success => {
                    conclusion = Conclusion::Cancelled
                }
                _ => {}
            }
        }
    }
    if cancellation.cancel.is_cancelled() && conclusion == Conclusion::Success {
        conclusion = Conclusion::Cancelled;
    }
    emitter.emit(RunEvent::RunFinished {
        conclusion,
        duration: started.elapsed(),
    });
    Ok(RunReport {
        conclusion,
        jobs: reports,
    })
}

fn aggregate(results: &[Conclusion]) -> Conclusion {
    if results.contains(&Conclusion::Failure) {
        Conclusion::Failure
    } else if results.contains(&Conclusion::Cancelled) {
        Conclusion::Cancelled
    } else if !results.is_empty() && results.iter().all(|r| *r == Conclusion::Skipped) {
        Conclusion::Skipped
    } else {
        Conclusion::Success
    }
}

/// Records a job that does not run (skipped, cancelled before start, or failed to plan).
fn finish_without_running(
    shared: &RunShared,
    job_ref: JobRef,
    conclusion: Conclusion,
    reports: &mut Vec<JobReport>,
) {
    shared.emitter.emit(RunEvent::JobFinished {
        job: job_ref.clone(),
        conclusion,
        duration: Duration::ZERO,
        outputs: serde_json::Map::new(),
    });
    reports.push(JobReport {
        id: job_ref.id,
        name: job_ref.name,
        matrix: job_ref.matrix,
        conclusion,
        continue_on_error: false,
        caller: None,
        outputs: serde_json::Map::new(),
        steps: Vec::new(),
    });
}

#[allow(clippy::too_many_arguments)]
fn start_node(
    shared: &Arc<RunShared>,
    nodes: &mut [Node],
    selected: &[bool],
    i: usize,
    global: &Arc<Semaphore>,
    set: &mut JoinSet<LegDone>,
    reports: &mut Vec<JobReport>,
) {
    let wf = &shared.workflows[nodes[i].wf];
    let job = &wf.workflow.jobs[nodes[i].job_index];
    let emitter = &shared.emitter;

    // needs context and status.
    let mut needs_obj = Object::new();
    let mut status = NeedsStatus {
        success: true,
        failure: false,
        cancelled: shared.cancellation.cancel.is_cancelled(),
    };
    for &n in &nodes[i].needs {
        if !selected[n] {
            continue;
        }
        if let NodeState::Done {
            result, outputs, ..
        } = &nodes[n].state
        {
            let mut o = Object::new();
            o.insert("result", Value::from(result.as_str()));
            let mut out = Object::new();
            for (k, v) in outputs {
                out.insert(k.clone(), Value::from(v.as_str()));
            }
            o.insert("outputs", Value::Object(out));
            needs_obj.insert(nodes[n].id.clone(), Value::Object(o));
            if *result != Conclusion::Success {
                status.success = false;
            }
            if *result == Conclusion::Failure {
                status.failure = true;
            }
            if *result == Conclusion::Cancelled {
                status.cancelled = true;
            }
        }
    }
    let github = contexts::github_context(
        &shared.facts,
        &contexts::GithubFacts {
            workflow_name: wf
                .workflow
                .name
                .as_ref()
                .map(|n| n.value.as_str())
                .unwrap_or(wf.path.as_str()),
            workflow_path: &wf.path,
            job_id: &job.id.value,
            event_path: None,
            workspace: None,
            action: "",
            file_commands: None,
        },
    );
    let mut ctx = Object::new();
    ctx.insert("github", github);
    ctx.insert("needs", Value::Object(needs_obj.clone()));
    ctx.insert("vars", Value::Object(shared.facts.vars.clone()));
    ctx.insert("inputs", Value::Object(shared.inputs[nodes[i].wf].clone()));
    ctx.insert("secrets", Value::Object(shared.facts.secrets.clone()));

    let plain_ref = JobRef {
        id: job.id.value.clone(),
        name: job.display_name(None),
        matrix: serde_json::Value::Null,
        workflow: wf.path.clone(),
    };
    let done = |nodes: &mut [Node], result: Conclusion| {
        nodes[i].state = NodeState::Done {
            result,
            outputs: IndexMap::new(),
        };
    };

    // Cancelled before it could start.
    if shared.cancellation.cancel.is_cancelled() {
        finish_without_running(shared, plain_ref, Conclusion::Cancelled, reports);
        done(nodes, Conclusion::Cancelled);
        return;
    }

    // Job `if:` (implicit success(): a job whose needs failed or were skipped is skipped).
    let run_it = match &job.if_condition {
        None => status.success,
        Some(c) => {
            let env = EvalEnv::new(&ctx).with_status(&status);
            match c.condition().evaluate(&env) {
                Ok(b) => b,
                Err(e) => {
                    emitter.error(
                        &plain_ref,
                        None,
                        &format!(
                            "The job's `if` expression could not be evaluated: {} (in `{}`)",
                            e.message, c.raw
                        ),
                    );
                    finish_without_running(shared, plain_ref, Conclusion::Failure, reports);
                    done(nodes, Conclusion::Failure);
                    return;
                }
            }
        }
    };
    if !run_it {
        finish_without_running(shared, plain_ref, Conclusion::Skipped, reports);
        done(nodes, Conclusion::Skipped);
        return;
    }

    // Matrix legs (expressions evaluated now that needs are known).
    let strategy = job.strategy.as_ref();
    let combos: Vec<Option<MatrixCombination>> = match strategy.and_then(|s| s.matrix.as_ref()) {
        None => vec![None],
        Some(m) => {
            let expanded = expand(m, &ctx);
            match expanded {
                Ok(c) if c.is_empty() => {
                    emitter.error(&plain_ref, None, "Matrix must define at least one vector");
                    finish_without_running(shared, plain_ref, Conclusion::Failure, reports);
                    done(nodes, Conclusion::Failure);
                    return;
                }
                Ok(c) => c.into_iter().map(Some).collect(),
                Err(e) => {
                    emitter.error(
                        &plain_ref,
                        None,
                        &format!("Error expanding the matrix: {e}"),
                    );
                    finish_without_running(shared, plain_ref, Conclusion::Failure, reports);
                    done(nodes, Conclusion::Failure);
                    return;
                }
            }
        }
    };
    let filter = &shared.facts.options.matrix_filter;
    let combos: Vec<Option<MatrixCombination>> = combos
        .into_iter()
        .filter(|c| match c {
            None => true,
            Some(c) => filter.iter().all(|(k, v)| {
                c.values
                    .get(k)
                    .map(|x| match x {
                        serde_json::Value::String(s) => s == v,
                        other => &other.to_string() == v,
                    })
                    .unwrap_or(false)
            }),
        })
        .filter(|c| match (&nodes[i].leg_filter, c) {
            (Some(name), Some(c)) => &job.display_name(Some(c)) == name,
            _ => true,
        })
        .collect();
    if combos.is_empty() {
        finish_without_running(shared, plain_ref, Conclusion::Skipped, reports);
        done(nodes, Conclusion::Skipped);
        return;
    }

    let lit_bool = |v: &Option<MaybeExpr<bool>>, ctx: &Object, default: bool| -> bool {
        match v {
            None => default,
            Some(MaybeExpr::Value(b)) => b.value,
            Some(MaybeExpr::Expr(t)) => t
                .template()
                .evaluate(&EvalEnv::new(ctx))
                .map(|v| v.is_truthy())
                .unwrap_or(default),
        }
    };
    let fail_fast = lit_bool(&strategy.and_then(|s| s.fail_fast.clone()), &ctx, true);
    let total = combos.len();
    let max_parallel = match strategy.and_then(|s| s.max_parallel.as_ref()) {
        Some(MaybeExpr::Value(n)) => n.value.max(1.0) as usize,
        Some(MaybeExpr::Expr(t)) => match t.template().evaluate(&EvalEnv::new(&ctx)) {
            Ok(Value::Number(n)) => n.max(1.0) as usize,
            Ok(Value::String(s)) => s
                .trim()
                .parse::<f64>()
                .map(|n| n.max(1.0) as usize)
                .unwrap_or(total),
            _ => total,
        },
        None => total,
    };
    let node_cancel = shared.cancellation.cancel.child_token();
    let node_sem = Arc::new(Semaphore::new(max_parallel.max(1)));
    nodes[i].state = NodeState::Running {
        total,
        done: 0,
        results: Vec::new(),
        outputs: IndexMap::new(),
    };
    for (leg, combo) in combos.into_iter().enumerate() {
        let matrix = combo.as_ref().map(|c| c.values.clone());
        let strategy_value = Value::from(serde_json::json!({
            "fail-fast": fail_fast,
            "job-index": leg,
            "job-total": total,
            "max-parallel": max_parallel,
        }));
        // `continue-on-error` per leg: it may use `matrix` (`${{ matrix.experimental }}`).
        let mut leg_ctx = ctx.clone();
        leg_ctx.insert(
            "matrix",
            Value::from(serde_json::Value::Object(
                matrix.clone().unwrap_or_default(),
            )),
        );
        leg_ctx.insert("strategy", strategy_value.clone());
        let continue_on_error = lit_bool(&job.continue_on_error, &leg_ctx, false);
        let job_ref = JobRef {
            id: job.id.value.clone(),
            name: job.display_name(combo.as_ref()),
            matrix: matrix
                .clone()
                .map(serde_json::Value::Object)
                .unwrap_or(serde_json::Value::Null),
            workflow: wf.path.clone(),
        };
        let inst = JobInstance {
            wf: nodes[i].wf,
            job_index: nodes[i].job_index,
            job_ref,
            matrix,
            strategy: strategy_value,
            needs: Value::Object(needs_obj.clone()),
            cancel: node_cancel.clone(),
        };
        let shared = shared.clone();
        let global = global.clone();
        let node_sem = node_sem.clone();
        set.spawn(async move {
            let _leg_permit = node_sem.acquire_owned().await;
            let _job_permit = global.acquire_owned().await;
            if inst.cancel.is_cancelled() {
                let mut r = Vec::new();
                finish_without_running(
                    &shared,
                    inst.job_ref.clone(),
                    Conclusion::Cancelled,
                    &mut r,
                );
                return LegDone {
                    node: i,
                    report: r.pop().expect("one report"),
                    called: Vec::new(),
                };
            }
            let node_cancel = inst.cancel.clone();
            let (mut report, called) = run_job(shared, inst).await;
            report.continue_on_error =
                continue_on_error && report.conclusion == Conclusion::Failure;
            // fail-fast: cancel the siblings before this leg's permits are released, so that no
            // pending sibling can start in between. A leg that continues on error does not.
            if report.result() == Conclusion::Failure && fail_fast {
                node_cancel.cancel();
            }
            LegDone {
                node: i,
                report,
                called,
            }
        });
    }
}

/// A finished leg: its report and those of the jobs of the workflow it called.
struct LegDone {
    node: usize,
    report: JobReport,
    called: Vec<JobReport>,
}

fn expand(m: &Matrix, ctx: &Object) -> Result<Vec<MatrixCombination>, String> {
    m.expand_with(&mut |t| {
        t.template()
            .evaluate(&EvalEnv::new(ctx))
            .map(|v| v.to_json())
            .map_err(|e| MatrixError::Invalid(e.message.clone()))
    })
    .map_err(|e| e.to_string())
}
