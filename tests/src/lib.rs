//! End-to-end suites for `gha`: they run the built `gha` binary on real workflows (the
//! fixtures in `tests/fixtures/`) and check its output, exit code and `--report`.
//!
//! [`Gha`] finds the binary (building it with cargo when it is missing) and runs it in a
//! scratch repository, on one of the [`Backend`]s: the suites run every test once per backend
//! with [`backend_tests!`]. Under `--backend ecs`, an [`ecs::Scheduler`] plays ECS's part
//! against moto_server; after every run the harness checks that the backend left nothing
//! behind (containers, networks and volumes of the run; RUNNING tasks; agent processes).

pub mod backend;
pub mod ecs;

pub use backend::{BASE_IMAGE, Backend, docker_available};

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// The `gha` binary of this workspace: `target/<profile>/gha` next to the test executable,
/// built with `cargo build -p gha-cli` first when it is not there.
pub fn gha_binary() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let exe = std::env::current_exe().expect("test executable path");
        // target/<profile>/deps/<test> -> target/<profile>/gha
        let profile_dir = exe
            .parent()
            .and_then(Path::parent)
            .expect("target/<profile>")
            .to_path_buf();
        let bin = profile_dir.join("gha");
        if !bin.exists() {
            let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.toml");
            let target_dir = profile_dir.parent().expect("target dir");
            let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
            cmd.args([
                "build",
                "-q",
                "-p",
                "gha-cli",
                "--bin",
                "gha",
                "--manifest-path",
            ])
            .arg(&manifest)
            .arg("--target-dir")
            .arg(target_dir);
            if profile_dir.file_name().is_some_and(|n| n == "release") {
                cmd.arg("--release");
            }
            let status = cmd.status().expect("running cargo build");
            assert!(status.success(), "building gha failed");
        }
        bin
    })
    .clone()
}

/// The fixtures directory.
pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

/// A scratch repository with one workflow, and helpers to run `gha` in it.
pub struct Gha {
    /// The repository (a fresh git repository with one commit).
    pub repo: tempfile::TempDir,
    /// Where `--report` files go.
    pub out: tempfile::TempDir,
    /// Where `gha run` runs jobs ([`Backend::Host`] unless [`Gha::on`] says otherwise).
    pub backend: Backend,
    cluster: Option<ecs::Cluster>,
}

/// What a `gha run` produced.
pub struct RunResult {
    /// The process output.
    pub output: Output,
    /// The `--report` JSON (`Null` when none was written).
    pub report: serde_json::Value,
    /// The `gha` process id, which is also the run's `github.run_id`.
    pub pid: u32,
    /// Under `--backend ecs`: every agent the scheduler started, with how it ended.
    pub agents: Vec<ecs::AgentExit>,
}

impl RunResult {
    /// The exit code.
    pub fn code(&self) -> i32 {
        self.output.status.code().unwrap_or(-1)
    }
    /// Standard output.
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.output.stdout).into_owned()
    }
    /// Standard error.
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.output.stderr).into_owned()
    }
    /// The report's job instances with this id.
    pub fn jobs(&self, id: &str) -> Vec<&serde_json::Value> {
        self.report["jobs"]
            .as_array()
            .map(|a| a.iter().filter(|j| j["id"] == id).collect())
            .unwrap_or_default()
    }
    /// The one job instance with this id.
    pub fn job(&self, id: &str) -> &serde_json::Value {
        let jobs = self.jobs(id);
        assert_eq!(jobs.len(), 1, "expected one job '{id}' in {}", self.report);
        jobs[0]
    }
    /// A step of a job, by step id.
    pub fn step(&self, job: &str, step: &str) -> &serde_json::Value {
        self.job(job)["steps"]
            .as_array()
            .and_then(|s| s.iter().find(|s| s["id"] == step))
            .unwrap_or_else(|| panic!("no step '{step}' in job '{job}': {}", self.report))
    }
    /// Everything printed (and, under ECS, what the agents printed), for messages.
    pub fn all_output(&self) -> String {
        let mut all = format!(
            "--- stdout\n{}\n--- stderr\n{}",
            self.stdout(),
            self.stderr()
        );
        for a in &self.agents {
            all.push_str(&format!(
                "\n--- agent of {} (exit {:?})\n{}",
                a.task, a.code, a.stderr
            ));
        }
        all
    }
    /// The values printed by steps as `KEY=VALUE` words (e.g. `pgid=1234`), in output order.
    pub fn printed(&self, key: &str) -> Vec<String> {
        printed(&self.stdout(), key)
    }
}

