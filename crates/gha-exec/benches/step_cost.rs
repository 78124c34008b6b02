//! `cargo bench -p gha-exec --bench step_cost`: what the executor costs on the host backend.
//!
//! 1. A job of 200 trivial `run` steps (`shell: bash`) against 200 bare spawns of
//!    `bash --noprofile --norc -eo pipefail SCRIPT` of the same script file, in one run:
//!    per-step cost and their ratio (target: within 1.5x).
//! 2. A step printing 1 GiB of output (10-byte to 1000-byte lines) through the workflow-command
//!    parser and masker: peak RSS of a process that only does that, against one whose step
//!    prints nothing (target: constant memory).
//! 3. Per-job set-up and tear-down of the host backend on a repository of 1,000 files
//!    (target: under 50 ms).
//!
//! `cargo bench -p gha-exec --bench step_cost -- setup` runs only the third (`steps`, `output`:
//! only the first or second).

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use gha_exec::run::{Executor, RunCancellation, RunOptions, WorkflowFile};
use gha_exec::{Backend, HostBackend, HostBackendOptions, JobSpec, Masker, RunEvent, RunObserver};

/// Counts log lines and drops them.
#[derive(Default)]
struct CountLines(AtomicU64);

impl RunObserver for CountLines {
    fn on_event(&self, e: &RunEvent) {
        if let RunEvent::Log { .. } = e {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

fn run_workflow(repo: &Path, runs: &Path, yaml: &str) -> (Duration, u64, gha_exec::Conclusion) {
    let workflow = gha_model::Workflow::from_yaml(yaml).expect("workflow");
    let observer = Arc::new(CountLines::default());
    let executor = Executor::new(
        Arc::new(HostBackend::new(HostBackendOptions::new(runs))),
        observer.clone(),
        Arc::new(Masker::new()),
    );
    let mut options = RunOptions::new(repo);
    options
        .secrets
        .push(("TOKEN".into(), "not-in-the-output-1234".into()));
    let rt = runtime();
    let started = Instant::now();
    let report = rt
        .block_on(executor.run(
            vec![WorkflowFile {
                path: "bench.yml".into(),
                workflow,
            }],
            options,
            RunCancellation::default(),
        ))
        .expect("run");
    (
        started.elapsed(),
        observer.0.load(Ordering::Relaxed),
        report.conclusion,
    )
}

fn max_rss_kib() -> i64 {
    // SAFETY: getrusage fills the struct we pass.
    unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage.ru_maxrss
    }
}

fn steps_vs_spawns(repo: &Path, runs: &Path) {
    const N: usize = 200;
    let script = "echo step\n";
    let mut yaml = String::from("on: push\njobs:\n  many:\n    runs-on: x\n    steps:\n");
    for _ in 0..N {
        yaml.push_str("      - shell: bash\n        run: echo step\n");
    }
    // Warm up both paths once.
    let _ = run_workflow(repo, runs, &yaml);
    let tmp = tempfile::tempdir().expect("tempdir");
    let file = tmp.path().join("step.sh");
    std::fs::write(&file, script).expect("script");
    let spawn_all = || {
        let started = Instant::now();
        for _ in 0..N {
            let out = Command::new("bash")
                .args(["--noprofile", "--norc", "-eo", "pipefail"])
                .arg(&file)
                .current_dir(repo)
                .output()
                .expect("bash");
            assert!(out.status.success());
        }
        started.elapsed()
    };
    let _ = spawn_all();

    let mut ratios = Vec::new();
    let mut best_job = Duration::MAX;
    let mut best_bare = Duration::MAX;
    for _ in 0..3 {
        let (job, lines, conclusion) = run_workflow(repo, runs, &yaml);
        assert_eq!(conclusion, gha_exec::Conclusion::Success);
        assert!(lines >= N as u64);
        let bare = spawn_all();
        best_job = best_job.min(job);
        best_bare = best_bare.min(bare);
        ratios.push(job.as_secs_f64() / bare.as_secs_f64());
    }
    // The backend alone: HostJobEnv::exec of the same script, 200 times.
    let backend = HostBackend::new(HostBackendOptions::new(runs));
    let rt = runtime();
    let exec_only = rt.block_on(async {
        let env = backend
            .start_job(&JobSpec::new("exec", repo))
            .await
            .expect("start");
        let exec = gha_exec::Exec::new(["bash", "--noprofile", "--norc", "-eo", "pipefail"])
            .working_dir(repo.to_string_lossy());
        let mut exec = exec;
        exec.argv.push(file.to_string_lossy().into_owned());
        let mut best = Duration::MAX;
        for _ in 0..3 {
            let started = Instant::now();
            for _ in 0..N {
                let st = env
                    .exec(
                        &exec,
                        &gha_exec::NullLogSink,
                        gha_exec::CancellationToken::new(),
                    )
                    .await
                    .expect("exec");
                assert!(st.success());
            }
            best = best.min(started.elapsed());
        }
        env.stop().await.expect("stop");
        best
    });
    println!(
        "HostJobEnv::exec alone: {:.2} ms/exec",
        exec_only.as_secs_f64() * 1000.0 / N as f64
    );
    let per_step = best_job.as_secs_f64() * 1000.0 / N as f64;
    let per_spawn = best_bare.as_secs_f64() * 1000.0 / N as f64;
    println!(
        "200 run steps: {:.2} ms/step (whole job incl. set-up {:.0} ms); 200 bare bash spawns: {:.2} ms/spawn; ratio {:.2}x (best of 3; per-round ratios {})",
        per_step,
        best_job.as_secs_f64() * 1000.0,
        per_spawn,
        per_step / per_spawn,
        ratios
            .iter()
            .map(|r| format!("{r:.2}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
}

/// Runs in a child process: one step printing `bytes` of output in `width`-byte lines.
fn big_output_child(repo: &Path, runs: &Path, bytes: u64, width: u64) {
    let yaml = format!(
        "on: push\njobs:\n  big:\n    runs-on: x\n    steps:\n      - shell: bash\n        run: head -c {bytes} /dev/zero | tr '\\0' 'a' | fold -w {} \n",
        width - 1
    );
    let (elapsed, lines, conclusion) = run_workflow(repo, runs, &yaml);
    assert_eq!(conclusion, gha_exec::Conclusion::Success);
    println!("{} {} {}", max_rss_kib(), lines, elapsed.as_secs_f64());
}

fn big_output(repo: &Path, runs: &Path) {
    let exe = std::env::current_exe().expect("exe");
    let run = |bytes: u64, width: u64| -> (i64, u64, f64) {
        let out = Command::new(&exe)
            .args(["--big-output-child", &bytes.to_string(), &width.to_string()])
            .arg(repo)
            .arg(runs)
            .output()
            .expect("child");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8_lossy(&out.stdout);
        let parts: Vec<&str> = text.split_whitespace().collect();
        (
            parts[0].parse().expect("rss"),
            parts[1].parse().expect("lines"),
            parts[2].parse().expect("secs"),
        )
    };
    let (base_rss, _, _) = run(0, 100);
    for width in [100u64, 1000] {
        let (rss, lines, secs) = run(1 << 30, width);
        println!(
            "1 GiB of output in {width}-byte lines ({lines} lines) in {secs:.1} s: peak RSS {:.1} MiB (same process with an empty step: {:.1} MiB)",
            rss as f64 / 1024.0,
            base_rss as f64 / 1024.0
        );
    }
}

fn setup_teardown(runs: &Path) {
    let repo = tempfile::tempdir().expect("tempdir");
    for d in 0..50 {
        let dir = repo.path().join(format!("dir{d:02}"));
        std::fs::create_dir_all(&dir).expect("mkdir");
        for f in 0..20 {
            std::fs::write(
                dir.join(format!("file{f:02}.txt")),
                format!("content {d} {f}\n").repeat(20),
            )
            .expect("write");
        }
    }
    let git = |args: &[&str]| {
        let ok = Command::new("git")
            .arg("-C")
            .arg(repo.path())
            .args(args)
            .env("GIT_AUTHOR_NAME", "b")
            .env("GIT_AUTHOR_EMAIL", "b@example.com")
            .env("GIT_COMMITTER_NAME", "b")
            .env("GIT_COMMITTER_EMAIL", "b@example.com")
            .output()
            .expect("git")
            .status
            .success();
        assert!(ok);
    };
    git(&["init", "-q"]);
    git(&["add", "-A"]);
    git(&["commit", "-qm", "1000 files"]);
    let backend = HostBackend::new(HostBackendOptions::new(runs));
    let rt = runtime();
    let spec = JobSpec::new("bench", repo.path());
    let mut times = Vec::new();
    let all = Instant::now();
    for _ in 0..20 {
        let started = Instant::now();
        rt.block_on(async {
            let env = backend.start_job(&spec).await.expect("start");
            env.stop().await.expect("stop");
        });
        times.push(started.elapsed());
    }
    // Run directories are deleted in the background: the whole series, including waiting for
    // the last deletions, shows what that costs.
    backend.wait_for_removals().expect("removals");
    let total = all.elapsed();
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "job set-up + tear-down, 1,000-file git repository: median {:.1} ms, min {:.1} ms, max {:.1} ms (20 runs; {:.1} ms per job including the background deletions)",
        ms(times[times.len() / 2]),
        ms(times[0]),
        ms(times[times.len() - 1]),
        ms(total) / times.len() as f64
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--big-output-child") {
        let bytes = args[2].parse().expect("bytes");
        let width = args[3].parse().expect("width");
        big_output_child(Path::new(&args[4]), Path::new(&args[5]), bytes, width);
        return;
    }
    // `cargo test --benches` runs this with `--test`-like flags: keep that quick.
    let quick = args.iter().any(|a| a == "--test");
    let repo = tempfile::tempdir().expect("tempdir");
    let runs = tempfile::tempdir().expect("tempdir");
    std::fs::write(repo.path().join("README"), "bench\n").expect("write");
    if quick {
        let (_, _, c) = run_workflow(
            repo.path(),
            runs.path(),
            "on: push\njobs:\n  a:\n    runs-on: x\n    steps: [{run: 'true'}]\n",
        );
        assert_eq!(c, gha_exec::Conclusion::Success);
        return;
    }
    // `-- setup` (or `steps`, `output`): only that measurement.
    let only: Vec<&str> = args
        .iter()
        .skip(1)
        .map(String::as_str)
        .filter(|a| ["steps", "setup", "output"].contains(a))
        .collect();
    let wanted = |name: &str| only.is_empty() || only.contains(&name);
    if wanted("steps") {
        steps_vs_spawns(repo.path(), runs.path());
    }
    if wanted("setup") {
        setup_teardown(runs.path());
    }
    if wanted("output") {
        big_output(repo.path(), runs.path());
    }
}
