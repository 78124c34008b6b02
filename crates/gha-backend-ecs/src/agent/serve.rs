//! The agent side: what `gha agent` runs inside a task.
//!
//! It dials the controller, proves itself with the one-time token, sets the job up with the
//! host backend (the task is the host), then serves `JobEnv` requests until the controller says
//! `Stop`. If the controller disappears (the connection ends, or nothing arrives for
//! [`AgentOptions::dead_after`]) or the agent gets SIGTERM/SIGINT, every step process group is
//! killed and the agent exits with an error.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use gha_exec::{
    Backend, BackendError, HostBackend, HostBackendOptions, JobEnv, JobSpec, LogSink, OutputStream,
    RunnerInfo,
};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::protocol::{
    AgentJob, AgentMessage, ControllerMessage, DataChunk, PROTOCOL_VERSION, WORKSPACE_ID,
    WireError, check_hash_patterns,
};
use super::transport::{AgentUrl, dial, framed};

/// Settings of [`run_agent`].
///
/// ```
/// use gha_backend_ecs::agent::AgentOptions;
/// let o = AgentOptions::new("tcp://127.0.0.1:7400".parse().unwrap(), "token");
/// assert_eq!(o.dead_after, std::time::Duration::from_secs(30));
/// ```
#[derive(Clone)]
pub struct AgentOptions {
    /// The controller.
    pub url: AgentUrl,
    /// The one-time token.
    pub token: String,
    /// PEM certificates to trust for `tls://` URLs.
    pub ca_pem: Option<String>,
    /// Where job directories are made.
    pub work_dir: PathBuf,
    /// How long to keep retrying the first connection.
    pub connect_timeout: Duration,
    /// How often to send a heartbeat.
    pub heartbeat_interval: Duration,
    /// After how long without any message the controller counts as gone.
    pub dead_after: Duration,
}

impl std::fmt::Debug for AgentOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AgentOptions")
            .field("url", &self.url)
            .field("token", &"<redacted>")
            .field("work_dir", &self.work_dir)
            .finish_non_exhaustive()
    }
}

impl AgentOptions {
    /// Options for dialing `url` with `token`; work directory under the system temp directory,
    /// 30 s to connect, heartbeats every 5 s, the controller gone after 30 s of silence.
    pub fn new(url: AgentUrl, token: impl Into<String>) -> AgentOptions {
        AgentOptions {
            url,
            token: token.into(),
            ca_pem: None,
            work_dir: std::env::temp_dir().join("gha-agent"),
            connect_timeout: Duration::from_secs(30),
            heartbeat_interval: Duration::from_secs(5),
            dead_after: Duration::from_secs(30),
        }
    }
}

/// Why the agent ended without a `Stop`.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// The controller could not be reached.
    #[error("{0}")]
    Connect(String),
    /// The controller refused the connection.
    #[error("the controller refused the connection: {0}")]
    Rejected(String),
    /// The connection ended or went silent; every step was killed.
    #[error("lost the controller: {0}; killed every step")]
    ControllerLost(String),
    /// The agent was told to terminate by a signal; every step was killed.
    #[error("terminated by {0}; killed every step")]
    Signalled(&'static str),
    /// Anything else (protocol violations, set-up failures).
    #[error("{0}")]
    Other(String),
}

