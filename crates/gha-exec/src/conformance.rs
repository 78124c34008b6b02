//! One test suite for every [`JobEnv`]: the contract of [`Backend`] and [`JobEnv`] as public
//! check functions that panic with a clear message when an environment breaks it (enable the
//! `conformance` feature, e.g. as a dev-dependency).
//!
//! Each check starts fresh job environments through a [`Target`] (a backend and a [`JobSpec`]
//! template), runs one contract item against them through the trait only, and stops them. The
//! workspace of every job is a copy of a small source tree the suite makes (see
//! [`workspace_content`]). Every process the checks run is a POSIX `sh` command line, and the
//! checks read `/proc`: the environment must be Linux.
//!
//! | check | contract item |
//! |---|---|
//! | [`exit_codes`] | exact exit codes, `success()` only for 0 |
//! | [`output_streams`] | stdout and stderr kept apart and in order; terminators, empty lines, invalid UTF-8, last line without newline |
//! | [`long_lines`] | long lines whole, overlong lines split into pieces of at most [`MAX_LINE_BYTES`] |
//! | [`env_per_exec`] | environment per exec (later entries win, empty and multi-line values, nothing leaks), `PATH` lookup |
//! | [`working_directory`] | the workspace by default, the one asked for, a missing one is `NotFound` |
//! | [`missing_program`] | a program that does not exist is `NotFound` |
//! | [`file_round_trips`] | `write_file`/`read_file` round trips, parents created, replace, binary, large, seen by processes |
//! | [`missing_file`] | reading a missing file is `NotFound` |
//! | [`workspace_content`] | the workspace is a copy of the source tree; the job's directories exist |
//! | [`cancel_with_sigint`] | cancellation sends SIGINT first and reports `cancelled` (also when cancelled before start) |
//! | [`cancel_escalation`] | SIGTERM, then SIGKILL, to the whole process group, after the kill policy's waits |
//! | [`background_process`] | a background process does not hold its step open |
//! | [`concurrent_execs`] | concurrent execs keep output and exit codes apart |
//! | [`stop`] | stop is idempotent; exec after stop is an error |
//! | [`provide_action_dir`] | an action directory of this machine is usable inside, executable bits kept |
//! | [`run_action_container`] | (opt-in, needs a Docker engine) a Docker action's container: exit code, streams, env, mounts, cancellation |
//!
//! [`run_all`] runs every check but the opt-in one.
//!
//! ```
//! use gha_exec::conformance::{self, Target};
//! use gha_exec::{HostBackend, HostBackendOptions, JobSpec};
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let runs = tempfile::tempdir().unwrap();
//! let backend = HostBackend::new(HostBackendOptions::new(runs.path()));
//! // The template's source directory is replaced by the suite's own tree.
//! let target = Target::new(&backend, JobSpec::new("conformance", "/unused"));
//! conformance::exit_codes(&target).await;
//! conformance::file_round_trips(&target).await;
//! // or everything at once: conformance::run_all(&target).await;
//! # });
//! ```

use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use crate::action_container::{self, ActionContainer, ActionImage};
use crate::backend::{Backend, BackendError, JobEnv, JobSpec};
use crate::exec::{Exec, ExitStatus, KillPolicy};
use crate::log_sink::{LogSink, MAX_LINE_BYTES, OutputStream, VecLogSink};

/// How long one call into a job environment may take before the check fails instead of hanging.
const CALL_TIMEOUT: Duration = Duration::from_secs(120);

/// What the checks run against: a backend and the [`JobSpec`] it needs (labels, repository,
/// ...). Each check starts its jobs from a copy of the template with `source_dir` set to a tree
/// of its own and `job_id`/`unique_name` naming the check.
///
/// ```
/// use gha_exec::conformance::Target;
/// use gha_exec::{HostBackend, HostBackendOptions, JobSpec};
///
/// let backend = HostBackend::new(HostBackendOptions::new("/tmp/gha-runs"));
/// let mut template = JobSpec::new("conformance", "/unused");
/// template.runs_on = vec!["ubuntu-latest".into()];
/// let target = Target::new(&backend, template);
/// assert_eq!(target.backend().name(), "host");
/// ```
pub struct Target<'a> {
    backend: &'a dyn Backend,
    template: JobSpec,
}

impl<'a> Target<'a> {
    /// Checks of `backend`, starting jobs from `template`.
    pub fn new(backend: &'a dyn Backend, template: JobSpec) -> Target<'a> {
        Target { backend, template }
    }

    /// The backend under test.
    pub fn backend(&self) -> &'a dyn Backend {
        self.backend
    }

    /// Starts a job for check `item` on a fresh copy of the suite's source tree.
    async fn start(&self, item: &'static str) -> Job {
        let source = SourceTree::create();
        let mut spec = self.template.clone();
        spec.source_dir = source.path.clone();
        spec.job_id = item.to_string();
        spec.name = item.to_string();
        spec.unique_name = crate::backend::sanitize_name(&format!("conformance-{item}"));
        let env = match tokio::time::timeout(CALL_TIMEOUT, self.backend.start_job(&spec)).await {
            Ok(Ok(env)) => env,
            Ok(Err(e)) => self.fail(item, format!("start_job failed: {e}")),
            Err(_) => self.fail(
                item,
                format!("start_job did not return within {CALL_TIMEOUT:?}"),
            ),
        };
        Job {
            env,
            source,
            backend: self.backend.name().to_string(),
            item,
        }
    }

    fn fail(&self, item: &str, message: String) -> ! {
        panic!(
            "JobEnv conformance [{}] {item}: {message}",
            self.backend.name()
        )
    }
}

/// A started job of one check.
struct Job {
    env: Box<dyn JobEnv>,
    source: SourceTree,
    backend: String,
    item: &'static str,
}

