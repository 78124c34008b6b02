//! Workflow files (`.github/workflows/*.yml`).

mod common;
mod cron;
mod display_name;
mod job;
mod matrix;
mod needs;
mod on;
mod step;
mod visit;

pub use common::{
    Concurrency, Container, Credentials, Defaults, Environment, PERMISSION_SCOPES, PermissionLevel,
    Permissions, RunDefaults, RunsOn,
};
pub use cron::validate_cron;
pub use display_name::{job_display_name, matrix_value_display};
pub use job::{CallSecrets, Job, WorkflowCall};
pub use matrix::{
    MAX_MATRIX_COMBINATIONS, Matrix, MatrixCombination, MatrixError, MatrixMap, MatrixRows,
    MatrixValues, MatrixVector, Strategy,
};
pub use needs::NeedsGraph;
pub use on::{
    EVENT_NAMES, Event, Input, InputType, On, WorkflowCallOutput, WorkflowCallSecret,
    activity_types,
};
pub use step::{Step, StepKind};
pub use visit::ExpressionSite;

pub(crate) use step::read_steps;

use crate::diagnostic::{Diagnostic, codes};
use crate::reader::{Env, Reader};
use crate::span::{Span, Spanned};
use crate::value::TemplateString;
use crate::yaml::{self, Node};

/// A workflow file: triggers, settings and jobs in file order.
///
/// ```
/// let wf = gha_model::Workflow::from_yaml(
///     "name: CI\non: [push, pull_request]\nenv: {A: 1}\njobs:\n  build:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo $A\n",
/// ).unwrap();
/// assert_eq!(wf.name.as_ref().unwrap().value, "CI");
/// assert_eq!(wf.on.events.len(), 2);
/// assert_eq!(wf.jobs[0].id.value, "build");
/// assert_eq!(wf.job("build").unwrap().steps.len(), 1);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Workflow {
    /// `name`.
    pub name: Option<Spanned<String>>,
    /// `run-name`.
    pub run_name: Option<TemplateString>,
    /// `description` (accepted by GitHub, unused).
    pub description: Option<Spanned<String>>,
    /// `on`.
    pub on: On,
    /// `permissions`.
    pub permissions: Option<Permissions>,
    /// `env`.
    pub env: Option<Env>,
    /// `defaults`.
    pub defaults: Option<Defaults>,
    /// `concurrency`.
    pub concurrency: Option<Concurrency>,
    /// `jobs`, in file order.
    pub jobs: Vec<Job>,
    /// Warnings found while loading (errors make loading fail).
    pub warnings: Vec<Diagnostic>,
    /// The whole document.
    pub span: Span,
}

const WORKFLOW_KEYS: &[&str] = &[
    "name",
    "run-name",
    "description",
    "on",
    "permissions",
    "env",
    "defaults",
    "concurrency",
    "jobs",
];

impl Workflow {
    /// Load and validate a workflow. Returns every error found (and warnings, when there is at
    /// least one error); on success, warnings are in [`Workflow::warnings`].
    ///
    /// ```
    /// let errs = gha_model::Workflow::from_yaml("on: push\njobs:\n  a:\n    needs: nope\n    runs-on: x\n    steps: [{run: y}]\n").unwrap_err();
    /// assert_eq!(errs[0].code, "needs");
    /// assert_eq!(errs[0].message, "Job 'a' depends on unknown job 'nope'.");
    /// ```
    pub fn from_yaml(src: &str) -> Result<Workflow, Vec<Diagnostic>> {
        let (wf, diags) = Workflow::load(src);
        match wf {
            Some(wf) if !diags.iter().any(Diagnostic::is_error) => Ok(Workflow {
                warnings: diags,
                ..wf
            }),
            _ => Err(diags),
        }
    }

    /// Load as far as possible: the model (when the YAML could be read at all) and every
    /// diagnostic, errors and warnings, in source order. This is what linters want.
    ///
    /// ```
    /// let (wf, diags) = gha_model::Workflow::load("on: push\njobs:\n  a:\n    runs-on: x\n    stesp: []\n");
    /// assert!(wf.is_some());
    /// assert!(diags.iter().any(|d| d.code == "unknown-key"));
    /// ```
    pub fn load(src: &str) -> (Option<Workflow>, Vec<Diagnostic>) {
        Workflow::load_with_limits(src, &yaml::LoadLimits::default())
    }

    /// [`Workflow::load`] with explicit YAML limits (depth, size, alias expansion).
    ///
    /// ```
    /// let limits = gha_model::yaml::LoadLimits { max_depth: 3, ..Default::default() };
    /// let (_, diags) = gha_model::Workflow::load_with_limits("on: push\njobs: {a: {steps: [{run: x}]}}", &limits);
    /// assert!(diags[0].message.contains("Maximum object depth exceeded"));
    /// ```
    pub fn load_with_limits(
        src: &str,
        limits: &yaml::LoadLimits,
    ) -> (Option<Workflow>, Vec<Diagnostic>) {
        let mut diags = Vec::new();
        let root = yaml::load::load(src, limits, &mut diags);
        let Some(root) = root.filter(|n| !n.is_null()) else {
            if !diags.iter().any(Diagnostic::is_error) {
                diags.push(Diagnostic::error(
                    Span {
                        start_pos: crate::Position { line: 1, column: 1 },
                        end_pos: crate::Position { line: 1, column: 1 },
                        ..Span::default()
                    },
                    codes::EMPTY,
                    "workflow is empty",
                ));
            }
            return (None, diags);
        };
        let mut r = Reader::new(src);
        let wf = read_workflow(&mut r, &root);
        diags.append(&mut r.diags);
        diags.sort_by_key(|d| (d.span.start, d.span.end));
        (wf, diags)
    }

