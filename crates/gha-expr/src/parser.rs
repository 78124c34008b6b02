//! Parsing: the pest grammar in `grammar.pest`, then one pass over the pairs that applies
//! operator precedence, checks names, argument counts and limits, and builds the [`Expr`].

use pest::Parser as _;
use pest::iterators::{Pair, Pairs};

use crate::ast::{CompareOp, Expr, ExprKind, PREC_AND, PREC_EQUALITY, PREC_OR, PREC_RELATIONAL};
use crate::error::ParseError;
use crate::function::Function;
use crate::lexer::{Problem, TokenKind, first_problem, tokenize};
use crate::number::parse_number_literal;
use crate::span::Span;

#[derive(pest_derive::Parser)]
#[grammar = "grammar.pest"]
struct Grammar;

/// GitHub's maximum expression length, in characters.
pub const MAX_EXPRESSION_LENGTH: usize = 21_000;
/// GitHub's maximum tree depth (a leaf counts as 1).
pub const MAX_EXPRESSION_DEPTH: usize = 50;

/// How to parse: which context names are allowed, and the limits.
///
/// ```
/// use gha_expr::{parse_with, ParseOptions};
/// let opts = ParseOptions::new().with_contexts(["github", "matrix"]);
/// assert!(parse_with("github.ref", &opts).is_ok());
/// let err = parse_with("secrets.TOKEN", &opts).unwrap_err();
/// assert_eq!(err.message, "Unrecognized named-value: 'secrets'. Located at position 1 within expression: secrets.TOKEN");
/// ```
#[derive(Clone, Debug)]
pub struct ParseOptions {
    contexts: Option<Vec<String>>,
    pub(crate) max_length: usize,
    pub(crate) max_depth: usize,
}

impl Default for ParseOptions {
    fn default() -> ParseOptions {
        ParseOptions {
            contexts: None,
            max_length: MAX_EXPRESSION_LENGTH,
            max_depth: MAX_EXPRESSION_DEPTH,
        }
    }
}

impl ParseOptions {
    /// Any context name allowed; GitHub's limits (21,000 characters, depth 50).
    ///
    /// ```
    /// assert!(gha_expr::ParseOptions::new().allows_context("anything"));
    /// ```
    pub fn new() -> ParseOptions {
        ParseOptions::default()
    }

    /// Allows only these context names (case-insensitive); any other is a parse error.
    ///
    /// ```
    /// let o = gha_expr::ParseOptions::new().with_contexts(["GitHub"]);
    /// assert!(o.allows_context("github"));
    /// assert!(!o.allows_context("env"));
    /// ```
    pub fn with_contexts<I, S>(mut self, names: I) -> ParseOptions
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.contexts = Some(
            names
                .into_iter()
                .map(|n| n.as_ref().to_ascii_lowercase())
                .collect(),
        );
        self
    }

    /// Sets the maximum length in characters.
    ///
    /// ```
    /// let o = gha_expr::ParseOptions::new().with_max_length(3);
    /// assert!(gha_expr::parse_with("1234", &o).is_err());
    /// ```
    pub fn with_max_length(mut self, max: usize) -> ParseOptions {
        self.max_length = max;
        self
    }

    /// Sets the maximum tree depth.
    ///
    /// ```
    /// let o = gha_expr::ParseOptions::new().with_max_depth(2);
    /// assert!(gha_expr::parse_with("a.b", &o).is_ok());
    /// assert!(gha_expr::parse_with("a.b.c", &o).is_err());
    /// ```
    pub fn with_max_depth(mut self, max: usize) -> ParseOptions {
        self.max_depth = max;
        self
    }

    /// True when `name` may be used as a context.
    ///
    /// ```
    /// assert!(gha_expr::ParseOptions::new().with_contexts(["env"]).allows_context("ENV"));
    /// ```
    pub fn allows_context(&self, name: &str) -> bool {
        match &self.contexts {
            None => true,
            Some(names) => names.iter().any(|n| n.eq_ignore_ascii_case(name)),
        }
    }

    /// How deeply `(` and `[` may nest in the raw text before pest is called. Pest recurses
    /// once per level, so this bounds its stack use; real expressions never come close.
    pub(crate) fn max_nesting(&self) -> usize {
        self.max_depth.saturating_mul(2).max(16)
    }
}

