//! `gha-model`: what a GitHub Actions workflow or action metadata file *is*, as typed Rust
//! with source locations, plus the validation GitHub applies when it reads one.
//!
//! ```
//! let wf = gha_model::Workflow::from_yaml(
//!     "on: push\njobs:\n  build:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo hi\n",
//! ).unwrap();
//! assert_eq!(wf.jobs[0].id.value, "build");
//! ```

pub mod action;
mod contexts;
pub mod diagnostic;
pub mod expression;
mod reader;
pub mod reusable;
pub mod span;
mod value;
pub mod workflow;
pub mod yaml;

pub use action::{Action, ActionInput, ActionOutput, Branding, Runs};
pub use diagnostic::{Diagnostic, Note, Severity};
pub use reader::Env;
pub use span::{Position, SourceMap, Span, Spanned};
pub use value::{IfCondition, MaybeExpr, TemplateString};
pub use workflow::{
    CallSecrets, Concurrency, Container, Credentials, Defaults, Environment, Event, Input,
    InputType, Job, Matrix, MatrixCombination, MatrixError, MatrixMap, MatrixRows, MatrixValues,
    MatrixVector, NeedsGraph, On, PermissionLevel, Permissions, RunDefaults, RunsOn, Step,
    StepKind, Strategy, Workflow, WorkflowCall, WorkflowCallOutput, WorkflowCallSecret,
};

#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
