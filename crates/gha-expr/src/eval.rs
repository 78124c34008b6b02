//! The evaluator: GitHub's coercions, comparisons, object filters and functions.
//!
//! Intermediate results borrow from the expression and from the context values (kept alive
//! for the whole evaluation in an arena), so reading `github.event.pull_request.title` copies
//! nothing, and arrays and objects keep the identity GitHub compares them by.

use std::borrow::Cow;
use std::cell::{Cell, RefCell};
use std::cmp::Ordering;

use typed_arena::Arena;

use crate::ast::{CompareOp, Expr, ExprKind};
use crate::compare::{
    cmp_ignore_case, contains_ignore_case, ends_with_ignore_case, eq_ignore_case,
    starts_with_ignore_case,
};
use crate::context::EvalEnv;
use crate::error::EvalError;
use crate::function::Function;
use crate::json::write_json;
use crate::number::{number_to_string, string_to_number};
use crate::value::{Object, Value};

/// GitHub's per-evaluation memory budget, in bytes.
pub const MAX_EVALUATION_MEMORY: usize = 1024 * 1024;

/// Evaluates a parsed expression.
///
/// ```
/// use gha_expr::{evaluate, parse, EvalEnv, Value};
/// let ctx = Value::from(serde_json::json!({
///     "github": {"event_name": "push", "ref": "refs/heads/main"}
/// }));
/// let Value::Object(ctx) = ctx else { unreachable!() };
/// let env = EvalEnv::new(&ctx);
/// let expr = parse("github.event_name == 'PUSH' && format('{0}!', github.ref)").unwrap();
/// assert_eq!(evaluate(&expr, &env).unwrap(), Value::from("refs/heads/main!"));
/// ```
pub fn evaluate(expr: &Expr, env: &EvalEnv<'_>) -> Result<Value, EvalError> {
    let arena = Arena::with_capacity(2);
    let evaluator = Evaluator {
        env,
        arena: &arena,
        contexts: RefCell::new(Vec::new()),
        memory: Cell::new(0),
    };
    Ok(evaluator.eval(expr)?.to_value())
}

