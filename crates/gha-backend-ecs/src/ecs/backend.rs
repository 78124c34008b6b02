//! The ECS backend: one task per job, its agent dialing back.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_ecs::types::{
    AssignPublicIp, AwsVpcConfiguration, ContainerOverride, KeyValuePair,
    LaunchType as SdkLaunchType, NetworkConfiguration, Tag, TaskOverride,
};
use gha_exec::{Backend, BackendError, JobEnv, JobSpec};
use tokio::sync::Mutex;

use super::config::{CONTAINER_NAME, EcsConfig, LaunchType, TracerTools};
use super::job_env::{EcsJobEnv, stop_task};
use super::task_definition::TaskDefinitionPlan;
use super::task_status::{describe_failures, describe_stopped_task, task_id};
use crate::agent::protocol::AgentJob;
use crate::agent::{
    AgentListener, AgentUrl, ENV_CA, ENV_TOKEN, ENV_URL, RemoteJobEnv, RemoteOptions,
};

/// The tag every task of `gha` carries (value: `gha`).
pub const TAG_MANAGED_BY: &str = "gha:managed-by";
/// The tag holding the run id.
pub const TAG_RUN_ID: &str = "gha:run-id";
/// The tag holding the job's run-unique name.
pub const TAG_JOB: &str = "gha:job";
/// Every task's `startedBy` starts with this, followed by the run id.
pub const STARTED_BY_PREFIX: &str = "gha/";

/// Runs each job as an ECS task whose `gha agent` dials back to this process.
///
/// ```no_run
/// use gha_backend_ecs::{EcsBackend, EcsConfig};
/// # async fn f() -> Result<(), String> {
/// let mut config = EcsConfig::from_env()?;
/// config.platforms.add_flag("ubuntu-latest=123456789012.dkr.ecr.eu-west-1.amazonaws.com/runner:1").map_err(|e| e.to_string())?;
/// let backend = EcsBackend::connect(config).await?;
/// // hand `backend` to gha_exec's Executor like any other Backend
/// # Ok(()) }
/// ```
pub struct EcsBackend {
    config: EcsConfig,
    ecs: aws_sdk_ecs::Client,
    logs: aws_sdk_cloudwatchlogs::Client,
    listener: AgentListener,
    agent_url: AgentUrl,
    /// family → task definition ARN, registered (or found) in this process.
    registered: Mutex<HashMap<String, String>>,
}

impl std::fmt::Debug for EcsBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EcsBackend")
            .field("cluster", &self.config.cluster)
            .field("agent_url", &self.agent_url)
            .finish_non_exhaustive()
    }
}

/// The AWS SDK configuration for `config` (region and endpoint overrides; credentials from the
/// SDK's usual chain).
pub async fn sdk_config(config: &EcsConfig) -> aws_config::SdkConfig {
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
    if let Some(r) = &config.region {
        loader = loader.region(aws_config::Region::new(r.clone()));
    }
    if let Some(e) = &config.endpoint {
        loader = loader.endpoint_url(e);
    }
    loader.load().await
}

impl EcsBackend {
    /// Loads AWS settings the usual way and starts listening for agents.
    pub async fn connect(config: EcsConfig) -> Result<EcsBackend, String> {
        let sdk = sdk_config(&config).await;
        let ecs = aws_sdk_ecs::Client::new(&sdk);
        let logs = aws_sdk_cloudwatchlogs::Client::new(&sdk);
        EcsBackend::with_clients(config, ecs, logs).await
    }

    /// Uses the given SDK clients (tests point them at an emulator) and starts listening.
    pub async fn with_clients(
        config: EcsConfig,
        ecs: aws_sdk_ecs::Client,
        logs: aws_sdk_cloudwatchlogs::Client,
    ) -> Result<EcsBackend, String> {
        config.validate()?;
        let listener = AgentListener::bind(config.listen, config.tls.as_ref()).await?;
        let agent_url = config.agent_url(listener.local_addr())?;
        Ok(EcsBackend {
            config,
            ecs,
            logs,
            listener,
            agent_url,
            registered: Mutex::new(HashMap::new()),
        })
    }

