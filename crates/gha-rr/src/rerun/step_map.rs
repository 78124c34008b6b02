//! GitHub's step numbers → workflow steps.
//!
//! GitHub's step list for a job starts with "Set up job" (then "Initialize containers" for
//! container jobs), then one "Pre <step name>" entry for each action with a `pre` script (in
//! step order), then the workflow's steps, then "Post <step name>" entries (in reverse order),
//! "Stop containers" and "Complete job". Steps are numbered from 1 in that list.

use gha_model::{Step, StepKind};

use super::api::ApiStep;
use super::error::RerunError;

/// Where GitHub's failing step is in the workflow.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StepMapping {
    /// The workflow step's 0-based index in `steps:`.
    pub index: usize,
    /// GitHub's step number.
    pub github_number: u64,
    /// GitHub's step name.
    pub github_name: String,
    /// How many entries before the workflow's first step ("Set up job", containers, pre steps).
    pub leading_entries: usize,
    /// How many of those are actions' pre steps.
    pub pre_steps: usize,
}

/// The name GitHub shows for `step`, or `None` when it depends on expressions.
fn static_name(step: &Step) -> Option<String> {
    let name = step.display_name();
    (!name.contains("${{")).then_some(name)
}

fn is_setup_entry(name: &str) -> bool {
    matches!(
        name,
        "Set up job" | "Set up runner" | "Initialize containers"
    )
}

/// Whether `name` is the pre step of one of `steps` (an action, not a local one: local actions
/// cannot have pre steps, their code is not there yet when the job starts).
fn is_pre_entry(name: &str, steps: &[Step]) -> bool {
    let Some(rest) = name.strip_prefix("Pre ") else {
        return false;
    };
    steps.iter().any(|s| match s.kind() {
        StepKind::Uses(u) if !u.starts_with("./") => match static_name(s) {
            Some(n) => n == rest,
            None => true,
        },
        _ => false,
    })
}

