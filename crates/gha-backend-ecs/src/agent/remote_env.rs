//! The controller's side of a connected agent: a [`JobEnv`] whose calls travel to the agent.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use gha_exec::{BackendError, Exec, ExitStatus, JobEnv, JobPaths, LogSink, RunnerInfo};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::listener::AgentConnection;
use super::protocol::{
    AgentJob, AgentMessage, ControllerMessage, DataChunk, WORKSPACE_ID, check_hash_patterns,
};

/// Timing of a [`RemoteJobEnv`].
///
/// ```
/// use gha_backend_ecs::agent::RemoteOptions;
/// let o = RemoteOptions::new("the ECS task 1f2e");
/// assert_eq!(o.dead_after, std::time::Duration::from_secs(30));
/// ```
#[derive(Clone, Debug)]
pub struct RemoteOptions {
    /// Names the environment in error messages (`"the ECS task …"`).
    pub label: String,
    /// How often to send a heartbeat.
    pub heartbeat_interval: Duration,
    /// After how long without any message the agent counts as gone: the bounded wait after
    /// which a silent agent fails the job.
    pub dead_after: Duration,
    /// How long the agent has to set the job up.
    pub ready_timeout: Duration,
    /// How long the agent has to answer `Stop`.
    pub stop_timeout: Duration,
}

impl RemoteOptions {
    /// Heartbeats every 5 s, the agent gone after 30 s of silence, 120 s to set up, 30 s to stop.
    pub fn new(label: impl Into<String>) -> RemoteOptions {
        RemoteOptions {
            label: label.into(),
            heartbeat_interval: Duration::from_secs(5),
            dead_after: Duration::from_secs(30),
            ready_timeout: Duration::from_secs(120),
            stop_timeout: Duration::from_secs(30),
        }
    }
}

type Routes = Mutex<HashMap<u64, mpsc::UnboundedSender<AgentMessage>>>;

struct Shared {
    routes: Routes,
    /// Why the connection ended, once it has.
    lost: Mutex<Option<String>>,
    lost_token: CancellationToken,
    stopped_ack: CancellationToken,
}

impl Shared {
    fn lose(&self, why: String) {
        if let Ok(mut l) = self.lost.lock() {
            l.get_or_insert(why);
        }
        if let Ok(mut r) = self.routes.lock() {
            r.clear();
        }
        self.lost_token.cancel();
    }
}

/// A job environment inside a remote task, served by `gha agent` over a connection.
///
/// The executor uses it like any other [`JobEnv`]; when the agent goes away (the connection
/// ends, or it is silent for [`RemoteOptions::dead_after`]), every call in flight and every later
/// call fails with an error naming [`RemoteOptions::label`].
pub struct RemoteJobEnv {
    paths: JobPaths,
    runner: RunnerInfo,
    options: RemoteOptions,
    tx: mpsc::UnboundedSender<ControllerMessage>,
    shared: Arc<Shared>,
    next_id: AtomicU64,
    stopped: AtomicBool,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl std::fmt::Debug for RemoteJobEnv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteJobEnv")
            .field("label", &self.options.label)
            .field("paths", &self.paths)
            .finish_non_exhaustive()
    }
}

