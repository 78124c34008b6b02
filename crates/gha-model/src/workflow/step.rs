//! `jobs.<id>.steps[*]` (and composite action steps).

use indexmap::IndexMap;

use crate::contexts;
use crate::diagnostic::codes;
use crate::reader::{Env, Reader};
use crate::span::{Span, Spanned};
use crate::value::{IfCondition, MaybeExpr, TemplateString};
use crate::yaml::Node;

/// One step: a `run` script or a `uses` action.
///
/// ```
/// let wf = gha_model::Workflow::from_yaml(
///     "on: push\njobs:\n  a:\n    runs-on: x\n    steps:\n      - uses: actions/checkout@v4\n        with: {fetch-depth: 0}\n      - id: build\n        name: Build\n        run: make\n        shell: bash\n        working-directory: src\n        env: {CC: clang}\n",
/// ).unwrap();
/// let steps = &wf.jobs[0].steps;
/// assert_eq!(steps[0].uses.as_ref().unwrap().value, "actions/checkout@v4");
/// assert_eq!(steps[0].with["fetch-depth"].as_str(), "0");
/// assert_eq!(steps[1].id.as_ref().unwrap().value, "build");
/// assert_eq!(steps[1].shell.as_ref().unwrap().as_str(), "bash");
/// assert!(matches!(steps[1].kind(), gha_model::StepKind::Run(_)));
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Step {
    /// Position in the job's `steps` list (0-based).
    pub index: usize,
    /// `id`.
    pub id: Option<Spanned<String>>,
    /// `if`.
    pub if_condition: Option<IfCondition>,
    /// `name`.
    pub name: Option<TemplateString>,
    /// `uses` (an action reference: `owner/repo[/path]@ref`, `./path` or `docker://image`).
    pub uses: Option<Spanned<String>>,
    /// `run` (a script).
    pub run: Option<TemplateString>,
    /// `shell` of a `run` step.
    pub shell: Option<TemplateString>,
    /// `working-directory` of a `run` step.
    pub working_directory: Option<TemplateString>,
    /// `with` inputs of a `uses` step (values coerced to strings as GitHub does).
    pub with: IndexMap<String, TemplateString>,
    /// `env`.
    pub env: Option<Env>,
    /// `continue-on-error`.
    pub continue_on_error: Option<MaybeExpr<bool>>,
    /// `timeout-minutes`.
    pub timeout_minutes: Option<MaybeExpr<f64>>,
    /// `background: true` — run this step while the following steps run.
    pub background: Option<MaybeExpr<bool>>,
    /// `parallel:` — nested steps that run at the same time.
    pub parallel: Vec<Step>,
    /// `wait:` — step ids of background steps to wait for.
    pub wait: Vec<Spanned<String>>,
    /// `wait-all:` — wait for every background step.
    pub wait_all: bool,
    /// `cancel:` — the id of a background step to cancel.
    pub cancel: Option<Spanned<String>>,
    /// Where the step was written.
    pub span: Span,
}