/// Fails the check of `$job` with a formatted message unless `$cond` holds.
macro_rules! ensure {
    ($job:expr, $cond:expr, $($msg:tt)+) => {
        if !$cond {
            $job.fail(format!($($msg)+));
        }
    };
}

impl Job {
    fn fail(&self, message: String) -> ! {
        panic!(
            "JobEnv conformance [{}] {}: {message}",
            self.backend, self.item
        )
    }

    fn env(&self) -> &dyn JobEnv {
        self.env.as_ref()
    }

    fn temp(&self) -> String {
        self.env.paths().temp.clone()
    }

    fn workspace(&self) -> String {
        self.env.paths().workspace.clone()
    }

    /// Awaits one call, failing the check when it takes longer than [`CALL_TIMEOUT`].
    async fn within<T>(&self, what: &str, call: impl std::future::Future<Output = T>) -> T {
        match tokio::time::timeout(CALL_TIMEOUT, call).await {
            Ok(v) => v,
            Err(_) => self.fail(format!("{what} did not return within {CALL_TIMEOUT:?}")),
        }
    }

    /// Runs `exec` (which must start) and returns its status and output.
    async fn run(&self, exec: &Exec) -> (ExitStatus, Vec<(OutputStream, String)>) {
        let sink = VecLogSink::default();
        let status = self.run_with(exec, &sink, CancellationToken::new()).await;
        (status, sink.lines())
    }

    async fn run_with(
        &self,
        exec: &Exec,
        sink: &dyn LogSink,
        cancel: CancellationToken,
    ) -> ExitStatus {
        let what = format!("exec {:?}", exec.argv);
        match self.within(&what, self.env.exec(exec, sink, cancel)).await {
            Ok(status) => status,
            Err(e) => self.fail(format!("{what} failed to run: {e}")),
        }
    }

    /// Runs `sh -c script` and fails unless it exits 0; returns its stdout lines.
    async fn sh_ok(&self, script: &str) -> Vec<String> {
        let (status, lines) = self.run(&sh(script)).await;
        ensure!(
            self,
            status.success(),
            "`{script}` ended with {status}, expected exit code 0; output {lines:?}"
        );
        of(&lines, OutputStream::Stdout)
    }

    async fn write(&self, path: &str, contents: &[u8]) {
        let what = format!("write_file({path})");
        if let Err(e) = self
            .within(&what, self.env.write_file(path, contents))
            .await
        {
            self.fail(format!("{what} failed: {e}"));
        }
    }

    async fn read(&self, path: &str) -> Vec<u8> {
        let what = format!("read_file({path})");
        match self.within(&what, self.env.read_file(path)).await {
            Ok(bytes) => bytes,
            Err(e) => self.fail(format!("{what} failed: {e}")),
        }
    }

    async fn stop(self) {
        let what = "stop()";
        if let Err(e) = self.within(what, self.env.stop()).await {
            self.fail(format!("{what} failed: {e}"));
        }
    }
}

/// The source tree every check's workspace starts from (see [`workspace_content`]).
struct SourceTree {
    path: PathBuf,
}

/// The files of [`SourceTree`]: path, contents, executable.
const SOURCE_FILES: &[(&str, &str, bool)] = &[
    ("README.md", "conformance fixture\n", false),
    (".hidden", "a dot file\n", false),
    ("src/nested/deep.txt", "deep inside\n", false),
    (
        "bin/tool.sh",
        "#!/bin/sh\necho \"tool ran with $*\"\n",
        true,
    ),
];

impl SourceTree {
    fn create() -> SourceTree {
        static N: AtomicU64 = AtomicU64::new(0);
        let path = std::env::temp_dir().join(format!(
            "gha-conformance-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        for (rel, text, executable) in SOURCE_FILES {
            let file = path.join(rel);
            std::fs::create_dir_all(file.parent().expect("a file has a parent"))
                .unwrap_or_else(|e| panic!("creating {}: {e}", file.display()));
            std::fs::write(&file, text)
                .unwrap_or_else(|e| panic!("writing {}: {e}", file.display()));
            if *executable {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o755))
                    .unwrap_or_else(|e| panic!("chmod {}: {e}", file.display()));
            }
        }
        SourceTree { path }
    }
}

impl Drop for SourceTree {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// `sh -c script`.
fn sh(script: &str) -> Exec {
    Exec::new(["sh", "-c", script])
}

/// The lines of `stream`.
fn of(lines: &[(OutputStream, String)], stream: OutputStream) -> Vec<String> {
    lines
        .iter()
        .filter(|(s, _)| *s == stream)
        .map(|(_, l)| l.clone())
        .collect()
}

/// A sink that keeps every line and fires `cancel` when it sees `trigger` (so that a check
/// cancels a process only once it is known to run), remembering when.
struct CancelOn {
    lines: VecLogSink,
    trigger: &'static str,
    cancel: CancellationToken,
    fired: Mutex<Option<Instant>>,
}

impl CancelOn {
    fn new(trigger: &'static str, cancel: CancellationToken) -> CancelOn {
        CancelOn {
            lines: VecLogSink::default(),
            trigger,
            cancel,
            fired: Mutex::new(None),
        }
    }