impl Drop for RemoteJobEnv {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

impl RemoteJobEnv {
    /// Sets the job up through `connection`: sends the job and an archive of `source_dir`'s
    /// working tree, and waits for the agent to be ready.
    pub async fn start(
        connection: AgentConnection,
        job: AgentJob,
        source_dir: &Path,
        options: RemoteOptions,
    ) -> Result<RemoteJobEnv, BackendError> {
        let AgentConnection {
            mut reader,
            mut writer,
            ..
        } = connection;
        let label = options.label.clone();
        let lost = |e: String| {
            BackendError::Other(format!(
                "the agent in {label} disconnected while the job was set up: {e}"
            ))
        };
        writer
            .send(&ControllerMessage::Start { job })
            .await
            .map_err(lost)?;
        let archive = workspace_archive(source_dir.to_path_buf()).await?;
        if archive.is_empty() {
            return Err(BackendError::Other("the workspace archive is empty".into()));
        }
        for chunk in DataChunk::split(WORKSPACE_ID, archive.into()) {
            writer
                .send(&ControllerMessage::Data(chunk))
                .await
                .map_err(lost)?;
        }
        let (paths, runner) = loop {
            let m = tokio::time::timeout(options.ready_timeout, reader.recv::<AgentMessage>())
                .await
                .map_err(|_| {
                    BackendError::Other(format!(
                        "the agent in {label} did not set the job up within {:?}",
                        options.ready_timeout
                    ))
                })?
                .map_err(lost)?;
            match m {
                None => return Err(lost("the connection was closed".into())),
                Some(AgentMessage::Ready { paths, runner }) => break (paths, runner),
                Some(AgentMessage::StartFailed { error }) => {
                    return Err(BackendError::Other(format!(
                        "the agent in {label} could not set the job up: {}",
                        error.message
                    )));
                }
                Some(AgentMessage::Heartbeat) => {}
                Some(other) => {
                    return Err(BackendError::Other(format!(
                        "protocol error from the agent in {label}: unexpected {other:?}"
                    )));
                }
            }
        };

        let shared = Arc::new(Shared {
            routes: Mutex::new(HashMap::new()),
            lost: Mutex::new(None),
            lost_token: CancellationToken::new(),
            stopped_ack: CancellationToken::new(),
        });
        let (tx, mut rx) = mpsc::unbounded_channel::<ControllerMessage>();
        let writer_task = {
            let shared = shared.clone();
            let interval = options.heartbeat_interval;
            tokio::spawn(async move {
                let mut heartbeat = tokio::time::interval(interval);
                loop {
                    let m = tokio::select! {
                        m = rx.recv() => match m { Some(m) => m, None => break },
                        _ = heartbeat.tick() => ControllerMessage::Heartbeat,
                        _ = shared.lost_token.cancelled() => break,
                    };
                    if let Err(e) = writer.send(&m).await {
                        shared.lose(e);
                        break;
                    }
                }
                writer.close().await;
            })
        };
        let reader_task = {
            let shared = shared.clone();
            let dead_after = options.dead_after;
            tokio::spawn(async move {
                loop {
                    let m = match tokio::time::timeout(dead_after, reader.recv::<AgentMessage>())
                        .await
                    {
                        Err(_) => {
                            shared.lose(format!("it sent nothing for {dead_after:?}"));
                            break;
                        }
                        Ok(Err(e)) => {
                            shared.lose(e);
                            break;
                        }
                        Ok(Ok(None)) => {
                            shared.lose("the connection was closed".into());
                            break;
                        }
                        Ok(Ok(Some(m))) => m,
                    };
                    let id = match &m {
                        AgentMessage::Heartbeat => continue,
                        AgentMessage::Stopped => {
                            shared.stopped_ack.cancel();
                            continue;
                        }
                        AgentMessage::Terminating { reason } => {
                            shared.lose(format!("the agent ended: {reason}"));
                            break;
                        }
                        AgentMessage::Output { id, .. }
                        | AgentMessage::Exited { id, .. }
                        | AgentMessage::Data(DataChunk { id, .. })
                        | AgentMessage::Done { id }
                        | AgentMessage::Hashed { id, .. }
                        | AgentMessage::Failed { id, .. } => *id,
                        other => {
                            shared.lose(format!("protocol error: unexpected {other:?}"));
                            break;
                        }
                    };
                    if let Ok(routes) = shared.routes.lock()
                        && let Some(route) = routes.get(&id)
                    {
                        let _ = route.send(m);
                    }
                }
            })
        };
        Ok(RemoteJobEnv {
            paths,
            runner,
            options,
            tx,
            shared,
            next_id: AtomicU64::new(1),
            stopped: AtomicBool::new(false),
            tasks: vec![writer_task, reader_task],
        })
    }