    /// The URL agents are told to dial.
    pub fn agent_url(&self) -> &AgentUrl {
        &self.agent_url
    }

    /// The listener (for the refused-connection log).
    pub fn listener(&self) -> &AgentListener {
        &self.listener
    }

    /// Registers the plan's task definition unless this process or an earlier run already did
    /// (an ACTIVE revision of the family whose content-hash tag matches); returns its ARN.
    pub async fn ensure_task_definition(
        &self,
        plan: &TaskDefinitionPlan,
    ) -> Result<String, String> {
        plan.validate()?;
        let family = plan.family();
        let mut registered = self.registered.lock().await;
        if let Some(arn) = registered.get(&family) {
            return Ok(arn.clone());
        }
        let existing = self
            .ecs
            .describe_task_definition()
            .task_definition(&family)
            .include(aws_sdk_ecs::types::TaskDefinitionField::Tags)
            .send()
            .await
            .ok()
            .and_then(|out| {
                let hash = plan.hash();
                let same = out.tags().iter().any(|t| {
                    t.key() == Some("gha:content-hash") && t.value() == Some(hash.as_str())
                });
                let def = out.task_definition?;
                let active = def.status().map(|s| s.as_str()) == Some("ACTIVE");
                (same && active)
                    .then_some(def.task_definition_arn)
                    .flatten()
            });
        let arn = match existing {
            Some(arn) => arn,
            None => {
                let out = plan.register(&self.ecs)?.send().await.map_err(|e| {
                    format!(
                        "cannot register the task definition {family}: {}",
                        sdk_error(&e)
                    )
                })?;
                out.task_definition
                    .and_then(|d| d.task_definition_arn)
                    .ok_or_else(|| format!("registering {family} returned no ARN"))?
            }
        };
        registered.insert(family, arn.clone());
        Ok(arn)
    }

    async fn run_task(
        &self,
        spec: &JobSpec,
        task_definition: &str,
        token: &str,
    ) -> Result<String, String> {
        let mut env = vec![
            KeyValuePair::builder()
                .name(ENV_URL)
                .value(self.agent_url.to_string())
                .build(),
            KeyValuePair::builder().name(ENV_TOKEN).value(token).build(),
        ];
        if let Some(tls) = &self.config.tls {
            env.push(
                KeyValuePair::builder()
                    .name(ENV_CA)
                    .value(&tls.cert_pem)
                    .build(),
            );
        }
        if let Some(c) = &spec.container {
            for (k, v) in &c.env {
                env.push(KeyValuePair::builder().name(k).value(v).build());
            }
        }
        let overrides = TaskOverride::builder()
            .container_overrides(
                ContainerOverride::builder()
                    .name(CONTAINER_NAME)
                    .set_environment(Some(env))
                    .build(),
            )
            .build();
        let mut request = self
            .ecs
            .run_task()
            .cluster(&self.config.cluster)
            .task_definition(task_definition)
            .count(1)
            .launch_type(SdkLaunchType::from(self.config.launch_type.as_str()))
            .overrides(overrides)
            .started_by(started_by(&spec.run_id))
            .tags(Tag::builder().key(TAG_MANAGED_BY).value("gha").build())
            .tags(Tag::builder().key(TAG_RUN_ID).value(&spec.run_id).build())
            .tags(Tag::builder().key(TAG_JOB).value(&spec.unique_name).build());
        if self.config.network_mode() == "awsvpc" {
            let vpc = AwsVpcConfiguration::builder()
                .set_subnets(Some(self.config.subnets.clone()))
                .set_security_groups(Some(self.config.security_groups.clone()))
                .assign_public_ip(if self.config.assign_public_ip {
                    AssignPublicIp::Enabled
                } else {
                    AssignPublicIp::Disabled
                })
                .build()
                .map_err(|e| e.to_string())?;
            request = request.network_configuration(
                NetworkConfiguration::builder()
                    .awsvpc_configuration(vpc)
                    .build(),
            );
        }
        let out = request
            .send()
            .await
            .map_err(|e| format!("RunTask failed: {}", sdk_error(&e)))?;
        if !out.failures().is_empty() || out.tasks().is_empty() {
            // A task may still have been started alongside failures: never leave it running.
            for t in out.tasks() {
                if let Some(arn) = t.task_arn() {
                    let _ = stop_task(
                        &self.ecs,
                        &self.config.cluster,
                        arn,
                        "gha: RunTask reported failures",
                    )
                    .await;
                }
            }
            let def = task_definition
                .rsplit('/')
                .next()
                .unwrap_or(task_definition);
            let why = if out.failures().is_empty() {
                let mut why = "RunTask started no task and reported no failure".to_string();
                if self.config.launch_type == LaunchType::Ec2 {
                    why.push_str(&format!(
                        " (does a container instance of the cluster have {} CPU units and {} MiB free?)",
                        self.config.cpu, self.config.memory
                    ));
                }
                why
            } else {
                describe_failures(out.failures())
            };
            return Err(format!(
                "ECS could not start a task in cluster {} ({def}): {why}",
                self.config.cluster
            ));
        }
        out.tasks()[0]
            .task_arn()
            .map(String::from)
            .ok_or_else(|| "RunTask returned a task without an ARN".into())
    }

