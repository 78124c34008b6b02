//! Our model, serialized the way GitHub's workflow parser serializes its result (template
//! tokens: `{type: 1, seq}`, `{type: 2, map: [{Key, Value}]}`, `{type: 3, expr}`, ...).
//!
//! The structure (jobs, ids, names, `if`, `needs`, step ids, permissions, events) comes from
//! the typed model; values GitHub keeps as raw tokens for the runner (strategy, container, env,
//! ...) are re-read from the YAML node at the span the model recorded.

use std::cell::RefCell;
use std::rc::Rc;

use gha_model::expression::TemplatePart;
use gha_model::reusable::Call;
use gha_model::yaml::{Node, NodeKind, ScalarValue};
use gha_model::{IfCondition, InputType, Job, PermissionLevel, Permissions, Step, Workflow};
use serde_json::{Map, Value, json};

#[derive(Clone)]
pub struct Options {
    pub include_events: bool,
    pub include_source: bool,
    pub file_name: String,
    /// GitHub's `is-partial-rerun` quirk: the file table comes out sorted by name.
    pub sort_file_table: bool,
    /// The files tokens point into (1-based `file` numbers), shared across called workflows.
    pub file_table: Rc<RefCell<Vec<String>>>,
    /// The 1-based number of the file being serialized.
    pub file: usize,
}

impl Options {
    /// The options for serializing the called file `path` (numbered on first use).
    fn for_file(&self, path: &str) -> Options {
        let mut table = self.file_table.borrow_mut();
        let file = match table.iter().position(|f| f == path) {
            Some(i) => i + 1,
            None => {
                table.push(path.to_owned());
                table.len()
            }
        };
        Options {
            file,
            ..self.clone()
        }
    }
}

const ALL_SCOPES: &[&str] = &[
    "actions",
    "checks",
    "contents",
    "deployments",
    "discussions",
    "id-token",
    "issues",
    "packages",
    "pages",
    "pull-requests",
    "repository-projects",
    "security-events",
    "statuses",
];

pub fn workflow(wf: &Workflow, src: &str, calls: &[Call], opts: &Options) -> Value {
    opts.file_table.borrow_mut().push(opts.file_name.clone());
    let root = gha_model::yaml::parse(src).expect("the model loaded, so the YAML parses");
    let mut out = Map::new();
    if let Some(p) = &wf.permissions {
        out.insert("permissions".into(), permissions_json(p));
    }
    for key in ["concurrency", "env", "defaults"] {
        if let Some(n) = root.get(key) {
            let coerce = key == "env";
            out.insert(key.into(), token(n, coerce, opts));
        }
    }
    if opts.include_events {
        out.insert("events".into(), events(wf));
    } else if let Some(e) = wf.on.event("workflow_dispatch")
        && !e.inputs.is_empty()
    {
        let mut types = Map::new();
        for (name, input) in &e.inputs {
            let t = input
                .input_type
                .as_ref()
                .map_or("string", |t| t.value.as_str());
            types.insert(name.clone(), json!(t));
        }
        out.insert("input-types".into(), Value::Object(types));
    }
    let jobs = jobs(wf, &root, wf.permissions.as_ref(), calls, opts);
    out.insert("jobs".into(), Value::Array(jobs));
    if opts.include_source {
        let mut table = opts.file_table.borrow().clone();
        if opts.sort_file_table {
            table.sort();
        }
        out.insert("file-table".into(), json!(table));
    }
    Value::Object(out)
}

/// The jobs of one file; `inherited` are the permissions its jobs get when they set none.
fn jobs(
    wf: &Workflow,
    root: &Node,
    inherited: Option<&Permissions>,
    calls: &[Call],
    opts: &Options,
) -> Vec<Value> {
    let jobs_node = root.get("jobs");
    wf.jobs
        .iter()
        .map(|j| {
            let node = jobs_node
                .and_then(|n| n.as_mapping())
                .and_then(|m| {
                    m.iter()
                        .find(|e| e.key.as_str() == Some(j.id.value.as_str()))
                })
                .map(|e| &e.value);
            if j.is_reusable_call() {
                let call = calls.iter().find(|c| c.job_id == j.id.value);
                reusable_job(j, node, inherited, call, opts)
            } else {
                job(inherited, j, node, opts)
            }
        })
        .collect()
}

