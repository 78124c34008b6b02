//! Values that may hold `${{ }}` expressions.

use std::fmt;

use crate::expression::{Condition, Template};
use crate::span::{SourceMap, Span};
use crate::yaml::ScalarStyle;

/// A string value from the file, parsed as a [`Template`] (literal text with embedded `${{ }}`
/// expressions). Numbers and booleans written in YAML are kept in their string form, as GitHub
/// coerces them (`true`, `3`, `1.5`).
///
/// ```
/// let wf = gha_model::Workflow::from_yaml(
///     "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo ${{ github.sha }}\n",
/// ).unwrap();
/// let run = wf.jobs[0].steps[0].run.as_ref().unwrap();
/// assert_eq!(run.as_str(), "echo ${{ github.sha }}");
/// assert!(!run.is_literal());
/// assert_eq!(run.span.start_pos.line, 6);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct TemplateString {
    /// The string as GitHub reads it (after YAML decoding).
    pub raw: String,
    /// Where the YAML scalar was written (the definition site for aliased values).
    pub span: Span,
    /// How the YAML scalar was written (used to map expression offsets back to the file).
    pub style: ScalarStyle,
    template: Template,
}

impl TemplateString {
    pub(crate) fn new(raw: String, span: Span, style: ScalarStyle, template: Template) -> Self {
        TemplateString {
            raw,
            span,
            style,
            template,
        }
    }

    /// A template from a string without source location (for tests and synthesized values).
    ///
    /// ```
    /// let t = gha_model::TemplateString::from_str("hello ${{ x }}").unwrap();
    /// assert!(!t.is_literal());
    /// ```
    #[allow(clippy::should_implement_trait)]
    pub fn from_str(raw: &str) -> Result<Self, crate::expression::ParseError> {
        Ok(TemplateString {
            raw: raw.to_owned(),
            span: Span::default(),
            style: ScalarStyle::Plain,
            template: Template::parse(raw)?,
        })
    }

    /// The parsed template.
    ///
    /// ```
    /// let t = gha_model::TemplateString::from_str("a ${{ b }}").unwrap();
    /// assert_eq!(t.template().parts().len(), 2);
    /// ```
    pub fn template(&self) -> &Template {
        &self.template
    }

    /// The decoded string.
    ///
    /// ```
    /// assert_eq!(gha_model::TemplateString::from_str("x").unwrap().as_str(), "x");
    /// ```
    pub fn as_str(&self) -> &str {
        &self.raw
    }

    /// Whether the value has no `${{ }}` at all.
    ///
    /// ```
    /// assert!(gha_model::TemplateString::from_str("plain").unwrap().is_literal());
    /// ```
    pub fn is_literal(&self) -> bool {
        self.template.is_literal()
    }

    /// Map a byte range relative to [`raw`](Self::raw) (e.g. an expression's span) to a span in
    /// the file. `source` must be the text the model was loaded from.
    ///
    /// ```
    /// let src = "on: push\njobs:\n  a:\n    runs-on: x\n    steps:\n      - run: |\n          echo ${{ github.sha }}\n";
    /// let wf = gha_model::Workflow::from_yaml(src).unwrap();
    /// let run = wf.jobs[0].steps[0].run.as_ref().unwrap();
    /// let at = run.raw.find("github").unwrap();
    /// let span = run.file_span(src, at, at + 10);
    /// assert_eq!(&src[span.range()], "github.sha");
    /// assert_eq!(span.start_pos.line, 7);
    /// ```
    pub fn file_span(&self, source: &str, start: usize, end: usize) -> Span {
        map_range(source, self.span, self.style, &self.raw, start, end)
    }
}

impl fmt::Display for TemplateString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.raw)
    }
}

/// An `if:` condition: its text (as written, with or without `${{ }}`) and the parsed
/// [`Condition`], which applies GitHub's implicit `success() &&`.
///
/// ```
/// let wf = gha_model::Workflow::from_yaml(
///     "on: push\njobs:\n  a:\n    if: github.event_name == 'push'\n    runs-on: x\n    steps: [{run: y}]\n",
/// ).unwrap();
/// let cond = wf.jobs[0].if_condition.as_ref().unwrap();
/// assert_eq!(cond.raw, "github.event_name == 'push'");
/// assert_eq!(cond.span.start_pos.line, 4);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct IfCondition {
    /// The condition as written (a YAML boolean is kept as `true` / `false`).
    pub raw: String,
    /// Where it was written.
    pub span: Span,
    /// How the YAML scalar was written.
    pub style: ScalarStyle,
    condition: Condition,
}

