//! One step process as a Docker exec: separate stdout/stderr, exact exit code, cancellation.

use std::time::Duration;

use bollard::container::LogOutput;
use bollard::exec::{CreateExecOptions, StartExecResults};
use futures_util::StreamExt;
use gha_exec::{BackendError, Exec, ExitStatus, KillEscalation, LogSink, OutputStream};
use tokio_util::sync::CancellationToken;

use crate::engine::Engine;
use gha_exec::LineSplitter;

/// How often a running exec is looked at (process ended while its output stays open, engine
/// still answering).
const POLL_INTERVAL: Duration = Duration::from_millis(500);
/// How long a single look may take before the engine counts as gone.
const POLL_TIMEOUT: Duration = Duration::from_secs(15);
/// How long output is still read after the process ended (background processes of a step may
/// keep the stream open; the official runner does not wait for them either).
const DRAIN_AFTER_EXIT: Duration = Duration::from_millis(200);

/// What the engine prints (as output, exit code 126/127) when it cannot start the process.
const OCI_FAILURE: &str = "OCI runtime exec failed";

/// Runs `exec` in `container`, in `default_dir` unless it names a working directory.
pub(crate) async fn run(
    engine: &Engine,
    container: &str,
    exec: &Exec,
    default_dir: &str,
    sink: &dyn LogSink,
    cancel: CancellationToken,
) -> Result<ExitStatus, BackendError> {
    let program = exec
        .program()
        .ok_or_else(|| BackendError::Other("empty command line".into()))?;
    if cancel.is_cancelled() {
        return Ok(cancelled_before_start());
    }
    let docker = engine.docker();
    let env: Vec<String> = exec.env.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let working_dir = exec.working_dir.as_deref().unwrap_or(default_dir);
    let created = docker
        .create_exec(
            container,
            CreateExecOptions {
                attach_stdout: Some(true),
                attach_stderr: Some(true),
                attach_stdin: Some(false),
                tty: Some(false),
                env: Some(env),
                cmd: Some(exec.argv.clone()),
                working_dir: Some(working_dir.to_string()),
                ..Default::default()
            },
        )
        .await
        .map_err(|e| engine.error(&format!("starting `{program}`"), e))?;
    let StartExecResults::Attached { mut output, input } = docker
        .start_exec(&created.id, None)
        .await
        .map_err(|e| engine.error(&format!("starting `{program}`"), e))?
    else {
        return Err(BackendError::Other("the exec started detached".into()));
    };

    let mut out = LineSplitter::default();
    let mut err = LineSplitter::default();
    let mut held_failure: Option<Vec<u8>> = None;
    let mut first_chunk = true;
    let mut stream_open = true;
    let mut exit_code: Option<i64> = None;
    let mut drain_deadline: Option<tokio::time::Instant> = None;
    let mut cancelled = false;
    let mut escalation = KillEscalation::new(exec.kill_policy);
    let mut poll = tokio::time::interval(POLL_INTERVAL);
    poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    poll.tick().await;

    loop {
        if !stream_open && exit_code.is_some() {
            break;
        }
        tokio::select! {
            chunk = output.next(), if stream_open => match chunk {
                Some(Ok(LogOutput::StdOut { message })) | Some(Ok(LogOutput::Console { message })) => {
                    if first_chunk && message.starts_with(OCI_FAILURE.as_bytes()) {
                        held_failure = Some(message.to_vec());
                    } else {
                        out.push(&message, &mut |l| sink.line(OutputStream::Stdout, l));
                    }
                    first_chunk = false;
                }
                Some(Ok(LogOutput::StdErr { message })) => {
                    first_chunk = false;
                    err.push(&message, &mut |l| sink.line(OutputStream::Stderr, l));
                }
                Some(Ok(LogOutput::StdIn { .. })) => {}
                Some(Err(e)) => {
                    return Err(engine.error(&format!("reading the output of `{program}`"), e));
                }
                None => stream_open = false,
            },
            _ = poll.tick(), if exit_code.is_none() => {
                let state = inspect(engine, &created.id, program).await?;
                if let (Some(false), Some(code)) = (state.running, state.exit_code) {
                    exit_code = Some(code);
                    drain_deadline = Some(tokio::time::Instant::now() + DRAIN_AFTER_EXIT);
                }
            }
            _ = sleep_until(drain_deadline), if stream_open && drain_deadline.is_some() => {
                stream_open = false;
            }
            _ = cancel.cancelled(), if !cancelled && exit_code.is_none() => {
                cancelled = true;
                signal(engine, &created.id, program, libc::SIGINT).await?;
                escalation.start();
            }
            _ = escalation.wait(), if escalation.pending() && exit_code.is_none() => {
                let sig = escalation.next_signal().number();
                signal(engine, &created.id, program, sig).await?;
            }
        }
        if !stream_open && exit_code.is_none() {
            // The output ended: the process is ending too; wait for the engine to say how.
            exit_code = Some(wait_exit(engine, &created.id, program).await?);
        }
    }
    drop(input);
    out.finish(&mut |l| sink.line(OutputStream::Stdout, l));
    err.finish(&mut |l| sink.line(OutputStream::Stderr, l));
    let code = exit_code.expect("the loop ends with an exit code") as i32;

    if let Some(message) = held_failure {
        let text = String::from_utf8_lossy(&message).trim().to_string();
        if code == 126 || code == 127 {
            return Err(start_failure(program, working_dir, &text));
        }
        for line in text.lines() {
            sink.line(OutputStream::Stdout, line);
        }
    }
    Ok(ExitStatus::from_wait_code(code, cancelled))
}

