//! `on:` — the events that trigger a workflow, their filters and inputs.

use indexmap::IndexMap;

use super::cron::validate_cron;
use crate::diagnostic::codes;
use crate::reader::Reader;
use crate::span::{Span, Spanned};
use crate::value::TemplateString;
use crate::yaml::{Node, NodeKind};

/// Every event name GitHub accepts under `on:`.
pub const EVENT_NAMES: &[&str] = &[
    "branch_protection_rule",
    "check_run",
    "check_suite",
    "create",
    "delete",
    "deployment",
    "deployment_status",
    "discussion",
    "discussion_comment",
    "fork",
    "gollum",
    "image_version",
    "issue_comment",
    "issues",
    "label",
    "merge_group",
    "milestone",
    "page_build",
    "project",
    "project_card",
    "project_column",
    "public",
    "pull_request",
    "pull_request_comment",
    "pull_request_review",
    "pull_request_review_comment",
    "pull_request_target",
    "push",
    "registry_package",
    "release",
    "repository_dispatch",
    "schedule",
    "status",
    "watch",
    "workflow_call",
    "workflow_dispatch",
    "workflow_run",
];

/// The activity types an event accepts in `types:`, or `None` when it takes no `types`
/// (`Some(&[])` means any value is accepted, as for `repository_dispatch`).
///
/// ```
/// let t = gha_model::workflow::activity_types("merge_group").unwrap();
/// assert_eq!(t, ["checks_requested"]);
/// ```
pub fn activity_types(event: &str) -> Option<&'static [&'static str]> {
    const PR: &[&str] = &[
        "assigned",
        "unassigned",
        "labeled",
        "unlabeled",
        "opened",
        "edited",
        "closed",
        "reopened",
        "synchronize",
        "converted_to_draft",
        "ready_for_review",
        "locked",
        "unlocked",
        "review_requested",
        "review_request_removed",
        "auto_merge_enabled",
        "auto_merge_disabled",
        "milestoned",
        "demilestoned",
        "enqueued",
        "dequeued",
        "stacked",
    ];
    Some(match event {
        "branch_protection_rule" => &["created", "edited", "deleted"],
        "check_run" => &["created", "rerequested", "completed", "requested_action"],
        "check_suite" => &["completed"],
        "discussion" => &[
            "created",
            "edited",
            "deleted",
            "transferred",
            "pinned",
            "unpinned",
            "labeled",
            "unlabeled",
            "locked",
            "unlocked",
            "category_changed",
            "answered",
            "unanswered",
        ],
        "discussion_comment"
        | "issue_comment"
        | "label"
        | "pull_request_comment"
        | "pull_request_review_comment" => &["created", "edited", "deleted"],
        "issues" => &[
            "opened",
            "edited",
            "deleted",
            "transferred",
            "pinned",
            "unpinned",
            "closed",
            "reopened",
            "assigned",
            "unassigned",
            "labeled",
            "unlabeled",
            "locked",
            "unlocked",
            "milestoned",
            "demilestoned",
            "typed",
            "untyped",
            "field_added",
            "field_removed",
        ],
        "merge_group" => &["checks_requested"],
        "milestone" => &["created", "closed", "opened", "edited", "deleted"],
        "project" => &["created", "closed", "reopened", "edited", "deleted"],
        "project_card" => &["created", "moved", "converted", "edited", "deleted"],
        "project_column" => &["created", "updated", "moved", "deleted"],
        "pull_request" | "pull_request_target" => PR,
        "pull_request_review" => &["submitted", "edited", "dismissed"],
        "registry_package" => &["published", "updated"],
        "release" => &[
            "published",
            "unpublished",
            "created",
            "edited",
            "deleted",
            "prereleased",
            "released",
        ],
        "repository_dispatch" => &[],
        "watch" => &["started"],
        "workflow_run" => &["completed", "requested", "in_progress"],
        "image_version" => &["created", "ready", "deleted"],
        _ => return None,
    })
}

/// The filter keys an event accepts besides `types`.
fn filter_keys(event: &str) -> &'static [&'static str] {
    match event {
        "push" => &[
            "branches",
            "branches-ignore",
            "tags",
            "tags-ignore",
            "paths",
            "paths-ignore",
        ],
        "pull_request" | "pull_request_target" => {
            &["branches", "branches-ignore", "paths", "paths-ignore"]
        }
        "merge_group" => &["branches", "branches-ignore"],
        "workflow_run" => &["workflows", "branches", "branches-ignore"],
        "image_version" => &["names", "versions"],
        _ => &[],
    }
}