    /// Why the connection ended, if it has.
    pub fn lost(&self) -> Option<String> {
        self.shared.lost.lock().ok().and_then(|l| l.clone())
    }

    fn lost_error(&self) -> BackendError {
        let why = self
            .lost()
            .unwrap_or_else(|| "the connection was closed".into());
        BackendError::Other(format!(
            "the agent in {} disconnected: {why}",
            self.options.label
        ))
    }

    fn open(&self) -> Result<(u64, mpsc::UnboundedReceiver<AgentMessage>), BackendError> {
        if self.stopped.load(Ordering::SeqCst) {
            return Err(BackendError::Other(
                "the job environment was stopped".into(),
            ));
        }
        if self.shared.lost_token.is_cancelled() {
            return Err(self.lost_error());
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = mpsc::unbounded_channel();
        self.shared
            .routes
            .lock()
            .map_err(|_| BackendError::Other("poisoned lock".into()))?
            .insert(id, tx);
        Ok((id, rx))
    }

    fn close(&self, id: u64) {
        if let Ok(mut r) = self.shared.routes.lock() {
            r.remove(&id);
        }
    }

    fn send(&self, m: ControllerMessage) -> Result<(), BackendError> {
        self.tx.send(m).map_err(|_| self.lost_error())
    }

    /// The next message for request `id`, or the reason the connection ended.
    async fn next(
        &self,
        rx: &mut mpsc::UnboundedReceiver<AgentMessage>,
    ) -> Result<AgentMessage, BackendError> {
        rx.recv().await.ok_or_else(|| self.lost_error())
    }
}

#[async_trait]
impl JobEnv for RemoteJobEnv {
    fn paths(&self) -> &JobPaths {
        &self.paths
    }

    fn runner_info(&self) -> RunnerInfo {
        self.runner.clone()
    }

    async fn exec(
        &self,
        exec: &Exec,
        sink: &dyn LogSink,
        cancel: CancellationToken,
    ) -> Result<ExitStatus, BackendError> {
        let (id, mut rx) = self.open()?;
        let result = async {
            self.send(ControllerMessage::Exec {
                id,
                exec: exec.clone(),
            })?;
            let mut cancel_sent = false;
            loop {
                let m = tokio::select! {
                    m = self.next(&mut rx) => m?,
                    _ = cancel.cancelled(), if !cancel_sent => {
                        cancel_sent = true;
                        self.send(ControllerMessage::Cancel { id })?;
                        continue;
                    }
                };
                match m {
                    AgentMessage::Output { stream, line, .. } => sink.line(stream, &line),
                    AgentMessage::Exited { status, .. } => return Ok(status),
                    AgentMessage::Failed { error, .. } => return Err(error.into_backend_error()),
                    other => {
                        return Err(BackendError::Other(format!(
                            "protocol error from the agent in {}: unexpected {other:?}",
                            self.options.label
                        )));
                    }
                }
            }
        }
        .await;
        self.close(id);
        result
    }

    async fn write_file(&self, path: &str, contents: &[u8]) -> Result<(), BackendError> {
        let (id, mut rx) = self.open()?;
        let result = async {
            // The pieces follow the request at once (no acknowledgement per piece).
            self.send(ControllerMessage::WriteFile {
                id,
                path: path.to_string(),
            })?;
            for chunk in DataChunk::split(id, bytes::Bytes::copy_from_slice(contents)) {
                self.send(ControllerMessage::Data(chunk))?;
            }
            match self.next(&mut rx).await? {
                AgentMessage::Done { .. } => Ok(()),
                AgentMessage::Failed { error, .. } => Err(error.into_backend_error()),
                other => Err(BackendError::Other(format!(
                    "protocol error from the agent in {}: unexpected {other:?}",
                    self.options.label
                ))),
            }
        }
        .await;
        self.close(id);
        result
    }