/// The status of a step whose cancellation token fired before it started: it is not started
/// (a signal sent while the engine is still setting the process up would be lost, and the step
/// would run until the next signal of the kill policy).
pub(crate) fn cancelled_before_start() -> ExitStatus {
    ExitStatus {
        code: None,
        signal: None,
        cancelled: true,
    }
}

pub(crate) async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

/// Why the engine could not start the process, as the host backend says it.
fn start_failure(program: &str, working_dir: &str, message: &str) -> BackendError {
    if message.contains("chdir to cwd") {
        BackendError::NotFound(format!("working directory `{working_dir}`"))
    } else if message.contains("executable file not found")
        || message.contains("no such file or directory")
    {
        BackendError::NotFound(format!("program `{program}`"))
    } else {
        BackendError::Other(format!("starting `{program}`: {message}"))
    }
}

async fn inspect(
    engine: &Engine,
    exec_id: &str,
    program: &str,
) -> Result<bollard::models::ExecInspectResponse, BackendError> {
    match tokio::time::timeout(POLL_TIMEOUT, engine.docker().inspect_exec(exec_id)).await {
        Ok(Ok(state)) => Ok(state),
        Ok(Err(e)) => Err(engine.error(&format!("watching `{program}`"), e)),
        Err(_) => Err(BackendError::Other(format!(
            "watching `{program}`: the Docker engine at {} did not answer within {} s",
            engine.endpoint(),
            POLL_TIMEOUT.as_secs()
        ))),
    }
}

/// Waits (bounded) until the engine reports the exec as ended and returns its exit code.
async fn wait_exit(engine: &Engine, exec_id: &str, program: &str) -> Result<i64, BackendError> {
    let deadline = tokio::time::Instant::now() + POLL_TIMEOUT;
    let mut delay = Duration::from_millis(1);
    loop {
        let state = inspect(engine, exec_id, program).await?;
        if let (Some(false), Some(code)) = (state.running, state.exit_code) {
            return Ok(code);
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(BackendError::Other(format!(
                "`{program}` closed its output but the Docker engine still reports it running"
            )));
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_millis(100));
    }
}

/// Sends `sig` to the exec's process group. Exec processes are session leaders, so their pid
/// is their group id; the engine reports the pid as seen on the engine's machine, which is this
/// one for a local engine.
async fn signal(
    engine: &Engine,
    exec_id: &str,
    program: &str,
    sig: i32,
) -> Result<(), BackendError> {
    // Right after the exec starts the engine may not know its pid yet: wait for it (bounded),
    // else a cancellation at the very start of a step is lost until the next signal.
    let deadline = tokio::time::Instant::now() + POLL_TIMEOUT;
    let mut delay = Duration::from_millis(1);
    let pid = loop {
        let state = inspect(engine, exec_id, program).await?;
        if let Some(pid) = state.pid.filter(|p| *p > 1) {
            break pid as i32;
        }
        if state.running == Some(false) && state.exit_code.is_some()
            || tokio::time::Instant::now() >= deadline
        {
            return Ok(());
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_millis(50));
    };
    if std::path::Path::new(&format!("/proc/{pid}")).exists() {
        // SAFETY: kill has no memory-safety preconditions.
        unsafe {
            if libc::kill(-pid, sig) != 0 {
                libc::kill(pid, sig);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_failures_map_like_the_host_backend() {
        let msg = "OCI runtime exec failed: exec failed: unable to start container process: exec: \"nosuch\": executable file not found in $PATH: unknown";
        assert!(
            matches!(start_failure("nosuch", "/w", msg), BackendError::NotFound(m) if m.contains("nosuch"))
        );
        let msg = "OCI runtime exec failed: exec failed: unable to start container process: chdir to cwd (\"/nope\") set in config.json failed: no such file or directory: unknown";
        assert!(
            matches!(start_failure("true", "/nope", msg), BackendError::NotFound(m) if m.contains("/nope"))
        );
    }
}
