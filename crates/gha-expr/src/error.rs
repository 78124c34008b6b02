//! Parse and evaluation errors. Messages follow the wording of GitHub's runner.

use std::fmt;

use crate::span::Span;

/// A syntax error: where and what. `Display` gives GitHub's message, e.g.
/// `Unexpected symbol: '2'. Located at position 3 within expression: 1 2`.
///
/// ```
/// let err = gha_expr::parse("1 2").unwrap_err();
/// assert_eq!(err.span, gha_expr::Span::new(2, 3));
/// assert_eq!(err.to_string(), "Unexpected symbol: '2'. Located at position 3 within expression: 1 2");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    /// The offending token (byte offsets into the parsed text).
    pub span: Span,
    /// GitHub's message.
    pub message: String,
}

impl ParseError {
    pub(crate) fn new(span: Span, message: impl Into<String>) -> ParseError {
        ParseError {
            span,
            message: message.into(),
        }
    }

    /// The same error with its span moved right by `offset` bytes (the message is unchanged).
    ///
    /// ```
    /// let err = gha_expr::parse("1 2").unwrap_err().shifted(4);
    /// assert_eq!(err.span, gha_expr::Span::new(6, 7));
    /// ```
    pub fn shifted(mut self, offset: usize) -> ParseError {
        self.span = self.span.shifted(offset);
        self
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ParseError {}

/// An error while evaluating: a bad `format` string, invalid JSON for `fromJSON`, a `case`
/// predicate that is not a boolean, a missing status or `hashFiles` provider, the memory limit.
///
/// ```
/// use gha_expr::{evaluate, parse, EvalEnv, Object};
/// let ctx = Object::new();
/// let err = evaluate(&parse("fromJSON('{')").unwrap(), &EvalEnv::new(&ctx)).unwrap_err();
/// assert!(err.message.starts_with("Error parsing fromJson"));
/// assert_eq!(err.span, gha_expr::Span::new(0, 13));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EvalError {
    /// The expression node that failed (byte offsets into the parsed text).
    pub span: Span,
    /// What went wrong.
    pub message: String,
}

impl EvalError {
    pub(crate) fn new(span: Span, message: impl Into<String>) -> EvalError {
        EvalError {
            span,
            message: message.into(),
        }
    }
}

impl fmt::Display for EvalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for EvalError {}