/// A job that calls a reusable workflow, with the called workflow's jobs under `jobs`.
fn reusable_job(
    j: &Job,
    node: Option<&Node>,
    inherited: Option<&Permissions>,
    call: Option<&Call>,
    opts: &Options,
) -> Value {
    let mut m = Map::new();
    m.insert("type".into(), json!("reusableWorkflowJob"));
    m.insert("id".into(), located(json!(j.id.value), j.id.span, opts));
    let name = node.and_then(|n| n.get("name"));
    m.insert(
        "name".into(),
        name.map_or_else(
            || located(json!(j.id.value), j.id.span, opts),
            |n| token(n, true, opts),
        ),
    );
    m.insert(
        "needs".into(),
        Value::Array(
            j.needs
                .iter()
                .map(|n| located(json!(n.value), n.span, opts))
                .collect(),
        ),
    );
    m.insert("if".into(), condition(j.if_condition.as_ref()));
    if let Some(n) = node.and_then(|n| n.get("uses")) {
        m.insert("ref".into(), token(n, true, opts));
    }
    let permissions = match call {
        Some(c) => c.permissions.as_ref(),
        None => j.permissions.as_ref().or(inherited),
    };
    if let Some(p) = permissions {
        m.insert("permissions".into(), permissions_json(p));
    }
    // Not expanded (not loaded, or `skip-reusable-workflows`): what the caller says only.
    let callee = call.map(|c| {
        let root =
            gha_model::yaml::parse(&c.text).expect("the called workflow loaded, so it parses");
        (c, root, opts.for_file(&c.path))
    });
    let trigger = callee.as_ref().and_then(|(_, root, _)| {
        root.get("on")
            .and_then(|o| o.get("workflow_call"))
            .filter(|n| !n.is_null())
    });
    let callee_opts = callee.as_ref().map_or(opts, |(_, _, o)| o);
    let definitions = trigger.and_then(|t| t.get("inputs"));
    if let Some(d) = definitions {
        m.insert("input-definitions".into(), token(d, false, callee_opts));
    }
    if let Some(with) = node.and_then(|n| n.get("with")) {
        let mut v = token(with, false, opts);
        // A null given to a string input becomes the empty string.
        if let Some(entries) = v.get_mut("map").and_then(Value::as_array_mut) {
            for e in entries {
                let is_string = e["Key"]
                    .as_str()
                    .and_then(|k| call?.workflow.on.workflow_call()?.inputs.get(k))
                    .is_some_and(|i| {
                        i.input_type.as_ref().map(|t| t.value) == Some(InputType::String)
                    });
                if is_string && e["Value"].is_null() {
                    e["Value"] = json!("");
                }
            }
        }
        m.insert("input-values".into(), v);
    }
    if let Some(d) = trigger.and_then(|t| t.get("secrets")) {
        m.insert("secret-definitions".into(), token(d, false, callee_opts));
    }
    match &j.call.as_ref().and_then(|c| c.secrets.as_ref()) {
        Some(gha_model::CallSecrets::Inherit(_)) => {
            m.insert("inherit-secrets".into(), json!(true));
        }
        Some(gha_model::CallSecrets::Map(_)) => {
            if let Some(s) = node.and_then(|n| n.get("secrets")) {
                m.insert("secret-values".into(), token(s, true, opts));
            }
        }
        None => {}
    }
    if let Some(o) = trigger.and_then(|t| t.get("outputs")) {
        m.insert("outputs".into(), token(o, true, callee_opts));
    }
    for key in ["strategy", "concurrency", "continue-on-error"] {
        if let Some(n) = node.and_then(|n| n.get(key)) {
            m.insert(key.into(), token(n, false, opts));
        }
    }
    let nested = callee.as_ref().map_or_else(Vec::new, |(call, root, o)| {
        jobs(
            &call.workflow,
            root,
            call.permissions.as_ref(),
            &call.calls,
            o,
        )
    });
    m.insert("jobs".into(), Value::Array(nested));
    Value::Object(m)
}

