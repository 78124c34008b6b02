//! Where a running process's output goes, line by line.

use std::sync::Mutex;

use serde::{Deserialize, Serialize};

/// Which output stream a line came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OutputStream {
    /// Standard output.
    Stdout,
    /// Standard error.
    Stderr,
}

/// Receives a process's output one line at a time, in the order each stream produced it.
///
/// Lines are given without their line terminator (`\n` or `\r\n`); invalid UTF-8 is replaced
/// with U+FFFD. A backend splits overlong lines (more than [`MAX_LINE_BYTES`]) so that memory
/// stays bounded. Calls for one exec never overlap (the backend serialises them), but the sink is
/// `Sync` so that it can be shared.
///
/// ```
/// use gha_exec::{LogSink, OutputStream, VecLogSink};
///
/// let sink = VecLogSink::default();
/// sink.line(OutputStream::Stdout, "hello");
/// sink.line(OutputStream::Stderr, "oops");
/// assert_eq!(sink.lines(), vec![
///     (OutputStream::Stdout, "hello".to_string()),
///     (OutputStream::Stderr, "oops".to_string()),
/// ]);
/// ```
pub trait LogSink: Send + Sync {
    /// One complete line of output.
    fn line(&self, stream: OutputStream, line: &str);

    /// One line of standard output (calls [`LogSink::line`]).
    fn stdout_line(&self, line: &str) {
        self.line(OutputStream::Stdout, line);
    }

    /// One line of standard error (calls [`LogSink::line`]).
    fn stderr_line(&self, line: &str) {
        self.line(OutputStream::Stderr, line);
    }
}

/// The longest line a backend hands to a [`LogSink`] in one call; longer lines are split.
pub const MAX_LINE_BYTES: usize = 1 << 20;

/// A [`LogSink`] that keeps every line in memory (for tests and small tools).
#[derive(Debug, Default)]
pub struct VecLogSink {
    lines: Mutex<Vec<(OutputStream, String)>>,
}

impl VecLogSink {
    /// A copy of the lines received so far.
    pub fn lines(&self) -> Vec<(OutputStream, String)> {
        self.lines.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

impl LogSink for VecLogSink {
    fn line(&self, stream: OutputStream, line: &str) {
        self.lines
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((stream, line.to_string()));
    }
}

/// A [`LogSink`] that drops everything.
///
/// ```
/// use gha_exec::{LogSink, NullLogSink};
/// NullLogSink.stdout_line("ignored");
/// ```
#[derive(Debug, Default, Clone, Copy)]
pub struct NullLogSink;

impl LogSink for NullLogSink {
    fn line(&self, _stream: OutputStream, _line: &str) {}
}