/// Parses a bare expression (no `${{ }}` around it); any identifier may name a context.
///
/// ```
/// let expr = gha_expr::parse("contains(github.event.head_commit.message, '[skip ci]')").unwrap();
/// assert_eq!(expr.functions(), ["contains"]);
/// assert!(gha_expr::parse("nosuch()").is_err());
/// ```
pub fn parse(src: &str) -> Result<Expr, ParseError> {
    parse_with(src, &ParseOptions::default())
}

/// Parses a bare expression with options (allowed context names, limits).
///
/// ```
/// let opts = gha_expr::ParseOptions::new().with_contexts(["inputs"]);
/// assert!(gha_expr::parse_with("inputs.name", &opts).is_ok());
/// ```
pub fn parse_with(src: &str, options: &ParseOptions) -> Result<Expr, ParseError> {
    match crate::fast_parser::parse_fast(src, options) {
        Some(expr) => Ok(expr),
        // Every error (and anything the fast parser declines) is decided by the reference
        // path, so messages and spans are the grammar's by construction.
        None => parse_reference(src, options),
    }
}

/// Parses with the pest grammar (`src/grammar.pest`), the reference implementation: **the
/// grammar is the specification** of what parses and to which tree. [`parse_with`] uses a
/// hand-written lexer and precedence-climbing parser that gives the same trees (spans
/// included) and defers to this function for every error; the test suite checks that the two
/// agree on the benchmark corpus, every conformance case and generated and mutated text.
///
/// ```
/// use gha_expr::{parse_reference, parse_with, ParseOptions};
/// let o = ParseOptions::new();
/// let src = "github.event_name == 'push' && !contains(github.ref, 'tmp')";
/// assert_eq!(
///     format!("{:?}", parse_reference(src, &o).unwrap()),
///     format!("{:?}", parse_with(src, &o).unwrap()),
/// );
/// assert_eq!(parse_reference("1 <", &o).unwrap_err(), parse_with("1 <", &o).unwrap_err());
/// ```
pub fn parse_reference(src: &str, options: &ParseOptions) -> Result<Expr, ParseError> {
    if src.len() > options.max_length && src.chars().count() > options.max_length {
        return Err(ParseError::new(
            Span::new(0, src.len()),
            format!("Exceeded max expression length {}", options.max_length),
        ));
    }
    check_nesting(src, options)?;
    let builder = Builder { src, options };
    match Grammar::parse(Rule::expression, src) {
        Ok(pairs) => builder.build_top(pairs),
        Err(err) => {
            let pos = match err.location {
                pest::error::InputLocation::Pos(p) => p,
                pest::error::InputLocation::Span((s, _)) => s,
            };
            Err(builder.syntax_error(pos))
        }
    }
}

