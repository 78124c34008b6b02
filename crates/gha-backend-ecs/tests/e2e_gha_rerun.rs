//! End to end: `gha rerun --backend ecs --tracer strace` against a GitHub-shaped API server
//! and moto_server, with this test as ECS's scheduler starting each task's agent in a container
//! of gha-runner/base:bookworm with the task definition's volumes and capabilities. The base
//! image has no strace: the tracer's tool bundle (a host volume of the task definition) must
//! make it work.

mod common;

use std::process::Stdio;
use std::time::Duration;

use common::*;
use gha_rr::rerun::test_server::{FakeGitHub, job_json, run_json};
use tokio::io::AsyncReadExt;

const SHA: &str = "6475d0fb1f2b8bd8e6b5d0c37f0e2b0b9a7c1d2e";
const WORKFLOW_PATH: &str = ".github/workflows/ci.yml";
const WORKFLOW: &str = r#"
name: CI
on: push
env:
  PERNOSCO_ENABLED: 1
jobs:
  test:
    runs-on: ubuntu-latest
    steps:
      - run: echo prepared > prepared.txt
      - run: ./check.sh
"#;

/// Run 42 of octo/hello: job `test` failed at `./check.sh` (GitHub's step 3).
async fn github() -> FakeGitHub {
    let gh = FakeGitHub::start().await;
    gh.add_run("octo", "hello", run_json(42, SHA, WORKFLOW_PATH))
        .await;
    let steps = [
        ("Set up job", "success"),
        ("Run echo prepared > prepared.txt", "success"),
        ("Run ./check.sh", "failure"),
        ("Complete job", "success"),
    ];
    gh.add_jobs(
        "octo",
        "hello",
        42,
        vec![job_json(9, 42, "test", "failure", &steps)],
    )
    .await;
    gh.add_file("octo", "hello", WORKFLOW_PATH, WORKFLOW).await;
    let check = "#!/bin/sh\ncat prepared.txt\necho failing on ECS\nexit 4\n";
    gh.add_tarball("octo", "hello", SHA, &[("check.sh", check, true)])
        .await;
    gh
}

#[tokio::test]
async fn a_rerun_on_ecs_traces_the_failing_step_with_the_bundled_strace_in_host_volumes() {
    rerun_on_ecs("host").await;
}

#[tokio::test]
async fn a_rerun_on_ecs_traces_the_failing_step_with_strace_uploaded_through_the_agent() {
    rerun_on_ecs("upload").await;
}

/// `gha rerun` on ECS with `--ecs-tracer-tools tools`.
async fn rerun_on_ecs(tools: &str) {
    let Some(endpoint) = moto().await else { return };
    if !docker_ready().await {
        return;
    }
    let _lock = MOTO_LOCK.lock().await;
    let (ecs, _) = reset(&endpoint, true).await;
    let gh = github().await;
    let out_dir = tempfile::tempdir().unwrap();
    let traces = out_dir.path().join("traces");
    let mut cmd = tokio::process::Command::new(gha_bin());
    cmd.args(["rerun", "octo/hello", "42", "--api-url", &gh.url()])
        .arg("--trace-dir")
        .arg(&traces)
        .args(["--tracer", "strace", "--json", "--backend", "ecs"])
        .args(["-P", "ubuntu-latest=gha-runner/base:bookworm"])
        .args(["--ecs-endpoint", &endpoint, "--ecs-region", "us-east-1"])
        .args(["--ecs-cluster", CLUSTER, "--ecs-listen", "127.0.0.1:0"])
        .args(["--ecs-cpu", "256", "--ecs-memory", "512"])
        .args(["--ecs-tracer-tools", tools])
        .env("GHA_ECS_POLL_INTERVAL", "0.2")
        .env("GHA_ECS_CONNECT_TIMEOUT", "60")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env_remove("GITHUB_TOKEN")
        .env_remove("GH_TOKEN")
        .current_dir(out_dir.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = cmd.spawn().unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let out_task = tokio::spawn(async move {
        let mut s = String::new();
        let _ = stdout.read_to_string(&mut s).await;
        s
    });
    let err_task = tokio::spawn(async move {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s).await;
        s
    });
    // The scheduler: one task, its agent in a container as the task definition describes.
    let mut agents = Vec::new();
    let mut containers = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(240);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "gha rerun did not finish"
        );
        let listed = ecs.list_tasks().cluster(CLUSTER).send().await.unwrap();
        if let Some(arn) = listed.task_arns().first()
            && agents.is_empty()
        {
            containers.push(task_container(&ecs, arn).await);
            agents.push(start_task_agent(&ecs, arn, AgentHost::Docker).await);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let mut codes = Vec::new();
    for a in agents {
        codes.push(a.finish(Duration::from_secs(20)).await);
    }
    let stdout = out_task.await.unwrap();
    let output = format!("{stdout}\n{}\n{codes:?}", err_task.await.unwrap());
    assert!(running_tasks(&ecs).await.is_empty(), "{output}");
    assert_eq!(status.code(), Some(0), "{output}");
    assert_eq!(codes.len(), 1, "{output}");
    assert_eq!(codes[0].0, Some(0), "{output}");

    let c = &containers[0];
    if tools == "host" {
        // The task definition asked for the strace bundle and the trace directory as host
        // volumes.
        assert!(
            c.mounts
                .iter()
                .any(|(_, target, ro)| target.starts_with("/__gha/tools/") && *ro),
            "{c:?}"
        );
        assert!(
            c.mounts
                .iter()
                .any(|(source, target, ro)| target == "/__gha/traces"
                    && std::path::Path::new(source) == std::path::absolute(&traces).unwrap()
                    && !ro),
            "{c:?}"
        );
    } else {
        // Nothing shared with this machine: the bundle went in and the trace came out through
        // the agent.
        assert!(c.mounts.is_empty(), "{c:?}");
    }
    assert_eq!(c.capabilities, ["SYS_PTRACE"], "{c:?}");

    let v: serde_json::Value = serde_json::from_str(&stdout).expect("one JSON object");
    assert_eq!(v["result"], "reproduced", "{output}");
    assert_eq!(v["analysis"]["step"]["github_number"], 3, "{output}");
    let trace = std::path::PathBuf::from(v["outcome"]["trace"].as_str().unwrap());
    assert!(
        trace.ends_with("test/2-run-check-sh"),
        "{}",
        trace.display()
    );
    let strace = std::fs::read_to_string(trace.join("strace.txt")).unwrap();
    assert!(strace.contains("execve(\"./check.sh\""), "{strace}");
    assert!(strace.contains("exited with 4"), "{strace}");
    // Step 1 ran untraced, before it, in the same task.
    assert!(strace.contains("prepared.txt"), "{strace}");
    let traced: Vec<_> = std::fs::read_dir(trace.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(traced, [std::ffi::OsString::from("2-run-check-sh")]);
}
