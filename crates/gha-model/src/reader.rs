//! Helpers that turn [`Node`]s into typed values while collecting diagnostics.

use indexmap::IndexMap;

use crate::diagnostic::{Diagnostic, codes};
use crate::expression::{Condition, Template};
use gha_expr::ParseOptions;

/// GitHub's limit on the length of a value that contains expressions.
const MAX_TEMPLATE_LENGTH: usize = 21_000;
use crate::span::{Span, Spanned};
use crate::value::{IfCondition, MaybeExpr, TemplateString};
use crate::yaml::{Entry, Node, NodeKind, ScalarStyle, ScalarValue};

/// Conversion context: the source text and the diagnostics found so far.
pub(crate) struct Reader<'a> {
    pub src: &'a str,
    pub diags: Vec<Diagnostic>,
    /// Report unknown keys as warnings (action metadata: the runner ignores them).
    pub lenient_keys: bool,
    /// The contexts expressions may use where we are reading (`None`: any).
    pub ctx: Option<&'static ParseOptions>,
}

impl<'a> Reader<'a> {
    pub fn new(src: &'a str) -> Self {
        Reader {
            src,
            diags: Vec::new(),
            lenient_keys: false,
            ctx: None,
        }
    }

    pub fn error(&mut self, span: Span, code: &'static str, message: impl Into<String>) {
        self.diags.push(Diagnostic::error(span, code, message));
    }

    pub fn warning(&mut self, span: Span, code: &'static str, message: impl Into<String>) {
        self.diags.push(Diagnostic::warning(span, code, message));
    }

