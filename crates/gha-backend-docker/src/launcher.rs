//! The step launcher: a fast path for starting step processes in the job container.
//!
//! A Docker exec costs what the engine needs to set a process up inside the container (about
//! 80 ms here, most of a trivial step's time). The launcher is one long-lived exec — a small
//! POSIX `sh` loop — that starts each step as `setsid -f sh STEP-SCRIPT` instead. The step's
//! script and two FIFOs for its stdout and stderr live in a directory bind-mounted from this
//! machine; the launcher's own output carries `pid`/`exit` lines back. The step keeps the
//! semantics of an exec: its own session and process group (for SIGINT → SIGTERM → SIGKILL on
//! the group), default signal dispositions, the container's environment plus the step's, the
//! working directory, stdout and stderr apart, and its exact exit code.
//!
//! Images without `setsid -f` (util-linux) or `env` get plain execs; so does every step after
//! the launcher died (e.g. a step killed it).

use std::collections::HashMap;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bollard::container::LogOutput;
use bollard::exec::{CreateExecOptions, StartExecResults};
use futures_util::StreamExt;
use gha_exec::{BackendError, Exec, ExitStatus, KillEscalation, KillSignal, LogSink, OutputStream};
use tokio::io::{AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::engine::Engine;
use crate::exec::sleep_until;
use gha_exec::LineSplitter;

/// The launcher loop. `$1` is the launch directory inside the container.
const LAUNCHER_SCRIPT: &str = r#"D=$1
if command -v env >/dev/null 2>&1 && setsid -f true </dev/null >/dev/null 2>&1; then echo ready; else echo unavailable; exit 0; fi
while IFS=' ' read -r op a b; do
  case $op in
    run) setsid -f sh "$D/$a.sh" </dev/null ;;
    kill) kill -s "$b" -- "-$a" 2>/dev/null || kill -s "$b" "$a" 2>/dev/null ;;
  esac
done
"#;

/// How long the launcher may take to say whether it works.
const READY_TIMEOUT: Duration = Duration::from_secs(10);
/// How long output is still read after the step's main process ended.
const DRAIN_AFTER_EXIT: Duration = Duration::from_millis(200);
/// How long to wait for the `exit` line after the step's output closed.
const EXIT_GRACE: Duration = Duration::from_secs(2);

/// The error text of a step the launcher never started (it had died): run it another way.
pub(crate) const NOT_STARTED: &str = "the step launcher is gone; the step was not started";

/// Whether `error` says the step was never started (see [`NOT_STARTED`]).
pub(crate) fn not_started(error: &BackendError) -> bool {
    matches!(error, BackendError::Other(m) if m == NOT_STARTED)
}

#[derive(Debug)]
enum Event {
    Pid(i64),
    Exit(i32),
    Fail(String),
}

type Waiters = Arc<Mutex<HashMap<u64, mpsc::UnboundedSender<Event>>>>;

/// A running launcher in one job container.
pub(crate) struct Launcher {
    engine: Engine,
    host_dir: PathBuf,
    inside_dir: String,
    input: tokio::sync::Mutex<Pin<Box<dyn AsyncWrite + Send>>>,
    waiters: Waiters,
    next: AtomicU64,
    alive: Arc<AtomicBool>,
    reader: tokio::task::JoinHandle<()>,
}