/// Runs the agent until the controller stops the job (`Ok`) or something ends it (`Err`).
///
/// ```no_run
/// use gha_backend_ecs::agent::{AgentOptions, run_agent};
/// # async fn f() {
/// let options = AgentOptions::new("tcp://10.0.0.5:7400".parse().unwrap(), "3f…");
/// if let Err(e) = run_agent(options).await {
///     eprintln!("gha agent: {e}");
/// }
/// # }
/// ```
pub async fn run_agent(options: AgentOptions) -> Result<(), AgentError> {
    let stream = connect_with_retry(&options).await?;
    let (mut reader, mut writer) = framed(stream);
    writer
        .send(&AgentMessage::Hello {
            token: options.token.clone(),
            version: PROTOCOL_VERSION,
        })
        .await
        .map_err(AgentError::Connect)?;
    match tokio::time::timeout(options.dead_after, reader.recv::<ControllerMessage>()).await {
        Err(_) => {
            return Err(AgentError::Connect(format!(
                "the controller at {} did not answer the greeting within {:?}",
                options.url, options.dead_after
            )));
        }
        Ok(Err(e)) => return Err(AgentError::Connect(e)),
        Ok(Ok(None)) => {
            return Err(AgentError::Rejected(
                "the connection was closed without an answer".into(),
            ));
        }
        Ok(Ok(Some(ControllerMessage::Welcome))) => {}
        Ok(Ok(Some(ControllerMessage::Rejected { reason }))) => {
            return Err(AgentError::Rejected(reason));
        }
        Ok(Ok(Some(other))) => {
            return Err(AgentError::Other(format!(
                "protocol error: expected a welcome, got {other:?}"
            )));
        }
    }

    let (tx, mut rx) = mpsc::unbounded_channel::<AgentMessage>();
    let writer_task = tokio::spawn(async move {
        while let Some(m) = rx.recv().await {
            let stop = matches!(m, AgentMessage::Stopped | AgentMessage::Terminating { .. });
            if writer.send(&m).await.is_err() {
                break;
            }
            if stop {
                break;
            }
        }
        writer.close().await;
    });

    let mut session = Session {
        tx: tx.clone(),
        options: options.clone(),
        env: None,
        workspace: None,
        running: HashMap::new(),
        writes: HashMap::new(),
    };
    let result = session.serve(&mut reader).await;
    match &result {
        Ok(()) => {
            stop_everything(&mut session).await;
            let _ = tx.send(AgentMessage::Stopped);
            drop(tx);
            drop(session);
            let _ = tokio::time::timeout(Duration::from_secs(5), writer_task).await;
        }
        Err(e) => {
            // Say why and close the connection *before* killing the steps, so that the
            // controller reports this reason rather than steps that look cancelled.
            if !matches!(e, AgentError::ControllerLost(_)) {
                let _ = tx.send(AgentMessage::Terminating {
                    reason: e.to_string(),
                });
                let _ = tokio::time::timeout(Duration::from_secs(2), writer_task).await;
            } else {
                writer_task.abort();
            }
            stop_everything(&mut session).await;
        }
    }
    result
}

/// Nothing the job started may outlive the agent.
async fn stop_everything(session: &mut Session) {
    for token in session.running.values() {
        token.cancel();
    }
    if let Some(env) = session.env.take() {
        let _ = env.stop().await;
    }
}

async fn connect_with_retry(
    options: &AgentOptions,
) -> Result<Box<dyn super::transport::Stream>, AgentError> {
    let deadline = tokio::time::Instant::now() + options.connect_timeout;
    loop {
        match dial(&options.url, options.ca_pem.as_deref()).await {
            Ok(s) => return Ok(s),
            // Certificate and configuration errors do not get better by retrying.
            Err(e) if e.contains("TLS") || e.contains("certificate") => {
                return Err(AgentError::Connect(e));
            }
            Err(e) if tokio::time::Instant::now() >= deadline => {
                return Err(AgentError::Connect(e));
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(500)).await,
        }
    }
}

struct Session {
    tx: mpsc::UnboundedSender<AgentMessage>,
    options: AgentOptions,
    env: Option<Arc<dyn JobEnv>>,
    /// The workspace archive being received.
    workspace: Option<(AgentJob, tempfile::NamedTempFile)>,
    running: HashMap<u64, CancellationToken>,
    /// Files being received: the path and the bytes so far.
    writes: HashMap<u64, (String, Vec<u8>)>,
}

/// Sends each output line of one exec to the controller.
struct ChannelSink {
    id: u64,
    tx: mpsc::UnboundedSender<AgentMessage>,
}

impl LogSink for ChannelSink {
    fn line(&self, stream: OutputStream, line: &str) {
        let _ = self.tx.send(AgentMessage::Output {
            id: self.id,
            stream,
            line: line.to_string(),
        });
    }
}