/// What a step does.
///
/// ```
/// let wf = gha_model::Workflow::from_yaml("on: push\njobs: {a: {runs-on: x, steps: [{uses: ./local}]}}").unwrap();
/// assert!(matches!(wf.jobs[0].steps[0].kind(), gha_model::StepKind::Uses(u) if u == "./local"));
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum StepKind<'a> {
    /// Runs a script.
    Run(&'a TemplateString),
    /// Runs an action.
    Uses(&'a str),
    /// `parallel:` — runs nested steps at the same time.
    Parallel(&'a [Step]),
    /// `wait:` — waits for the named background steps.
    Wait(&'a [Spanned<String>]),
    /// `wait-all:` — waits for every background step.
    WaitAll,
    /// `cancel:` — cancels a background step.
    Cancel(&'a str),
    /// None of the above (only in a model that had errors).
    Invalid,
}

impl Step {
    /// The name GitHub shows for the step: its `name`, or `Run <action>` / `Run <first line of
    /// the script>`.
    ///
    /// ```
    /// let wf = gha_model::Workflow::from_yaml("on: push\njobs: {a: {runs-on: x, steps: [{uses: actions/checkout@v4}, {run: \"make\\nmake test\"}, {name: Hi, run: y}]}}").unwrap();
    /// let s = &wf.jobs[0].steps;
    /// assert_eq!(s[0].display_name(), "Run actions/checkout@v4");
    /// assert_eq!(s[1].display_name(), "Run make");
    /// assert_eq!(s[2].display_name(), "Hi");
    /// ```
    pub fn display_name(&self) -> String {
        if let Some(n) = &self.name {
            return n.raw.clone();
        }
        match self.kind() {
            StepKind::Run(r) => format!("Run {}", r.raw.trim().lines().next().unwrap_or("")),
            StepKind::Uses(u) => format!("Run {u}"),
            StepKind::Parallel(_) => "Run steps in parallel".to_owned(),
            StepKind::Wait(_) => "Wait".to_owned(),
            StepKind::WaitAll => "Wait for all".to_owned(),
            StepKind::Cancel(_) => "Cancel".to_owned(),
            StepKind::Invalid => format!("Step {}", self.index + 1),
        }
    }

    /// The id GitHub would generate for a step without `id` (before collision numbering):
    /// `__run` for scripts, `__owner_repo` for actions, `__image_tag` for `docker://`.
    ///
    /// ```
    /// let wf = gha_model::Workflow::from_yaml("on: push\njobs: {a: {runs-on: x, steps: [{uses: actions/setup-node@v4}, {uses: 'docker://alpine:3'}]}}").unwrap();
    /// assert_eq!(wf.jobs[0].steps[0].generated_id_base(), "__actions_setup-node");
    /// assert_eq!(wf.jobs[0].steps[1].generated_id_base(), "__alpine_3");
    /// ```
    pub fn generated_id_base(&self) -> String {
        let base = match (&self.run, &self.uses) {
            (Some(_), _) => "run".to_owned(),
            (None, Some(u)) => {
                let u = u.value.as_str();
                let u = match u.strip_prefix("docker://") {
                    Some(img) => img,
                    None => u.split('@').next().unwrap_or(u),
                };
                u.chars()
                    .map(|c| {
                        if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                            c
                        } else {
                            '_'
                        }
                    })
                    .collect()
            }
            _ if !self.wait.is_empty() => "wait".to_owned(),
            _ if self.wait_all => "wait-all".to_owned(),
            _ if self.cancel.is_some() => "cancel".to_owned(),
            _ => "step".to_owned(),
        };
        // GitHub caps generated ids at 100 characters.
        let mut id = format!("__{base}");
        id.truncate(100);
        id
    }

    /// Whether this is a `run` or `uses` step.
    pub fn kind(&self) -> StepKind<'_> {
        match (&self.run, &self.uses) {
            (Some(r), _) => StepKind::Run(r),
            (None, Some(u)) => StepKind::Uses(&u.value),
            _ if !self.parallel.is_empty() => StepKind::Parallel(&self.parallel),
            _ if !self.wait.is_empty() => StepKind::Wait(&self.wait),
            _ if self.wait_all => StepKind::WaitAll,
            _ => match &self.cancel {
                Some(c) => StepKind::Cancel(&c.value),
                None => StepKind::Invalid,
            },
        }
    }
}

const RUN_KEYS: &[&str] = &[
    "background",
    "id",
    "if",
    "name",
    "run",
    "shell",
    "env",
    "continue-on-error",
    "timeout-minutes",
    "working-directory",
];
const USES_KEYS: &[&str] = &[
    "background",
    "id",
    "if",
    "name",
    "uses",
    "with",
    "env",
    "continue-on-error",
    "timeout-minutes",
];
const CONTROL_KEYS: &[&str] = &["id", "name", "if", "parallel", "wait", "wait-all", "cancel"];
const ALL_KEYS: &[&str] = &[
    "background",
    "id",
    "if",
    "name",
    "uses",
    "run",
    "shell",
    "with",
    "env",
    "continue-on-error",
    "timeout-minutes",
    "working-directory",
];

/// Read a `steps:` sequence. `composite` relaxes nothing but changes messages.
pub(crate) fn read_steps(r: &mut Reader<'_>, node: &Node, composite: bool) -> Vec<Step> {
    let Some(items) = node.as_sequence() else {
        r.error(
            node.span,
            codes::TYPE,
            format!(
                "\"steps\" must be a sequence, but found {}",
                node.type_name()
            ),
        );
        return Vec::new();
    };
    if items.is_empty() {
        r.error(
            node.span,
            codes::INVALID_VALUE,
            "\"steps\" section should not be empty",
        );
    }
    let mut steps: Vec<Step> = Vec::with_capacity(items.len());
    let mut seen_ids: Vec<(String, Span)> = Vec::new();
    for (index, item) in items.iter().enumerate() {
        let Some(step) = read_step(r, item, index, composite) else {
            continue;
        };
        if let Some(id) = &step.id {
            let lower = id.value.to_ascii_lowercase();
            if let Some((_, prev)) = seen_ids.iter().find(|(s, _)| *s == lower) {
                let prev = *prev;
                r.diags.push(
                    crate::Diagnostic::error(
                        id.span,
                        codes::STEP_ID,
                        format!(
                            "The identifier '{}' may not be used more than once within the same scope.",
                            id.value
                        ),
                    )
                    .with_note(Some(prev), "first used here"),
                );
            } else {
                seen_ids.push((lower, id.span));
            }
        }
        steps.push(step);
    }
    steps
}

fn read_step(r: &mut Reader<'_>, node: &Node, index: usize, composite: bool) -> Option<Step> {
    let entries = r.mapping(node, "steps")?;
    let has = |k: &str| entries.iter().any(|e| e.key.as_str() == Some(k));
    let (allowed, section) = match (has("run"), has("uses")) {
        (true, true) => {
            // Reported at `run`: with `uses` present, this is an action step.
            let at = entries
                .iter()
                .find(|e| e.key.as_str() == Some("run"))
                .map(|e| e.key.span)
                .unwrap_or(node.span);
            r.error(
                at,
                codes::CONFLICTING_KEYS,
                "step contains both \"run\" and \"uses\"; a step runs a script or an action, not both",
            );
            (ALL_KEYS, "step")
        }
        (true, false) => (RUN_KEYS, "step to run shell command"),
        (false, true) => (USES_KEYS, "step to execute action"),
        (false, false) if has("parallel") || has("wait") || has("wait-all") || has("cancel") => {
            (CONTROL_KEYS, "step")
        }
        (false, false) => {
            r.error(
                node.span,
                codes::MISSING_KEY,
                "step must run a script with \"run\" or an action with \"uses\"",
            );
            (ALL_KEYS, "step")
        }
    };
    let mut step = Step {
        index,
        id: None,
        if_condition: None,
        name: None,
        uses: None,
        run: None,
        shell: None,
        working_directory: None,
        with: IndexMap::new(),
        env: None,
        continue_on_error: None,
        timeout_minutes: None,
        background: None,
        parallel: Vec::new(),
        wait: Vec::new(),
        wait_all: false,
        cancel: None,
        span: node.span,
    };
    for (k, e) in r.known_entries(entries, allowed, section) {
        let v = &e.value;
        if !composite {
            r.set_ctx(if k == "if" {
                &contexts::STEP_IF
            } else {
                &contexts::STEP
            });
        }
        match k {
            "id" => {
                if let Some(id) = r.string(v, k) {
                    if !id.value.contains("${{") {
                        check_step_id(r, &id);
                    }
                    step.id = Some(id);
                }
            }
            "if" => step.if_condition = r.condition(v),
            "name" => step.name = r.template(v, k),
            "uses" => {
                if let Some(u) = r.string(v, k) {
                    check_uses(r, &u);
                    step.uses = Some(u);
                }
            }
            "run" => {
                step.run = r.template(v, k);
                if step.run.as_ref().is_some_and(|t| t.raw.is_empty()) {
                    r.error(v.span, codes::INVALID_VALUE, "\"run\" should not be empty");
                }
            }
            "shell" => step.shell = r.template(v, k),
            "working-directory" => step.working_directory = r.template(v, k),
            "with" => {
                if let Some(entries) = r.mapping_or_null(v, k) {
                    r.check_case_insensitive_duplicates(entries, "with");
                    step.with = r.template_map(v, k).unwrap_or_default();
                }
            }
            "env" => step.env = r.env(v, k),
            "continue-on-error" => step.continue_on_error = r.bool_or_expr(v, k),
            "background" => step.background = r.bool_or_expr(v, k),
            "parallel" => step.parallel = read_steps(r, v, composite),
            "wait" => step.wait = r.string_list(v, k, true).unwrap_or_default(),
            "wait-all" => step.wait_all = true,
            "cancel" => step.cancel = r.string(v, k),
            _ => step.timeout_minutes = r.number_or_expr(v, k),
        }
    }
    if composite && step.run.is_some() && step.shell.is_none() {
        // Composite `run` steps have no job defaults to fall back on.
        r.error(
            node.span,
            codes::MISSING_KEY,
            "\"shell\" is required for \"run\" steps in composite actions",
        );
    }
    Some(step)
}

/// GitHub's id rule: start with a letter or `_`, then letters, digits, `-`, `_`; under 100
/// characters. Step ids may not start with `__` (reserved for generated ids).
pub(crate) fn id_is_valid(id: &str) -> bool {
    let mut chars = id.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        && id.len() < 100
}

fn check_step_id(r: &mut Reader<'_>, id: &Spanned<String>) {
    if !id_is_valid(&id.value) {
        r.error(
            id.span,
            codes::STEP_ID,
            format!(
                "The identifier '{}' is invalid. IDs may only contain alphanumeric characters, '_', and '-'. IDs must start with a letter or '_' and and must be less than 100 characters.",
                id.value
            ),
        );
    } else if id.value.starts_with("__") {
        r.error(
            id.span,
            codes::STEP_ID,
            format!(
                "The identifier '{}' is invalid. IDs starting with '__' are reserved.",
                id.value
            ),
        );
    }
}

/// Check the syntax of a step's `uses`.
fn check_uses(r: &mut Reader<'_>, uses: &Spanned<String>) {
    let u = uses.value.as_str();
    if u.contains("${{") {
        r.error(
            uses.span,
            codes::EXPRESSION,
            "expressions are not allowed in \"uses\"",
        );
        return;
    }
    // `$/path` names an action in the workflow's own repository.
    if u.starts_with("./") || u.starts_with(".\\") || u == "." || u.starts_with("$/") {
        return;
    }
    if let Some(image) = u.strip_prefix("docker://") {
        if image.is_empty() {
            r.error(
                uses.span,
                codes::INVALID_VALUE,
                "\"docker://\" must be followed by an image name",
            );
        }
        return;
    }
    if !remote_uses_is_valid(u) {
        r.error(
            uses.span,
            codes::INVALID_VALUE,
            format!("Expected format {{org}}/{{repo}}[/path]@ref. Actual '{u}'"),
        );
    }
}

/// `owner/repo[/path]@ref` with non-empty parts.
pub(crate) fn remote_uses_is_valid(u: &str) -> bool {
    let Some((path, git_ref)) = u.split_once('@') else {
        return false;
    };
    let mut parts = path.split('/');
    let owner = parts.next().unwrap_or("");
    let repo = parts.next().unwrap_or("");
    let name_ok = |s: &str| !s.is_empty();
    name_ok(owner) && name_ok(repo) && !git_ref.is_empty()
}