impl Drop for Launcher {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Launcher {
    /// Starts the launcher in `container`; `None` when the image cannot run it.
    pub(crate) async fn start(
        engine: &Engine,
        container: &str,
        host_dir: &Path,
        inside_dir: &str,
    ) -> Result<Option<Launcher>, BackendError> {
        use std::os::unix::fs::PermissionsExt;
        std::fs::create_dir_all(host_dir)
            .and_then(|()| {
                std::fs::set_permissions(host_dir, std::fs::Permissions::from_mode(0o777))
            })
            .map_err(|e| BackendError::io(format!("creating {}", host_dir.display()), e))?;
        let docker = engine.docker();
        let created = docker
            .create_exec(
                container,
                CreateExecOptions {
                    attach_stdin: Some(true),
                    attach_stdout: Some(true),
                    attach_stderr: Some(true),
                    tty: Some(false),
                    cmd: Some(vec![
                        "sh".to_string(),
                        "-c".into(),
                        LAUNCHER_SCRIPT.into(),
                        "gha-launcher".into(),
                        inside_dir.into(),
                    ]),
                    ..Default::default()
                },
            )
            .await
            .map_err(|e| engine.error("starting the step launcher", e))?;
        let StartExecResults::Attached { mut output, input } = docker
            .start_exec(&created.id, None)
            .await
            .map_err(|e| engine.error("starting the step launcher", e))?
        else {
            return Ok(None);
        };
        // The first line says whether this image can run it.
        let mut splitter = LineSplitter::default();
        let mut first = None;
        let deadline = tokio::time::Instant::now() + READY_TIMEOUT;
        while first.is_none() {
            let chunk = match tokio::time::timeout_at(deadline, output.next()).await {
                Ok(Some(Ok(LogOutput::StdOut { message }))) => message,
                Ok(Some(Ok(_))) => continue,
                Ok(Some(Err(_))) | Ok(None) | Err(_) => return Ok(None),
            };
            let mut lines = Vec::new();
            splitter.push(&chunk, &mut |l| lines.push(l.to_string()));
            first = lines.into_iter().next();
        }
        if first.as_deref() != Some("ready") {
            return Ok(None);
        }
        let waiters: Waiters = Arc::default();
        let alive = Arc::new(AtomicBool::new(true));
        let reader = {
            let waiters = waiters.clone();
            let alive = alive.clone();
            tokio::spawn(async move {
                while let Some(Ok(item)) = output.next().await {
                    if let LogOutput::StdOut { message } = item {
                        splitter.push(&message, &mut |line| route(&waiters, line));
                    }
                }
                alive.store(false, Ordering::SeqCst);
                // Dropping the senders tells every waiting step that the launcher is gone.
                lock(&waiters).clear();
            })
        };
        Ok(Some(Launcher {
            engine: engine.clone(),
            host_dir: host_dir.to_path_buf(),
            inside_dir: inside_dir.to_string(),
            input: tokio::sync::Mutex::new(input),
            waiters,
            next: AtomicU64::new(1),
            alive,
            reader,
        }))
    }

    /// Whether the launcher still runs (otherwise steps go through plain execs).
    pub(crate) fn is_alive(&self) -> bool {
        self.alive.load(Ordering::SeqCst)
    }

    async fn send(&self, line: &str) -> Result<(), BackendError> {
        if !self.is_alive() {
            return Err(BackendError::Other(NOT_STARTED.into()));
        }
        let mut input = self.input.lock().await;
        input
            .write_all(line.as_bytes())
            .await
            .and(input.flush().await)
            .map_err(|e| BackendError::io("talking to the step launcher", e))
    }

