//! Helpers for tests against moto_server: the emulator, SDK clients, and a scheduler that
//! starts `gha agent` for the tasks moto "runs" (moto runs no containers).

#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use aws_sdk_ecs::config::{Credentials, Region, retry::RetryConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

pub const CLUSTER: &str = "gha-test";

/// The moto endpoint, or `None` (with a message) when no moto answers and it is not required.
pub async fn moto() -> Option<String> {
    let endpoint =
        std::env::var("GHA_MOTO_ENDPOINT").unwrap_or_else(|_| "http://127.0.0.1:5000".into());
    let required = std::env::var("GHA_REQUIRE_MOTO").is_ok_and(|v| v == "1");
    match http(
        &endpoint,
        "GET",
        "/moto-api/state-manager/get-transition?model_name=ecs::task",
        "",
    )
    .await
    {
        Ok(_) => Some(endpoint),
        Err(e) if required => {
            panic!("GHA_REQUIRE_MOTO=1 but moto_server at {endpoint} does not answer: {e}")
        }
        Err(e) => {
            eprintln!("skipped: no moto_server at {endpoint} ({e}); .ci/run starts one");
            None
        }
    }
}

/// One HTTP/1.1 request to the emulator (its control API), returning the body.
pub async fn http(endpoint: &str, method: &str, path: &str, body: &str) -> Result<String, String> {
    http_with(endpoint, method, path, body, "application/json", "").await
}

