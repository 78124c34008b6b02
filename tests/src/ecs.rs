//! `--backend ecs` against moto_server: a cluster per test, and a [`Scheduler`] that plays ECS's
//! part (moto runs no containers): it starts `gha agent` for every task `gha run` starts, with
//! the environment of the task's container overrides, and checks at the end that every task was
//! stopped and every agent exited.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use aws_sdk_ecs::config::{Credentials, Region, retry::RetryConfig};

use crate::backend::BASE_IMAGE;

/// The moto endpoint (`GHA_MOTO_ENDPOINT`, default `http://127.0.0.1:5000`) when moto answers;
/// `None` after printing `skipped: …` when it does not. Panics when it does not answer and
/// `GHA_REQUIRE_MOTO=1`.
pub fn moto_endpoint() -> Option<String> {
    static PROBE: OnceLock<Result<String, String>> = OnceLock::new();
    let endpoint =
        std::env::var("GHA_MOTO_ENDPOINT").unwrap_or_else(|_| "http://127.0.0.1:5000".into());
    let probe = PROBE.get_or_init(|| {
        http(
            &endpoint,
            "GET",
            "/moto-api/state-manager/get-transition?model_name=ecs::task",
            "",
            "application/json",
            "",
        )
        .map(|_| endpoint.clone())
    });
    match probe {
        Ok(e) => Some(e.clone()),
        Err(e) => {
            assert!(
                std::env::var("GHA_REQUIRE_MOTO").as_deref() != Ok("1"),
                "GHA_REQUIRE_MOTO=1 but moto_server at {endpoint} does not answer: {e}"
            );
            eprintln!("skipped: no moto_server at {endpoint} ({e})");
            None
        }
    }
}

/// One blocking HTTP/1.1 request to moto; the body of a 2xx answer.
fn http(
    endpoint: &str,
    method: &str,
    path: &str,
    body: &str,
    content_type: &str,
    extra_headers: &str,
) -> Result<String, String> {
    let hostport = endpoint
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_string();
    let addr = std::net::ToSocketAddrs::to_socket_addrs(&hostport)
        .map_err(|e| e.to_string())?
        .next()
        .ok_or("no address")?;
    let mut tcp =
        TcpStream::connect_timeout(&addr, Duration::from_secs(5)).map_err(|e| e.to_string())?;
    tcp.set_read_timeout(Some(Duration::from_secs(30)))
        .map_err(|e| e.to_string())?;
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {hostport}\r\nContent-Type: {content_type}\r\n{extra_headers}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    tcp.write_all(request.as_bytes())
        .map_err(|e| e.to_string())?;
    let mut response = String::new();
    tcp.read_to_string(&mut response)
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

/// An ECS client for moto.
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

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

/// A cluster of its own for one test (moto is shared by every test: it is never reset), with
/// one EC2 container instance so that tasks can be placed.
#[derive(Clone, Debug)]
pub struct Cluster {
    /// The moto endpoint.
    pub endpoint: String,
    /// The cluster name.
    pub name: String,
}

impl Cluster {
    /// Creates a fresh cluster in moto. Tasks stay RUNNING until stopped (moto's state
    /// manager; every test of this crate sets the same transition).
    pub fn create(endpoint: &str) -> Cluster {
        static N: AtomicU64 = AtomicU64::new(0);
        let name = format!(
            "gha-e2e-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        );
        http(
            endpoint,
            "POST",
            "/moto-api/state-manager/set-transition",
            r#"{"model_name":"ecs::task","transition":{"progression":"manual","times":100000}}"#,
            "application/json",
            "",
        )
        .expect("moto state manager");
        // EC2's Query API by hand (a signature moto does not check).
        let auth = "Authorization: AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/ec2/aws4_request, SignedHeaders=host, Signature=00\r\n";
        let xml = http(
            endpoint,
            "POST",
            "/",
            "Action=RunInstances&Version=2016-11-15&ImageId=ami-12c6146b&MinCount=1&MaxCount=1&InstanceType=t2.xlarge",
            "application/x-www-form-urlencoded",
            auth,
        )
        .expect("moto RunInstances");
        let instance = xml
            .split("<instanceId>")
            .nth(1)
            .and_then(|s| s.split('<').next())
            .unwrap_or_else(|| panic!("no instance id in {xml}"))
            .to_string();
        let ecs = ecs_client(endpoint);
        runtime().block_on(async {
            ecs.create_cluster()
                .cluster_name(&name)
                .send()
                .await
                .expect("CreateCluster");
            ecs.register_container_instance()
                .cluster(&name)
                .instance_identity_document(format!(
                    r#"{{"instanceId":"{instance}","region":"us-east-1"}}"#
                ))
                .send()
                .await
                .expect("RegisterContainerInstance");
        });
        Cluster {
            endpoint: endpoint.to_string(),
            name,
        }
    }

    /// The GHA_ECS_* (and AWS_*) variables that point `gha run --backend ecs` at this cluster.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("GHA_ECS_ENDPOINT", self.endpoint.clone()),
            ("GHA_ECS_REGION", "us-east-1".into()),
            ("GHA_ECS_CLUSTER", self.name.clone()),
            ("GHA_ECS_LAUNCH_TYPE", "ec2".into()),
            ("GHA_ECS_LISTEN", "127.0.0.1:0".into()),
            ("GHA_ECS_CPU", "256".into()),
            ("GHA_ECS_MEMORY", "512".into()),
            ("GHA_ECS_POLL_INTERVAL", "0.2".into()),
            ("GHA_ECS_CONNECT_TIMEOUT", "60".into()),
            ("AWS_ACCESS_KEY_ID", "test".into()),
            ("AWS_SECRET_ACCESS_KEY", "test".into()),
            ("AWS_EC2_METADATA_DISABLED", "true".into()),
        ]
    }

    /// Tasks of this cluster whose desired status is RUNNING.
    pub fn running_tasks(&self) -> Vec<String> {
        let ecs = ecs_client(&self.endpoint);
        runtime().block_on(running_tasks(&ecs, &self.name))
    }
}

