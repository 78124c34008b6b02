//! `jobs.<id>`: a job that runs steps, or a job that calls a reusable workflow.

use indexmap::IndexMap;

use super::common::{
    Concurrency, Container, Defaults, Environment, Permissions, RunsOn, read_concurrency,
    read_container, read_defaults, read_environment, read_permissions, read_runs_on,
};
use super::matrix::{Strategy, read_strategy};
use super::step::{Step, id_is_valid, read_steps, remote_uses_is_valid};
use crate::contexts;
use crate::diagnostic::codes;
use crate::reader::{Env, Reader};
use crate::span::{Span, Spanned};
use crate::value::{IfCondition, MaybeExpr, TemplateString};
use crate::yaml::{Entry, Node, NodeKind};

/// A job. Jobs that call a reusable workflow have [`call`](Job::call) set and no steps.
///
/// ```
/// let wf = gha_model::Workflow::from_yaml(
///     "on: push\njobs:\n  build:\n    name: Build\n    runs-on: ubuntu-latest\n    outputs:\n      v: ${{ steps.x.outputs.v }}\n    steps: [{id: x, run: echo}]\n  test:\n    needs: build\n    if: success()\n    runs-on: ubuntu-latest\n    steps: [{run: make test}]\n",
/// ).unwrap();
/// assert_eq!(wf.jobs[0].id.value, "build");
/// assert_eq!(wf.jobs[0].outputs["v"].as_str(), "${{ steps.x.outputs.v }}");
/// assert_eq!(wf.jobs[1].needs[0].value, "build");
/// assert!(wf.jobs[1].if_condition.is_some());
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Job {
    /// The job id (the key under `jobs:`).
    pub id: Spanned<String>,
    /// `name`.
    pub name: Option<TemplateString>,
    /// `needs`, in order.
    pub needs: Vec<Spanned<String>>,
    /// `if`.
    pub if_condition: Option<IfCondition>,
    /// `runs-on`.
    pub runs_on: Option<RunsOn>,
    /// `environment`.
    pub environment: Option<Environment>,
    /// `concurrency`.
    pub concurrency: Option<Concurrency>,
    /// `outputs`.
    pub outputs: IndexMap<String, TemplateString>,
    /// `env`.
    pub env: Option<Env>,
    /// `defaults`.
    pub defaults: Option<Defaults>,
    /// `steps`.
    pub steps: Vec<Step>,
    /// `timeout-minutes` (GitHub's default is 360).
    pub timeout_minutes: Option<MaybeExpr<f64>>,
    /// `cancel-timeout-minutes`: how long cancellation may take.
    pub cancel_timeout_minutes: Option<MaybeExpr<f64>>,
    /// `strategy`.
    pub strategy: Option<Strategy>,
    /// `continue-on-error`.
    pub continue_on_error: Option<MaybeExpr<bool>>,
    /// `container`.
    pub container: Option<Container>,
    /// `services`, by id.
    pub services: IndexMap<String, Container>,
    /// `permissions`.
    pub permissions: Option<Permissions>,
    /// `uses`/`with`/`secrets` of a job that calls a reusable workflow.
    pub call: Option<WorkflowCall>,
    /// Where the job's mapping was written.
    pub span: Span,
}

/// A call to a reusable workflow (`jobs.<id>.uses`).
///
/// ```
/// let wf = gha_model::Workflow::from_yaml(
///     "on: push\njobs:\n  call:\n    uses: octo/repo/.github/workflows/ci.yml@main\n    with: {debug: true}\n    secrets: inherit\n",
/// ).unwrap();
/// let call = wf.jobs[0].call.as_ref().unwrap();
/// assert_eq!(call.uses.value, "octo/repo/.github/workflows/ci.yml@main");
/// assert_eq!(call.with["debug"].literal(), Some(&serde_json::json!(true)));
/// assert!(matches!(call.secrets, Some(gha_model::CallSecrets::Inherit(_))));
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct WorkflowCall {
    /// `uses`: `owner/repo/.github/workflows/file.yml@ref` or `./.github/workflows/file.yml`.
    pub uses: Spanned<String>,
    /// `with`: inputs, typed as written; strings containing `${{ }}` are templates.
    pub with: IndexMap<String, MaybeExpr<serde_json::Value>>,
    /// `secrets`.
    pub secrets: Option<CallSecrets>,
}

/// `secrets:` of a reusable-workflow call.
#[derive(Clone, Debug, PartialEq)]
pub enum CallSecrets {
    /// `secrets: inherit`.
    Inherit(Span),
    /// Explicit secrets.
    Map(IndexMap<String, TemplateString>),
}

