//! `gha-rr`: what watches a step.
//!
//! - [`StraceTracer`] and [`RrTracer`] implement gha-exec's [`StepTracer`](gha_exec::StepTracer):
//!   they wrap the targeted steps' processes (a single simple command is traced directly, see
//!   [`simple_command_argv`]), collect traces into `DIR/<job>/<step-number>-<step-slug>/`
//!   ([`TraceLayout`]), and in containers use a [`ToolBundle`] of the host's installed tool,
//!   mounted read-only and started through its own loader.
//! - rr checks first that it can record at all ([`PreflightFailure`] says why not and how to
//!   fix it).
//! - [`rerun`] re-runs a failed GitHub run up to its failing step, with that step under a
//!   tracer ([`FailureAnalysis`], [`RerunPlan`]).
//!
//! ```
//! use std::sync::Arc;
//! use gha_exec::StepTracer;
//! use gha_rr::{StraceTracer, TraceTargets};
//!
//! let targets = TraceTargets::from_selectors(&["unit"]).unwrap();
//! let tracer: Arc<dyn StepTracer> = Arc::new(StraceTracer::new(targets, "traces"));
//! assert_eq!(tracer.name(), "strace");
//! ```

pub mod bundle;
mod layout;
mod placement;
pub mod preflight;
pub mod rerun;

mod rr;
mod select;
mod simple_command;
mod strace;

pub use bundle::{BundleError, Tool, ToolBundle};
pub use layout::{TraceLayout, slug};
pub use placement::{BUNDLE_MOUNT, TRACE_MOUNT};
pub use preflight::{PreflightFailure, PreflightKind};
pub use rerun::{FailureAnalysis, RerunPlan};

pub use rr::{RR_SIGTERM_GRACE, RR_TRACE, RrOptions, RrTracer};
pub use select::{StepSelector, TraceTargets};
pub use simple_command::simple_command_argv;
pub use strace::{STRACE_FILE, StraceTracer};

#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
