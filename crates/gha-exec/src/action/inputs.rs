//! Action inputs: `with:` values, defaults, and the `INPUT_<NAME>` variables GitHub forms.

use gha_expr::{HashFiles, Object};
use gha_model::{Action, Step};
use indexmap::IndexMap;

use super::eval;

/// The environment variable name GitHub gives an input: `INPUT_` + the name with spaces
/// replaced by `_`, upper-cased (hyphens are kept).
///
/// ```
/// assert_eq!(gha_exec::action::input_env_name("who-to greet"), "INPUT_WHO-TO_GREET");
/// ```
pub fn input_env_name(name: &str) -> String {
    format!("INPUT_{}", name.replace(' ', "_").to_uppercase())
}

/// The resolved inputs of one action step, plus the warnings GitHub prints about them.
#[derive(Debug, Default)]
pub(crate) struct ResolvedInputs {
    /// Input name → value, `with:` first, then defaults, in the action's order.
    pub(crate) values: IndexMap<String, String>,
    pub(crate) warnings: Vec<String>,
}

/// Evaluates `with:` against `ctx` and fills in the action's defaults. Input names compare
/// case-insensitively, as on GitHub.
pub(crate) fn resolve_inputs(
    action: &Action,
    step: &Step,
    ctx: &Object,
    hash: &dyn HashFiles,
) -> Result<ResolvedInputs, String> {
    let mut out = ResolvedInputs::default();
    let mut unexpected = Vec::new();
    for (name, t) in &step.with {
        let v = eval::string(t, ctx, hash)
            .map_err(|e| format!("Error evaluating `with.{name}`: {e}"))?;
        let known = action
            .inputs
            .keys()
            .find(|k| k.eq_ignore_ascii_case(name))
            .cloned();
        if known.is_none()
            && !matches!(action.runs, gha_model::Runs::Docker { .. } if name == "entrypoint" || name == "args")
        {
            unexpected.push(name.clone());
        }
        out.values.insert(known.unwrap_or_else(|| name.clone()), v);
    }
    if !unexpected.is_empty() && !action.inputs.is_empty() {
        let valid: Vec<String> = action.inputs.keys().map(|k| format!("'{k}'")).collect();
        out.warnings.push(format!(
            "Unexpected input(s) '{}', valid inputs are [{}]",
            unexpected.join("', '"),
            valid.join(", ")
        ));
    } else if !unexpected.is_empty() {
        out.warnings.push(format!(
            "Unexpected input(s) '{}', valid inputs are []",
            unexpected.join("', '")
        ));
    }
    for (name, input) in &action.inputs {
        if out.values.contains_key(name) {
            continue;
        }
        match &input.default {
            Some(d) => {
                let v = eval::string(d, ctx, hash)
                    .map_err(|e| format!("Error evaluating the default of input `{name}`: {e}"))?;
                out.values.insert(name.clone(), v);
            }
            None if input.required => {
                out.warnings
                    .push(format!("Input required and not supplied: {name}"));
            }
            None => {}
        }
        if let Some(msg) = &input.deprecation_message
            && step.with.keys().any(|k| k.eq_ignore_ascii_case(name))
        {
            out.warnings.push(format!(
                "Input '{name}' has been deprecated with message: {msg}"
            ));
        }
    }
    Ok(out)
}

/// `INPUT_*` variables for these inputs.
pub(crate) fn input_env(values: &IndexMap<String, String>) -> Vec<(String, String)> {
    values
        .iter()
        .map(|(k, v)| (input_env_name(k), v.clone()))
        .collect()
}

/// The `inputs` context of a composite action.
pub(crate) fn inputs_object(values: &IndexMap<String, String>) -> Object {
    eval::string_object(values)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(action: &str, step: &str) -> ResolvedInputs {
        let a = Action::from_yaml(action).unwrap();
        let wf = gha_model::Workflow::from_yaml(&format!(
            "on: push\njobs:\n  j:\n    runs-on: x\n    steps:\n      - {step}\n"
        ))
        .unwrap();
        struct NoHash;
        impl HashFiles for NoHash {
            fn hash_files(&self, _: &[String]) -> Result<String, String> {
                Err("no".into())
            }
        }
        resolve_inputs(&a, &wf.jobs[0].steps[0], &Object::new(), &NoHash).unwrap()
    }

    #[test]
    fn names_defaults_and_warnings() {
        let r = load(
            "name: a\ndescription: d\ninputs:\n  Who To Greet: {default: world}\n  token: {required: true}\n  level: {required: false}\nruns: {using: node20, main: i.js}\n",
            "{uses: o/r@v1, with: {who to greet: you, extra: 1}}",
        );
        assert_eq!(r.values["Who To Greet"], "you");
        assert_eq!(
            input_env(&r.values)[0],
            ("INPUT_WHO_TO_GREET".to_string(), "you".to_string())
        );
        assert_eq!(
            r.warnings,
            vec![
                "Unexpected input(s) 'extra', valid inputs are ['Who To Greet', 'token', 'level']"
                    .to_string(),
                "Input required and not supplied: token".to_string(),
            ]
        );
        let r = load(
            "name: a\ndescription: d\ninputs:\n  who: {default: world}\nruns: {using: node20, main: i.js}\n",
            "{uses: o/r@v1}",
        );
        assert_eq!(r.values["who"], "world");
        assert!(r.warnings.is_empty());
    }
}