const STEP_JOB_KEYS: &[&str] = &[
    "name",
    "needs",
    "permissions",
    "if",
    "runs-on",
    "environment",
    "concurrency",
    "outputs",
    "env",
    "defaults",
    "steps",
    "timeout-minutes",
    "cancel-timeout-minutes",
    "strategy",
    "continue-on-error",
    "container",
    "services",
    "snapshot",
];
const CALL_JOB_KEYS: &[&str] = &[
    "name",
    "uses",
    "with",
    "secrets",
    "needs",
    "if",
    "permissions",
    "strategy",
    "concurrency",
];

pub(crate) fn read_jobs(r: &mut Reader<'_>, node: &Node) -> Vec<Job> {
    let Some(entries) = r.mapping(node, "jobs") else {
        return Vec::new();
    };
    if entries.is_empty() {
        r.error(
            node.span,
            codes::INVALID_VALUE,
            "\"jobs\" section should not be empty. please remove this section if it's unnecessary",
        );
    }
    let mut jobs = Vec::with_capacity(entries.len());
    let mut seen: Vec<(String, Span)> = Vec::new();
    for e in entries {
        let Some(id) = r.string(&e.key, "job id") else {
            continue;
        };
        if !id_is_valid(&id.value) {
            r.error(
                id.span,
                codes::JOB_ID,
                format!(
                    "The identifier '{}' is invalid. IDs may only contain alphanumeric characters, '_', and '-'. IDs must start with a letter or '_' and and must be less than 100 characters.",
                    id.value
                ),
            );
        } else if id.value.starts_with("__") {
            r.error(
                id.span,
                codes::JOB_ID,
                format!(
                    "The identifier '{}' is invalid. IDs starting with '__' are reserved.",
                    id.value
                ),
            );
        } else {
            let lower = id.value.to_ascii_lowercase();
            if let Some((_, prev)) = seen.iter().find(|(s, _)| *s == lower) {
                let prev = *prev;
                r.diags.push(
                    crate::Diagnostic::error(
                        id.span,
                        codes::JOB_ID,
                        format!(
                            "The identifier '{}' may not be used more than once within the same scope.",
                            id.value
                        ),
                    )
                    .with_note(Some(prev), "first used here"),
                );
            } else {
                seen.push((lower, id.span));
            }
        }
        if let Some(job) = read_job(r, id, e) {
            jobs.push(job);
        }
    }
    jobs
}

