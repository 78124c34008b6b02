//! The fast path behind [`parse_with`](crate::parse_with): a hand-written single-pass lexer over
//! borrowed `&str` slices and a precedence-climbing parser that builds exactly the tree the
//! pest grammar (`grammar.pest`, the specification, run by
//! [`parse_reference`](crate::parse_reference)) builds — same spans, node kinds, `&&`/`||`
//! flattening and depth checks.
//!
//! It only ever answers "here is the tree" or "not mine": on any error (syntax, unknown name,
//! argument count, limits) or anything unusual (very deep nesting, long `!` runs) it returns
//! `None` and the caller runs the reference parser, which produces GitHub's error message.
//! Errors are rare, so they may be slow; the differential tests check that whenever this
//! parser accepts, the grammar accepts with the same tree.

use crate::ast::{CompareOp, Expr, ExprKind};
use crate::function::Function;
use crate::number::parse_number_literal;
use crate::parser::{BinaryOp, Built, ParseOptions, combine, keyword};
use crate::span::Span;

/// Bracket nesting beyond this is left to the reference parser (whose pre-scan rejects it),
/// which also bounds this parser's recursion whatever the options say.
const MAX_FAST_NESTING: usize = 32;
/// Consecutive `!` handled without allocating; longer runs go to the reference parser.
const MAX_FAST_NOTS: usize = 16;

/// What a token is. The text is `&src[start..end]`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Tok {
    /// `!` not followed by `=`.
    Not,
    LParen,
    RParen,
    LBracket,
    RBracket,
    Comma,
    Dot,
    Star,
    Op(BinaryOp),
    /// `[A-Za-z_][A-Za-z0-9_-]*` ending at a boundary or `.`.
    Ident,
    /// A valid number token (its value is parsed later).
    Number,
    /// A complete single-quoted string, quotes included.
    Str,
    Eof,
    /// Anything the grammar cannot accept here.
    Bad,
}

#[derive(Clone, Copy, Debug)]
struct Token {
    kind: Tok,
    start: usize,
    end: usize,
}

/// The lexer: a cursor over the text. Which tokens are possible depends on whether an
/// operand or an operator comes next, so the parser says which it wants.
struct Lexer<'s> {
    src: &'s str,
    pos: usize,
}

/// The grammar's `boundary`: Unicode white space or one of `) , ( [ ] = ! & | > <`.
fn is_boundary(c: char) -> bool {
    if c.is_ascii() {
        ASCII_CLASS[c as usize] & BOUNDARY != 0
    } else {
        c.is_whitespace()
    }
}

/// Continues an identifier: `[A-Za-z0-9_-]`.
const IDENT: u8 = 1;
/// An ASCII boundary character (white space or `) , ( [ ] = ! & | > <`).
const BOUNDARY: u8 = 2;
/// Character classes of the ASCII bytes, so the scanning loops test one table entry.
const ASCII_CLASS: [u8; 128] = {
    let mut table = [0u8; 128];
    let mut b = 0;
    while b < 128 {
        let c = b as u8;
        if c.is_ascii_alphanumeric() || c == b'_' || c == b'-' {
            table[b] |= IDENT;
        }
        if matches!(
            c,
            b')' | b',' | b'(' | b'[' | b']' | b'=' | b'!' | b'&' | b'|' | b'>' | b'<'
        ) || matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0x0B | 0x0C)
        {
            table[b] |= BOUNDARY;
        }
        b += 1;
    }
    table
};

impl<'s> Lexer<'s> {
    fn char_at(&self, pos: usize) -> Option<char> {
        let b = *self.src.as_bytes().get(pos)?;
        if b.is_ascii() {
            Some(b as char)
        } else {
            self.src[pos..].chars().next()
        }
    }