/// An EC2 instance registered as a container instance of the test cluster, so that EC2 tasks
/// can be placed (EC2's Query API by hand: the EC2 SDK is not worth its build time here).
async fn add_container_instance(endpoint: &str, ecs: &aws_sdk_ecs::Client) {
    let auth = "Authorization: AWS4-HMAC-SHA256 Credential=test/20261204/us-east-1/ec2/aws4_request, SignedHeaders=host, Signature=00\r\n";
    let body = "Action=RunInstances&Version=2016-11-15&ImageId=ami-12c6146b&MinCount=1&MaxCount=1&InstanceType=t2.xlarge";
    let xml = http_with(
        endpoint,
        "POST",
        "/",
        body,
        "application/x-www-form-urlencoded",
        auth,
    )
    .await
    .unwrap();
    let id = xml
        .split("<instanceId>")
        .nth(1)
        .and_then(|s| s.split('<').next())
        .unwrap_or_else(|| panic!("no instance id in {xml}"));
    ecs.register_container_instance()
        .cluster(CLUSTER)
        .instance_identity_document(format!(r#"{{"instanceId":"{id}","region":"us-east-1"}}"#))
        .send()
        .await
        .unwrap();
}

async fn http_with(
    endpoint: &str,
    method: &str,
    path: &str,
    body: &str,
    content_type: &str,
    extra_headers: &str,
) -> Result<String, String> {
    let hostport = endpoint.trim_start_matches("http://").trim_end_matches('/');
    let connect = tokio::net::TcpStream::connect(hostport);
    let mut tcp = tokio::time::timeout(Duration::from_secs(5), connect)
        .await
        .map_err(|_| "connect timed out".to_string())?
        .map_err(|e| e.to_string())?;
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {hostport}\r\nContent-Type: {content_type}\r\n{extra_headers}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    tcp.write_all(request.as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    let mut response = String::new();
    tokio::time::timeout(Duration::from_secs(30), tcp.read_to_string(&mut response))
        .await
        .map_err(|_| "no answer".to_string())?
        .map_err(|e| e.to_string())?;
    let status = response.split(' ').nth(1).unwrap_or("");
    if !status.starts_with('2') {
        return Err(format!("HTTP {status}: {response}"));
    }
    Ok(response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default())
}

/// Resets moto and creates the test cluster; `keep_running` makes tasks stay RUNNING (moto's
/// state manager), else moto's default steps them to STOPPED over four DescribeTasks calls.
pub async fn reset(
    endpoint: &str,
    keep_running: bool,
) -> (aws_sdk_ecs::Client, aws_sdk_cloudwatchlogs::Client) {
    http(endpoint, "POST", "/moto-api/reset", "").await.unwrap();
    let transition = if keep_running {
        r#"{"model_name":"ecs::task","transition":{"progression":"manual","times":100000}}"#
    } else {
        r#"{"model_name":"ecs::task","transition":{"progression":"manual","times":1}}"#
    };
    http(
        endpoint,
        "POST",
        "/moto-api/state-manager/set-transition",
        transition,
    )
    .await
    .unwrap();
    let ecs = ecs_client(endpoint);
    ecs.create_cluster()
        .cluster_name(CLUSTER)
        .send()
        .await
        .unwrap();
    add_container_instance(endpoint, &ecs).await;
    (ecs, logs_client(endpoint))
}

pub fn ecs_client(endpoint: &str) -> aws_sdk_ecs::Client {
    let config = aws_sdk_ecs::Config::builder()
        .behavior_version_latest()
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new("test", "test", None, None, "moto"))
        .retry_config(RetryConfig::disabled())
        .build();
    aws_sdk_ecs::Client::from_conf(config)
}

pub fn logs_client(endpoint: &str) -> aws_sdk_cloudwatchlogs::Client {
    let config = aws_sdk_cloudwatchlogs::Config::builder()
        .behavior_version_latest()
        .region(aws_sdk_cloudwatchlogs::config::Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(aws_sdk_cloudwatchlogs::config::Credentials::new(
            "test", "test", None, None, "moto",
        ))
        .retry_config(aws_sdk_cloudwatchlogs::config::retry::RetryConfig::disabled())
        .build();
    aws_sdk_cloudwatchlogs::Client::from_conf(config)
}

/// A backend configuration for moto: EC2 in bridge mode (moto cannot run awsvpc tasks), the
/// controller on 127.0.0.1, fast polling.
pub fn config() -> gha_backend_ecs::EcsConfig {
    let mut c = gha_backend_ecs::EcsConfig {
        cluster: CLUSTER.into(),
        launch_type: gha_backend_ecs::LaunchType::Ec2,
        cpu: "256".into(),
        memory: "512".into(),
        listen: "127.0.0.1:0".parse().unwrap(),
        poll_interval: Duration::from_millis(200),
        connect_timeout: Duration::from_secs(30),
        agent_dead_after: Duration::from_secs(5),
        heartbeat_interval: Duration::from_millis(500),
        ..gha_backend_ecs::EcsConfig::default()
    };
    c.platforms
        .insert("ubuntu-latest", "gha-runner/base:bookworm");
    c
}

/// The `gha` binary (`GHA_BIN`, else next to this test's directory: `target/debug/gha`).
pub fn gha_bin() -> PathBuf {
    if let Ok(p) = std::env::var("GHA_BIN") {
        return PathBuf::from(p);
    }
    let exe = std::env::current_exe().unwrap();
    let bin = exe.parent().unwrap().parent().unwrap().join("gha");
    assert!(
        bin.exists(),
        "{} does not exist: build it first (cargo build -p gha-cli)",
        bin.display()
    );
    bin
}

/// A task's container-override environment, as the scheduler would hand it to the container.
pub async fn task_env(ecs: &aws_sdk_ecs::Client, arn: &str) -> Vec<(String, String)> {
    let out = ecs
        .describe_tasks()
        .cluster(CLUSTER)
        .tasks(arn)
        .send()
        .await
        .unwrap();
    let task = &out.tasks()[0];
    let overrides = task.overrides().expect("the task has overrides");
    overrides.container_overrides()[0]
        .environment()
        .iter()
        .map(|kv| {
            (
                kv.name().unwrap_or("").to_string(),
                kv.value().unwrap_or("").to_string(),
            )
        })
        .collect()
}

/// Waits for the next task that is not in `seen`; `None` when `give_up` finished first.
pub async fn next_task_or<T>(
    ecs: &aws_sdk_ecs::Client,
    seen: &mut Vec<String>,
    give_up: &tokio::task::JoinHandle<T>,
) -> Option<String> {
    for _ in 0..300 {
        if give_up.is_finished() {
            return None;
        }
        let out = ecs.list_tasks().cluster(CLUSTER).send().await.unwrap();
        if let Some(arn) = out.task_arns().iter().find(|a| !seen.contains(a)) {
            seen.push(arn.clone());
            return Some(arn.clone());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no new task appeared within 30 s");
}

/// Waits for the next task that is not in `seen`.
pub async fn next_task(ecs: &aws_sdk_ecs::Client, seen: &mut Vec<String>) -> String {
    for _ in 0..300 {
        let out = ecs.list_tasks().cluster(CLUSTER).send().await.unwrap();
        if let Some(arn) = out.task_arns().iter().find(|a| !seen.contains(a)) {
            seen.push(arn.clone());
            return arn.clone();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no new task appeared within 30 s");
}

/// How the scheduler starts an agent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AgentHost {
    /// A child process of the test.
    Process,
    /// A container of gha-runner/base:bookworm with the `gha` binary bind-mounted.
    Docker,
}

/// A started agent.
pub struct RunningAgent {
    pub child: tokio::process::Child,
    pub container: Option<String>,
    _work: tempfile::TempDir,
}

impl RunningAgent {
    /// Waits for the agent to exit; returns its exit code and stderr.
    pub async fn finish(mut self, within: Duration) -> (Option<i32>, String) {
        let status = tokio::time::timeout(within, self.child.wait())
            .await
            .expect("the agent exits")
            .unwrap();
        let mut err = String::new();
        if let Some(mut e) = self.child.stderr.take() {
            let _ = e.read_to_string(&mut err).await;
        }
        (status.code(), err)
    }
}

/// What the container of a task definition asks of the scheduler (moto stores it; ECS would
/// honour it on the container instance).
#[derive(Clone, Debug, Default)]
pub struct TaskContainer {
    /// The image.
    pub image: String,
    /// Host directory → container path, read-only.
    pub mounts: Vec<(String, String, bool)>,
    /// Added Linux capabilities.
    pub capabilities: Vec<String>,
    /// Privileged.
    pub privileged: bool,
}

/// The container definition of the task `arn` runs, as the scheduler reads it.
pub async fn task_container(ecs: &aws_sdk_ecs::Client, arn: &str) -> TaskContainer {
    let out = ecs
        .describe_tasks()
        .cluster(CLUSTER)
        .tasks(arn)
        .send()
        .await
        .unwrap();
    let def = ecs
        .describe_task_definition()
        .task_definition(out.tasks()[0].task_definition_arn().unwrap())
        .send()
        .await
        .unwrap();
    let def = def.task_definition().unwrap();
    let c = &def.container_definitions()[0];
    let source = |volume: &str| {
        def.volumes()
            .iter()
            .find(|v| v.name() == Some(volume))
            .and_then(|v| v.host())
            .and_then(|h| h.source_path())
            .unwrap_or_else(|| panic!("no host volume {volume}"))
            .to_string()
    };
    TaskContainer {
        image: c.image().unwrap_or_default().to_string(),
        mounts: c
            .mount_points()
            .iter()
            .map(|m| {
                (
                    source(m.source_volume().unwrap()),
                    m.container_path().unwrap().to_string(),
                    m.read_only().unwrap_or(false),
                )
            })
            .collect(),
        capabilities: c
            .linux_parameters()
            .and_then(|l| l.capabilities())
            .map(|k| k.add().to_vec())
            .unwrap_or_default(),
        privileged: c.privileged().unwrap_or(false),
    }
}

/// Plays ECS's scheduler for the task `arn`: starts its agent with the task's overrides and, in
/// a container, the task definition's image, host volumes and capabilities.
pub async fn start_task_agent(
    ecs: &aws_sdk_ecs::Client,
    arn: &str,
    host: AgentHost,
) -> RunningAgent {
    let env = task_env(ecs, arn).await;
    let container = match host {
        AgentHost::Docker => Some(task_container(ecs, arn).await),
        AgentHost::Process => None,
    };
    start_agent_as(host, &env, None, container.as_ref()).await
}

/// Starts `gha agent` with `env` (a task's overrides), optionally changing the token.
pub async fn start_agent(
    host: AgentHost,
    env: &[(String, String)],
    token: Option<&str>,
) -> RunningAgent {
    start_agent_as(host, env, token, None).await
}

/// [`start_agent`] in the container `container` describes (Docker; the base image when
/// `None`).
pub async fn start_agent_as(
    host: AgentHost,
    env: &[(String, String)],
    token: Option<&str>,
    container: Option<&TaskContainer>,
) -> RunningAgent {
    let work = tempfile::tempdir().unwrap();
    let mut env: Vec<(String, String)> = env.to_vec();
    if let Some(t) = token {
        for (k, v) in env.iter_mut() {
            if k == "GHA_AGENT_TOKEN" {
                *v = t.to_string();
            }
        }
    }
    match host {
        AgentHost::Process => {
            let mut cmd = tokio::process::Command::new(gha_bin());
            cmd.arg("agent")
                .arg("--dead-after")
                .arg("5")
                .arg("--work-dir")
                .arg(work.path())
                .envs(env)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .kill_on_drop(true);
            RunningAgent {
                child: cmd.spawn().unwrap(),
                container: None,
                _work: work,
            }
        }
        AgentHost::Docker => {
            let name = format!(
                "gha-ecs-test-agent-{}",
                std::process::id() as u64 * 1000 + rand_suffix()
            );
            let mut cmd = tokio::process::Command::new("docker");
            cmd.args([
                "run",
                "--rm",
                "--init",
                "--network",
                "host",
                "--name",
                &name,
            ])
            .arg("-v")
            .arg(format!("{}:/usr/local/bin/gha:ro", gha_bin().display()));
            for (k, v) in &env {
                cmd.arg("-e").arg(format!("{k}={v}"));
            }
            let image = match container {
                Some(c) => {
                    for (source, target, read_only) in &c.mounts {
                        let ro = if *read_only { ":ro" } else { "" };
                        cmd.arg("-v").arg(format!("{source}:{target}{ro}"));
                    }
                    for cap in &c.capabilities {
                        cmd.arg("--cap-add").arg(cap);
                    }
                    if c.privileged {
                        cmd.arg("--privileged");
                    }
                    c.image.clone()
                }
                None => "gha-runner/base:bookworm".to_string(),
            };
            cmd.args([image.as_str(), "gha", "agent", "--dead-after", "5"])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .kill_on_drop(true);
            RunningAgent {
                child: cmd.spawn().unwrap(),
                container: Some(name),
                _work: work,
            }
        }
    }
}

fn rand_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

/// Whether a Docker engine answers with the base image; panics when GHA_REQUIRE_DOCKER=1 and
/// it does not.
pub async fn docker_ready() -> bool {
    let required = std::env::var("GHA_REQUIRE_DOCKER").is_ok_and(|v| v == "1");
    let ok = tokio::process::Command::new("docker")
        .args(["image", "inspect", "gha-runner/base:bookworm"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .await
        .is_ok_and(|s| s.success());
    if !ok {
        if required {
            panic!(
                "GHA_REQUIRE_DOCKER=1 but no Docker engine with gha-runner/base:bookworm (cargo xtask image)"
            );
        }
        eprintln!("skipped: no Docker engine with gha-runner/base:bookworm (cargo xtask image)");
    }
    ok
}

/// The task's last status and desired status.
pub async fn task_status(ecs: &aws_sdk_ecs::Client, arn: &str) -> (String, String) {
    let out = ecs
        .describe_tasks()
        .cluster(CLUSTER)
        .tasks(arn)
        .send()
        .await
        .unwrap();
    let t = &out.tasks()[0];
    (
        t.last_status().unwrap_or("").to_string(),
        t.desired_status().unwrap_or("").to_string(),
    )
}

/// Tasks whose desired status is still RUNNING.
pub async fn running_tasks(ecs: &aws_sdk_ecs::Client) -> Vec<String> {
    ecs.list_tasks()
        .cluster(CLUSTER)
        .desired_status(aws_sdk_ecs::types::DesiredStatus::Running)
        .send()
        .await
        .unwrap()
        .task_arns()
        .to_vec()
}

/// Serialises the tests of one binary: they share one moto.
pub static MOTO_LOCK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