    /// The last lines of the task's CloudWatch log stream, when logs go there.
    async fn log_tail(&self, task_arn: &str) -> Option<String> {
        let group = self.config.log_group.as_ref()?;
        let stream = format!(
            "{}/{CONTAINER_NAME}/{}",
            self.config.log_stream_prefix,
            task_id(task_arn)
        );
        let out = self
            .logs
            .get_log_events()
            .log_group_name(group)
            .log_stream_name(&stream)
            .start_from_head(false)
            .limit(30)
            .send()
            .await;
        let text = match out {
            Ok(o) => o
                .events()
                .iter()
                .filter_map(|e| e.message())
                .map(|m| format!("  {m}"))
                .collect::<Vec<_>>()
                .join("\n"),
            Err(e) => format!("  (cannot read it: {})", sdk_error(&e)),
        };
        let text = if text.is_empty() {
            "  (empty)".into()
        } else {
            text
        };
        Some(format!("\nthe task's log ({group} {stream}):\n{text}"))
    }

    /// Waits until the task's agent connects; stops the task and explains on every failure.
    async fn wait_for_agent(
        &self,
        task_arn: &str,
        mut pending: crate::agent::PendingAgent,
    ) -> Result<crate::agent::AgentConnection, String> {
        let id = task_id(task_arn).to_string();
        let deadline = tokio::time::Instant::now() + self.config.connect_timeout;
        let refused_before = self.listener.refused().len();
        loop {
            tokio::select! {
                c = pending.connected() => {
                    return c.ok_or_else(|| "the agent listener closed".to_string());
                }
                _ = tokio::time::sleep(self.config.poll_interval) => {}
            }
            let described = self
                .ecs
                .describe_tasks()
                .cluster(&self.config.cluster)
                .tasks(task_arn)
                .send()
                .await;
            match described {
                Ok(out) => {
                    if let Some(task) = out.tasks().first() {
                        if task.last_status() == Some("STOPPED") {
                            let mut msg = format!(
                                "the ECS task {id} stopped before its agent connected: {}",
                                describe_stopped_task(task)
                            );
                            msg.push_str(&self.refusals_since(refused_before));
                            if let Some(tail) = self.log_tail(task_arn).await {
                                msg.push_str(&tail);
                            }
                            return Err(msg);
                        }
                    } else if !out.failures().is_empty() {
                        return Err(format!(
                            "the ECS task {id} cannot be described: {}",
                            describe_failures(out.failures())
                        ));
                    }
                }
                Err(e) => {
                    let _ = stop_task(
                        &self.ecs,
                        &self.config.cluster,
                        task_arn,
                        "gha: describing the task failed",
                    )
                    .await;
                    return Err(format!(
                        "DescribeTasks failed for the ECS task {id}: {}",
                        sdk_error(&e)
                    ));
                }
            }
            if tokio::time::Instant::now() >= deadline {
                let _ = stop_task(
                    &self.ecs,
                    &self.config.cluster,
                    task_arn,
                    "gha: the agent did not connect in time",
                )
                .await;
                let mut msg = format!(
                    "the agent of the ECS task {id} did not connect to {} within {:?}; the task was stopped",
                    self.agent_url, self.config.connect_timeout
                );
                msg.push_str(&self.refusals_since(refused_before));
                if let Some(tail) = self.log_tail(task_arn).await {
                    msg.push_str(&tail);
                }
                return Err(msg);
            }
        }
    }

