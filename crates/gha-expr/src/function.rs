//! The functions GitHub's expression language knows, with their argument counts.

use std::fmt;

/// A built-in function. Names are matched case-insensitively; [`Function::name`] gives the
/// documented spelling.
///
/// ```
/// use gha_expr::Function;
/// assert_eq!(Function::from_name("TOJSON"), Some(Function::ToJson));
/// assert_eq!(Function::ToJson.name(), "toJSON");
/// assert!(Function::Success.is_status());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Function {
    /// `contains(search, item)`
    Contains,
    /// `startsWith(searchString, searchValue)`
    StartsWith,
    /// `endsWith(searchString, searchValue)`
    EndsWith,
    /// `format(string, replaceValue0, replaceValue1, ...)`
    Format,
    /// `join(array, optionalSeparator)`
    Join,
    /// `toJSON(value)`
    ToJson,
    /// `fromJSON(value)`
    FromJson,
    /// `hashFiles(path, ...)`
    HashFiles,
    /// `case(pred1, val1, pred2, val2, ..., default)`
    Case,
    /// `success()`
    Success,
    /// `always()`
    Always,
    /// `cancelled()`
    Cancelled,
    /// `failure()`
    Failure,
}

impl Function {
    /// Every function, in documentation order.
    pub const ALL: [Function; 13] = [
        Function::Contains,
        Function::StartsWith,
        Function::EndsWith,
        Function::Format,
        Function::Join,
        Function::ToJson,
        Function::FromJson,
        Function::HashFiles,
        Function::Case,
        Function::Success,
        Function::Always,
        Function::Cancelled,
        Function::Failure,
    ];

    /// Looks a function up by name, ignoring ASCII case.
    ///
    /// ```
    /// assert_eq!(gha_expr::Function::from_name("startswith"), Some(gha_expr::Function::StartsWith));
    /// assert_eq!(gha_expr::Function::from_name("nosuch"), None);
    /// ```
    pub fn from_name(name: &str) -> Option<Function> {
        Function::ALL
            .into_iter()
            .find(|f| f.name().eq_ignore_ascii_case(name))
    }

    /// The documented spelling, e.g. `fromJSON`.
    ///
    /// ```
    /// assert_eq!(gha_expr::Function::HashFiles.name(), "hashFiles");
    /// ```
    pub const fn name(self) -> &'static str {
        match self {
            Function::Contains => "contains",
            Function::StartsWith => "startsWith",
            Function::EndsWith => "endsWith",
            Function::Format => "format",
            Function::Join => "join",
            Function::ToJson => "toJSON",
            Function::FromJson => "fromJSON",
            Function::HashFiles => "hashFiles",
            Function::Case => "case",
            Function::Success => "success",
            Function::Always => "always",
            Function::Cancelled => "cancelled",
            Function::Failure => "failure",
        }
    }

    /// The least number of arguments the function takes.
    ///
    /// ```
    /// assert_eq!(gha_expr::Function::Case.min_args(), 3);
    /// ```
    pub const fn min_args(self) -> usize {
        match self {
            Function::Contains | Function::StartsWith | Function::EndsWith => 2,
            Function::Format | Function::Join | Function::ToJson | Function::FromJson => 1,
            Function::HashFiles => 1,
            Function::Case => 3,
            Function::Success | Function::Always | Function::Cancelled | Function::Failure => 0,
        }
    }

    /// The most arguments the function takes.
    ///
    /// ```
    /// assert_eq!(gha_expr::Function::Join.max_args(), 2);
    /// ```
    pub const fn max_args(self) -> usize {
        match self {
            Function::Contains | Function::StartsWith | Function::EndsWith => 2,
            Function::Format | Function::HashFiles | Function::Case => 255,
            Function::Join => 2,
            Function::ToJson | Function::FromJson => 1,
            Function::Success | Function::Always | Function::Cancelled | Function::Failure => 0,
        }
    }

    /// True for `success`, `always`, `cancelled` and `failure`: an `if:` that calls one of
    /// them gets no implicit `success() &&`.
    ///
    /// ```
    /// assert!(gha_expr::Function::Always.is_status());
    /// assert!(!gha_expr::Function::Format.is_status());
    /// ```
    pub const fn is_status(self) -> bool {
        matches!(
            self,
            Function::Success | Function::Always | Function::Cancelled | Function::Failure
        )
    }
}

impl fmt::Display for Function {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
