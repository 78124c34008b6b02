//! Run events and the [`RunObserver`]s that receive them (the terminal renderer, the JSON-lines
//! stream and the report writer are three observers).
//!
//! Every string in an event has already been through the secret masker.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::conclusion::Conclusion;
use crate::log_sink::OutputStream;

/// Which job (matrix leg) an event is about.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobRef {
    /// The job's id (key under `jobs:`).
    pub id: String,
    /// The display name, with the matrix suffix for a matrix leg.
    pub name: String,
    /// The matrix leg's values (`null` when the job has no matrix).
    pub matrix: serde_json::Value,
    /// The workflow file the job comes from.
    pub workflow: String,
}

/// Which step an event is about.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepRef {
    /// Position in the job's `steps:` (0-based).
    pub index: usize,
    /// The step's `id:` (or GitHub's generated `__N` id).
    pub id: String,
    /// The step's display name.
    pub name: String,
}

/// The severity of an annotation (`::notice`, `::warning`, `::error`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AnnotationLevel {
    /// `::notice`
    Notice,
    /// `::warning`
    Warning,
    /// `::error`
    Error,
}

impl AnnotationLevel {
    /// `notice`, `warning` or `error`.
    pub fn as_str(self) -> &'static str {
        match self {
            AnnotationLevel::Notice => "notice",
            AnnotationLevel::Warning => "warning",
            AnnotationLevel::Error => "error",
        }
    }
}

/// An annotation with its optional location (`file`, `line`, `endLine`, `col`, `endColumn`,
/// `title` properties of the workflow command).
///
/// ```
/// use gha_exec::{Annotation, AnnotationLevel};
/// let a = Annotation { level: AnnotationLevel::Error, message: "boom".into(),
///                      file: Some("src/lib.rs".into()), line: Some(3), ..Annotation::default() };
/// assert_eq!(a.location().as_deref(), Some("src/lib.rs:3"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Annotation {
    /// Severity.
    pub level: AnnotationLevel,
    /// The message.
    pub message: String,
    /// `title`.
    pub title: Option<String>,
    /// `file`.
    pub file: Option<String>,
    /// `line`.
    pub line: Option<u64>,
    /// `endLine`.
    pub end_line: Option<u64>,
    /// `col`.
    pub col: Option<u64>,
    /// `endColumn`.
    pub end_column: Option<u64>,
}

impl Default for Annotation {
    fn default() -> Self {
        Annotation {
            level: AnnotationLevel::Notice,
            message: String::new(),
            title: None,
            file: None,
            line: None,
            end_line: None,
            col: None,
            end_column: None,
        }
    }
}

impl Annotation {
    /// `file[:line[:col]]`, when a file is given.
    pub fn location(&self) -> Option<String> {
        let file = self.file.as_ref()?;
        let mut s = file.clone();
        if let Some(line) = self.line {
            s.push_str(&format!(":{line}"));
            if let Some(col) = self.col {
                s.push_str(&format!(":{col}"));
            }
        }
        Some(s)
    }
}

/// Something that happened during a run. Serialises as one JSON object with an `"event"` tag
/// (the `--json` stream).
///
/// ```
/// use gha_exec::{RunEvent, JobRef};
/// let e = RunEvent::JobStarted { job: JobRef { id: "build".into(), name: "build".into(),
///                                              ..JobRef::default() } };
/// let json = serde_json::to_value(&e).unwrap();
/// assert_eq!(json["event"], "job_started");
/// assert_eq!(json["job"]["id"], "build");
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum RunEvent {
    /// The run begins; `jobs` are the display names of all jobs that may run.
    RunStarted {
        /// Display names.
        jobs: Vec<String>,
    },
    /// A job was started (its environment is being set up).
    JobStarted {
        /// The job.
        job: JobRef,
    },
    /// A job ended (also sent for skipped jobs, with no `JobStarted` before).
    JobFinished {
        /// The job.
        job: JobRef,
        /// Its result.
        conclusion: Conclusion,
        /// Wall time.
        #[serde(with = "duration_secs")]
        duration: Duration,
        /// Its outputs (`jobs.<id>.outputs`), already masked.
        outputs: serde_json::Map<String, serde_json::Value>,
    },
    /// A step started.
    StepStarted {
        /// The job.
        job: JobRef,
        /// The step.
        step: StepRef,
    },
    /// A step ended (also sent for skipped steps, with no `StepStarted` before).
    StepFinished {
        /// The job.
        job: JobRef,
        /// The step.
        step: StepRef,
        /// What happened.
        outcome: Conclusion,
        /// After `continue-on-error`.
        conclusion: Conclusion,
        /// Wall time.
        #[serde(with = "duration_secs")]
        duration: Duration,
    },
    /// One line of a step's (or the job set-up's) log, masked, with workflow commands removed.
    Log {
        /// The job.
        job: JobRef,
        /// The step, or `None` for job set-up and tear-down messages.
        step: Option<StepRef>,
        /// Which stream.
        stream: OutputStream,
        /// The text.
        line: String,
    },
    /// `::group::title` began.
    GroupStarted {
        /// The job.
        job: JobRef,
        /// The step.
        step: StepRef,
        /// The group title.
        title: String,
    },
    /// `::endgroup::`.
    GroupEnded {
        /// The job.
        job: JobRef,
        /// The step.
        step: StepRef,
    },
    /// `::debug::` (shown only with `ACTIONS_STEP_DEBUG`), or a runner debug message.
    Debug {
        /// The job.
        job: JobRef,
        /// The step.
        step: Option<StepRef>,
        /// The text.
        message: String,
    },
    /// `::notice`, `::warning`, `::error`, or an annotation the runner makes itself.
    Annotation {
        /// The job.
        job: JobRef,
        /// The step, or `None` for job-level annotations.
        step: Option<StepRef>,
        /// The annotation.
        annotation: Annotation,
    },
    /// A step wrote to `GITHUB_STEP_SUMMARY`.
    StepSummary {
        /// The job.
        job: JobRef,
        /// The step.
        step: StepRef,
        /// The Markdown it wrote.
        markdown: String,
    },
    /// The run ended.
    RunFinished {
        /// The run's conclusion.
        conclusion: Conclusion,
        /// Wall time.
        #[serde(with = "duration_secs")]
        duration: Duration,
    },
}

mod duration_secs {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64((d.as_secs_f64() * 1000.0).round() / 1000.0)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let secs = f64::deserialize(d)?;
        Duration::try_from_secs_f64(secs).map_err(serde::de::Error::custom)
    }
}

/// Receives [`RunEvent`]s in the order they happen. Events of concurrently running jobs
/// interleave; events of one job are in order. Called synchronously from the executor: return
/// quickly (buffer or hand off to a thread for slow work).
///
/// ```
/// use std::sync::Mutex;
/// use gha_exec::{RunObserver, RunEvent, Conclusion};
///
/// #[derive(Default)]
/// struct CountFinished(Mutex<usize>);
/// impl RunObserver for CountFinished {
///     fn on_event(&self, event: &RunEvent) {
///         if let RunEvent::JobFinished { .. } = event { *self.0.lock().unwrap() += 1; }
///     }
/// }
/// let o = CountFinished::default();
/// o.on_event(&RunEvent::RunFinished { conclusion: Conclusion::Success,
///                                     duration: std::time::Duration::ZERO });
/// assert_eq!(*o.0.lock().unwrap(), 0);
/// ```
pub trait RunObserver: Send + Sync {
    /// One event.
    fn on_event(&self, event: &RunEvent);
}