/// Add GitHub's source position (`file`, `line`, `col`) to a token when asked to.
fn located(v: Value, node_span: gha_model::Span, opts: &Options) -> Value {
    if !opts.include_source {
        return v;
    }
    let mut m = Map::new();
    let pos = |m: &mut Map<String, Value>| {
        m.insert("file".into(), json!(opts.file));
        m.insert("line".into(), json!(node_span.start_pos.line));
        m.insert("col".into(), json!(node_span.start_pos.column));
    };
    match v {
        Value::Object(o) => {
            m.insert("type".into(), o.get("type").cloned().unwrap_or(Value::Null));
            pos(&mut m);
            for (k, v) in o {
                if k != "type" {
                    m.insert(k, v);
                }
            }
        }
        other => {
            let (ty, key) = match &other {
                Value::String(_) => (0, "lit"),
                Value::Bool(_) => (5, "bool"),
                Value::Number(_) => (6, "num"),
                _ => (7, ""),
            };
            m.insert("type".into(), json!(ty));
            pos(&mut m);
            if !key.is_empty() {
                m.insert(key.into(), other);
            }
        }
    }
    Value::Object(m)
}

fn permissions_json(p: &Permissions) -> Value {
    let mut m = Map::new();
    match p {
        Permissions::ReadAll(_) | Permissions::WriteAll(_) => {
            let level = if matches!(p, Permissions::ReadAll(_)) {
                "read"
            } else {
                "write"
            };
            for s in ALL_SCOPES {
                m.insert((*s).into(), json!(level));
            }
        }
        Permissions::Scopes(scopes) => {
            let mut sorted: Vec<_> = scopes.iter().collect();
            sorted.sort_by(|a, b| a.0.cmp(b.0));
            for (k, v) in sorted {
                if v.value != PermissionLevel::None {
                    m.insert(k.clone(), json!(v.value.as_str()));
                }
            }
        }
    }
    Value::Object(m)
}

fn events(wf: &Workflow) -> Value {
    let mut out = Map::new();
    for e in &wf.on.events {
        let mut m = Map::new();
        let list = |l: &[gha_model::Spanned<String>]| {
            Value::Array(l.iter().map(|s| json!(s.value)).collect())
        };
        if !e.types.is_empty() {
            m.insert("types".into(), list(&e.types));
        }
        for (k, v) in [
            ("branches", &e.branches),
            ("branches-ignore", &e.branches_ignore),
            ("tags", &e.tags),
            ("tags-ignore", &e.tags_ignore),
            ("paths", &e.paths),
            ("paths-ignore", &e.paths_ignore),
            ("workflows", &e.workflows),
        ] {
            if let Some(v) = v {
                m.insert(k.into(), list(v));
            }
        }
        for (k, v) in &e.other_filters {
            m.insert(k.clone(), list(v));
        }
        if !e.schedule.is_empty() {
            m.insert(
                "schedule".into(),
                Value::Array(
                    e.schedule
                        .iter()
                        .map(|c| json!({"cron": c.value}))
                        .collect(),
                ),
            );
        }
        if !e.inputs.is_empty() {
            let mut inputs = Map::new();
            for (name, i) in &e.inputs {
                let mut im = Map::new();
                im.insert(
                    "type".into(),
                    json!(i.input_type.as_ref().map_or("string", |t| t.value.as_str())),
                );
                if let Some(d) = &i.description {
                    im.insert("description".into(), json!(d));
                }
                if i.required {
                    im.insert("required".into(), json!(true));
                }
                if !i.options.is_empty() {
                    im.insert("options".into(), list(&i.options));
                }
                if let Some(d) = &i.default {
                    im.insert("default".into(), d.value.clone());
                }
                inputs.insert(name.clone(), Value::Object(im));
            }
            m.insert("inputs".into(), Value::Object(inputs));
        }
        if !e.secrets.is_empty() {
            let mut secrets = Map::new();
            for (name, s) in &e.secrets {
                let mut sm = Map::new();
                if let Some(d) = &s.description {
                    sm.insert("description".into(), json!(d));
                }
                if s.required {
                    sm.insert("required".into(), json!(true));
                }
                secrets.insert(name.clone(), Value::Object(sm));
            }
            m.insert("secrets".into(), Value::Object(secrets));
        }
        out.insert(e.name.value.clone(), Value::Object(m));
    }
    Value::Object(out)
}