    fn skip_whitespace(&mut self) {
        let bytes = self.src.as_bytes();
        while let Some(&b) = bytes.get(self.pos) {
            if b.is_ascii() {
                if matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0B | 0x0C) {
                    self.pos += 1;
                } else {
                    return;
                }
            } else {
                match self.char_at(self.pos) {
                    Some(c) if c.is_whitespace() => self.pos += c.len_utf8(),
                    _ => return,
                }
            }
        }
    }

    fn token(&mut self, kind: Tok, start: usize, end: usize) -> Token {
        self.pos = end;
        Token { kind, start, end }
    }

    /// The next token where an operand (or `)`/`]`/`,` closing a list, or `*` after `.`/`[`)
    /// may start.
    fn operand(&mut self) -> Token {
        self.skip_whitespace();
        let start = self.pos;
        let bytes = self.src.as_bytes();
        let Some(&b) = bytes.get(start) else {
            return self.token(Tok::Eof, start, start);
        };
        match b {
            b'!' if bytes.get(start + 1) == Some(&b'=') => self.token(Tok::Bad, start, start),
            b'!' => self.token(Tok::Not, start, start + 1),
            b'(' => self.token(Tok::LParen, start, start + 1),
            b')' => self.token(Tok::RParen, start, start + 1),
            b']' => self.token(Tok::RBracket, start, start + 1),
            b',' => self.token(Tok::Comma, start, start + 1),
            b'*' => self.token(Tok::Star, start, start + 1),
            b'\'' => self.string(start),
            b if b.is_ascii_alphabetic() || b == b'_' => self.identifier(start),
            b if b.is_ascii_digit() || matches!(b, b'+' | b'-' | b'.') => self.number(start),
            _ => self.token(Tok::Bad, start, start),
        }
    }

    /// The next token after an operand: an operator, an accessor, a call's `(`, a closer or
    /// the end.
    fn after_operand(&mut self) -> Token {
        self.skip_whitespace();
        let start = self.pos;
        let bytes = self.src.as_bytes();
        let Some(&b) = bytes.get(start) else {
            return self.token(Tok::Eof, start, start);
        };
        let next = bytes.get(start + 1).copied();
        let op = |op| Tok::Op(op);
        match (b, next) {
            (b'.', _) => self.token(Tok::Dot, start, start + 1),
            (b'[', _) => self.token(Tok::LBracket, start, start + 1),
            (b'(', _) => self.token(Tok::LParen, start, start + 1),
            (b')', _) => self.token(Tok::RParen, start, start + 1),
            (b']', _) => self.token(Tok::RBracket, start, start + 1),
            (b',', _) => self.token(Tok::Comma, start, start + 1),
            (b'|', Some(b'|')) => self.token(op(BinaryOp::Or), start, start + 2),
            (b'&', Some(b'&')) => self.token(op(BinaryOp::And), start, start + 2),
            (b'=', Some(b'=')) => {
                self.token(op(BinaryOp::Compare(CompareOp::Eq)), start, start + 2)
            }
            (b'!', Some(b'=')) => {
                self.token(op(BinaryOp::Compare(CompareOp::Ne)), start, start + 2)
            }
            (b'<', Some(b'=')) => {
                self.token(op(BinaryOp::Compare(CompareOp::Le)), start, start + 2)
            }
            (b'>', Some(b'=')) => {
                self.token(op(BinaryOp::Compare(CompareOp::Ge)), start, start + 2)
            }
            (b'<', _) => self.token(op(BinaryOp::Compare(CompareOp::Lt)), start, start + 1),
            (b'>', _) => self.token(op(BinaryOp::Compare(CompareOp::Gt)), start, start + 1),
            _ => self.token(Tok::Bad, start, start),
        }
    }

    /// `'...'` with `''` for a quote; unterminated is bad.
    fn string(&mut self, start: usize) -> Token {
        let bytes = self.src.as_bytes();
        let mut i = start + 1;
        loop {
            match bytes[i..].iter().position(|&b| b == b'\'') {
                None => return self.token(Tok::Bad, start, start),
                Some(off) => {
                    let quote = i + off;
                    if bytes.get(quote + 1) == Some(&b'\'') {
                        i = quote + 2;
                    } else {
                        return self.token(Tok::Str, start, quote + 1);
                    }
                }
            }
        }
    }

    /// An identifier must end at a boundary character, `.` or the end.
    fn identifier(&mut self, start: usize) -> Token {
        let bytes = self.src.as_bytes();
        let mut end = start + 1;
        while let Some(&b) = bytes.get(end)
            && b.is_ascii()
            && ASCII_CLASS[b as usize] & IDENT != 0
        {
            end += 1;
        }
        match self.char_at(end) {
            None => self.token(Tok::Ident, start, end),
            Some(c) if c == '.' || is_boundary(c) => self.token(Tok::Ident, start, end),
            Some(_) => self.token(Tok::Bad, start, start),
        }
    }

    /// A number token runs to a boundary character (`.` does not end it) and must be one of
    /// the grammar's number forms as a whole.
    fn number(&mut self, start: usize) -> Token {
        let mut end = start;
        while let Some(c) = self.char_at(end) {
            if is_boundary(c) {
                break;
            }
            end += c.len_utf8();
        }
        if is_number(&self.src.as_bytes()[start..end]) {
            self.token(Tok::Number, start, end)
        } else {
            self.token(Tok::Bad, start, start)
        }
    }
}

