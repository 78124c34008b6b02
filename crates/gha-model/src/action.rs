//! Action metadata files (`action.yml` / `action.yaml`).

use indexmap::IndexMap;

use crate::diagnostic::{Diagnostic, codes};
use crate::reader::{Env, Reader};
use crate::span::{Span, Spanned};
use crate::value::{IfCondition, TemplateString};
use crate::workflow::{Step, read_steps};
use crate::yaml::{self, Node};

/// An action's metadata: inputs, outputs and how it runs.
///
/// ```
/// let action = gha_model::Action::from_yaml(
///     "name: Hello\ndescription: Greets\ninputs:\n  who:\n    default: world\n    required: false\nruns:\n  using: node20\n  main: dist/index.js\n  post: dist/cleanup.js\n  post-if: always()\n",
/// ).unwrap();
/// assert_eq!(action.name.as_ref().unwrap().value, "Hello");
/// assert_eq!(action.inputs["who"].default.as_ref().unwrap().as_str(), "world");
/// let gha_model::Runs::Node { using, main, post, .. } = &action.runs else { panic!() };
/// assert_eq!(using.value, "node20");
/// assert_eq!(main.value, "dist/index.js");
/// assert_eq!(post.as_ref().unwrap().value, "dist/cleanup.js");
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Action {
    /// `name`.
    pub name: Option<Spanned<String>>,
    /// `author`.
    pub author: Option<Spanned<String>>,
    /// `description`.
    pub description: Option<Spanned<String>>,
    /// `inputs`, in file order.
    pub inputs: IndexMap<String, ActionInput>,
    /// `outputs`, in file order.
    pub outputs: IndexMap<String, ActionOutput>,
    /// `runs`.
    pub runs: Runs,
    /// `branding`.
    pub branding: Option<Branding>,
    /// Warnings found while loading.
    pub warnings: Vec<Diagnostic>,
    /// The whole document.
    pub span: Span,
}

/// An action input.
///
/// ```
/// let a = gha_model::Action::from_yaml("name: x\ndescription: y\ninputs:\n  token:\n    required: true\n    deprecationMessage: use app-token\nruns: {using: node24, main: i.js}\n").unwrap();
/// assert!(a.inputs["token"].required);
/// assert_eq!(a.inputs["token"].deprecation_message.as_deref(), Some("use app-token"));
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct ActionInput {
    /// Input id.
    pub name: Spanned<String>,
    /// `description`.
    pub description: Option<String>,
    /// `required`.
    pub required: bool,
    /// `default` (may use `${{ }}`, e.g. `${{ github.token }}`).
    pub default: Option<TemplateString>,
    /// `deprecationMessage`.
    pub deprecation_message: Option<String>,
    /// Where it was written.
    pub span: Span,
}

/// An action output (`value` only for composite actions).
///
/// ```
/// let a = gha_model::Action::from_yaml("name: x\ndescription: y\noutputs:\n  v:\n    value: ${{ steps.s.outputs.v }}\nruns:\n  using: composite\n  steps: [{id: s, run: echo, shell: bash}]\n").unwrap();
/// assert!(a.outputs["v"].value.is_some());
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct ActionOutput {
    /// Output id.
    pub name: Spanned<String>,
    /// `description`.
    pub description: Option<String>,
    /// `value` (composite actions).
    pub value: Option<TemplateString>,
    /// Where it was written.
    pub span: Span,
}

