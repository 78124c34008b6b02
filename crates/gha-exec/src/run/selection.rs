//! `-j JOB`: which jobs run. A job is selected by its id or by a display name (which may name
//! one matrix leg); its transitive `needs` are selected too.

use gha_model::Workflow;

/// Whether `display_name` names `job_id`'s job or one of its legs; `Some(true)` when it names
/// exactly one leg (a display name that differs from the job's own name).
///
/// ```
/// use gha_exec::run::selection::matches_job;
/// assert_eq!(matches_job("build", "build", &["build (a)".into(), "build (b)".into()], "build"), Some(false));
/// assert_eq!(matches_job("build", "build", &["build (a)".into()], "build (a)"), Some(true));
/// assert_eq!(matches_job("build", "Build it", &[], "build it"), None);
/// ```
pub fn matches_job(id: &str, name: &str, leg_names: &[String], wanted: &str) -> Option<bool> {
    if id == wanted || name == wanted {
        return Some(false);
    }
    if leg_names.iter().any(|l| l == wanted) {
        return Some(true);
    }
    None
}

/// The ids of `workflow`'s jobs that `wanted` needs to run (the job itself and its transitive
/// needs), in file order.
///
/// ```
/// let wf = gha_model::Workflow::from_yaml(
///     "on: push\njobs:\n  a: {runs-on: x, steps: [{run: y}]}\n  b: {needs: a, runs-on: x, steps: [{run: y}]}\n  c: {runs-on: x, steps: [{run: y}]}\n",
/// ).unwrap();
/// assert_eq!(gha_exec::run::selection::with_needs(&wf, "b"), ["a", "b"]);
/// ```
pub fn with_needs(workflow: &Workflow, wanted: &str) -> Vec<String> {
    let mut selected: Vec<String> = Vec::new();
    let mut stack = vec![wanted.to_string()];
    while let Some(id) = stack.pop() {
        if selected.contains(&id) {
            continue;
        }
        if let Some(job) = workflow.job(&id) {
            stack.extend(job.needs.iter().map(|n| n.value.clone()));
            selected.push(id);
        }
    }
    workflow
        .jobs
        .iter()
        .map(|j| j.id.value.clone())
        .filter(|id| selected.contains(id))
        .collect()
}
