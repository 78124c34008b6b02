//! The expression tree: every node carries the byte [`Span`] it was parsed from.

use std::fmt;

use crate::function::Function;
use crate::span::Span;

/// A parsed expression: an [`ExprKind`] and the [`Span`] it came from.
///
/// Two expressions are equal when their trees are equal; spans are ignored, so
/// `parse(&expr.to_string())` equals `expr`. `Display` prints the canonical form.
///
/// ```
/// let expr = gha_expr::parse("github.EVENT_NAME=='push'&&!cancelled()").unwrap();
/// assert_eq!(expr.to_string(), "github.EVENT_NAME == 'push' && !cancelled()");
/// assert_eq!(gha_expr::parse(&expr.to_string()).unwrap(), expr);
/// ```
#[derive(Clone, Debug)]
pub struct Expr {
    kind: ExprKind,
    span: Span,
}

/// What an expression node is.
#[derive(Clone, Debug)]
pub enum ExprKind {
    /// `null`
    Null,
    /// `true` or `false`
    Bool(bool),
    /// A number literal (decimal, `0x` hex, `0o` octal, `NaN`, `Infinity`).
    Number(f64),
    /// A single-quoted string literal, already unescaped.
    String(String),
    /// A named value (context) such as `github`, as written.
    Context(String),
    /// `target.name`
    Property {
        /// What is dereferenced.
        target: Box<Expr>,
        /// The property name as written.
        name: String,
    },
    /// `target[index]`
    Index {
        /// What is indexed.
        target: Box<Expr>,
        /// The index expression.
        index: Box<Expr>,
    },
    /// An object filter, `target.*` or `target[*]`.
    Star {
        /// What is filtered.
        target: Box<Expr>,
    },
    /// `!operand`
    Not(Box<Expr>),
    /// A comparison: `==`, `!=`, `<`, `<=`, `>`, `>=`.
    Compare {
        /// The operator.
        op: CompareOp,
        /// Left operand.
        left: Box<Expr>,
        /// Right operand.
        right: Box<Expr>,
    },
    /// `a && b && ...` (chains are one node, as in GitHub's parser).
    And(Vec<Expr>),
    /// `a || b || ...` (chains are one node, as in GitHub's parser).
    Or(Vec<Expr>),
    /// A function call.
    Call {
        /// Which function.
        function: Function,
        /// The arguments, in order.
        args: Vec<Expr>,
    },
}

/// A comparison operator.
///
/// ```
/// assert_eq!(gha_expr::CompareOp::Le.symbol(), "<=");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CompareOp {
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

impl CompareOp {
    /// The operator as written.
    ///
    /// ```
    /// assert_eq!(gha_expr::CompareOp::Ne.symbol(), "!=");
    /// ```
    pub const fn symbol(self) -> &'static str {
        match self {
            CompareOp::Eq => "==",
            CompareOp::Ne => "!=",
            CompareOp::Lt => "<",
            CompareOp::Le => "<=",
            CompareOp::Gt => ">",
            CompareOp::Ge => ">=",
        }
    }

    /// Binding strength: `<`, `<=`, `>`, `>=` bind tighter than `==`, `!=`.
    pub(crate) const fn precedence(self) -> u8 {
        match self {
            CompareOp::Eq | CompareOp::Ne => PREC_EQUALITY,
            _ => PREC_RELATIONAL,
        }
    }
}

pub(crate) const PREC_OR: u8 = 1;
pub(crate) const PREC_AND: u8 = 2;
pub(crate) const PREC_EQUALITY: u8 = 3;
pub(crate) const PREC_RELATIONAL: u8 = 4;
const PREC_NOT: u8 = 5;
const PREC_POSTFIX: u8 = 6;

impl Expr {
    /// Builds a node. Parsing is the usual way to get one; this is for tools that synthesize
    /// expressions (for example the implicit `success() &&` of an `if:`).
    ///
    /// ```
    /// use gha_expr::{Expr, ExprKind, Span};
    /// let e = Expr::new(ExprKind::Bool(true), Span::new(0, 4));
    /// assert_eq!(e.to_string(), "true");
    /// ```
    pub fn new(kind: ExprKind, span: Span) -> Expr {
        Expr { kind, span }
    }

