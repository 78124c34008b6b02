//! `gha-exec`: how a GitHub Actions run unfolds.
//!
//! This crate defines the seams every backend and tool plugs into — [`Backend`] and [`JobEnv`]
//! (where jobs run), [`Exec`] and [`LogSink`] (one process and its output), [`StepTracer`]
//! (watching a step) and [`RunObserver`] (run events) — and ships [`HostBackend`], which runs
//! jobs as processes on this machine.
//!
//! ```
//! use gha_exec::{Backend, Exec, HostBackend, HostBackendOptions, JobSpec, VecLogSink};
//! use tokio_util::sync::CancellationToken;
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! # let repo = tempfile::tempdir().unwrap();
//! # let runs = tempfile::tempdir().unwrap();
//! let backend = HostBackend::new(HostBackendOptions::new(runs.path()));
//! let job = backend.start_job(&JobSpec::new("hello", repo.path())).await?;
//! let log = VecLogSink::default();
//! let status = job.exec(&Exec::new(["echo", "hi"]), &log, CancellationToken::new()).await?;
//! assert!(status.success());
//! job.stop().await?;
//! # Ok::<(), gha_exec::BackendError>(())
//! # }).unwrap();
//! ```

#![recursion_limit = "256"]

pub mod action;
pub mod action_container;
pub mod backend;
pub mod commands;
pub mod conclusion;
#[cfg(feature = "conformance")]
pub mod conformance;
pub mod exec;
pub mod hash_files;
pub mod host;
pub mod kill_escalation;
pub mod line_splitter;
pub mod log_sink;
pub mod masker;
pub mod observer;
pub mod run;
pub mod shell;
pub mod tracer;

pub use async_trait::async_trait;
pub use backend::{
    Backend, BackendError, ContainerInfo, ContainerSpec, JobEnv, JobPaths, JobSpec,
    RegistryCredentials, RunnerInfo, RunningContainer, RunningService, ServiceSpec,
};
pub use conclusion::Conclusion;
pub use exec::{Exec, ExitStatus, KillPolicy};
pub use host::{HostBackend, HostBackendOptions, HostJobEnv};
pub use kill_escalation::{KillEscalation, KillSignal};
pub use line_splitter::LineSplitter;
pub use log_sink::{LogSink, MAX_LINE_BYTES, NullLogSink, OutputStream, VecLogSink};
pub use masker::Masker;
pub use observer::{Annotation, AnnotationLevel, JobRef, RunEvent, RunObserver, StepRef};
pub use tokio_util::sync::CancellationToken;
pub use tracer::{Mount, StepInfo, StepTracer, TraceArtifact, TracerRequirements};

#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