fn job(inherited: Option<&Permissions>, j: &Job, node: Option<&Node>, opts: &Options) -> Value {
    let mut m = Map::new();
    m.insert("type".into(), json!("job"));
    m.insert("id".into(), located(json!(j.id.value), j.id.span, opts));
    let name = node.and_then(|n| n.get("name"));
    m.insert(
        "name".into(),
        name.map_or_else(
            || located(json!(j.id.value), j.id.span, opts),
            |n| token(n, true, opts),
        ),
    );
    if !j.needs.is_empty() {
        m.insert(
            "needs".into(),
            Value::Array(j.needs.iter().map(|n| json!(n.value)).collect()),
        );
    }
    m.insert("if".into(), condition(j.if_condition.as_ref()));
    if let Some(p) = j.permissions.as_ref().or(inherited) {
        m.insert("permissions".into(), permissions_json(p));
    }
    let raw = |key: &str, coerce: bool, m: &mut Map<String, Value>| {
        if let Some(n) = node.and_then(|n| n.get(key)) {
            m.insert(key.into(), token(n, coerce, opts));
        }
    };
    raw("strategy", false, &mut m);
    raw("continue-on-error", false, &mut m);
    raw("timeout-minutes", false, &mut m);
    raw("cancel-timeout-minutes", false, &mut m);
    raw("concurrency", false, &mut m);
    raw("env", true, &mut m);
    raw("environment", false, &mut m);
    raw("defaults", false, &mut m);
    raw("runs-on", false, &mut m);
    raw("container", true, &mut m);
    raw("services", true, &mut m);
    raw("outputs", true, &mut m);
    if !j.is_reusable_call() && node.is_some_and(|n| n.get("steps").is_some()) {
        let ids = j.step_ids();
        let step_nodes = node
            .and_then(|n| n.get("steps"))
            .and_then(|n| n.as_sequence());
        let steps: Vec<Value> = j
            .steps
            .iter()
            .zip(&ids)
            .map(|(s, id)| {
                let sn = step_nodes.and_then(|l| l.get(s.index));
                step(s, id, sn, opts)
            })
            .collect();
        m.insert("steps".into(), Value::Array(steps));
    }
    raw("snapshot", false, &mut m);
    Value::Object(m)
}

fn step(s: &Step, id: &str, node: Option<&Node>, opts: &Options) -> Value {
    let mut m = Map::new();
    m.insert("id".into(), json!(id));
    let raw = |key: &str, coerce: bool, m: &mut Map<String, Value>| {
        if let Some(n) = node.and_then(|n| n.get(key)) {
            m.insert(key.into(), token(n, coerce, opts));
        }
    };
    let control = s.run.is_none() && s.uses.is_none();
    if control && s.name.is_none() {
        m.insert("name".into(), json!(s.display_name()));
    } else {
        raw("name", true, &mut m);
    }
    if !control {
        m.insert("if".into(), condition(s.if_condition.as_ref()));
    }
    raw("continue-on-error", false, &mut m);
    raw("timeout-minutes", false, &mut m);
    raw("env", true, &mut m);
    raw("working-directory", true, &mut m);
    raw("shell", true, &mut m);
    raw("run", true, &mut m);
    raw("uses", true, &mut m);
    raw("with", true, &mut m);
    raw("background", false, &mut m);
    if !s.wait.is_empty() {
        m.insert(
            "wait".into(),
            Value::Array(s.wait.iter().map(|w| json!(w.value)).collect()),
        );
    }
    if s.wait_all {
        m.insert("wait-all".into(), json!(true));
    }
    raw("cancel", false, &mut m);
    Value::Object(m)
}

fn condition(c: Option<&IfCondition>) -> Value {
    let Some(c) = c else {
        return json!({"type": 3, "expr": "success()"});
    };
    let raw = c.raw.trim();
    let inner = raw
        .strip_prefix("${{")
        .and_then(|r| r.strip_suffix("}}"))
        .filter(|r| !r.contains("${{"))
        .map_or(raw, str::trim);
    if raw.contains("${{") && inner == raw {
        // Text around `${{ }}`: the condition is a string, built with format().
        let Value::Object(e) = expression(raw) else {
            unreachable!()
        };
        let expr = e["expr"].as_str().unwrap_or_default().to_owned();
        return json!({"type": 3, "expr": format!("success() && ({expr})")});
    }
    let status = c
        .condition()
        .written()
        .functions()
        .iter()
        .any(|f| matches!(f.as_str(), "success" | "failure" | "cancelled" | "always"));
    let expr = if status {
        inner.to_owned()
    } else {
        format!("success() && ({inner})")
    };
    json!({"type": 3, "expr": expr})
}