    fn fired(&self) -> Option<Instant> {
        *self.fired.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl LogSink for CancelOn {
    fn line(&self, stream: OutputStream, line: &str) {
        self.lines.line(stream, line);
        if line == self.trigger {
            self.fired
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .get_or_insert_with(Instant::now);
            self.cancel.cancel();
        }
    }
}

/// A kill policy with short waits, so that escalation checks take well under a second each.
fn short_kill_policy() -> KillPolicy {
    KillPolicy {
        after_sigint: Duration::from_millis(300),
        after_sigterm: Duration::from_millis(300),
    }
}

/// A script that exits 0 once process `$1` is gone (a zombie counts as gone: only its parent
/// can reap it) and 1 when it is still alive after 5 s.
const GONE_WITHIN_5S: &str = "i=0; while [ $i -lt 100 ]; do if [ ! -e /proc/$1 ] || grep -q '^State:[[:space:]]*Z' /proc/$1/status 2>/dev/null; then exit 0; fi; sleep 0.05; i=$((i+1)); done; exit 1";

/// Exact exit codes: `sh -c 'exit N'` ends with code N (0, 1, 2, 3, 42, 127, 128, 255), not
/// cancelled and without a signal; only 0 is [`ExitStatus::success`].
pub async fn exit_codes(target: &Target<'_>) {
    let job = target.start("exit codes").await;
    for code in [0, 1, 2, 3, 42, 127, 128, 255] {
        let (status, _) = job.run(&sh(&format!("exit {code}"))).await;
        ensure!(
            job,
            status.code == Some(code) && status.signal.is_none() && !status.cancelled,
            "`exit {code}` ended with {status:?}, expected exit code {code}"
        );
        ensure!(
            job,
            status.success() == (code == 0),
            "`exit {code}`: success() is {}",
            status.success()
        );
    }
    job.stop().await;
}

/// Output: every stdout line goes to [`OutputStream::Stdout`] and every stderr line to
/// [`OutputStream::Stderr`], each stream in the order it was written (2 000 interleaved lines
/// each), without `\n` or `\r\n`, empty lines kept, invalid UTF-8 replaced by U+FFFD, a last
/// line without newline delivered.
pub async fn output_streams(target: &Target<'_>) {
    let job = target.start("output streams").await;
    let script = "echo out1; echo err1 >&2; echo; echo out3; printf 'crlf\\r\\n'; printf '\\377bad\\n'; echo err2 >&2; printf 'no newline'";
    let (status, lines) = job.run(&sh(script)).await;
    ensure!(job, status.success(), "`{script}` ended with {status}");
    let expected_out = ["out1", "", "out3", "crlf", "\u{FFFD}bad", "no newline"];
    ensure!(
        job,
        of(&lines, OutputStream::Stdout) == expected_out,
        "stdout lines {:?}, expected {expected_out:?} (all lines: {lines:?})",
        of(&lines, OutputStream::Stdout)
    );
    ensure!(
        job,
        of(&lines, OutputStream::Stderr) == ["err1", "err2"],
        "stderr lines {:?}, expected [\"err1\", \"err2\"]",
        of(&lines, OutputStream::Stderr)
    );

    let n = 2000;
    let script = format!("i=0; while [ $i -lt {n} ]; do echo o$i; echo e$i >&2; i=$((i+1)); done");
    let (status, lines) = job.run(&sh(&script)).await;
    ensure!(
        job,
        status.success(),
        "the interleaving script ended with {status}"
    );
    for (stream, prefix) in [(OutputStream::Stdout, "o"), (OutputStream::Stderr, "e")] {
        let got = of(&lines, stream);
        let want: Vec<String> = (0..n).map(|i| format!("{prefix}{i}")).collect();
        if got != want {
            let first_bad = got
                .iter()
                .zip(&want)
                .position(|(a, b)| a != b)
                .unwrap_or(got.len().min(want.len()));
            job.fail(format!(
                "{stream:?}: {} lines, expected {n} in order; first difference at line {first_bad}: {:?}",
                got.len(),
                got.get(first_bad)
            ));
        }
    }
    job.stop().await;
}

/// Long lines: a 100 000-byte line arrives whole; a line of `2 * MAX_LINE_BYTES + 5` bytes
/// arrives as pieces of at most [`MAX_LINE_BYTES`] that add up to it, and the next line is
/// whole again.
pub async fn long_lines(target: &Target<'_>) {
    let job = target.start("long lines").await;
    let long = 100_000;
    let overlong = 2 * MAX_LINE_BYTES + 5;
    let script = format!(
        "head -c {long} /dev/zero | tr '\\0' a; echo; head -c {overlong} /dev/zero | tr '\\0' b; echo; echo after"
    );
    let (status, lines) = job.run(&sh(&script)).await;
    ensure!(
        job,
        status.success(),
        "the long-line script ended with {status}"
    );
    let out = of(&lines, OutputStream::Stdout);
    let sizes: Vec<usize> = out.iter().map(String::len).collect();
    ensure!(
        job,
        out.first()
            .is_some_and(|l| l.len() == long && l.bytes().all(|b| b == b'a')),
        "the {long}-byte line did not arrive whole: stdout line sizes {sizes:?}"
    );
    ensure!(
        job,
        out.last().map(String::as_str) == Some("after"),
        "the line after the overlong one is not `after`: stdout line sizes {sizes:?}"
    );
    let pieces = &out[1..out.len() - 1];
    ensure!(
        job,
        pieces.len() >= 3
            && pieces
                .iter()
                .all(|p| p.len() <= MAX_LINE_BYTES && p.bytes().all(|b| b == b'b'))
            && pieces.iter().map(String::len).sum::<usize>() == overlong,
        "the {overlong}-byte line should arrive as pieces of at most {MAX_LINE_BYTES} bytes adding up to it: stdout line sizes {sizes:?}"
    );
    job.stop().await;
}

/// Environment: [`Exec::env`] is applied over the environment's base environment (which has a
/// `PATH`), later entries win, empty values and values with `=` or newlines arrive as they are,
/// nothing leaks into the next exec, and `argv[0]` is looked up on the `PATH` given in
/// [`Exec::env`].
pub async fn env_per_exec(target: &Target<'_>) {
    let job = target.start("env per exec").await;
    let script = "printf '%s|%s|%s|%s\\n' \"$A\" \"$B\" \"${EMPTY+set}\" \"$EQ\"; [ \"$ML\" = \"$(printf 'x\\ny')\" ] && echo multi-line ok; [ -n \"$PATH\" ] && echo has PATH";
    let exec = sh(script)
        .env("A", "first")
        .env("B", "two words")
        .env("A", "second")
        .env("EMPTY", "")
        .env("EQ", "k=v")
        .env("ML", "x\ny");
    let (status, lines) = job.run(&exec).await;
    ensure!(
        job,
        status.success(),
        "the env script ended with {status}: {lines:?}"
    );
    let want = ["second|two words|set|k=v", "multi-line ok", "has PATH"];
    ensure!(
        job,
        of(&lines, OutputStream::Stdout) == want,
        "stdout {lines:?}, expected {want:?}"
    );

    let out = job.sh_ok("printf '%s\\n' \"${A-unset}\"").await;
    ensure!(
        job,
        out == ["unset"],
        "A leaked into the next exec: {out:?}"
    );

    let bin = format!("{}/conformance-bin", job.temp());
    job.write(
        &format!("{bin}/conformance-tool"),
        b"#!/bin/sh\necho found on PATH\n",
    )
    .await;
    job.sh_ok(&format!("chmod +x {bin}/conformance-tool")).await;
    let base_path = job.sh_ok("printf '%s\\n' \"$PATH\"").await.join("");
    let exec = Exec::new(["conformance-tool"]).env("PATH", format!("{bin}:{base_path}"));
    let (status, lines) = job.run(&exec).await;
    ensure!(
        job,
        status.success() && of(&lines, OutputStream::Stdout) == ["found on PATH"],
        "a program on the PATH of Exec::env: {status}, {lines:?}"
    );
    job.stop().await;
}

/// Working directory: a process starts in [`JobPaths::workspace`](crate::JobPaths) by default
/// and in [`Exec::working_dir`] when it is set; a missing working directory is
/// [`BackendError::NotFound`] naming it.
pub async fn working_directory(target: &Target<'_>) {
    let job = target.start("working directory").await;
    let ws = job.workspace();
    let out = job.sh_ok("pwd; cat README.md").await;
    ensure!(
        job,
        out == [ws.as_str(), "conformance fixture"],
        "default working directory: {out:?}, expected [{ws:?}, \"conformance fixture\"]"
    );
    let temp = job.temp();
    let (status, lines) = job.run(&sh("pwd").working_dir(temp.as_str())).await;
    ensure!(
        job,
        status.success() && of(&lines, OutputStream::Stdout) == [temp.as_str()],
        "working_dir {temp}: {status}, {lines:?}"
    );
    let missing = format!("{temp}/no-such-dir");
    let result = job
        .within(
            "exec in a missing directory",
            job.env().exec(
                &Exec::new(["true"]).working_dir(missing.as_str()),
                &VecLogSink::default(),
                CancellationToken::new(),
            ),
        )
        .await;
    ensure!(
        job,
        matches!(&result, Err(BackendError::NotFound(m)) if m.contains(&missing)),
        "exec in the missing directory {missing}: {result:?}, expected NotFound naming it"
    );
    job.stop().await;
}

/// Missing programs: running a program that does not exist (a name looked up on `PATH`, or an
/// absolute path) is [`BackendError::NotFound`] naming it, not an exit status.
pub async fn missing_program(target: &Target<'_>) {
    let job = target.start("missing program").await;
    for program in ["no-such-program-xyz", "/no/such/program"] {
        let result = job
            .within(
                "exec of a missing program",
                job.env().exec(
                    &Exec::new([program]),
                    &VecLogSink::default(),
                    CancellationToken::new(),
                ),
            )
            .await;
        ensure!(
            job,
            matches!(&result, Err(BackendError::NotFound(m)) if m.contains(program)),
            "exec of {program}: {result:?}, expected NotFound naming it"
        );
    }
    // The environment is still usable.
    job.sh_ok("true").await;
    job.stop().await;
}

/// Files: [`JobEnv::write_file`] creates missing parents and replaces (and truncates) existing
/// files; [`JobEnv::read_file`] returns exactly the bytes written (all 256 byte values, empty,
/// 1.5 MB); processes see written files and files processes write can be read.
pub async fn file_round_trips(target: &Target<'_>) {
    let job = target.start("file round trips").await;
    let temp = job.temp();
    let path = format!("{temp}/conformance/a/b/c.bin");
    let all_bytes: Vec<u8> = (0..=255u8).cycle().take(4096).collect();
    job.write(&path, &all_bytes).await;
    ensure!(
        job,
        job.read(&path).await == all_bytes,
        "{path} did not read back as written (binary)"
    );
    job.write(&path, b"hi").await;
    let back = job.read(&path).await;
    ensure!(
        job,
        back == b"hi",
        "{path} after replacing with `hi`: {:?}",
        String::from_utf8_lossy(&back[..back.len().min(64)])
    );
    let empty = format!("{temp}/conformance/empty");
    job.write(&empty, b"").await;
    ensure!(
        job,
        job.read(&empty).await.is_empty(),
        "{empty} is not empty"
    );
    let big_path = format!("{temp}/conformance/big.bin");
    let big: Vec<u8> = (0..1_500_000u32).map(|i| (i % 251) as u8).collect();
    job.write(&big_path, &big).await;
    let back = job.read(&big_path).await;
    ensure!(
        job,
        back == big,
        "a 1.5 MB file read back as {} bytes, not as written",
        back.len()
    );

    let script = format!("{temp}/conformance/script.sh");
    job.write(&script, b"echo from the script \"$@\"\n").await;
    let (status, lines) = job.run(&Exec::new(["sh", script.as_str(), "x"])).await;
    ensure!(
        job,
        status.success() && lines == [(OutputStream::Stdout, "from the script x".to_string())],
        "running a written script: {status}, {lines:?}"
    );
    let written = format!("{}/written-by-a-step.txt", job.workspace());
    job.sh_ok(&format!("printf 'a\\nb' > {written}")).await;
    let back = job.read(&written).await;
    ensure!(
        job,
        back == b"a\nb",
        "a file a process wrote reads back as {:?}",
        String::from_utf8_lossy(&back)
    );
    job.stop().await;
}

/// Missing files: reading a file that does not exist (also in a directory that does not) is
/// [`BackendError::NotFound`].
pub async fn missing_file(target: &Target<'_>) {
    let job = target.start("missing file").await;
    for missing in [
        format!("{}/no-such-file", job.temp()),
        format!("{}/no/such/dir/file", job.workspace()),
    ] {
        let result = job.within("read_file", job.env().read_file(&missing)).await;
        ensure!(
            job,
            matches!(result, Err(BackendError::NotFound(_))),
            "read_file({missing}): {:?}, expected NotFound",
            result.map(|b| b.len())
        );
    }
    job.stop().await;
}

/// The workspace: a copy of [`JobSpec::source_dir`] (every file, dot files, nested
/// directories, executable bits) that the job can change without touching the source (unless
/// [`JobSpec::bind_workspace`]); the workspace, temp, tool-cache and home directories exist;
/// `runner_info` names a known OS and architecture.
pub async fn workspace_content(target: &Target<'_>) {
    let job = target.start("workspace content").await;
    let ws = job.workspace();
    for (rel, text, _) in SOURCE_FILES {
        let back = job.read(&format!("{ws}/{rel}")).await;
        ensure!(
            job,
            back == text.as_bytes(),
            "{ws}/{rel} reads {:?}, expected {text:?}",
            String::from_utf8_lossy(&back)
        );
    }
    let out = job.sh_ok("test -x bin/tool.sh && ./bin/tool.sh one").await;
    ensure!(job, out == ["tool ran with one"], "bin/tool.sh: {out:?}");

    let paths = job.env().paths().clone();
    let dirs = [
        &paths.workspace,
        &paths.temp,
        &paths.tool_cache,
        &paths.home,
    ];
    let script = dirs
        .iter()
        .map(|d| format!("[ -d '{d}' ] || echo 'missing {d}';"))
        .collect::<String>();
    let (status, lines) = job.run(&sh(&script)).await;
    ensure!(
        job,
        status.success() && lines.is_empty(),
        "the job's directories {paths:?}: {lines:?}"
    );
    ensure!(
        job,
        paths.workspace != paths.temp,
        "workspace and temp are the same directory"
    );
    let info = job.env().runner_info();
    ensure!(
        job,
        ["Linux", "macOS", "Windows"].contains(&info.os.as_str())
            && ["X86", "X64", "ARM", "ARM64"].contains(&info.arch.as_str())
            && !info.name.is_empty(),
        "runner_info {info:?}"
    );

    if !target.template.bind_workspace {
        job.write(&format!("{ws}/README.md"), b"changed in the job\n")
            .await;
        job.sh_ok("echo new > made-in-the-job.txt").await;
        let source = &job.source.path;
        let readme = std::fs::read_to_string(source.join("README.md")).unwrap_or_default();
        ensure!(
            job,
            readme == "conformance fixture\n" && !source.join("made-in-the-job.txt").exists(),
            "changes in the workspace reached the source tree {}",
            source.display()
        );
    }
    job.stop().await;
}

/// Cancellation, first signal: a process that stops on SIGINT is stopped by SIGINT when its
/// token fires (before the kill policy's SIGTERM) and the status is `cancelled`, ended by
/// signal 2; a token cancelled before the exec starts, or while it starts, yields a
/// `cancelled` status at once.
pub async fn cancel_with_sigint(target: &Target<'_>) {
    let job = target.start("cancel with SIGINT").await;
    let cancel = CancellationToken::new();
    let sink = CancelOn::new("started", cancel.clone());
    let mut exec = sh("echo started; exec sleep 300");
    exec.kill_policy = KillPolicy {
        after_sigint: Duration::from_secs(5),
        after_sigterm: Duration::from_secs(5),
    };
    let status = job.run_with(&exec, &sink, cancel).await;
    let took = sink.fired().map(|t| t.elapsed());
    ensure!(
        job,
        status.cancelled && status.signal == Some(libc::SIGINT) && status.code.is_none(),
        "a cancelled `sleep` ended with {status:?}, expected cancelled by signal 2"
    );
    ensure!(
        job,
        took.is_some_and(|t| t < Duration::from_secs(4)),
        "SIGINT should have stopped `sleep` at once; it took {took:?} after cancellation"
    );

    let cancel = CancellationToken::new();
    cancel.cancel();
    let started = Instant::now();
    let status = job.run_with(&exec, &VecLogSink::default(), cancel).await;
    ensure!(
        job,
        status.cancelled && !status.success(),
        "an exec whose token was cancelled before it started ended with {status:?}"
    );
    ensure!(
        job,
        started.elapsed() < Duration::from_secs(4),
        "an exec cancelled before it started took {:?}",
        started.elapsed()
    );

    // Cancelled while the environment is still starting the process: SIGINT is not lost.
    for delay_ms in [0, 1, 3, 10, 30] {
        let cancel = CancellationToken::new();
        let later = cancel.clone();
        let sink = VecLogSink::default();
        let (status, took) = tokio::join!(job.run_with(&exec, &sink, cancel), async move {
            tokio::time::sleep(Duration::from_millis(delay_ms)).await;
            later.cancel();
            Instant::now()
        });
        let took = took.elapsed();
        ensure!(
            job,
            status.cancelled && !status.success() && took < Duration::from_secs(4),
            "an exec cancelled {delay_ms} ms after it was asked for ended with {status:?} {took:?} after cancellation (SIGINT lost?)"
        );
    }
    job.stop().await;
}

/// Cancellation, escalation: a process that ignores SIGINT gets SIGTERM after
/// [`KillPolicy::after_sigint`]; one that ignores both gets SIGKILL after
/// [`KillPolicy::after_sigterm`] more; the signals go to the whole process group (a background
/// child started by the step dies too); the status is `cancelled` with the last signal.
pub async fn cancel_escalation(target: &Target<'_>) {
    let job = target.start("cancel escalation").await;
    let policy = short_kill_policy();

    let cancel = CancellationToken::new();
    let sink = CancelOn::new("started", cancel.clone());
    let mut exec = sh("trap '' INT; echo started; while :; do sleep 0.05; done");
    exec.kill_policy = policy;
    let status = job.run_with(&exec, &sink, cancel).await;
    let took = sink.fired().map(|t| t.elapsed()).unwrap_or_default();
    ensure!(
        job,
        status.cancelled && status.signal == Some(libc::SIGTERM),
        "a process ignoring SIGINT ended with {status:?}, expected cancelled by signal 15"
    );
    ensure!(
        job,
        took >= policy.after_sigint,
        "SIGTERM came {took:?} after cancellation, before the policy's {:?}",
        policy.after_sigint
    );

    let pidfile = format!("{}/conformance-child.pid", job.temp());
    let cancel = CancellationToken::new();
    let sink = CancelOn::new("started", cancel.clone());
    let mut exec = sh(&format!(
        "trap '' INT TERM; sleep 300 & echo $! > {pidfile}; echo started; while :; do sleep 0.05; done"
    ));
    exec.kill_policy = policy;
    let status = job.run_with(&exec, &sink, cancel).await;
    let took = sink.fired().map(|t| t.elapsed()).unwrap_or_default();
    ensure!(
        job,
        status.cancelled && status.signal == Some(libc::SIGKILL),
        "a process ignoring SIGINT and SIGTERM ended with {status:?}, expected cancelled by signal 9"
    );
    let both = policy.after_sigint + policy.after_sigterm;
    ensure!(
        job,
        took >= both,
        "SIGKILL came {took:?} after cancellation, before the policy's {both:?}"
    );
    let child = String::from_utf8_lossy(&job.read(&pidfile).await)
        .trim()
        .to_string();
    let (status, _) = job
        .run(&Exec::new([
            "sh",
            "-c",
            GONE_WITHIN_5S,
            "gone",
            child.as_str(),
        ]))
        .await;
    ensure!(
        job,
        status.success(),
        "the cancelled step's background child {child} is still running: the signals did not reach its process group"
    );
    job.stop().await;
}

/// Background processes: a step that leaves a background process running (holding its stdout
/// and stderr) still ends when its main process exits, with its output.
pub async fn background_process(target: &Target<'_>) {
    let job = target.start("background process").await;
    let started = Instant::now();
    let (status, lines) = job.run(&sh("sleep 30 & echo done")).await;
    let took = started.elapsed();
    ensure!(
        job,
        status.success() && lines == [(OutputStream::Stdout, "done".to_string())],
        "{status}, {lines:?}"
    );
    ensure!(
        job,
        took < Duration::from_secs(10),
        "the step took {took:?}: its background `sleep 30` held it open"
    );
    job.stop().await;
}

/// Concurrency: execs running at the same time in one environment keep their output and exit
/// codes apart.
pub async fn concurrent_execs(target: &Target<'_>) {
    let job = target.start("concurrent execs").await;
    let one = |i: i32| {
        let job = &job;
        async move {
            let script = format!(
                "for n in 1 2 3; do echo step{i}-$n; echo err{i} >&2; sleep 0.05; done; exit {i}"
            );
            let (status, lines) = job.run(&sh(&script)).await;
            (i, status, lines)
        }
    };
    let (a, b, c, d) = tokio::join!(one(1), one(2), one(3), one(4));
    for (i, status, lines) in [a, b, c, d] {
        let want: Vec<String> = (1..=3).map(|n| format!("step{i}-{n}")).collect();
        ensure!(
            job,
            status.code == Some(i)
                && of(&lines, OutputStream::Stdout) == want
                && of(&lines, OutputStream::Stderr) == vec![format!("err{i}"); 3],
            "concurrent exec {i}: {status:?}, {lines:?}"
        );
    }
    job.stop().await;
}

/// Stopping: [`JobEnv::stop`] succeeds, a second call succeeds too, and an exec after it is an
/// error (not a status).
pub async fn stop(target: &Target<'_>) {
    let job = target.start("stop").await;
    job.sh_ok("sleep 300 >/dev/null 2>&1 &").await;
    for n in ["first", "second"] {
        let result = job.within("stop()", job.env().stop()).await;
        ensure!(job, result.is_ok(), "the {n} stop(): {result:?}");
    }
    let result = job
        .within(
            "exec after stop",
            job.env().exec(
                &Exec::new(["true"]),
                &VecLogSink::default(),
                CancellationToken::new(),
            ),
        )
        .await;
    ensure!(
        job,
        result.is_err(),
        "exec after stop() returned {result:?}, expected an error"
    );
}

/// Action directories: [`JobEnv::provide_action_dir`] makes a directory of this machine usable
/// inside: its files (nested, executable bits kept) read back and run from the returned path,
/// which is the directory itself when the environment is this machine and
/// `<work>/_actions/<layout>` when the files had to be copied; a directory of a workspace shared
/// with this machine maps to the matching workspace path.
pub async fn provide_action_dir(target: &Target<'_>) {
    let job = target.start("provide action dir").await;
    let action = SourceTree::create();
    let host_dir = action.path.as_path();
    let layout = "conformance/action/v1";
    let what = "provide_action_dir";
    let inside = match job
        .within(what, job.env().provide_action_dir(host_dir, layout))
        .await
    {
        Ok(p) => p,
        Err(e) => job.fail(format!("{what}({}) failed: {e}", host_dir.display())),
    };
    let paths = job.env().paths().clone();
    let expected = if action_container::is_host(&paths) {
        host_dir.to_string_lossy().into_owned()
    } else {
        format!("{}/{layout}", action_container::actions_root(&paths))
    };
    ensure!(
        job,
        inside == expected,
        "provide_action_dir returned {inside}, expected {expected}"
    );
    for (rel, text, _) in SOURCE_FILES {
        let back = job.read(&format!("{inside}/{rel}")).await;
        ensure!(
            job,
            back == text.as_bytes(),
            "{inside}/{rel} reads {:?}, expected {text:?}",
            String::from_utf8_lossy(&back)
        );
    }
    let (status, lines) = job
        .run(&Exec::new([format!("{inside}/bin/tool.sh"), "two".into()]))
        .await;
    ensure!(
        job,
        status.success() && lines == [(OutputStream::Stdout, "tool ran with two".to_string())],
        "running {inside}/bin/tool.sh: {status}, {lines:?}"
    );

    if let Some(host_ws) = paths.host_workspace.clone() {
        let local = host_ws.join("src/nested");
        let got = job
            .within(what, job.env().provide_action_dir(&local, "local"))
            .await;
        let want = format!("{}/src/nested", paths.workspace);
        ensure!(
            job,
            got.as_deref().ok() == Some(want.as_str()),
            "a directory of the shared workspace ({}) maps to {got:?}, expected {want}",
            local.display()
        );
    }
    drop(action);
    job.stop().await;
}

/// Docker actions (opt-in: needs a Docker engine reachable from the environment and `image`
/// there, with `sh`): [`JobEnv::run_action_container`] runs `image` with the entrypoint and
/// arguments asked for, the environment given, GitHub's mounts (the workspace at
/// `/github/workspace`, also the working directory; the file-command directory at
/// `/github/file_commands`), streams kept apart and the exact exit code; when cancelled, the
/// container is stopped and the status is `cancelled`.
pub async fn run_action_container(target: &Target<'_>, image: &str) {
    let job = target.start("run action container").await;
    let paths = job.env().paths().clone();
    job.write(
        &format!("{}/input.txt", paths.workspace),
        b"from the workspace\n",
    )
    .await;
    let output_file = format!("{}/set_output_conformance", paths.file_commands_dir());
    job.write(&output_file, b"").await;
    job.write(
        &format!("{}/_github_workflow/event.json", paths.temp),
        b"{}",
    )
    .await;

    let mut c = ActionContainer::new(
        "conformance/docker-action@v1",
        ActionImage::Image(image.to_string()),
        &paths,
    );
    c.entrypoint = Some("sh".into());
    c.args = vec![
        "-c".into(),
        "cat input.txt; echo \"$GREETING\"; pwd; echo to stderr >&2; echo made > made-by-action.txt; echo out=1 >> \"$GITHUB_OUTPUT\"; exit 3".into(),
    ];
    c.env = vec![
        ("GREETING".into(), "hello action".into()),
        ("GITHUB_OUTPUT".into(), output_file.clone()),
    ];
    c.translate_env();
    c.kill_policy = short_kill_policy();
    let sink = VecLogSink::default();
    let what = "run_action_container";
    let status = match job
        .within(
            what,
            job.env()
                .run_action_container(&c, &sink, CancellationToken::new()),
        )
        .await
    {
        Ok(s) => s,
        Err(e) => job.fail(format!("{what} failed: {e}")),
    };
    let lines = sink.lines();
    ensure!(
        job,
        status.code == Some(3) && !status.cancelled,
        "the action container ended with {status:?}, expected exit code 3; output {lines:?}"
    );
    let want = ["from the workspace", "hello action", "/github/workspace"];
    ensure!(
        job,
        of(&lines, OutputStream::Stdout) == want
            && of(&lines, OutputStream::Stderr) == ["to stderr"],
        "the action container's output {lines:?}, expected stdout {want:?} and stderr [\"to stderr\"]"
    );
    let made = job
        .read(&format!("{}/made-by-action.txt", paths.workspace))
        .await;
    ensure!(
        job,
        made == b"made\n",
        "made-by-action.txt in the workspace: {:?}",
        String::from_utf8_lossy(&made)
    );
    let outputs = job.read(&output_file).await;
    ensure!(
        job,
        outputs == b"out=1\n",
        "GITHUB_OUTPUT through /github/file_commands: {:?}",
        String::from_utf8_lossy(&outputs)
    );

    let mut c = c.clone();
    c.args = vec!["-c".into(), "echo started; sleep 300".into()];
    let cancel = CancellationToken::new();
    let sink = CancelOn::new("started", cancel.clone());
    let status = match job
        .within(what, job.env().run_action_container(&c, &sink, cancel))
        .await
    {
        Ok(s) => s,
        Err(e) => job.fail(format!("the cancelled {what} failed: {e}")),
    };
    let took = sink.fired().map(|t| t.elapsed());
    ensure!(
        job,
        status.cancelled && !status.success(),
        "a cancelled action container ended with {status:?}"
    );
    ensure!(
        job,
        took.is_some_and(|t| t < Duration::from_secs(30)),
        "a cancelled action container took {took:?} to stop"
    );
    job.stop().await;
}

/// Calls macro `$m` with the names of every check but the opt-in [`run_action_container`],
/// comma-separated: a backend's test file makes one test per check from it, and picks up checks
/// added later without listing them.
///
/// ```
/// macro_rules! count {
///     ($($check:ident),+ $(,)?) => { [$(stringify!($check)),+].len() };
/// }
/// assert_eq!(gha_exec::conformance_checks!(count), 15);
/// ```
#[macro_export]
macro_rules! conformance_checks {
    ($m:ident) => {
        $m! {
            exit_codes,
            output_streams,
            long_lines,
            env_per_exec,
            working_directory,
            missing_program,
            file_round_trips,
            missing_file,
            workspace_content,
            cancel_with_sigint,
            cancel_escalation,
            background_process,
            concurrent_execs,
            stop,
            provide_action_dir
        }
    };
}

/// Every check but the opt-in [`run_action_container`], one after the other.
pub async fn run_all(target: &Target<'_>) {
    exit_codes(target).await;
    output_streams(target).await;
    long_lines(target).await;
    env_per_exec(target).await;
    working_directory(target).await;
    missing_program(target).await;
    file_round_trips(target).await;
    missing_file(target).await;
    workspace_content(target).await;
    cancel_with_sigint(target).await;
    cancel_escalation(target).await;
    background_process(target).await;
    concurrent_execs(target).await;
    stop(target).await;
    provide_action_dir(target).await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ExitStatus, HostBackend, HostBackendOptions, JobEnv, JobPaths};

    /// A host job environment that breaks one contract item, to see the suite notice.
    struct Broken {
        inner: Box<dyn JobEnv>,
        flaw: Flaw,
    }

    #[derive(Clone, Copy)]
    enum Flaw {
        /// Every non-zero exit code becomes 1.
        FlattensCodes,
        /// stderr lines are delivered as stdout.
        MergesStreams,
        /// A missing file reads as empty.
        MissingFileIsEmpty,
        /// Cancellation is ignored.
        IgnoresCancel,
    }

    #[async_trait::async_trait]
    impl JobEnv for Broken {
        fn paths(&self) -> &JobPaths {
            self.inner.paths()
        }
        async fn exec(
            &self,
            exec: &Exec,
            sink: &dyn LogSink,
            cancel: CancellationToken,
        ) -> Result<ExitStatus, BackendError> {
            struct Merge<'a>(&'a dyn LogSink);
            impl LogSink for Merge<'_> {
                fn line(&self, _: OutputStream, line: &str) {
                    self.0.line(OutputStream::Stdout, line)
                }
            }
            match self.flaw {
                Flaw::FlattensCodes => {
                    let mut s = self.inner.exec(exec, sink, cancel).await?;
                    if s.code.is_some_and(|c| c != 0) {
                        s.code = Some(1);
                    }
                    Ok(s)
                }
                Flaw::MergesStreams => self.inner.exec(exec, &Merge(sink), cancel).await,
                Flaw::IgnoresCancel => {
                    let mut exec = exec.clone();
                    // Never cancelled: run to the end (bounded for the test).
                    if exec.argv.iter().any(|a| a.contains("sleep 300")) {
                        exec.argv = vec!["sleep".into(), "1".into()];
                    }
                    self.inner.exec(&exec, sink, CancellationToken::new()).await
                }
                Flaw::MissingFileIsEmpty => self.inner.exec(exec, sink, cancel).await,
            }
        }
        async fn write_file(&self, path: &str, contents: &[u8]) -> Result<(), BackendError> {
            self.inner.write_file(path, contents).await
        }
        async fn read_file(&self, path: &str) -> Result<Vec<u8>, BackendError> {
            match (self.flaw, self.inner.read_file(path).await) {
                (Flaw::MissingFileIsEmpty, Err(BackendError::NotFound(_))) => Ok(Vec::new()),
                (_, r) => r,
            }
        }
        async fn stop(&self) -> Result<(), BackendError> {
            self.inner.stop().await
        }
    }

