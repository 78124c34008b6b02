//! The messages `gha agent` and its controller exchange.
//!
//! Every message is one JSON document in one length-delimited frame (a 4-byte big-endian
//! length, then the bytes). A frame longer than [`MAX_FRAME_BYTES`] ends the connection, so a
//! peer can never make the other allocate without bound. File contents travel in chunks of at
//! most [`FILE_CHUNK_BYTES`], hex-encoded.
//!
//! The conversation:
//!
//! ```text
//! agent                                   controller
//!   Hello{token, version}        ─────▶
//!                                ◀─────   Welcome | Rejected{reason}
//!                                ◀─────   Start{job}, WorkspaceChunk…
//!   Ready{paths, runner}         ─────▶
//!                                ◀─────   Exec{id} / Cancel{id} / WriteFile{id} / ReadFile{id}
//!                                ◀─────   HashFiles{id}
//!   Output{id}… Exited{id}       ─────▶
//!   Done{id} / FileChunk{id}… / Hashed{id} / Failed{id}  ─────▶
//!   Heartbeat                    ◀────▶   Heartbeat
//!                                ◀─────   Stop
//!   Stopped                      ─────▶
//! ```

use gha_exec::{BackendError, Exec, ExitStatus, JobPaths, OutputStream, RunnerInfo};
use serde::{Deserialize, Serialize};

/// The protocol version both sides must speak (2: `HashFiles` / `Hashed`).
pub const PROTOCOL_VERSION: u32 = 2;

/// The largest frame either side accepts (8 MiB). An output line is at most
/// [`gha_exec::MAX_LINE_BYTES`] (1 MiB), and JSON escaping at most sextuples it (a line of
/// control characters), so every line fits in one frame.
pub const MAX_FRAME_BYTES: usize = 8 << 20;

/// The largest piece of a file carried by one message (before hex encoding).
pub const FILE_CHUNK_BYTES: usize = 512 << 10;

/// The most patterns one [`ControllerMessage::HashFiles`] may carry.
pub const MAX_HASH_PATTERNS: usize = 1024;

/// The most bytes the patterns of one [`ControllerMessage::HashFiles`] may have together
/// (well inside [`MAX_FRAME_BYTES`] even after JSON escaping).
pub const MAX_HASH_PATTERN_BYTES: usize = 256 << 10;

/// Checks a `hashFiles` pattern list against [`MAX_HASH_PATTERNS`] and
/// [`MAX_HASH_PATTERN_BYTES`]. The controller checks before sending (a frame too large would
/// end the connection) and the agent checks what it receives.
///
/// ```
/// use gha_backend_ecs::agent::protocol::{check_hash_patterns, MAX_HASH_PATTERNS};
/// assert!(check_hash_patterns(&["**/*.lock".to_string()]).is_ok());
/// let many = vec!["x".to_string(); MAX_HASH_PATTERNS + 1];
/// let err = check_hash_patterns(&many).unwrap_err();
/// assert!(err.to_string().contains("1025 patterns"), "{err}");
/// ```
pub fn check_hash_patterns(patterns: &[String]) -> Result<(), BackendError> {
    let bytes: usize = patterns.iter().map(String::len).sum();
    if patterns.len() > MAX_HASH_PATTERNS || bytes > MAX_HASH_PATTERN_BYTES {
        return Err(BackendError::Other(format!(
            "hashFiles: too many patterns for a remote workspace ({} patterns, {bytes} bytes; \
             at most {MAX_HASH_PATTERNS} patterns and {MAX_HASH_PATTERN_BYTES} bytes)",
            patterns.len()
        )));
    }
    Ok(())
}

/// What a job needs to be set up inside the task (a subset of [`gha_exec::JobSpec`]: the
/// workspace itself follows as [`ControllerMessage::WorkspaceChunk`]s).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentJob {
    /// The job's id.
    pub job_id: String,
    /// The job's run-unique name (safe in paths).
    pub unique_name: String,
    /// The run's id.
    pub run_id: String,
    /// `owner/name` of the repository.
    pub repository: String,
}