/// A YAML node as a template token. `coerce` turns scalars into strings (string-typed places
/// such as `env` values).
fn token(node: &Node, coerce: bool, opts: &Options) -> Value {
    located(bare_token(node, coerce, opts), node.span, opts)
}

fn bare_token(node: &Node, coerce: bool, opts: &Options) -> Value {
    match &node.kind {
        NodeKind::Scalar(s) => {
            let v = s.resolve();
            if let ScalarValue::String(text) = &v
                && text.contains("${{")
            {
                return expression(text);
            }
            if coerce {
                return json!(match v {
                    ScalarValue::Null => String::new(),
                    ScalarValue::Bool(b) => b.to_string(),
                    ScalarValue::Int(i) => gha_model::expression::number_to_string(i as f64),
                    ScalarValue::Float(f) => gha_model::expression::number_to_string(f),
                    ScalarValue::String(s) => s,
                });
            }
            match v {
                ScalarValue::Null => Value::Null,
                ScalarValue::Bool(b) => json!(b),
                ScalarValue::Int(i) => json!(i),
                ScalarValue::Float(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => json!(f as i64),
                ScalarValue::Float(f) => serde_json::Number::from_f64(f)
                    .map(Value::Number)
                    .unwrap_or_else(|| json!(gha_model::expression::number_to_string(f))),
                ScalarValue::String(s) => json!(s),
            }
        }
        NodeKind::Sequence(items) => {
            json!({"type": 1, "seq": items.iter().map(|i| token(i, coerce, opts)).collect::<Vec<_>>()})
        }
        NodeKind::Mapping(entries) => {
            let map: Vec<Value> = entries
                .iter()
                .map(|e| {
                    let key = match e.key.as_str() {
                        Some(k) if k.trim() == "${{ insert }}" => {
                            json!({"type": 4, "directive": "insert"})
                        }
                        Some(k) if k.contains("${{") => expression(k),
                        Some(k) => json!(k),
                        None => Value::Null,
                    };
                    let key = located(key, e.key.span, opts);
                    json!({"Key": key, "Value": token(&e.value, coerce, opts)})
                })
                .collect();
            json!({"type": 2, "map": map})
        }
    }
}

/// A string with `${{ }}` as GitHub's expression token: one expression as written, or
/// `format('literal {0} literal', expr, ...)`.
fn expression(text: &str) -> Value {
    let Ok(t) = gha_model::expression::Template::parse(text) else {
        return json!(text);
    };
    let exprs: Vec<String> = t
        .parts()
        .iter()
        .filter_map(|p| match p {
            TemplatePart::Expr { span, .. } => {
                let inner = &text[span.start..span.end];
                Some(inner[3..inner.len() - 2].trim().to_owned())
            }
            TemplatePart::Literal { .. } => None,
        })
        .collect();
    if t.parts().len() == 1 && exprs.len() == 1 {
        // A lone string literal is folded to its value.
        let e = &exprs[0];
        if e.len() >= 2
            && e.starts_with('\'')
            && e.ends_with('\'')
            && !e[1..e.len() - 1].replace("''", "").contains('\'')
        {
            return json!(e[1..e.len() - 1].replace("''", "'"));
        }
        return json!({"type": 3, "expr": e});
    }
    let mut fmt = String::new();
    let mut n = 0;
    for p in t.parts() {
        match p {
            TemplatePart::Literal { text, .. } => {
                for c in text.chars() {
                    match c {
                        '\'' => fmt.push_str("''"),
                        '{' => fmt.push_str("{{"),
                        '}' => fmt.push_str("}}"),
                        c => fmt.push(c),
                    }
                }
            }
            TemplatePart::Expr { .. } => {
                fmt.push_str(&format!("{{{n}}}"));
                n += 1;
            }
        }
    }
    json!({"type": 3, "expr": format!("format('{fmt}', {})", exprs.join(", "))})
}