/// The grammar's `number` (hex, octal, decimal, signed infinity), matched in its order.
fn is_number(t: &[u8]) -> bool {
    if let Some(rest) = t.strip_prefix(b"0x") {
        return !rest.is_empty() && rest.iter().all(u8::is_ascii_hexdigit);
    }
    if let Some(rest) = t.strip_prefix(b"0o") {
        return !rest.is_empty() && rest.iter().all(|b| matches!(b, b'0'..=b'7'));
    }
    let unsigned = match t.first() {
        Some(b'+' | b'-') => &t[1..],
        _ => t,
    };
    if unsigned.len() < t.len() && unsigned == b"Infinity" {
        return true;
    }
    let digits = |s: &[u8]| s.iter().take_while(|b| b.is_ascii_digit()).count();
    let mut i = digits(unsigned);
    if i > 0 {
        if unsigned.get(i) == Some(&b'.') {
            i += 1 + digits(&unsigned[i + 1..]);
        }
    } else if unsigned.first() == Some(&b'.') {
        let n = digits(&unsigned[1..]);
        if n == 0 {
            return false;
        }
        i = 1 + n;
    } else {
        return false;
    }
    if matches!(unsigned.get(i), Some(b'e' | b'E')) {
        let mut j = i + 1;
        if matches!(unsigned.get(j), Some(b'+' | b'-')) {
            j += 1;
        }
        let n = digits(&unsigned[j.min(unsigned.len())..]);
        if n > 0 {
            i = j + n;
        }
    }
    i == unsigned.len()
}

/// Parses `src`, or returns `None` for anything the reference parser must decide.
pub(crate) fn parse_fast(src: &str, options: &ParseOptions) -> Option<Expr> {
    if src.len() > options.max_length && src.chars().count() > options.max_length {
        return None;
    }
    let mut parser = Parser {
        lexer: Lexer { src, pos: 0 },
        tok: Token {
            kind: Tok::Eof,
            start: 0,
            end: 0,
        },
        options,
        nesting: 0,
        max_nesting: options.max_nesting().min(MAX_FAST_NESTING),
    };
    parser.tok = parser.lexer.operand();
    if parser.tok.kind == Tok::Eof {
        return Some(Expr::new(ExprKind::Null, Span::new(0, 0)));
    }
    let built = parser.sequence(0)?;
    (parser.tok.kind == Tok::Eof).then_some(built.expr)
}

struct Parser<'s, 'o> {
    lexer: Lexer<'s>,
    /// The current token (lexed as an operand or an operator, as the parser asked).
    tok: Token,
    options: &'o ParseOptions,
    nesting: usize,
    max_nesting: usize,
}

