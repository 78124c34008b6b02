//! `inputs`: `--input name=value` checked against the workflow's `workflow_dispatch` (or
//! `workflow_call`) input definitions — defaults, types, required inputs, choice options.

use indexmap::IndexMap;

use gha_model::{Input, InputType};

use super::PlanError;

/// A JSON object.
pub type JsonMap = serde_json::Map<String, serde_json::Value>;

/// The `inputs` context for a workflow (typed values: booleans are booleans, numbers are
/// numbers) and the string form GitHub puts in `github.event.inputs`.
///
/// ```
/// let wf = gha_model::Workflow::from_yaml(
///     "on:\n  workflow_dispatch:\n    inputs:\n      debug: {type: boolean, default: false}\n      level: {type: choice, options: [low, high], default: low}\njobs: {a: {runs-on: x, steps: [{run: y}]}}\n",
/// ).unwrap();
/// let defs = wf.on.workflow_dispatch_inputs();
/// let (ctx, event) = gha_exec::run::inputs::resolve(defs, &[("debug".into(), "true".into())]).unwrap();
/// assert_eq!(ctx["debug"], serde_json::json!(true));
/// assert_eq!(ctx["level"], serde_json::json!("low"));
/// assert_eq!(event["debug"], serde_json::json!("true"));
///
/// let err = gha_exec::run::inputs::resolve(defs, &[("level".into(), "max".into())]).unwrap_err();
/// assert!(err.to_string().contains("'max'"));
/// ```
pub fn resolve(
    definitions: &IndexMap<String, Input>,
    given: &[(String, String)],
) -> Result<(JsonMap, JsonMap), PlanError> {
    use serde_json::Value;
    let unexpected: Vec<&str> = given
        .iter()
        .filter(|(k, _)| !definitions.keys().any(|d| d.eq_ignore_ascii_case(k)))
        .map(|(k, _)| k.as_str())
        .collect();
    if !unexpected.is_empty() {
        return Err(PlanError(format!(
            "Unexpected inputs provided: [{}]",
            unexpected
                .iter()
                .map(|k| format!("\"{k}\""))
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    let mut ctx = serde_json::Map::new();
    let mut event = serde_json::Map::new();
    for (name, def) in definitions {
        let raw: Option<String> = given
            .iter()
            .rev()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
            .or_else(|| {
                def.default.as_ref().map(|d| match &d.value {
                    Value::String(s) => s.clone(),
                    Value::Null => String::new(),
                    other => other.to_string(),
                })
            });
        let ty = def
            .input_type
            .as_ref()
            .map(|t| t.value)
            .unwrap_or(InputType::String);
        let Some(raw) = raw else {
            if def.required {
                return Err(PlanError(format!("Required input '{name}' not provided")));
            }
            let empty = match ty {
                InputType::Boolean => Value::Bool(false),
                _ => Value::String(String::new()),
            };
            ctx.insert(name.clone(), empty);
            event.insert(name.clone(), Value::String(String::new()));
            continue;
        };
        let typed = match ty {
            InputType::Boolean => match raw.as_str() {
                "true" => Value::Bool(true),
                "false" => Value::Bool(false),
                _ => {
                    return Err(PlanError(format!(
                        "Input '{name}' must be a boolean ('true' or 'false'), but got '{raw}'"
                    )));
                }
            },
            InputType::Number => match raw.trim().parse::<f64>() {
                Ok(n) => serde_json::Number::from_f64(n)
                    .map(Value::Number)
                    .unwrap_or(Value::String(raw.clone())),
                Err(_) => {
                    return Err(PlanError(format!(
                        "Input '{name}' must be a number, but got '{raw}'"
                    )));
                }
            },
            InputType::Choice => {
                if !def.options.iter().any(|o| o.value == raw) {
                    return Err(PlanError(format!(
                        "Input '{name}' must be one of [{}], but got '{raw}'",
                        def.options
                            .iter()
                            .map(|o| format!("'{}'", o.value))
                            .collect::<Vec<_>>()
                            .join(", ")
                    )));
                }
                Value::String(raw.clone())
            }
            InputType::String | InputType::Environment => Value::String(raw.clone()),
        };
        ctx.insert(name.clone(), typed);
        event.insert(name.clone(), Value::String(raw));
    }
    Ok((ctx, event))
}
