//! Secret masking: every registered value is replaced by `***` wherever it appears, before any
//! text leaves the process (log lines, annotations, summaries, reports, error messages).
//!
//! As on GitHub, a multi-line secret is registered line by line (so each line is masked even
//! when printed alone), and overlapping or adjacent occurrences collapse into one `***`.

use std::borrow::Cow;
use std::sync::RwLock;

/// The replacement text.
pub const MASK: &str = "***";

/// A set of values to hide. Shared by all jobs of a run (`add-mask` in one job masks the value
/// everywhere from then on), so it is `Sync` and takes `&self`.
///
/// ```
/// use gha_exec::Masker;
///
/// let masker = Masker::new();
/// masker.add("hunter2");
/// masker.add("-----BEGIN KEY-----\nabc123\n-----END KEY-----\n");
/// assert_eq!(masker.mask("password: hunter2!"), "password: ***!");
/// assert_eq!(masker.mask("abc123"), "***");
/// assert!(masker.contains_secret("xx hunter2"));
/// assert_eq!(masker.mask("nothing here"), "nothing here");
/// ```
#[derive(Debug, Default)]
pub struct Masker {
    values: RwLock<Vec<String>>,
}

impl Masker {
    /// An empty masker.
    pub fn new() -> Masker {
        Masker::default()
    }

    /// Registers a secret. Each line of a multi-line value is registered on its own (lines are
    /// trimmed of a trailing `\r`; blank lines are ignored), as is the whole value.
    pub fn add(&self, value: &str) {
        let mut values = self.values.write().unwrap_or_else(|e| e.into_inner());
        let mut push = |v: &str| {
            if !v.trim().is_empty() && !values.iter().any(|x| x == v) {
                values.push(v.to_string());
            }
        };
        push(value);
        if value.contains('\n') {
            for line in value.split('\n') {
                push(line.strip_suffix('\r').unwrap_or(line));
            }
        }
        // Longest first, so a secret that contains another is found whole.
        values.sort_by_key(|v| std::cmp::Reverse(v.len()));
    }

    /// Whether nothing is registered.
    pub fn is_empty(&self) -> bool {
        self.values
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .is_empty()
    }

    /// Whether `text` contains a registered value.
    pub fn contains_secret(&self, text: &str) -> bool {
        let values = self.values.read().unwrap_or_else(|e| e.into_inner());
        values.iter().any(|v| text.contains(v.as_str()))
    }

    /// `text` with every occurrence of every registered value replaced by `***`.
    pub fn mask<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let values = self.values.read().unwrap_or_else(|e| e.into_inner());
        let mut ranges: Vec<(usize, usize)> = Vec::new();
        for v in values.iter() {
            let mut from = 0;
            while let Some(pos) = text[from..].find(v.as_str()) {
                let start = from + pos;
                ranges.push((start, start + v.len()));
                // Overlapping occurrences: continue one character further.
                let step = text[start..].chars().next().map_or(1, char::len_utf8);
                from = start + step;
            }
        }
        if ranges.is_empty() {
            return Cow::Borrowed(text);
        }
        ranges.sort_unstable();
        let mut out = String::with_capacity(text.len());
        let mut last = 0;
        let mut current: Option<(usize, usize)> = None;
        for (s, e) in ranges {
            match current {
                Some((cs, ce)) if s <= ce => current = Some((cs, ce.max(e))),
                Some((cs, ce)) => {
                    out.push_str(&text[last..cs]);
                    out.push_str(MASK);
                    last = ce;
                    current = Some((s, e));
                }
                None => current = Some((s, e)),
            }
        }
        if let Some((cs, ce)) = current {
            out.push_str(&text[last..cs]);
            out.push_str(MASK);
            last = ce;
        }
        out.push_str(&text[last..]);
        Cow::Owned(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlapping_and_adjacent_occurrences_collapse() {
        let m = Masker::new();
        m.add("abcd");
        m.add("cdef");
        assert_eq!(m.mask("xabcdefx"), "x***x");
        assert_eq!(m.mask("abcdabcd"), "***");
        m.add("aa");
        assert_eq!(m.mask("aaa b"), "*** b");
    }

    #[test]
    fn blank_values_are_ignored() {
        let m = Masker::new();
        m.add("");
        m.add("  ");
        m.add("a\n\nb\r\n");
        assert_eq!(m.mask("  x a b"), "  x *** ***");
    }

    #[test]
    fn unicode_secrets() {
        let m = Masker::new();
        m.add("пароль");
        assert_eq!(m.mask("мой пароль!"), "мой ***!");
    }

    proptest::proptest! {
        #[test]
        fn masked_text_never_contains_the_secret(secret in "[a-c]{3,6}", text in "[a-c ]{0,40}") {
            let m = Masker::new();
            m.add(&secret);
            let masked = m.mask(&text);
            proptest::prop_assert!(!masked.contains(&secret));
        }
    }
}
