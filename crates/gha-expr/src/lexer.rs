//! A token scanner that mirrors the lexer of GitHub's runner. The pest grammar does the real
//! parsing; this runs only when something is wrong, to name the offending token exactly as
//! GitHub does (`Unexpected symbol: '0xFZ'`) and to find the first bad token in source order.

/// What the scanner saw.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TokenKind {
    /// `(` after a function name.
    StartParameters,
    /// `(` elsewhere.
    StartGroup,
    /// `[`
    StartIndex,
    /// `)` or `]`
    End,
    /// `,`
    Separator,
    /// `.` after an operand.
    Dereference,
    /// `*`
    Wildcard,
    /// `!`, `&&`, `||`, `==`, `!=`, `<`, `<=`, `>`, `>=`
    Operator,
    /// A literal that parsed (number, string, keyword).
    Literal,
    /// A name after `.`.
    PropertyName,
    /// A name followed by `(`.
    Function,
    /// Any other name.
    NamedValue,
    /// Something GitHub's lexer rejects.
    Unexpected,
}

/// One token: kind and byte range.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Token {
    pub kind: TokenKind,
    pub start: usize,
    pub end: usize,
}

/// Boundary characters end keyword, name and number tokens.
pub(crate) fn is_boundary(c: char) -> bool {
    matches!(
        c,
        '(' | '[' | ')' | ']' | ',' | '.' | '!' | '>' | '<' | '=' | '&' | '|'
    ) || c.is_whitespace()
}

/// Splits `src` into tokens the way GitHub's runner does.
pub(crate) fn tokenize(src: &str) -> Vec<Token> {
    let bytes = src.as_bytes();
    let mut tokens: Vec<Token> = Vec::new();
    let mut i = 0;
    while i < src.len() {
        let c = src[i..].chars().next().unwrap_or(' ');
        if c.is_whitespace() {
            i += c.len_utf8();
            continue;
        }
        let last = tokens.last().map(|t| t.kind);
        let (kind, end) = match c {
            '(' if last == Some(TokenKind::Function) => (TokenKind::StartParameters, i + 1),
            '(' => (TokenKind::StartGroup, i + 1),
            '[' => (TokenKind::StartIndex, i + 1),
            ')' | ']' => (TokenKind::End, i + 1),
            ',' => (TokenKind::Separator, i + 1),
            '*' => (TokenKind::Wildcard, i + 1),
            '.' if matches!(
                last,
                None | Some(
                    TokenKind::Separator
                        | TokenKind::StartGroup
                        | TokenKind::StartParameters
                        | TokenKind::StartIndex
                        | TokenKind::Operator
                )
            ) =>
            {
                number_token(src, i)
            }
            '.' => (TokenKind::Dereference, i + 1),
            '!' | '<' | '>' => {
                if bytes.get(i + 1) == Some(&b'=') {
                    (TokenKind::Operator, i + 2)
                } else {
                    (TokenKind::Operator, i + 1)
                }
            }
            '=' | '&' | '|' => {
                if bytes.get(i + 1) == Some(&(c as u8)) {
                    (TokenKind::Operator, i + 2)
                } else {
                    (TokenKind::Unexpected, unknown_end(src, i))
                }
            }
            '\'' => string_token(src, i),
            '+' | '-' | '0'..='9' => number_token(src, i),
            _ => word_token(src, i, last),
        };
        tokens.push(Token {
            kind,
            start: i,
            end,
        });
        i = end;
    }
    tokens
}

/// An unknown token: its first character, then everything up to a boundary.
fn unknown_end(src: &str, start: usize) -> usize {
    let first = src[start..].chars().next().map_or(1, char::len_utf8);
    start + first + boundary_offset(&src[start + first..], true)
}

/// Bytes until the next boundary; `stop_at_dot` is false for numbers.
fn boundary_offset(rest: &str, stop_at_dot: bool) -> usize {
    rest.char_indices()
        .find(|&(_, c)| is_boundary(c) && (stop_at_dot || c != '.'))
        .map_or(rest.len(), |(j, _)| j)
}

fn number_token(src: &str, start: usize) -> (TokenKind, usize) {
    let first = src[start..].chars().next().map_or(1, char::len_utf8);
    let end = start + first + boundary_offset(&src[start + first..], false);
    let kind = if crate::number::parse_number_literal(&src[start..end]).is_some() {
        TokenKind::Literal
    } else {
        TokenKind::Unexpected
    };
    (kind, end)
}

fn string_token(src: &str, start: usize) -> (TokenKind, usize) {
    let bytes = src.as_bytes();
    let mut j = start + 1;
    while j < bytes.len() {
        if bytes[j] == b'\'' {
            if bytes.get(j + 1) == Some(&b'\'') {
                j += 2;
                continue;
            }
            return (TokenKind::Literal, j + 1);
        }
        j += 1;
    }
    (TokenKind::Unexpected, src.len())
}

fn word_token(src: &str, start: usize, last: Option<TokenKind>) -> (TokenKind, usize) {
    let first = src[start..].chars().next().map_or(1, char::len_utf8);
    let end = start + first + boundary_offset(&src[start + first..], true);
    let word = &src[start..end];
    if !crate::ast::is_identifier(word) {
        return (TokenKind::Unexpected, end);
    }
    if last == Some(TokenKind::Dereference) {
        return (TokenKind::PropertyName, end);
    }
    if matches!(word, "true" | "false" | "null" | "NaN" | "Infinity") {
        return (TokenKind::Literal, end);
    }
    let next = src[end..].trim_start().chars().next();
    if next == Some('(') {
        (TokenKind::Function, end)
    } else {
        (TokenKind::NamedValue, end)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(src: &str) -> Vec<(&str, TokenKind)> {
        tokenize(src)
            .into_iter()
            .map(|t| (&src[t.start..t.end], t.kind))
            .collect()
    }

    #[test]
    fn numbers_run_through_dots_names_do_not() {
        assert_eq!(
            texts("..github/workflow.md"),
            [("..github/workflow.md", TokenKind::Unexpected)]
        );
        assert_eq!(
            texts("github/workflow.md"),
            [
                ("github/workflow", TokenKind::Unexpected),
                (".", TokenKind::Dereference),
                ("md", TokenKind::PropertyName)
            ]
        );
    }

    #[test]
    fn unknown_operators_take_the_rest_of_the_word() {
        assert_eq!(
            texts("1 =2"),
            [("1", TokenKind::Literal), ("=2", TokenKind::Unexpected)]
        );
        assert_eq!(texts("'foo"), [("'foo", TokenKind::Unexpected)]);
        assert_eq!(
            texts("f (x)"),
            [
                ("f", TokenKind::Function),
                ("(", TokenKind::StartParameters),
                ("x", TokenKind::NamedValue),
                (")", TokenKind::End)
            ]
        );
    }
}
