//! Which steps a tracer watches: `--trace-step SEL` (a step id, name or 1-based number),
//! optionally limited to one job.

use gha_exec::StepInfo;

/// One `--trace-step` value.
///
/// ```
/// use gha_rr::StepSelector;
/// assert_eq!(StepSelector::parse("3").unwrap(), StepSelector::Number(3));
/// assert_eq!(StepSelector::parse("unit").unwrap(), StepSelector::IdOrName("unit".into()));
/// assert!(StepSelector::parse(" ").is_err());
/// assert!(StepSelector::parse("0").is_err());
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StepSelector {
    /// The step's 1-based position in `steps:`.
    Number(usize),
    /// The step's `id:` or its display name (`name:`, or `Run <first line>`).
    IdOrName(String),
}

impl StepSelector {
    /// Parses a selector: digits are a step number (step ids cannot start with a digit),
    /// anything else an id or name.
    pub fn parse(text: &str) -> Result<StepSelector, String> {
        let t = text.trim();
        if t.is_empty() {
            return Err("a --trace-step selector must not be empty".into());
        }
        if t.bytes().all(|b| b.is_ascii_digit()) {
            return match t.parse::<usize>() {
                Ok(0) | Err(_) => Err(format!(
                    "--trace-step {t}: step numbers start at 1 (the first step of the job)"
                )),
                Ok(n) => Ok(StepSelector::Number(n)),
            };
        }
        Ok(StepSelector::IdOrName(t.to_string()))
    }

    /// Whether `step` is the step this selector names.
    pub fn matches(&self, step: &StepInfo) -> bool {
        match self {
            StepSelector::Number(n) => step.index + 1 == *n,
            StepSelector::IdOrName(s) => step.id.as_deref() == Some(s.as_str()) || &step.name == s,
        }
    }
}

/// The steps a tracer watches: every `run` step when `steps` is empty, else the selected ones;
/// only in `job` (an id or display name) when it is set.
///
/// ```
/// use gha_exec::StepInfo;
/// use gha_rr::{StepSelector, TraceTargets};
///
/// let step = StepInfo { job_id: "test".into(), job_name: "test (linux)".into(), index: 1,
///                       name: "cargo test".into(), ..Default::default() };
/// assert!(TraceTargets::default().matches(&step));
/// let only = TraceTargets { job: Some("test (linux)".into()), steps: vec![StepSelector::Number(2)] };
/// assert!(only.matches(&step));
/// let other = TraceTargets { job: Some("build".into()), steps: vec![] };
/// assert!(!other.matches(&step));
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TraceTargets {
    /// Only steps of this job (its id or display name).
    pub job: Option<String>,
    /// The selected steps; empty means every `run` step.
    pub steps: Vec<StepSelector>,
}

impl TraceTargets {
    /// Targets from `--trace-step` values.
    pub fn from_selectors<S: AsRef<str>>(values: &[S]) -> Result<TraceTargets, String> {
        Ok(TraceTargets {
            job: None,
            steps: values
                .iter()
                .map(|v| StepSelector::parse(v.as_ref()))
                .collect::<Result<_, _>>()?,
        })
    }

    /// Whether `step` is watched.
    pub fn matches(&self, step: &StepInfo) -> bool {
        if let Some(job) = &self.job
            && job != &step.job_id
            && job != &step.job_name
        {
            return false;
        }
        self.steps.is_empty() || self.steps.iter().any(|s| s.matches(step))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(index: usize, id: Option<&str>, name: &str) -> StepInfo {
        StepInfo {
            job_id: "j".into(),
            job_name: "j".into(),
            index,
            id: id.map(str::to_string),
            name: name.into(),
            ..Default::default()
        }
    }

    #[test]
    fn selectors_match_by_number_id_and_name() {
        let t = TraceTargets::from_selectors(&["1", "unit", "Run make"]).unwrap();
        assert!(t.matches(&step(0, None, "x")));
        assert!(t.matches(&step(4, Some("unit"), "x")));
        assert!(t.matches(&step(5, None, "Run make")));
        assert!(!t.matches(&step(1, Some("other"), "Run make test")));
    }

    #[test]
    fn bad_selectors_are_errors() {
        assert!(TraceTargets::from_selectors(&[""]).is_err());
        assert!(TraceTargets::from_selectors(&["00"]).is_err());
    }
}
