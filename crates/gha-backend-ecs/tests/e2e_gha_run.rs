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

/// How a `gha run --backend ecs` goes: its flags and settings, and what the scheduler (this
/// test) does with each task it starts.
struct Scenario<'a> {
    /// Extra `gha run` arguments.
    args: &'a [&'a str],
    /// GHA_ECS_* variables on top of (or, with `""`, removing) the usual ones.
    env: &'a [(&'a str, &'a str)],
    /// Where agents run.
    host: AgentHost,
    /// Ctrl-C this long after the first agent started.
    interrupt_after: Option<Duration>,
    /// Instead of starting an agent, write this line into the task's log stream (group
    /// `/gha/e2e`) and stop the task as ECS does when its essential container exits.
    crash_with_log: Option<&'a str>,
}

impl Default for Scenario<'_> {
    fn default() -> Self {
        Scenario {
            args: &[],
            env: &[],
            host: AgentHost::Process,
            interrupt_after: None,
            crash_with_log: None,
        }
    }
}

/// The reason ECS gives a task whose essential container exited.
const ESSENTIAL_EXITED: &str = "Essential container in task exited";

/// What a task's container does instead of running its agent: its log line goes to the
/// task's awslogs stream, then ECS stops the task.
async fn crash_task(endpoint: &str, ecs: &aws_sdk_ecs::Client, arn: &str, line: &str) {
    let logs = logs_client(endpoint);
    let _ = logs
        .create_log_group()
        .log_group_name("/gha/e2e")
        .send()
        .await;
    let stream = format!("gha/job/{}", gha_backend_ecs::task_id(arn));
    logs.create_log_stream()
        .log_group_name("/gha/e2e")
        .log_stream_name(&stream)
        .send()
        .await
        .unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    logs.put_log_events()
        .log_group_name("/gha/e2e")
        .log_stream_name(&stream)
        .log_events(
            aws_sdk_cloudwatchlogs::types::InputLogEvent::builder()
                .timestamp(now)
                .message(line)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    ecs.stop_task()
        .cluster(CLUSTER)
        .task(arn)
        .reason(ESSENTIAL_EXITED)
        .send()
        .await
        .unwrap();
}

/// The usual GHA_ECS_* settings of these tests, with `overrides` (an empty value removes one).
fn ecs_env(endpoint: &str, overrides: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = [
        ("GHA_ECS_ENDPOINT", endpoint),
        ("GHA_ECS_REGION", "us-east-1"),
        ("GHA_ECS_CLUSTER", CLUSTER),
        ("GHA_ECS_LISTEN", "127.0.0.1:0"),
        ("GHA_ECS_CPU", "256"),
        ("GHA_ECS_MEMORY", "512"),
        ("GHA_ECS_POLL_INTERVAL", "0.2"),
        ("GHA_ECS_CONNECT_TIMEOUT", "60"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    for (k, v) in overrides {
        env.retain(|(n, _)| n != k);
        if !v.is_empty() {
            env.push((k.to_string(), v.to_string()));
        }
    }
    env
}

/// A `gha` command with the AWS SDK pointed at moto's fake credentials and no other
/// GHA_ECS_* settings than `env`.
fn gha_command(env: &[(String, String)]) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(gha_bin());
    for (k, _) in std::env::vars() {
        if k.starts_with("GHA_ECS_") {
            cmd.env_remove(k);
        }
    }
    cmd.envs(env.iter().map(|(k, v)| (k, v)))
        .envs([
            ("AWS_ACCESS_KEY_ID", "test"),
            ("AWS_SECRET_ACCESS_KEY", "test"),
            ("AWS_EC2_METADATA_DISABLED", "true"),
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    cmd
}

/// Runs `gha run --backend ecs` while playing the scheduler for each new task; returns the
/// exit code, stdout+stderr, and each agent's exit code.
async fn gha_run(
    endpoint: &str,
    workflow: &str,
    scenario: Scenario<'_>,
) -> (Option<i32>, String, Vec<Option<i32>>) {
    let repo = repo(workflow);
    let mut cmd = gha_command(&ecs_env(endpoint, scenario.env));
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
    .args(scenario.args);
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
                if let Some(line) = scenario.crash_with_log {
                    crash_task(endpoint, &ecs, arn, line).await;
                    continue;
                }
                agents.push(start_task_agent(&ecs, arn, scenario.host).await);
                if let Some(after) = scenario.interrupt_after.filter(|_| agents.len() == 1) {
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
    let (code, output, agents) = gha_run(&endpoint, WORKFLOW, Scenario::default()).await;
    assert_eq!(code, Some(0), "{output}");
    assert!(output.contains("building the-readme on Linux"), "{output}");
    assert!(output.contains("env file says carried"), "{output}");
    assert!(output.contains("test got 'built remotely'"), "{output}");
    assert_eq!(agents, vec![Some(0), Some(0)], "{output}");
}

const IN_CONTAINER_WORKFLOW: &str = r#"
name: In a container
on: push
jobs:
  build:
    runs-on: ubuntu-latest
    outputs:
      where: ${{ steps.where.outputs.where }}
    steps:
      - id: where
        run: |
          test -f /.dockerenv && echo "in a container of $(. /etc/os-release; echo $VERSION_CODENAME)"
          echo "where=remote" >> "$GITHUB_OUTPUT"
  test:
    needs: build
    runs-on: ubuntu-latest
    steps:
      - run: echo "build ran ${{ needs.build.outputs.where }}; exit 5 next"
      - run: exit 5
"#;

#[tokio::test]
async fn a_workflow_runs_with_its_agents_in_containers_of_the_base_image() {
    let Some(endpoint) = moto().await else { return };
    if !docker_ready().await {
        return;
    }
    let _lock = MOTO_LOCK.lock().await;
    reset(&endpoint, true).await;
    let scenario = Scenario {
        host: AgentHost::Docker,
        ..Scenario::default()
    };
    let (code, output, agents) = gha_run(&endpoint, IN_CONTAINER_WORKFLOW, scenario).await;
    assert_eq!(code, Some(1), "{output}");
    assert!(output.contains("in a container of bookworm"), "{output}");
    assert!(output.contains("build ran remote; exit 5 next"), "{output}");
    assert!(
        output.contains("Process completed with exit code 5."),
        "{output}"
    );
    assert_eq!(agents, vec![Some(0), Some(0)], "{output}");
}

#[tokio::test]
async fn a_task_ecs_cannot_place_fails_its_job_with_the_reason() {
    let Some(endpoint) = moto().await else { return };
    let _lock = MOTO_LOCK.lock().await;
    let (ecs, _) = reset(&endpoint, true).await;
    // The flag beats GHA_ECS_MEMORY=512; moto's container instance has 7482 MiB, so RunTask
    // places nothing (moto reports no failures[] entry for it: see the README).
    let scenario = Scenario {
        args: &["--ecs-memory", "16384"],
        ..Scenario::default()
    };
    let (code, output, agents) = gha_run(&endpoint, WORKFLOW, scenario).await;
    assert_eq!(code, Some(1), "{output}");
    assert!(agents.is_empty());
    assert!(
        output.contains(&format!(
            "❗ error: Failed to set up the job on the ecs backend: ECS could not start a task in cluster {CLUSTER} (gha-"
        )),
        "{output}"
    );
    assert!(
        output.contains("RunTask started no task and reported no failure (does a container instance of the cluster have 256 CPU units and 16384 MiB free?)"),
        "{output}"
    );
    // `test` needs `build`: it never starts a task either.
    let all = ecs.list_tasks().cluster(CLUSTER).send().await.unwrap();
    assert!(all.task_arns().is_empty(), "{:?}", all.task_arns());
}

#[tokio::test]
async fn a_task_that_stops_before_its_agent_connects_shows_its_reason_and_log() {
    let Some(endpoint) = moto().await else { return };
    let _lock = MOTO_LOCK.lock().await;
    reset(&endpoint, true).await;
    let scenario = Scenario {
        args: &["--ecs-log-group", "/gha/e2e"],
        crash_with_log: Some("exec /usr/local/bin/gha: no such file or directory"),
        ..Scenario::default()
    };
    let (code, output, _) = gha_run(&endpoint, WORKFLOW, scenario).await;
    assert_eq!(code, Some(1), "{output}");
    assert!(
        output.contains("stopped before its agent connected"),
        "{output}"
    );
    assert!(
        output.contains(&format!("reason: {ESSENTIAL_EXITED}")),
        "{output}"
    );
    assert!(
        output.contains("the task's log (/gha/e2e gha/job/"),
        "{output}"
    );
    assert!(
        output.contains("exec /usr/local/bin/gha: no such file or directory"),
        "{output}"
    );
}

#[tokio::test]
async fn settings_stack_flag_over_variable_over_config_file() {
    let Some(endpoint) = moto().await else { return };
    let _lock = MOTO_LOCK.lock().await;
    reset(&endpoint, true).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("ecs.yml");
    // Everything from the file but the cluster (the variable wins) and the memory (the flag
    // wins): either wrong value would fail the run.
    std::fs::write(
        &file,
        format!(
            "endpoint: {endpoint}\nregion: us-east-1\ncluster: no-such-cluster\n\
             listen: 127.0.0.1:0\ncpu: 256\nmemory: 16384\npoll-interval: 0.2\nconnect-timeout: 60\n"
        ),
    )
    .unwrap();
    let file_s = file.to_string_lossy().into_owned();
    let none: Vec<(&str, &str)> = [
        "GHA_ECS_ENDPOINT",
        "GHA_ECS_REGION",
        "GHA_ECS_LISTEN",
        "GHA_ECS_CPU",
        "GHA_ECS_MEMORY",
        "GHA_ECS_POLL_INTERVAL",
        "GHA_ECS_CONNECT_TIMEOUT",
    ]
    .iter()
    .map(|k| (*k, ""))
    .collect();
    let scenario = Scenario {
        args: &["--ecs-config", &file_s, "--ecs-memory", "512"],
        env: &none,
        ..Scenario::default()
    };
    let (code, output, agents) = gha_run(&endpoint, WORKFLOW, scenario).await;
    assert_eq!(code, Some(0), "{output}");
    assert!(output.contains("test got 'built remotely'"), "{output}");
    assert_eq!(agents, vec![Some(0), Some(0)], "{output}");
}

/// `gha run --backend ecs` that must stop at its settings: exit code and stderr.
async fn bad_settings(args: &[&str], env: &[(&str, &str)]) -> (Option<i32>, String) {
    let repo = repo(WORKFLOW);
    let env: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let out = gha_command(&env)
        .args(["run", "push", "--backend", "ecs", "-C"])
        .arg(repo.path())
        .args(args)
        .output()
        .await
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn bad_settings_exit_2_naming_their_flag_variable_or_key() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("ecs.yml");
    std::fs::write(&file, "cluster: ci\nlaunch-type: k8s\n").unwrap();
    let f = file.to_string_lossy().into_owned();
    let (code, err) = bad_settings(&["--ecs-config", &f], &[]).await;
    assert_eq!(code, Some(2), "{err}");
    assert_eq!(
        err,
        format!(
            "gha run: error: cannot use ECS: {f}: launch-type: unknown ECS launch type 'k8s' (expected EC2 or FARGATE)\n"
        )
    );
    // The variable's good value hides the file's bad one; then the flag's bad listen address.
    let (code, err) = bad_settings(
        &["--ecs-config", &f, "--ecs-listen", "nowhere"],
        &[("GHA_ECS_LAUNCH_TYPE", "EC2")],
    )
    .await;
    assert_eq!(code, Some(2), "{err}");
    assert_eq!(
        err,
        "gha run: error: cannot use ECS: --ecs-listen: 'nowhere' is not an address like 0.0.0.0:7400\n"
    );
    let (code, err) = bad_settings(&[], &[("GHA_ECS_CONNECT_TIMEOUT", "0")]).await;
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("GHA_ECS_CONNECT_TIMEOUT: '0' is not a positive number of seconds"),
        "{err}"
    );
    std::fs::write(&file, "clustr: ci\n").unwrap();
    let (code, err) = bad_settings(&["--ecs-config", &f], &[]).await;
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains(&format!("{f}: unknown setting 'clustr'")),
        "{err}"
    );
    // ECS flags with another backend.
    let repo = repo(WORKFLOW);
    let out = gha_command(&[])
        .args([
            "run",
            "push",
            "--backend",
            "host",
            "--ecs-cluster",
            "ci",
            "-C",
        ])
        .arg(repo.path())
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "gha run: error: the --ecs-* flags only apply to --backend ecs\n"
    );
    let out = gha_command(&[])
        .args(["prune", "--ecs-cluster", "ci"])
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "error: the --ecs-* flags only apply to --backend ecs\n"
    );
    let out = gha_command(&[])
        .args(["rerun", "octo/hello", "1", "--ecs-subnet", "s-1"])
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "gha rerun: error: the --ecs-* flags only apply to --backend ecs\n"
    );
    // gha rerun checks them before asking GitHub (nothing answers at this API URL).
    let out = gha_command(&[])
        .args(["rerun", "octo/hello", "1", "--backend", "ecs"])
        .args([
            "--api-url",
            "http://127.0.0.1:9",
            "--ecs-launch-type",
            "k8s",
        ])
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "gha rerun: error: cannot use ECS: --ecs-launch-type: unknown ECS launch type 'k8s' (expected EC2 or FARGATE)\n"
    );
}