    /// The entries of a mapping node, or an error naming `what`.
    pub fn mapping<'n>(&mut self, node: &'n Node, what: &str) -> Option<&'n [Entry]> {
        match &node.kind {
            NodeKind::Mapping(m) => Some(m),
            _ => {
                self.error(
                    node.span,
                    codes::TYPE,
                    format!(
                        "\"{what}\" must be a mapping, but found {}",
                        node.type_name()
                    ),
                );
                None
            }
        }
    }

    /// Mapping entries, accepting null as an empty mapping.
    pub fn mapping_or_null<'n>(&mut self, node: &'n Node, what: &str) -> Option<&'n [Entry]> {
        if node.is_null() {
            return Some(&[]);
        }
        self.mapping(node, what)
    }

    /// Check keys against the allowed set, reporting unknown ones with a suggestion.
    /// Returns entries whose keys are allowed, as (key, value) pairs.
    pub fn known_entries<'n>(
        &mut self,
        entries: &'n [Entry],
        allowed: &[&str],
        section: &str,
    ) -> Vec<(&'n str, &'n Entry)> {
        let mut out = Vec::with_capacity(entries.len());
        for e in entries {
            let Some(k) = e.key.as_str() else { continue };
            if allowed.contains(&k) {
                out.push((k, e));
            } else {
                self.unknown_key(e, allowed, section);
            }
        }
        out
    }

    /// Report an unknown key with a "did you mean" suggestion.
    pub fn unknown_key(&mut self, e: &Entry, allowed: &[&str], section: &str) {
        let k = e.key.as_str().unwrap_or_default();
        let mut d = Diagnostic::error(
            e.key.span,
            codes::UNKNOWN_KEY,
            format!(
                "unexpected key \"{k}\" for {section}. expected one of {}",
                quote_list(allowed)
            ),
        );
        if let Some(s) = did_you_mean(k, allowed) {
            d = d.with_help(format!("did you mean \"{s}\"?"));
        }
        if self.lenient_keys {
            d.severity = crate::Severity::Warning;
        }
        self.diags.push(d);
    }

    /// A scalar as a string (numbers and booleans in their GitHub string form).
    pub fn string(&mut self, node: &Node, what: &str) -> Option<Spanned<String>> {
        match &node.kind {
            NodeKind::Scalar(s) => Some(Spanned::new(scalar_to_string(s), node.span)),
            _ => {
                self.error(
                    node.span,
                    codes::TYPE,
                    format!(
                        "\"{what}\" must be a string, but found {}",
                        node.type_name()
                    ),
                );
                None
            }
        }
    }

    /// A non-empty string without expressions (ids, names of things).
    pub fn plain_string(&mut self, node: &Node, what: &str) -> Option<Spanned<String>> {
        let s = self.string(node, what)?;
        if s.value.contains("${{") {
            self.error(
                node.span,
                codes::EXPRESSION,
                format!("A template expression is not allowed in this context (\"{what}\")"),
            );
        }
        Some(s)
    }

    /// Set the contexts allowed for what is read next.
    pub fn set_ctx(&mut self, opts: &'static std::sync::LazyLock<ParseOptions>) {
        self.ctx = Some(std::sync::LazyLock::force(opts));
    }

    /// A scalar parsed as a template (with expression errors reported).
    pub fn template(&mut self, node: &Node, what: &str) -> Option<TemplateString> {
        let NodeKind::Scalar(s) = &node.kind else {
            self.error(
                node.span,
                codes::TYPE,
                format!(
                    "\"{what}\" must be a string, but found {}",
                    node.type_name()
                ),
            );
            return None;
        };
        let raw = scalar_to_string(s);
        Some(self.template_from(raw, node.span, s.style))
    }

    pub fn template_from(&mut self, raw: String, span: Span, style: ScalarStyle) -> TemplateString {
        let parsed = match self.ctx {
            Some(opts) => Template::parse_with(&raw, opts),
            None => Template::parse(&raw),
        };
        match parsed {
            Ok(t) => {
                if raw.len() > MAX_TEMPLATE_LENGTH && !t.is_literal() {
                    self.error(
                        span,
                        codes::EXPRESSION,
                        format!("Exceeded max expression length {MAX_TEMPLATE_LENGTH}"),
                    );
                }
                let embedded_insert = t.parts().len() > 1
                    && t.parts().iter().any(|p| {
                        matches!(p, crate::expression::TemplatePart::Expr { span, .. }
                            if raw[span.start + 3..span.end - 2].trim() == "insert")
                    });
                if embedded_insert {
                    self.error(
                        span,
                        codes::EXPRESSION,
                        "The directive 'insert' is not allowed in this context. Directives are not supported for expressions that are embedded within a string. Directives are only supported when the entire value is an expression.",
                    );
                }
                TemplateString::new(raw, span, style, t)
            }
            Err(e) => {
                let tmp = TemplateString::new(
                    raw.clone(),
                    span,
                    style,
                    Template::parse("").expect("empty template parses"),
                );
                let at = tmp.file_span(self.src, e.span.start, e.span.end.max(e.span.start));
                self.error(at, codes::EXPRESSION, e.message.clone());
                tmp
            }
        }
    }

    /// An `if:` value.
    pub fn condition(&mut self, node: &Node) -> Option<IfCondition> {
        let NodeKind::Scalar(s) = &node.kind else {
            self.error(
                node.span,
                codes::TYPE,
                format!("\"if\" must be a string, but found {}", node.type_name()),
            );
            return None;
        };
        let raw = scalar_to_string(s);
        let parsed = match self.ctx {
            Some(opts) => Condition::parse_with(&raw, opts),
            None => Condition::parse(&raw),
        };
        match parsed {
            Ok(c) => Some(IfCondition::new(raw, node.span, s.style, c)),
            Err(e) => {
                let tmp = self.template_from(String::new(), node.span, s.style);
                let at = crate::value::IfCondition::new(
                    raw.clone(),
                    node.span,
                    s.style,
                    Condition::parse("true").expect("literal condition parses"),
                )
                .file_span(self.src, e.span.start, e.span.end.max(e.span.start));
                drop(tmp);
                self.error(at, codes::EXPRESSION, e.message.clone());
                None
            }
        }
    }

    /// A boolean or an expression.
    pub fn bool_or_expr(&mut self, node: &Node, what: &str) -> Option<MaybeExpr<bool>> {
        if let NodeKind::Scalar(s) = &node.kind {
            match s.resolve() {
                ScalarValue::Bool(b) => return Some(MaybeExpr::Value(Spanned::new(b, node.span))),
                ScalarValue::String(v) if is_single_expression(&v) => {
                    return self.template(node, what).map(MaybeExpr::Expr);
                }
                _ => {}
            }
        }
        self.error(
            node.span,
            codes::TYPE,
            format!(
                "\"{what}\" must be a boolean or a ${{{{ }}}} expression, but found {}",
                describe(node)
            ),
        );
        None
    }

    /// A number or an expression.
    pub fn number_or_expr(&mut self, node: &Node, what: &str) -> Option<MaybeExpr<f64>> {
        if let NodeKind::Scalar(s) = &node.kind {
            match s.resolve() {
                ScalarValue::Int(i) => {
                    return Some(MaybeExpr::Value(Spanned::new(i as f64, node.span)));
                }
                ScalarValue::Float(f) => return Some(MaybeExpr::Value(Spanned::new(f, node.span))),
                ScalarValue::String(v) if is_single_expression(&v) => {
                    return self.template(node, what).map(MaybeExpr::Expr);
                }
                _ => {}
            }
        }
        self.error(
            node.span,
            codes::TYPE,
            format!(
                "\"{what}\" must be a number or a ${{{{ }}}} expression, but found {}",
                describe(node)
            ),
        );
        None
    }

    /// A list of strings; a single scalar is accepted as a one-item list when `allow_scalar`.
    pub fn string_list(
        &mut self,
        node: &Node,
        what: &str,
        allow_scalar: bool,
    ) -> Option<Vec<Spanned<String>>> {
        match &node.kind {
            NodeKind::Sequence(items) => {
                Some(items.iter().filter_map(|n| self.string(n, what)).collect())
            }
            NodeKind::Scalar(_) if allow_scalar => self.string(node, what).map(|s| vec![s]),
            _ => {
                self.error(
                    node.span,
                    codes::TYPE,
                    format!(
                        "\"{what}\" must be a sequence of strings, but found {}",
                        node.type_name()
                    ),
                );
                None
            }
        }
    }

    /// A list of templates; a single scalar is accepted as a one-item list when `allow_scalar`.
    pub fn template_list(
        &mut self,
        node: &Node,
        what: &str,
        allow_scalar: bool,
    ) -> Option<Vec<TemplateString>> {
        match &node.kind {
            NodeKind::Sequence(items) => Some(
                items
                    .iter()
                    .filter_map(|n| self.template(n, what))
                    .collect(),
            ),
            NodeKind::Scalar(_) if allow_scalar => self.template(node, what).map(|s| vec![s]),
            _ => {
                self.error(
                    node.span,
                    codes::TYPE,
                    format!(
                        "\"{what}\" must be a sequence of strings, but found {}",
                        node.type_name()
                    ),
                );
                None
            }
        }
    }

    /// A string-to-template mapping such as `env`, `with` or `outputs`.
    pub fn template_map(
        &mut self,
        node: &Node,
        what: &str,
    ) -> Option<IndexMap<String, TemplateString>> {
        let entries = self.mapping_or_null(node, what)?;
        let mut map = IndexMap::with_capacity(entries.len());
        for e in entries {
            let Some(k) = e.key.as_str() else { continue };
            let v = match &e.value.kind {
                NodeKind::Scalar(_) => self.template(&e.value, k),
                _ => {
                    self.error(
                        e.value.span,
                        codes::TYPE,
                        format!(
                            "value of \"{k}\" in \"{what}\" must be a string, number or boolean, but found {}",
                            e.value.type_name()
                        ),
                    );
                    None
                }
            };
            if let Some(v) = v {
                map.insert(k.to_owned(), v);
            }
        }
        Some(map)
    }

    /// `env`-like: a mapping of templates or a single expression.
    pub fn env(&mut self, node: &Node, what: &str) -> Option<Env> {
        if let Some(s) = node.as_scalar()
            && !s.is_null()
        {
            if is_single_expression(&s.value) {
                return self.template(node, what).map(MaybeExpr::Expr);
            }
            self.error(
                node.span,
                codes::TYPE,
                format!(
                    "\"{what}\" must be a mapping or a ${{{{ }}}} expression, but found {}",
                    describe(node)
                ),
            );
            return None;
        }
        let map = self.template_map(node, what)?;
        Some(MaybeExpr::Value(Spanned::new(map, node.span)))
    }

    /// Report case-insensitive duplicate keys in a mapping (GitHub treats these keys as equal).
    pub fn check_case_insensitive_duplicates(&mut self, entries: &[Entry], section: &str) {
        for (i, e) in entries.iter().enumerate() {
            let Some(k) = e.key.as_str() else { continue };
            let prev = entries[..i]
                .iter()
                .find(|p| p.key.as_str().is_some_and(|pk| pk.eq_ignore_ascii_case(k)));
            let Some(prev) = prev else { continue };
            let prev = prev.key.span;
            // Exact duplicates were already reported by the YAML layer.
            if prev == e.key.span || self.src.get(prev.range()) == self.src.get(e.key.span.range())
            {
                continue;
            }
            // Only the first earlier occurrence counts, so report each later key once.
            self.diags.push(
                Diagnostic::error(
                    e.key.span,
                    codes::DUPLICATE_KEY,
                    format!(
                        "key \"{k}\" is duplicated in \"{section}\" section. previously defined at line:{},col:{}. note that this key is case insensitive",
                        prev.start_pos.line, prev.start_pos.column
                    ),
                )
                .with_note(Some(prev), "previously defined here"),
            );
        }
    }
}