/// An intermediate value.
#[derive(Clone, Debug)]
pub(crate) enum Val<'a> {
    Null,
    Bool(bool),
    Number(f64),
    Str(Cow<'a, str>),
    /// An array that exists in the contexts or was made by `fromJSON` (compared by address).
    Array(&'a Vec<Value>),
    /// An object (compared by identity).
    Object(&'a Object),
    /// The result of an object filter (`.*`): a fresh array that later accessors map over.
    Filtered(Vec<Val<'a>>),
}

impl<'a> Val<'a> {
    pub(crate) fn of(v: &'a Value) -> Val<'a> {
        match v {
            Value::Null => Val::Null,
            Value::Bool(b) => Val::Bool(*b),
            Value::Number(n) => Val::Number(*n),
            Value::String(s) => Val::Str(Cow::Borrowed(s)),
            Value::Array(items) => Val::Array(items),
            Value::Object(o) => Val::Object(o),
        }
    }

    pub(crate) fn to_value(&self) -> Value {
        match self {
            Val::Null => Value::Null,
            Val::Bool(b) => Value::Bool(*b),
            Val::Number(n) => Value::Number(*n),
            Val::Str(s) => Value::String(s.to_string()),
            Val::Array(items) => Value::Array((*items).clone()),
            Val::Object(o) => Value::Object((*o).clone()),
            Val::Filtered(items) => Value::Array(items.iter().map(Val::to_value).collect()),
        }
    }

    fn is_truthy(&self) -> bool {
        match self {
            Val::Null => false,
            Val::Bool(b) => *b,
            Val::Number(n) => *n != 0.0 && !n.is_nan(),
            Val::Str(s) => !s.is_empty(),
            Val::Array(_) | Val::Object(_) | Val::Filtered(_) => true,
        }
    }

    fn kind_name(&self) -> &'static str {
        match self {
            Val::Null => "Null",
            Val::Bool(_) => "Boolean",
            Val::Number(_) => "Number",
            Val::Str(_) => "String",
            Val::Array(_) | Val::Filtered(_) => "Array",
            Val::Object(_) => "Object",
        }
    }

    fn is_primitive(&self) -> bool {
        matches!(
            self,
            Val::Null | Val::Bool(_) | Val::Number(_) | Val::Str(_)
        )
    }

    /// Coercion to number: null 0, booleans 0/1, strings parsed, arrays and objects NaN.
    fn to_number(&self) -> f64 {
        match self {
            Val::Null => 0.0,
            Val::Bool(b) => f64::from(u8::from(*b)),
            Val::Number(n) => *n,
            Val::Str(s) => string_to_number(s),
            _ => f64::NAN,
        }
    }

    /// The string form used by `format`, `join` and interpolation.
    fn to_str(&self) -> Cow<'_, str> {
        match self {
            Val::Null => Cow::Borrowed(""),
            Val::Bool(true) => Cow::Borrowed("true"),
            Val::Bool(false) => Cow::Borrowed("false"),
            Val::Number(n) => Cow::Owned(number_to_string(*n)),
            Val::Str(s) => Cow::Borrowed(s),
            Val::Array(_) | Val::Filtered(_) => Cow::Borrowed("Array"),
            Val::Object(_) => Cow::Borrowed("Object"),
        }
    }

    /// Elements of an array or filter result; None for other kinds.
    fn elements(&self) -> Option<Vec<Val<'a>>> {
        match self {
            Val::Array(items) => Some(items.iter().map(Val::of).collect()),
            Val::Filtered(items) => Some(items.clone()),
            _ => None,
        }
    }
}

/// Loose equality (`==`).
pub(crate) fn loose_eq(a: &Val<'_>, b: &Val<'_>) -> bool {
    match (a, b) {
        (Val::Null, Val::Null) => true,
        (Val::Number(x), Val::Number(y)) => x == y,
        (Val::Bool(x), Val::Bool(y)) => x == y,
        (Val::Str(x), Val::Str(y)) => eq_ignore_case(x, y),
        (Val::Array(x), Val::Array(y)) => std::ptr::eq(*x, *y),
        (Val::Object(x), Val::Object(y)) => x.same_instance(y),
        (Val::Number(x), Val::Str(s)) | (Val::Str(s), Val::Number(x)) => *x == string_to_number(s),
        (Val::Null | Val::Bool(_), _) => loose_eq(&Val::Number(a.to_number()), b),
        (_, Val::Null | Val::Bool(_)) => loose_eq(a, &Val::Number(b.to_number())),
        _ => false,
    }
}

/// Ordering for `<` and `>`; None when the values cannot be ordered.
fn loose_cmp(a: &Val<'_>, b: &Val<'_>) -> Option<Ordering> {
    match (a, b) {
        (Val::Null, Val::Null) => Some(Ordering::Equal),
        (Val::Number(x), Val::Number(y)) => x.partial_cmp(y),
        (Val::Bool(x), Val::Bool(y)) => Some(x.cmp(y)),
        (Val::Str(x), Val::Str(y)) => Some(cmp_ignore_case(x, y)),
        (Val::Number(x), Val::Str(s)) => x.partial_cmp(&string_to_number(s)),
        (Val::Str(s), Val::Number(y)) => string_to_number(s).partial_cmp(y),
        (Val::Null | Val::Bool(_), _) if b.is_primitive() => {
            loose_cmp(&Val::Number(a.to_number()), b)
        }
        (_, Val::Null | Val::Bool(_)) if a.is_primitive() => {
            loose_cmp(a, &Val::Number(b.to_number()))
        }
        _ => None,
    }
}

fn compare(op: CompareOp, a: &Val<'_>, b: &Val<'_>) -> bool {
    match op {
        CompareOp::Eq => loose_eq(a, b),
        CompareOp::Ne => !loose_eq(a, b),
        CompareOp::Lt => loose_cmp(a, b) == Some(Ordering::Less),
        CompareOp::Gt => loose_cmp(a, b) == Some(Ordering::Greater),
        CompareOp::Le => loose_eq(a, b) || loose_cmp(a, b) == Some(Ordering::Less),
        CompareOp::Ge => loose_eq(a, b) || loose_cmp(a, b) == Some(Ordering::Greater),
    }
}

/// Array index: coerce to number, floor; NaN, negative or above `i32::MAX` give None.
fn array_index(index: &Val<'_>) -> Option<usize> {
    let n = index.to_number().floor();
    if n.is_nan() || n < 0.0 || n > f64::from(i32::MAX) {
        return None;
    }
    Some(n as usize)
}

/// Object key: a primitive's string form; arrays and objects are no key.
fn object_key<'v>(index: &'v Val<'_>) -> Option<Cow<'v, str>> {
    index.is_primitive().then(|| index.to_str())
}

struct Evaluator<'a> {
    env: &'a EvalEnv<'a>,
    arena: &'a Arena<Value>,
    contexts: RefCell<Vec<(&'a str, Option<&'a Value>)>>,
    memory: Cell<usize>,
}