/// `on:` — the triggers of a workflow, in file order.
///
/// ```
/// let wf = gha_model::Workflow::from_yaml(
///     "on:\n  push:\n    branches: [main]\n  workflow_dispatch:\n    inputs:\n      level:\n        type: choice\n        options: [a, b]\n        default: a\njobs: {a: {runs-on: x, steps: [{run: y}]}}\n",
/// ).unwrap();
/// assert_eq!(wf.on.events.len(), 2);
/// assert_eq!(wf.on.event("push").unwrap().branches.as_ref().unwrap()[0].value, "main");
/// let inputs = &wf.on.event("workflow_dispatch").unwrap().inputs;
/// assert_eq!(inputs["level"].input_type.as_ref().unwrap().value, gha_model::InputType::Choice);
/// ```
#[derive(Clone, Debug, PartialEq, Default)]
pub struct On {
    /// The events.
    pub events: Vec<Event>,
    /// Where `on:` was written.
    pub span: Span,
}

impl On {
    /// The configuration of one event, if the workflow triggers on it.
    pub fn event(&self, name: &str) -> Option<&Event> {
        self.events.iter().find(|e| e.name.value == name)
    }

    /// The `workflow_dispatch` inputs (empty when there are none).
    ///
    /// ```
    /// let wf = gha_model::Workflow::from_yaml("on: workflow_dispatch\njobs: {a: {runs-on: x, steps: [{run: y}]}}").unwrap();
    /// assert!(wf.on.workflow_dispatch_inputs().is_empty());
    /// ```
    pub fn workflow_dispatch_inputs(&self) -> &IndexMap<String, Input> {
        static EMPTY: std::sync::OnceLock<IndexMap<String, Input>> = std::sync::OnceLock::new();
        self.event("workflow_dispatch")
            .map(|e| &e.inputs)
            .unwrap_or_else(|| EMPTY.get_or_init(IndexMap::new))
    }

    /// The `workflow_call` trigger, if the workflow is reusable.
    pub fn workflow_call(&self) -> Option<&Event> {
        self.event("workflow_call")
    }
}

/// One trigger and its configuration. Keys an event does not take stay empty.
///
/// ```
/// let wf = gha_model::Workflow::from_yaml(
///     "on:\n  schedule:\n    - cron: '0 0 * * *'\n  pull_request:\n    types: [opened]\n    paths-ignore: ['docs/**']\njobs: {a: {runs-on: x, steps: [{run: y}]}}\n",
/// ).unwrap();
/// assert_eq!(wf.on.event("schedule").unwrap().schedule[0].value, "0 0 * * *");
/// let pr = wf.on.event("pull_request").unwrap();
/// assert_eq!(pr.types[0].value, "opened");
/// assert_eq!(pr.paths_ignore.as_ref().unwrap()[0].value, "docs/**");
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    /// Event name, e.g. `push`.
    pub name: Spanned<String>,
    /// Activity types (`types:`).
    pub types: Vec<Spanned<String>>,
    /// `branches:` filter.
    pub branches: Option<Vec<Spanned<String>>>,
    /// `branches-ignore:` filter.
    pub branches_ignore: Option<Vec<Spanned<String>>>,
    /// `tags:` filter.
    pub tags: Option<Vec<Spanned<String>>>,
    /// `tags-ignore:` filter.
    pub tags_ignore: Option<Vec<Spanned<String>>>,
    /// `paths:` filter.
    pub paths: Option<Vec<Spanned<String>>>,
    /// `paths-ignore:` filter.
    pub paths_ignore: Option<Vec<Spanned<String>>>,
    /// `workflows:` of `workflow_run`.
    pub workflows: Option<Vec<Spanned<String>>>,
    /// Other list filters (e.g. `names`/`versions` of `image_version`).
    pub other_filters: IndexMap<String, Vec<Spanned<String>>>,
    /// Cron expressions of `schedule`.
    pub schedule: Vec<Spanned<String>>,
    /// Inputs of `workflow_dispatch` and `workflow_call`.
    pub inputs: IndexMap<String, Input>,
    /// Outputs of `workflow_call`.
    pub outputs: IndexMap<String, WorkflowCallOutput>,
    /// Secrets of `workflow_call`.
    pub secrets: IndexMap<String, WorkflowCallSecret>,
    /// Where the event's configuration was written (the name, when it has none).
    pub span: Span,
}