/// `env` as a mapping of templates, or one expression producing a mapping.
pub type Env = MaybeExpr<IndexMap<String, TemplateString>>;

/// Whether `s` is exactly one `${{ }}` (surrounding whitespace allowed).
pub(crate) fn is_single_expression(s: &str) -> bool {
    let t = s.trim();
    t.starts_with("${{") && t.ends_with("}}") && t[3..].find("${{").is_none()
}

fn describe(node: &Node) -> String {
    match node.as_str() {
        Some(s) if !node.is_null() => format!("{} \"{s}\"", node.type_name()),
        _ => node.type_name().to_owned(),
    }
}

/// GitHub's string form of a YAML scalar.
pub(crate) fn scalar_to_string(s: &crate::yaml::Scalar) -> String {
    match s.resolve() {
        ScalarValue::Null => String::new(),
        ScalarValue::Bool(b) => b.to_string(),
        // GitHub holds every number as a double.
        ScalarValue::Int(i) => format_number(i as f64),
        ScalarValue::Float(f) => format_number(f),
        ScalarValue::String(v) => v,
    }
}

/// Format a number as GitHub does when coercing to a string (.NET "G15").
pub(crate) fn format_number(f: f64) -> String {
    crate::expression::number_to_string(f)
}

pub(crate) fn quote_list(items: &[&str]) -> String {
    let mut sorted: Vec<&str> = items.to_vec();
    sorted.sort_unstable();
    sorted
        .iter()
        .map(|s| format!("\"{s}\""))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The closest candidate by edit distance, if close enough to be a plausible typo.
pub(crate) fn did_you_mean<'c>(key: &str, candidates: &[&'c str]) -> Option<&'c str> {
    let key_l = key.to_ascii_lowercase();
    candidates
        .iter()
        .map(|c| (levenshtein(&key_l, &c.to_ascii_lowercase()), *c))
        .filter(|(d, c)| *d <= 2.max(c.len() / 3))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != *cb))
                .min(prev[j + 1] + 1)
                .min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn number_formatting_matches_github() {
        assert_eq!(
            format_number("0.84551240822557006".parse().unwrap()),
            "0.84551240822557"
        );
        assert_eq!(format_number(123_456.0), "123456");
        assert_eq!(format_number(0.123456), "0.123456");
        assert_eq!(format_number(123_456.123456), "123456.123456");
        assert_eq!(
            format_number(1_587_106_672_383_762_434.0),
            "1.58710667238376E+18"
        );
        assert_eq!(format_number(f64::INFINITY), "Infinity");
        assert_eq!(format_number(-1.5), "-1.5");
        assert_eq!(format_number(0.0001), "0.0001");
    }

    #[test]
    fn suggestions() {
        assert_eq!(did_you_mean("stesp", &["steps", "runs-on"]), Some("steps"));
        assert_eq!(did_you_mean("zzzzzz", &["steps", "runs-on"]), None);
    }
}
