//! Job names as GitHub shows them.

use serde_json::Value;

use super::job::Job;
use super::matrix::MatrixCombination;
use crate::expression::{EvalEnv, Expr, Object, TemplatePart, Value as ExprValue};
use crate::reader::format_number;

/// How one matrix value appears in a job's display name: strings as they are, numbers in
/// GitHub's format, booleans as `true`/`false`, null as empty, and objects and arrays as their
/// scalar leaves joined with `, `.
///
/// ```
/// use serde_json::json;
/// use gha_model::workflow::matrix_value_display;
/// assert_eq!(matrix_value_display(&json!("stable")), "stable");
/// assert_eq!(matrix_value_display(&json!(3.10)), "3.1");
/// assert_eq!(matrix_value_display(&json!({"os": "ubuntu", "v": 2})), "ubuntu, 2");
/// ```
pub fn matrix_value_display(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n
            .as_i64()
            .map(|i| i.to_string())
            .unwrap_or_else(|| format_number(n.as_f64().unwrap_or(0.0))),
        Value::String(s) => s.clone(),
        Value::Array(items) => items
            .iter()
            .map(matrix_value_display)
            .collect::<Vec<_>>()
            .join(", "),
        Value::Object(map) => map
            .values()
            .map(matrix_value_display)
            .collect::<Vec<_>>()
            .join(", "),
    }
}

/// The name GitHub shows for a job (instance): its `name` (or its id when it has none), and
/// for a matrix instance the matrix values in parentheses — unless the name already uses
/// `matrix`, in which case `${{ matrix.* }}` references are substituted instead. Other
/// expressions in the name are left as written (the executor evaluates them).
///
/// ```
/// let wf = gha_model::Workflow::from_yaml(
///     "on: push\njobs:\n  test:\n    name: Build+test\n    runs-on: x\n    strategy: {matrix: {rust: [stable], os: [ubuntu-18.04]}}\n    steps: [{run: y}]\n  other:\n    name: Test on ${{ matrix.os }}\n    runs-on: x\n    strategy: {matrix: {os: [mac]}}\n    steps: [{run: y}]\n",
/// ).unwrap();
/// let m = wf.jobs[0].strategy.as_ref().unwrap().matrix.as_ref().unwrap().expand().unwrap();
/// assert_eq!(wf.jobs[0].display_name(Some(&m[0])), "Build+test (stable, ubuntu-18.04)");
/// let m = wf.jobs[1].strategy.as_ref().unwrap().matrix.as_ref().unwrap().expand().unwrap();
/// assert_eq!(wf.jobs[1].display_name(Some(&m[0])), "Test on mac");
/// assert_eq!(wf.jobs[1].display_name(None), "Test on ${{ matrix.os }}");
/// ```
pub fn job_display_name(job: &Job, combination: Option<&MatrixCombination>) -> String {
    let Some(name) = &job.name else {
        return with_suffix(job.id.value.clone(), combination);
    };
    let uses_matrix = name.template().parts().iter().any(|p| match p {
        TemplatePart::Expr { expr, .. } => reads_matrix(expr),
        TemplatePart::Literal { .. } => false,
    });
    if !uses_matrix {
        return with_suffix(name.raw.clone(), combination);
    }
    let Some(combo) = combination else {
        return name.raw.clone();
    };
    let mut contexts = Object::new();
    contexts.insert(
        "matrix",
        ExprValue::from(serde_json::Value::Object(combo.values.clone())),
    );
    let env = EvalEnv::new(&contexts);
    let mut out = String::new();
    for part in name.template().parts() {
        match part {
            TemplatePart::Literal { text, .. } => out.push_str(text),
            TemplatePart::Expr { expr, span } => {
                let only_matrix = expr
                    .context_paths()
                    .iter()
                    .all(|p| context_name(p).eq_ignore_ascii_case("matrix"));
                match gha_expr::evaluate(expr, &env) {
                    Ok(v) if only_matrix => out.push_str(&v.to_display_string()),
                    _ => out.push_str(&name.raw[span.start..span.end]),
                }
            }
        }
    }
    out
}

fn with_suffix(base: String, combination: Option<&MatrixCombination>) -> String {
    match combination {
        Some(c) if !c.values.is_empty() => {
            let values: Vec<String> = c.values.values().map(matrix_value_display).collect();
            format!("{base} ({})", values.join(", "))
        }
        _ => base,
    }
}

fn context_name(path: &str) -> &str {
    path.split(['.', '[']).next().unwrap_or(path)
}

fn reads_matrix(expr: &Expr) -> bool {
    expr.context_paths()
        .iter()
        .any(|p| context_name(p).eq_ignore_ascii_case("matrix"))
}

impl Job {
    /// See [`job_display_name`].
    pub fn display_name(&self, combination: Option<&MatrixCombination>) -> String {
        job_display_name(self, combination)
    }
}
