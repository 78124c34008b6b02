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

/// What GitHub's parser reports first for a text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Problem {
    /// `Unexpected symbol`: a token GitHub's lexer rejects or that may not follow the last one.
    UnexpectedSymbol,
    /// `Unexpected end of expression`: the text stops after an operator or inside brackets.
    UnexpectedEnd,
    /// `Unrecognized named-value`
    UnknownNamedValue,
    /// `Unrecognized function`
    UnknownFunction,
    /// `Too few parameters supplied` (reported at the call's `(`).
    TooFewParameters,
    /// `Too many parameters supplied` (reported at the call's `(`).
    TooManyParameters,
    /// `case` with an even number of arguments (reported at the name).
    EvenCaseParameters,
}

/// Where the last token may be followed by an operand (literal, name, call, `(`, `!`).
fn operand_may_follow(last: Option<TokenKind>) -> bool {
    matches!(
        last,
        None | Some(
            TokenKind::Separator
                | TokenKind::StartGroup
                | TokenKind::StartParameters
                | TokenKind::StartIndex
                | TokenKind::Operator
        )
    )
}

/// Whether the last token ends an operand (so an operator, `,` or closing bracket may follow).
fn ends_operand(last: Option<TokenKind>) -> bool {
    matches!(
        last,
        Some(
            TokenKind::End
                | TokenKind::Wildcard
                | TokenKind::PropertyName
                | TokenKind::NamedValue
                | TokenKind::Literal
        )
    )
}

/// Walks the tokens with GitHub's legality rules (which token may follow which, bracket
/// matching, names, argument counts) and returns the first problem and its token.
pub(crate) fn first_problem(
    src: &str,
    allows_context: &dyn Fn(&str) -> bool,
) -> Option<(Problem, Token)> {
    use crate::function::Function;

    struct Open {
        kind: TokenKind,
        /// For calls: the function, its name token, and the commas seen at this level.
        function: Option<(Option<Function>, Token)>,
        commas: usize,
    }

    let tokens = tokenize(src);
    let mut open: Vec<Open> = Vec::new();
    let mut last: Option<TokenKind> = None;
    let mut last_token: Option<Token> = None;
    let mut last_function: Option<Token> = None;
    for t in tokens.iter().copied() {
        let text = &src[t.start..t.end];
        let is_value_end = ends_operand(last);
        let legal = match t.kind {
            TokenKind::Unexpected => false,
            TokenKind::StartGroup => operand_may_follow(last),
            TokenKind::StartParameters => last == Some(TokenKind::Function),
            TokenKind::StartIndex | TokenKind::Dereference => {
                is_value_end && last != Some(TokenKind::Literal)
            }
            TokenKind::End
                if text == ")"
                    && open
                        .last()
                        .is_some_and(|o| o.kind == TokenKind::StartParameters) =>
            {
                is_value_end || last == Some(TokenKind::StartParameters)
            }
            TokenKind::End | TokenKind::Separator => is_value_end,
            TokenKind::Wildcard => {
                matches!(last, Some(TokenKind::StartIndex | TokenKind::Dereference))
            }
            TokenKind::Operator if text == "!" => operand_may_follow(last),
            TokenKind::Operator => is_value_end,
            TokenKind::Literal | TokenKind::Function | TokenKind::NamedValue => {
                operand_may_follow(last)
            }
            TokenKind::PropertyName => last == Some(TokenKind::Dereference),
        };
        if !legal {
            return Some((Problem::UnexpectedSymbol, t));
        }
        match t.kind {
            TokenKind::Function => {
                last_function = Some(t);
                if Function::from_name(text).is_none() {
                    return Some((Problem::UnknownFunction, t));
                }
            }
            TokenKind::NamedValue if !allows_context(text) => {
                return Some((Problem::UnknownNamedValue, t));
            }
            TokenKind::StartGroup | TokenKind::StartIndex => open.push(Open {
                kind: t.kind,
                function: None,
                commas: 0,
            }),
            TokenKind::StartParameters => {
                let name = last_function.expect("a call follows its name");
                open.push(Open {
                    kind: t.kind,
                    function: Some((Function::from_name(&src[name.start..name.end]), t)),
                    commas: 0,
                });
            }
            TokenKind::Separator => match open.last_mut() {
                Some(o) if o.kind == TokenKind::StartParameters => o.commas += 1,
                _ => return Some((Problem::UnexpectedSymbol, t)),
            },
            TokenKind::End => {
                let want = match text {
                    "]" => TokenKind::StartIndex,
                    _ if open
                        .last()
                        .is_some_and(|o| o.kind == TokenKind::StartParameters) =>
                    {
                        TokenKind::StartParameters
                    }
                    _ => TokenKind::StartGroup,
                };
                match open.pop() {
                    Some(o) if o.kind == want => {
                        if let Some((Some(function), paren)) = o.function {
                            let count = if last == Some(TokenKind::StartParameters) {
                                0
                            } else {
                                o.commas + 1
                            };
                            if count < function.min_args() {
                                return Some((Problem::TooFewParameters, paren));
                            }
                            if count > function.max_args() {
                                return Some((Problem::TooManyParameters, paren));
                            }
                            if function == Function::Case && count.is_multiple_of(2) {
                                return Some((
                                    Problem::EvenCaseParameters,
                                    last_function_before(&tokens, paren),
                                ));
                            }
                        }
                    }
                    _ => return Some((Problem::UnexpectedSymbol, t)),
                }
            }
            _ => {}
        }
        last = Some(t.kind);
        last_token = Some(t);
    }
    let t = last_token?;
    if !open.is_empty()
        || matches!(
            t.kind,
            TokenKind::Operator | TokenKind::Function | TokenKind::Dereference
        )
    {
        return Some((Problem::UnexpectedEnd, t));
    }
    None
}

/// The name token just before a call's `(`.
fn last_function_before(tokens: &[Token], paren: Token) -> Token {
    tokens
        .iter()
        .rev()
        .find(|t| t.start < paren.start && t.kind == TokenKind::Function)
        .copied()
        .unwrap_or(paren)
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

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2000))]

        /// The pest grammar and the replica of the runner's legality rules agree on which
        /// texts are expressions.
        #[test]
        fn grammar_and_runner_rules_agree(src in "[ab1.,'()\\[\\]*! =<>&|-]{0,14}|(a|b|1|0x1f|'x'|null|true|format|join|case|contains|\\(|\\)|\\[|\\]|\\.|\\*|,|!|==|<=|&&|\\|\\| ){0,10}") {
            let pest_ok = crate::parse(&src).is_ok();
            let walk = first_problem(&src, &|_| true);
            proptest::prop_assert_eq!(pest_ok, walk.is_none(), "{:?}: parse {:?}, walk {:?}", src, crate::parse(&src).err(), walk);
        }
    }
}