impl Session {
    async fn serve(
        &mut self,
        reader: &mut super::transport::FrameReader,
    ) -> Result<(), AgentError> {
        let mut heartbeat = tokio::time::interval(self.options.heartbeat_interval);
        let mut sigterm = signal(tokio::signal::unix::SignalKind::terminate())?;
        let mut sigint = signal(tokio::signal::unix::SignalKind::interrupt())?;
        let (done_tx, mut done_rx) = mpsc::unbounded_channel::<u64>();
        loop {
            let message = tokio::select! {
                m = tokio::time::timeout(self.options.dead_after, reader.recv::<ControllerMessage>()) => m,
                _ = heartbeat.tick() => {
                    let _ = self.tx.send(AgentMessage::Heartbeat);
                    continue;
                }
                Some(id) = done_rx.recv() => {
                    self.running.remove(&id);
                    continue;
                }
                _ = sigterm.recv() => return Err(AgentError::Signalled("SIGTERM")),
                _ = sigint.recv() => return Err(AgentError::Signalled("SIGINT")),
            };
            let message = match message {
                Err(_) => {
                    return Err(AgentError::ControllerLost(format!(
                        "no message for {:?}",
                        self.options.dead_after
                    )));
                }
                Ok(Err(e)) => return Err(AgentError::ControllerLost(e)),
                Ok(Ok(None)) => {
                    return Err(AgentError::ControllerLost(
                        "the connection was closed".into(),
                    ));
                }
                Ok(Ok(Some(m))) => m,
            };
            match message {
                ControllerMessage::Heartbeat | ControllerMessage::Welcome => {}
                ControllerMessage::Rejected { reason } => return Err(AgentError::Rejected(reason)),
                ControllerMessage::Stop => return Ok(()),
                ControllerMessage::Start { job } => {
                    if self.env.is_some() || self.workspace.is_some() {
                        return Err(AgentError::Other("protocol error: a second Start".into()));
                    }
                    let file = tempfile::NamedTempFile::new().map_err(|e| {
                        AgentError::Other(format!("cannot make a temporary file: {e}"))
                    })?;
                    self.workspace = Some((job, file));
                }
                ControllerMessage::Data(chunk) => self.data(chunk).await?,
                ControllerMessage::Exec { id, exec } => {
                    let env = self.env()?;
                    let token = CancellationToken::new();
                    self.running.insert(id, token.clone());
                    let tx = self.tx.clone();
                    let done = done_tx.clone();
                    tokio::spawn(async move {
                        let sink = ChannelSink { id, tx: tx.clone() };
                        let reply = match env.exec(&exec, &sink, token).await {
                            Ok(status) => AgentMessage::Exited { id, status },
                            Err(e) => AgentMessage::Failed {
                                id,
                                error: WireError::from(&e),
                            },
                        };
                        let _ = tx.send(reply);
                        let _ = done.send(id);
                    });
                }
                ControllerMessage::Cancel { id } => {
                    if let Some(token) = self.running.get(&id) {
                        token.cancel();
                    }
                }
                ControllerMessage::WriteFile { id, path } => {
                    self.env()?;
                    if id == WORKSPACE_ID || self.writes.contains_key(&id) {
                        return Err(AgentError::Other(format!(
                            "protocol error: a second write with request id {id}"
                        )));
                    }
                    self.writes.insert(id, (path, Vec::new()));
                }
                ControllerMessage::HashFiles { id, patterns } => {
                    self.hash_files(id, patterns)?;
                }
                ControllerMessage::ReadFile { id, path } => {
                    let env = self.env()?;
                    let tx = self.tx.clone();
                    tokio::spawn(async move {
                        match env.read_file(&path).await {
                            Ok(bytes) => {
                                for chunk in DataChunk::split(id, bytes.into()) {
                                    let _ = tx.send(AgentMessage::Data(chunk));
                                }
                            }
                            Err(e) => {
                                let _ = tx.send(AgentMessage::Failed {
                                    id,
                                    error: WireError::from(&e),
                                });
                            }
                        }
                    });
                }
            }
        }
    }

    /// Hashes the files of the job's workspace here (the host backend's default
    /// `JobEnv::hash_files`: GitHub's `hashFiles` over `GITHUB_WORKSPACE`) and answers
    /// `Hashed` or `Failed` (a bad pattern, too many patterns).
    fn hash_files(&self, id: u64, patterns: Vec<String>) -> Result<(), AgentError> {
        let env = self.env()?;
        let tx = self.tx.clone();
        tokio::spawn(async move {
            let hashed = match check_hash_patterns(&patterns) {
                Ok(()) => env.hash_files(&patterns).await,
                Err(e) => Err(e),
            };
            let reply = match hashed {
                Ok(hash) => AgentMessage::Hashed { id, hash },
                Err(e) => AgentMessage::Failed {
                    id,
                    error: WireError::from(&e),
                },
            };
            let _ = tx.send(reply);
        });
        Ok(())
    }

    fn env(&self) -> Result<Arc<dyn JobEnv>, AgentError> {
        self.env.clone().ok_or_else(|| {
            AgentError::Other("protocol error: a request before the job started".into())
        })
    }