fn read_job(r: &mut Reader<'_>, id: Spanned<String>, entry: &Entry) -> Option<Job> {
    let node = &entry.value;
    let entries = r.mapping(node, &id.value)?;
    let has = |k: &str| entries.iter().any(|e| e.key.as_str() == Some(k));
    let is_call = has("uses");
    let mut job = Job {
        id: id.clone(),
        name: None,
        needs: Vec::new(),
        if_condition: None,
        runs_on: None,
        environment: None,
        concurrency: None,
        outputs: IndexMap::new(),
        env: None,
        defaults: None,
        steps: Vec::new(),
        timeout_minutes: None,
        cancel_timeout_minutes: None,
        strategy: None,
        continue_on_error: None,
        container: None,
        services: IndexMap::new(),
        permissions: None,
        call: None,
        span: node.span,
    };
    if is_call && has("runs-on") {
        // Whichever of `runs-on` / `uses` comes second is the unexpected one.
        let second = entries
            .iter()
            .filter(|e| matches!(e.key.as_str(), Some("runs-on" | "uses")))
            .max_by_key(|e| e.key.span.start);
        if let Some(e) = second {
            r.error(
                e.key.span,
                codes::CONFLICTING_KEYS,
                format!(
                    "Unexpected value '{}': a job runs steps on \"runs-on\" or calls a reusable workflow with \"uses\", not both",
                    e.key.as_str().unwrap_or_default()
                ),
            );
        }
    }
    if is_call {
        for e in entries {
            let Some(k) = e.key.as_str() else { continue };
            if !CALL_JOB_KEYS.contains(&k) && STEP_JOB_KEYS.contains(&k) && k != "runs-on" {
                r.error(
                    e.key.span,
                    codes::UNKNOWN_KEY,
                    format!(
                        "when a reusable workflow is called with \"uses\", \"{k}\" is not available. only following keys are allowed: \"name\", \"uses\", \"with\", \"secrets\", \"needs\", \"if\", \"strategy\", \"concurrency\" and \"permissions\" in job \"{}\"",
                        id.value
                    ),
                );
            }
        }
    }
    let allowed: Vec<&str> = if is_call {
        CALL_JOB_KEYS.to_vec()
    } else {
        STEP_JOB_KEYS.to_vec()
    };
    let section = format!("job \"{}\"", id.value);
    let mut uses = None;
    let mut with = IndexMap::new();
    let mut secrets = None;
    for e in entries {
        let Some(k) = e.key.as_str() else { continue };
        if !allowed.contains(&k) {
            // Keys valid only for the other kind of job were reported above.
            if !(is_call && STEP_JOB_KEYS.contains(&k)) {
                r.unknown_key(e, &allowed, &section);
            }
            continue;
        }
        let v = &e.value;
        r.set_ctx(match k {
            "if" => &contexts::JOB_IF,
            "strategy" => &contexts::JOB_STRATEGY,
            "env" => &contexts::JOB_ENV,
            "outputs" => &contexts::JOB_OUTPUTS,
            "defaults" => &contexts::JOB_DEFAULTS,
            "secrets" => &contexts::JOB_SECRETS,
            _ => &contexts::JOB,
        });
        match k {
            "name" => job.name = r.template(v, k),
            "needs" => job.needs = read_needs(r, v),
            "permissions" => job.permissions = read_permissions(r, v),
            "if" => job.if_condition = r.condition(v),
            "runs-on" => job.runs_on = read_runs_on(r, v),
            "environment" => job.environment = read_environment(r, v),
            "concurrency" => job.concurrency = read_concurrency(r, v),
            "outputs" => {
                if let Some(entries) = r.mapping_or_null(v, k) {
                    r.check_case_insensitive_duplicates(entries, "outputs");
                    job.outputs = r.template_map(v, k).unwrap_or_default();
                }
            }
            "env" => job.env = r.env(v, k),
            "defaults" => job.defaults = read_defaults(r, v),
            "steps" => job.steps = read_steps(r, v, false),
            "timeout-minutes" => job.timeout_minutes = r.number_or_expr(v, k),
            "cancel-timeout-minutes" => job.cancel_timeout_minutes = r.number_or_expr(v, k),
            "strategy" => job.strategy = read_strategy(r, v),
            "continue-on-error" => job.continue_on_error = r.bool_or_expr(v, k),
            "container" => job.container = read_container(r, v, "container"),
            "services" => {
                let Some(entries) = r.mapping_or_null(v, k) else {
                    continue;
                };
                for s in entries {
                    let Some(name) = s.key.as_str() else { continue };
                    let what = format!("{name}\" service of \"services");
                    if let Some(c) = read_container(r, &s.value, &what) {
                        job.services.insert(name.to_owned(), c);
                    }
                }
            }
            "snapshot" => read_snapshot(r, v),
            "uses" => {
                if let Some(u) = r.string(v, k) {
                    check_workflow_uses(r, &u);
                    uses = Some(u);
                }
            }
            "with" => {
                let Some(entries) = r.mapping_or_null(v, k) else {
                    continue;
                };
                r.check_case_insensitive_duplicates(entries, "with");
                for w in entries {
                    let Some(name) = w.key.as_str() else { continue };
                    if w.value.as_scalar().is_none() {
                        r.error(
                            w.value.span,
                            codes::TYPE,
                            format!("input \"{name}\" of a reusable workflow call must be a string, number or boolean"),
                        );
                        continue;
                    }
                    let value = match w.value.as_scalar() {
                        Some(sc) if sc.value.contains("${{") => match r.template(&w.value, name) {
                            Some(t) => MaybeExpr::Expr(t),
                            None => continue,
                        },
                        _ => MaybeExpr::Value(Spanned::new(w.value.to_json(), w.value.span)),
                    };
                    with.insert(name.to_owned(), value);
                }
            }
            "secrets" => {
                if v.as_str() == Some("inherit") {
                    secrets = Some(CallSecrets::Inherit(v.span));
                } else if let Some(s) = v.as_scalar().filter(|_| !v.is_null()) {
                    // GitHub's message: the only string allowed here is `inherit`.
                    r.error(
                        v.span,
                        codes::TYPE,
                        format!("Unexpected value '{}'", s.value),
                    );
                } else {
                    secrets = r.template_map(v, k).map(CallSecrets::Map);
                }
            }
            _ => {}
        }
    }
    check_runs_on_matrix_types(r, &job);
    if is_call {
        job.call = uses.map(|uses| WorkflowCall {
            uses,
            with,
            secrets,
        });
    } else {
        if job.runs_on.is_none() && !has("runs-on") {
            // Reported where the job's mapping starts, as GitHub does.
            r.error(
                Span {
                    end: node.span.start,
                    end_pos: node.span.start_pos,
                    ..node.span
                },
                codes::MISSING_KEY,
                format!("\"runs-on\" section is missing in job \"{}\"", id.value),
            );
        }
        if !has("steps") {
            // GitHub's parser accepts a job without steps; it has nothing to run.
            r.warning(
                id.span,
                codes::MISSING_KEY,
                format!("\"steps\" section is missing in job \"{}\"", id.value),
            );
        }
    }
    Some(job)
}

