//! End to end: `gha run --backend ecs` against moto_server, with this test as ECS's scheduler
//! starting a `gha agent` process for every task the run starts.

mod common;

use std::process::Stdio;
use std::time::Duration;

use common::*;
use tokio::io::AsyncReadExt;

const WORKFLOW: &str = r#"
name: ECS
on: push
jobs:
  build:
    runs-on: ubuntu-latest
    outputs:
      message: ${{ steps.greet.outputs.message }}
    steps:
      - id: greet
        run: |
          echo "building $(cat README.md) on ${{ runner.os }}"
          echo "message=built remotely" >> "$GITHUB_OUTPUT"
          echo "FROM_ENV_FILE=carried" >> "$GITHUB_ENV"
      - run: echo "env file says $FROM_ENV_FILE"
  test:
    needs: build
    runs-on: ubuntu-latest
    steps:
      - run: echo "test got '${{ needs.build.outputs.message }}'"
      - if: ${{ env.FAIL == 'yes' }}
        run: exit 3
"#;

const SLOW_WORKFLOW: &str = r#"
name: Slow
on: push
jobs:
  slow:
    runs-on: ubuntu-latest
    steps:
      - run: echo started; sleep 312
"#;

fn repo(workflow: &str) -> tempfile::TempDir {
    let repo = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(repo.path().join(".github/workflows")).unwrap();
    std::fs::write(repo.path().join(".github/workflows/ci.yml"), workflow).unwrap();
    std::fs::write(repo.path().join("README.md"), "the-readme").unwrap();
    let git = |args: &[&str]| {
        let ok = std::process::Command::new("git")
            .arg("-C")
            .arg(repo.path())
            .args(args)
            .env("GIT_AUTHOR_NAME", "t")
            .env("GIT_AUTHOR_EMAIL", "t@example.com")
            .env("GIT_COMMITTER_NAME", "t")
            .env("GIT_COMMITTER_EMAIL", "t@example.com")
            .output()
            .unwrap()
            .status
            .success();
        assert!(ok, "git {args:?}");
    };
    git(&["init", "-q"]);
    git(&["add", "."]);
    git(&["commit", "-q", "-m", "init"]);
    repo
}

