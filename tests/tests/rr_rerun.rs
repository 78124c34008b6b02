//! `gha rerun` through the binary against a GitHub-shaped server on 127.0.0.1.

use gha_rr::rerun::test_server::{FakeGitHub, job_json, run_json};
use gha_tests::Gha;

const SHA: &str = "6475d0fb1f2b8bd8e6b5d0c37f0e2b0b9a7c1d2e";
const WORKFLOW: &str = ".github/workflows/ci.yml";

fn fixture(name: &str) -> String {
    std::fs::read_to_string(gha_tests::fixtures().join("rr").join(name)).expect("fixture")
}

/// A run whose only job failed at `./check.sh` (step 3 on GitHub, after "Set up job" and
/// `make`); the tarball's check.sh is `check_sh`.
async fn server(fixture_name: &str, check_sh: &str) -> FakeGitHub {
    let gh = FakeGitHub::start().await;
    gh.add_run("octo", "hello", run_json(42, SHA, WORKFLOW))
        .await;
    let steps: &[(&str, &str)] = if fixture_name == "workflow_level.yml" {
        &[
            ("Set up job", "success"),
            ("Run ./check.sh", "failure"),
            ("Complete job", "success"),
        ]
    } else {
        &[
            ("Set up job", "success"),
            ("Run make", "success"),
            ("Run ./check.sh", "failure"),
            ("Complete job", "success"),
        ]
    };
    gh.add_jobs(
        "octo",
        "hello",
        42,
        vec![job_json(9, 42, "test", "failure", steps)],
    )
    .await;
    gh.add_file("octo", "hello", WORKFLOW, &fixture(fixture_name))
        .await;
    gh.add_tarball("octo", "hello", SHA, &[("check.sh", check_sh, true)])
        .await;
    gh
}

fn rerun(gha: &Gha, gh: &FakeGitHub, extra: &[&str]) -> std::process::Output {
    let traces = gha.out.path().join("traces");
    let traces_s = traces.to_string_lossy().into_owned();
    let url = gh.url();
    let mut args = vec![
        "rerun",
        "octo/hello",
        "42",
        "--api-url",
        &url,
        "--trace-dir",
        &traces_s,
    ];
    args.extend_from_slice(extra);
    gha.command(&args)
        .env_remove("GITHUB_TOKEN")
        .env_remove("GH_TOKEN")
        .output()
        .expect("running gha")
}

fn text(o: &std::process::Output) -> String {
    format!(
        "--- stdout\n{}\n--- stderr\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reproduced_failure_exits_0_and_names_the_trace() {
    let gh = server(
        "workflow_level.yml",
        "#!/bin/sh\necho failing again\nexit 1\n",
    )
    .await;
    let gha = Gha::empty();
    let out = tokio::task::block_in_place(|| rerun(&gha, &gh, &["--tracer", "strace", "--json"]));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    assert_eq!(v["result"], "reproduced");
    assert_eq!(v["outcome"]["verdict"], "reproduced");
    assert_eq!(v["analysis"]["step"]["github_number"], 2);
    assert_eq!(v["analysis"]["opt_in"]["level"], "workflow");
    let trace = std::path::PathBuf::from(v["outcome"]["trace"].as_str().unwrap());
    assert!(
        trace.ends_with("test/1-run-check-sh"),
        "{}",
        trace.display()
    );
    let strace = std::fs::read_to_string(trace.join("strace.txt")).unwrap();
    assert!(strace.contains("execve(\"./check.sh\""));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn not_opted_in_exits_3_without_running_anything() {
    let gh = server("not_opted_in.yml", "#!/bin/sh\nexit 1\n").await;
    let gha = Gha::empty();
    let out = tokio::task::block_in_place(|| rerun(&gha, &gh, &["--tracer", "strace"]));
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("not opted in: step 3 ('Run ./check.sh') of job 'test' does not set PERNOSCO_ENABLED or PERNOSCO_ENABLE"),
        "{}",
        text(&out)
    );
    assert!(!gha.out.path().join("traces").exists());
    // --require-env with a variable the step does not set either.
    let out = tokio::task::block_in_place(|| rerun(&gha, &gh, &["--require-env", "MY_OPT_IN"]));
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failure_that_does_not_reproduce_exits_1() {
    let gh = server("workflow_level.yml", "#!/bin/sh\necho passes now\n").await;
    let gha = Gha::empty();
    let out = tokio::task::block_in_place(|| rerun(&gha, &gh, &["--tracer", "strace"]));
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout)
            .contains("not reproduced: step 1 'Run ./check.sh' ended with success"),
        "{}",
        text(&out)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rr_preflight_failure_exits_2() {
    let gh = server("workflow_level.yml", "#!/bin/sh\nexit 1\n").await;
    let gha = Gha::empty();
    let out = tokio::task::block_in_place(|| rerun(&gha, &gh, &["--tracer", "rr", "--json"]));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    if out.status.code() == Some(0) {
        eprintln!("this machine records with rr");
        return;
    }
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert_eq!(v["result"], "preflight_failed");
    assert!(
        v["message"]
            .as_str()
            .unwrap()
            .starts_with("rr cannot record here")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_references_and_missing_runs_exit_2() {
    let gh = server("workflow_level.yml", "#!/bin/sh\nexit 1\n").await;
    let gha = Gha::empty();
    let out = tokio::task::block_in_place(|| gha.output(&["rerun", "octo/hello", "not-a-number"]));
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("RUN_ID must be a number"));
    let url = gh.url();
    let out = tokio::task::block_in_place(|| {
        gha.output(&[
            "rerun",
            "https://github.com/octo/hello/actions/runs/77",
            "--api-url",
            &url,
        ])
    });
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("run 77 of octo/hello: HTTP 404"),
        "{}",
        text(&out)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rerun_in_docker_traces_the_step_with_the_bundled_strace() {
    let docker = std::process::Command::new("docker")
        .args(["image", "inspect", "gha-runner/base:bookworm"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !docker {
        if std::env::var("GHA_REQUIRE_DOCKER").is_ok_and(|v| v == "1" || v == "true") {
            panic!(
                "GHA_REQUIRE_DOCKER=1 but no Docker engine with gha-runner/base:bookworm answers"
            );
        }
        eprintln!("skipped: no Docker engine with gha-runner/base:bookworm");
        return;
    }
    let gh = server(
        "workflow_level.yml",
        "#!/bin/sh\necho failing in a container\nexit 4\n",
    )
    .await;
    let gha = Gha::empty();
    let out = tokio::task::block_in_place(|| {
        rerun(
            &gha,
            &gh,
            &[
                "--tracer",
                "strace",
                "--backend",
                "docker",
                "-P",
                "ubuntu-latest=gha-runner/base:bookworm",
            ],
        )
    });
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("reproduced: step 1 'Run ./check.sh' failed again"),
        "{}",
        text(&out)
    );
    let trace = gha.out.path().join("traces/test/1-run-check-sh/strace.txt");
    let strace = std::fs::read_to_string(&trace).unwrap();
    assert!(strace.contains("execve(\"./check.sh\""), "{strace}");
    assert!(strace.contains("exited with 4"), "{strace}");
}
