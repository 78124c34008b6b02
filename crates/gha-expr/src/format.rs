//! `format('{0} and {1}', a, b)`: placeholders, `{{`/`}}` escapes and GitHub's errors.

use crate::error::EvalError;
use crate::span::Span;

/// Expands `fmt`, asking `arg(i)` for the string form of argument `i` only when a placeholder
/// references it (arguments are evaluated lazily, as on GitHub).
pub(crate) fn format(
    span: Span,
    fmt: &str,
    arg_count: usize,
    mut arg: impl FnMut(usize) -> Result<String, EvalError>,
) -> Result<String, EvalError> {
    let invalid = || {
        EvalError::new(
            span,
            format!("The following format string is invalid: {fmt}"),
        )
    };
    let b = fmt.as_bytes();
    let mut out = String::with_capacity(fmt.len() + 16);
    let mut i = 0;
    while i < b.len() {
        let left = find(b, i, b'{');
        let right = find(b, i, b'}');
        match (left, right) {
            (Some(l), r) if r.is_none_or(|r| l < r) => {
                if b.get(l + 1) == Some(&b'{') {
                    out.push_str(&fmt[i..=l]);
                    i = l + 2;
                    continue;
                }
                let digits_end = (l + 1..b.len())
                    .find(|&j| !b[j].is_ascii_digit())
                    .unwrap_or(b.len());
                if digits_end == l + 1 || b.get(digits_end) != Some(&b'}') {
                    return Err(invalid());
                }
                let index = fmt[l + 1..digits_end]
                    .parse::<usize>()
                    .unwrap_or(usize::MAX);
                if index >= arg_count {
                    return Err(EvalError::new(
                        span,
                        format!(
                            "The following format string references more arguments than were supplied: {fmt}"
                        ),
                    ));
                }
                out.push_str(&fmt[i..l]);
                out.push_str(&arg(index)?);
                i = digits_end + 1;
            }
            (_, Some(r)) => {
                if b.get(r + 1) != Some(&b'}') {
                    return Err(invalid());
                }
                out.push_str(&fmt[i..=r]);
                i = r + 2;
            }
            _ => {
                out.push_str(&fmt[i..]);
                break;
            }
        }
    }
    Ok(out)
}

fn find(b: &[u8], from: usize, what: u8) -> Option<usize> {
    b[from..].iter().position(|&c| c == what).map(|p| p + from)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(fmt: &str, args: &[&str]) -> Result<String, String> {
        format(Span::default(), fmt, args.len(), |i| Ok(args[i].to_owned())).map_err(|e| e.message)
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
            "{0", "{0}}", "0}", "{{0}", "}0{", "}{0}", "{0}{", "{}", "{a}", "{-1}", "{0 }", "{0:x}",
        ] {
            assert_eq!(
                run(bad, &["x"]).unwrap_err(),
                format!("The following format string is invalid: {bad}")
            );
        }
        assert_eq!(
            run("{0}{1}", &["x"]).unwrap_err(),
            "The following format string references more arguments than were supplied: {0}{1}"
        );
    }
}
