//! `gha agent` and its controller: how a job runs inside a remote task.
//!
//! The agent runs inside the task and **dials out** to the controller (the machine running
//! `gha run`), so the task needs no inbound port. It presents a one-time token (compared in
//! constant time), then serves the [`JobEnv`](gha_exec::JobEnv) calls over that connection:
//! processes with streamed output and exact exit codes, file reads and writes, cancellation
//! (signals to the step's process group) and heartbeats. On the controller, a
//! [`RemoteJobEnv`] is a `JobEnv` like any other, so the executor does not know it is remote.
//!
//! ```
//! use gha_backend_ecs::agent::{AgentListener, AgentOptions, AgentUrl, RemoteJobEnv, RemoteOptions, run_agent};
//! use gha_backend_ecs::agent::protocol::AgentJob;
//! use gha_exec::{Exec, JobEnv, VecLogSink, CancellationToken};
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let listener = AgentListener::bind("127.0.0.1:0".parse().unwrap(), None).await.unwrap();
//! let mut pending = listener.expect().unwrap();
//! let url: AgentUrl = format!("tcp://{}", listener.local_addr()).parse().unwrap();
//! let mut options = AgentOptions::new(url, pending.token());
//! let work = tempfile::tempdir().unwrap();
//! options.work_dir = work.path().to_path_buf();
//! let agent = tokio::spawn(run_agent(options));
//!
//! let connection = pending.connected().await.unwrap();
//! let repo = tempfile::tempdir().unwrap();
//! std::fs::write(repo.path().join("README"), "hi").unwrap();
//! let job = AgentJob { job_id: "build".into(), unique_name: "build".into(), ..Default::default() };
//! let env = RemoteJobEnv::start(connection, job, repo.path(), RemoteOptions::new("a test agent"))
//!     .await
//!     .unwrap();
//! let sink = VecLogSink::default();
//! let status = env
//!     .exec(&Exec::new(["sh", "-c", "cat README; exit 3"]), &sink, CancellationToken::new())
//!     .await
//!     .unwrap();
//! assert_eq!(status.code, Some(3));
//! assert_eq!(sink.lines()[0].1, "hi");
//! env.stop().await.unwrap();
//! agent.await.unwrap().unwrap();
//! # });
//! ```

mod listener;
pub mod protocol;
mod remote_env;
mod serve;
mod transport;

pub use listener::{AgentConnection, AgentListener, PendingAgent};
pub use remote_env::{RemoteJobEnv, RemoteOptions, workspace_archive};
pub use serve::{AgentError, AgentOptions, run_agent};
pub use transport::{AgentUrl, TlsIdentity, new_token, token_matches};

/// The environment variable holding the controller's URL in a task.
pub const ENV_URL: &str = "GHA_AGENT_URL";
/// The environment variable holding the one-time token in a task.
pub const ENV_TOKEN: &str = "GHA_AGENT_TOKEN";
/// The environment variable holding the PEM certificate(s) to trust for `tls://` URLs.
pub const ENV_CA: &str = "GHA_AGENT_CA";