impl Event {
    fn new(name: Spanned<String>, span: Span) -> Self {
        Event {
            name,
            types: Vec::new(),
            branches: None,
            branches_ignore: None,
            tags: None,
            tags_ignore: None,
            paths: None,
            paths_ignore: None,
            workflows: None,
            other_filters: IndexMap::new(),
            schedule: Vec::new(),
            inputs: IndexMap::new(),
            outputs: IndexMap::new(),
            secrets: IndexMap::new(),
            span,
        }
    }
}

/// The type of a `workflow_dispatch` or `workflow_call` input.
///
/// ```
/// assert_eq!(gha_model::InputType::parse("boolean"), Some(gha_model::InputType::Boolean));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum InputType {
    /// `string`
    String,
    /// `boolean`
    Boolean,
    /// `number`
    Number,
    /// `choice` (workflow_dispatch only)
    Choice,
    /// `environment` (workflow_dispatch only)
    Environment,
}

impl InputType {
    /// Parse a type keyword.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "string" => InputType::String,
            "boolean" => InputType::Boolean,
            "number" => InputType::Number,
            "choice" => InputType::Choice,
            "environment" => InputType::Environment,
            _ => return None,
        })
    }

    /// The keyword.
    ///
    /// ```
    /// assert_eq!(gha_model::InputType::Number.as_str(), "number");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            InputType::String => "string",
            InputType::Boolean => "boolean",
            InputType::Number => "number",
            InputType::Choice => "choice",
            InputType::Environment => "environment",
        }
    }
}

/// An input of `workflow_dispatch` or `workflow_call`.
///
/// ```
/// let wf = gha_model::Workflow::from_yaml(
///     "on:\n  workflow_call:\n    inputs:\n      debug:\n        type: boolean\n        default: false\njobs: {a: {runs-on: x, steps: [{run: y}]}}\n",
/// ).unwrap();
/// let input = &wf.on.workflow_call().unwrap().inputs["debug"];
/// assert_eq!(input.default.as_ref().unwrap().value, serde_json::json!(false));
/// assert!(!input.required);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Input {
    /// Input id.
    pub name: Spanned<String>,
    /// `description`.
    pub description: Option<String>,
    /// `required` (default false).
    pub required: bool,
    /// `default`, typed as written (a workflow_call default string may hold `${{ }}`; parse
    /// it with [`TemplateString::from_str`](crate::TemplateString::from_str)).
    pub default: Option<Spanned<serde_json::Value>>,
    /// `type`.
    pub input_type: Option<Spanned<InputType>>,
    /// `options` of a choice input.
    pub options: Vec<Spanned<String>>,
    /// `deprecationMessage`.
    pub deprecation_message: Option<String>,
    /// Where the input was written.
    pub span: Span,
}

/// An output of a reusable workflow (`on.workflow_call.outputs`).
///
/// ```
/// let wf = gha_model::Workflow::from_yaml(
///     "on:\n  workflow_call:\n    outputs:\n      v:\n        value: ${{ jobs.a.outputs.v }}\njobs: {a: {runs-on: x, steps: [{run: y}]}}\n",
/// ).unwrap();
/// assert!(!wf.on.workflow_call().unwrap().outputs["v"].value.as_ref().unwrap().is_literal());
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct WorkflowCallOutput {
    /// Output id.
    pub name: Spanned<String>,
    /// `description`.
    pub description: Option<String>,
    /// `value` (required).
    pub value: Option<TemplateString>,
    /// Where it was written.
    pub span: Span,
}

/// A secret a reusable workflow declares (`on.workflow_call.secrets`).
///
/// ```
/// let wf = gha_model::Workflow::from_yaml(
///     "on:\n  workflow_call:\n    secrets:\n      token:\n        required: true\njobs: {a: {runs-on: x, steps: [{run: y}]}}\n",
/// ).unwrap();
/// assert!(wf.on.workflow_call().unwrap().secrets["token"].required);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct WorkflowCallSecret {
    /// Secret id.
    pub name: Spanned<String>,
    /// `description`.
    pub description: Option<String>,
    /// `required`.
    pub required: bool,
    /// Where it was written.
    pub span: Span,
}