impl Job {
    /// Whether this job calls a reusable workflow instead of running steps.
    ///
    /// ```
    /// let wf = gha_model::Workflow::from_yaml("on: push\njobs: {a: {uses: ./.github/workflows/x.yml}}").unwrap();
    /// assert!(wf.jobs[0].is_reusable_call());
    /// ```
    pub fn is_reusable_call(&self) -> bool {
        self.call.is_some()
    }

    /// The id of every step: its `id`, or one generated as GitHub does (`__run`,
    /// `__actions_checkout`, then `__run_2`, ... on collisions, compared case-insensitively).
    ///
    /// ```
    /// let wf = gha_model::Workflow::from_yaml("on: push\njobs: {a: {runs-on: x, steps: [{run: a}, {id: b, run: b}, {run: c}]}}").unwrap();
    /// assert_eq!(wf.jobs[0].step_ids(), ["__run", "b", "__run_2"]);
    /// ```
    pub fn step_ids(&self) -> Vec<String> {
        let mut taken: Vec<String> = self
            .steps
            .iter()
            .filter_map(|s| s.id.as_ref().map(|i| i.value.to_ascii_lowercase()))
            .collect();
        self.steps
            .iter()
            .map(|s| match &s.id {
                Some(id) => id.value.clone(),
                None => {
                    let base = s.generated_id_base();
                    let mut candidate = base.clone();
                    let mut n = 2;
                    while taken.contains(&candidate.to_ascii_lowercase()) {
                        candidate = format!("{base}_{n}");
                        n += 1;
                    }
                    taken.push(candidate.to_ascii_lowercase());
                    candidate
                }
            })
            .collect()
    }
}

/// `runs-on: ${{ matrix.x }}` where `x` holds mappings cannot name a runner.
fn check_runs_on_matrix_types(r: &mut Reader<'_>, job: &Job) {
    let (Some(runs_on), Some(strategy)) = (&job.runs_on, &job.strategy) else {
        return;
    };
    let Some(super::Matrix::Map(m)) = &strategy.matrix else {
        return;
    };
    for label in &runs_on.labels {
        let Some(expr) = label.template().single_expression() else {
            continue;
        };
        let text = expr.to_string();
        let Some(key) = text.strip_prefix("matrix.") else {
            continue;
        };
        let Some(vector) = m
            .vectors
            .iter()
            .find(|v| v.key.value.eq_ignore_ascii_case(key))
        else {
            continue;
        };
        if let super::MatrixValues::List(values) = &vector.values
            && values.iter().any(|v| v.value.is_object())
        {
            r.error(
                label.span,
                codes::TYPE,
                format!(
                    "type of expression at \"runs-on\" must be string or array but matrix \"{}\" holds objects",
                    vector.key.value
                ),
            );
        }
    }
}

fn read_needs(r: &mut Reader<'_>, node: &Node) -> Vec<Spanned<String>> {
    let list = match &node.kind {
        NodeKind::Scalar(_) => r.string(node, "needs").map(|s| vec![s]),
        _ => r.string_list(node, "needs", true),
    };
    let list = list.unwrap_or_default();
    if list.is_empty() && node.as_sequence().is_some() {
        r.error(
            node.span,
            codes::INVALID_VALUE,
            "\"needs\" section should not be empty",
        );
    }
    list
}

fn read_snapshot(r: &mut Reader<'_>, node: &Node) {
    if node.as_scalar().is_some() {
        let _ = r.template(node, "snapshot");
        return;
    }
    let Some(entries) = r.mapping(node, "snapshot") else {
        return;
    };
    for (k, e) in r.known_entries(
        entries,
        &["image-name", "version", "if"],
        "\"snapshot\" section",
    ) {
        match k {
            "if" => {
                let _ = r.condition(&e.value);
            }
            _ => {
                let _ = r.template(&e.value, k);
            }
        }
    }
}

fn check_workflow_uses(r: &mut Reader<'_>, uses: &Spanned<String>) {
    let u = uses.value.as_str();
    if u.contains("${{") {
        r.error(
            uses.span,
            codes::EXPRESSION,
            "expressions are not allowed in \"uses\"",
        );
        return;
    }
    if u.starts_with("./") || u.starts_with("$/") {
        if !(u.ends_with(".yml") || u.ends_with(".yaml")) {
            r.error(
                uses.span,
                codes::INVALID_VALUE,
                format!("reusable workflow call \"{u}\" must point at a .yml or .yaml file"),
            );
        }
        return;
    }
    if !remote_uses_is_valid(u) || !u.contains("/.github/workflows/") {
        r.error(
            uses.span,
            codes::INVALID_VALUE,
            format!(
                "reusable workflow call \"{u}\" is invalid. expected format is \"{{owner}}/{{repo}}/.github/workflows/{{file}}@{{ref}}\" or \"./.github/workflows/{{file}}\""
            ),
        );
    }
}