/// `runs:` — how the action executes.
///
/// ```
/// let a = gha_model::Action::from_yaml("name: x\ndescription: y\nruns:\n  using: docker\n  image: docker://alpine:3\n  entrypoint: /bin/sh\n  args: [-c, 'echo hi']\n").unwrap();
/// let gha_model::Runs::Docker { image, args, .. } = &a.runs else { panic!() };
/// assert_eq!(image.value, "docker://alpine:3");
/// assert_eq!(args.len(), 2);
/// ```
#[derive(Clone, Debug, PartialEq)]
#[allow(clippy::large_enum_variant)] // one per action; boxing would only complicate matching
pub enum Runs {
    /// A JavaScript action (`node12`, `node16`, `node20`, `node24`).
    Node {
        /// The runtime.
        using: Spanned<String>,
        /// Entry point.
        main: Spanned<String>,
        /// Script run before the job's steps.
        pre: Option<Spanned<String>>,
        /// Condition for `pre`.
        pre_if: Option<IfCondition>,
        /// Script run after the job's steps.
        post: Option<Spanned<String>>,
        /// Condition for `post`.
        post_if: Option<IfCondition>,
    },
    /// A composite action.
    Composite {
        /// The steps.
        steps: Vec<Step>,
    },
    /// A Docker container action.
    Docker {
        /// `Dockerfile` (a path) or `docker://image`.
        image: Spanned<String>,
        /// Overrides the image's `ENTRYPOINT`.
        entrypoint: Option<TemplateString>,
        /// Arguments.
        args: Vec<TemplateString>,
        /// Environment variables.
        env: Option<Env>,
        /// Entry point run before the job's steps.
        pre_entrypoint: Option<TemplateString>,
        /// Condition for `pre-entrypoint`.
        pre_if: Option<IfCondition>,
        /// Entry point run after the job's steps.
        post_entrypoint: Option<TemplateString>,
        /// Condition for `post-entrypoint`.
        post_if: Option<IfCondition>,
    },
    /// `runs` could not be read (only in a model that had errors).
    Invalid,
}

/// `branding:` for the Marketplace.
///
/// ```
/// let a = gha_model::Action::from_yaml("name: x\ndescription: y\nbranding: {icon: zap, color: blue}\nruns: {using: node24, main: i.js}\n").unwrap();
/// assert_eq!(a.branding.unwrap().icon.unwrap().value, "zap");
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Branding {
    /// Feather icon name.
    pub icon: Option<Spanned<String>>,
    /// Background colour.
    pub color: Option<Spanned<String>>,
}

/// The runtimes `runs.using` accepts for JavaScript actions.
pub const NODE_RUNTIMES: &[&str] = &["node12", "node16", "node20", "node24"];

const NODE_KEYS: &[&str] = &["using", "main", "pre", "pre-if", "post", "post-if"];
const DOCKER_KEYS: &[&str] = &[
    "using",
    "image",
    "entrypoint",
    "args",
    "env",
    "pre-entrypoint",
    "pre-if",
    "post-entrypoint",
    "post-if",
];
const COMPOSITE_KEYS: &[&str] = &["using", "steps"];

impl Action {
    /// Load and validate action metadata. Returns all errors on failure.
    ///
    /// ```
    /// let errs = gha_model::Action::from_yaml("name: x\nruns:\n  using: node99\n  main: a.js\n").unwrap_err();
    /// assert!(errs.iter().any(|d| d.message.contains("node99")));
    /// ```
    pub fn from_yaml(src: &str) -> Result<Action, Vec<Diagnostic>> {
        let (a, diags) = Action::load(src);
        match a {
            Some(a) if !diags.iter().any(Diagnostic::is_error) => Ok(Action {
                warnings: diags,
                ..a
            }),
            _ => Err(diags),
        }
    }

    /// Load as far as possible, returning the model (if the YAML could be read) and every
    /// diagnostic.
    ///
    /// ```
    /// let (a, diags) = gha_model::Action::load("name: x\ndescription: y\nruns: {using: node20}\n");
    /// assert!(a.is_some());
    /// assert!(diags.iter().any(|d| d.message.contains("\"main\"")));
    /// ```
    pub fn load(src: &str) -> (Option<Action>, Vec<Diagnostic>) {
        let mut diags = Vec::new();
        let root = yaml::load::load(src, &yaml::LoadLimits::default(), &mut diags);
        let Some(root) = root.filter(|n| !n.is_null()) else {
            if !diags.iter().any(Diagnostic::is_error) {
                diags.push(Diagnostic::error(
                    Span {
                        start_pos: crate::Position { line: 1, column: 1 },
                        end_pos: crate::Position { line: 1, column: 1 },
                        ..Span::default()
                    },
                    codes::EMPTY,
                    "action metadata is empty",
                ));
            }
            return (None, diags);
        };
        let mut r = Reader::new(src);
        r.lenient_keys = true;
        let action = read_action(&mut r, &root);
        diags.append(&mut r.diags);
        diags.sort_by_key(|d| (d.span.start, d.span.end));
        (action, diags)
    }
}