pub(crate) fn read_on(r: &mut Reader<'_>, node: &Node) -> On {
    let mut on = On {
        events: Vec::new(),
        span: node.span,
    };
    match &node.kind {
        NodeKind::Scalar(_) => {
            if let Some(name) = r.string(node, "on") {
                if name.value.is_empty() {
                    r.error(
                        node.span,
                        codes::INVALID_VALUE,
                        "\"on\" section should not be empty",
                    );
                } else if check_event_name(r, &name) {
                    on.events.push(Event::new(name, node.span));
                }
            }
        }
        NodeKind::Sequence(items) => {
            if items.is_empty() {
                r.error(
                    node.span,
                    codes::INVALID_VALUE,
                    "\"on\" section should not be empty",
                );
            }
            for item in items {
                if let Some(name) = r.string(item, "on")
                    && check_event_name(r, &name)
                {
                    on.events.push(Event::new(name, item.span));
                }
            }
        }
        NodeKind::Mapping(entries) => {
            if entries.is_empty() {
                r.error(
                    node.span,
                    codes::INVALID_VALUE,
                    "\"on\" section should not be empty",
                );
            }
            for e in entries {
                let Some(name) = r.string(&e.key, "on") else {
                    continue;
                };
                if !check_event_name(r, &name) {
                    continue;
                }
                let event = read_event(r, name, &e.value);
                on.events.push(event);
            }
        }
    }
    on
}

fn check_event_name(r: &mut Reader<'_>, name: &Spanned<String>) -> bool {
    if EVENT_NAMES.contains(&name.value.as_str()) {
        return true;
    }
    let mut d = crate::Diagnostic::error(
        name.span,
        codes::EVENTS,
        format!("unknown Webhook event \"{}\"", name.value),
    );
    if let Some(s) = crate::reader::did_you_mean(&name.value, EVENT_NAMES) {
        d = d.with_help(format!("did you mean \"{s}\"?"));
    }
    r.diags.push(d);
    false
}