/// A message from the controller to the agent.
///
/// ```
/// use gha_backend_ecs::agent::protocol::ControllerMessage;
/// let m = ControllerMessage::Cancel { id: 7 };
/// let json = serde_json::to_string(&m).unwrap();
/// assert_eq!(json, r#"{"type":"cancel","id":7}"#);
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ControllerMessage {
    /// The token was right: the connection is accepted.
    Welcome,
    /// The connection is refused (wrong token, wrong version); the controller closes it next.
    Rejected {
        /// Why.
        reason: String,
    },
    /// Set up the job's directories.
    Start {
        /// The job.
        job: AgentJob,
    },
    /// A piece of a tar archive of the workspace; the last piece has `last: true`.
    WorkspaceChunk {
        /// Hex-encoded bytes.
        data: String,
        /// Whether this is the last piece.
        last: bool,
    },
    /// Run a process.
    Exec {
        /// The request's id (unique in the connection).
        id: u64,
        /// What to run.
        exec: Exec,
    },
    /// Cancel the process of request `id` (by its kill policy).
    Cancel {
        /// The `Exec` request's id.
        id: u64,
    },
    /// A piece of a file to write. The first piece (`offset: 0`) creates or truncates it.
    WriteFile {
        /// The request's id (the same for every piece of one file).
        id: u64,
        /// The path inside the task.
        path: String,
        /// Hex-encoded bytes.
        data: String,
        /// Whether this is the first piece.
        first: bool,
        /// Whether this is the last piece (the agent answers `Done` or `Failed` then).
        last: bool,
    },
    /// Read a whole file.
    ReadFile {
        /// The request's id.
        id: u64,
        /// The path inside the task.
        path: String,
    },
    /// Compute `hashFiles(patterns...)` over the job's workspace in the task (GitHub's
    /// semantics: patterns relative to `GITHUB_WORKSPACE`, `!` excludes, the empty string when
    /// nothing matches). The agent answers `Hashed` or `Failed`.
    HashFiles {
        /// The request's id.
        id: u64,
        /// The patterns, as `hashFiles` got them (at most [`MAX_HASH_PATTERNS`] and
        /// [`MAX_HASH_PATTERN_BYTES`]: see [`check_hash_patterns`]).
        patterns: Vec<String>,
    },
    /// Liveness probe; the agent answers with its own heartbeat.
    Heartbeat,
    /// Stop every process, remove the job's directories, then answer `Stopped` and exit.
    Stop,
}

/// A message from the agent to the controller.
///
/// ```
/// use gha_backend_ecs::agent::protocol::AgentMessage;
/// use gha_exec::ExitStatus;
/// let m = AgentMessage::Exited { id: 1, status: ExitStatus::exited(3) };
/// let back: AgentMessage = serde_json::from_str(&serde_json::to_string(&m).unwrap()).unwrap();
/// assert_eq!(back, m);
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum AgentMessage {
    /// The first message: who is calling.
    Hello {
        /// The one-time token from the task's environment.
        token: String,
        /// [`PROTOCOL_VERSION`] of the agent.
        version: u32,
    },
    /// The job is set up.
    Ready {
        /// Where things are inside the task.
        paths: JobPaths,
        /// What `runner.*` says inside the task.
        runner: RunnerInfo,
    },
    /// Setting up the job failed.
    StartFailed {
        /// Why.
        error: WireError,
    },
    /// An output line of request `id`.
    Output {
        /// The `Exec` request's id.
        id: u64,
        /// Which stream.
        stream: OutputStream,
        /// The line, without its terminator.
        line: String,
    },
    /// The process of request `id` ended.
    Exited {
        /// The `Exec` request's id.
        id: u64,
        /// How it ended.
        status: ExitStatus,
    },
    /// A piece of a file being read; the last piece has `last: true`.
    FileChunk {
        /// The `ReadFile` request's id.
        id: u64,
        /// Hex-encoded bytes.
        data: String,
        /// Whether this is the last piece.
        last: bool,
    },
    /// A `WriteFile` finished.
    Done {
        /// The request's id.
        id: u64,
    },
    /// The answer to `HashFiles`.
    Hashed {
        /// The `HashFiles` request's id.
        id: u64,
        /// The hex SHA-256, or the empty string when no file matched.
        hash: String,
    },
    /// A request failed (the process could not start, the file could not be read, ...).
    Failed {
        /// The request's id.
        id: u64,
        /// Why.
        error: WireError,
    },
    /// Liveness answer.
    Heartbeat,
    /// The job environment was stopped; the agent exits next.
    Stopped,
    /// The agent is ending without a `Stop` (it got SIGTERM, or hit an error); it closes the
    /// connection and kills every step next, so no step result follows.
    Terminating {
        /// Why.
        reason: String,
    },
}