    /// Runs one step through the launcher (same contract as [`crate::exec::run`]).
    pub(crate) async fn run(
        &self,
        exec: &Exec,
        default_dir: &str,
        sink: &dyn LogSink,
        cancel: CancellationToken,
    ) -> Result<ExitStatus, BackendError> {
        let program = exec
            .program()
            .ok_or_else(|| BackendError::Other("empty command line".into()))?;
        if cancel.is_cancelled() {
            return Ok(crate::exec::cancelled_before_start());
        }
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let files = StepFiles::new(&self.host_dir, id);
        let working_dir = exec.working_dir.as_deref().unwrap_or(default_dir);
        let inside = |suffix: &str| format!("{}/{id}.{suffix}", self.inside_dir);
        let script = step_script(id, exec, working_dir, &inside("out"), &inside("err"));
        files.create(&script)?;
        let mut out = tokio::net::unix::pipe::OpenOptions::new()
            .open_receiver(&files.out)
            .map_err(|e| BackendError::io("opening the step's stdout", e))?;
        let mut err = tokio::net::unix::pipe::OpenOptions::new()
            .open_receiver(&files.err)
            .map_err(|e| BackendError::io("opening the step's stderr", e))?;
        let (tx, mut events) = mpsc::unbounded_channel();
        lock(&self.waiters).insert(id, tx);
        let _unregister = Unregister(&self.waiters, id);
        if self.send(&format!("run {id}\n")).await.is_err() {
            return Err(BackendError::Other(NOT_STARTED.into()));
        }

        let mut out_split = LineSplitter::default();
        let mut err_split = LineSplitter::default();
        let (mut out_buf, mut err_buf) = (vec![0u8; 64 * 1024], vec![0u8; 64 * 1024]);
        let mut pid: Option<i64> = None;
        let (mut out_open, mut err_open) = (true, true);
        let mut exit: Option<i32> = None;
        let mut drain_deadline: Option<tokio::time::Instant> = None;
        let mut grace_deadline: Option<tokio::time::Instant> = None;
        let mut cancelled = false;
        let mut sent_kill = false;
        let mut sigint_sent = false;
        let mut escalation = KillEscalation::new(exec.kill_policy);
        loop {
            let reading = pid.is_some();
            if reading && !out_open && !err_open && exit.is_some() {
                break;
            }
            tokio::select! {
                event = events.recv() => match event {
                    Some(Event::Pid(p)) => pid = Some(p),
                    Some(Event::Exit(code)) => {
                        exit = Some(code);
                        drain_deadline = Some(tokio::time::Instant::now() + DRAIN_AFTER_EXIT);
                    }
                    Some(Event::Fail(what)) => {
                        return Err(if what == "dir" {
                            BackendError::NotFound(format!("working directory `{working_dir}`"))
                        } else {
                            BackendError::NotFound(format!("program `{program}`"))
                        });
                    }
                    None if pid.is_none() => return Err(BackendError::Other(NOT_STARTED.into())),
                    None => return Err(self.gone(program).await),
                },
                n = out.read(&mut out_buf), if reading && out_open => match n {
                    Ok(0) | Err(_) => out_open = false,
                    Ok(n) => out_split.push(&out_buf[..n], &mut |l| sink.line(OutputStream::Stdout, l)),
                },
                n = err.read(&mut err_buf), if reading && err_open => match n {
                    Ok(0) | Err(_) => err_open = false,
                    Ok(n) => err_split.push(&err_buf[..n], &mut |l| sink.line(OutputStream::Stderr, l)),
                },
                _ = sleep_until(drain_deadline), if drain_deadline.is_some() => {
                    out_open = false;
                    err_open = false;
                    drain_deadline = None;
                }
                _ = sleep_until(grace_deadline), if grace_deadline.is_some() => {
                    // The output closed and no exit line came: the step's shell was killed.
                    if sent_kill {
                        exit = Some(128 + libc::SIGKILL);
                    } else {
                        return Err(BackendError::Other(format!(
                            "lost track of `{program}`: its process in the job container ended without an exit status"
                        )));
                    }
                }
                _ = cancel.cancelled(), if !cancelled && exit.is_none() => {
                    cancelled = true;
                    escalation.start();
                }
                _ = escalation.wait(), if escalation.pending() && exit.is_none() => {
                    let signal = escalation.next_signal();
                    sent_kill |= signal == KillSignal::Kill;
                    let sig = signal.name();
                    if let Some(p) = pid {
                        let _ = self.send(&format!("kill {p} {sig}\n")).await;
                    }
                }
            }
            if reading && !out_open && !err_open && exit.is_none() && grace_deadline.is_none() {
                grace_deadline = Some(tokio::time::Instant::now() + EXIT_GRACE);
            }
            // SIGINT as soon as the step is cancelled and its pid known.
            if cancelled
                && !sigint_sent
                && exit.is_none()
                && let Some(p) = pid
            {
                sigint_sent = true;
                let _ = self.send(&format!("kill {p} INT\n")).await;
            }
        }
        out_split.finish(&mut |l| sink.line(OutputStream::Stdout, l));
        err_split.finish(&mut |l| sink.line(OutputStream::Stderr, l));
        let code = exit.expect("the loop ends with an exit status");
        Ok(ExitStatus::from_wait_code(code, cancelled))
    }

    /// The error for a launcher that went away in the middle of a step.
    async fn gone(&self, program: &str) -> BackendError {
        match tokio::time::timeout(Duration::from_secs(5), self.engine.docker().ping()).await {
            Ok(Ok(_)) => BackendError::Other(format!(
                "running `{program}`: the step launcher in the job container stopped (was it killed by a step?)"
            )),
            Ok(Err(e)) => self.engine.error(&format!("running `{program}`"), e),
            Err(_) => BackendError::Other(format!(
                "running `{program}`: the Docker engine at {} stopped answering",
                self.engine.endpoint()
            )),
        }
    }
}

/// Hands one line of the launcher's output to the step it is about.
fn route(waiters: &Waiters, line: &str) {
    let mut words = line.split(' ');
    let (Some(kind), Some(id), Some(value)) = (words.next(), words.next(), words.next()) else {
        return;
    };
    let Ok(id) = id.parse::<u64>() else { return };
    let event = match kind {
        "pid" => value.parse().ok().map(Event::Pid),
        "exit" => value.parse().ok().map(Event::Exit),
        "fail" => Some(Event::Fail(value.to_string())),
        _ => None,
    };
    if let (Some(event), Some(tx)) = (event, lock(waiters).get(&id)) {
        let _ = tx.send(event);
    }
}

struct Unregister<'a>(&'a Waiters, u64);

impl Drop for Unregister<'_> {
    fn drop(&mut self) {
        lock(self.0).remove(&self.1);
    }
}

/// The script, stdout FIFO and stderr FIFO of one step, removed when dropped.
struct StepFiles {
    script: PathBuf,
    out: PathBuf,
    err: PathBuf,
}

impl StepFiles {
    fn new(dir: &Path, id: u64) -> StepFiles {
        StepFiles {
            script: dir.join(format!("{id}.sh")),
            out: dir.join(format!("{id}.out")),
            err: dir.join(format!("{id}.err")),
        }
    }