    /// The job with this id.
    pub fn job(&self, id: &str) -> Option<&Job> {
        self.jobs.iter().find(|j| j.id.value == id)
    }

    /// The job dependency graph (`needs`), validated at load time.
    ///
    /// ```
    /// let wf = gha_model::Workflow::from_yaml(
    ///     "on: push\njobs:\n  a: {runs-on: x, steps: [{run: y}]}\n  b: {needs: a, runs-on: x, steps: [{run: y}]}\n",
    /// ).unwrap();
    /// assert_eq!(wf.needs_graph().topological_order(), vec!["a", "b"]);
    /// ```
    pub fn needs_graph(&self) -> NeedsGraph {
        NeedsGraph::new(&self.jobs)
    }
}

fn read_workflow(r: &mut Reader<'_>, root: &Node) -> Option<Workflow> {
    let entries = r.mapping(root, "workflow")?;
    let mut wf = Workflow {
        name: None,
        run_name: None,
        description: None,
        on: On::default(),
        permissions: None,
        env: None,
        defaults: None,
        concurrency: None,
        jobs: Vec::new(),
        warnings: Vec::new(),
        span: root.span,
    };
    let mut saw_on = false;
    let mut saw_jobs = false;
    for (k, e) in r.known_entries(entries, WORKFLOW_KEYS, "\"workflow\" section") {
        let v = &e.value;
        r.set_ctx(match k {
            "env" | "defaults" => &crate::contexts::WORKFLOW_ENV,
            _ => &crate::contexts::WORKFLOW_LEVEL,
        });
        match k {
            "name" => wf.name = r.plain_string(v, k),
            "run-name" => wf.run_name = r.template(v, k),
            "description" => wf.description = r.string(v, k),
            "on" => {
                saw_on = true;
                wf.on = on::read_on(r, v);
            }
            "permissions" => wf.permissions = common::read_permissions(r, v),
            "env" => {
                if let Some(entries) = v.as_mapping() {
                    r.check_case_insensitive_duplicates(entries, "env");
                }
                wf.env = r.env(v, k);
            }
            "defaults" => wf.defaults = common::read_defaults(r, v),
            "concurrency" => wf.concurrency = common::read_concurrency(r, v),
            _ => {
                saw_jobs = true;
                wf.jobs = job::read_jobs(r, v);
            }
        }
    }
    // Missing top-level keys are reported where the workflow's mapping starts.
    let top = Span {
        end: root.span.start,
        end_pos: root.span.start_pos,
        ..root.span
    };
    if !saw_on {
        r.error(
            top,
            codes::MISSING_KEY,
            "\"on\" section is missing in workflow",
        );
    }
    if !saw_jobs {
        r.error(
            top,
            codes::MISSING_KEY,
            "\"jobs\" section is missing in workflow",
        );
    }
    needs::validate(r, &wf.jobs);
    check_undeclared_secrets(r, &wf);
    Some(wf)
}

/// In a workflow that only runs through `workflow_call` and declares its secrets, a
/// `secrets.X` that is not declared is always empty (GitHub does not reject it: a warning).
fn check_undeclared_secrets(r: &mut Reader<'_>, wf: &Workflow) {
    let Some(call) = wf.on.workflow_call() else {
        return;
    };
    if wf.on.events.len() != 1 || call.secrets.is_empty() {
        return;
    }
    let declared: Vec<String> = call
        .secrets
        .keys()
        .map(|k| k.to_ascii_lowercase())
        .collect();
    let mut found = Vec::new();
    wf.visit_expressions(&mut |site| {
        let (raw, span, style, parts) = match site {
            ExpressionSite::Template(t) => (&t.raw, t.span, t.style, t.template().parts()),
            ExpressionSite::Condition(_) => return,
        };
        for part in parts {
            let crate::expression::TemplatePart::Expr { expr, .. } = part else {
                continue;
            };
            for path in expr.context_paths() {
                let mut segs = path.split('.');
                if !segs
                    .next()
                    .is_some_and(|s| s.eq_ignore_ascii_case("secrets"))
                {
                    continue;
                }
                let Some(name) = segs.next() else { continue };
                let lower = name.to_ascii_lowercase();
                if lower == "github_token" || lower == "*" || declared.contains(&lower) {
                    continue;
                }
                let at = raw.find(name).map(|i| (i, i + name.len()));
                found.push((name.to_owned(), raw.clone(), span, style, at));
            }
        }
    });
    for (name, raw, span, style, at) in found {
        let t = TemplateString::from_str(&raw).ok();
        let loc = match (t, at) {
            (Some(mut t), Some((s, e))) => {
                t.span = span;
                t.style = style;
                t.file_span(r.src, s, e)
            }
            _ => span,
        };
        r.warning(
            loc,
            codes::INPUTS,
            format!(
                "secret \"{name}\" is not declared in \"on.workflow_call.secrets\"; it will be empty. declared secrets are {}",
                call.secrets.keys().map(|k| format!("\"{k}\"")).collect::<Vec<_>>().join(", ")
            ),
        );
    }
}