async fn running_tasks(ecs: &aws_sdk_ecs::Client, cluster: &str) -> Vec<String> {
    ecs.list_tasks()
        .cluster(cluster)
        .desired_status(aws_sdk_ecs::types::DesiredStatus::Running)
        .send()
        .await
        .expect("ListTasks")
        .task_arns()
        .to_vec()
}

/// What one agent did.
#[derive(Clone, Debug)]
pub struct AgentExit {
    /// The task it served.
    pub task: String,
    /// Its exit code (`None`: killed by a signal, or still running when the scheduler gave up).
    pub code: Option<i32>,
    /// Its standard error.
    pub stderr: String,
}

/// What the scheduler saw, checked by [`Scheduler::finish`].
#[derive(Clone, Debug, Default)]
pub struct SchedulerReport {
    /// Every agent started, in task start order.
    pub agents: Vec<AgentExit>,
    /// Problems: tasks left RUNNING, agents that did not exit, containers left behind.
    pub problems: Vec<String>,
}

struct Agent {
    task: String,
    child: Child,
    container: Option<String>,
    stderr: PathBuf,
    _work: tempfile::TempDir,
}

/// ECS's scheduler for one `gha run`: a background thread (with its own tokio runtime) that
/// polls ListTasks of the cluster, reads each new task's container-override environment with
/// DescribeTasks and starts `gha agent` with it.
pub struct Scheduler {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<SchedulerReport>>,
}

impl Scheduler {
    /// Starts scheduling the tasks of `cluster`; agents run in containers of the base image
    /// when `in_container`, else as processes.
    pub fn start(cluster: &Cluster, in_container: bool) -> Scheduler {
        let stop = Arc::new(AtomicBool::new(false));
        let cluster = cluster.clone();
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name(format!("scheduler-{}", cluster.name))
            .spawn(move || runtime().block_on(schedule(cluster, in_container, flag)))
            .expect("scheduler thread");
        Scheduler {
            stop,
            thread: Some(thread),
        }
    }

    /// Tells the scheduler that `gha run` exited, waits for its agents, and returns what it saw.
    pub fn finish(mut self) -> SchedulerReport {
        self.stop.store(true, Ordering::SeqCst);
        match self.thread.take().expect("finished once").join() {
            Ok(r) => r,
            Err(_) => SchedulerReport {
                agents: Vec::new(),
                problems: vec!["the scheduler thread panicked".into()],
            },
        }
    }
}

