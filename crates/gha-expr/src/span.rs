//! Byte ranges into the text an expression or template was parsed from.

/// Byte offsets into the source string the parser was given (half-open: `start..end`).
///
/// ```
/// let expr = gha_expr::parse("github.ref == 'main'").unwrap();
/// assert_eq!(expr.span(), gha_expr::Span { start: 0, end: 20 });
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct Span {
    /// First byte of the range.
    pub start: usize,
    /// One past the last byte of the range.
    pub end: usize,
}

impl Span {
    /// A span from `start` to `end` (byte offsets).
    ///
    /// ```
    /// assert_eq!(gha_expr::Span::new(2, 5).len(), 3);
    /// ```
    pub const fn new(start: usize, end: usize) -> Span {
        Span { start, end }
    }

    /// Number of bytes covered.
    ///
    /// ```
    /// assert!(gha_expr::Span::new(4, 4).is_empty());
    /// ```
    pub const fn len(&self) -> usize {
        self.end - self.start
    }

    /// True when the span covers no bytes.
    ///
    /// ```
    /// assert!(!gha_expr::Span::new(0, 1).is_empty());
    /// ```
    pub const fn is_empty(&self) -> bool {
        self.end <= self.start
    }

    /// The same span moved right by `offset` bytes (e.g. from an expression into its template).
    ///
    /// ```
    /// assert_eq!(gha_expr::Span::new(0, 3).shifted(4), gha_expr::Span::new(4, 7));
    /// ```
    pub const fn shifted(self, offset: usize) -> Span {
        Span {
            start: self.start + offset,
            end: self.end + offset,
        }
    }

    /// The smallest span covering both.
    ///
    /// ```
    /// use gha_expr::Span;
    /// assert_eq!(Span::new(1, 3).to(Span::new(5, 8)), Span::new(1, 8));
    /// ```
    pub fn to(self, other: Span) -> Span {
        Span {
            start: self.start.min(other.start),
            end: self.end.max(other.end),
        }
    }
}