/// Rejects text whose brackets nest deeper than pest can safely recurse.
fn check_nesting(src: &str, options: &ParseOptions) -> Result<(), ParseError> {
    let limit = options.max_nesting();
    let bytes = src.as_bytes();
    let mut depth = 0usize;
    let mut in_string = false;
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b'\'' => in_string = !in_string,
            b'(' | b'[' if !in_string => {
                depth += 1;
                if depth > limit {
                    return Err(ParseError::new(
                        Span::new(i, i + 1),
                        format!("Exceeded max expression depth {}", options.max_depth),
                    ));
                }
            }
            b')' | b']' if !in_string => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

/// A node under construction: the expression, its depth, where its text starts (including
/// any parentheses around it), and whether it is a keyword literal.
pub(crate) struct Built {
    pub(crate) expr: Expr,
    pub(crate) depth: usize,
    pub(crate) start: usize,
    /// A keyword literal, which may not be dereferenced.
    pub(crate) is_literal: bool,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum BinaryOp {
    Or,
    And,
    Compare(CompareOp),
}

impl BinaryOp {
    fn from_text(op: &str) -> BinaryOp {
        match op {
            "||" => BinaryOp::Or,
            "&&" => BinaryOp::And,
            "==" => BinaryOp::Compare(CompareOp::Eq),
            "!=" => BinaryOp::Compare(CompareOp::Ne),
            "<" => BinaryOp::Compare(CompareOp::Lt),
            "<=" => BinaryOp::Compare(CompareOp::Le),
            ">" => BinaryOp::Compare(CompareOp::Gt),
            _ => BinaryOp::Compare(CompareOp::Ge),
        }
    }

    pub(crate) fn precedence(self) -> u8 {
        match self {
            BinaryOp::Or => PREC_OR,
            BinaryOp::And => PREC_AND,
            BinaryOp::Compare(op) => op.precedence(),
        }
    }
}

const _: () =
    assert!(PREC_OR < PREC_AND && PREC_AND < PREC_EQUALITY && PREC_EQUALITY < PREC_RELATIONAL);

struct Builder<'s, 'o> {
    src: &'s str,
    options: &'o ParseOptions,
}

type Peek<'i> = std::iter::Peekable<Pairs<'i, Rule>>;

impl<'s> Builder<'s, '_> {
    fn build_top(&self, pairs: Pairs<'s, Rule>) -> Result<Expr, ParseError> {
        let mut iter = pairs.peekable();
        match iter.peek().map(Pair::as_rule) {
            None | Some(Rule::EOI) => Ok(Expr::new(ExprKind::Null, Span::new(0, 0))),
            Some(_) => Ok(self.build_sequence(&mut iter)?.expr),
        }
    }

    /// `operand (op operand)*` with precedence: a shunting-yard over the flat pairs.
    fn build_sequence(&self, iter: &mut Peek<'s>) -> Result<Built, ParseError> {
        let first = self.build_operand(iter)?;
        let Some(first_op) = iter.next_if(|p| p.as_rule() == Rule::operator) else {
            // Most sequences (arguments, indexes) are a single operand: no stacks needed.
            return Ok(first);
        };
        let mut operands: Vec<Built> = Vec::with_capacity(4);
        let mut ops: Vec<BinaryOp> = Vec::with_capacity(3);
        operands.push(first);
        let mut next_op = Some(BinaryOp::from_text(first_op.as_str()));
        while let Some(op) = next_op.take() {
            while let Some(&top) = ops.last()
                && top.precedence() >= op.precedence()
            {
                ops.pop();
                self.reduce(&mut operands, top)?;
            }
            ops.push(op);
            operands.push(self.build_operand(iter)?);
            next_op = iter
                .next_if(|p| p.as_rule() == Rule::operator)
                .map(|p| BinaryOp::from_text(p.as_str()));
        }
        while let Some(top) = ops.pop() {
            self.reduce(&mut operands, top)?;
        }
        Ok(operands.pop().expect("a sequence has an operand"))
    }

    fn reduce(&self, operands: &mut Vec<Built>, op: BinaryOp) -> Result<(), ParseError> {
        let right = operands.pop().expect("right operand");
        let left = operands.pop().expect("left operand");
        let built = combine(op, left, right);
        self.check_depth(&built)?;
        operands.push(built);
        Ok(())
    }

    fn check_depth(&self, built: &Built) -> Result<(), ParseError> {
        if built.depth > self.options.max_depth {
            return Err(ParseError::new(
                built.expr.span(),
                format!("Exceeded max expression depth {}", self.options.max_depth),
            ));
        }
        Ok(())
    }

    /// `!`* then a literal, or a call / group / context followed by accessors.
    fn build_operand(&self, iter: &mut Peek<'s>) -> Result<Built, ParseError> {
        let mut nots: Vec<usize> = Vec::new();
        let mut pair = iter.next().expect("grammar guarantees an operand");
        while pair.as_rule() == Rule::not {
            nots.push(pair.as_span().start());
            pair = iter
                .next()
                .expect("grammar guarantees an operand after '!'");
        }
        let mut built = self.build_primary(pair)?;
        while let Some(next) = iter.peek() {
            let rule = next.as_rule();
            if !matches!(rule, Rule::property | Rule::index) {
                break;
            }
            let accessor = iter.next().expect("peeked");
            if built.is_literal {
                return Err(self.syntax_error(accessor.as_span().start()));
            }
            built = self.apply_accessor(built, accessor)?;
        }
        while let Some(start) = nots.pop() {
            let span = Span::new(start, built.expr.span().end);
            built = Built {
                depth: built.depth + 1,
                expr: Expr::new(ExprKind::Not(Box::new(built.expr)), span),
                start,
                is_literal: false,
            };
            self.check_depth(&built)?;
        }
        Ok(built)
    }

    fn leaf(&self, kind: ExprKind, span: Span) -> Built {
        Built {
            expr: Expr::new(kind, span),
            depth: 1,
            start: span.start,
            is_literal: false,
        }
    }

    fn build_primary(&self, pair: Pair<'s, Rule>) -> Result<Built, ParseError> {
        let pest_span = pair.as_span();
        let span = Span::new(pest_span.start(), pest_span.end());
        let text = pair.as_str();
        Ok(match pair.as_rule() {
            Rule::number => match parse_number_literal(text) {
                Some(n) => self.leaf(ExprKind::Number(n), span),
                None => return Err(self.located(span, "Unexpected symbol")),
            },
            Rule::string => {
                let inner = &text[1..text.len() - 1];
                let value = if inner.contains('\'') {
                    inner.replace("''", "'")
                } else {
                    inner.to_owned()
                };
                self.leaf(ExprKind::String(value), span)
            }
            Rule::group => {
                let mut inner = pair.into_inner().peekable();
                let mut built = self.build_sequence(&mut inner)?;
                built.start = span.start;
                built.is_literal = false;
                built
            }
            Rule::name => {
                let mut inner = pair.into_inner();
                let ident = inner.next().expect("a name has an identifier");
                match inner.next() {
                    Some(arguments) if keyword(ident.as_str()).is_some() => {
                        return Err(self.syntax_error(arguments.as_span().start()));
                    }
                    Some(arguments) => self.build_call(ident, arguments, span)?,
                    None => {
                        let span = Span::new(ident.as_span().start(), ident.as_span().end());
                        let text = ident.as_str();
                        if let Some(kind) = keyword(text) {
                            let mut built = self.leaf(kind, span);
                            built.is_literal = true;
                            return Ok(built);
                        }
                        if !self.options.allows_context(text) {
                            return Err(self.located(span, "Unrecognized named-value"));
                        }
                        self.leaf(ExprKind::Context(text.to_owned()), span)
                    }
                }
            }
            rule => unreachable!("not an operand: {rule:?}"),
        })
    }

    fn build_call(
        &self,
        name_pair: Pair<'s, Rule>,
        arguments: Pair<'s, Rule>,
        span: Span,
    ) -> Result<Built, ParseError> {
        let name_span = Span::new(name_pair.as_span().start(), name_pair.as_span().end());
        let Some(function) = Function::from_name(name_pair.as_str()) else {
            return Err(self.located(name_span, "Unrecognized function"));
        };
        let arguments_start = arguments.as_span().start();
        let mut args = Vec::new();
        let mut depth = 0;
        for arg in arguments.into_inner() {
            let mut seq = arg.into_inner().peekable();
            let built = self.build_sequence(&mut seq)?;
            depth = depth.max(built.depth);
            args.push(built.expr);
        }
        // GitHub names the call's `(` in argument-count errors.
        let open = arguments_start;
        let open_span = Span::new(open, open + 1);
        if args.len() < function.min_args() {
            return Err(self.located(open_span, "Too few parameters supplied"));
        }
        if args.len() > function.max_args() {
            return Err(self.located(open_span, "Too many parameters supplied"));
        }
        if function == Function::Case && args.len().is_multiple_of(2) {
            return Err(self.located(
                name_span,
                "Even number of parameters supplied, requires an odd number of parameters",
            ));
        }
        let built = Built {
            expr: Expr::new(ExprKind::Call { function, args }, span),
            depth: depth + 1,
            start: span.start,
            is_literal: false,
        };
        self.check_depth(&built)?;
        Ok(built)
    }

    fn apply_accessor(&self, target: Built, accessor: Pair<'s, Rule>) -> Result<Built, ParseError> {
        let end = accessor.as_span().end();
        let span = Span::new(target.start, end);
        let start = target.start;
        let is_property = accessor.as_rule() == Rule::property;
        let mut inner = accessor.into_inner().peekable();
        let first = inner.peek().expect("an accessor has content");
        let (kind, depth) = match first.as_rule() {
            Rule::star => (
                ExprKind::Star {
                    target: Box::new(target.expr),
                },
                target.depth + 1,
            ),
            Rule::identifier if is_property => {
                let kind = ExprKind::Property {
                    target: Box::new(target.expr),
                    name: first.as_str().to_owned(),
                };
                (kind, target.depth + 1)
            }
            _ => {
                let index = self.build_sequence(&mut inner)?;
                let depth = target.depth.max(index.depth) + 1;
                (
                    ExprKind::Index {
                        target: Box::new(target.expr),
                        index: Box::new(index.expr),
                    },
                    depth,
                )
            }
        };
        let built = Built {
            expr: Expr::new(kind, span),
            depth,
            start,
            is_literal: false,
        };
        self.check_depth(&built)?;
        Ok(built)
    }

    /// `<what>: '<token>'. Located at position <n> within expression: <src>`
    fn located(&self, span: Span, what: &str) -> ParseError {
        let token = &self.src[span.start..span.end];
        let position = self.src[..span.start].chars().count() + 1;
        ParseError::new(
            span,
            format!(
                "{what}: '{token}'. Located at position {position} within expression: {}",
                self.src
            ),
        )
    }

    /// Turns pest's failure position into GitHub's message: the first token GitHub's lexer
    /// rejects, an unknown name before the failure, the token at the failure, or the end.
    fn syntax_error(&self, pos: usize) -> ParseError {
        let allows = |name: &str| self.options.allows_context(name);
        if let Some((problem, t)) = first_problem(self.src, &allows) {
            let what = match problem {
                Problem::UnexpectedSymbol => "Unexpected symbol",
                Problem::UnexpectedEnd => "Unexpected end of expression",
                Problem::UnknownNamedValue => "Unrecognized named-value",
                Problem::UnknownFunction => "Unrecognized function",
                Problem::TooFewParameters => "Too few parameters supplied",
                Problem::TooManyParameters => "Too many parameters supplied",
                Problem::EvenCaseParameters => {
                    "Even number of parameters supplied, requires an odd number of parameters"
                }
            };
            return self.located(Span::new(t.start, t.end), what);
        }
        // The walk found nothing (it and the grammar should always agree): name the token at
        // pest's failure position.
        let tokens = tokenize(self.src);
        for t in tokens.iter().filter(|t| t.start < pos) {
            let span = Span::new(t.start, t.end);
            let text = &self.src[t.start..t.end];
            match t.kind {
                TokenKind::Unexpected => return self.located(span, "Unexpected symbol"),
                TokenKind::NamedValue if !self.options.allows_context(text) => {
                    return self.located(span, "Unrecognized named-value");
                }
                TokenKind::Function if Function::from_name(text).is_none() => {
                    return self.located(span, "Unrecognized function");
                }
                _ => {}
            }
        }
        if let Some(t) = tokens.iter().find(|t| t.end > pos) {
            return self.located(Span::new(t.start, t.end), "Unexpected symbol");
        }
        match tokens.last() {
            Some(t) => self.located(Span::new(t.start, t.end), "Unexpected end of expression"),
            None => ParseError::new(Span::new(pos, pos), "Unexpected end of expression"),
        }
    }
}

/// Joins two operands with a binary operator (flattening `&&`/`||` chains like GitHub's
/// parser); the caller checks the depth.
pub(crate) fn combine(op: BinaryOp, left: Built, right: Built) -> Built {
    let span = Span::new(left.start, right.expr.span().end);
    match op {
        BinaryOp::And | BinaryOp::Or => {
            // Like GitHub's parser, nested chains of the same operator are flattened into
            // one node, parenthesized or not (`(a && b) && c` is `a && b && c`). A chain on
            // the left (the usual case) keeps its list and grows it.
            let same = |side: &Built| {
                matches!(
                    (op, side.expr.kind()),
                    (BinaryOp::And, ExprKind::And(_)) | (BinaryOp::Or, ExprKind::Or(_))
                )
            };
            let (mut items, mut below) = if same(&left) {
                let below = left.depth - 1;
                match left.expr.into_kind() {
                    ExprKind::And(inner) | ExprKind::Or(inner) => (inner, below),
                    _ => unreachable!("checked above"),
                }
            } else {
                let mut items = Vec::with_capacity(4);
                let below = left.depth;
                items.push(left.expr);
                (items, below)
            };
            if same(&right) {
                below = below.max(right.depth - 1);
                if let ExprKind::And(inner) | ExprKind::Or(inner) = right.expr.into_kind() {
                    items.extend(inner);
                }
            } else {
                below = below.max(right.depth);
                items.push(right.expr);
            }
            let kind = if op == BinaryOp::And {
                ExprKind::And(items)
            } else {
                ExprKind::Or(items)
            };
            Built {
                expr: Expr::new(kind, span),
                depth: below + 1,
                start: span.start,
                is_literal: false,
            }
        }
        BinaryOp::Compare(op) => Built {
            depth: left.depth.max(right.depth) + 1,
            start: left.start,
            expr: Expr::new(
                ExprKind::Compare {
                    op,
                    left: Box::new(left.expr),
                    right: Box::new(right.expr),
                },
                span,
            ),
            is_literal: false,
        },
    }
}

/// The node a keyword stands for, or None for an ordinary name.
pub(crate) fn keyword(text: &str) -> Option<ExprKind> {
    Some(match text {
        "null" => ExprKind::Null,
        "true" => ExprKind::Bool(true),
        "false" => ExprKind::Bool(false),
        "NaN" => ExprKind::Number(f64::NAN),
        "Infinity" => ExprKind::Number(f64::INFINITY),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(src: &str) -> String {
        parse(src).unwrap_err().message
    }

    #[test]
    fn errors_name_the_token_like_github() {
        assert_eq!(
            err("1 <"),
            "Unexpected end of expression: '<'. Located at position 3 within expression: 1 <"
        );
        assert_eq!(
            err("foo.b@r"),
            "Unexpected symbol: 'b@r'. Located at position 5 within expression: foo.b@r"
        );
        assert_eq!(
            err("0x01p2"),
            "Unexpected symbol: '0x01p2'. Located at position 1 within expression: 0x01p2"
        );
        assert_eq!(
            err("'foo"),
            "Unexpected symbol: ''foo'. Located at position 1 within expression: 'foo"
        );
        assert_eq!(
            err("1 =2 =3"),
            "Unexpected symbol: '=2'. Located at position 3 within expression: 1 =2 =3"
        );
        assert_eq!(
            err("0x100000000"),
            "Unexpected symbol: '0x100000000'. Located at position 1 within expression: 0x100000000"
        );
    }

    #[test]
    fn precedence_and_flattening() {
        let e = parse("a || b && c == d < e || !f").unwrap();
        assert_eq!(e.to_string(), "a || b && c == d < e || !f");
        let ExprKind::Or(items) = e.kind() else {
            panic!("{e:?}")
        };
        assert_eq!(items.len(), 3);
        let e = parse("(a && b) && (c && (d || e || (f || g)))").unwrap();
        assert_eq!(e.to_string(), "a && b && c && (d || e || f || g)");
        assert_eq!(e.depth(), 3);
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_stack_overflow() {
        let handle = std::thread::Builder::new()
            .stack_size(256 * 1024)
            .spawn(|| {
                let deep = format!("{}1{}", "(".repeat(100_000), ")".repeat(100_000));
                let opts = ParseOptions::new().with_max_length(usize::MAX);
                parse_with(&deep, &opts).unwrap_err().message
            })
            .unwrap();
        assert_eq!(handle.join().unwrap(), "Exceeded max expression depth 50");
    }
}
