//! Pieces shared by workflows and jobs: permissions, concurrency, defaults, environments,
//! containers and `runs-on`.

use indexmap::IndexMap;

use crate::contexts;
use crate::diagnostic::codes;
use crate::reader::{Env, Reader};
use crate::span::{Span, Spanned};
use crate::value::{MaybeExpr, TemplateString};
use crate::yaml::{Node, NodeKind};

/// The access level of one permission scope.
///
/// ```
/// assert_eq!(gha_model::PermissionLevel::parse("write"), Some(gha_model::PermissionLevel::Write));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PermissionLevel {
    /// `read`
    Read,
    /// `write`
    Write,
    /// `none`
    None,
}

impl PermissionLevel {
    /// Parse `read` / `write` / `none`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "read" => Some(PermissionLevel::Read),
            "write" => Some(PermissionLevel::Write),
            "none" => Some(PermissionLevel::None),
            _ => None,
        }
    }

    /// The keyword.
    ///
    /// ```
    /// assert_eq!(gha_model::PermissionLevel::Read.as_str(), "read");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            PermissionLevel::Read => "read",
            PermissionLevel::Write => "write",
            PermissionLevel::None => "none",
        }
    }
}

/// The scopes `permissions:` accepts.
pub const PERMISSION_SCOPES: &[&str] = &[
    "actions",
    "artifact-metadata",
    "attestations",
    "checks",
    "code-quality",
    "contents",
    "copilot-requests",
    "deployments",
    "discussions",
    "id-token",
    "issues",
    "models",
    "packages",
    "pages",
    "pull-requests",
    "repository-projects",
    "security-events",
    "statuses",
];

/// `permissions:` for the `GITHUB_TOKEN`, at workflow or job level.
///
/// ```
/// use gha_model::{Permissions, PermissionLevel};
/// let wf = gha_model::Workflow::from_yaml(
///     "on: push\npermissions:\n  contents: read\njobs:\n  a:\n    permissions: write-all\n    runs-on: x\n    steps: [{run: y}]\n",
/// ).unwrap();
/// let Some(Permissions::Scopes(scopes)) = &wf.permissions else { panic!() };
/// assert_eq!(scopes["contents"].value, PermissionLevel::Read);
/// assert!(matches!(wf.jobs[0].permissions, Some(Permissions::WriteAll(_))));
/// ```
#[derive(Clone, Debug, PartialEq)]
pub enum Permissions {
    /// `read-all`
    ReadAll(Span),
    /// `write-all`
    WriteAll(Span),
    /// A map of scope to level; `{}` disables every scope.
    Scopes(IndexMap<String, Spanned<PermissionLevel>>),
}

pub(crate) fn read_permissions(r: &mut Reader<'_>, node: &Node) -> Option<Permissions> {
    if let Some(s) = node.as_scalar() {
        return match s.value.as_str() {
            "read-all" => Some(Permissions::ReadAll(node.span)),
            "write-all" => Some(Permissions::WriteAll(node.span)),
            other => {
                r.error(
                    node.span,
                    codes::PERMISSIONS,
                    format!(
                        "\"{other}\" is invalid for permission for all the scopes. available values are \"read-all\" and \"write-all\""
                    ),
                );
                None
            }
        };
    }
    let entries = r.mapping(node, "permissions")?;
    let mut scopes = IndexMap::new();
    for e in entries {
        let Some(k) = e.key.as_str() else { continue };
        if !PERMISSION_SCOPES.contains(&k) {
            let mut d = crate::Diagnostic::error(
                e.key.span,
                codes::PERMISSIONS,
                format!(
                    "unknown permission scope \"{k}\". all available permission scopes are {}",
                    crate::reader::quote_list(PERMISSION_SCOPES)
                ),
            );
            if let Some(s) = crate::reader::did_you_mean(k, PERMISSION_SCOPES) {
                d = d.with_help(format!("did you mean \"{s}\"?"));
            }
            r.diags.push(d);
            continue;
        }
        let Some(level) = r.string(&e.value, k) else {
            continue;
        };
        match PermissionLevel::parse(&level.value) {
            Some(l) => {
                if k == "id-token" && l == PermissionLevel::Read {
                    r.error(
                        e.value.span,
                        codes::PERMISSIONS,
                        "\"read\" is invalid as permission of scope \"id-token\". available values are \"write\", \"none\"",
                    );
                }
                scopes.insert(k.to_owned(), Spanned::new(l, level.span));
            }
            None => r.error(
                e.value.span,
                codes::PERMISSIONS,
                format!(
                    "\"{}\" is invalid as permission of scope \"{k}\". available values are \"read\", \"write\", \"none\"",
                    level.value
                ),
            ),
        }
    }
    Some(Permissions::Scopes(scopes))
}