impl<'a> Evaluator<'a> {
    fn eval(&self, expr: &'a Expr) -> Result<Val<'a>, EvalError> {
        Ok(match expr.kind() {
            ExprKind::Null => Val::Null,
            ExprKind::Bool(b) => Val::Bool(*b),
            ExprKind::Number(n) => Val::Number(*n),
            ExprKind::String(s) => Val::Str(Cow::Borrowed(s)),
            ExprKind::Context(name) => self.context(name),
            ExprKind::Property { target, name } => {
                let target = self.eval(target)?;
                property(target, name)
            }
            ExprKind::Index { target, index } => {
                let target = self.eval(target)?;
                let index = self.eval(index)?;
                index_value(target, &index)
            }
            ExprKind::Star { target } => star(self.eval(target)?),
            ExprKind::Not(operand) => Val::Bool(!self.eval(operand)?.is_truthy()),
            ExprKind::Compare { op, left, right } => {
                let l = self.eval(left)?;
                let r = self.eval(right)?;
                Val::Bool(compare(*op, &l, &r))
            }
            ExprKind::And(items) => {
                let mut last = Val::Null;
                for item in items {
                    last = self.eval(item)?;
                    if !last.is_truthy() {
                        break;
                    }
                }
                last
            }
            ExprKind::Or(items) => {
                let mut last = Val::Null;
                for item in items {
                    last = self.eval(item)?;
                    if last.is_truthy() {
                        break;
                    }
                }
                last
            }
            ExprKind::Call { function, args } => self.call(expr, *function, args)?,
        })
    }

    fn context(&self, name: &'a str) -> Val<'a> {
        let mut cache = self.contexts.borrow_mut();
        if let Some((_, v)) = cache.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)) {
            return v.map_or(Val::Null, Val::of);
        }
        let looked_up = if name.bytes().any(|b| b.is_ascii_uppercase()) {
            self.env.contexts.lookup(&name.to_ascii_lowercase())
        } else {
            self.env.contexts.lookup(name)
        };
        let value = looked_up.map(|v| &*self.arena.alloc(v));
        cache.push((name, value));
        value.map_or(Val::Null, Val::of)
    }

    fn charge(&self, expr: &Expr, s: &str) -> Result<(), EvalError> {
        // Strings are UTF-16 in the runner: two bytes per unit, plus an object header.
        let used = self.memory.get() + 2 * s.len() + 24;
        self.memory.set(used);
        if used > MAX_EVALUATION_MEMORY {
            return Err(EvalError::new(
                expr.span(),
                "The maximum allowed memory size was exceeded",
            ));
        }
        Ok(())
    }

    fn call(
        &self,
        expr: &'a Expr,
        function: Function,
        args: &'a [Expr],
    ) -> Result<Val<'a>, EvalError> {
        // The parser guarantees these; trees built by hand with `Expr::new` might not.
        let arity_ok = (function.min_args()..=function.max_args()).contains(&args.len())
            && (function != Function::Case || args.len() % 2 == 1);
        if !arity_ok {
            return Err(EvalError::new(
                expr.span(),
                format!("{}() called with {} arguments", function.name(), args.len()),
            ));
        }
        match function {
            Function::Contains => {
                let search = self.eval(&args[0])?;
                let item = self.eval(&args[1])?;
                Ok(Val::Bool(match &search {
                    Val::Array(_) | Val::Filtered(_) => search
                        .elements()
                        .unwrap_or_default()
                        .iter()
                        .any(|e| loose_eq(e, &item)),
                    Val::Object(_) => false,
                    _ => {
                        item.is_primitive()
                            && contains_ignore_case(&search.to_str(), &item.to_str())
                    }
                }))
            }
            Function::StartsWith | Function::EndsWith => {
                let s = self.eval(&args[0])?;
                let affix = self.eval(&args[1])?;
                if !s.is_primitive() || !affix.is_primitive() {
                    return Ok(Val::Bool(false));
                }
                let (s, affix) = (s.to_str(), affix.to_str());
                Ok(Val::Bool(if function == Function::StartsWith {
                    starts_with_ignore_case(&s, &affix)
                } else {
                    ends_with_ignore_case(&s, &affix)
                }))
            }
            Function::Format => {
                let fmt = self.eval(&args[0])?;
                let fmt = fmt.to_str();
                let out = crate::format::format(expr.span(), &fmt, args.len() - 1, |i| {
                    let v = self.eval(&args[i + 1])?;
                    Ok((v.to_str().into_owned(), v.kind_name()))
                })?;
                self.charge(expr, &out)?;
                Ok(Val::Str(Cow::Owned(out)))
            }
            Function::Join => {
                let items = self.eval(&args[0])?;
                let Some(elements) = items.elements() else {
                    return Ok(match items {
                        Val::Object(_) => Val::Str(Cow::Borrowed("")),
                        other => Val::Str(Cow::Owned(other.to_str().into_owned())),
                    });
                };
                let sep = match args.get(1) {
                    None => Cow::Borrowed(","),
                    Some(arg) => {
                        let sep = self.eval(arg)?;
                        if sep.is_primitive() {
                            Cow::Owned(sep.to_str().into_owned())
                        } else {
                            Cow::Borrowed(",")
                        }
                    }
                };
                let mut out = String::new();
                for (i, e) in elements.iter().enumerate() {
                    if i > 0 {
                        out.push_str(&sep);
                    }
                    out.push_str(&e.to_str());
                }
                self.charge(expr, &out)?;
                Ok(Val::Str(Cow::Owned(out)))
            }
            Function::ToJson => {
                let v = self.eval(&args[0])?;
                let mut out = String::new();
                write_json(&v, 0, &mut out);
                self.charge(expr, &out)?;
                Ok(Val::Str(Cow::Owned(out)))
            }
            Function::FromJson => {
                let v = self.eval(&args[0])?;
                let text = v.to_str();
                if text.trim().is_empty() {
                    return Err(EvalError::new(
                        expr.span(),
                        "Error parsing fromJson: the input is empty",
                    ));
                }
                let json: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
                    EvalError::new(expr.span(), format!("Error parsing fromJson: {e}"))
                })?;
                self.charge(expr, &text)?;
                let value: &'a Value = self.arena.alloc(Value::from(json));
                Ok(Val::of(value))
            }
            Function::Case => {
                let mut pairs = args.chunks_exact(2);
                for pair in pairs.by_ref() {
                    match self.eval(&pair[0])? {
                        Val::Bool(true) => return self.eval(&pair[1]),
                        Val::Bool(false) => {}
                        _ => {
                            return Err(EvalError::new(
                                pair[0].span(),
                                "case predicate must evaluate to a boolean value",
                            ));
                        }
                    }
                }
                self.eval(&pairs.remainder()[0])
            }
            Function::HashFiles => {
                let Some(provider) = self.env.hash_files else {
                    return Err(EvalError::new(
                        expr.span(),
                        "hashFiles() is not available here: no workspace to hash",
                    ));
                };
                let mut patterns = Vec::with_capacity(args.len());
                for arg in args {
                    patterns.push(self.eval(arg)?.to_str().into_owned());
                }
                provider
                    .hash_files(&patterns)
                    .map(|h| Val::Str(Cow::Owned(h)))
                    .map_err(|m| EvalError::new(expr.span(), m))
            }
            Function::Success | Function::Failure | Function::Cancelled | Function::Always => {
                let Some(status) = self.env.status else {
                    return Err(EvalError::new(
                        expr.span(),
                        format!(
                            "{}() is not available here: no job status is known",
                            function.name()
                        ),
                    ));
                };
                Ok(Val::Bool(match function {
                    Function::Success => status.success(),
                    Function::Failure => status.failure(),
                    Function::Cancelled => status.cancelled(),
                    _ => true,
                }))
            }
        }
    }
}

