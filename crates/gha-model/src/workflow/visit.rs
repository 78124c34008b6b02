//! Walking every expression-bearing value of a workflow (for linters).

use super::{Job, Step, Workflow};
use crate::reader::Env;
use crate::value::{IfCondition, MaybeExpr, TemplateString};

/// A value that may contain expressions, as handed out by [`Workflow::visit_expressions`].
#[derive(Clone, Copy, Debug)]
pub enum ExpressionSite<'a> {
    /// A string template (`run`, `with`, `env`, `name`, ...).
    Template(&'a TemplateString),
    /// An `if:` condition.
    Condition(&'a IfCondition),
}

impl Workflow {
    /// Call `f` for every template and condition in the workflow, in file order within each
    /// job (workflow-level values first).
    ///
    /// ```
    /// let wf = gha_model::Workflow::from_yaml(
    ///     "on: push\nenv: {A: '${{ github.sha }}'}\njobs:\n  a:\n    if: always()\n    runs-on: x\n    steps: [{run: 'echo ${{ env.A }}'}]\n",
    /// ).unwrap();
    /// let mut n = 0;
    /// wf.visit_expressions(&mut |_| n += 1);
    /// assert_eq!(n, 4); // env A, if, runs-on, run
    /// ```
    pub fn visit_expressions<'a>(&'a self, f: &mut dyn FnMut(ExpressionSite<'a>)) {
        if let Some(t) = &self.run_name {
            f(ExpressionSite::Template(t));
        }
        visit_env(self.env.as_ref(), f);
        if let Some(c) = &self.concurrency {
            f(ExpressionSite::Template(&c.group));
        }
        if let Some(d) = self.defaults.as_ref().and_then(|d| d.run.as_ref()) {
            d.shell
                .iter()
                .chain(&d.working_directory)
                .for_each(|t| f(ExpressionSite::Template(t)));
        }
        for job in &self.jobs {
            visit_job(job, f);
        }
    }
}

fn visit_env<'a>(env: Option<&'a Env>, f: &mut dyn FnMut(ExpressionSite<'a>)) {
    match env {
        Some(MaybeExpr::Value(map)) => map
            .value
            .values()
            .for_each(|t| f(ExpressionSite::Template(t))),
        Some(MaybeExpr::Expr(t)) => f(ExpressionSite::Template(t)),
        None => {}
    }
}

fn visit_maybe<'a, T>(v: Option<&'a MaybeExpr<T>>, f: &mut dyn FnMut(ExpressionSite<'a>)) {
    if let Some(MaybeExpr::Expr(t)) = v {
        f(ExpressionSite::Template(t));
    }
}

fn visit_job<'a>(job: &'a Job, f: &mut dyn FnMut(ExpressionSite<'a>)) {
    if let Some(t) = &job.name {
        f(ExpressionSite::Template(t));
    }
    if let Some(c) = &job.if_condition {
        f(ExpressionSite::Condition(c));
    }
    if let Some(r) = &job.runs_on {
        r.labels
            .iter()
            .chain(&r.group)
            .for_each(|t| f(ExpressionSite::Template(t)));
    }
    if let Some(e) = &job.environment {
        e.name
            .iter()
            .chain(&e.url)
            .for_each(|t| f(ExpressionSite::Template(t)));
    }
    if let Some(c) = &job.concurrency {
        f(ExpressionSite::Template(&c.group));
    }
    job.outputs
        .values()
        .for_each(|t| f(ExpressionSite::Template(t)));
    visit_env(job.env.as_ref(), f);
    visit_maybe(job.timeout_minutes.as_ref(), f);
    visit_maybe(job.continue_on_error.as_ref(), f);
    if let Some(s) = &job.strategy {
        visit_maybe(s.fail_fast.as_ref(), f);
        visit_maybe(s.max_parallel.as_ref(), f);
        if let Some(super::Matrix::Expr(t)) = &s.matrix {
            f(ExpressionSite::Template(t));
        }
    }
    for c in job.container.iter().chain(job.services.values()) {
        c.image
            .iter()
            .chain(&c.options)
            .chain(&c.ports)
            .chain(&c.volumes)
            .for_each(|t| f(ExpressionSite::Template(t)));
        if let Some(cred) = &c.credentials {
            cred.username
                .iter()
                .chain(&cred.password)
                .for_each(|t| f(ExpressionSite::Template(t)));
        }
        visit_env(c.env.as_ref(), f);
    }
    if let Some(call) = &job.call {
        for v in call.with.values() {
            visit_maybe(Some(v), f);
        }
        if let Some(super::CallSecrets::Map(m)) = &call.secrets {
            m.values().for_each(|t| f(ExpressionSite::Template(t)));
        }
    }
    for step in &job.steps {
        visit_step(step, f);
    }
}

fn visit_step<'a>(step: &'a Step, f: &mut dyn FnMut(ExpressionSite<'a>)) {
    if let Some(c) = &step.if_condition {
        f(ExpressionSite::Condition(c));
    }
    step.name
        .iter()
        .chain(&step.run)
        .chain(&step.shell)
        .chain(&step.working_directory)
        .chain(step.with.values())
        .for_each(|t| f(ExpressionSite::Template(t)));
    visit_env(step.env.as_ref(), f);
    visit_maybe(step.continue_on_error.as_ref(), f);
    visit_maybe(step.timeout_minutes.as_ref(), f);
    visit_maybe(step.background.as_ref(), f);
    for s in &step.parallel {
        visit_step(s, f);
    }
}