/// `concurrency:`, as a group name or a mapping.
///
/// ```
/// let wf = gha_model::Workflow::from_yaml(
///     "on: push\nconcurrency:\n  group: ci-${{ github.ref }}\n  cancel-in-progress: true\njobs: {a: {runs-on: x, steps: [{run: y}]}}\n",
/// ).unwrap();
/// let c = wf.concurrency.as_ref().unwrap();
/// assert_eq!(c.group.as_str(), "ci-${{ github.ref }}");
/// assert!(c.cancel_in_progress.is_some());
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Concurrency {
    /// The group key.
    pub group: TemplateString,
    /// Whether a new run cancels the one in progress.
    pub cancel_in_progress: Option<MaybeExpr<bool>>,
    /// `queue` (how many pending runs a group keeps, e.g. `max`).
    pub queue: Option<TemplateString>,
    /// Where `concurrency:` was written.
    pub span: Span,
}

pub(crate) fn read_concurrency(r: &mut Reader<'_>, node: &Node) -> Option<Concurrency> {
    if node.as_scalar().is_some() {
        let group = r.template(node, "concurrency")?;
        return Some(Concurrency {
            group,
            cancel_in_progress: None,
            queue: None,
            span: node.span,
        });
    }
    let entries = r.mapping(node, "concurrency")?;
    let mut group = None;
    let mut cancel = None;
    let mut queue = None;
    for (k, e) in r.known_entries(
        entries,
        &["group", "cancel-in-progress", "queue"],
        "\"concurrency\" section",
    ) {
        match k {
            "group" => group = r.template(&e.value, "group"),
            "queue" => queue = r.template(&e.value, "queue"),
            _ => cancel = r.bool_or_expr(&e.value, "cancel-in-progress"),
        }
    }
    let Some(group) = group else {
        r.error(
            node.span,
            codes::MISSING_KEY,
            "\"group\" is missing in \"concurrency\" section",
        );
        return None;
    };
    Some(Concurrency {
        group,
        cancel_in_progress: cancel,
        queue,
        span: node.span,
    })
}

/// `defaults:` (only `run` exists).
///
/// ```
/// let wf = gha_model::Workflow::from_yaml(
///     "on: push\ndefaults:\n  run:\n    shell: bash\n    working-directory: src\njobs: {a: {runs-on: x, steps: [{run: y}]}}\n",
/// ).unwrap();
/// let run = wf.defaults.as_ref().unwrap().run.as_ref().unwrap();
/// assert_eq!(run.shell.as_ref().unwrap().as_str(), "bash");
/// assert_eq!(run.working_directory.as_ref().unwrap().as_str(), "src");
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Defaults {
    /// `defaults.run`.
    pub run: Option<RunDefaults>,
    /// Where `defaults:` was written.
    pub span: Span,
}

/// `defaults.run`: the default `shell` and `working-directory` of `run` steps.
///
/// ```
/// let d = gha_model::RunDefaults { shell: None, working_directory: None, span: Default::default() };
/// assert!(d.shell.is_none());
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct RunDefaults {
    /// Default shell.
    pub shell: Option<TemplateString>,
    /// Default working directory.
    pub working_directory: Option<TemplateString>,
    /// Where `run:` was written.
    pub span: Span,
}

pub(crate) fn read_defaults(r: &mut Reader<'_>, node: &Node) -> Option<Defaults> {
    let entries = r.mapping(node, "defaults")?;
    let mut run = None;
    for (_, e) in r.known_entries(entries, &["run"], "\"defaults\" section") {
        let Some(run_entries) = r.mapping(&e.value, "run") else {
            continue;
        };
        let mut d = RunDefaults {
            shell: None,
            working_directory: None,
            span: e.value.span,
        };
        for (k, e) in r.known_entries(
            run_entries,
            &["shell", "working-directory"],
            "\"run\" section",
        ) {
            match k {
                "shell" => d.shell = r.template(&e.value, k),
                _ => d.working_directory = r.template(&e.value, k),
            }
        }
        run = Some(d);
    }
    Some(Defaults {
        run,
        span: node.span,
    })
}

