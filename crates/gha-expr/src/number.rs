//! Numbers as GitHub's runner reads and writes them: string-to-number coercion (decimal,
//! lower-case `0x` hex and `0o` octal, `Infinity`) and the .NET `G15` number-to-string form.

/// Converts a string to a number the way the runner coerces strings (used by comparisons,
/// array indexing and number literals). Whitespace is trimmed; an empty string is 0; anything
/// that is not a number is NaN.
///
/// ```
/// use gha_expr::string_to_number;
/// assert_eq!(string_to_number(" -1.2E+2 "), -120.0);
/// assert_eq!(string_to_number(""), 0.0);
/// assert_eq!(string_to_number("0xff"), 255.0);
/// assert_eq!(string_to_number("0xffffffff"), -1.0);
/// assert!(string_to_number("0X1F").is_nan());
/// assert!(string_to_number("1,000").is_nan());
/// ```
pub fn string_to_number(s: &str) -> f64 {
    let t = s.trim();
    if t.is_empty() {
        return 0.0;
    }
    if is_decimal(t) {
        return t.parse::<f64>().unwrap_or(f64::NAN);
    }
    if let Some(digits) = t.strip_prefix("0x") {
        return radix_i32(digits, 16);
    }
    if let Some(digits) = t.strip_prefix("0o") {
        return radix_i32(digits, 8);
    }
    match t {
        "Infinity" | "+Infinity" => f64::INFINITY,
        "-Infinity" => f64::NEG_INFINITY,
        _ => f64::NAN,
    }
}

/// A number literal token's value, or None when GitHub's lexer rejects the token.
pub(crate) fn parse_number_literal(token: &str) -> Option<f64> {
    if token.is_empty() || token.trim().len() != token.len() {
        return None;
    }
    let n = string_to_number(token);
    (!n.is_nan()).then_some(n)
}

/// `[+-]? (digits [. digits?] | . digits) ([eE] [+-]? digits)?`
fn is_decimal(t: &str) -> bool {
    let b = t.as_bytes();
    let mut i = 0;
    if matches!(b.first(), Some(b'+' | b'-')) {
        i += 1;
    }
    let int_start = i;
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
    }
    let mut digits = i - int_start;
    if i < b.len() && b[i] == b'.' {
        i += 1;
        let frac_start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        digits += i - frac_start;
    }
    if digits == 0 {
        return false;
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        let exp_start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == exp_start {
            return false;
        }
    }
    i == b.len()
}

/// Digits in `radix` read as a 32-bit two's-complement integer; NaN when empty, not digits,
/// or wider than 32 bits.
fn radix_i32(digits: &str, radix: u32) -> f64 {
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return f64::NAN;
    }
    match u64::from_str_radix(digits.trim_start_matches('0'), radix) {
        Ok(v) if v <= u64::from(u32::MAX) => f64::from(v as u32 as i32),
        Err(_) if digits.trim_start_matches('0').is_empty() => 0.0,
        _ => f64::NAN,
    }
}

/// Formats a number as the runner does (.NET `G15`): at most 15 significant digits, no
/// trailing zeros, exponent form (`1E+15`, `1E-05`) when the exponent is at least 15 or below
/// -4. Negative zero prints as `0`.
///
/// ```
/// use gha_expr::number_to_string;
/// assert_eq!(number_to_string(1.0), "1");
/// assert_eq!(number_to_string(0.0001), "0.0001");
/// assert_eq!(number_to_string(0.00001), "1E-05");
/// assert_eq!(number_to_string(1e15), "1E+15");
/// assert_eq!(number_to_string(1234567890123456.0), "1.23456789012346E+15");
/// assert_eq!(number_to_string(std::f64::consts::PI), "3.14159265358979");
/// assert_eq!(number_to_string(f64::NEG_INFINITY), "-Infinity");
/// ```
pub fn number_to_string(n: f64) -> String {
    if n.is_nan() {
        return "NaN".to_owned();
    }
    if n.is_infinite() {
        return if n > 0.0 { "Infinity" } else { "-Infinity" }.to_owned();
    }
    if n == 0.0 {
        return "0".to_owned();
    }
    if n == n.trunc() && n.abs() < 1e15 {
        return format!("{}", n as i64);
    }
    let sci = format!("{:.14e}", n.abs());
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let digits = digits.trim_end_matches('0');
    let digits = if digits.is_empty() { "0" } else { digits };
    let mut out = String::with_capacity(24);
    if n < 0.0 {
        out.push('-');
    }
    if !(-4..15).contains(&exp) {
        out.push_str(&digits[..1]);
        if digits.len() > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        out.push('E');
        out.push(if exp < 0 { '-' } else { '+' });
        out.push_str(&format!("{:02}", exp.abs()));
    } else if exp < 0 {
        out.push_str("0.");
        for _ in 0..(-exp - 1) {
            out.push('0');
        }
        out.push_str(digits);
    } else {
        let int_len = exp as usize + 1;
        if digits.len() <= int_len {
            out.push_str(digits);
            for _ in digits.len()..int_len {
                out.push('0');
            }
        } else {
            out.push_str(&digits[..int_len]);
            out.push('.');
            out.push_str(&digits[int_len..]);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn g15_formatting() {
        let cases: &[(f64, &str)] = &[
            (0.5, "0.5"),
            (-0.0, "0"),
            (123456789012345.0, "123456789012345"),
            (1e21, "1E+21"),
            (1.5e-7, "1.5E-07"),
            (0.1 + 0.2, "0.3"),
            (1234.5, "1234.5"),
            (-1234.5, "-1234.5"),
            (1e100, "1E+100"),
            (999999999999999.9, "1E+15"),
            (12.000000000000002, "12"),
            (0.000123, "0.000123"),
        ];
        for (n, want) in cases {
            assert_eq!(number_to_string(*n), *want, "{n}");
        }
    }

    #[test]
    fn string_coercion() {
        let cases: &[(&str, f64)] = &[
            ("+5", 5.0),
            (".5", 0.5),
            ("5.", 5.0),
            ("1e3", 1000.0),
            ("\t\n", 0.0),
            ("0o10", 8.0),
            ("-Infinity", f64::NEG_INFINITY),
            ("0x000000001", 1.0),
        ];
        for (s, want) in cases {
            assert_eq!(string_to_number(s), *want, "{s:?}");
        }
        for s in [
            "abc",
            "0b11",
            "-0x10",
            "1 0",
            "0x100000000",
            "0o8",
            "1e",
            "inf",
            "nan",
            ".",
        ] {
            assert!(string_to_number(s).is_nan(), "{s:?}");
        }
    }
}
