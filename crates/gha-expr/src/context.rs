//! What evaluation reads: named contexts, job status and `hashFiles`.

use std::collections::HashMap;

use crate::value::{Object, Value};

/// Where named contexts (`github`, `env`, `matrix`, `steps`, `needs`, ...) come from.
/// `name` is always lower-case. Return `None` for a context you do not provide (it reads as
/// `null`). Implemented for [`Object`], `HashMap<String, Value>` (keys matched ignoring case)
/// and any `Fn(&str) -> Option<Value>`, so values can be produced lazily.
///
/// ```
/// use gha_expr::{evaluate, parse, EvalEnv, Value};
/// let contexts = |name: &str| (name == "runner").then(|| Value::from(serde_json::json!({"os": "Linux"})));
/// let v = evaluate(&parse("runner.os").unwrap(), &EvalEnv::new(&contexts)).unwrap();
/// assert_eq!(v, Value::from("Linux"));
/// ```
pub trait Context {
    /// The value of context `name` (lower-case), or None.
    fn lookup(&self, name: &str) -> Option<Value>;
}

impl Context for Object {
    fn lookup(&self, name: &str) -> Option<Value> {
        self.get(name).cloned()
    }
}

impl Context for HashMap<String, Value> {
    fn lookup(&self, name: &str) -> Option<Value> {
        self.get(name).cloned().or_else(|| {
            self.iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.clone())
        })
    }
}

impl<F: Fn(&str) -> Option<Value>> Context for F {
    fn lookup(&self, name: &str) -> Option<Value> {
        self(name)
    }
}

/// Job or step status, for `success()`, `failure()` and `cancelled()` (`always()` is true).
///
/// ```
/// struct Failed;
/// impl gha_expr::StatusFunctions for Failed {
///     fn success(&self) -> bool { false }
///     fn failure(&self) -> bool { true }
///     fn cancelled(&self) -> bool { false }
/// }
/// let ctx = gha_expr::Object::new();
/// let env = gha_expr::EvalEnv::new(&ctx).with_status(&Failed);
/// let cond = gha_expr::Condition::parse("failure()").unwrap();
/// assert!(cond.evaluate(&env).unwrap());
/// ```
pub trait StatusFunctions {
    /// All previous steps (or needed jobs) succeeded.
    fn success(&self) -> bool;
    /// A previous step (or needed job) failed.
    fn failure(&self) -> bool;
    /// The run was cancelled.
    fn cancelled(&self) -> bool;
}

/// `hashFiles(patterns...)`, implemented by whoever can see the workspace.
///
/// ```
/// struct Fixed;
/// impl gha_expr::HashFiles for Fixed {
///     fn hash_files(&self, patterns: &[String]) -> Result<String, String> {
///         Ok(format!("hash-of-{}", patterns.join("+")))
///     }
/// }
/// let ctx = gha_expr::Object::new();
/// let env = gha_expr::EvalEnv::new(&ctx).with_hash_files(&Fixed);
/// let v = gha_expr::evaluate(&gha_expr::parse("hashFiles('**/Cargo.lock', 'x')").unwrap(), &env).unwrap();
/// assert_eq!(v, gha_expr::Value::from("hash-of-**/Cargo.lock+x"));
/// ```
pub trait HashFiles {
    /// The hash of the files matching `patterns` (empty string when none match), or an error
    /// message.
    fn hash_files(&self, patterns: &[String]) -> Result<String, String>;
}

/// Everything evaluation needs. Without `status`, calling a status function is an error;
/// without `hash_files`, calling `hashFiles` is an error.
///
/// ```
/// let ctx: gha_expr::Object = [("matrix", gha_expr::Value::from(serde_json::json!({"os": "linux"})))]
///     .into_iter()
///     .collect();
/// let env = gha_expr::EvalEnv::new(&ctx);
/// let v = gha_expr::evaluate(&gha_expr::parse("matrix.os").unwrap(), &env).unwrap();
/// assert_eq!(v.to_display_string(), "linux");
/// ```
#[derive(Clone, Copy)]
pub struct EvalEnv<'a> {
    /// Named contexts.
    pub contexts: &'a dyn Context,
    /// Status for `success()`, `failure()`, `cancelled()`, `always()`.
    pub status: Option<&'a dyn StatusFunctions>,
    /// Provider for `hashFiles()`.
    pub hash_files: Option<&'a dyn HashFiles>,
}

impl<'a> EvalEnv<'a> {
    /// An environment with contexts only.
    ///
    /// ```
    /// let ctx = gha_expr::Object::new();
    /// assert!(gha_expr::EvalEnv::new(&ctx).status.is_none());
    /// ```
    pub fn new(contexts: &'a dyn Context) -> EvalEnv<'a> {
        EvalEnv {
            contexts,
            status: None,
            hash_files: None,
        }
    }

    /// Adds the status provider.
    pub fn with_status(mut self, status: &'a dyn StatusFunctions) -> EvalEnv<'a> {
        self.status = Some(status);
        self
    }

    /// Adds the `hashFiles` provider.
    pub fn with_hash_files(mut self, hash_files: &'a dyn HashFiles) -> EvalEnv<'a> {
        self.hash_files = Some(hash_files);
        self
    }
}