/// `environment:` of a job, as a name or a mapping with `name` and `url`.
///
/// ```
/// let wf = gha_model::Workflow::from_yaml(
///     "on: push\njobs:\n  a:\n    runs-on: x\n    environment: {name: prod, url: 'https://x'}\n    steps: [{run: y}]\n",
/// ).unwrap();
/// let env = wf.jobs[0].environment.as_ref().unwrap();
/// assert_eq!(env.name.as_ref().unwrap().as_str(), "prod");
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Environment {
    /// Environment name.
    pub name: Option<TemplateString>,
    /// Deployment URL.
    pub url: Option<TemplateString>,
    /// `deployment: false` skips creating a deployment.
    pub deployment: Option<MaybeExpr<bool>>,
    /// Where `environment:` was written.
    pub span: Span,
}

pub(crate) fn read_environment(r: &mut Reader<'_>, node: &Node) -> Option<Environment> {
    if node.as_scalar().is_some() {
        return Some(Environment {
            name: r.template(node, "environment"),
            url: None,
            deployment: None,
            span: node.span,
        });
    }
    let entries = r.mapping(node, "environment")?;
    let mut env = Environment {
        name: None,
        url: None,
        deployment: None,
        span: node.span,
    };
    for (k, e) in r.known_entries(
        entries,
        &["name", "url", "deployment"],
        "\"environment\" section",
    ) {
        match k {
            "name" => env.name = r.template(&e.value, k),
            "url" => {
                r.set_ctx(&contexts::ENVIRONMENT_URL);
                env.url = r.template(&e.value, k);
                r.set_ctx(&contexts::JOB);
            }
            _ => env.deployment = r.bool_or_expr(&e.value, k),
        }
    }
    if env.name.is_none() {
        r.error(
            node.span,
            codes::MISSING_KEY,
            "Required property is missing: name (\"environment\" needs a \"name\")",
        );
    }
    Some(env)
}

/// `runs-on:` — labels, a runner group, or both. A single string is one label; a label that
/// is a whole `${{ }}` expression may evaluate to a list of labels.
///
/// ```
/// let wf = gha_model::Workflow::from_yaml(
///     "on: push\njobs:\n  a:\n    runs-on: [self-hosted, linux]\n    steps: [{run: y}]\n  b:\n    runs-on: {group: big, labels: gpu}\n    steps: [{run: y}]\n",
/// ).unwrap();
/// let a = wf.jobs[0].runs_on.as_ref().unwrap();
/// assert_eq!(a.labels.iter().map(|l| l.as_str()).collect::<Vec<_>>(), ["self-hosted", "linux"]);
/// let b = wf.jobs[1].runs_on.as_ref().unwrap();
/// assert_eq!(b.group.as_ref().unwrap().as_str(), "big");
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct RunsOn {
    /// Runner labels.
    pub labels: Vec<TemplateString>,
    /// Runner group.
    pub group: Option<TemplateString>,
    /// Where `runs-on:` was written.
    pub span: Span,
}

pub(crate) fn read_runs_on(r: &mut Reader<'_>, node: &Node) -> Option<RunsOn> {
    match &node.kind {
        NodeKind::Scalar(_) => {
            let t = r.template(node, "runs-on")?;
            if t.raw.is_empty() {
                r.error(
                    node.span,
                    codes::INVALID_VALUE,
                    "\"runs-on\" should not be empty",
                );
            }
            Some(RunsOn {
                labels: vec![t],
                group: None,
                span: node.span,
            })
        }
        NodeKind::Sequence(_) => Some(RunsOn {
            labels: r.template_list(node, "runs-on", false)?,
            group: None,
            span: node.span,
        }),
        NodeKind::Mapping(entries) => {
            let mut ro = RunsOn {
                labels: Vec::new(),
                group: None,
                span: node.span,
            };
            for (k, e) in r.known_entries(entries, &["group", "labels"], "\"runs-on\" section") {
                match k {
                    "group" => {
                        if let Some(g) = r.template(&e.value, k) {
                            if g.is_literal()
                                && let Some((prefix, rest)) = g.raw.split_once('/')
                            {
                                if rest.is_empty() {
                                    r.error(
                                        e.value.span,
                                        codes::INVALID_VALUE,
                                        format!("Invalid runs-on group name '{}'.", g.raw),
                                    );
                                } else if !matches!(
                                    prefix,
                                    "organization" | "enterprise" | "org" | "ent"
                                ) || rest.contains('/')
                                {
                                    r.error(
                                        e.value.span,
                                        codes::INVALID_VALUE,
                                        format!(
                                            "Invalid runs-on group name '{}'. Please use 'organization/' or 'enterprise/' prefix to target a single runner group.",
                                            g.raw
                                        ),
                                    );
                                }
                            }
                            ro.group = Some(g);
                        }
                    }
                    _ => ro.labels = r.template_list(&e.value, k, true).unwrap_or_default(),
                }
            }
            Some(ro)
        }
    }
}

