//! `format('{0} and {1}', a, b)`: placeholders, `{{`/`}}` escapes and GitHub's errors.

use crate::error::EvalError;
use crate::span::Span;

/// One piece of a parsed format string.
enum Segment<'f> {
    Text(&'f str),
    Arg(usize),
    /// `{0:spec}`: the runner accepts the syntax, then fails when it formats the argument.
    ArgWithSpecifiers(usize, String),
}

/// Expands `fmt` as the runner does: first the whole format string is checked (so a bad
/// placeholder is reported before any argument is evaluated), then `arg(i)` is asked for the
/// string form of argument `i` only when a placeholder references it, once per argument.
/// `arg` also returns the argument's kind name, for the error about format specifiers.
pub(crate) fn format(
    span: Span,
    fmt: &str,
    arg_count: usize,
    mut arg: impl FnMut(usize) -> Result<(String, &'static str), EvalError>,
) -> Result<String, EvalError> {
    let segments = parse_format(span, fmt, arg_count)?;
    let mut cache: Vec<Option<(String, &'static str)>> = vec![None; arg_count];
    let mut out = String::with_capacity(fmt.len() + 16);
    for segment in segments {
        match segment {
            Segment::Text(text) => out.push_str(text),
            Segment::Arg(i) | Segment::ArgWithSpecifiers(i, _) => {
                if cache[i].is_none() {
                    cache[i] = Some(arg(i)?);
                }
                let (value, kind) = cache[i].as_ref().expect("just cached");
                if let Segment::ArgWithSpecifiers(_, spec) = &segment {
                    return Err(EvalError::new(
                        span,
                        format!(
                            "The format specifiers '{spec}' are not valid for objects of type '{kind}'"
                        ),
                    ));
                }
                out.push_str(value);
            }
        }
    }
    Ok(out)
}

fn parse_format(span: Span, fmt: &str, arg_count: usize) -> Result<Vec<Segment<'_>>, EvalError> {
    let invalid = || {
        EvalError::new(
            span,
            format!("The following format string is invalid: {fmt}"),
        )
    };
    let b = fmt.as_bytes();
    let mut segments = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let left = find(b, i, b'{');
        let right = find(b, i, b'}');
        match (left, right) {
            (Some(l), r) if r.is_none_or(|r| l < r) => {
                if b.get(l + 1) == Some(&b'{') {
                    segments.push(Segment::Text(&fmt[i..=l]));
                    i = l + 2;
                    continue;
                }
                // `{`, digits (an index up to 255), optional `:specifiers`, `}`.
                let digits_end = (l + 1..b.len())
                    .find(|&j| !b[j].is_ascii_digit())
                    .unwrap_or(b.len());
                if r.is_none() || digits_end == l + 1 {
                    return Err(invalid());
                }
                let Ok(index) = fmt[l + 1..digits_end].parse::<u8>() else {
                    return Err(invalid());
                };
                let (close, specifiers) = match b.get(digits_end) {
                    Some(b'}') => (digits_end, None),
                    Some(b':') => read_specifiers(fmt, digits_end + 1).ok_or_else(invalid)?,
                    _ => return Err(invalid()),
                };
                let index = usize::from(index);
                if index >= arg_count {
                    return Err(EvalError::new(
                        span,
                        format!(
                            "The following format string references more arguments than were supplied: {fmt}"
                        ),
                    ));
                }
                if l > i {
                    segments.push(Segment::Text(&fmt[i..l]));
                }
                segments.push(match specifiers {
                    None => Segment::Arg(index),
                    Some(spec) => Segment::ArgWithSpecifiers(index, spec),
                });
                i = close + 1;
            }
            (_, Some(r)) => {
                if b.get(r + 1) != Some(&b'}') {
                    return Err(invalid());
                }
                segments.push(Segment::Text(&fmt[i..=r]));
                i = r + 2;
            }
            _ => {
                segments.push(Segment::Text(&fmt[i..]));
                break;
            }
        }
    }
    Ok(segments)
}

/// `spec}` after `{N:`, with `}}` as an escaped brace: the closing position and the text.
fn read_specifiers(fmt: &str, start: usize) -> Option<(usize, Option<String>)> {
    let b = fmt.as_bytes();
    let mut spec = String::new();
    let mut i = start;
    while i < b.len() {
        if b[i] == b'}' {
            if b.get(i + 1) == Some(&b'}') {
                spec.push('}');
                i += 2;
                continue;
            }
            return Some((i, Some(spec)));
        }
        let c = fmt[i..].chars().next()?;
        spec.push(c);
        i += c.len_utf8();
    }
    None
}

fn find(b: &[u8], from: usize, what: u8) -> Option<usize> {
    b[from..].iter().position(|&c| c == what).map(|p| p + from)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(fmt: &str, args: &[&str]) -> Result<String, String> {
        format(Span::default(), fmt, args.len(), |i| {
            Ok((args[i].to_owned(), "String"))
        })
        .map_err(|e| e.message)
    }

    #[test]
    fn placeholders_and_escapes() {
        assert_eq!(run("{0}-{1}-{0}", &["a", "b"]).unwrap(), "a-b-a");
        assert_eq!(run("{{0}} {00}", &["x"]).unwrap(), "{0} x");
        assert_eq!(run("{0}", &["{1}"]).unwrap(), "{1}");
        assert_eq!(run("plain", &[]).unwrap(), "plain");
    }

    #[test]
    fn errors() {
        for bad in [
            "{0", "{0}}", "0}", "{{0}", "}0{", "}{0}", "{0}{", "{}", "{a}", "{-1}", "{0 }",
            "{256}", "{0:x",
        ] {
            assert_eq!(
                run(bad, &["x"]).unwrap_err(),
                format!("The following format string is invalid: {bad}")
            );
        }
        assert_eq!(
            run("{0:x}", &["x"]).unwrap_err(),
            "The format specifiers 'x' are not valid for objects of type 'String'"
        );
        assert_eq!(
            run("{0}{1}", &["x"]).unwrap_err(),
            "The following format string references more arguments than were supplied: {0}{1}"
        );
    }
}
