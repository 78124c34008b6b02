//! Checks across files for reusable-workflow calls (`jobs.<id>.uses`), as GitHub applies them
//! when it expands a workflow: inputs and secrets the called workflow defines, input types,
//! permissions the called jobs request versus what the caller grants, nesting depth and the job
//! limit.
//!
//! The crate does no I/O: [`expand`] asks a loader callback for each called workflow's text
//! (`None`: not available, the call is not checked; `Some(Err(message))`: it should exist but
//! cannot be read, an error at the `uses:`).
//!
//! ```
//! use gha_model::reusable::{expand, Loaded, Options};
//! let caller = gha_model::Workflow::from_yaml(
//!     "on: push\njobs:\n  deploy:\n    uses: ./.github/workflows/deploy.yml\n    with:\n      foo: bar\n",
//! ).unwrap();
//! let load = |uses: &str| {
//!     (uses == "./.github/workflows/deploy.yml").then(|| Ok(Loaded {
//!         path: ".github/workflows/deploy.yml".into(),
//!         text: "on: workflow_call\njobs:\n  a:\n    runs-on: x\n    steps: [{run: y}]\n".into(),
//!     }))
//! };
//! let out = expand(&caller, ".github/workflows/ci.yml", &Options::default(), &load);
//! let d = &out.diagnostics[0];
//! assert_eq!(d.message, "Invalid input, foo is not defined in the referenced workflow.");
//! assert_eq!(d.file.as_deref(), Some(".github/workflows/ci.yml"));
//! assert_eq!((d.span.start_pos.line, d.span.start_pos.column), (6, 12));
//! assert_eq!(out.calls[0].workflow.jobs[0].id.value, "a");
//! ```

use indexmap::IndexMap;

use crate::diagnostic::codes;
use crate::workflow::{
    CallSecrets, Event, InputType, Job, PermissionLevel, Permissions, Workflow, WorkflowCall,
};
use crate::{Diagnostic, MaybeExpr, Span};

/// The text of a called workflow, as returned by the loader callback of [`expand`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Loaded {
    /// The name diagnostics in this file carry (a path, or the `uses:` reference).
    pub path: String,
    /// The file's contents.
    pub text: String,
}

/// The default `GITHUB_TOKEN` permissions of the repository (Settings → Actions → Workflow
/// permissions), which a caller without `permissions:` grants to the workflows it calls.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PermissionsPolicy {
    /// "Read repository contents and packages permissions": `contents: read`,
    /// `packages: read`, every other scope `none`.
    LimitedRead,
    /// "Read and write permissions": every scope `write`.
    Write,
}

/// Limits and repository settings for [`expand`].
///
/// ```
/// let o = gha_model::reusable::Options::default();
/// assert_eq!(o.max_depth, 9);
/// assert!(o.max_jobs.is_none() && o.permissions_policy.is_none());
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Options {
    /// How many levels of called workflows below the top-level workflow are allowed
    /// (GitHub: ten levels of workflows in all, so 9).
    pub max_depth: usize,
    /// At most this many jobs in the expanded workflow (calling jobs included), if limited.
    pub max_jobs: Option<usize>,
    /// The repository's default token permissions; `None` when unknown, in which case a
    /// caller without `permissions:` is not checked.
    pub permissions_policy: Option<PermissionsPolicy>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            max_depth: 9,
            max_jobs: None,
            permissions_policy: None,
        }
    }
}

/// One expanded call: the job that calls, and the workflow it calls (with its own calls).
#[derive(Clone, Debug, PartialEq)]
pub struct Call {
    /// The id of the calling job (in its own file).
    pub job_id: String,
    /// The `uses:` reference as written.
    pub uses: String,
    /// The called file's name, as the loader returned it.
    pub path: String,
    /// The called file's text.
    pub text: String,
    /// The called workflow.
    pub workflow: Workflow,
    /// The `GITHUB_TOKEN` permissions of the calling job as GitHub computes them: those the
    /// called workflow declares, else the calling job's, else those its workflow has.
    pub permissions: Option<Permissions>,
    /// Calls made by the called workflow's jobs, in job order.
    pub calls: Vec<Call>,
}

/// What [`expand`] found.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Expansion {
    /// The calls of the top-level workflow whose callee could be loaded, in job order.
    pub calls: Vec<Call>,
    /// Errors, each with its file (the caller's name for problems at a call).
    pub diagnostics: Vec<Diagnostic>,
}

/// GitHub's order of scopes in its messages and in `read-all`/`write-all`.
const GITHUB_SCOPE_ORDER: &[&str] = &[
    "actions",
    "checks",
    "contents",
    "deployments",
    "discussions",
    "issues",
    "packages",
    "pages",
    "pull-requests",
    "repository-projects",
    "statuses",
    "security-events",
    "id-token",
];

