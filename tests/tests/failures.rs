//! Failure paths: bad input, timeouts, cancellation, fail-fast, masking.

use std::time::{Duration, Instant};

use gha_tests::{Gha, group_members, process_alive};

#[test]
fn bad_input_exits_2_with_a_located_message() {
    let gha = Gha::with_workflow(
        "on: push\njobs:\n  a:\n    runs-on: x\n    steps:\n      - run: echo ${{ 1 + }}\n",
    );
    let r = gha.run(&[]);
    assert_eq!(r.code(), 2, "{}", r.all_output());
    assert!(
        r.stderr().contains(".github/workflows/ci.yml:6:"),
        "{}",
        r.stderr()
    );

    let gha = Gha::with_workflow("on: push\njobs:\n  a:\n    runs-on: x\n    stepz: []\n");
    let r = gha.run(&[]);
    assert_eq!(r.code(), 2);
    assert!(r.stderr().contains("ci.yml:5:"), "{}", r.stderr());

    let gha =
        Gha::with_workflow("on: push\njobs:\n  a:\n    runs-on: x\n    steps: [{run: 'true'}]\n");
    let r = gha.run(&["-j", "nope"]);
    assert_eq!(r.code(), 2);
    assert!(r.stderr().contains("no job named 'nope'"), "{}", r.stderr());
    let r = gha.run(&["-W", "missing.yml"]);
    assert_eq!(r.code(), 2);
    assert!(r.stderr().contains("missing.yml"), "{}", r.stderr());
    let r = gha.run(&["--var", "novalue"]);
    assert_eq!(r.code(), 2);
    assert!(r.stderr().contains("expected NAME=VALUE"), "{}", r.stderr());
    let r = gha.run(&["-e", "nothere.json"]);
    assert_eq!(r.code(), 2);
}

#[test]
fn multi_line_secrets_are_masked_everywhere() {
    let gha = Gha::with_fixture("secrets.yml");
    let secret_file = gha.out.path().join("secrets.env");
    std::fs::write(
        &secret_file,
        "MULTI=\"first-line-aaa\nsecond-line-bbb\"\nSINGLE=s1ngle-secret\n",
    )
    .unwrap();
    let r = gha.run(&["--secret-file", secret_file.to_str().unwrap()]);
    let all = r.all_output();
    assert_eq!(r.code(), 0, "{all}");
    for needle in ["first-line-aaa", "second-line-bbb", "s1ngle-secret"] {
        assert!(!all.contains(needle), "{needle} leaked:\n{all}");
        assert!(
            !r.report.to_string().contains(needle),
            "{needle} leaked into the report"
        );
    }
    assert!(all.contains("line: ***"), "{all}");
    assert!(all.contains("single: ***"), "{all}");
    assert!(all.contains("secret in error ***"), "{all}");
    let job = r.job("leak");
    assert!(job["outputs"].get("leaked").is_none(), "{job}");
    assert_eq!(job["outputs"]["fine"], "nothing secret");
    assert!(
        all.contains("Skip output 'leaked' since it may contain secret."),
        "{all}"
    );
}

#[test]
fn step_and_job_timeouts() {
    let gha = Gha::with_fixture("timeouts.yml");
    let pids = gha.out.path().join("pids");
    let started = Instant::now();
    let r = gha.run(&["--env", &format!("PIDS={}", pids.display())]);
    let out = r.stdout();
    assert_eq!(r.code(), 1, "{}", r.all_output());
    assert!(started.elapsed() < Duration::from_secs(20));
    assert_eq!(r.step("step-timeout", "slow")["outcome"], "failure");
    assert!(
        out.contains("The action 'Run echo $$ >> \"$PIDS\"' has timed out after 0.02 minutes."),
        "{out}"
    );
    assert_eq!(r.step("step-timeout", "next")["outcome"], "success");
    assert_eq!(r.job("step-timeout")["conclusion"], "failure");
    assert_eq!(r.job("job-timeout")["conclusion"], "cancelled");
    assert_eq!(r.step("job-timeout", "slow")["outcome"], "cancelled");
    assert_eq!(r.step("job-timeout", "cleanup")["outcome"], "success");
    assert!(
        out.contains("The job has exceeded the maximum execution time of 1s")
            || out.contains("The job has exceeded the maximum execution time of 2s"),
        "{out}"
    );
    assert!(out.contains("The operation was canceled."), "{out}");
    assert_no_orphans(&pids, 2);
}

