//! Secret masking: every registered value is replaced by `***` wherever it appears, before any
//! text leaves the process (log lines, annotations, summaries, reports, error messages).
//!
//! As on GitHub, a multi-line secret is registered line by line (so each line is masked even
//! when printed alone), and overlapping or adjacent occurrences collapse into one `***`.
//!
//! Like the official runner's secret masker, every registered value is also registered in the
//! encoded forms a step is likely to print it in (see [`encoded_forms`]): base64 (whole, and
//! the part that stays the same wherever the value sits inside longer base64 text, as in
//! `base64("user:" + password)`), a JSON string body, URI data escaping, XML escaping, an
//! expression string literal (`'` doubled), a command-line argument (`"` as `\"`), and the
//! value without surrounding double quotes.

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
    values: RwLock<Values>,
}

/// The registered values and one automaton over all of them, so that a line is scanned once
/// however many values (and encoded forms) there are.
#[derive(Debug, Default)]
struct Values {
    list: Vec<String>,
    finder: Option<aho_corasick::AhoCorasick>,
}

impl Values {
    fn rebuild(&mut self) {
        // Longest first, so a secret that contains another is found whole.
        self.list.sort_by_key(|v| std::cmp::Reverse(v.len()));
        // Standard semantics: overlapping matches of every value are all reported.
        self.finder = aho_corasick::AhoCorasick::new(&self.list).ok();
    }
}

impl Masker {
    /// An empty masker.
    pub fn new() -> Masker {
        Masker::default()
    }

    /// Registers a secret. Each line of a multi-line value is registered on its own (lines are
    /// trimmed of a trailing `\r`; blank lines are ignored), as is the whole value; each of
    /// those also in its [`encoded_forms`].
    ///
    /// ```
    /// let masker = gha_exec::Masker::new();
    /// masker.add("p@ss word\"1");
    /// assert_eq!(masker.mask("url: https://u:p%40ss%20word%221@host"), "url: https://u:***@host");
    /// assert_eq!(masker.mask(r#"{"password":"p@ss word\"1"}"#), r#"{"password":"***"}"#);
    /// assert_eq!(masker.mask("cEBzcyB3b3JkIjE="), "***"); // base64
    /// ```
    pub fn add(&self, value: &str) {
        let mut values = self.values.write().unwrap_or_else(|e| e.into_inner());
        let before = values.list.len();
        let mut push = |v: &str| {
            if !v.trim().is_empty() && !values.list.iter().any(|x| x == v) {
                values.list.push(v.to_string());
            }
        };
        let mut plain = vec![value];
        if value.contains('\n') {
            for line in value.split('\n') {
                plain.push(line.strip_suffix('\r').unwrap_or(line));
            }
        }
        for v in plain {
            if v.trim().is_empty() {
                continue;
            }
            push(v);
            for encoded in encoded_forms(v) {
                push(&encoded);
            }
        }
        if values.list.len() != before {
            values.rebuild();
        }
    }

    /// Whether nothing is registered.
    pub fn is_empty(&self) -> bool {
        self.values
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .list
            .is_empty()
    }

    /// Whether `text` contains a registered value.
    pub fn contains_secret(&self, text: &str) -> bool {
        let values = self.values.read().unwrap_or_else(|e| e.into_inner());
        values.finder.as_ref().is_some_and(|f| f.is_match(text))
    }

