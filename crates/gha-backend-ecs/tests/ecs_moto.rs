//! The ECS backend against moto_server with the real AWS SDK. moto runs no containers, so each
//! test plays ECS's scheduler: it reads a task's overrides back with DescribeTasks and starts
//! `gha agent` with them (as a process, or in a container of the base image).
//!
//! Skips with a message when no moto answers; fails instead when GHA_REQUIRE_MOTO=1 (.ci/run).

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use gha_backend_ecs::EcsBackend;
use gha_exec::{
    Backend, CancellationToken, Exec, JobEnv, JobSpec, KillPolicy, OutputStream, VecLogSink,
};

/// Waits until `pid` is gone (a zombie counts as gone: only its parent can reap it).
async fn wait_dead(pid: i32, within: Duration) -> bool {
    let start = Instant::now();
    while start.elapsed() < within {
        match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            Err(_) => return true,
            Ok(stat) if stat.split(") ").nth(1).unwrap_or("").starts_with('Z') => return true,
            Ok(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
    false
}

fn spec(repo: &std::path::Path, name: &str) -> JobSpec {
    let mut s = JobSpec::new(name, repo);
    s.run_id = "4711".into();
    s.repository = "octo/hello".into();
    s.runs_on = vec!["ubuntu-latest".into()];
    s
}

fn repo() -> tempfile::TempDir {
    let repo = tempfile::tempdir().unwrap();
    std::fs::write(repo.path().join("hello.txt"), "hello from the workspace\n").unwrap();
    repo
}

/// Starts a job: the backend waits for the agent while the test, as the scheduler, starts one.
async fn start_job_with_agent(
    backend: &Arc<EcsBackend>,
    ecs: &aws_sdk_ecs::Client,
    spec: JobSpec,
    host: AgentHost,
) -> (Box<dyn JobEnv>, RunningAgent, String) {
    let b = backend.clone();
    let starting = tokio::spawn(async move { b.start_job(&spec).await });
    let mut seen = Vec::new();
    let Some(arn) = next_task_or(ecs, &mut seen, &starting).await else {
        match starting.await.unwrap() {
            Ok(_) => panic!("a job started without a task"),
            Err(e) => panic!("the job did not start: {e}"),
        }
    };
    let env = task_env(ecs, &arn).await;
    let agent = start_agent(host, &env, None).await;
    let job = starting.await.unwrap().unwrap();
    (job, agent, arn)
}

async fn runs_a_job(host: AgentHost) {
    let Some(endpoint) = moto().await else { return };
    let _lock = MOTO_LOCK.lock().await;
    let (ecs, logs) = reset(&endpoint, true).await;
    let backend = Arc::new(
        EcsBackend::with_clients(config(), ecs.clone(), logs)
            .await
            .unwrap(),
    );
    let repo = repo();
    let (job, agent, arn) =
        start_job_with_agent(&backend, &ecs, spec(repo.path(), "build"), host).await;

    // What was registered and run.
    let task = ecs
        .describe_tasks()
        .cluster(CLUSTER)
        .tasks(&arn)
        .include(aws_sdk_ecs::types::TaskField::Tags)
        .send()
        .await
        .unwrap();
    let task = &task.tasks()[0];
    assert_eq!(task.started_by(), Some("gha/4711"));
    let def = ecs
        .describe_task_definition()
        .task_definition(task.task_definition_arn().unwrap())
        .send()
        .await
        .unwrap();
    let container = &def.task_definition().unwrap().container_definitions()[0];
    assert_eq!(container.image(), Some("gha-runner/base:bookworm"));
    assert_eq!(container.command(), ["gha", "agent"]);
    let env = task_env(&ecs, &arn).await;
    let url = &env.iter().find(|(k, _)| k == "GHA_AGENT_URL").unwrap().1;
    assert!(url.starts_with("tcp://127.0.0.1:"), "{url}");
    assert_eq!(
        env.iter()
            .find(|(k, _)| k == "GHA_AGENT_TOKEN")
            .unwrap()
            .1
            .len(),
        64
    );

    // The job runs in the agent, as any JobEnv.
    let sink = VecLogSink::default();
    let status = job
        .exec(
            &Exec::new(["sh", "-c", "cat hello.txt; echo oops >&2; exit 7"]),
            &sink,
            CancellationToken::new(),
        )
        .await
        .unwrap();
    assert_eq!(status.code, Some(7));
    assert_eq!(
        sink.lines(),
        vec![
            (OutputStream::Stdout, "hello from the workspace".to_string()),
            (OutputStream::Stderr, "oops".to_string())
        ]
    );
    let file = format!("{}/out.txt", job.paths().temp);
    job.write_file(&file, b"data").await.unwrap();
    assert_eq!(job.read_file(&file).await.unwrap(), b"data");
    assert!(job.runner_info().name.starts_with("ecs-"));

    job.stop().await.unwrap();
    let (code, stderr) = agent.finish(Duration::from_secs(20)).await;
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(task_status(&ecs, &arn).await.1, "STOPPED");
    assert!(running_tasks(&ecs).await.is_empty());
}

#[tokio::test]
async fn runs_a_job_through_an_agent_process() {
    runs_a_job(AgentHost::Process).await;
}

#[tokio::test]
async fn runs_a_job_through_an_agent_in_the_base_image() {
    if moto().await.is_none() || !docker_ready().await {
        return;
    }
    runs_a_job(AgentHost::Docker).await;
}

#[tokio::test]
async fn task_definitions_are_registered_once_per_content() {
    let Some(endpoint) = moto().await else { return };
    let _lock = MOTO_LOCK.lock().await;
    let (ecs, logs) = reset(&endpoint, true).await;
    let backend = EcsBackend::with_clients(config(), ecs.clone(), logs.clone())
        .await
        .unwrap();
    let tracers = gha_exec::TracerRequirements::default();
    let plan = gha_backend_ecs::TaskDefinitionPlan::new(&config(), "debian:bookworm", &tracers);
    let a = backend.ensure_task_definition(&plan).await.unwrap();
    let b = backend.ensure_task_definition(&plan).await.unwrap();
    assert_eq!(a, b);
    // A second controller (a later run) finds the same revision instead of registering again.
    let later = EcsBackend::with_clients(config(), ecs.clone(), logs)
        .await
        .unwrap();
    assert_eq!(later.ensure_task_definition(&plan).await.unwrap(), a);
    let other = gha_backend_ecs::TaskDefinitionPlan::new(&config(), "debian:trixie", &tracers);
    let c = later.ensure_task_definition(&other).await.unwrap();
    assert_ne!(a, c);
    let all = ecs.list_task_definitions().send().await.unwrap();
    assert_eq!(
        all.task_definition_arns().len(),
        2,
        "{:?}",
        all.task_definition_arns()
    );
    assert!(a.contains(&plan.family()), "{a}");
}

#[tokio::test]
async fn a_run_task_failure_is_a_clear_error() {
    let Some(endpoint) = moto().await else { return };
    let _lock = MOTO_LOCK.lock().await;
    let (ecs, logs) = reset(&endpoint, true).await;
    let mut c = config();
    c.cluster = "no-such-cluster".into();
    let backend = EcsBackend::with_clients(c, ecs.clone(), logs)
        .await
        .unwrap();
    let repo = repo();
    let err = match backend.start_job(&spec(repo.path(), "build")).await {
        Ok(_) => panic!("RunTask cannot succeed in a missing cluster"),
        Err(e) => e.to_string(),
    };
    assert!(err.starts_with("RunTask failed: "), "{err}");
    assert!(err.contains("ClusterNotFoundException"), "{err}");
    assert!(running_tasks(&ecs).await.is_empty());
}

#[tokio::test]
async fn a_task_that_stops_before_its_agent_connects() {
    let Some(endpoint) = moto().await else { return };
    let _lock = MOTO_LOCK.lock().await;
    // moto's default: each DescribeTasks steps the task on, to STOPPED after four.
    let (ecs, logs) = reset(&endpoint, false).await;
    let mut c = config();
    c.log_group = Some("/gha/test".into());
    // The task's CloudWatch stream, as the awslogs driver would have written it.
    logs.create_log_group()
        .log_group_name("/gha/test")
        .send()
        .await
        .unwrap();
    let backend = Arc::new(
        EcsBackend::with_clients(c, ecs.clone(), logs.clone())
            .await
            .unwrap(),
    );
    let repo = repo();
    let b = backend.clone();
    let s = spec(repo.path(), "build");
    let starting = tokio::spawn(async move { b.start_job(&s).await });
    let mut seen = Vec::new();
    let Some(arn) = next_task_or(&ecs, &mut seen, &starting).await else {
        panic!(
            "the job failed before its task appeared: {:?}",
            starting.await.unwrap().err()
        );
    };
    let stream = format!("gha/job/{}", gha_backend_ecs::task_id(&arn));
    logs.create_log_stream()
        .log_group_name("/gha/test")
        .log_stream_name(&stream)
        .send()
        .await
        .unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    logs.put_log_events()
        .log_group_name("/gha/test")
        .log_stream_name(&stream)
        .log_events(
            aws_sdk_cloudwatchlogs::types::InputLogEvent::builder()
                .timestamp(now)
                .message("exec /usr/local/bin/gha: no such file or directory")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let err = match starting.await.unwrap() {
        Ok(_) => panic!("no agent ever connects"),
        Err(e) => e.to_string(),
    };
    let id = gha_backend_ecs::task_id(&arn);
    assert!(
        err.starts_with(&format!(
            "the ECS task {id} stopped before its agent connected"
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!("the task's log (/gha/test {stream}):")),
        "{err}"
    );
    assert!(
        err.contains("exec /usr/local/bin/gha: no such file or directory"),
        "{err}"
    );
    assert!(running_tasks(&ecs).await.is_empty());
}

#[tokio::test]
async fn an_agent_that_never_connects_times_out_and_its_task_is_stopped() {
    let Some(endpoint) = moto().await else { return };
    let _lock = MOTO_LOCK.lock().await;
    let (ecs, logs) = reset(&endpoint, true).await;
    let mut c = config();
    c.connect_timeout = Duration::from_secs(1);
    let backend = EcsBackend::with_clients(c, ecs.clone(), logs)
        .await
        .unwrap();
    let repo = repo();
    let started = Instant::now();
    let err = match backend.start_job(&spec(repo.path(), "build")).await {
        Ok(_) => panic!("no agent ever connects"),
        Err(e) => e.to_string(),
    };
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(err.contains("did not connect to tcp://127.0.0.1:"), "{err}");
    assert!(err.ends_with("within 1s; the task was stopped"), "{err}");
    assert!(running_tasks(&ecs).await.is_empty());
}

#[tokio::test]
async fn an_agent_with_a_wrong_token_is_refused() {
    let Some(endpoint) = moto().await else { return };
    let _lock = MOTO_LOCK.lock().await;
    let (ecs, logs) = reset(&endpoint, true).await;
    let mut c = config();
    c.connect_timeout = Duration::from_secs(3);
    let backend = Arc::new(
        EcsBackend::with_clients(c, ecs.clone(), logs)
            .await
            .unwrap(),
    );
    let repo = repo();
    let b = backend.clone();
    let s = spec(repo.path(), "build");
    let starting = tokio::spawn(async move { b.start_job(&s).await });
    let mut seen = Vec::new();
    let Some(arn) = next_task_or(&ecs, &mut seen, &starting).await else {
        panic!(
            "the job failed before its task appeared: {:?}",
            starting.await.unwrap().err()
        );
    };
    let env = task_env(&ecs, &arn).await;
    let agent = start_agent(AgentHost::Process, &env, Some(&"0".repeat(64))).await;
    let (code, stderr) = agent.finish(Duration::from_secs(20)).await;
    assert_eq!(code, Some(1));
    assert!(
        stderr.contains("gha agent: error: the controller refused the connection: invalid token"),
        "{stderr}"
    );
    let err = match starting.await.unwrap() {
        Ok(_) => panic!("the agent had the wrong token"),
        Err(e) => e.to_string(),
    };
    assert!(
        err.contains("connections refused meanwhile: 127.0.0.1:"),
        "{err}"
    );
    assert!(err.contains("invalid token"), "{err}");
    assert!(running_tasks(&ecs).await.is_empty());
}

#[tokio::test]
async fn an_agent_that_goes_away_mid_step_fails_the_job() {
    let Some(endpoint) = moto().await else { return };
    let _lock = MOTO_LOCK.lock().await;
    let (ecs, logs) = reset(&endpoint, true).await;
    let backend = Arc::new(
        EcsBackend::with_clients(config(), ecs.clone(), logs)
            .await
            .unwrap(),
    );
    let repo = repo();
    let (job, agent, arn) = start_job_with_agent(
        &backend,
        &ecs,
        spec(repo.path(), "build"),
        AgentHost::Process,
    )
    .await;
    let pidfile = format!("{}/step.pid", job.paths().temp);
    let job: Arc<dyn JobEnv> = Arc::from(job);
    let running = {
        let job = job.clone();
        let script = format!("sleep 300 & echo $! > {pidfile}; wait");
        tokio::spawn(async move {
            job.exec(
                &Exec::new(["sh", "-c", script.as_str()]),
                &VecLogSink::default(),
                CancellationToken::new(),
            )
            .await
        })
    };
    while !std::path::Path::new(&pidfile).exists() {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let step_child: i32 = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    // ECS (or anything) terminates the agent: it kills its steps and exits.
    let agent_pid = agent.child.id().unwrap() as i32;
    unsafe { libc::kill(agent_pid, libc::SIGTERM) };
    let err = tokio::time::timeout(Duration::from_secs(10), running)
        .await
        .unwrap()
        .unwrap()
        .unwrap_err();
    let id = gha_backend_ecs::task_id(&arn);
    assert!(
        err.to_string()
            .starts_with(&format!("the agent in the ECS task {id} disconnected")),
        "{err}"
    );
    let (code, stderr) = agent.finish(Duration::from_secs(10)).await;
    assert_eq!(code, Some(1));
    assert!(
        stderr.contains("terminated by SIGTERM; killed every step"),
        "{stderr}"
    );
    assert!(
        wait_dead(step_child, Duration::from_secs(5)).await,
        "the step's child {step_child} survived its agent"
    );
    job.stop().await.unwrap();
    assert!(running_tasks(&ecs).await.is_empty());
}

#[tokio::test]
async fn a_cancelled_step_and_job_leave_nothing_running() {
    let Some(endpoint) = moto().await else { return };
    let _lock = MOTO_LOCK.lock().await;
    let (ecs, logs) = reset(&endpoint, true).await;
    let backend = Arc::new(
        EcsBackend::with_clients(config(), ecs.clone(), logs)
            .await
            .unwrap(),
    );
    let repo = repo();
    let (job, agent, _arn) = start_job_with_agent(
        &backend,
        &ecs,
        spec(repo.path(), "build"),
        AgentHost::Process,
    )
    .await;
    let mut exec = Exec::new(["sleep", "300"]);
    exec.kill_policy = KillPolicy {
        after_sigint: Duration::from_millis(200),
        after_sigterm: Duration::from_millis(200),
    };
    let cancel = CancellationToken::new();
    let c = cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(500)).await;
        c.cancel();
    });
    let started = Instant::now();
    let status = job
        .exec(&exec, &VecLogSink::default(), cancel)
        .await
        .unwrap();
    assert!(status.cancelled, "{status:?}");
    assert!(started.elapsed() < Duration::from_secs(5));
    job.stop().await.unwrap();
    let (code, stderr) = agent.finish(Duration::from_secs(10)).await;
    assert_eq!(code, Some(0), "{stderr}");
    assert!(running_tasks(&ecs).await.is_empty());
}

#[tokio::test]
async fn prune_stops_only_tasks_gha_started() {
    let Some(endpoint) = moto().await else { return };
    let _lock = MOTO_LOCK.lock().await;
    let (ecs, logs) = reset(&endpoint, true).await;
    let backend = EcsBackend::with_clients(config(), ecs.clone(), logs)
        .await
        .unwrap();
    let plan =
        gha_backend_ecs::TaskDefinitionPlan::new(&config(), "debian:bookworm", &Default::default());
    let def = backend.ensure_task_definition(&plan).await.unwrap();
    let run = |started_by: &'static str| {
        let ecs = ecs.clone();
        let def = def.clone();
        async move {
            ecs.run_task()
                .cluster(CLUSTER)
                .task_definition(def)
                .launch_type(aws_sdk_ecs::types::LaunchType::Ec2)
                .started_by(started_by)
                .send()
                .await
                .unwrap()
                .tasks()[0]
                .task_arn()
                .unwrap()
                .to_string()
        }
    };
    let ours_1 = run("gha/1").await;
    let ours_2 = run("gha/2").await;
    let foreign = run("someone-else").await;
    let report = gha_backend_ecs::prune(&ecs, CLUSTER, Some("1"))
        .await
        .unwrap();
    assert_eq!(report.stopped, vec![ours_1.clone()]);
    let report = gha_backend_ecs::prune(&ecs, CLUSTER, None).await.unwrap();
    assert_eq!(report.stopped, vec![ours_2]);
    assert_eq!(running_tasks(&ecs).await, vec![foreign]);
}
