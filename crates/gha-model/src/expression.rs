//! The one place gha-model talks to `gha-expr`.
//!
//! TEMPORARY: until gha-expr's parser lands, this module carries a minimal stand-in with the
//! agreed names (`Template`, `Condition`, `ParseError`). It only finds `${{ }}` boundaries; it is
//! replaced by `pub use gha_expr::{...}` as soon as gha-expr is committed.

use std::fmt;

/// Byte offsets relative to the parsed string.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct ExprSpan {
    /// First byte.
    pub start: usize,
    /// Just past the last byte.
    pub end: usize,
}

/// A syntax error in an expression.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    /// Where, relative to the parsed string.
    pub span: ExprSpan,
    /// What went wrong.
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// One piece of a template.
#[derive(Clone, Debug, PartialEq)]
pub enum TemplatePart {
    /// Literal text.
    Literal {
        /// The text.
        text: String,
        /// Where.
        span: ExprSpan,
    },
    /// An expression (source text inside `${{ }}`).
    Expr {
        /// The expression source.
        expr: String,
        /// Where the whole `${{ ... }}` is.
        span: ExprSpan,
    },
}

/// A string with embedded `${{ }}` expressions.
#[derive(Clone, Debug, PartialEq)]
pub struct Template {
    parts: Vec<TemplatePart>,
}

impl Template {
    /// Split `src` into literal and expression parts.
    pub fn parse(src: &str) -> Result<Template, ParseError> {
        let mut parts = Vec::new();
        let mut rest = 0;
        let bytes = src.as_bytes();
        while let Some(off) = src[rest..].find("${{") {
            let open = rest + off;
            if open > rest {
                parts.push(TemplatePart::Literal {
                    text: src[rest..open].to_owned(),
                    span: ExprSpan {
                        start: rest,
                        end: open,
                    },
                });
            }
            let mut i = open + 3;
            let mut in_str = false;
            let mut close = None;
            while i < bytes.len() {
                let b = bytes[i];
                if in_str {
                    if b == b'\'' {
                        if bytes.get(i + 1) == Some(&b'\'') {
                            i += 1;
                        } else {
                            in_str = false;
                        }
                    }
                } else if b == b'\'' {
                    in_str = true;
                } else if b == b'}' && bytes.get(i + 1) == Some(&b'}') {
                    close = Some(i);
                    break;
                }
                i += 1;
            }
            let Some(close) = close else {
                return Err(ParseError {
                    span: ExprSpan {
                        start: open,
                        end: src.len(),
                    },
                    message: "Unexpected end of expression: missing '}}'".to_owned(),
                });
            };
            let inner = src[open + 3..close].trim();
            if inner.is_empty() {
                return Err(ParseError {
                    span: ExprSpan {
                        start: open,
                        end: close + 2,
                    },
                    message: "An expression was expected".to_owned(),
                });
            }
            parts.push(TemplatePart::Expr {
                expr: inner.to_owned(),
                span: ExprSpan {
                    start: open,
                    end: close + 2,
                },
            });
            rest = close + 2;
        }
        if rest < src.len() || parts.is_empty() {
            parts.push(TemplatePart::Literal {
                text: src[rest..].to_owned(),
                span: ExprSpan {
                    start: rest,
                    end: src.len(),
                },
            });
        }
        Ok(Template { parts })
    }

    /// The parts in order.
    pub fn parts(&self) -> &[TemplatePart] {
        &self.parts
    }

    /// Whether there are no expressions at all.
    pub fn is_literal(&self) -> bool {
        self.parts
            .iter()
            .all(|p| matches!(p, TemplatePart::Literal { .. }))
    }
}

/// An `if:` condition.
#[derive(Clone, Debug, PartialEq)]
pub struct Condition {
    src: String,
}

impl Condition {
    /// Parse an `if:` value (with or without `${{ }}`).
    pub fn parse(src: &str) -> Result<Condition, ParseError> {
        let t = src.trim();
        let inner = if t.starts_with("${{") && t.ends_with("}}") && t.len() >= 5 {
            &t[3..t.len() - 2]
        } else {
            t
        };
        Template::parse(&format!("${{{{ {inner} }}}}"))?;
        Ok(Condition {
            src: src.to_owned(),
        })
    }
}
