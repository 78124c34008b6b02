//! End-to-end suites for `gha`: they run the built `gha` binary on real workflows (the
//! fixtures in `tests/fixtures/`) and check its output, exit code and `--report`.
//!
//! [`Gha`] finds the binary (building it with cargo when it is missing) and runs it in a
//! scratch repository.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

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
}

/// What a `gha run` produced.
pub struct RunResult {
    /// The process output.
    pub output: Output,
    /// The `--report` JSON (`Null` when none was written).
    pub report: serde_json::Value,
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
    /// Everything printed, for messages.
    pub fn all_output(&self) -> String {
        format!(
            "--- stdout\n{}\n--- stderr\n{}",
            self.stdout(),
            self.stderr()
        )
    }
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
        let gha = Gha { repo, out };
        gha.git(&["init", "-q", "-b", "main"]);
        gha
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

    /// A `gha` command in the repository.
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

    /// Runs `gha <args>` to completion.
    pub fn output(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("running gha")
    }

    /// `gha run <args> --report <file>`, returning the output and the parsed report.
    pub fn run(&self, args: &[&str]) -> RunResult {
        let report = self.out.path().join("report.json");
        let _ = std::fs::remove_file(&report);
        let mut all = vec!["run"];
        all.extend_from_slice(args);
        let report_s = report.to_string_lossy().into_owned();
        all.extend_from_slice(&["--report", &report_s]);
        let output = self.output(&all);
        let report = std::fs::read_to_string(&report)
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or(serde_json::Value::Null);
        RunResult { output, report }
    }
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
