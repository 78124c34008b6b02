//! Source locations: byte ranges plus 1-based line and column numbers.

use std::fmt;

/// A position in a source file: 1-based line and 1-based column (counted in characters).
///
/// ```
/// let p = gha_model::Position { line: 3, column: 5 };
/// assert_eq!(p.to_string(), "3:5");
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub struct Position {
    /// 1-based line number.
    pub line: u32,
    /// 1-based column, counted in Unicode scalar values.
    pub column: u32,
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// Where a node sits in its source file: a half-open byte range and the positions of its first
/// character and of the character just past its end.
///
/// ```
/// let wf = gha_model::Workflow::from_yaml("on: push\njobs:\n  a:\n    runs-on: x\n    steps: [{run: echo}]\n").unwrap();
/// let job = &wf.jobs[0];
/// assert_eq!(job.id.span.start_pos.line, 3);
/// assert_eq!(job.id.span.start_pos.column, 3);
/// assert_eq!(&"on: push\njobs:\n  a:\n"[job.id.span.range()], "a");
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, serde::Serialize)]
pub struct Span {
    /// Byte offset of the first byte.
    pub start: usize,
    /// Byte offset just past the last byte.
    pub end: usize,
    /// Line and column of `start`.
    pub start_pos: Position,
    /// Line and column of `end`.
    pub end_pos: Position,
}

impl Span {
    /// The byte range, for slicing the source text.
    ///
    /// ```
    /// let s = gha_model::Span { start: 1, end: 3, ..Default::default() };
    /// assert_eq!(&"abcd"[s.range()], "bc");
    /// ```
    pub fn range(&self) -> std::ops::Range<usize> {
        self.start..self.end
    }

    /// The smallest span covering both `self` and `other`.
    ///
    /// ```
    /// use gha_model::{Position, Span};
    /// let a = Span { start: 0, end: 2, start_pos: Position { line: 1, column: 1 }, end_pos: Position { line: 1, column: 3 } };
    /// let b = Span { start: 5, end: 9, start_pos: Position { line: 2, column: 1 }, end_pos: Position { line: 2, column: 5 } };
    /// assert_eq!(a.to(b).end, 9);
    /// ```
    pub fn to(self, other: Span) -> Span {
        let (start, start_pos) = if other.start < self.start {
            (other.start, other.start_pos)
        } else {
            (self.start, self.start_pos)
        };
        let (end, end_pos) = if other.end > self.end {
            (other.end, other.end_pos)
        } else {
            (self.end, self.end_pos)
        };
        Span {
            start,
            end,
            start_pos,
            end_pos,
        }
    }
}

/// A value together with the span it was read from.
///
/// ```
/// let wf = gha_model::Workflow::from_yaml("name: CI\non: push\njobs: {a: {runs-on: x, steps: [{run: y}]}}\n").unwrap();
/// let name = wf.name.as_ref().unwrap();
/// assert_eq!(name.value, "CI");
/// assert_eq!(name.span.start_pos.line, 1);
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Spanned<T> {
    /// The value.
    pub value: T,
    /// Where it was written.
    pub span: Span,
}

impl<T> Spanned<T> {
    /// Pair a value with its span.
    ///
    /// ```
    /// let s = gha_model::Spanned::new(3, gha_model::Span::default());
    /// assert_eq!(*s, 3);
    /// ```
    pub fn new(value: T, span: Span) -> Self {
        Spanned { value, span }
    }
}

impl<T> std::ops::Deref for Spanned<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.value
    }
}

impl<T: fmt::Display> fmt::Display for Spanned<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.value.fmt(f)
    }
}

/// Maps byte offsets of one source text to line/column positions.
///
/// ```
/// let map = gha_model::SourceMap::new("ab\ncdé\nf");
/// assert_eq!(map.position(4).line, 2);
/// assert_eq!(map.position(4).column, 2);
/// assert_eq!(map.position(8).column, 1); // after the two-byte 'é' and the newline
/// ```
#[derive(Clone, Debug)]
pub struct SourceMap {
    line_starts: Vec<usize>,
    text: String,
}

impl SourceMap {
    /// Index `text`.
    pub fn new(text: &str) -> Self {
        let mut line_starts = vec![0];
        for (i, b) in text.bytes().enumerate() {
            if b == b'\n' {
                line_starts.push(i + 1);
            }
        }
        SourceMap {
            line_starts,
            text: text.to_owned(),
        }
    }

    /// The indexed text.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Line and column of a byte offset (clamped to the text).
    pub fn position(&self, offset: usize) -> Position {
        let offset = offset.min(self.text.len());
        let line_idx = match self.line_starts.binary_search(&offset) {
            Ok(i) => i,
            Err(i) => i - 1,
        };
        let start = self.line_starts[line_idx];
        let mut end = offset;
        while !self.text.is_char_boundary(end) {
            end -= 1;
        }
        let column = self.text[start..end].chars().count() + 1;
        Position {
            line: (line_idx + 1) as u32,
            column: column as u32,
        }
    }

    /// A span for a byte range.
    pub fn span(&self, start: usize, end: usize) -> Span {
        Span {
            start,
            end,
            start_pos: self.position(start),
            end_pos: self.position(end),
        }
    }

    /// The text of 1-based line `line`, without its line break.
    pub fn line_text(&self, line: u32) -> Option<&str> {
        let idx = (line as usize).checked_sub(1)?;
        let start = *self.line_starts.get(idx)?;
        let end = self
            .line_starts
            .get(idx + 1)
            .map(|e| e - 1)
            .unwrap_or(self.text.len());
        Some(self.text[start..end].trim_end_matches('\r'))
    }
}