fn read_event(r: &mut Reader<'_>, name: Spanned<String>, node: &Node) -> Event {
    let mut ev = Event::new(name.clone(), node.span);
    let event = name.value.as_str();
    if event == "schedule" {
        read_schedule(r, node, &mut ev);
        return ev;
    }
    if node.is_null() {
        return ev;
    }
    let Some(entries) = r.mapping(node, event) else {
        return ev;
    };
    let mut allowed: Vec<&str> = filter_keys(event).to_vec();
    if activity_types(event).is_some() {
        allowed.push("types");
    }
    match event {
        "workflow_dispatch" => allowed.push("inputs"),
        "workflow_call" => allowed.extend(["inputs", "outputs", "secrets"]),
        _ => {}
    }
    let section = format!("\"{event}\" section");
    // GitHub ignores unknown keys under a `workflow_dispatch` without inputs, and real
    // workflows carry filters their event does not take (`tags` under `pull_request`); both
    // are warnings. Anything else is an error, as on GitHub.
    let has_inputs = entries.iter().any(|e| e.key.as_str() == Some("inputs"));
    const ANY_FILTER: &[&str] = &[
        "branches",
        "branches-ignore",
        "tags",
        "tags-ignore",
        "paths",
        "paths-ignore",
        "types",
        "workflows",
    ];
    for e in entries {
        let Some(k) = e.key.as_str() else { continue };
        if !allowed.contains(&k) {
            let msg = if allowed.is_empty() {
                format!("unexpected key \"{k}\" for {section}. \"{event}\" takes no configuration")
            } else {
                format!(
                    "unexpected key \"{k}\" for {section}. expected one of {}",
                    crate::reader::quote_list(&allowed)
                )
            };
            let lenient = (event == "workflow_dispatch" && !has_inputs) || ANY_FILTER.contains(&k);
            if lenient {
                r.warning(e.key.span, codes::UNKNOWN_KEY, msg);
            } else {
                let mut d = crate::Diagnostic::error(e.key.span, codes::UNKNOWN_KEY, msg);
                if let Some(s) = crate::reader::did_you_mean(k, &allowed) {
                    d = d.with_help(format!("did you mean \"{s}\"?"));
                }
                r.diags.push(d);
            }
            continue;
        }
        match k {
            "types" => {
                let Some(types) = r.string_list(&e.value, k, true) else {
                    continue;
                };
                if types.is_empty() {
                    r.error(
                        e.value.span,
                        codes::INVALID_VALUE,
                        "\"types\" section should not be empty",
                    );
                }
                let known = activity_types(event).unwrap_or(&[]);
                for t in &types {
                    if !known.is_empty() && !known.contains(&t.value.as_str()) {
                        r.error(
                            t.span,
                            codes::EVENTS,
                            format!(
                                "invalid activity type \"{}\" for \"{event}\" Webhook event. available types are {}",
                                t.value,
                                crate::reader::quote_list(known)
                            ),
                        );
                    }
                }
                ev.types = types;
            }
            "inputs" => read_inputs(r, &e.value, &mut ev, event == "workflow_call"),
            "outputs" => read_call_outputs(r, &e.value, &mut ev),
            "secrets" => read_call_secrets(r, &e.value, &mut ev),
            filter => {
                let Some(list) = r.string_list(&e.value, filter, true) else {
                    continue;
                };
                if list.is_empty() {
                    r.error(
                        e.value.span,
                        codes::INVALID_VALUE,
                        format!("\"{filter}\" section should not be empty"),
                    );
                }
                match filter {
                    "branches" => ev.branches = Some(list),
                    "branches-ignore" => ev.branches_ignore = Some(list),
                    "tags" => ev.tags = Some(list),
                    "tags-ignore" => ev.tags_ignore = Some(list),
                    "paths" => ev.paths = Some(list),
                    "paths-ignore" => ev.paths_ignore = Some(list),
                    "workflows" => ev.workflows = Some(list),
                    other => {
                        ev.other_filters.insert(other.to_owned(), list);
                    }
                }
            }
        }
    }
    for (a, b) in [
        ("branches", "branches-ignore"),
        ("tags", "tags-ignore"),
        ("paths", "paths-ignore"),
    ] {
        let has_a = entries.iter().find(|e| e.key.as_str() == Some(a));
        let has_b = entries.iter().find(|e| e.key.as_str() == Some(b));
        if let (Some(x), Some(y)) = (has_a, has_b) {
            // Reported at the key written second.
            let first = if x.key.span.start > y.key.span.start {
                x
            } else {
                y
            };
            r.error(
                first.key.span,
                codes::EVENTS,
                format!(
                    "both \"{a}\" and \"{b}\" filters cannot be used for the same event \"{event}\". note: use '!' to negate patterns"
                ),
            );
        }
    }
    ev
}

fn read_schedule(r: &mut Reader<'_>, node: &Node, ev: &mut Event) {
    let Some(items) = node.as_sequence() else {
        r.error(
            node.span,
            codes::TYPE,
            format!(
                "\"schedule\" must be a sequence of mappings with \"cron\", but found {}",
                node.type_name()
            ),
        );
        return;
    };
    if items.is_empty() {
        r.error(
            node.span,
            codes::INVALID_VALUE,
            "\"schedule\" section should not be empty",
        );
    }
    for item in items {
        let Some(entries) = r.mapping(item, "schedule") else {
            continue;
        };
        let mut cron = None;
        for (_, e) in r.known_entries(entries, &["cron"], "\"schedule\" section") {
            if let Some(c) = r.plain_string(&e.value, "cron") {
                if let Err(msg) = validate_cron(&c.value) {
                    r.error(c.span, codes::CRON, msg);
                }
                cron = Some(c);
            }
        }
        match cron {
            Some(c) => ev.schedule.push(c),
            None => r.error(
                item.span,
                codes::MISSING_KEY,
                "\"cron\" is missing in \"schedule\" section",
            ),
        }
    }
}