impl IfCondition {
    pub(crate) fn new(raw: String, span: Span, style: ScalarStyle, condition: Condition) -> Self {
        IfCondition {
            raw,
            span,
            style,
            condition,
        }
    }

    /// The parsed condition.
    ///
    /// ```
    /// let wf = gha_model::Workflow::from_yaml("on: push\njobs: {a: {if: always(), runs-on: x, steps: [{run: y}]}}").unwrap();
    /// let _cond: &gha_model::expression::Condition = wf.jobs[0].if_condition.as_ref().unwrap().condition();
    /// ```
    pub fn condition(&self) -> &Condition {
        &self.condition
    }

    /// Map a byte range relative to [`raw`](Self::raw) to a span in the file.
    pub fn file_span(&self, source: &str, start: usize, end: usize) -> Span {
        map_range(source, self.span, self.style, &self.raw, start, end)
    }
}

/// A value that is either written literally or computed by an expression, e.g.
/// `timeout-minutes: 30` vs `timeout-minutes: ${{ inputs.timeout }}`.
///
/// ```
/// use gha_model::MaybeExpr;
/// let wf = gha_model::Workflow::from_yaml(
///     "on: push\njobs:\n  a:\n    runs-on: x\n    timeout-minutes: ${{ inputs.t }}\n    continue-on-error: true\n    steps: [{run: y}]\n",
/// ).unwrap();
/// assert!(matches!(wf.jobs[0].timeout_minutes, Some(MaybeExpr::Expr(_))));
/// assert!(matches!(wf.jobs[0].continue_on_error, Some(MaybeExpr::Value(ref b)) if b.value));
/// ```
#[derive(Clone, Debug, PartialEq)]
pub enum MaybeExpr<T> {
    /// A literal value.
    Value(crate::Spanned<T>),
    /// A `${{ }}` expression to evaluate at run time.
    Expr(TemplateString),
}

impl<T> MaybeExpr<T> {
    /// Where the value was written.
    ///
    /// ```
    /// let v: gha_model::MaybeExpr<bool> = gha_model::MaybeExpr::Value(gha_model::Spanned::new(true, Default::default()));
    /// assert_eq!(v.span().start, 0);
    /// ```
    pub fn span(&self) -> Span {
        match self {
            MaybeExpr::Value(v) => v.span,
            MaybeExpr::Expr(t) => t.span,
        }
    }

    /// The literal value, if not an expression.
    ///
    /// ```
    /// let v: gha_model::MaybeExpr<u8> = gha_model::MaybeExpr::Value(gha_model::Spanned::new(3, Default::default()));
    /// assert_eq!(v.literal(), Some(&3));
    /// ```
    pub fn literal(&self) -> Option<&T> {
        match self {
            MaybeExpr::Value(v) => Some(&v.value),
            MaybeExpr::Expr(_) => None,
        }
    }
}

/// Map a decoded-string byte range to the file by aligning the decoded text with the source
/// text of the scalar (skips quotes, escapes, indentation and block headers).
fn map_range(
    source: &str,
    span: Span,
    style: ScalarStyle,
    raw: &str,
    start: usize,
    end: usize,
) -> Span {
    let Some(text) = source.get(span.range()) else {
        return span;
    };
    let mut i = 0;
    if matches!(style, ScalarStyle::Literal | ScalarStyle::Folded)
        && (text.starts_with('|') || text.starts_with('>'))
    {
        i = text.find('\n').map(|n| n + 1).unwrap_or(text.len());
    } else if matches!(style, ScalarStyle::SingleQuoted | ScalarStyle::DoubleQuoted) {
        i = 1.min(text.len());
    }
    let tb = text.as_bytes();
    let rb = raw.as_bytes();
    let mut map_start = None;
    let mut map_end = None;
    let mut j = 0;
    while j <= rb.len() {
        if j == start && map_start.is_none() {
            map_start = Some(i);
        }
        if j == end {
            map_end = Some(i);
            break;
        }
        if j == rb.len() {
            break;
        }
        while i < tb.len() && tb[i] != rb[j] {
            i += 1;
        }
        if i >= tb.len() {
            break;
        }
        i += 1;
        j += 1;
    }
    let s = span.start + map_start.unwrap_or(0).min(text.len());
    let e = span.start
        + map_end
            .unwrap_or(text.len())
            .min(text.len())
            .max(s - span.start);
    let map = SourceMap::new(source);
    map.span(s, e)
}