impl<'s> Parser<'s, '_> {
    fn text(&self, t: Token) -> &'s str {
        &self.lexer.src[t.start..t.end]
    }

    fn checked(&self, built: Built) -> Option<Built> {
        (built.depth <= self.options.max_depth).then_some(built)
    }

    fn open(&mut self) -> Option<()> {
        self.nesting += 1;
        (self.nesting <= self.max_nesting).then_some(())
    }

    /// Operands joined by operators binding at least `min_prec`, left-associative. The
    /// current token starts the first operand; afterwards it is the first token (lexed after
    /// an operand) that is not such an operator.
    fn sequence(&mut self, min_prec: u8) -> Option<Built> {
        let mut left = self.operand()?;
        while let Tok::Op(op) = self.tok.kind
            && op.precedence() >= min_prec
        {
            self.tok = self.lexer.operand();
            let right = self.sequence(op.precedence() + 1)?;
            left = self.checked(combine(op, left, right))?;
        }
        Some(left)
    }

    /// `!`*, then a primary with its accessors.
    fn operand(&mut self) -> Option<Built> {
        if self.tok.kind == Tok::Not {
            self.negated()
        } else {
            self.primary()
        }
    }

    /// An operand with `!` prefixes (kept out of [`Parser::operand`]: they are rare).
    #[inline(never)]
    fn negated(&mut self) -> Option<Built> {
        let mut nots = [0usize; MAX_FAST_NOTS];
        let mut count = 0;
        while self.tok.kind == Tok::Not {
            *nots.get_mut(count)? = self.tok.start;
            count += 1;
            self.tok = self.lexer.operand();
        }
        let mut built = self.primary()?;
        for &start in nots[..count].iter().rev() {
            let span = Span::new(start, built.expr.span().end);
            built = self.checked(Built {
                depth: built.depth + 1,
                expr: Expr::new(ExprKind::Not(Box::new(built.expr)), span),
                start,
                is_literal: false,
            })?;
        }
        Some(built)
    }

    fn leaf(&mut self, kind: ExprKind, t: Token) -> Built {
        self.tok = self.lexer.after_operand();
        Built {
            expr: Expr::new(kind, Span::new(t.start, t.end)),
            depth: 1,
            start: t.start,
            is_literal: false,
        }
    }

    fn primary(&mut self) -> Option<Built> {
        let t = self.tok;
        match t.kind {
            Tok::Str => {
                let inner = &self.text(t)[1..t.end - t.start - 1];
                let value = if inner.contains('\'') {
                    inner.replace("''", "'")
                } else {
                    inner.to_owned()
                };
                Some(self.leaf(ExprKind::String(value), t))
            }
            Tok::Number => {
                let n = parse_number_literal(self.text(t))?;
                Some(self.leaf(ExprKind::Number(n), t))
            }
            Tok::LParen => {
                self.open()?;
                self.tok = self.lexer.operand();
                let mut built = self.sequence(0)?;
                if self.tok.kind != Tok::RParen {
                    return None;
                }
                self.nesting -= 1;
                built.start = t.start;
                built.is_literal = false;
                self.tok = self.lexer.after_operand();
                self.accessors(built)
            }
            Tok::Ident => {
                let text = self.text(t);
                self.tok = self.lexer.after_operand();
                let built = if self.tok.kind == Tok::LParen {
                    if keyword(text).is_some() {
                        return None;
                    }
                    self.call(Function::from_name(text)?, t)?
                } else if let Some(kind) = keyword(text) {
                    // Literals cannot be dereferenced: an accessor is a syntax error.
                    if matches!(self.tok.kind, Tok::Dot | Tok::LBracket) {
                        return None;
                    }
                    return Some(Built {
                        expr: Expr::new(kind, Span::new(t.start, t.end)),
                        depth: 1,
                        start: t.start,
                        is_literal: true,
                    });
                } else {
                    if !self.options.allows_context(text) {
                        return None;
                    }
                    Built {
                        expr: Expr::new(
                            ExprKind::Context(text.to_owned()),
                            Span::new(t.start, t.end),
                        ),
                        depth: 1,
                        start: t.start,
                        is_literal: false,
                    }
                };
                self.accessors(built)
            }
            _ => None,
        }
    }

    /// `name(args)`; the current token is the `(`.
    fn call(&mut self, function: Function, name: Token) -> Option<Built> {
        self.open()?;
        let mut args = Vec::new();
        let mut depth = 0;
        self.tok = self.lexer.operand();
        if self.tok.kind != Tok::RParen {
            loop {
                let arg = self.sequence(0)?;
                depth = depth.max(arg.depth);
                args.push(arg.expr);
                match self.tok.kind {
                    Tok::Comma => self.tok = self.lexer.operand(),
                    Tok::RParen => break,
                    _ => return None,
                }
            }
        }
        self.nesting -= 1;
        let close = self.tok;
        if args.len() < function.min_args()
            || args.len() > function.max_args()
            || (function == Function::Case && args.len().is_multiple_of(2))
        {
            return None;
        }
        self.tok = self.lexer.after_operand();
        self.checked(Built {
            expr: Expr::new(
                ExprKind::Call { function, args },
                Span::new(name.start, close.end),
            ),
            depth: depth + 1,
            start: name.start,
            is_literal: false,
        })
    }

    /// `.name`, `.*`, `[index]`, `[*]` after a name, call or group; the current token is the
    /// one after it.
    fn accessors(&mut self, mut built: Built) -> Option<Built> {
        loop {
            let (kind, depth, end) = match self.tok.kind {
                Tok::Dot => {
                    let t = self.lexer.operand();
                    match t.kind {
                        Tok::Star => (
                            ExprKind::Star {
                                target: Box::new(built.expr),
                            },
                            built.depth + 1,
                            t.end,
                        ),
                        Tok::Ident => (
                            ExprKind::Property {
                                target: Box::new(built.expr),
                                name: self.text(t).to_owned(),
                            },
                            built.depth + 1,
                            t.end,
                        ),
                        _ => return None,
                    }
                }
                Tok::LBracket => {
                    self.open()?;
                    self.tok = self.lexer.operand();
                    let result = if self.tok.kind == Tok::Star {
                        self.tok = self.lexer.after_operand();
                        if self.tok.kind != Tok::RBracket {
                            return None;
                        }
                        (
                            ExprKind::Star {
                                target: Box::new(built.expr),
                            },
                            built.depth + 1,
                            self.tok.end,
                        )
                    } else {
                        let index = self.sequence(0)?;
                        if self.tok.kind != Tok::RBracket {
                            return None;
                        }
                        (
                            ExprKind::Index {
                                target: Box::new(built.expr),
                                index: Box::new(index.expr),
                            },
                            built.depth.max(index.depth) + 1,
                            self.tok.end,
                        )
                    };
                    self.nesting -= 1;
                    result
                }
                _ => return Some(built),
            };
            let start = built.start;
            built = self.checked(Built {
                expr: Expr::new(kind, Span::new(start, end)),
                depth,
                start,
                is_literal: false,
            })?;
            self.tok = self.lexer.after_operand();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parser::parse_reference;

    fn same(src: &str) {
        let opts = ParseOptions::new();
        let fast = parse_fast(src, &opts).unwrap_or_else(|| panic!("fast declined {src:?}"));
        let reference = parse_reference(src, &opts).unwrap();
        assert_eq!(format!("{fast:?}"), format!("{reference:?}"), "{src}");
    }

    fn declined(src: &str) {
        assert!(parse_fast(src, &ParseOptions::new()).is_none(), "{src}");
    }

    #[test]
    fn builds_the_grammars_tree() {
        for src in [
            "",
            "  ",
            "a",
            " a . b [ 'x' ] . * [*] ",
            "(a) == (b)",
            "!(a).b && ! !c",
            "a || b && c == d < e || !f",
            "(a && b) && (c && (d || e || (f || g)))",
            "format ('{0}', 1, 'a''b', -Infinity, .5, 1.e5, 0x1F, 0o17, +2E-3)",
            "format('{0}', github.event.pull_request.labels.*.name)",
            "vars.true && a.null",
            "a-b_c.d-e",
            "NaN == Infinity\u{a0}",
        ] {
            same(src);
        }
    }

    #[test]
    fn declines_what_the_grammar_rejects() {
        for src in [
            "1 <", "foo.b@r", "0x01p2", "'foo", "1 =2", "a.", "a.1", "'a'.b", "null.foo", "true()",
            "nosuch()", "f(a,)", "1.2.3", "0x", "a !b", "!=a", "a b", "(a", "a)", "0X1F", "-0xFF",
            "1e", "a'b'",
        ] {
            declined(src);
        }
    }

    /// The fast path must actually be taken: it accepts every corpus line the grammar accepts
    /// (the differential tests check the trees are the same).
    #[test]
    fn accepts_every_valid_corpus_line() {
        let path = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/corpus/bench/expressions.txt");
        let text = std::fs::read_to_string(path).expect("benchmark corpus");
        let opts = ParseOptions::new();
        let mut valid = 0;
        for line in text.lines() {
            if parse_reference(line, &opts).is_ok() {
                valid += 1;
                assert!(parse_fast(line, &opts).is_some(), "declined {line:?}");
            } else {
                assert!(parse_fast(line, &opts).is_none(), "accepted {line:?}");
            }
        }
        assert!(valid > 1800, "{valid}");
    }

    /// Deep text of every nesting kind is an error, never a stack overflow, on a small stack.
    #[test]
    fn deep_text_is_an_error_not_a_stack_overflow() {
        let handle = std::thread::Builder::new()
            .stack_size(256 * 1024)
            .spawn(|| {
                let n = 100_000;
                let opts = ParseOptions::new().with_max_length(usize::MAX);
                [
                    format!("{}1{}", "(".repeat(n), ")".repeat(n)),
                    format!("{}a{}", "a[".repeat(n), "]".repeat(n)),
                    format!("{}1{}", "format('', ".repeat(n), ")".repeat(n)),
                    format!("{}a", "!".repeat(n)),
                    format!("a{}", ".b".repeat(n)),
                    format!("a{}", " == b".repeat(n)),
                ]
                .iter()
                .map(|src| crate::parse_with(src, &opts).unwrap_err().message)
                .collect::<Vec<_>>()
            })
            .unwrap();
        for message in handle.join().unwrap() {
            assert_eq!(message, "Exceeded max expression depth 50");
        }
    }

    #[test]
    fn number_forms() {
        for ok in [
            "1",
            "-1",
            "+1.",
            ".5",
            "1.5e3",
            "1E+3",
            "0x0",
            "0o7",
            "-Infinity",
        ] {
            assert!(is_number(ok.as_bytes()), "{ok}");
        }
        for bad in [
            "", ".", "-", "1e", "1.2.3", "0x", "0o8", "Infinity", "--1", "1e+",
        ] {
            assert!(!is_number(bad.as_bytes()), "{bad}");
        }
    }
}
