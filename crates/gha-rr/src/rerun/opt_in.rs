//! The opt-in check: a failure is only re-run when the failing step's evaluated `env` (workflow,
//! then job, then step level) sets the opt-in variable, so plain build failures are not
//! reproduced.

use gha_expr::{EvalEnv, Object, Value};
use gha_model::{Env, MaybeExpr};
use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

/// The variables that opt a step in by default: Pernosco's `PERNOSCO_ENABLED` and the
/// `PERNOSCO_ENABLE` spelling seen in the wild.
pub const DEFAULT_OPT_IN_VARIABLES: &[&str] = &["PERNOSCO_ENABLED", "PERNOSCO_ENABLE"];

/// Where an env variable was set.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EnvLevel {
    /// The workflow's `env`.
    Workflow,
    /// The job's `env`.
    Job,
    /// The step's `env`.
    Step,
}

/// The opt-in variable as the failing step sees it.
///
/// ```
/// use gha_rr::rerun::{EnvLevel, OptIn};
/// let o = OptIn { variable: "PERNOSCO_ENABLED".into(), value: "1".into(), level: EnvLevel::Job };
/// assert!(o.enabled());
/// let off = OptIn { value: "false".into(), ..o };
/// assert!(!off.enabled());
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OptIn {
    /// The variable.
    pub variable: String,
    /// Its evaluated value.
    pub value: String,
    /// The innermost level that set it.
    pub level: EnvLevel,
}

impl OptIn {
    /// Set to something other than empty, `0` or `false`.
    pub fn enabled(&self) -> bool {
        let v = self.value.trim();
        !(v.is_empty() || v == "0" || v.eq_ignore_ascii_case("false"))
    }
}

/// Evaluates one `env` mapping over `contexts` (whose `env` is what the levels before set) into
/// `into`, remembering the level of each variable.
pub(crate) fn evaluate_env(
    env: &Option<Env>,
    level: EnvLevel,
    contexts: &Object,
    into: &mut IndexMap<String, (String, EnvLevel)>,
) -> Result<(), String> {
    let mut ctx = contexts.clone();
    let mut env_obj = Object::new();
    for (k, (v, _)) in into.iter() {
        env_obj.insert(k.clone(), Value::from(v.as_str()));
    }
    ctx.insert("env", Value::Object(env_obj));
    let eval = EvalEnv::new(&ctx);
    match env {
        None => {}
        Some(MaybeExpr::Value(map)) => {
            let mut values = Vec::new();
            for (k, t) in &map.value {
                let v = t
                    .template()
                    .evaluate_to_string(&eval)
                    .map_err(|e| format!("{k}: {}", e.message))?;
                values.push((k.clone(), v));
            }
            for (k, v) in values {
                into.insert(k, (v, level));
            }
        }
        Some(MaybeExpr::Expr(t)) => match t.template().evaluate(&eval).map_err(|e| e.message)? {
            Value::Object(o) => {
                for (k, v) in o.iter() {
                    into.insert(k.to_string(), (v.to_display_string(), level));
                }
            }
            Value::Null => {}
            other => return Err(format!("env must be a mapping, not {}", other.kind_name())),
        },
    }
    Ok(())
}

/// The first of `names` the evaluated env sets.
pub(crate) fn find_opt_in(
    env: &IndexMap<String, (String, EnvLevel)>,
    names: &[String],
) -> Option<OptIn> {
    names.iter().find_map(|n| {
        env.get(n).map(|(value, level)| OptIn {
            variable: n.clone(),
            value: value.clone(),
            level: *level,
        })
    })
}