/// Expand the reusable-workflow calls of `caller` (named `caller_file` in diagnostics) and
/// check them across files. `load` returns a called workflow's text for a `uses:` reference,
/// `None` when it is not available (that call is then not checked, e.g. a remote workflow
/// when offline), or `Some(Err(message))` when it cannot be read (reported at the `uses:`).
pub fn expand(
    caller: &Workflow,
    caller_file: &str,
    options: &Options,
    load: &dyn Fn(&str) -> Option<Result<Loaded, String>>,
) -> Expansion {
    let mut cx = Cx {
        options,
        load,
        diagnostics: Vec::new(),
        depth_reported: false,
        expanded: 0,
    };
    let calls = cx.calls_of(caller, caller_file, caller.permissions.as_ref(), 1);
    if let Some(max) = options.max_jobs {
        let n = caller.jobs.len() + calls.iter().map(count_jobs).sum::<usize>();
        if n > max {
            cx.diagnostics.push(
                Diagnostic::error(
                    caller.span,
                    codes::REUSABLE,
                    format!("The workflow may not contain more than {max} jobs"),
                )
                .with_file(caller_file),
            );
        }
    }
    Expansion {
        calls,
        diagnostics: cx.diagnostics,
    }
}

fn count_jobs(c: &Call) -> usize {
    c.workflow.jobs.len() + c.calls.iter().map(count_jobs).sum::<usize>()
}

struct Cx<'a> {
    options: &'a Options,
    load: &'a dyn Fn(&str) -> Option<Result<Loaded, String>>,
    diagnostics: Vec<Diagnostic>,
    depth_reported: bool,
    /// Calls expanded so far, bounded by [`MAX_EXPANDED_CALLS`].
    expanded: usize,
}

/// A guard against pathological fan-out (every level calling many workflows): no more calls
/// than this are expanded in all.
const MAX_EXPANDED_CALLS: usize = 10_000;

