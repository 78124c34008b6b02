//! Case-insensitive string comparison as .NET's `OrdinalIgnoreCase` does it: each character is
//! upper-cased on its own with the simple (one-to-one) mapping, then compared by code point.
//! `ß` does not become `SS`, and the Turkish dotless `ı` does not match `I`.

use std::cmp::Ordering;

/// The simple upper-case form of one character.
fn fold(c: char) -> char {
    if c.is_ascii() {
        return c.to_ascii_uppercase();
    }
    if c == '\u{0131}' || c == '\u{017F}' {
        return c;
    }
    let mut upper = c.to_uppercase();
    match (upper.next(), upper.next()) {
        (Some(u), None) => u,
        _ => c,
    }
}

/// Equal ignoring case.
pub(crate) fn eq_ignore_case(a: &str, b: &str) -> bool {
    if a.is_ascii() && b.is_ascii() {
        return a.eq_ignore_ascii_case(b);
    }
    a.chars().map(fold).eq(b.chars().map(fold))
}

/// Ordinal order ignoring case (ASCII letters compare as upper case, so `'_' > 'z'`).
pub(crate) fn cmp_ignore_case(a: &str, b: &str) -> Ordering {
    a.chars().map(fold).cmp(b.chars().map(fold))
}

fn folded(s: &str) -> String {
    s.chars().map(fold).collect()
}

/// A hash that is equal for strings equal ignoring case (FNV-1a over folded characters).
pub(crate) fn hash_ignore_case(s: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for c in s.chars() {
        h ^= u64::from(u32::from(fold(c)));
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// `haystack` contains `needle`, ignoring case.
pub(crate) fn contains_ignore_case(haystack: &str, needle: &str) -> bool {
    if needle.is_empty() {
        return true;
    }
    if haystack.is_ascii() && needle.is_ascii() {
        let n = needle.len();
        return haystack
            .as_bytes()
            .windows(n)
            .any(|w| w.eq_ignore_ascii_case(needle.as_bytes()));
    }
    folded(haystack).contains(&folded(needle))
}

/// `s` starts with `prefix`, ignoring case.
pub(crate) fn starts_with_ignore_case(s: &str, prefix: &str) -> bool {
    let mut chars = s.chars();
    prefix
        .chars()
        .all(|p| chars.next().is_some_and(|c| fold(c) == fold(p)))
}

/// `s` ends with `suffix`, ignoring case.
pub(crate) fn ends_with_ignore_case(s: &str, suffix: &str) -> bool {
    let mut chars = s.chars().rev();
    suffix
        .chars()
        .rev()
        .all(|p| chars.next().is_some_and(|c| fold(c) == fold(p)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinal_ignore_case() {
        assert!(eq_ignore_case("ü", "Ü"));
        assert!(eq_ignore_case("ς", "Σ"));
        assert!(eq_ignore_case("σ", "Σ"));
        assert!(!eq_ignore_case("i", "İ"));
        assert!(!eq_ignore_case("ı", "I"));
        assert!(!eq_ignore_case("ß", "SS"));
        assert!(!eq_ignore_case("é", "e\u{301}"));
        assert_eq!(cmp_ignore_case("_", "z"), Ordering::Greater);
        assert_eq!(cmp_ignore_case("a", "["), Ordering::Less);
        assert!(contains_ignore_case("Hello World", "O w"));
        assert!(starts_with_ignore_case("Straße", "STRA"));
        assert!(!ends_with_ignore_case("Straße", "SSE"));
        assert!(ends_with_ignore_case("abc", ""));
    }
}
