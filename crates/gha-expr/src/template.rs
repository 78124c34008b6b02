//! Strings with embedded `${{ }}` expressions, as in `run:`, `with:` or `env:` values.

use crate::ast::Expr;
use crate::context::EvalEnv;
use crate::error::{EvalError, ParseError};
use crate::eval::evaluate;
use crate::parser::{ParseOptions, parse_with};
use crate::span::Span;
use crate::value::Value;

/// A string with embedded `${{ }}` expressions. Spans are byte offsets into the string.
///
/// ```
/// use gha_expr::{EvalEnv, Object, Template, Value};
/// let t = Template::parse("Hello ${{ inputs.name }}!").unwrap();
/// assert_eq!(t.parts().len(), 3);
/// let ctx: Object = [("inputs", Value::from(serde_json::json!({"name": "Mona"})))].into_iter().collect();
/// assert_eq!(t.evaluate_to_string(&EvalEnv::new(&ctx)).unwrap(), "Hello Mona!");
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Template {
    parts: Vec<TemplatePart>,
}

/// One piece of a [`Template`].
#[derive(Clone, Debug, PartialEq)]
pub enum TemplatePart {
    /// Text outside any `${{ }}`, verbatim.
    Literal {
        /// The text.
        text: String,
        /// Where it is in the template.
        span: Span,
    },
    /// One `${{ expr }}`.
    Expr {
        /// The parsed expression; its spans are relative to the template string.
        expr: Expr,
        /// Where the whole `${{ ... }}` is in the template.
        span: Span,
    },
}

impl TemplatePart {
    /// Where this part is in the template.
    ///
    /// ```
    /// let t = gha_expr::Template::parse("a${{ 1 }}").unwrap();
    /// assert_eq!(t.parts()[1].span(), gha_expr::Span::new(1, 9));
    /// ```
    pub fn span(&self) -> Span {
        match self {
            TemplatePart::Literal { span, .. } | TemplatePart::Expr { span, .. } => *span,
        }
    }
}

impl Template {
    /// Splits `src` into literal text and `${{ }}` expressions (any context name allowed).
    ///
    /// ```
    /// let err = gha_expr::Template::parse("${{ github.ref").unwrap_err();
    /// assert!(err.message.contains("closing }}"));
    /// ```
    pub fn parse(src: &str) -> Result<Template, ParseError> {
        Template::parse_with(src, &ParseOptions::default())
    }

    /// Like [`Template::parse`], with options for the embedded expressions.
    ///
    /// ```
    /// let opts = gha_expr::ParseOptions::new().with_contexts(["env"]);
    /// assert!(gha_expr::Template::parse_with("${{ secrets.X }}", &opts).is_err());
    /// ```
    pub fn parse_with(src: &str, options: &ParseOptions) -> Result<Template, ParseError> {
        let mut parts = Vec::new();
        let mut pos = 0;
        while let Some(found) = src[pos..].find("${{") {
            let open = pos + found;
            if open > pos {
                parts.push(TemplatePart::Literal {
                    text: src[pos..open].to_owned(),
                    span: Span::new(pos, open),
                });
            }
            let inner_start = open + 3;
            let Some(close) = find_close(src, inner_start) else {
                return Err(ParseError::new(
                    Span::new(open, src.len()),
                    "The expression is not closed. An unescaped ${{ sequence was found, but the closing }} sequence was not found.",
                ));
            };
            let inner = &src[inner_start..close];
            if inner.trim().is_empty() {
                return Err(ParseError::new(
                    Span::new(open, close + 2),
                    "An expression was expected",
                ));
            }
            let expr = parse_with(inner, options).map_err(|e| e.shifted(inner_start))?;
            parts.push(TemplatePart::Expr {
                expr: shift_expr(expr, inner_start),
                span: Span::new(open, close + 2),
            });
            pos = close + 2;
        }
        if pos < src.len() {
            parts.push(TemplatePart::Literal {
                text: src[pos..].to_owned(),
                span: Span::new(pos, src.len()),
            });
        }
        Ok(Template { parts })
    }

    /// The literal and expression parts, in order.
    pub fn parts(&self) -> &[TemplatePart] {
        &self.parts
    }

    /// True when the string contains no `${{ }}` at all.
    ///
    /// ```
    /// assert!(gha_expr::Template::parse("plain text").unwrap().is_literal());
    /// assert!(!gha_expr::Template::parse("${{ 1 }}").unwrap().is_literal());
    /// ```
    pub fn is_literal(&self) -> bool {
        self.parts
            .iter()
            .all(|p| matches!(p, TemplatePart::Literal { .. }))
    }

