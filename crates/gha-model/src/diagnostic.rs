//! Located problems found while loading and validating a file.

use std::fmt;

use crate::span::Span;

/// How bad a [`Diagnostic`] is. Only errors make a file invalid.
///
/// ```
/// assert_eq!(gha_model::Severity::Error.to_string(), "error");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// GitHub would reject the file (or the job would fail to start).
    Error,
    /// Accepted by GitHub but almost certainly a mistake.
    Warning,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        })
    }
}

/// A secondary location attached to a diagnostic, e.g. "previously defined here".
///
/// ```
/// let note = gha_model::Note { span: None, message: "see the docs".into() };
/// assert!(note.span.is_none());
/// ```
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Note {
    /// Where the note points, if anywhere.
    pub span: Option<Span>,
    /// What it says.
    pub message: String,
}

/// One problem in a workflow or action file: where, how bad, what kind and what.
///
/// `code` is a short stable kebab-case class name such as `unknown-key`, `yaml-syntax` or
/// `needs-cycle`; see [`codes`] for the list.
///
/// ```
/// let errs = gha_model::Workflow::from_yaml("on: push\njobs:\n  a:\n    runs-on: x\n    stesp: []\n").unwrap_err();
/// let d = errs.iter().find(|d| d.code == "unknown-key").unwrap();
/// assert_eq!(d.span.start_pos.line, 5);
/// assert!(d.message.contains("stesp"));
/// assert_eq!(d.help.as_deref(), Some("did you mean \"steps\"?"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Diagnostic {
    /// The file the diagnostic is about, when known (set by [`Diagnostic::with_file`]).
    pub file: Option<String>,
    /// The offending source range.
    pub span: Span,
    /// Error or warning.
    pub severity: Severity,
    /// Stable class name, e.g. `unknown-key`.
    pub code: &'static str,
    /// Human-readable message.
    pub message: String,
    /// A hint such as `did you mean "steps"?`.
    pub help: Option<String>,
    /// Related locations.
    pub notes: Vec<Note>,
}

impl Diagnostic {
    /// A new error.
    ///
    /// ```
    /// let d = gha_model::Diagnostic::error(gha_model::Span::default(), "needs", "job \"x\" not found");
    /// assert_eq!(d.severity, gha_model::Severity::Error);
    /// ```
    pub fn error(span: Span, code: &'static str, message: impl Into<String>) -> Self {
        Diagnostic {
            file: None,
            span,
            severity: Severity::Error,
            code,
            message: message.into(),
            help: None,
            notes: Vec::new(),
        }
    }

    /// A new warning.
    ///
    /// ```
    /// let d = gha_model::Diagnostic::warning(gha_model::Span::default(), "deprecated", "node12 is deprecated");
    /// assert_eq!(d.severity, gha_model::Severity::Warning);
    /// ```
    pub fn warning(span: Span, code: &'static str, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(span, code, message)
        }
    }

    /// Attach a help text.
    ///
    /// ```
    /// let d = gha_model::Diagnostic::error(Default::default(), "x", "m").with_help("try y");
    /// assert_eq!(d.help.as_deref(), Some("try y"));
    /// ```
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// Attach a related location.
    ///
    /// ```
    /// let d = gha_model::Diagnostic::error(Default::default(), "x", "m").with_note(None, "n");
    /// assert_eq!(d.notes.len(), 1);
    /// ```
    pub fn with_note(mut self, span: Option<Span>, message: impl Into<String>) -> Self {
        self.notes.push(Note {
            span,
            message: message.into(),
        });
        self
    }

    /// Record which file this is about.
    ///
    /// ```
    /// let d = gha_model::Diagnostic::error(Default::default(), "x", "m").with_file("ci.yml");
    /// assert_eq!(d.file.as_deref(), Some("ci.yml"));
    /// ```
    pub fn with_file(mut self, file: impl Into<String>) -> Self {
        self.file = Some(file.into());
        self
    }

    /// Whether this is an error (not a warning).
    ///
    /// ```
    /// assert!(gha_model::Diagnostic::error(Default::default(), "x", "m").is_error());
    /// ```
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(file) = &self.file {
            write!(f, "{file}:")?;
        }
        write!(
            f,
            "{}: {}: {} [{}]",
            self.span.start_pos, self.severity, self.message, self.code
        )
    }
}

impl std::error::Error for Diagnostic {}

/// The diagnostic class names used in [`Diagnostic::code`].
pub mod codes {
    /// The bytes are not valid YAML (or not UTF-8).
    pub const YAML_SYNTAX: &str = "yaml-syntax";
    /// The same key appears twice in one mapping.
    pub const DUPLICATE_KEY: &str = "duplicate-key";
    /// A YAML merge key `<<`, which GitHub does not support.
    pub const MERGE_KEY: &str = "merge-key";
    /// Anchor problems: unknown, recursive or unused anchors.
    pub const ANCHOR: &str = "anchor";
    /// Explicit YAML tags, which GitHub does not support.
    pub const TAG: &str = "yaml-tag";
    /// The file has no content.
    pub const EMPTY: &str = "empty";
    /// A key GitHub does not know in this place.
    pub const UNKNOWN_KEY: &str = "unknown-key";
    /// A value of the wrong type (mapping where a string is expected, ...).
    pub const TYPE: &str = "type";
    /// A required key is absent.
    pub const MISSING_KEY: &str = "missing-key";
    /// A value is present but not allowed (empty, out of range, unknown enum value).
    pub const INVALID_VALUE: &str = "invalid-value";
    /// Two keys that cannot be used together.
    pub const CONFLICTING_KEYS: &str = "conflicting-keys";
    /// A job id that is not a valid identifier or is used twice.
    pub const JOB_ID: &str = "job-id";
    /// A step id that is not valid or used twice in a job.
    pub const STEP_ID: &str = "step-id";
    /// `needs` names an unknown job or forms a cycle.
    pub const NEEDS: &str = "needs";
    /// A `schedule` cron expression that does not parse.
    pub const CRON: &str = "cron";
    /// A `${{ }}` expression or an `if:` condition that does not parse.
    pub const EXPRESSION: &str = "expression";
    /// A badly shaped `strategy.matrix`.
    pub const MATRIX: &str = "matrix";
    /// Problems in `on:` events, filters and activity types.
    pub const EVENTS: &str = "events";
    /// `workflow_call` / `workflow_dispatch` inputs, outputs and secrets.
    pub const INPUTS: &str = "inputs";
    /// A `permissions` scope or level that does not exist.
    pub const PERMISSIONS: &str = "permissions";
    /// A reusable-workflow call that does not fit the called workflow (inputs, secrets,
    /// nesting depth, job limit), found by [`crate::reusable::expand`].
    pub const REUSABLE: &str = "reusable-workflow";
    /// Things GitHub accepts but warns about or that are almost certainly mistakes.
    pub const CREDENTIALS: &str = "credentials";
}