/// Runs `gha run --backend ecs` while starting an agent for each new task; returns the exit
/// code, stdout+stderr, and each agent's exit code.
async fn gha_run(
    endpoint: &str,
    workflow: &str,
    extra_args: &[&str],
    interrupt_after: Option<Duration>,
) -> (Option<i32>, String, Vec<Option<i32>>) {
    let repo = repo(workflow);
    let mut cmd = tokio::process::Command::new(gha_bin());
    cmd.args([
        "run",
        "push",
        "--backend",
        "ecs",
        "-P",
        "ubuntu-latest=gha-runner/base:bookworm",
        "-C",
    ])
    .arg(repo.path())
    .envs([
        ("GHA_ECS_ENDPOINT", endpoint),
        ("GHA_ECS_REGION", "us-east-1"),
        ("GHA_ECS_CLUSTER", CLUSTER),
        ("GHA_ECS_LISTEN", "127.0.0.1:0"),
        ("GHA_ECS_CPU", "256"),
        ("GHA_ECS_MEMORY", "512"),
        ("GHA_ECS_POLL_INTERVAL", "0.2"),
        ("GHA_ECS_CONNECT_TIMEOUT", "60"),
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
        ("AWS_EC2_METADATA_DISABLED", "true"),
    ])
    .args(extra_args)
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

    let ecs = ecs_client(endpoint);
    let mut seen = Vec::new();
    let mut agents = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(240);
    let mut interrupt_at: Option<tokio::time::Instant> = None;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if let (Some(at), Some(pid)) = (interrupt_at, child.id())
            && tokio::time::Instant::now() >= at
        {
            // Ctrl-C, as a person would.
            unsafe { libc::kill(pid as i32, libc::SIGINT) };
            interrupt_at = None;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "gha run did not finish"
        );
        let listed = ecs.list_tasks().cluster(CLUSTER).send().await.unwrap();
        for arn in listed.task_arns() {
            if !seen.contains(arn) {
                seen.push(arn.clone());
                let env = task_env(&ecs, arn).await;
                agents.push(start_agent(AgentHost::Process, &env, None).await);
                if let Some(after) = interrupt_after.filter(|_| agents.len() == 1) {
                    interrupt_at = Some(tokio::time::Instant::now() + after);
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let mut codes = Vec::new();
    for a in agents {
        codes.push(a.finish(Duration::from_secs(20)).await.0);
    }
    let output = format!("{}\n{}", out_task.await.unwrap(), err_task.await.unwrap());
    assert!(
        running_tasks(&ecs).await.is_empty(),
        "tasks left running\n{output}"
    );
    (status.code(), output, codes)
}

#[tokio::test]
async fn a_workflow_runs_through_backend_ecs() {
    let Some(endpoint) = moto().await else { return };
    let _lock = MOTO_LOCK.lock().await;
    reset(&endpoint, true).await;
    let (code, output, agents) = gha_run(&endpoint, WORKFLOW, &[], None).await;
    assert_eq!(code, Some(0), "{output}");
    assert!(output.contains("building the-readme on Linux"), "{output}");
    assert!(output.contains("env file says carried"), "{output}");
    assert!(output.contains("test got 'built remotely'"), "{output}");
    assert_eq!(agents, vec![Some(0), Some(0)], "{output}");
}

#[tokio::test]
async fn a_failing_step_fails_the_run_with_its_exit_code() {
    let Some(endpoint) = moto().await else { return };
    let _lock = MOTO_LOCK.lock().await;
    reset(&endpoint, true).await;
    let (code, output, agents) = gha_run(&endpoint, WORKFLOW, &["--env", "FAIL=yes"], None).await;
    assert_eq!(code, Some(1), "{output}");
    assert!(
        output.contains("Process completed with exit code 3."),
        "{output}"
    );
    assert_eq!(agents, vec![Some(0), Some(0)], "{output}");
}

/// Whether any process runs `sleep 312` (the slow workflow's step).
fn slow_step_running() -> bool {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .any(|e| std::fs::read(e.path().join("cmdline")).is_ok_and(|c| c == b"sleep\x00312\x00"))
}

#[tokio::test]
async fn a_cancelled_run_stops_its_steps_and_tasks() {
    let Some(endpoint) = moto().await else { return };
    let _lock = MOTO_LOCK.lock().await;
    reset(&endpoint, true).await;
    let started = std::time::Instant::now();
    let (code, output, agents) =
        gha_run(&endpoint, SLOW_WORKFLOW, &[], Some(Duration::from_secs(3))).await;
    assert!(started.elapsed() < Duration::from_secs(60), "{output}");
    assert_ne!(code, Some(0), "{output}");
    assert!(output.contains("Job cancelled"), "{output}");
    assert!(output.contains("started"), "{output}");
    assert_eq!(agents, vec![Some(0)], "{output}");
    assert!(
        !slow_step_running(),
        "the cancelled step is still running\n{output}"
    );
}

#[tokio::test]
async fn gha_prune_backend_ecs_stops_leftover_tasks() {
    let Some(endpoint) = moto().await else { return };
    let _lock = MOTO_LOCK.lock().await;
    let (ecs, logs) = reset(&endpoint, true).await;
    let backend = gha_backend_ecs::EcsBackend::with_clients(config(), ecs.clone(), logs)
        .await
        .unwrap();
    let plan = gha_backend_ecs::TaskDefinitionPlan::new(&config(), "img", &Default::default());
    let def = backend.ensure_task_definition(&plan).await.unwrap();
    let mut arns = Vec::new();
    for started_by in ["gha/77", "gha/78", "not-gha"] {
        let out = ecs
            .run_task()
            .cluster(CLUSTER)
            .task_definition(&def)
            .launch_type(aws_sdk_ecs::types::LaunchType::Ec2)
            .started_by(started_by)
            .send()
            .await
            .unwrap();
        arns.push(out.tasks()[0].task_arn().unwrap().to_string());
    }
    let prune = |args: &[&str]| {
        std::process::Command::new(gha_bin())
            .args(["prune", "--backend", "ecs"])
            .args(args)
            .envs([
                ("GHA_ECS_ENDPOINT", endpoint.as_str()),
                ("GHA_ECS_REGION", "us-east-1"),
                ("GHA_ECS_CLUSTER", CLUSTER),
                ("AWS_ACCESS_KEY_ID", "test"),
                ("AWS_SECRET_ACCESS_KEY", "test"),
                ("AWS_EC2_METADATA_DISABLED", "true"),
            ])
            .output()
            .unwrap()
    };
    let out = prune(&["--run-id", "77"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains(&format!("stopped {}", arns[0])), "{stdout}");
    assert!(
        stdout.ends_with(&format!("stopped 1 ECS tasks in cluster {CLUSTER}\n")),
        "{stdout}"
    );
    let out = prune(&[]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains(&format!("stopped {}", arns[1])), "{stdout}");
    assert_eq!(running_tasks(&ecs).await, vec![arns[2].clone()]);
}