    struct BrokenBackend {
        host: HostBackend,
        flaw: Flaw,
    }

    #[async_trait::async_trait]
    impl Backend for BrokenBackend {
        fn name(&self) -> &str {
            "broken"
        }
        async fn start_job(&self, spec: &JobSpec) -> Result<Box<dyn JobEnv>, BackendError> {
            Ok(Box::new(Broken {
                inner: self.host.start_job(spec).await?,
                flaw: self.flaw,
            }))
        }
    }

    /// The panic message of `check` run against a host backend with `flaw`.
    fn failure_of<F>(flaw: Flaw, check: F) -> String
    where
        F: for<'t> FnOnce(
                &'t Target<'t>,
            )
                -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + 't>>
            + Send
            + 'static,
    {
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Runtime::new().unwrap();
            let runs = tempfile::tempdir().unwrap();
            let backend = BrokenBackend {
                host: HostBackend::new(HostBackendOptions::new(runs.path())),
                flaw,
            };
            let target = Target::new(&backend, JobSpec::new("t", "/unused"));
            let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                runtime.block_on(check(&target))
            }));
            match caught {
                Ok(()) => panic!("the check passed a broken environment"),
                Err(p) => p
                    .downcast_ref::<String>()
                    .cloned()
                    .unwrap_or_else(|| "a non-string panic".into()),
            }
        })
        .join()
        .unwrap()
    }

    #[test]
    fn checks_fail_on_environments_that_break_the_contract() {
        let m = failure_of(Flaw::FlattensCodes, |t| Box::pin(exit_codes(t)));
        assert!(
            m.starts_with("JobEnv conformance [broken] exit codes: `exit 2` ended with"),
            "{m}"
        );
        let m = failure_of(Flaw::MergesStreams, |t| Box::pin(output_streams(t)));
        assert!(m.contains("output streams: stdout lines"), "{m}");
        let m = failure_of(Flaw::MissingFileIsEmpty, |t| Box::pin(missing_file(t)));
        assert!(m.contains("expected NotFound"), "{m}");
        let m = failure_of(Flaw::IgnoresCancel, |t| Box::pin(cancel_with_sigint(t)));
        assert!(m.contains("expected cancelled by signal 2"), "{m}");
    }
}