/// The values of `KEY=VALUE` words in `text` (steps print them; the renderer prefixes lines).
pub fn printed(text: &str, key: &str) -> Vec<String> {
    let prefix = format!("{key}=");
    text.split_whitespace()
        .filter_map(|w| w.strip_prefix(&prefix))
        .map(str::to_string)
        .collect()
}

/// A `gha run` in progress (see [`Gha::spawn_run`]): its standard output is collected as it
/// comes, so that a test can wait for a line and then, say, interrupt the run.
pub struct Running {
    /// The `gha` process.
    pub child: Child,
    stdout: Arc<Mutex<Vec<u8>>>,
    stderr: Arc<Mutex<Vec<u8>>>,
    readers: Vec<std::thread::JoinHandle<()>>,
    scheduler: Option<ecs::Scheduler>,
    report: PathBuf,
    backend: Backend,
}

impl Running {
    /// Standard output so far.
    pub fn stdout_so_far(&self) -> String {
        String::from_utf8_lossy(&self.stdout.lock().unwrap()).into_owned()
    }

    /// Waits until standard output contains `needle`; panics after `within`.
    pub fn wait_for_output(&mut self, needle: &str, within: Duration) -> String {
        let deadline = Instant::now() + within;
        loop {
            let out = self.stdout_so_far();
            if out.contains(needle) {
                return out;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                std::thread::sleep(Duration::from_millis(50));
                panic!(
                    "gha exited ({status}) before printing `{needle}`:\n{}\n--- stderr\n{}",
                    self.stdout_so_far(),
                    String::from_utf8_lossy(&self.stderr.lock().unwrap())
                );
            }
            assert!(
                Instant::now() < deadline,
                "`{needle}` not printed within {within:?}:\n{out}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Sends `signal` to `gha`.
    pub fn signal(&self, signal: i32) {
        // SAFETY: sending a signal to our own child.
        unsafe {
            libc::kill(self.child.id() as i32, signal);
        }
    }

    /// Waits for `gha` to exit, then checks that the backend left nothing behind (see
    /// [`Gha`]), panicking with the run's output when it did.
    pub fn wait(mut self) -> RunResult {
        let status: ExitStatus = self.child.wait().expect("waiting for gha");
        for r in self.readers.drain(..) {
            let _ = r.join();
        }
        let pid = self.child.id();
        let output = Output {
            status,
            stdout: std::mem::take(&mut *self.stdout.lock().unwrap()),
            stderr: std::mem::take(&mut *self.stderr.lock().unwrap()),
        };
        let report = std::fs::read_to_string(&self.report)
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or(serde_json::Value::Null);
        let mut problems = Vec::new();
        let mut agents = Vec::new();
        if let Some(s) = self.scheduler.take() {
            let seen = s.finish();
            agents = seen.agents;
            problems = seen.problems;
            for a in &agents {
                if a.code != Some(0) {
                    problems.push(format!("the agent of {} exited with {:?}", a.task, a.code));
                }
            }
        }
        if self.backend.is_docker() {
            problems.extend(docker_leftovers(pid));
        }
        let result = RunResult {
            output,
            report,
            pid,
            agents,
        };
        assert!(
            problems.is_empty(),
            "{} backend: {}\n{}",
            self.backend.name(),
            problems.join("; "),
            result.all_output()
        );
        result
    }
}

/// Containers, networks and volumes of run `run_id` (the labels the Docker backend puts on
/// everything it makes) that still exist, removed and described.
pub fn docker_leftovers(run_id: u32) -> Vec<String> {
    let label = format!("label=io.gha-runner.run-id={run_id}");
    let mut problems = Vec::new();
    for (kind, list, rm) in [
        ("container", vec!["ps", "-aq"], vec!["rm", "-f"]),
        (
            "network",
            vec!["network", "ls", "-q"],
            vec!["network", "rm"],
        ),
        (
            "volume",
            vec!["volume", "ls", "-q"],
            vec!["volume", "rm", "-f"],
        ),
    ] {
        let mut args = list.clone();
        args.extend(["--filter", label.as_str()]);
        let left = ecs::docker_lines(&args);
        if !left.is_empty() {
            problems.push(format!("{kind}s left behind: {left:?}"));
            let mut args = rm.clone();
            args.extend(left.iter().map(String::as_str));
            let _ = Command::new("docker")
                .args(&args)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
    }
    problems
}

impl Gha {
    /// A scratch repository containing `workflow` at `.github/workflows/ci.yml`.
    pub fn with_workflow(workflow: &str) -> Gha {
        let gha = Gha::empty();
        gha.write(".github/workflows/ci.yml", workflow);
        gha.commit();
        gha
    }

    /// A scratch repository containing the fixture `name` at `.github/workflows/<name>`.
    pub fn with_fixture(name: &str) -> Gha {
        let text = std::fs::read_to_string(fixtures().join(name)).expect("fixture");
        let gha = Gha::empty();
        gha.write(&format!(".github/workflows/{name}"), &text);
        gha.commit();
        gha
    }

    /// An empty scratch git repository.
    pub fn empty() -> Gha {
        let repo = tempfile::tempdir().expect("tempdir");
        let out = tempfile::tempdir().expect("tempdir");
        let gha = Gha {
            repo,
            out,
            backend: Backend::Host,
            cluster: None,
        };
        gha.git(&["init", "-q", "-b", "main"]);
        gha
    }

    /// Runs this repository's `gha run`s on `backend` (for ECS: in a cluster of its own).
    pub fn on(mut self, backend: Backend) -> Gha {
        self.backend = backend;
        if backend.is_ecs() && self.cluster.is_none() {
            let endpoint = ecs::moto_endpoint().expect("moto answers (Backend::available)");
            self.cluster = Some(ecs::Cluster::create(&endpoint));
        }
        self
    }

    /// The ECS cluster of this repository's runs (`None` unless on an ECS backend).
    pub fn cluster(&self) -> Option<&ecs::Cluster> {
        self.cluster.as_ref()
    }

    /// Writes a file in the repository.
    pub fn write(&self, path: &str, text: &str) {
        let p = self.repo.path().join(path);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(p, text).expect("write");
    }

    /// Commits everything.
    pub fn commit(&self) {
        self.git(&["add", "-A"]);
        self.git(&["commit", "-q", "--allow-empty", "-m", "test"]);
    }

    fn git(&self, args: &[&str]) {
        let ok = Command::new("git")
            .arg("-C")
            .arg(self.repo.path())
            .args(args)
            .env("GIT_AUTHOR_NAME", "Test")
            .env("GIT_AUTHOR_EMAIL", "test@example.com")
            .env("GIT_COMMITTER_NAME", "Test")
            .env("GIT_COMMITTER_EMAIL", "test@example.com")
            .stdout(Stdio::null())
            .status()
            .expect("git")
            .success();
        assert!(ok, "git {args:?}");
    }

    /// A `gha` command in the repository (any subcommand; the backend is not added).
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(gha_binary());
        cmd.args(args)
            .current_dir(self.repo.path())
            .env_remove("GITHUB_ACTIONS")
            .env_remove("ACTIONS_STEP_DEBUG")
            .env("TMPDIR", self.out.path())
            .stdin(Stdio::null());
        cmd
    }

    /// Runs `gha <args>` to completion (any subcommand; the backend is not added).
    pub fn output(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("running gha")
    }

    /// `gha run <backend flags> <args>` with this repository's backend settings (the
    /// GHA_ECS_* variables of its cluster under ECS), not started yet.
    pub fn run_command(&self, args: &[&str]) -> Command {
        let mut all: Vec<String> = vec!["run".into()];
        all.extend(self.backend.run_flags());
        all.extend(args.iter().map(|a| a.to_string()));
        let all: Vec<&str> = all.iter().map(String::as_str).collect();
        let mut cmd = self.command(&all);
        if let Some(c) = &self.cluster {
            cmd.envs(c.env());
        }
        cmd
    }

    /// Starts `gha run <args> --report <file>` on this repository's backend, with the ECS
    /// scheduler running when the backend is ECS; `tweak` may add arguments or environment.
    pub fn spawn_run_with(&self, args: &[&str], tweak: impl FnOnce(&mut Command)) -> Running {
        let report = self.out.path().join("report.json");
        let _ = std::fs::remove_file(&report);
        let report_s = report.to_string_lossy().into_owned();
        let mut all = args.to_vec();
        all.extend_from_slice(&["--report", &report_s]);
        let mut cmd = self.run_command(&all);
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        tweak(&mut cmd);
        let scheduler = self
            .cluster
            .as_ref()
            .map(|c| ecs::Scheduler::start(c, self.backend == Backend::EcsAgentInContainer));
        let mut child = cmd.spawn().expect("running gha");
        let stdout = Arc::new(Mutex::new(Vec::new()));
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let mut readers = Vec::new();
        if let Some(pipe) = child.stdout.take() {
            readers.push(collect(pipe, stdout.clone()));
        }
        if let Some(pipe) = child.stderr.take() {
            readers.push(collect(pipe, stderr.clone()));
        }
        Running {
            child,
            stdout,
            stderr,
            readers,
            scheduler,
            report,
            backend: self.backend,
        }
    }

    /// [`Gha::spawn_run_with`] without changes.
    pub fn spawn_run(&self, args: &[&str]) -> Running {
        self.spawn_run_with(args, |_| {})
    }

    /// `gha run <args> --report <file>` on this repository's backend, to completion, with the
    /// parsed report; panics when the backend left something behind.
    pub fn run(&self, args: &[&str]) -> RunResult {
        self.spawn_run(args).wait()
    }

    /// [`Gha::run`] with `tweak` applied to the command first.
    pub fn run_with(&self, args: &[&str], tweak: impl FnOnce(&mut Command)) -> RunResult {
        self.spawn_run_with(args, tweak).wait()
    }
}

/// Copies `pipe` into `into` as it comes, on a thread of its own.
fn collect(
    mut pipe: impl Read + Send + 'static,
    into: Arc<Mutex<Vec<u8>>>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let mut buf = [0u8; 8192];
        loop {
            match pipe.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => into.lock().unwrap().extend_from_slice(&buf[..n]),
            }
        }
    })
}

/// Whether a process exists and is not a zombie.
pub fn process_alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rsplit_once(") ")
            .and_then(|(_, r)| r.chars().next())
            .is_some_and(|state| state != 'Z'),
        Err(_) => false,
    }
}

/// Live (non-zombie) members of process group `pgid`.
pub fn group_members(pgid: i32) -> Vec<i32> {
    let mut pids = Vec::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return pids;
    };
    for e in entries.flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let Some((_, rest)) = stat.rsplit_once(") ") else {
            continue;
        };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        // state ppid pgrp ...
        if fields.len() > 2 && fields[2].parse::<i32>() == Ok(pgid) && fields[0] != "Z" {
            pids.push(pid);
        }
    }
    pids
}