/// `target.name`: a key of an object, mapped over a filter result, else null.
fn property<'a>(target: Val<'a>, name: &str) -> Val<'a> {
    match target {
        Val::Object(o) => o.get(name).map_or(Val::Null, Val::of),
        Val::Filtered(items) => Val::Filtered(
            items
                .iter()
                .filter_map(|item| match item {
                    Val::Object(o) => o.get(name).map(Val::of),
                    _ => None,
                })
                .collect(),
        ),
        _ => Val::Null,
    }
}

/// `target[index]`: array element or object key, mapped over a filter result, else null.
fn index_value<'a>(target: Val<'a>, index: &Val<'_>) -> Val<'a> {
    match target {
        Val::Array(items) => array_index(index)
            .and_then(|i| items.get(i))
            .map_or(Val::Null, Val::of),
        Val::Object(o) => object_key(index)
            .and_then(|k| o.get(&k))
            .map_or(Val::Null, Val::of),
        Val::Filtered(items) => {
            let key = object_key(index);
            let position = array_index(index);
            Val::Filtered(
                items
                    .iter()
                    .filter_map(|item| match item {
                        Val::Object(o) => key.as_ref().and_then(|k| o.get(k)).map(Val::of),
                        Val::Array(a) => position.and_then(|i| a.get(i)).map(Val::of),
                        Val::Filtered(a) => position.and_then(|i| a.get(i)).cloned(),
                        _ => None,
                    })
                    .collect(),
            )
        }
        _ => Val::Null,
    }
}

/// `target.*`: the elements or values; over a filter result, flattened one level.
fn star(target: Val<'_>) -> Val<'_> {
    match target {
        Val::Array(items) => Val::Filtered(items.iter().map(Val::of).collect()),
        Val::Object(o) => Val::Filtered(o.values().map(Val::of).collect()),
        Val::Filtered(items) => {
            let mut out = Vec::new();
            for item in items {
                match item {
                    Val::Array(a) => out.extend(a.iter().map(Val::of)),
                    Val::Object(o) => out.extend(o.values().map(Val::of)),
                    Val::Filtered(a) => out.extend(a),
                    _ => {}
                }
            }
            Val::Filtered(out)
        }
        _ => Val::Filtered(Vec::new()),
    }
}