    /// Where this node came from, as byte offsets into the parsed text.
    ///
    /// ```
    /// let e = gha_expr::parse("  a.b  ").unwrap();
    /// assert_eq!(e.span(), gha_expr::Span::new(2, 5));
    /// ```
    pub fn span(&self) -> Span {
        self.span
    }

    /// What kind of node this is.
    ///
    /// ```
    /// use gha_expr::ExprKind;
    /// assert!(matches!(gha_expr::parse("!x").unwrap().kind(), ExprKind::Not(_)));
    /// ```
    pub fn kind(&self) -> &ExprKind {
        &self.kind
    }

    /// Consumes the node and returns its kind.
    pub fn into_kind(self) -> ExprKind {
        self.kind
    }

    /// The direct children, in source order.
    ///
    /// ```
    /// let e = gha_expr::parse("f(1) || x").unwrap_err();
    /// assert!(e.message.contains("Unrecognized function"));
    /// let e = gha_expr::parse("format('{0}', 1) || x").unwrap();
    /// assert_eq!(e.children().len(), 2);
    /// ```
    pub fn children(&self) -> Vec<&Expr> {
        match &self.kind {
            ExprKind::Null
            | ExprKind::Bool(_)
            | ExprKind::Number(_)
            | ExprKind::String(_)
            | ExprKind::Context(_) => Vec::new(),
            ExprKind::Property { target, .. } | ExprKind::Star { target } => vec![target],
            ExprKind::Index { target, index } => vec![target, index],
            ExprKind::Not(operand) => vec![operand],
            ExprKind::Compare { left, right, .. } => vec![left, right],
            ExprKind::And(items) | ExprKind::Or(items) | ExprKind::Call { args: items, .. } => {
                items.iter().collect()
            }
        }
    }

    /// Tree depth as GitHub counts it (a leaf is 1; `a.b` is 2 because the name is a leaf of
    /// its own). GitHub rejects expressions deeper than 50.
    ///
    /// ```
    /// assert_eq!(gha_expr::parse("a.b.c").unwrap().depth(), 3);
    /// assert_eq!(gha_expr::parse("a || b || c").unwrap().depth(), 2);
    /// ```
    pub fn depth(&self) -> usize {
        let below = match &self.kind {
            ExprKind::Property { target, .. } | ExprKind::Star { target } => target.depth().max(1),
            _ => self.children().iter().map(|c| c.depth()).max().unwrap_or(0),
        };
        below + 1
    }

    /// The context paths this expression reads, in source order without duplicates, e.g.
    /// `github.event.pull_request.title` or `steps.*.outputs`. Object filters appear as `*`,
    /// a literal index as `[0]` or `.name`; a computed index ends the path (its own reads are
    /// listed separately). Names are as written; GitHub matches them case-insensitively.
    ///
    /// ```
    /// let e = gha_expr::parse("contains(github.event.pull_request.labels.*.name, matrix['os'])").unwrap();
    /// assert_eq!(e.context_paths(), ["github.event.pull_request.labels.*.name", "matrix.os"]);
    /// ```
    pub fn context_paths(&self) -> Vec<String> {
        let mut out = Vec::new();
        collect_paths(self, &mut out);
        out
    }

    /// The functions this expression calls, lower-case, in source order without duplicates.
    ///
    /// ```
    /// let e = gha_expr::parse("always() && fromJSON(toJSON(x)) && toJson(y)").unwrap();
    /// assert_eq!(e.functions(), ["always", "fromjson", "tojson"]);
    /// ```
    pub fn functions(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        self.walk(&mut |e| {
            if let ExprKind::Call { function, .. } = &e.kind {
                let name = function.name().to_ascii_lowercase();
                if !out.contains(&name) {
                    out.push(name);
                }
            }
        });
        out
    }