impl Drop for Scheduler {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

async fn schedule(cluster: Cluster, in_container: bool, stop: Arc<AtomicBool>) -> SchedulerReport {
    let ecs = ecs_client(&cluster.endpoint);
    let mut seen: Vec<String> = Vec::new();
    let mut agents: Vec<Agent> = Vec::new();
    let mut report = SchedulerReport::default();
    loop {
        // Read the flag before listing, so that tasks started just before `gha run` exited
        // are seen by one last pass.
        let stopping = stop.load(Ordering::SeqCst);
        match ecs
            .list_tasks()
            .cluster(&cluster.name)
            .desired_status(aws_sdk_ecs::types::DesiredStatus::Running)
            .send()
            .await
        {
            Ok(out) => {
                for arn in out.task_arns() {
                    if seen.contains(arn) {
                        continue;
                    }
                    seen.push(arn.clone());
                    match task_env(&ecs, &cluster.name, arn).await {
                        Ok(env) => agents.push(start_agent(arn, &env, in_container)),
                        Err(e) => report.problems.push(e),
                    }
                }
            }
            Err(e) => report.problems.push(format!("ListTasks: {e:?}")),
        }
        if stopping {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Agents exit once the controller stops their job (or, at the latest, `--dead-after`
    // seconds after it went away).
    let deadline = Instant::now() + Duration::from_secs(30);
    for mut a in agents {
        let code = loop {
            match a.child.try_wait() {
                Ok(Some(status)) => break status.code(),
                Ok(None) if Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(50)).await
                }
                _ => {
                    report
                        .problems
                        .push(format!("the agent of {} did not exit", a.task));
                    let _ = a.child.kill();
                    let _ = a.child.wait();
                    break None;
                }
            }
        };
        if let Some(name) = &a.container {
            let left = docker_lines(&["ps", "-aq", "--filter", &format!("name=^{name}$")]);
            if !left.is_empty() {
                report
                    .problems
                    .push(format!("the agent container {name} was left behind"));
                let _ = Command::new("docker")
                    .args(["rm", "-f", name])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status();
            }
        }
        report.agents.push(AgentExit {
            task: a.task.clone(),
            code,
            stderr: std::fs::read_to_string(&a.stderr).unwrap_or_default(),
        });
    }
    let running = running_tasks(&ecs, &cluster.name).await;
    if !running.is_empty() {
        report
            .problems
            .push(format!("tasks left RUNNING: {running:?}"));
    }
    report
}

/// The output lines of a `docker` command (empty when it fails).
pub(crate) fn docker_lines(args: &[&str]) -> Vec<String> {
    Command::new("docker")
        .args(args)
        .stderr(Stdio::null())
        .output()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .filter(|l| !l.trim().is_empty())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// A task's container-override environment, as ECS would hand it to the container.
async fn task_env(
    ecs: &aws_sdk_ecs::Client,
    cluster: &str,
    arn: &str,
) -> Result<Vec<(String, String)>, String> {
    let out = ecs
        .describe_tasks()
        .cluster(cluster)
        .tasks(arn)
        .send()
        .await
        .map_err(|e| format!("DescribeTasks {arn}: {e:?}"))?;
    let task = out
        .tasks()
        .first()
        .ok_or_else(|| format!("DescribeTasks found no task {arn}"))?;
    let overrides = task
        .overrides()
        .and_then(|o| o.container_overrides().first())
        .ok_or_else(|| format!("task {arn} has no container overrides"))?;
    Ok(overrides
        .environment()
        .iter()
        .map(|kv| {
            (
                kv.name().unwrap_or("").to_string(),
                kv.value().unwrap_or("").to_string(),
            )
        })
        .collect())
}

fn start_agent(task: &str, env: &[(String, String)], in_container: bool) -> Agent {
    static N: AtomicU64 = AtomicU64::new(0);
    let work = tempfile::tempdir().expect("tempdir");
    let stderr = work.path().join("agent.stderr");
    let err_file = std::fs::File::create(&stderr).expect("agent stderr file");
    let gha = crate::gha_binary();
    if in_container {
        let name = format!(
            "gha-e2e-agent-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        );
        let mut cmd = Command::new("docker");
        cmd.args([
            "run",
            "--rm",
            "--init",
            "--network",
            "host",
            "--name",
            &name,
        ])
        .args(["--label", "io.gha-runner.e2e-agent=true"])
        .arg("-v")
        .arg(format!("{}:/usr/local/bin/gha:ro", gha.display()));
        for (k, v) in env {
            cmd.arg("-e").arg(format!("{k}={v}"));
        }
        cmd.args([BASE_IMAGE, "gha", "agent", "--dead-after", "5"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(err_file);
        Agent {
            task: task.to_string(),
            child: cmd.spawn().expect("docker run (agent)"),
            container: Some(name),
            stderr,
            _work: work,
        }
    } else {
        let dir = work.path().join("work");
        let mut cmd = Command::new(gha);
        cmd.args(["agent", "--dead-after", "5", "--work-dir"])
            .arg(&dir)
            .env_remove("GITHUB_ACTIONS")
            .env_remove("ACTIONS_STEP_DEBUG")
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(err_file);
        Agent {
            task: task.to_string(),
            child: cmd.spawn().expect("gha agent"),
            container: None,
            stderr,
            _work: work,
        }
    }
}