impl Cx<'_> {
    /// The calls made by `wf`'s jobs; `wf_permissions` are the permissions `wf`'s jobs get
    /// when they declare none; `depth` is the level of the workflows they call.
    fn calls_of(
        &mut self,
        wf: &Workflow,
        file: &str,
        wf_permissions: Option<&Permissions>,
        depth: usize,
    ) -> Vec<Call> {
        let mut out = Vec::new();
        for job in &wf.jobs {
            let Some(call) = &job.call else { continue };
            if depth > self.options.max_depth {
                if !self.depth_reported {
                    self.depth_reported = true;
                    self.diagnostics.push(
                        Diagnostic::error(
                            call.uses.span,
                            codes::REUSABLE,
                            format!(
                                "Nested reusable workflow depth exceeded {}.",
                                self.options.max_depth
                            ),
                        )
                        .with_file(file),
                    );
                }
                continue;
            }
            if self.expanded >= MAX_EXPANDED_CALLS {
                break;
            }
            self.expanded += 1;
            let loaded = match (self.load)(&call.uses.value) {
                None => continue,
                Some(Err(message)) => {
                    self.diagnostics.push(
                        Diagnostic::error(call.uses.span, codes::REUSABLE, message).with_file(file),
                    );
                    continue;
                }
                Some(Ok(loaded)) => loaded,
            };
            let (callee, diags) = Workflow::load(&loaded.text);
            let errors: Vec<Diagnostic> = diags
                .into_iter()
                .filter(Diagnostic::is_error)
                .map(|d| d.with_file(&loaded.path))
                .collect();
            let failed = !errors.is_empty();
            self.diagnostics.extend(errors);
            let Some(callee) = callee.filter(|_| !failed) else {
                continue;
            };
            let Some(trigger) = callee.on.workflow_call() else {
                self.diagnostics.push(
                    Diagnostic::error(
                        call.uses.span,
                        codes::REUSABLE,
                        format!(
                            "{}: workflow_call key is not defined in the referenced workflow.",
                            call.uses.value
                        ),
                    )
                    .with_file(file),
                );
                continue;
            };
            self.check_arguments(call, trigger, file);
            // Permissions.
            let granted = job.permissions.as_ref().or(wf_permissions);
            self.check_permissions(job, &call.uses.value, &callee, granted, file);
            let permissions = callee.permissions.clone().or_else(|| granted.cloned());
            let calls = self.calls_of(&callee, &loaded.path, permissions.as_ref(), depth + 1);
            out.push(Call {
                job_id: job.id.value.clone(),
                uses: call.uses.value.clone(),
                path: loaded.path,
                text: loaded.text,
                workflow: callee,
                permissions,
                calls,
            });
        }
        out
    }

    /// The caller's `with:` and `secrets:` against the called workflow's `on.workflow_call`.
    fn check_arguments(&mut self, call: &WorkflowCall, trigger: &Event, file: &str) {
        let err =
            |span: Span, msg: String| Diagnostic::error(span, codes::REUSABLE, msg).with_file(file);
        // Inputs and secrets: names are case-insensitive.
        for (name, input) in &trigger.inputs {
            if input.required && input.default.is_none() && !has_name(call.with.keys(), name) {
                self.diagnostics.push(err(
                    call.uses.span,
                    format!("Input {name} is required, but not provided while calling."),
                ));
            }
        }
        for (name, value) in &call.with {
            let input = trigger
                .inputs
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, i)| i);
            let Some(input) = input else {
                self.diagnostics.push(err(
                    value.span(),
                    format!("Invalid input, {name} is not defined in the referenced workflow."),
                ));
                continue;
            };
            let MaybeExpr::Value(v) = value else { continue };
            let ty = input.input_type.as_ref().map(|t| t.value);
            let ok = match ty {
                Some(InputType::Boolean) => v.value.is_boolean(),
                Some(InputType::Number) => v.value.is_number(),
                _ => !v.value.is_object() && !v.value.is_array(),
            };
            if !ok {
                let shown = match &v.value {
                    serde_json::Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                self.diagnostics
                    .push(err(v.span, format!("Unexpected value '{shown}'")));
            }
        }
        // Secrets.
        if let Some(CallSecrets::Map(given)) = &call.secrets {
            for (name, value) in given {
                if !has_name(trigger.secrets.keys(), name) {
                    self.diagnostics.push(err(
                        value.span,
                        format!(
                            "Invalid secret, {name} is not defined in the referenced workflow."
                        ),
                    ));
                }
            }
        }
        if !matches!(call.secrets, Some(CallSecrets::Inherit(_))) {
            let given = match &call.secrets {
                Some(CallSecrets::Map(m)) => Some(m),
                _ => None,
            };
            for (name, secret) in &trigger.secrets {
                if secret.required && !given.is_some_and(|g| has_name(g.keys(), name)) {
                    self.diagnostics.push(err(
                        call.uses.span,
                        format!("Secret {name} is required, but not provided while calling."),
                    ));
                }
            }
        }
    }

    /// What the called workflow and its jobs request must not exceed what the calling job
    /// grants (its own `permissions`, else its workflow's, else the repository default).
    fn check_permissions(
        &mut self,
        job: &Job,
        uses: &str,
        callee: &Workflow,
        granted: Option<&Permissions>,
        file: &str,
    ) {
        let allowed: Vec<(String, PermissionLevel)> =
            match (granted, self.options.permissions_policy) {
                (Some(p), _) => levels(p),
                (None, Some(PermissionsPolicy::LimitedRead)) => GITHUB_SCOPE_ORDER
                    .iter()
                    .map(|s| {
                        let l = if matches!(*s, "contents" | "packages") {
                            PermissionLevel::Read
                        } else {
                            PermissionLevel::None
                        };
                        ((*s).to_owned(), l)
                    })
                    .collect(),
                (None, Some(PermissionsPolicy::Write)) | (None, None) => return,
            };
        let mut requests: Vec<(String, &Permissions)> = Vec::new();
        if let Some(p) = &callee.permissions {
            requests.push((format!("The workflow '{uses}'"), p));
        }
        for j in &callee.jobs {
            if let Some(p) = &j.permissions {
                let name = j
                    .name
                    .as_ref()
                    .filter(|n| !n.raw.contains("${{"))
                    .map_or(j.id.value.as_str(), |n| n.raw.as_str());
                requests.push((format!("The nested job '{name}'"), p));
            }
        }
        for (who, requested) in requests {
            let mut over = Vec::new();
            let mut limit = Vec::new();
            for (scope, level) in levels(requested) {
                let has = allowed
                    .iter()
                    .find(|(s, _)| *s == scope)
                    .map_or(PermissionLevel::None, |(_, l)| *l);
                if rank(level) > rank(has) {
                    over.push(format!("{scope}: {}", level.as_str()));
                    limit.push(format!("{scope}: {}", has.as_str()));
                }
            }
            if !over.is_empty() {
                self.diagnostics.push(
                    Diagnostic::error(
                        job.id.span,
                        codes::PERMISSIONS,
                        format!(
                            "Error calling workflow '{uses}'. {who} is requesting '{}', but is only allowed '{}'.",
                            over.join(", "),
                            limit.join(", ")
                        ),
                    )
                    .with_file(file),
                );
            }
        }
    }
}