    /// A data frame: a piece of the workspace archive (before the job starts) or of a file
    /// being written (which is written when its last piece is in).
    async fn data(&mut self, chunk: DataChunk) -> Result<(), AgentError> {
        let DataChunk { id, last, data } = chunk;
        if id == WORKSPACE_ID && self.env.is_none() {
            use std::io::Write;
            let Some((_, file)) = self.workspace.as_mut() else {
                return Err(AgentError::Other(
                    "protocol error: workspace data outside a Start".into(),
                ));
            };
            file.write_all(&data).map_err(|e| {
                AgentError::Other(format!("cannot save the workspace archive: {e}"))
            })?;
            if last {
                self.start_job().await?;
            }
            return Ok(());
        }
        let Some((_, buf)) = self.writes.get_mut(&id) else {
            return Err(AgentError::Other(format!(
                "protocol error: data for request {id}, which is not a file being written"
            )));
        };
        buf.extend_from_slice(&data);
        if !last {
            return Ok(());
        }
        let (path, contents) = self.writes.remove(&id).unwrap_or_default();
        let env = self.env()?;
        let tx = self.tx.clone();
        tokio::spawn(async move {
            let reply = match env.write_file(&path, &contents).await {
                Ok(()) => AgentMessage::Done { id },
                Err(e) => AgentMessage::Failed {
                    id,
                    error: WireError::from(&e),
                },
            };
            let _ = tx.send(reply);
        });
        Ok(())
    }

    async fn start_job(&mut self) -> Result<(), AgentError> {
        let Some((job, file)) = self.workspace.take() else {
            return Err(AgentError::Other(
                "protocol error: workspace data outside a Start".into(),
            ));
        };
        match set_up(&self.options, &job, file).await {
            Ok(env) => {
                let mut paths = env.paths().clone();
                // The controller cannot see the task's file system.
                paths.host_workspace = None;
                let _ = self.tx.send(AgentMessage::Ready {
                    paths,
                    runner: RunnerInfo::host(),
                });
                self.env = Some(env);
                Ok(())
            }
            Err(e) => {
                let _ = self.tx.send(AgentMessage::StartFailed {
                    error: WireError::from(&e),
                });
                Err(AgentError::Other(format!("setting the job up failed: {e}")))
            }
        }
    }
}

fn signal(
    kind: tokio::signal::unix::SignalKind,
) -> Result<tokio::signal::unix::Signal, AgentError> {
    tokio::signal::unix::signal(kind)
        .map_err(|e| AgentError::Other(format!("cannot handle signals: {e}")))
}

/// Makes the job's directories with the host backend and unpacks the workspace into them.
async fn set_up(
    options: &AgentOptions,
    job: &AgentJob,
    archive: tempfile::NamedTempFile,
) -> Result<Arc<dyn JobEnv>, BackendError> {
    std::fs::create_dir_all(&options.work_dir)
        .map_err(|e| BackendError::io(format!("creating {}", options.work_dir.display()), e))?;
    let empty = tempfile::tempdir_in(&options.work_dir)
        .map_err(|e| BackendError::io("making an empty source directory", e))?;
    let backend = HostBackend::new(HostBackendOptions::new(&options.work_dir));
    let mut spec = JobSpec::new(job.job_id.clone(), empty.path());
    spec.unique_name = gha_exec::backend::sanitize_name(&job.unique_name);
    spec.run_id = job.run_id.clone();
    spec.repository = job.repository.clone();
    let env: Arc<dyn JobEnv> = Arc::from(backend.start_job(&spec).await?);
    let workspace = PathBuf::from(&env.paths().workspace);
    let unpacked = tokio::task::spawn_blocking(move || -> Result<(), BackendError> {
        let file = archive
            .reopen()
            .map_err(|e| BackendError::io("reopening the workspace archive", e))?;
        let mut tar = tar::Archive::new(file);
        tar.set_preserve_permissions(true);
        tar.set_overwrite(true);
        tar.unpack(&workspace).map_err(|e| {
            BackendError::io(
                format!("unpacking the workspace into {}", workspace.display()),
                e,
            )
        })
    })
    .await
    .map_err(|e| BackendError::Other(format!("unpacking the workspace panicked: {e}")))?;
    if let Err(e) = unpacked {
        let _ = env.stop().await;
        return Err(e);
    }
    Ok(env)
}