fn read_inputs(r: &mut Reader<'_>, node: &Node, ev: &mut Event, is_call: bool) {
    let event = if is_call {
        "workflow_call"
    } else {
        "workflow_dispatch"
    };
    let Some(entries) = r.mapping_or_null(node, "inputs") else {
        return;
    };
    r.check_case_insensitive_duplicates(entries, "inputs");
    if !is_call && entries.len() > 25 {
        r.error(
            ev.name.span,
            codes::INPUTS,
            format!(
                "maximum number of inputs for \"workflow_dispatch\" event is 25 but {} inputs are provided",
                entries.len()
            ),
        );
    }
    let allowed: &[&str] = if is_call {
        &["description", "required", "default", "type"]
    } else {
        &[
            "description",
            "required",
            "default",
            "type",
            "options",
            "deprecationMessage",
        ]
    };
    for e in entries {
        let Some(name) = r.string(&e.key, "inputs") else {
            continue;
        };
        let mut input = Input {
            name: name.clone(),
            description: None,
            required: false,
            default: None,
            input_type: None,
            options: Vec::new(),
            deprecation_message: None,
            span: e.value.span,
        };
        let Some(props) = r.mapping_or_null(&e.value, &name.value) else {
            continue;
        };
        let section = format!("\"{}\" input of \"{event}\"", name.value);
        let mut required_span = None;
        for (k, p) in r.known_entries(props, allowed, &section) {
            match k {
                "description" => input.description = r.string(&p.value, k).map(|s| s.value),
                "deprecationMessage" => {
                    input.deprecation_message = r.string(&p.value, k).map(|s| s.value);
                }
                "required" => {
                    if let Some(crate::MaybeExpr::Value(b)) = r.bool_or_expr(&p.value, k) {
                        input.required = b.value;
                        required_span = Some(p.value.span);
                    }
                }
                "default" => {
                    if p.value.as_scalar().is_none() {
                        r.error(
                            p.value.span,
                            codes::TYPE,
                            "input \"default\" must be a scalar value",
                        );
                    } else {
                        if let Some(sc) = p.value.as_scalar().filter(|s| s.value.contains("${{")) {
                            // Validate the expression syntax; the value stays a string.
                            let _ = r.template_from(sc.value.clone(), p.value.span, sc.style);
                        }
                        input.default = Some(Spanned::new(p.value.to_json(), p.value.span));
                    }
                }
                "type" => {
                    let Some(t) = r.string(&p.value, k) else {
                        continue;
                    };
                    let ty = InputType::parse(&t.value);
                    let valid = match ty {
                        Some(InputType::Choice | InputType::Environment) => !is_call,
                        Some(_) => true,
                        None => false,
                    };
                    if valid {
                        input.input_type = ty.map(|ty| Spanned::new(ty, t.span));
                    } else if !is_call {
                        // GitHub treats unknown workflow_dispatch input types as strings.
                        r.warning(
                            t.span,
                            codes::INPUTS,
                            format!("unknown input type \"{}\" of {section}; GitHub treats it as \"string\"", t.value),
                        );
                    } else {
                        let expected = if is_call {
                            "\"boolean\", \"number\" or \"string\""
                        } else {
                            "\"boolean\", \"choice\", \"environment\", \"number\" or \"string\""
                        };
                        r.error(
                            t.span,
                            codes::INPUTS,
                            format!(
                                "invalid value \"{}\" for input type of {section}. it must be one of {expected}",
                                t.value
                            ),
                        );
                    }
                }
                _ => input.options = r.string_list(&p.value, k, false).unwrap_or_default(),
            }
        }
        if is_call
            && input.input_type.is_none()
            && !props.iter().any(|p| p.key.as_str() == Some("type"))
        {
            r.error(
                e.key.span.to(e.value.span),
                codes::MISSING_KEY,
                format!(
                    "\"type\" is missing at \"{}\" input of workflow_call event",
                    name.value
                ),
            );
        }
        validate_input(r, &input, required_span, event);
        ev.inputs.insert(name.value, input);
    }
}