    /// Calls `visit` on this node and every descendant, parents first, in source order.
    ///
    /// ```
    /// let mut n = 0;
    /// gha_expr::parse("a == 1").unwrap().walk(&mut |_| n += 1);
    /// assert_eq!(n, 3);
    /// ```
    pub fn walk(&self, visit: &mut dyn FnMut(&Expr)) {
        visit(self);
        for child in self.children() {
            child.walk(visit);
        }
    }

    /// True when the tree calls `success()`, `always()`, `cancelled()` or `failure()`.
    ///
    /// ```
    /// assert!(gha_expr::parse("!cancelled() && x").unwrap().calls_status_function());
    /// assert!(!gha_expr::parse("x").unwrap().calls_status_function());
    /// ```
    pub fn calls_status_function(&self) -> bool {
        let mut found = false;
        self.walk(&mut |e| {
            if let ExprKind::Call { function, .. } = &e.kind {
                found |= function.is_status();
            }
        });
        found
    }

    fn precedence(&self) -> u8 {
        match &self.kind {
            ExprKind::Or(_) => PREC_OR,
            ExprKind::And(_) => PREC_AND,
            ExprKind::Compare { op, .. } => op.precedence(),
            ExprKind::Not(_) => PREC_NOT,
            _ => PREC_POSTFIX,
        }
    }

    /// True for nodes that may be followed by `.name`, `[i]` or `.*` without parentheses.
    fn is_dereferenceable(&self) -> bool {
        matches!(
            self.kind,
            ExprKind::Context(_)
                | ExprKind::Call { .. }
                | ExprKind::Property { .. }
                | ExprKind::Index { .. }
                | ExprKind::Star { .. }
        )
    }
}

/// The path of an accessor chain rooted at a context, or None when the chain starts elsewhere.
fn chain_path(expr: &Expr) -> Option<String> {
    match &expr.kind {
        ExprKind::Context(name) => Some(name.clone()),
        ExprKind::Property { target, name } => chain_path(target).map(|p| format!("{p}.{name}")),
        ExprKind::Star { target } => chain_path(target).map(|p| format!("{p}.*")),
        ExprKind::Index { target, index } => {
            let base = chain_path(target)?;
            Some(match &index.kind {
                ExprKind::String(s) if is_identifier(s) => format!("{base}.{s}"),
                ExprKind::String(s) => format!("{base}['{}']", s.replace('\'', "''")),
                ExprKind::Number(n) => format!("{base}[{}]", NumberLiteral(*n)),
                _ => base,
            })
        }
        _ => None,
    }
}

fn collect_paths(expr: &Expr, out: &mut Vec<String>) {
    if let Some(path) = chain_path(expr) {
        if !out.contains(&path) {
            out.push(path);
        }
        // Computed indexes inside the chain read contexts of their own.
        let mut node = expr;
        loop {
            match &node.kind {
                ExprKind::Property { target, .. } | ExprKind::Star { target } => node = target,
                ExprKind::Index { target, index } => {
                    collect_paths(index, out);
                    node = target;
                }
                _ => break,
            }
        }
        return;
    }
    for child in expr.children() {
        collect_paths(child, out);
    }
}

/// True for a name that can follow `.` unquoted: `[A-Za-z_][A-Za-z0-9_-]*`.
pub(crate) fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

