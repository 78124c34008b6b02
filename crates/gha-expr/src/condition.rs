//! `if:` conditions: `${{ }}` optional, implicit `success() &&` unless a status function is
//! called, an empty condition meaning `success()`.

use crate::ast::{Expr, ExprKind};
use crate::context::EvalEnv;
use crate::error::{EvalError, ParseError};
use crate::eval::evaluate;
use crate::function::Function;
use crate::parser::{ParseOptions, parse_with};
use crate::span::Span;
use crate::template::{Template, TemplatePart};

/// An `if:` condition.
///
/// ```
/// use gha_expr::Condition;
/// let c = Condition::parse("github.ref == 'refs/heads/main'").unwrap();
/// assert_eq!(c.expr().to_string(), "success() && github.ref == 'refs/heads/main'");
/// let c = Condition::parse("${{ always() }}").unwrap();
/// assert_eq!(c.expr().to_string(), "always()");
/// assert_eq!(Condition::parse("").unwrap().expr().to_string(), "success()");
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Condition {
    written: Expr,
    effective: Expr,
}

impl Condition {
    /// Parses a condition (any context name allowed).
    ///
    /// ```
    /// assert!(gha_expr::Condition::parse("${{ failure() }}").is_ok());
    /// ```
    pub fn parse(src: &str) -> Result<Condition, ParseError> {
        Condition::parse_with(src, &ParseOptions::default())
    }

    /// Parses a condition with options. Text around a `${{ }}` makes the condition a string
    /// (as on GitHub, where `${{ x }} == 'y'` is always true), so it becomes a `format` call.
    ///
    /// ```
    /// let c = gha_expr::Condition::parse_with("${{ x }} == 'y'", &Default::default()).unwrap();
    /// assert_eq!(c.written().to_string(), "format('{0} == ''y''', x)");
    /// ```
    pub fn parse_with(src: &str, options: &ParseOptions) -> Result<Condition, ParseError> {
        let whole = Span::new(0, src.len());
        let written = if src.trim().is_empty() {
            call(Function::Success, Vec::new(), whole)
        } else {
            let template = Template::parse_with(src, options)?;
            if template.is_literal() {
                parse_with(src, options)?
            } else if let Some(expr) = template.single_expression() {
                expr.clone()
            } else {
                as_format(&template, whole)
            }
        };
        let effective = if written.calls_status_function() {
            written.clone()
        } else {
            // `success() && (cond)`, flattened as GitHub's parser flattens `&&` chains.
            let span = written.span();
            let mut items = vec![call(
                Function::Success,
                Vec::new(),
                Span::new(span.start, span.start),
            )];
            match written.kind() {
                ExprKind::And(inner) => items.extend(inner.iter().cloned()),
                _ => items.push(written.clone()),
            }
            Expr::new(ExprKind::And(items), span)
        };
        Ok(Condition { written, effective })
    }

    /// The expression that is evaluated, including the implicit `success() &&`.
    pub fn expr(&self) -> &Expr {
        &self.effective
    }

    /// The expression as written (without the implicit `success() &&`).
    ///
    /// ```
    /// let c = gha_expr::Condition::parse("x").unwrap();
    /// assert_eq!(c.written().to_string(), "x");
    /// ```
    pub fn written(&self) -> &Expr {
        &self.written
    }

    /// Evaluates to GitHub's decision (the truthiness of the result).
    ///
    /// ```
    /// use gha_expr::{Condition, EvalEnv, Object, StatusFunctions};
    /// struct Ok;
    /// impl StatusFunctions for Ok {
    ///     fn success(&self) -> bool { true }
    ///     fn failure(&self) -> bool { false }
    ///     fn cancelled(&self) -> bool { false }
    /// }
    /// let ctx = Object::new();
    /// let env = EvalEnv::new(&ctx).with_status(&Ok);
    /// assert!(Condition::parse("'non-empty'").unwrap().evaluate(&env).unwrap());
    /// assert!(!Condition::parse("failure()").unwrap().evaluate(&env).unwrap());
    /// ```
    pub fn evaluate(&self, env: &EvalEnv<'_>) -> Result<bool, EvalError> {
        Ok(evaluate(&self.effective, env)?.is_truthy())
    }
}

fn call(function: Function, args: Vec<Expr>, span: Span) -> Expr {
    Expr::new(ExprKind::Call { function, args }, span)
}

/// `text ${{ a }} more` as `format('text {0} more', a)`.
fn as_format(template: &Template, span: Span) -> Expr {
    let mut fmt = String::new();
    let mut args = Vec::new();
    for part in template.parts() {
        match part {
            TemplatePart::Literal { text, .. } => {
                fmt.push_str(&text.replace('{', "{{").replace('}', "}}"));
            }
            TemplatePart::Expr { expr, .. } => {
                fmt.push_str(&format!("{{{}}}", args.len()));
                args.push(expr.clone());
            }
        }
    }
    args.insert(0, Expr::new(ExprKind::String(fmt), span));
    call(Function::Format, args, span)
}