/// Maps GitHub's step `number` (from `api_steps`, the job's step list) to a workflow step.
///
/// ```
/// use gha_rr::rerun::{ApiStep, map_step_number};
/// let wf = gha_model::Workflow::from_yaml("on: push\njobs:\n  t:\n    runs-on: x\n    steps:\n      - uses: actions/cache@v4\n      - run: make\n      - run: make test\n").unwrap();
/// let steps: Vec<ApiStep> = ["Set up job", "Pre Run actions/cache@v4", "Run actions/cache@v4", "Run make",
///     "Run make test", "Post Run actions/cache@v4", "Complete job"].iter().enumerate()
///     .map(|(i, n)| ApiStep { name: n.to_string(), number: i as u64 + 1, ..Default::default() }).collect();
/// let m = map_step_number("t", &steps, 5, &wf.jobs[0].steps).unwrap();
/// assert_eq!((m.index, m.pre_steps), (2, 1));
/// ```
pub fn map_step_number(
    job: &str,
    api_steps: &[ApiStep],
    number: u64,
    steps: &[Step],
) -> Result<StepMapping, RerunError> {
    let mut list: Vec<&ApiStep> = api_steps.iter().collect();
    list.sort_by_key(|s| s.number);
    let Some(position) = list.iter().position(|s| s.number == number) else {
        return Err(RerunError::StepNotMapped {
            job: job.into(),
            number,
            name: String::new(),
            detail: "GitHub lists no step with that number".into(),
        });
    };
    let failing = list[position];
    let not_mapped = |detail: String| RerunError::StepNotMapped {
        job: job.into(),
        number,
        name: failing.name.clone(),
        detail,
    };
    let mut leading = 0;
    let mut pre_steps = 0;
    while leading < list.len() {
        let name = &list[leading].name;
        if is_setup_entry(name) {
            leading += 1;
        } else if is_pre_entry(name, steps) && pre_steps < steps.len() {
            leading += 1;
            pre_steps += 1;
        } else {
            break;
        }
    }
    if position < leading {
        return Err(not_mapped(format!(
            "it is part of the job's set-up ('{}'), not a workflow step",
            failing.name
        )));
    }
    let mut index = position - leading;
    if index >= steps.len() {
        return Err(not_mapped(format!(
            "it comes after the workflow's {} steps (a post step or the job's tear-down)",
            steps.len()
        )));
    }
    // Cross-check the name where it does not depend on expressions.
    if let Some(expected) = static_name(&steps[index])
        && expected != failing.name
    {
        let same: Vec<usize> = steps
            .iter()
            .filter(|s| static_name(s).as_deref() == Some(failing.name.as_str()))
            .map(|s| s.index)
            .collect();
        match same.as_slice() {
            [one] => index = *one,
            _ => {
                return Err(not_mapped(format!(
                    "by position it is workflow step {} ('{expected}'), whose name differs; is the workflow at the run's commit?",
                    index + 1
                )));
            }
        }
    }
    Ok(StepMapping {
        index,
        github_number: number,
        github_name: failing.name.clone(),
        leading_entries: leading,
        pre_steps,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn steps_of(yaml_steps: &str) -> Vec<Step> {
        let src = format!("on: push\njobs:\n  t:\n    runs-on: x\n    steps:\n{yaml_steps}");
        gha_model::Workflow::from_yaml(&src).unwrap().jobs[0]
            .steps
            .clone()
    }

    fn api(names: &[&str]) -> Vec<ApiStep> {
        names
            .iter()
            .enumerate()
            .map(|(i, n)| ApiStep {
                name: n.to_string(),
                number: i as u64 + 1,
                ..Default::default()
            })
            .collect()
    }

    #[test]
    fn container_jobs_and_named_pre_steps() {
        let steps = steps_of(
            "      - name: Harden\n        uses: step-security/harden-runner@v2\n      - uses: actions/checkout@v4\n      - name: Test ${{ matrix.os }}\n        run: make test\n",
        );
        let list = api(&[
            "Set up job",
            "Initialize containers",
            "Pre Harden",
            "Harden",
            "Run actions/checkout@v4",
            "Test linux",
            "Post Run actions/checkout@v4",
            "Post Harden",
            "Stop containers",
            "Complete job",
        ]);
        let m = map_step_number("t", &list, 6, &steps).unwrap();
        assert_eq!((m.index, m.leading_entries, m.pre_steps), (2, 3, 1));
    }

    #[test]
    fn set_up_and_post_failures_are_not_workflow_steps() {
        let steps = steps_of("      - run: make\n");
        let list = api(&["Set up job", "Run make", "Post Run make", "Complete job"]);
        let e = map_step_number("t", &list, 1, &steps).unwrap_err();
        assert!(e.to_string().contains("set-up"), "{e}");
        let e = map_step_number("t", &list, 3, &steps).unwrap_err();
        assert!(e.to_string().contains("tear-down"), "{e}");
        let e = map_step_number("t", &list, 9, &steps).unwrap_err();
        assert!(e.to_string().contains("no step with that number"), "{e}");
    }

    #[test]
    fn a_user_step_called_pre_something_is_not_a_pre_step() {
        let steps = steps_of("      - name: Pre flight\n        run: ./check\n      - run: make\n");
        let list = api(&["Set up job", "Pre flight", "Run make", "Complete job"]);
        assert_eq!(map_step_number("t", &list, 3, &steps).unwrap().index, 1);
    }

    #[test]
    fn names_that_disagree_with_positions_are_reported() {
        let steps = steps_of("      - run: make\n      - run: make test\n");
        let list = api(&[
            "Set up job",
            "Run something else",
            "Run make test",
            "Complete job",
        ]);
        let e = map_step_number("t", &list, 2, &steps).unwrap_err();
        assert!(e.to_string().contains("whose name differs"), "{e}");
    }
}