fn read_action(r: &mut Reader<'_>, root: &Node) -> Option<Action> {
    let entries = r.mapping(root, "action")?;
    let mut a = Action {
        name: None,
        author: None,
        description: None,
        inputs: IndexMap::new(),
        outputs: IndexMap::new(),
        runs: Runs::Invalid,
        branding: None,
        warnings: Vec::new(),
        span: root.span,
    };
    let mut saw_runs = false;
    for (k, e) in r.known_entries(
        entries,
        &[
            "name",
            "author",
            "description",
            "inputs",
            "outputs",
            "runs",
            "branding",
        ],
        "action metadata",
    ) {
        let v = &e.value;
        match k {
            "name" => a.name = r.string(v, k),
            "author" => a.author = r.string(v, k),
            "description" => a.description = r.string(v, k),
            "inputs" => {
                let Some(entries) = r.mapping_or_null(v, k) else {
                    continue;
                };
                for i in entries {
                    let Some(name) = r.string(&i.key, "inputs") else {
                        continue;
                    };
                    let mut input = ActionInput {
                        name: name.clone(),
                        description: None,
                        required: false,
                        default: None,
                        deprecation_message: None,
                        span: i.value.span,
                    };
                    if let Some(props) = r.mapping_or_null(&i.value, &name.value) {
                        let section = format!("\"{}\" input", name.value);
                        for (k, p) in r.known_entries(
                            props,
                            &["description", "required", "default", "deprecationMessage"],
                            &section,
                        ) {
                            match k {
                                "description" => {
                                    input.description = r.string(&p.value, k).map(|s| s.value)
                                }
                                "required" => {
                                    // GitHub reads `required` loosely: booleans, or strings.
                                    input.required = matches!(
                                        p.value.as_scalar().map(|s| s.resolve()),
                                        Some(crate::yaml::ScalarValue::Bool(true))
                                    ) || p.value.as_str() == Some("true");
                                }
                                "default" => input.default = r.template(&p.value, k),
                                _ => {
                                    input.deprecation_message =
                                        r.string(&p.value, k).map(|s| s.value)
                                }
                            }
                        }
                    }
                    a.inputs.insert(name.value, input);
                }
            }
            "outputs" => {
                let Some(entries) = r.mapping_or_null(v, k) else {
                    continue;
                };
                for o in entries {
                    let Some(name) = r.string(&o.key, "outputs") else {
                        continue;
                    };
                    let mut out = ActionOutput {
                        name: name.clone(),
                        description: None,
                        value: None,
                        span: o.value.span,
                    };
                    if let Some(props) = r.mapping_or_null(&o.value, &name.value) {
                        let section = format!("\"{}\" output", name.value);
                        for (k, p) in r.known_entries(props, &["description", "value"], &section) {
                            match k {
                                "description" => {
                                    out.description = r.string(&p.value, k).map(|s| s.value)
                                }
                                _ => out.value = r.template(&p.value, k),
                            }
                        }
                    }
                    a.outputs.insert(name.value, out);
                }
            }
            "runs" => {
                saw_runs = true;
                a.runs = read_runs(r, v);
            }
            _ => {
                let Some(b) = r.mapping(v, k) else { continue };
                let mut branding = Branding {
                    icon: None,
                    color: None,
                };
                for (k, p) in r.known_entries(b, &["icon", "color"], "\"branding\" section") {
                    match k {
                        "icon" => branding.icon = r.string(&p.value, k),
                        _ => branding.color = r.string(&p.value, k),
                    }
                }
                a.branding = Some(branding);
            }
        }
    }
    if !saw_runs {
        r.error(
            Span {
                start_pos: crate::Position { line: 1, column: 1 },
                end_pos: crate::Position { line: 1, column: 1 },
                ..root.span
            },
            codes::MISSING_KEY,
            "\"runs\" section is missing in action metadata",
        );
    }
    if let Runs::Composite { .. } = a.runs {
    } else {
        for o in a.outputs.values() {
            if let Some(v) = &o.value {
                r.warning(
                    v.span,
                    codes::UNKNOWN_KEY,
                    "\"value\" of an output is only used by composite actions",
                );
            }
        }
    }
    Some(a)
}

