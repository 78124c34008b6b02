//! Evaluating templates, env maps and conditions for action steps.

use gha_expr::{EvalEnv, HashFiles, Object, StatusFunctions, Value};
use gha_model::{Env, IfCondition, MaybeExpr, TemplateString};
use indexmap::IndexMap;

/// Status functions for a job or a composite action's steps.
pub(crate) struct Status {
    pub(crate) failed: bool,
    pub(crate) cancelled: bool,
}

impl StatusFunctions for Status {
    fn success(&self) -> bool {
        !self.failed && !self.cancelled
    }
    fn failure(&self) -> bool {
        self.failed
    }
    fn cancelled(&self) -> bool {
        self.cancelled
    }
}

pub(crate) fn string(
    t: &TemplateString,
    ctx: &Object,
    hash: &dyn HashFiles,
) -> Result<String, String> {
    let env = EvalEnv::new(ctx).with_hash_files(hash);
    t.template()
        .evaluate_to_string(&env)
        .map_err(|e| e.message.clone())
}

pub(crate) fn value(
    t: &TemplateString,
    ctx: &Object,
    hash: &dyn HashFiles,
) -> Result<Value, String> {
    let env = EvalEnv::new(ctx).with_hash_files(hash);
    t.template().evaluate(&env).map_err(|e| e.message.clone())
}

pub(crate) fn condition(
    c: &IfCondition,
    ctx: &Object,
    status: &Status,
    hash: &dyn HashFiles,
) -> Result<bool, String> {
    let env = EvalEnv::new(ctx).with_status(status).with_hash_files(hash);
    c.condition()
        .evaluate(&env)
        .map_err(|e| format!("{} (in `{}`)", e.message, c.raw))
}

pub(crate) fn bool_flag(
    v: &Option<MaybeExpr<bool>>,
    ctx: &Object,
    hash: &dyn HashFiles,
) -> Result<bool, String> {
    match v {
        None => Ok(false),
        Some(MaybeExpr::Value(b)) => Ok(b.value),
        Some(MaybeExpr::Expr(t)) => Ok(value(t, ctx, hash)?.is_truthy()),
    }
}

/// Evaluates an `env:` into `into` (later keys see earlier levels through `ctx`).
pub(crate) fn env(
    env: &Option<Env>,
    ctx: &Object,
    hash: &dyn HashFiles,
    into: &mut IndexMap<String, String>,
) -> Result<(), String> {
    match env {
        None => Ok(()),
        Some(MaybeExpr::Value(map)) => {
            let mut evaluated = Vec::new();
            for (k, v) in &map.value {
                evaluated.push((k.clone(), string(v, ctx, hash)?));
            }
            into.extend(evaluated);
            Ok(())
        }
        Some(MaybeExpr::Expr(t)) => match value(t, ctx, hash)? {
            Value::Object(o) => {
                for (k, v) in o.iter() {
                    into.insert(k.to_string(), v.to_display_string());
                }
                Ok(())
            }
            Value::Null => Ok(()),
            other => Err(format!(
                "env must evaluate to a mapping, but got {}",
                other.kind_name()
            )),
        },
    }
}

/// `ctx` with `env` replaced.
pub(crate) fn with_env(mut ctx: Object, env: &IndexMap<String, String>) -> Object {
    ctx.insert("env", Value::Object(string_object(env)));
    ctx
}

pub(crate) fn string_object(map: &IndexMap<String, String>) -> Object {
    let mut o = Object::new();
    for (k, v) in map {
        o.insert(k.clone(), Value::from(v.as_str()));
    }
    o
}

/// `timeout-minutes`-style numbers (a literal, or an expression giving a number or a numeric
/// string).
pub(crate) fn number(
    v: &Option<MaybeExpr<f64>>,
    ctx: &Object,
    hash: &dyn HashFiles,
) -> Result<Option<f64>, String> {
    match v {
        None => Ok(None),
        Some(MaybeExpr::Value(n)) => Ok(Some(n.value)),
        Some(MaybeExpr::Expr(t)) => match value(t, ctx, hash)? {
            Value::Number(n) => Ok(Some(n)),
            Value::String(s) => s
                .trim()
                .parse::<f64>()
                .map(Some)
                .map_err(|_| format!("Unexpected value '{s}': a number was expected")),
            other => Err(format!(
                "Unexpected value '{}': a number was expected",
                other.to_display_string()
            )),
        },
    }
}