    async fn read_file(&self, path: &str) -> Result<Vec<u8>, BackendError> {
        let (id, mut rx) = self.open()?;
        let result = async {
            self.send(ControllerMessage::ReadFile {
                id,
                path: path.to_string(),
            })?;
            let mut bytes = Vec::new();
            loop {
                match self.next(&mut rx).await? {
                    AgentMessage::Data(chunk) => {
                        bytes.extend_from_slice(&chunk.data);
                        if chunk.last {
                            return Ok(bytes);
                        }
                    }
                    AgentMessage::Failed { error, .. } => return Err(error.into_backend_error()),
                    other => {
                        return Err(BackendError::Other(format!(
                            "protocol error from the agent in {}: unexpected {other:?}",
                            self.options.label
                        )));
                    }
                }
            }
        }
        .await;
        self.close(id);
        result
    }

    /// The agent hashes the files of the task's workspace (the controller cannot see them).
    async fn hash_files(&self, patterns: &[String]) -> Result<String, BackendError> {
        check_hash_patterns(patterns)?;
        let (id, mut rx) = self.open()?;
        let result = async {
            self.send(ControllerMessage::HashFiles {
                id,
                patterns: patterns.to_vec(),
            })?;
            match self.next(&mut rx).await? {
                AgentMessage::Hashed { hash, .. } => Ok(hash),
                AgentMessage::Failed { error, .. } => Err(error.into_backend_error()),
                other => Err(BackendError::Other(format!(
                    "protocol error from the agent in {}: unexpected {other:?}",
                    self.options.label
                ))),
            }
        }
        .await;
        self.close(id);
        result
    }

    async fn stop(&self) -> Result<(), BackendError> {
        if self.stopped.swap(true, Ordering::SeqCst) {
            return Ok(());
        }
        if self.shared.lost_token.is_cancelled() {
            return Err(self.lost_error());
        }
        let _ = self.tx.send(ControllerMessage::Stop);
        tokio::select! {
            _ = self.shared.stopped_ack.cancelled() => Ok(()),
            _ = self.shared.lost_token.cancelled() => {
                // The agent closes the connection right after `Stopped`; either order is fine.
                if self.shared.stopped_ack.is_cancelled() { Ok(()) } else { Err(self.lost_error()) }
            }
            _ = tokio::time::sleep(self.options.stop_timeout) => Err(BackendError::Other(format!(
                "the agent in {} did not stop within {:?}",
                self.options.label, self.options.stop_timeout
            ))),
        }
    }
}

/// A tar archive of `source_dir`'s working tree: in a git work tree, the files
/// `git ls-files --cached --others --exclude-standard` lists (what a push of the current state
/// would hold, without build output or `.git`); elsewhere, every file.
pub async fn workspace_archive(source_dir: PathBuf) -> Result<Vec<u8>, BackendError> {
    tokio::task::spawn_blocking(move || {
        let mut builder = tar::Builder::new(Vec::new());
        builder.follow_symlinks(false);
        let err =
            |e: std::io::Error| BackendError::io(format!("archiving {}", source_dir.display()), e);
        match gha_exec::host::git_working_tree_files(&source_dir) {
            Some(files) => {
                for rel in files {
                    let full = source_dir.join(&rel);
                    match std::fs::symlink_metadata(&full) {
                        // Listed by git but deleted in the working tree.
                        Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                        Err(e) => return Err(err(e)),
                        Ok(m) if m.is_dir() => builder.append_dir_all(&rel, &full).map_err(err)?,
                        Ok(_) => builder.append_path_with_name(&full, &rel).map_err(err)?,
                    }
                }
            }
            None => builder.append_dir_all(".", &source_dir).map_err(err)?,
        }
        builder.into_inner().map_err(err)
    })
    .await
    .map_err(|e| BackendError::Other(format!("archiving the workspace panicked: {e}")))?
}