    /// `text` with every occurrence of every registered value replaced by `***`.
    pub fn mask<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let values = self.values.read().unwrap_or_else(|e| e.into_inner());
        let Some(finder) = &values.finder else {
            return Cow::Borrowed(text);
        };
        // Values and text are UTF-8, so matches start and end on character boundaries.
        let mut ranges: Vec<(usize, usize)> = finder
            .find_overlapping_iter(text)
            .map(|m| (m.start(), m.end()))
            .collect();
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

/// Encoded forms of base64 shorter than this are not registered: they would mask unrelated
/// text too often.
const MIN_BASE64_PART: usize = 8;

/// The forms in which `value` is also masked, as the official runner's value encoders
/// produce them (only forms that differ from `value`):
///
/// - base64 of the UTF-8 bytes, with `=` padding and (when at least 4 characters remain)
///   without;
/// - the base64 text that the value produces inside longer base64 output, whatever number of
///   bytes precede it (0, 1 or 2 modulo 3; at least 8 characters);
/// - the body of a JSON string (`"` → `\"`, `\` → `\\`, control characters escaped);
/// - URI data escaping (every byte but `A-Z a-z 0-9 - . _ ~` as `%XX`);
/// - XML escaping of `& < > " '`;
/// - an expression string literal's body (`'` → `''`);
/// - a command-line argument (`"` → `\"`);
/// - the value without surrounding double quotes.
///
/// ```
/// let forms = gha_exec::masker::encoded_forms("it's <a&b>");
/// assert!(forms.contains(&"it''s <a&b>".to_string()));
/// assert!(forms.contains(&"it&apos;s &lt;a&amp;b&gt;".to_string()));
/// assert!(forms.contains(&"it%27s%20%3Ca%26b%3E".to_string()));
/// assert!(forms.contains(&"aXQncyA8YSZiPg==".to_string()));
/// ```
pub fn encoded_forms(value: &str) -> Vec<String> {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut out: Vec<String> = Vec::new();
    let mut add = |s: String| {
        if s != value && !s.trim().is_empty() && !out.contains(&s) {
            out.push(s);
        }
    };
    let bytes = value.as_bytes();
    let whole = b64.encode(bytes);
    if whole.trim_end_matches('=').len() >= 4 {
        add(whole.trim_end_matches('=').to_string());
    }
    add(whole);
    // Inside longer base64 text, the value's bytes start at some offset modulo 3: skipping 0,
    // 1 or 2 of its bytes reaches a group boundary; up to the last whole group, the encoding
    // does not depend on what surrounds the value.
    for skip in 0..3 {
        if bytes.len() <= skip {
            break;
        }
        let rest = &bytes[skip..];
        let whole_groups = &rest[..rest.len() / 3 * 3];
        let part = b64.encode(whole_groups);
        if part.len() >= MIN_BASE64_PART {
            add(part);
        }
    }
    if let Ok(json) = serde_json::to_string(value) {
        add(json[1..json.len() - 1].to_string());
    }
    let mut uri = String::with_capacity(value.len());
    for &b in bytes {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            uri.push(b as char);
        } else {
            uri.push_str(&format!("%{b:02X}"));
        }
    }
    add(uri);
    let mut xml = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '&' => xml.push_str("&amp;"),
            '<' => xml.push_str("&lt;"),
            '>' => xml.push_str("&gt;"),
            '"' => xml.push_str("&quot;"),
            '\'' => xml.push_str("&apos;"),
            c => xml.push(c),
        }
    }
    add(xml);
    add(value.replace('\'', "''"));
    add(value.replace('"', "\\\""));
    if value.len() > 2 && value.starts_with('"') && value.ends_with('"') {
        add(value[1..value.len() - 1].to_string());
    }
    out
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

    fn b64(s: &[u8]) -> String {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(s)
    }

    #[test]
    fn base64_whole_and_inside_longer_base64() {
        let secret = "s3cr3t-value-123";
        let m = Masker::new();
        m.add(secret);
        assert_eq!(m.mask(&b64(secret.as_bytes())), "***");
        assert_eq!(
            m.mask(&format!(
                "token {}.",
                b64(secret.as_bytes()).trim_end_matches('=')
            )),
            "token ***."
        );
        // base64("user:" + secret): only the group holding bytes of both stays readable.
        for prefix in ["", "u", "us", "user:", "Authorization: Basic x:"] {
            let text = b64(format!("{prefix}{secret}").as_bytes());
            let masked = m.mask(&text);
            assert!(masked.contains(MASK), "{prefix:?}: {text} -> {masked}");
            let visible = masked.replace(MASK, "");
            // At most the prefix's groups, one mixed group and the last partial group remain.
            let prefix_chars = prefix.len().div_ceil(3) * 4;
            assert!(
                visible.len() <= prefix_chars + 8,
                "{prefix:?}: {text} -> {masked}"
            );
        }
        // Followed by more content.
        let text = b64(format!("{secret} and more text").as_bytes());
        assert!(m.mask(&text).starts_with(MASK), "{text}");
    }

    #[test]
    fn short_values_do_not_register_short_base64_parts() {
        let forms = encoded_forms("abcdefg");
        assert!(forms.iter().all(|f| f.len() >= 7), "{forms:?}");
        let m = Masker::new();
        m.add("abc");
        // "YWJj" alone is base64 of the whole value and masked; nothing shorter is registered.
        assert_eq!(m.mask("YWJj"), "***");
        assert_eq!(m.mask("YWJ"), "YWJ");
    }

    #[test]
    fn json_uri_xml_expression_command_line_and_quotes() {
        let m = Masker::new();
        m.add("a\"b\\c'd<e>&f g/h");
        let cases = [
            r#"{"k": "a\"b\\c'd<e>&f g/h"}"#,
            "https://x/?p=a%22b%5Cc%27d%3Ce%3E%26f%20g%2Fh",
            "<p>a&quot;b\\c&apos;d&lt;e&gt;&amp;f g/h</p>",
            "${{ 'a\"b\\c''d<e>&f g/h' }}",
            r#"--password "a\"b\\c'd<e>&f g/h""#,
        ];
        for text in cases {
            let masked = m.mask(text);
            assert!(!masked.contains("&f g"), "{text} -> {masked}");
            assert!(!masked.contains("%26f%20g"), "{text} -> {masked}");
            assert!(masked.contains(MASK), "{text} -> {masked}");
        }
        let m = Masker::new();
        m.add("\"quoted-secret\"");
        assert_eq!(m.mask("value: quoted-secret"), "value: ***");
        let m = Masker::new();
        m.add("line1-secret\nline2-secret");
        assert_eq!(m.mask(&b64(b"line2-secret")), "***");
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