    /// The expression when the template is exactly one `${{ expr }}` (whitespace around it
    /// allowed); such a template evaluates to a typed value rather than a string.
    ///
    /// ```
    /// let t = gha_expr::Template::parse("  ${{ matrix.os }} ").unwrap();
    /// assert_eq!(t.single_expression().unwrap().to_string(), "matrix.os");
    /// ```
    pub fn single_expression(&self) -> Option<&Expr> {
        let mut found = None;
        for part in &self.parts {
            match part {
                TemplatePart::Literal { text, .. } if text.trim().is_empty() => {}
                TemplatePart::Expr { expr, .. } if found.is_none() => found = Some(expr),
                _ => return None,
            }
        }
        found
    }

    /// Evaluates. A template that is exactly one `${{ expr }}` yields the typed value (as
    /// GitHub does for `strategy.matrix: ${{ fromJSON(...) }}`); otherwise the parts are
    /// converted to strings and concatenated.
    ///
    /// ```
    /// use gha_expr::{EvalEnv, Object, Template, Value};
    /// let ctx = Object::new();
    /// let env = EvalEnv::new(&ctx);
    /// let v = Template::parse("${{ fromJSON('[1, 2]') }}").unwrap().evaluate(&env).unwrap();
    /// assert_eq!(v, Value::Array(vec![Value::Number(1.0), Value::Number(2.0)]));
    /// let v = Template::parse("n=${{ 1e15 }}").unwrap().evaluate(&env).unwrap();
    /// assert_eq!(v, Value::from("n=1E+15"));
    /// ```
    pub fn evaluate(&self, env: &EvalEnv<'_>) -> Result<Value, EvalError> {
        if let Some(expr) = self.single_expression() {
            return evaluate(expr, env);
        }
        self.evaluate_to_string(env).map(Value::String)
    }

    /// Evaluates every expression and concatenates everything as strings (null is empty,
    /// numbers in the runner's form, arrays `Array`, objects `Object`).
    ///
    /// ```
    /// use gha_expr::{EvalEnv, Object, Template};
    /// let ctx = Object::new();
    /// let s = Template::parse("${{ null }}|${{ true }}|${{ 0.1 }}").unwrap()
    ///     .evaluate_to_string(&EvalEnv::new(&ctx)).unwrap();
    /// assert_eq!(s, "|true|0.1");
    /// ```
    pub fn evaluate_to_string(&self, env: &EvalEnv<'_>) -> Result<String, EvalError> {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                TemplatePart::Literal { text, .. } => out.push_str(text),
                TemplatePart::Expr { expr, .. } => {
                    out.push_str(&evaluate(expr, env)?.to_display_string());
                }
            }
        }
        Ok(out)
    }
}

/// The `}}` that closes an expression starting at `from`, skipping `}}` inside strings.
fn find_close(src: &str, from: usize) -> Option<usize> {
    let b = src.as_bytes();
    let mut in_string = false;
    let mut i = from;
    while i + 1 < b.len() {
        match b[i] {
            b'\'' => in_string = !in_string,
            b'}' if !in_string && b[i + 1] == b'}' => return Some(i),
            _ => {}
        }
        i += 1;
    }
    None
}

/// Moves every span in the tree right by `offset` bytes.
pub(crate) fn shift_expr(expr: Expr, offset: usize) -> Expr {
    use crate::ast::ExprKind;
    let span = expr.span().shifted(offset);
    let shift = |e: Box<Expr>| Box::new(shift_expr(*e, offset));
    let kind = match expr.into_kind() {
        ExprKind::Property { target, name } => ExprKind::Property {
            target: shift(target),
            name,
        },
        ExprKind::Index { target, index } => ExprKind::Index {
            target: shift(target),
            index: shift(index),
        },
        ExprKind::Star { target } => ExprKind::Star {
            target: shift(target),
        },
        ExprKind::Not(operand) => ExprKind::Not(shift(operand)),
        ExprKind::Compare { op, left, right } => ExprKind::Compare {
            op,
            left: shift(left),
            right: shift(right),
        },
        ExprKind::And(items) => {
            ExprKind::And(items.into_iter().map(|e| shift_expr(e, offset)).collect())
        }
        ExprKind::Or(items) => {
            ExprKind::Or(items.into_iter().map(|e| shift_expr(e, offset)).collect())
        }
        ExprKind::Call { function, args } => ExprKind::Call {
            function,
            args: args.into_iter().map(|e| shift_expr(e, offset)).collect(),
        },
        leaf => leaf,
    };
    Expr::new(kind, span)
}