/// Whether `names` has `name`, ignoring ASCII case (input and secret names are
/// case-insensitive).
fn has_name<'a>(mut names: impl Iterator<Item = &'a String>, name: &str) -> bool {
    names.any(|k| k.eq_ignore_ascii_case(name))
}

fn rank(l: PermissionLevel) -> u8 {
    match l {
        PermissionLevel::None => 0,
        PermissionLevel::Read => 1,
        PermissionLevel::Write => 2,
    }
}

/// Every scope a `permissions:` value sets, in GitHub's order (scopes GitHub's list does not
/// have yet follow, in the order of [`crate::workflow::PERMISSION_SCOPES`]).
fn levels(p: &Permissions) -> Vec<(String, PermissionLevel)> {
    match p {
        Permissions::ReadAll(_) | Permissions::WriteAll(_) => {
            let l = if matches!(p, Permissions::ReadAll(_)) {
                PermissionLevel::Read
            } else {
                PermissionLevel::Write
            };
            GITHUB_SCOPE_ORDER
                .iter()
                .map(|s| ((*s).to_owned(), l))
                .collect()
        }
        Permissions::Scopes(scopes) => {
            let order = |s: &str| {
                GITHUB_SCOPE_ORDER.iter().position(|x| *x == s).unwrap_or(
                    GITHUB_SCOPE_ORDER.len()
                        + crate::workflow::PERMISSION_SCOPES
                            .iter()
                            .position(|x| *x == s)
                            .unwrap_or(usize::MAX / 2),
                )
            };
            let mut v: Vec<(String, PermissionLevel)> = scopes
                .iter()
                .map(|(k, l)| (k.clone(), l.value))
                .collect::<IndexMap<_, _>>()
                .into_iter()
                .collect();
            v.sort_by_key(|(s, _)| order(s));
            v
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STEPS: &str = "    runs-on: x\n    steps: [{run: y}]\n";

    fn run(caller: &str, files: &[(&str, &str)], options: &Options) -> Expansion {
        let wf = Workflow::from_yaml(caller).unwrap();
        let files: Vec<(String, String)> = files
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let load = |uses: &str| {
            if uses == "./missing.yml" {
                return Some(Err("no such file".to_owned()));
            }
            files.iter().find(|(k, _)| k == uses).map(|(k, v)| {
                Ok(Loaded {
                    path: format!("{k}.path"),
                    text: v.clone(),
                })
            })
        };
        expand(&wf, "caller.yml", options, &load)
    }

    fn messages(e: &Expansion) -> Vec<String> {
        e.diagnostics
            .iter()
            .map(|d| {
                format!(
                    "{}:{}:{}: {}",
                    d.file.as_deref().unwrap_or("?"),
                    d.span.start_pos.line,
                    d.span.start_pos.column,
                    d.message
                )
            })
            .collect()
    }

    #[test]
    fn a_callee_without_workflow_call_is_not_reusable() {
        let callee = format!("on: push\njobs:\n  a:\n{STEPS}");
        let e = run(
            "on: push\njobs:\n  c:\n    uses: ./w.yml\n",
            &[("./w.yml", &callee)],
            &Options::default(),
        );
        assert_eq!(
            messages(&e),
            [
                "caller.yml:4:11: ./w.yml: workflow_call key is not defined in the referenced workflow."
            ]
        );
        assert!(e.calls.is_empty());
    }

    #[test]
    fn a_required_input_with_a_default_need_not_be_given() {
        let callee = format!(
            "on:\n  workflow_call:\n    inputs:\n      a: {{required: true, type: string, default: x}}\n      b: {{required: true, type: number}}\njobs:\n  j:\n{STEPS}"
        );
        let e = run(
            "on: push\njobs:\n  c:\n    uses: ./w.yml\n",
            &[("./w.yml", &callee)],
            &Options::default(),
        );
        assert_eq!(
            messages(&e),
            ["caller.yml:4:11: Input b is required, but not provided while calling."]
        );
        // Names are case-insensitive, as at run time.
        let e = run(
            "on: push\njobs:\n  c:\n    uses: ./w.yml\n    with: {B: 1}\n",
            &[("./w.yml", &callee)],
            &Options::default(),
        );
        assert!(e.diagnostics.is_empty(), "{:?}", messages(&e));
    }

    #[test]
    fn errors_inside_the_callee_name_the_callee() {
        let e = run(
            "on: push\njobs:\n  c:\n    uses: ./w.yml\n",
            &[(
                "./w.yml",
                "on: workflow_call\njobs:\n  j:\n    runs-on: x\n    stesp: []\n",
            )],
            &Options::default(),
        );
        assert_eq!(e.diagnostics.len(), 1, "{:?}", messages(&e));
        assert_eq!(e.diagnostics[0].file.as_deref(), Some("./w.yml.path"));
        assert_eq!(e.diagnostics[0].code, codes::UNKNOWN_KEY);
        assert_eq!(e.diagnostics[0].span.start_pos.line, 5);
    }

    #[test]
    fn unresolved_calls_are_skipped_and_expressions_are_not_typed() {
        let callee = format!(
            "on:\n  workflow_call:\n    inputs:\n      n: {{type: number}}\n    secrets:\n      s: {{required: true}}\njobs:\n  j:\n{STEPS}"
        );
        let e = run(
            "on: push\njobs:\n  remote:\n    uses: o/r/.github/workflows/x.yml@v1\n  c:\n    uses: ./w.yml\n    with:\n      n: ${{ github.run_number }}\n    secrets: inherit\n  gone:\n    uses: ./missing.yml\n",
            &[("./w.yml", &callee)],
            &Options::default(),
        );
        // Only the file the loader says cannot be read is an error.
        assert_eq!(messages(&e), ["caller.yml:11:11: no such file"]);
        assert_eq!(e.calls.len(), 1);
        assert_eq!(e.calls[0].job_id, "c");
        assert_eq!(e.calls[0].path, "./w.yml.path");
    }

    #[test]
    fn depth_is_reported_once_and_the_job_limit_counts_calling_jobs() {
        // w.yml calls itself: every level is one deeper.
        let callee = "on: workflow_call\njobs:\n  again:\n    uses: ./w.yml\n";
        let options = Options {
            max_depth: 3,
            max_jobs: Some(3),
            ..Options::default()
        };
        let e = run(
            "on: push\njobs:\n  c:\n    uses: ./w.yml\n",
            &[("./w.yml", callee)],
            &options,
        );
        assert_eq!(
            messages(&e),
            [
                "./w.yml.path:4:11: Nested reusable workflow depth exceeded 3.",
                "caller.yml:1:1: The workflow may not contain more than 3 jobs",
            ]
        );
        // c → w (again) → w (again) → w (again, not followed): 4 jobs.
        assert_eq!(e.calls[0].calls[0].calls.len(), 1);
        assert!(e.calls[0].calls[0].calls[0].calls.is_empty());
    }

    #[test]
    fn permissions_within_the_grant_pass_and_are_inherited() {
        let callee =
            format!("on: workflow_call\njobs:\n  j:\n    permissions: {{contents: read}}\n{STEPS}");
        let e = run(
            "on: push\npermissions: read-all\njobs:\n  c:\n    uses: ./w.yml\n",
            &[("./w.yml", &callee)],
            &Options {
                permissions_policy: Some(PermissionsPolicy::LimitedRead),
                ..Options::default()
            },
        );
        assert!(e.diagnostics.is_empty(), "{:?}", messages(&e));
        assert!(matches!(
            e.calls[0].permissions,
            Some(Permissions::ReadAll(_))
        ));
        // Without a grant and with an unknown repository policy, nothing is checked.
        let callee = format!("on: workflow_call\npermissions: write-all\njobs:\n  j:\n{STEPS}");
        let e = run(
            "on: push\njobs:\n  c:\n    uses: ./w.yml\n",
            &[("./w.yml", &callee)],
            &Options::default(),
        );
        assert!(e.diagnostics.is_empty(), "{:?}", messages(&e));
    }
}

#[cfg(test)]
mod fan_out {
    use super::*;

    #[test]
    fn fan_out_is_bounded() {
        // Ten jobs, each calling the same workflow again: 10^9 calls at depth 9 unbounded.
        let mut callee = String::from("on: workflow_call\njobs:\n");
        for i in 0..10 {
            callee.push_str(&format!("  j{i}:\n    uses: ./w.yml\n"));
        }
        let wf = Workflow::from_yaml("on: push\njobs:\n  c:\n    uses: ./w.yml\n").unwrap();
        let count = std::cell::Cell::new(0usize);
        let load = |_: &str| {
            count.set(count.get() + 1);
            Some(Ok(Loaded {
                path: "w.yml".into(),
                text: callee.clone(),
            }))
        };
        let e = expand(&wf, "c.yml", &Options::default(), &load);
        assert_eq!(count.get(), MAX_EXPANDED_CALLS);
        assert!(e.diagnostics.iter().all(|d| d.message.contains("depth")));
    }
}