impl PartialEq for Expr {
    fn eq(&self, other: &Expr) -> bool {
        match (&self.kind, &other.kind) {
            (ExprKind::Null, ExprKind::Null) => true,
            (ExprKind::Bool(a), ExprKind::Bool(b)) => a == b,
            (ExprKind::Number(a), ExprKind::Number(b)) => a.to_bits() == b.to_bits(),
            (ExprKind::String(a), ExprKind::String(b)) => a == b,
            (ExprKind::Context(a), ExprKind::Context(b)) => a == b,
            (
                ExprKind::Property {
                    target: t1,
                    name: n1,
                },
                ExprKind::Property {
                    target: t2,
                    name: n2,
                },
            ) => n1 == n2 && t1 == t2,
            (
                ExprKind::Index {
                    target: t1,
                    index: i1,
                },
                ExprKind::Index {
                    target: t2,
                    index: i2,
                },
            ) => t1 == t2 && i1 == i2,
            (ExprKind::Star { target: a }, ExprKind::Star { target: b }) => a == b,
            (ExprKind::Not(a), ExprKind::Not(b)) => a == b,
            (
                ExprKind::Compare {
                    op: o1,
                    left: l1,
                    right: r1,
                },
                ExprKind::Compare {
                    op: o2,
                    left: l2,
                    right: r2,
                },
            ) => o1 == o2 && l1 == l2 && r1 == r2,
            (ExprKind::And(a), ExprKind::And(b)) | (ExprKind::Or(a), ExprKind::Or(b)) => a == b,
            (
                ExprKind::Call {
                    function: f1,
                    args: a1,
                },
                ExprKind::Call {
                    function: f2,
                    args: a2,
                },
            ) => f1 == f2 && a1 == a2,
            _ => false,
        }
    }
}

/// Prints a number literal so that parsing it gives back exactly the same `f64`.
struct NumberLiteral(f64);

impl fmt::Display for NumberLiteral {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0;
        if n.is_nan() {
            f.write_str("NaN")
        } else if n.is_infinite() {
            f.write_str(if n > 0.0 { "Infinity" } else { "-Infinity" })
        } else if n == n.trunc() && n.abs() < 1e15 {
            if n == 0.0 && n.is_sign_negative() {
                f.write_str("-0")
            } else {
                write!(f, "{}", n as i64)
            }
        } else {
            write!(f, "{n:?}")
        }
    }
}

struct Prec<'a>(&'a Expr, u8);

impl fmt::Display for Prec<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.precedence() < self.1 {
            write!(f, "({})", self.0)
        } else {
            write!(f, "{}", self.0)
        }
    }
}

struct Target<'a>(&'a Expr);

impl fmt::Display for Target<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_dereferenceable() {
            write!(f, "{}", self.0)
        } else {
            write!(f, "({})", self.0)
        }
    }
}

fn write_string_literal(f: &mut fmt::Formatter<'_>, s: &str) -> fmt::Result {
    f.write_str("'")?;
    for (i, part) in s.split('\'').enumerate() {
        if i > 0 {
            f.write_str("''")?;
        }
        f.write_str(part)?;
    }
    f.write_str("'")
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            ExprKind::Null => f.write_str("null"),
            ExprKind::Bool(b) => write!(f, "{b}"),
            ExprKind::Number(n) => write!(f, "{}", NumberLiteral(*n)),
            ExprKind::String(s) => write_string_literal(f, s),
            ExprKind::Context(name) => f.write_str(name),
            ExprKind::Property { target, name } => {
                if is_identifier(name) {
                    write!(f, "{}.{name}", Target(target))
                } else {
                    write!(f, "{}[", Target(target))?;
                    write_string_literal(f, name)?;
                    f.write_str("]")
                }
            }
            ExprKind::Index { target, index } => write!(f, "{}[{index}]", Target(target)),
            ExprKind::Star { target } => write!(f, "{}.*", Target(target)),
            ExprKind::Not(operand) => write!(f, "!{}", Prec(operand, PREC_NOT)),
            ExprKind::Compare { op, left, right } => {
                let p = op.precedence();
                write!(
                    f,
                    "{} {} {}",
                    Prec(left, p),
                    op.symbol(),
                    Prec(right, p + 1)
                )
            }
            ExprKind::And(items) | ExprKind::Or(items) => {
                let (sep, min) = if matches!(self.kind, ExprKind::And(_)) {
                    (" && ", PREC_AND + 1)
                } else {
                    (" || ", PREC_OR + 1)
                };
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(sep)?;
                    }
                    write!(f, "{}", Prec(item, min))?;
                }
                Ok(())
            }
            ExprKind::Call { function, args } => {
                write!(f, "{function}(")?;
                for (i, arg) in args.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{arg}")?;
                }
                f.write_str(")")
            }
        }
    }
}