/// Every step shell recorded in `pidfile` led a process group; none of them has a live member.
fn assert_no_orphans(pidfile: &std::path::Path, expected: usize) {
    let text = std::fs::read_to_string(pidfile).unwrap();
    let leaders: Vec<i32> = text
        .split_whitespace()
        .map(|p| p.parse().unwrap())
        .collect();
    assert_eq!(leaders.len(), expected, "{text}");
    std::thread::sleep(Duration::from_millis(100));
    for pgid in leaders {
        assert_eq!(
            group_members(pgid),
            Vec::<i32>::new(),
            "process group {pgid} survived"
        );
    }
}

#[test]
fn sigint_cancels_runs_cleanup_and_leaves_no_process_group() {
    let gha = Gha::with_fixture("slow.yml");
    let pidfile = gha.out.path().join("pids");
    let report = gha.out.path().join("report.json");
    let mut child = gha
        .command(&[
            "run",
            "--report",
            report.to_str().unwrap(),
            "--env",
            &format!("PIDFILE={}", pidfile.display()),
        ])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !pidfile.exists()
        || std::fs::read_to_string(&pidfile)
            .unwrap()
            .split_whitespace()
            .count()
            < 2
    {
        assert!(Instant::now() < deadline, "the step never started");
        std::thread::sleep(Duration::from_millis(50));
    }
    let text = std::fs::read_to_string(&pidfile).unwrap();
    let pids: Vec<i32> = text
        .split_whitespace()
        .map(|p| p.parse().unwrap())
        .collect();
    let (shell_pid, sleep_pid) = (pids[0], pids[1]);
    assert!(process_alive(sleep_pid));
    // SAFETY: sending a signal to our own child.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGINT);
    }
    let status = child.wait().unwrap();
    let mut stdout = String::new();
    use std::io::Read;
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .unwrap();
    assert_eq!(status.code(), Some(1), "{stdout}");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert_eq!(report["conclusion"], "cancelled");
    let steps = &report["jobs"][0]["steps"];
    assert_eq!(steps[0]["outcome"], "cancelled");
    assert_eq!(steps[1]["outcome"], "success", "{stdout}");
    assert_eq!(steps[2]["outcome"], "skipped");
    assert!(stdout.contains("cleanup ran; status=cancelled"), "{stdout}");
    // The step's process group (the shell is its leader) is gone, grandchild included.
    std::thread::sleep(Duration::from_millis(100));
    assert!(!process_alive(sleep_pid), "sleep {sleep_pid} survived");
    assert_eq!(group_members(shell_pid), Vec::<i32>::new());
    // Run directories were removed.
    let runs = gha.out.path().join("gha-runs");
    let left: Vec<_> = std::fs::read_dir(&runs)
        .map(|d| d.flatten().collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "run dirs left: {left:?}");
}

#[test]
fn fail_fast_cancels_siblings_and_max_parallel_serialises() {
    let gha = Gha::with_fixture("failfast.yml");
    let log = gha.out.path().join("serial.log");
    let pids = gha.out.path().join("pids");
    let started = Instant::now();
    let r = gha.run(&[
        "--env",
        &format!("LOG={}", log.display()),
        "--env",
        &format!("PIDS={}", pids.display()),
        "--jobs",
        "4",
    ]);
    assert_eq!(r.code(), 1, "{}", r.all_output());
    assert!(
        started.elapsed() < Duration::from_secs(25),
        "fail-fast did not stop the 30 s legs"
    );
    let mut by_name: Vec<(String, String)> = r
        .jobs("legs")
        .iter()
        .map(|j| {
            (
                j["name"].as_str().unwrap().to_string(),
                j["conclusion"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    by_name.sort();
    // Legs 1 and 2 started (max-parallel: 2) and leg 2 was stopped; leg 3 never started.
    assert_no_orphans(&pids, 2);
    assert_eq!(
        by_name,
        [
            ("leg 1".to_string(), "failure".to_string()),
            ("leg 2".to_string(), "cancelled".to_string()),
            ("leg 3".to_string(), "cancelled".to_string()),
        ]
    );
    // max-parallel: 1 — each leg ends before the next starts.
    let text = std::fs::read_to_string(&log).unwrap();
    let events: Vec<(String, u128)> = text
        .lines()
        .map(|l| {
            let parts: Vec<&str> = l.split_whitespace().collect();
            (parts[0].to_string(), parts[2].parse().unwrap())
        })
        .collect();
    assert_eq!(events.len(), 6, "{text}");
    let mut sorted = events.clone();
    sorted.sort_by_key(|e| e.1);
    let kinds: Vec<&str> = sorted.iter().map(|e| e.0.as_str()).collect();
    assert_eq!(
        kinds,
        ["start", "end", "start", "end", "start", "end"],
        "{text}"
    );
}