fn validate_input(r: &mut Reader<'_>, input: &Input, required_span: Option<Span>, event: &str) {
    let name = &input.name.value;
    let ty = input.input_type.as_ref().map(|t| t.value);
    if let (true, Some(d)) = (input.required, &input.default)
        && event == "workflow_call"
    {
        let _ = required_span;
        r.warning(
            d.span,
            codes::INPUTS,
            format!(
                "input \"{name}\" of workflow_call event has the default value {}, but it is also required. if an input is marked as required, its default value will never be used",
                d.value
            ),
        );
    }
    match ty {
        Some(InputType::Choice) => {
            if input.options.is_empty() {
                r.error(
                    input.name.span,
                    codes::INPUTS,
                    format!("input type of \"{name}\" is \"choice\" but \"options\" is not set"),
                );
            }
            if let Some(d) = &input.default {
                let dv = match &d.value {
                    serde_json::Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                if !input.options.is_empty() && !input.options.iter().any(|o| o.value == dv) {
                    r.error(
                        d.span,
                        codes::INPUTS,
                        format!(
                            "default value \"{dv}\" of \"{name}\" input is not included in its options {}",
                            input
                                .options
                                .iter()
                                .map(|o| format!("\"{}\"", o.value))
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    );
                }
            }
        }
        Some(InputType::Boolean) => {
            if let Some(d) = &input.default {
                let ok = match &d.value {
                    serde_json::Value::Bool(_) => true,
                    serde_json::Value::String(s) => {
                        s == "true" || s == "false" || crate::reader::is_single_expression(s)
                    }
                    _ => false,
                };
                if !ok {
                    r.error(
                        d.span,
                        codes::INPUTS,
                        format!("type of \"{name}\" input is \"boolean\". its default value {} is not a boolean", d.value),
                    );
                }
            }
        }
        Some(InputType::Number) => {
            if let Some(d) = &input.default {
                let ok = match &d.value {
                    serde_json::Value::Number(_) => true,
                    serde_json::Value::String(s) => {
                        s.trim().parse::<f64>().is_ok() || crate::reader::is_single_expression(s)
                    }
                    _ => false,
                };
                if !ok {
                    r.error(
                        d.span,
                        codes::INPUTS,
                        format!("type of \"{name}\" input is \"number\". its default value {} is not a number", d.value),
                    );
                }
            }
        }
        _ => {}
    }
    if ty != Some(InputType::Choice) && !input.options.is_empty() {
        r.error(
            input.name.span,
            codes::INPUTS,
            format!(
                "\"options\" can not be set to \"{name}\" input because its type is not \"choice\""
            ),
        );
    }
}

fn read_call_outputs(r: &mut Reader<'_>, node: &Node, ev: &mut Event) {
    let Some(entries) = r.mapping_or_null(node, "outputs") else {
        return;
    };
    r.check_case_insensitive_duplicates(entries, "outputs");
    for e in entries {
        let Some(name) = r.string(&e.key, "outputs") else {
            continue;
        };
        let mut out = WorkflowCallOutput {
            name: name.clone(),
            description: None,
            value: None,
            span: e.value.span,
        };
        let Some(props) = r.mapping(&e.value, &name.value) else {
            continue;
        };
        let section = format!("\"{}\" output of workflow_call event", name.value);
        for (k, p) in r.known_entries(props, &["description", "value"], &section) {
            match k {
                "description" => out.description = r.string(&p.value, k).map(|s| s.value),
                _ => {
                    r.set_ctx(&crate::contexts::CALL_OUTPUT);
                    out.value = r.template(&p.value, k);
                    r.set_ctx(&crate::contexts::WORKFLOW_LEVEL);
                }
            }
        }
        if out.value.is_none() {
            r.error(
                e.key.span.to(e.value.span),
                codes::MISSING_KEY,
                format!(
                    "\"value\" is missing at \"{}\" output of workflow_call event",
                    name.value
                ),
            );
        }
        ev.outputs.insert(name.value, out);
    }
}

fn read_call_secrets(r: &mut Reader<'_>, node: &Node, ev: &mut Event) {
    let Some(entries) = r.mapping_or_null(node, "secrets") else {
        return;
    };
    r.check_case_insensitive_duplicates(entries, "secrets");
    for e in entries {
        let Some(name) = r.string(&e.key, "secrets") else {
            continue;
        };
        let mut s = WorkflowCallSecret {
            name: name.clone(),
            description: None,
            required: false,
            span: e.value.span,
        };
        let Some(props) = r.mapping_or_null(&e.value, &name.value) else {
            continue;
        };
        let section = format!("\"{}\" secret of workflow_call event", name.value);
        for (k, p) in r.known_entries(props, &["description", "required"], &section) {
            match k {
                "description" => s.description = r.string(&p.value, k).map(|s| s.value),
                _ => {
                    if let Some(crate::MaybeExpr::Value(b)) = r.bool_or_expr(&p.value, k) {
                        s.required = b.value;
                    }
                }
            }
        }
        ev.secrets.insert(name.value, s);
    }
}