fn read_runs(r: &mut Reader<'_>, node: &Node) -> Runs {
    let Some(entries) = r.mapping(node, "runs") else {
        return Runs::Invalid;
    };
    let Some(using_entry) = entries.iter().find(|e| e.key.as_str() == Some("using")) else {
        r.error(
            node.span,
            codes::MISSING_KEY,
            "\"using\" is missing in \"runs\" section",
        );
        return Runs::Invalid;
    };
    let Some(using) = r.string(&using_entry.value, "using") else {
        return Runs::Invalid;
    };
    let kind = using.value.to_ascii_lowercase();
    let get = |k: &str| {
        entries
            .iter()
            .find(|e| e.key.as_str() == Some(k))
            .map(|e| &e.value)
    };
    if NODE_RUNTIMES.contains(&kind.as_str()) {
        r.known_entries(
            entries,
            NODE_KEYS,
            &format!("\"runs\" section of a {kind} action"),
        );
        let main = match get("main").and_then(|n| r.string(n, "main")) {
            Some(m) => m,
            None => {
                r.error(
                    node.span,
                    codes::MISSING_KEY,
                    format!("\"main\" is required for a {kind} action"),
                );
                return Runs::Invalid;
            }
        };
        let pre = get("pre").and_then(|n| r.string(n, "pre"));
        let post = get("post").and_then(|n| r.string(n, "post"));
        let pre_if = get("pre-if").and_then(|n| r.condition(n));
        let post_if = get("post-if").and_then(|n| r.condition(n));
        return Runs::Node {
            using,
            main,
            pre,
            pre_if,
            post,
            post_if,
        };
    }
    match kind.as_str() {
        "composite" => {
            r.known_entries(
                entries,
                COMPOSITE_KEYS,
                "\"runs\" section of a composite action",
            );
            let steps = match get("steps") {
                Some(n) => read_steps(r, n, true),
                None => {
                    r.error(
                        node.span,
                        codes::MISSING_KEY,
                        "\"steps\" is required for a composite action",
                    );
                    Vec::new()
                }
            };
            Runs::Composite { steps }
        }
        "docker" => {
            r.known_entries(entries, DOCKER_KEYS, "\"runs\" section of a docker action");
            let Some(image) = get("image").and_then(|n| r.string(n, "image")) else {
                r.error(
                    node.span,
                    codes::MISSING_KEY,
                    "\"image\" is required for a docker action",
                );
                return Runs::Invalid;
            };
            Runs::Docker {
                image,
                entrypoint: get("entrypoint").and_then(|n| r.template(n, "entrypoint")),
                args: get("args")
                    .and_then(|n| r.template_list(n, "args", false))
                    .unwrap_or_default(),
                env: get("env").and_then(|n| r.env(n, "env")),
                pre_entrypoint: get("pre-entrypoint").and_then(|n| r.template(n, "pre-entrypoint")),
                pre_if: get("pre-if").and_then(|n| r.condition(n)),
                post_entrypoint: get("post-entrypoint")
                    .and_then(|n| r.template(n, "post-entrypoint")),
                post_if: get("post-if").and_then(|n| r.condition(n)),
            }
        }
        other => {
            r.error(
                using.span,
                codes::INVALID_VALUE,
                format!(
                    "invalid runtime \"{other}\" in \"runs.using\". expected one of \"composite\", \"docker\", \"node12\", \"node16\", \"node20\", \"node24\""
                ),
            );
            Runs::Invalid
        }
    }
}
