//! Running one step process on the host: its own process group, line-by-line output, and the
//! official runner's SIGINT → SIGTERM → SIGKILL escalation on cancellation.

use std::path::Path;
use std::process::Stdio;
use std::sync::Mutex;

use tokio::io::AsyncReadExt;
use tokio::process::Command;
use tokio_util::sync::CancellationToken;

use crate::backend::BackendError;
use crate::exec::{Exec, ExitStatus};
use crate::kill_escalation::KillEscalation;
use crate::line_splitter::LineSplitter;
use crate::log_sink::{LogSink, OutputStream};

/// Process groups started by one job, so that `stop()` can kill what steps left running.
#[derive(Debug, Default)]
pub(crate) struct ProcessGroups {
    groups: Mutex<Vec<i32>>,
}

impl ProcessGroups {
    fn add(&self, pgid: i32) {
        self.groups
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(pgid);
    }

    /// SIGKILLs every group still alive and forgets them all.
    pub(crate) fn kill_all(&self) {
        let groups = std::mem::take(&mut *self.groups.lock().unwrap_or_else(|e| e.into_inner()));
        for pgid in groups {
            signal_group(pgid, libc::SIGKILL);
        }
    }
}

/// Sends `sig` to process group `pgid` (errors such as "no such group" are ignored).
pub(crate) fn signal_group(pgid: i32, sig: i32) {
    if pgid > 1 {
        // SAFETY: killpg has no memory-safety preconditions.
        unsafe {
            libc::killpg(pgid, sig);
        }
    }
}

/// Runs `exec` with `default_dir` as working directory when it names none.
pub(crate) async fn run(
    exec: &Exec,
    default_dir: &Path,
    sink: &dyn LogSink,
    cancel: CancellationToken,
    groups: &ProcessGroups,
) -> Result<ExitStatus, BackendError> {
    let Some(program) = exec.program() else {
        return Err(BackendError::Other("empty command line".into()));
    };
    let mut cmd = Command::new(program);
    cmd.args(&exec.argv[1..])
        .envs(exec.env.iter().map(|(k, v)| (k, v)))
        .current_dir(
            exec.working_dir
                .as_deref()
                .map(Path::new)
                .unwrap_or(default_dir),
        )
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    let mut child = cmd.spawn().map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => {
            let dir = exec
                .working_dir
                .as_deref()
                .unwrap_or_else(|| default_dir.to_str().unwrap_or("the workspace"));
            if Path::new(dir).is_dir() {
                BackendError::NotFound(format!("program `{program}`"))
            } else {
                BackendError::NotFound(format!("working directory `{dir}`"))
            }
        }
        _ => BackendError::io(format!("starting `{program}`"), e),
    })?;
    let pgid = child.id().map(|p| p as i32).unwrap_or(0);
    groups.add(pgid);

    let mut stdout = child.stdout.take().expect("stdout is piped");
    let mut stderr = child.stderr.take().expect("stderr is piped");
    let mut out_split = LineSplitter::default();
    let mut err_split = LineSplitter::default();
    let mut out_buf = vec![0u8; 64 * 1024];
    let mut err_buf = vec![0u8; 64 * 1024];
    let (mut out_open, mut err_open) = (true, true);
    let mut status: Option<std::process::ExitStatus> = None;
    let mut cancelled = false;
    let mut escalation = KillEscalation::new(exec.kill_policy);

    loop {
        if !out_open && !err_open && status.is_some() {
            break;
        }
        tokio::select! {
            n = stdout.read(&mut out_buf), if out_open => match n {
                Ok(0) | Err(_) => {
                    out_open = false;
                    out_split.finish(&mut |l| sink.line(OutputStream::Stdout, l));
                }
                Ok(n) => out_split.push(&out_buf[..n], &mut |l| sink.line(OutputStream::Stdout, l)),
            },
            n = stderr.read(&mut err_buf), if err_open => match n {
                Ok(0) | Err(_) => {
                    err_open = false;
                    err_split.finish(&mut |l| sink.line(OutputStream::Stderr, l));
                }
                Ok(n) => err_split.push(&err_buf[..n], &mut |l| sink.line(OutputStream::Stderr, l)),
            },
            s = child.wait(), if status.is_none() => {
                let s = s.map_err(|e| BackendError::io("waiting for the step process", e))?;
                status = Some(s);
                if cancelled {
                    // The step's main process is gone; nothing of a cancelled step survives.
                    signal_group(pgid, libc::SIGKILL);
                }
            }
            _ = cancel.cancelled(), if !cancelled => {
                cancelled = true;
                signal_group(pgid, libc::SIGINT);
                escalation.start();
            }
            _ = escalation.wait(), if escalation.pending() => {
                signal_group(pgid, escalation.next_signal().number());
            }
            // Background processes of a finished step may keep the pipes open: stop reading
            // shortly after the main process ended (the official runner does not wait for
            // them either).
            _ = tokio::time::sleep(std::time::Duration::from_millis(200)), if status.is_some() => {
                out_split.finish(&mut |l| sink.line(OutputStream::Stdout, l));
                err_split.finish(&mut |l| sink.line(OutputStream::Stderr, l));
                break;
            }
        }
    }
    let status = status.expect("loop ends after the child exited");
    use std::os::unix::process::ExitStatusExt;
    Ok(ExitStatus {
        code: status.code(),
        signal: status.signal(),
        cancelled,
    })
}