/// A [`BackendError`] as it crosses the connection.
///
/// ```
/// use gha_backend_ecs::agent::protocol::WireError;
/// use gha_exec::BackendError;
/// let w = WireError::from(&BackendError::NotFound("/x".into()));
/// assert!(matches!(w.into_backend_error(), BackendError::NotFound(p) if p == "/x"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireError {
    /// `not_found`, `unsupported` or `other`.
    pub kind: String,
    /// The message (for `not_found`: the path).
    pub message: String,
}

impl From<&BackendError> for WireError {
    fn from(e: &BackendError) -> WireError {
        let (kind, message) = match e {
            BackendError::NotFound(p) => ("not_found", p.clone()),
            BackendError::Unsupported(m) => ("unsupported", m.clone()),
            other => ("other", other.to_string()),
        };
        WireError {
            kind: kind.into(),
            message,
        }
    }
}

impl WireError {
    /// Back to the [`BackendError`] it came from (I/O errors become `Other` with their text).
    pub fn into_backend_error(self) -> BackendError {
        match self.kind.as_str() {
            "not_found" => BackendError::NotFound(self.message),
            "unsupported" => BackendError::Unsupported(self.message),
            _ => BackendError::Other(self.message),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip_through_json() {
        let m = ControllerMessage::Exec {
            id: 3,
            exec: Exec::new(["sh", "-c", "exit 3"]).env("A", "b"),
        };
        let back: ControllerMessage =
            serde_json::from_slice(&serde_json::to_vec(&m).unwrap()).unwrap();
        assert_eq!(back, m);
    }

    #[test]
    fn hash_files_messages_have_a_stable_shape() {
        let m = ControllerMessage::HashFiles {
            id: 9,
            patterns: vec!["**/*.txt".into(), "!x".into()],
        };
        assert_eq!(
            serde_json::to_string(&m).unwrap(),
            r#"{"type":"hash_files","id":9,"patterns":["**/*.txt","!x"]}"#
        );
        let a = AgentMessage::Hashed {
            id: 9,
            hash: String::new(),
        };
        assert_eq!(
            serde_json::to_string(&a).unwrap(),
            r#"{"type":"hashed","id":9,"hash":""}"#
        );
        let back: AgentMessage =
            serde_json::from_str(r#"{"type":"hashed","id":9,"hash":""}"#).unwrap();
        assert_eq!(back, a);
    }

    #[test]
    fn pattern_lists_are_bounded_by_count_and_bytes() {
        assert!(check_hash_patterns(&[]).is_ok());
        assert!(check_hash_patterns(&vec!["a".to_string(); MAX_HASH_PATTERNS]).is_ok());
        assert!(check_hash_patterns(&vec!["a".to_string(); MAX_HASH_PATTERNS + 1]).is_err());
        assert!(check_hash_patterns(&["x".repeat(MAX_HASH_PATTERN_BYTES)]).is_ok());
        let err = check_hash_patterns(&["x".repeat(MAX_HASH_PATTERN_BYTES + 1)]).unwrap_err();
        assert!(err.to_string().contains("262145 bytes"), "{err}");
        // The largest allowed list fits in one frame even when every byte is escaped.
        let worst = ControllerMessage::HashFiles {
            id: u64::MAX,
            patterns: vec![
                "\u{1}".repeat(MAX_HASH_PATTERN_BYTES / MAX_HASH_PATTERNS);
                MAX_HASH_PATTERNS
            ],
        };
        assert!(serde_json::to_vec(&worst).unwrap().len() < MAX_FRAME_BYTES);
    }

    #[test]
    fn wire_error_keeps_kind() {
        let w = WireError::from(&BackendError::Unsupported("services".into()));
        assert!(matches!(w.into_backend_error(), BackendError::Unsupported(m) if m == "services"));
        let w = WireError::from(&BackendError::io(
            "reading /x",
            std::io::Error::other("boom"),
        ));
        assert_eq!(w.into_backend_error().to_string(), "reading /x: boom");
    }
}
