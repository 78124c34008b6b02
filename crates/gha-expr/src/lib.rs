//! `gha-expr`: the GitHub Actions `${{ }}` expression language, on its own.
//!
//! - [`parse`] / [`parse_with`] turn an expression into an [`Expr`] (an AST whose every node
//!   has a byte [`Span`]) with a hand-written parser; [`parse_reference`] does the same with
//!   the pest grammar, the specification, and gives identical results; syntax errors carry
//!   GitHub's messages.
//! - [`evaluate`] runs it against contexts you supply through the [`Context`] trait, with the
//!   runner's exact coercions, comparisons, number formatting and functions.
//! - [`Template`] handles strings with embedded `${{ }}`; [`Condition`] handles `if:` with its
//!   implicit `success() &&`.
//! - [`Expr::context_paths`] and [`Expr::functions`] tell linters what an expression reads.
//!
//! ```
//! use gha_expr::{evaluate, parse, EvalEnv, Object, Value};
//!
//! let mut contexts = Object::new();
//! contexts.insert("github", Value::from(serde_json::json!({"workflow": "CI"})));
//! contexts.insert("runner", Value::from(serde_json::json!({"os": "Linux"})));
//!
//! let expr = parse("format('{0} runs on {1}', github.workflow, runner.os)").unwrap();
//! let value = evaluate(&expr, &EvalEnv::new(&contexts)).unwrap();
//! assert_eq!(value, Value::from("CI runs on Linux"));
//! ```

extern crate alloc;

mod ast;
mod compare;
mod condition;
mod context;
mod error;
mod eval;
mod fast_parser;
mod format;
mod function;
mod json;
mod lexer;
mod number;
mod parser;
mod span;
mod template;
mod value;

pub use ast::{CompareOp, Expr, ExprKind};
pub use condition::Condition;
pub use context::{Context, EvalEnv, HashFiles, StatusFunctions};
pub use error::{EvalError, ParseError};
pub use eval::{MAX_EVALUATION_MEMORY, evaluate};
pub use function::Function;
pub use number::{number_to_string, string_to_number};
pub use parser::{
    MAX_EXPRESSION_DEPTH, MAX_EXPRESSION_LENGTH, ParseOptions, parse, parse_reference, parse_with,
};
pub use span::Span;
pub use template::{Template, TemplatePart};
pub use value::{Object, Value};

/// The README's example, compiled and run as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