/// A container for a job (`container:`) or a service (`services.<id>`).
///
/// ```
/// let wf = gha_model::Workflow::from_yaml(
///     "on: push\njobs:\n  a:\n    runs-on: x\n    container: node:20\n    services:\n      db:\n        image: postgres\n        ports: ['5432:5432']\n    steps: [{run: y}]\n",
/// ).unwrap();
/// let job = &wf.jobs[0];
/// assert_eq!(job.container.as_ref().unwrap().image.as_ref().unwrap().as_str(), "node:20");
/// assert_eq!(job.services["db"].ports[0].as_str(), "5432:5432");
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Container {
    /// Image reference (may be an expression; empty disables a service).
    pub image: Option<TemplateString>,
    /// Registry credentials.
    pub credentials: Option<Credentials>,
    /// Environment variables.
    pub env: Option<Env>,
    /// Published ports.
    pub ports: Vec<TemplateString>,
    /// Volume mounts.
    pub volumes: Vec<TemplateString>,
    /// Extra `docker create` options.
    pub options: Option<TemplateString>,
    /// Where the container was written.
    pub span: Span,
}

/// Registry credentials of a [`Container`].
///
/// ```
/// let c = gha_model::Credentials { username: None, password: None, span: Default::default() };
/// assert!(c.username.is_none());
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Credentials {
    /// User name.
    pub username: Option<TemplateString>,
    /// Password or token.
    pub password: Option<TemplateString>,
    /// Where `credentials:` was written.
    pub span: Span,
}

pub(crate) fn read_container(r: &mut Reader<'_>, node: &Node, what: &str) -> Option<Container> {
    let mut c = Container {
        image: None,
        credentials: None,
        env: None,
        ports: Vec::new(),
        volumes: Vec::new(),
        options: None,
        span: node.span,
    };
    if node.as_scalar().is_some() {
        c.image = r.template(node, what);
        return Some(c);
    }
    let entries = r.mapping(node, what)?;
    let section = format!("\"{what}\" section");
    for (k, e) in r.known_entries(
        entries,
        &["image", "credentials", "env", "ports", "volumes", "options"],
        &section,
    ) {
        r.set_ctx(match k {
            "credentials" => &contexts::JOB_SECRETS,
            "env" => &contexts::CONTAINER_ENV,
            _ => &contexts::JOB,
        });
        match k {
            "image" => {
                c.image = r.template(&e.value, k);
                if c.image.as_ref().is_some_and(|i| i.raw.is_empty()) {
                    r.error(
                        e.value.span,
                        codes::INVALID_VALUE,
                        format!("Unexpected value '': \"image\" of \"{what}\" must not be empty"),
                    );
                }
            }
            "credentials" => {
                let Some(ce) = r.mapping(&e.value, k) else {
                    continue;
                };
                let mut cred = Credentials {
                    username: None,
                    password: None,
                    span: e.value.span,
                };
                for (k, e) in
                    r.known_entries(ce, &["username", "password"], "\"credentials\" section")
                {
                    match k {
                        "username" => cred.username = r.template(&e.value, k),
                        _ => {
                            cred.password = r.template(&e.value, k);
                            if cred
                                .password
                                .as_ref()
                                .is_some_and(|p| p.is_literal() && !p.raw.is_empty())
                            {
                                r.warning(
                                    e.value.span,
                                    codes::CREDENTIALS,
                                    format!("\"password\" in \"{what}\" section should be specified via secrets. do not put password value directly"),
                                );
                            }
                        }
                    }
                }
                c.credentials = Some(cred);
            }
            "env" => c.env = r.env(&e.value, k),
            "ports" => c.ports = r.template_list(&e.value, k, false).unwrap_or_default(),
            "volumes" => c.volumes = r.template_list(&e.value, k, false).unwrap_or_default(),
            _ => c.options = r.template(&e.value, k),
        }
    }
    if c.image.is_none() {
        r.error(
            node.span,
            codes::MISSING_KEY,
            format!("\"image\" is missing in \"{what}\" section"),
        );
    }
    Some(c)
}