#[tokio::test]
async fn a_failing_step_fails_the_run_with_its_exit_code() {
    let Some(endpoint) = moto().await else { return };
    let _lock = MOTO_LOCK.lock().await;
    reset(&endpoint, true).await;
    let scenario = Scenario {
        args: &["--env", "FAIL=yes"],
        ..Scenario::default()
    };
    let (code, output, agents) = gha_run(&endpoint, WORKFLOW, scenario).await;
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
    let scenario = Scenario {
        interrupt_after: Some(Duration::from_secs(3)),
        ..Scenario::default()
    };
    let (code, output, agents) = gha_run(&endpoint, SLOW_WORKFLOW, scenario).await;
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
    // The same settings as flags, without the variables.
    let out = std::process::Command::new(gha_bin())
        .args(["prune", "--backend", "ecs", "--ecs-endpoint", &endpoint])
        .args(["--ecs-region", "us-east-1", "--ecs-cluster", CLUSTER])
        .env_remove("GHA_ECS_ENDPOINT")
        .env_remove("GHA_ECS_CLUSTER")
        .env_remove("GHA_ECS_REGION")
        .envs([
            ("AWS_ACCESS_KEY_ID", "test"),
            ("AWS_SECRET_ACCESS_KEY", "test"),
            ("AWS_EC2_METADATA_DISABLED", "true"),
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains(&format!("stopped {}", arns[1])), "{stdout}");
    let out = prune(&["--ecs-launch-type", "k8s"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "error: --ecs-launch-type: unknown ECS launch type 'k8s' (expected EC2 or FARGATE)\n"
    );
    assert_eq!(running_tasks(&ecs).await, vec![arns[2].clone()]);
}
