//! The messages `gha agent` and its controller exchange.
//!
//! Every message travels in one length-delimited frame (a 4-byte big-endian length, then the
//! bytes). A frame longer than [`MAX_FRAME_BYTES`] ends the connection before anything is
//! allocated for it, so a peer can never make the other allocate without bound. There are two
//! kinds of frame, told apart by their first byte:
//!
//! - a **message**: one JSON document ([`ControllerMessage`], [`AgentMessage`]), which always
//!   starts with `{`;
//! - a **data frame**: raw bytes of a file or of the workspace archive, bound to a request:
//!   [`DATA_FRAME`] (`0x00`), the request id (8 bytes, big-endian), a flags byte
//!   ([`DATA_LAST`]: the last piece), then at most [`FILE_CHUNK_BYTES`] of data, as they are.
//!   In Rust it is the `Data` variant of either message enum ([`DataChunk`]).
//!
//! Bulk bytes thus cost no encoding at all; data frames follow their request without waiting
//! for an acknowledgement. The greeting is a plain JSON message in every version, so an agent
//! speaking another version is told so in words.
//!
//! The conversation:
//!
//! ```text
//! agent                                   controller
//!   Hello{token, version}        ─────▶
//!                                ◀─────   Welcome | Rejected{reason}
//!                                ◀─────   Start{job}, data[WORKSPACE_ID]… (a tar archive)
//!   Ready{paths, runner}         ─────▶
//!                                ◀─────   Exec{id} / Cancel{id} / ReadFile{id}
//!                                ◀─────   WriteFile{id}, data[id]… / HashFiles{id}
//!   Output{id}… Exited{id}       ─────▶
//!   Done{id} / data[id]… / Hashed{id} / Failed{id}  ─────▶
//!   Heartbeat                    ◀────▶   Heartbeat
//!                                ◀─────   Stop
//!   Stopped                      ─────▶
//! ```

use bytes::Bytes;
use gha_exec::{BackendError, Exec, ExitStatus, JobPaths, OutputStream, RunnerInfo};
use serde::{Deserialize, Serialize};

/// The protocol version both sides must speak (2: `HashFiles` / `Hashed`; 3: file contents
/// and the workspace archive in binary data frames instead of hex inside JSON).
pub const PROTOCOL_VERSION: u32 = 3;

/// The largest frame either side accepts (8 MiB). An output line is at most
/// [`gha_exec::MAX_LINE_BYTES`] (1 MiB), and JSON escaping at most sextuples it (a line of
/// control characters), so every line fits in one frame.
pub const MAX_FRAME_BYTES: usize = 8 << 20;

/// The largest piece of a file carried by one data frame.
pub const FILE_CHUNK_BYTES: usize = 1 << 20;

/// The first byte of a data frame (a JSON message never starts with it).
pub const DATA_FRAME: u8 = 0;

/// The bytes of a data frame before its data: [`DATA_FRAME`], the request id, the flags.
pub const DATA_HEADER_BYTES: usize = 10;

/// The flag of a data frame carrying the last piece of its request's data.
pub const DATA_LAST: u8 = 1;

/// The request id of the workspace archive that follows [`ControllerMessage::Start`]
/// (requests count from 1).
pub const WORKSPACE_ID: u64 = 0;

/// A piece of a file (or of the workspace archive) in a data frame.
///
/// ```
/// use gha_backend_ecs::agent::protocol::{DataChunk, FILE_CHUNK_BYTES};
/// let pieces = DataChunk::split(4, bytes::Bytes::from(vec![7u8; FILE_CHUNK_BYTES + 1]));
/// assert_eq!(pieces.len(), 2);
/// assert!(!pieces[0].last && pieces[1].last);
/// assert_eq!(pieces[1].data.len(), 1);
/// // Nothing to send is still one (empty, last) piece: the receiver learns the end.
/// assert_eq!(DataChunk::split(4, bytes::Bytes::new()).len(), 1);
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct DataChunk {
    /// The request the bytes belong to.
    pub id: u64,
    /// Whether this is the last piece.
    pub last: bool,
    /// The bytes (at most [`FILE_CHUNK_BYTES`]).
    pub data: Bytes,
}

/// Shows the size, not the bytes (error messages name an unexpected chunk).
impl std::fmt::Debug for DataChunk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DataChunk")
            .field("id", &self.id)
            .field("last", &self.last)
            .field("bytes", &self.data.len())
            .finish()
    }
}

impl DataChunk {
    /// Cuts `data` into pieces of at most [`FILE_CHUNK_BYTES`] for request `id` (without
    /// copying); there is always at least one piece, and only the final one is `last`.
    pub fn split(id: u64, data: Bytes) -> Vec<DataChunk> {
        if data.is_empty() {
            return vec![DataChunk {
                id,
                last: true,
                data,
            }];
        }
        let count = data.len().div_ceil(FILE_CHUNK_BYTES);
        (0..count)
            .map(|i| {
                let start = i * FILE_CHUNK_BYTES;
                let end = (start + FILE_CHUNK_BYTES).min(data.len());
                DataChunk {
                    id,
                    last: i + 1 == count,
                    data: data.slice(start..end),
                }
            })
            .collect()
    }
}

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
/// workspace itself follows as data frames of request [`WORKSPACE_ID`]).
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
    /// Write a file (created or truncated): its contents follow as data frames of request
    /// `id`; after the last one the agent answers `Done` or `Failed`.
    WriteFile {
        /// The request's id.
        id: u64,
        /// The path inside the task.
        path: String,
    },
    /// Read a whole file: the agent answers with data frames of request `id` (at least one,
    /// the last flagged) or `Failed`.
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
    /// A data frame (never JSON): the workspace archive or a file being written.
    #[serde(skip)]
    Data(DataChunk),
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
    /// A data frame (never JSON): a piece of a file being read.
    #[serde(skip)]
    Data(DataChunk),
}

/// A message that may travel as a data frame (both message enums).
pub trait WireMessage: Serialize + serde::de::DeserializeOwned {
    /// The data chunk, when this message is one.
    fn as_data(&self) -> Option<&DataChunk>;
    /// The message a received data frame is.
    fn from_data(chunk: DataChunk) -> Self;
}

impl WireMessage for ControllerMessage {
    fn as_data(&self) -> Option<&DataChunk> {
        match self {
            ControllerMessage::Data(c) => Some(c),
            _ => None,
        }
    }
    fn from_data(chunk: DataChunk) -> Self {
        ControllerMessage::Data(chunk)
    }
}

impl WireMessage for AgentMessage {
    fn as_data(&self) -> Option<&DataChunk> {
        match self {
            AgentMessage::Data(c) => Some(c),
            _ => None,
        }
    }
    fn from_data(chunk: DataChunk) -> Self {
        AgentMessage::Data(chunk)
    }
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