    fn create(&self, script: &str) -> Result<(), BackendError> {
        for fifo in [&self.out, &self.err] {
            let c = std::ffi::CString::new(fifo.as_os_str().as_bytes())
                .map_err(|_| BackendError::Other("a NUL byte in a path".into()))?;
            // SAFETY: `c` is a valid NUL-terminated path.
            if unsafe { libc::mkfifo(c.as_ptr(), 0o666) } != 0 {
                return Err(BackendError::io(
                    format!("creating {}", fifo.display()),
                    std::io::Error::last_os_error(),
                ));
            }
            use std::os::unix::fs::PermissionsExt;
            let _ = std::fs::set_permissions(fifo, std::fs::Permissions::from_mode(0o666));
        }
        std::fs::write(&self.script, script)
            .map_err(|e| BackendError::io(format!("writing {}", self.script.display()), e))
    }
}

impl Drop for StepFiles {
    fn drop(&mut self) {
        for f in [&self.script, &self.out, &self.err] {
            let _ = std::fs::remove_file(f);
        }
    }
}

/// `'text'` for sh, with `'` written as `'\''`.
fn quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

/// The step's wrapper script: opens the output FIFOs, keeps going on SIGINT/SIGTERM (so it can
/// report how the step ended), checks the working directory and program, runs the step in a
/// subshell that restores the default dispositions *before* it reports the process group (the
/// wrapper's pid), so that a cancellation signal sent as soon as the pid is known cannot fall
/// in a window where the wrapper ignores it and the step does not exist yet; reports the exit.
fn step_script(id: u64, exec: &Exec, working_dir: &str, out: &str, err: &str) -> String {
    let program = &exec.argv[0];
    let path = exec
        .env
        .iter()
        .rev()
        .find(|(k, _)| k == "PATH")
        .map(|(_, v)| v);
    let lookup_path = path
        .map(|p| format!("PATH={} ", quote(p)))
        .unwrap_or_default();
    let env: Vec<String> = exec
        .env
        .iter()
        .map(|(k, v)| quote(&format!("{k}={v}")))
        .collect();
    let argv: Vec<String> = exec.argv.iter().map(|a| quote(a)).collect();
    format!(
        "exec 3>{out} 4>{err}\n\
         trap : INT TERM\n\
         cd -- {dir} 2>/dev/null || {{ echo \"fail {id} dir\"; exit 0; }}\n\
         {lookup_path}command -v -- {prog} >/dev/null 2>&1 || {{ echo \"fail {id} program\"; exit 0; }}\n\
         ( trap - INT TERM; echo \"pid {id} $$\"; exec env {env} {argv} </dev/null >&3 2>&4 3>&- 4>&- )\n\
         c=$?\n\
         exec 3>&- 4>&-\n\
         echo \"exit {id} $c\"\n",
        out = quote(out),
        err = quote(err),
        dir = quote(working_dir),
        prog = quote(program),
        env = env.join(" "),
        argv = argv.join(" "),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_survives_single_quotes() {
        assert_eq!(quote("it's"), r"'it'\''s'");
    }

    #[test]
    fn the_step_script_quotes_everything() {
        let exec = Exec::new(["echo", "a b", "$HOME", "it's"])
            .env("PATH", "/x:/usr/bin")
            .env("weird-name", "v");
        let s = step_script(7, &exec, "/w d", "/l/7.out", "/l/7.err");
        assert!(s.contains("cd -- '/w d'"), "{s}");
        assert!(s.contains("PATH='/x:/usr/bin' command -v -- 'echo'"), "{s}");
        assert!(
            s.contains(r"env 'PATH=/x:/usr/bin' 'weird-name=v' 'echo' 'a b' '$HOME' 'it'\''s'"),
            "{s}"
        );
        // The pid is reported only once the step's dispositions are the default ones.
        let trap = s.find("trap : INT TERM").unwrap();
        let reset = s
            .find("( trap - INT TERM; echo \"pid 7 $$\"; exec env")
            .unwrap();
        assert!(trap < reset, "{s}");
    }

    #[test]
    fn routing_ignores_noise() {
        let waiters: Waiters = Arc::default();
        let (tx, mut rx) = mpsc::unbounded_channel();
        lock(&waiters).insert(3, tx);
        for line in [
            "",
            "pid",
            "pid x 1",
            "exit 3 notanumber",
            "pid 3 42",
            "exit 3 7",
            "fail 3 dir",
        ] {
            route(&waiters, line);
        }
        assert!(matches!(rx.try_recv(), Ok(Event::Pid(42))));
        assert!(matches!(rx.try_recv(), Ok(Event::Exit(7))));
        assert!(matches!(rx.try_recv(), Ok(Event::Fail(w)) if w == "dir"));
        assert!(rx.try_recv().is_err());
    }
}
