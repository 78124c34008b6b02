//! What a backend runs: one process invocation ([`Exec`]) and how it ended ([`ExitStatus`]).

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// One process to run inside a job environment.
///
/// Paths (`argv[0]` when it is a path, `working_dir`) are as seen *inside* the job environment:
/// on the host backend they are host paths, in a container they are container paths (see
/// [`JobPaths`](crate::JobPaths)).
///
/// `env` is applied on top of the environment the job environment gives every process (the
/// host's own environment for the host backend, the image's for a container); later entries win.
///
/// ```
/// use gha_exec::Exec;
///
/// let exec = Exec::new(["bash", "--noprofile", "--norc", "-eo", "pipefail", "/tmp/step.sh"])
///     .env("GITHUB_ACTIONS", "true")
///     .working_dir("/work/repo");
/// assert_eq!(exec.program(), Some("bash"));
/// assert_eq!(exec.env, vec![("GITHUB_ACTIONS".to_string(), "true".to_string())]);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Exec {
    /// Program and arguments. `argv[0]` is looked up on the `PATH` of the environment
    /// (including `PATH` from [`Exec::env`] when it is set there).
    pub argv: Vec<String>,
    /// Extra environment variables, applied in order over the job environment's base environment.
    pub env: Vec<(String, String)>,
    /// Working directory; `None` means the job's workspace.
    pub working_dir: Option<String>,
    /// Grace periods for stopping the process when it is cancelled.
    pub kill_policy: KillPolicy,
}

impl Exec {
    /// An invocation of `argv` with no extra environment, in the workspace.
    pub fn new<I, S>(argv: I) -> Exec
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Exec {
            argv: argv.into_iter().map(Into::into).collect(),
            ..Exec::default()
        }
    }

    /// Adds one environment variable (builder style).
    pub fn env(mut self, name: impl Into<String>, value: impl Into<String>) -> Exec {
        self.env.push((name.into(), value.into()));
        self
    }

    /// Sets the working directory (builder style).
    pub fn working_dir(mut self, dir: impl Into<String>) -> Exec {
        self.working_dir = Some(dir.into());
        self
    }

    /// The program (`argv[0]`), if any.
    pub fn program(&self) -> Option<&str> {
        self.argv.first().map(String::as_str)
    }
}

/// How a cancelled process is stopped: the official runner sends SIGINT to the step's process
/// group, waits 7.5 s, sends SIGTERM, waits 2.5 s, then SIGKILLs it.
///
/// ```
/// use std::time::Duration;
/// use gha_exec::KillPolicy;
///
/// let policy = KillPolicy::default();
/// assert_eq!(policy.after_sigint, Duration::from_millis(7500));
/// assert_eq!(policy.after_sigterm, Duration::from_millis(2500));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KillPolicy {
    /// How long to wait after SIGINT before sending SIGTERM.
    pub after_sigint: Duration,
    /// How long to wait after SIGTERM before sending SIGKILL.
    pub after_sigterm: Duration,
}

impl Default for KillPolicy {
    fn default() -> Self {
        KillPolicy {
            after_sigint: Duration::from_millis(7500),
            after_sigterm: Duration::from_millis(2500),
        }
    }
}

/// How an [`Exec`] ended.
///
/// ```
/// use gha_exec::ExitStatus;
///
/// assert!(ExitStatus::exited(0).success());
/// assert!(!ExitStatus::exited(3).success());
/// assert_eq!(ExitStatus::exited(3).code, Some(3));
/// let killed = ExitStatus { code: None, signal: Some(9), cancelled: true };
/// assert!(!killed.success());
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExitStatus {
    /// The exit code, when the process exited normally.
    pub code: Option<i32>,
    /// The signal that ended the process, when it was killed by one.
    pub signal: Option<i32>,
    /// Whether the process was stopped because its cancellation token fired.
    pub cancelled: bool,
}

impl ExitStatus {
    /// A normal exit with `code`.
    pub fn exited(code: i32) -> ExitStatus {
        ExitStatus {
            code: Some(code),
            signal: None,
            cancelled: false,
        }
    }

    /// The status behind an exit code reported by a shell or a container engine, where
    /// `128 + N` stands for "killed by signal N": read as the signal only when the process was
    /// cancelled (we sent the signal), else kept as the exit code the program chose.
    ///
    /// ```
    /// use gha_exec::ExitStatus;
    /// let killed = ExitStatus::from_wait_code(130, true);
    /// assert_eq!((killed.code, killed.signal, killed.cancelled), (None, Some(2), true));
    /// assert_eq!(ExitStatus::from_wait_code(130, false), ExitStatus::exited(130));
    /// assert_eq!(ExitStatus::from_wait_code(3, true).code, Some(3));
    /// ```
    pub fn from_wait_code(code: i32, cancelled: bool) -> ExitStatus {
        if cancelled && code > 128 {
            ExitStatus {
                code: None,
                signal: Some(code - 128),
                cancelled,
            }
        } else {
            ExitStatus {
                code: Some(code),
                signal: None,
                cancelled,
            }
        }
    }

    /// Exit code 0 and not cancelled.
    pub fn success(&self) -> bool {
        self.code == Some(0) && !self.cancelled
    }
}

impl std::fmt::Display for ExitStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.code, self.signal) {
            (Some(code), _) => write!(f, "exit code {code}")?,
            (None, Some(sig)) => write!(f, "signal {sig}")?,
            (None, None) => write!(f, "unknown exit status")?,
        }
        if self.cancelled {
            write!(f, " (cancelled)")?;
        }
        Ok(())
    }
}
