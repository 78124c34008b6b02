//! Failure paths: bad input, timeouts, cancellation, fail-fast, masking.

use std::time::{Duration, Instant};

use gha_tests::{Backend, Gha, RunResult, backend_tests, group_members, process_alive};

backend_tests! {
fn bad_input_exits_2_with_a_located_message(b) {
    let gha = Gha::with_workflow(
        "on: push\njobs:\n  a:\n    runs-on: x\n    steps:\n      - run: echo ${{ 1 + }}\n",
    )
    .on(b);
    let r = gha.run(&[]);
    assert_eq!(r.code(), 2, "{}", r.all_output());
    assert!(
        r.stderr().contains(".github/workflows/ci.yml:6:"),
        "{}",
        r.stderr()
    );

    let gha =
        Gha::with_workflow("on: push\njobs:\n  a:\n    runs-on: x\n    stepz: []\n").on(b);
    let r = gha.run(&[]);
    assert_eq!(r.code(), 2);
    assert!(r.stderr().contains("ci.yml:5:"), "{}", r.stderr());

    let gha = Gha::with_workflow(
        "on: push\njobs:\n  a:\n    runs-on: x\n    steps: [{run: 'true'}]\n",
    )
    .on(b);
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

fn multi_line_secrets_are_masked_everywhere(b) {
    let gha = Gha::with_fixture("secrets.yml").on(b);
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

fn step_and_job_timeouts(b) {
    let gha = Gha::with_fixture("timeouts.yml").on(b);
    let started = Instant::now();
    let r = gha.run(&[]);
    let out = r.stdout();
    assert_eq!(r.code(), 1, "{}", r.all_output());
    assert!(started.elapsed() < Duration::from_secs(20));
    assert_eq!(r.step("step-timeout", "slow")["outcome"], "failure");
    assert!(
        out.contains("The action 'Run echo \"pgid=$$\"' has timed out after 0.02 minutes."),
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
    assert_no_orphans(b, &r, 2);
}

fn sigint_cancels_runs_cleanup_and_leaves_no_process_group(b) {
    let gha = Gha::with_fixture("slow.yml").on(b);
    let mut run = gha.spawn_run(&[]);
    let so_far = run.wait_for_output("sleeper running", Duration::from_secs(60));
    let (shell_pid, sleep_pid) = (numbers(&so_far, "pgid")[0], numbers(&so_far, "sleep")[0]);
    if b.steps_share_our_pid_namespace() {
        assert!(process_alive(sleep_pid));
    }
    run.signal(libc::SIGINT);
    let r = run.wait();
    let stdout = r.stdout();
    assert_eq!(r.code(), 1, "{}", r.all_output());
    assert_eq!(r.report["conclusion"], "cancelled");
    let steps = &r.report["jobs"][0]["steps"];
    assert_eq!(steps[0]["outcome"], "cancelled");
    assert_eq!(steps[1]["outcome"], "success", "{stdout}");
    assert_eq!(steps[2]["outcome"], "skipped");
    assert!(stdout.contains("cleanup ran; status=cancelled"), "{stdout}");
    if b.steps_share_our_pid_namespace() {
        // The step's process group (the shell is its leader) is gone, grandchild included.
        std::thread::sleep(Duration::from_millis(100));
        assert!(!process_alive(sleep_pid), "sleep {sleep_pid} survived");
        assert_eq!(group_members(shell_pid), Vec::<i32>::new());
    }
    // In Docker the step's processes live in the job container: `run.wait()` checked that
    // the run's containers are gone. Under ECS it checked that no task is RUNNING and every
    // agent exited.
    // Run directories were removed.
    for dir in ["gha-runs", "gha-docker"] {
        let runs = gha.out.path().join(dir);
        let left: Vec<_> = std::fs::read_dir(&runs)
            .map(|d| d.flatten().map(|e| e.path()).collect())
            .unwrap_or_default();
        assert!(left.is_empty(), "run dirs left: {left:?}");
    }
}

fn fail_fast_cancels_siblings_and_max_parallel_serialises(b) {
    let gha = Gha::with_fixture("failfast.yml").on(b);
    let started = Instant::now();
    let r = gha.run(&["--jobs", "4"]);
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
    assert_no_orphans(b, &r, 2);
    assert_eq!(
        by_name,
        [
            ("leg 1".to_string(), "failure".to_string()),
            ("leg 2".to_string(), "cancelled".to_string()),
            ("leg 3".to_string(), "cancelled".to_string()),
        ]
    );
    // max-parallel: 1 — each leg ends before the next starts.
    let events: Vec<(String, u128)> = r
        .printed("serial")
        .iter()
        .filter_map(|v| {
            let mut parts = v.trim_matches('"').split(':');
            let kind = parts.next()?.to_string();
            let _leg = parts.next()?;
            Some((kind, parts.next()?.parse().ok()?))
        })
        .collect();
    assert_eq!(events.len(), 6, "{}", r.all_output());
    let mut sorted = events.clone();
    sorted.sort_by_key(|e| e.1);
    let kinds: Vec<&str> = sorted.iter().map(|e| e.0.as_str()).collect();
    assert_eq!(
        kinds,
        ["start", "end", "start", "end", "start", "end"],
        "{}",
        r.all_output()
    );
}
}

/// The numbers steps printed as `KEY=NUMBER` (the script echo before them shows `KEY=$…`,
/// which is not a number).
fn numbers(text: &str, key: &str) -> Vec<i32> {
    gha_tests::printed(text, key)
        .iter()
        .filter_map(|v| v.trim_matches('"').parse().ok())
        .collect()
}

/// Every step shell that printed `pgid=N` led a process group; none of them has a live member
/// (where the steps' processes are processes of our PID namespace: host, and ECS agents run as
/// processes). In Docker `run` checked that the run's containers are gone instead; under ECS
/// also that no task is RUNNING and every agent exited.
fn assert_no_orphans(b: Backend, r: &RunResult, expected: usize) {
    let leaders = numbers(&r.stdout(), "pgid");
    assert_eq!(leaders.len(), expected, "{}", r.all_output());
    if !b.steps_share_our_pid_namespace() {
        return;
    }
    std::thread::sleep(Duration::from_millis(100));
    for pgid in leaders {
        assert_eq!(
            group_members(pgid),
            Vec::<i32>::new(),
            "process group {pgid} survived"
        );
    }
}