    fn refusals_since(&self, before: usize) -> String {
        let refused = self.listener.refused();
        if refused.len() > before {
            format!(
                "\nconnections refused meanwhile: {}",
                refused[before..].join("; ")
            )
        } else {
            String::new()
        }
    }
}

/// `startedBy` for a run: `gha/` and the run id (only the characters ECS allows).
pub fn started_by(run_id: &str) -> String {
    let id: String = run_id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .take(120)
        .collect();
    format!("{STARTED_BY_PREFIX}{id}")
}

/// An SDK error with its service message (the default `Display` says only "service error").
pub(crate) fn sdk_error<E, R>(e: &aws_sdk_ecs::error::SdkError<E, R>) -> String
where
    E: std::error::Error + 'static,
    R: std::fmt::Debug,
{
    use std::error::Error;
    let mut s = e.to_string();
    let mut source = e.source();
    while let Some(inner) = source {
        s.push_str(&format!(": {inner}"));
        source = inner.source();
    }
    s
}

#[async_trait]
impl Backend for EcsBackend {
    fn name(&self) -> &str {
        "ecs"
    }

    async fn start_job(&self, spec: &JobSpec) -> Result<Box<dyn JobEnv>, BackendError> {
        if !spec.services.is_empty() {
            return Err(BackendError::Unsupported(
                "service containers on ECS (use --backend docker)".into(),
            ));
        }
        let image = match &spec.container {
            Some(c) => c.image.clone(),
            None => self.config.platforms.resolve(&spec.runs_on)?.1,
        };
        let plan = TaskDefinitionPlan::new(&self.config, &image, &spec.tracer_requirements);
        let task_definition = self
            .ensure_task_definition(&plan)
            .await
            .map_err(BackendError::Other)?;
        let pending = self.listener.expect().map_err(BackendError::Other)?;
        let token = pending.token().to_string();
        let task_arn = self
            .run_task(spec, &task_definition, &token)
            .await
            .map_err(BackendError::Other)?;
        let label = format!("the ECS task {}", task_id(&task_arn));
        let connection = match self.wait_for_agent(&task_arn, pending).await {
            Ok(c) => c,
            Err(e) => {
                let _ = stop_task(
                    &self.ecs,
                    &self.config.cluster,
                    &task_arn,
                    "gha: the agent never connected",
                )
                .await;
                return Err(BackendError::Other(e));
            }
        };
        let mut options = RemoteOptions::new(label);
        options.dead_after = self.config.agent_dead_after;
        options.heartbeat_interval = self.config.heartbeat_interval;
        let job = AgentJob {
            job_id: spec.job_id.clone(),
            unique_name: spec.unique_name.clone(),
            run_id: spec.run_id.clone(),
            repository: spec.repository.clone(),
        };
        match RemoteJobEnv::start(connection, job, &spec.source_dir, options).await {
            Ok(remote) => {
                let mut job = EcsJobEnv::new(
                    remote,
                    self.ecs.clone(),
                    self.config.cluster.clone(),
                    task_arn,
                );
                let mounts = &spec.tracer_requirements.mounts;
                if self.config.tracer_tools == TracerTools::Upload
                    && !mounts.is_empty()
                    && let Err(e) = job.ship_mounts(mounts).await
                {
                    let _ = job.stop().await;
                    return Err(e);
                }
                Ok(Box::new(job))
            }
            Err(e) => {
                let _ = stop_task(
                    &self.ecs,
                    &self.config.cluster,
                    &task_arn,
                    "gha: setting the job up failed",
                )
                .await;
                Err(e)
            }
        }
    }
}
