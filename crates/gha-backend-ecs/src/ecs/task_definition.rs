//! The task definition a job runs with, and its content hash.
//!
//! Everything that goes into the registration is collected in a [`TaskDefinitionPlan`]; its
//! family name is `gha-` plus the first 16 hex digits of the SHA-256 of the plan's JSON, so the
//! same plan maps to the same family in every run and is registered only once.

use gha_exec::TracerRequirements;
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::config::{AGENT_MOUNT, CONTAINER_NAME, EcsConfig, LaunchType, TracerTools};

/// One host directory mounted into the task.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PlannedMount {
    /// The volume's name in the task definition.
    pub name: String,
    /// The directory on the container instance.
    pub source: String,
    /// Where it appears in the container.
    pub target: String,
    /// Mounted read-only.
    pub read_only: bool,
}

/// What a job's task definition holds.
///
/// ```
/// use gha_backend_ecs::{EcsConfig, TaskDefinitionPlan};
/// use gha_exec::TracerRequirements;
/// let config = EcsConfig::default();
/// let a = TaskDefinitionPlan::new(&config, "debian:bookworm", &TracerRequirements::default());
/// let b = TaskDefinitionPlan::new(&config, "debian:bookworm", &TracerRequirements::default());
/// let c = TaskDefinitionPlan::new(&config, "debian:trixie", &TracerRequirements::default());
/// assert_eq!(a.family(), b.family());
/// assert_ne!(a.family(), c.family());
/// assert!(a.family().starts_with("gha-"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TaskDefinitionPlan {
    /// The image (from the `runs-on` mapping or the job's `container:`).
    pub image: String,
    /// The agent's command line.
    pub command: Vec<String>,
    /// `bridge` or `awsvpc`.
    pub network_mode: String,
    /// `EC2` or `FARGATE`.
    pub requires_compatibility: String,
    /// CPU units.
    pub cpu: String,
    /// Memory (MiB).
    pub memory: String,
    /// Linux capabilities a tracer asked for.
    pub capabilities: Vec<String>,
    /// Host directories: the agent's and a tracer's tools.
    pub mounts: Vec<PlannedMount>,
    /// `seccomp=unconfined` was asked for: the container runs privileged (ECS has no seccomp
    /// setting; EC2 only).
    pub privileged: bool,
    /// The task role.
    pub task_role_arn: Option<String>,
    /// The execution role.
    pub execution_role_arn: Option<String>,
    /// awslogs group and stream prefix, when logs go to CloudWatch.
    pub log: Option<(String, String, String)>,
}

impl TaskDefinitionPlan {
    /// The plan for `image` under `config`, with what `tracers` need.
    pub fn new(
        config: &EcsConfig,
        image: &str,
        tracers: &TracerRequirements,
    ) -> TaskDefinitionPlan {
        let mut mounts = Vec::new();
        if let Some(dir) = &config.agent_host_dir {
            mounts.push(PlannedMount {
                name: "gha-agent".into(),
                source: dir.clone(),
                target: AGENT_MOUNT.into(),
                read_only: true,
            });
        }
        // Uploaded tools travel through the agent instead (see EcsJobEnv).
        let tracer_mounts = match config.tracer_tools {
            TracerTools::HostVolumes => tracers.mounts.as_slice(),
            TracerTools::Upload => &[],
        };
        for (i, m) in tracer_mounts.iter().enumerate() {
            mounts.push(PlannedMount {
                name: format!("gha-tools-{i}"),
                source: m.source.to_string_lossy().into_owned(),
                target: m.target.clone(),
                read_only: m.read_only,
            });
        }
        let mut capabilities = tracers.capabilities.clone();
        capabilities.sort();
        capabilities.dedup();
        TaskDefinitionPlan {
            image: image.to_string(),
            command: config.command(),
            network_mode: config.network_mode().into(),
            requires_compatibility: config.launch_type.as_str().into(),
            cpu: config.cpu.clone(),
            memory: config.memory.clone(),
            capabilities,
            mounts,
            privileged: tracers.seccomp_unconfined,
            task_role_arn: config.task_role_arn.clone(),
            execution_role_arn: config.execution_role_arn.clone(),
            log: config.log_group.as_ref().map(|g| {
                (
                    g.clone(),
                    config.region.clone().unwrap_or_default(),
                    config.log_stream_prefix.clone(),
                )
            }),
        }
    }

    /// The content hash (SHA-256 of the plan's JSON, hex).
    pub fn hash(&self) -> String {
        let json = serde_json::to_vec(self).unwrap_or_default();
        hex::encode(Sha256::digest(json))
    }

    /// The family name: `gha-` and 16 hex digits of [`TaskDefinitionPlan::hash`].
    pub fn family(&self) -> String {
        format!("gha-{}", &self.hash()[..16])
    }

    /// Checks what the launch type cannot do.
    pub fn validate(&self) -> Result<(), String> {
        if self.requires_compatibility == LaunchType::Fargate.as_str() {
            if !self.mounts.is_empty() {
                return Err(
                    "host directory mounts (a tracer's tools) need EC2, not Fargate".into(),
                );
            }
            if self.privileged {
                return Err("seccomp=unconfined (privileged) needs EC2, not Fargate".into());
            }
            if let Some(c) = self
                .capabilities
                .iter()
                .find(|c| c.as_str() != "SYS_PTRACE")
            {
                return Err(format!(
                    "Fargate allows only the SYS_PTRACE capability, not {c}"
                ));
            }
        }
        Ok(())
    }

    /// The RegisterTaskDefinition request for this plan.
    pub fn register(
        &self,
        client: &aws_sdk_ecs::Client,
    ) -> Result<aws_sdk_ecs::operation::register_task_definition::builders::RegisterTaskDefinitionFluentBuilder, String>
    {
        use aws_sdk_ecs::types::{
            Compatibility, ContainerDefinition, HostVolumeProperties, KernelCapabilities,
            LinuxParameters, LogConfiguration, LogDriver, MountPoint, NetworkMode, Tag, Volume,
        };
        let mut container = ContainerDefinition::builder()
            .name(CONTAINER_NAME)
            .image(&self.image)
            .essential(true)
            .set_command(Some(self.command.clone()))
            .linux_parameters(
                LinuxParameters::builder()
                    .init_process_enabled(true)
                    .capabilities(
                        KernelCapabilities::builder()
                            .set_add(Some(self.capabilities.clone()))
                            .build(),
                    )
                    .build(),
            );
        // A soft limit equal to the task's memory: EC2 needs a container-level figure when the
        // task has none, and it changes nothing when the task has one.
        if let Ok(mib) = self.memory.parse::<i32>() {
            container = container.memory_reservation(mib);
        }
        if self.privileged {
            container = container.privileged(true);
        }
        for m in &self.mounts {
            container = container.mount_points(
                MountPoint::builder()
                    .source_volume(&m.name)
                    .container_path(&m.target)
                    .read_only(m.read_only)
                    .build(),
            );
        }
        if let Some((group, region, prefix)) = &self.log {
            let mut log = LogConfiguration::builder()
                .log_driver(LogDriver::Awslogs)
                .options("awslogs-group", group)
                .options("awslogs-stream-prefix", prefix)
                .options("mode", "non-blocking");
            if !region.is_empty() {
                log = log.options("awslogs-region", region);
            }
            container = container.log_configuration(log.build().map_err(|e| e.to_string())?);
        }
        let mut request = client
            .register_task_definition()
            .family(self.family())
            .network_mode(NetworkMode::from(self.network_mode.as_str()))
            .requires_compatibilities(Compatibility::from(self.requires_compatibility.as_str()))
            .cpu(&self.cpu)
            .memory(&self.memory)
            .container_definitions(container.build())
            .set_task_role_arn(self.task_role_arn.clone())
            .set_execution_role_arn(self.execution_role_arn.clone())
            .tags(
                Tag::builder()
                    .key("gha:content-hash")
                    .value(self.hash())
                    .build(),
            );
        for m in &self.mounts {
            request = request.volumes(
                Volume::builder()
                    .name(&m.name)
                    .host(
                        HostVolumeProperties::builder()
                            .source_path(&m.source)
                            .build(),
                    )
                    .build(),
            );
        }
        Ok(request)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gha_exec::Mount;

    #[test]
    fn tracer_needs_change_the_family() {
        let config = EcsConfig::default();
        let plain = TaskDefinitionPlan::new(&config, "img", &TracerRequirements::default());
        let mut needs = TracerRequirements::default();
        needs.capabilities.push("SYS_PTRACE".into());
        needs.mounts.push(Mount {
            source: "/opt/rr".into(),
            target: "/opt/rr".into(),
            read_only: true,
        });
        let traced = TaskDefinitionPlan::new(&config, "img", &needs);
        assert_ne!(plain.family(), traced.family());
        assert_eq!(traced.mounts[0].name, "gha-tools-0");
        assert_eq!(traced.family().len(), "gha-".len() + 16);
    }

    #[test]
    fn uploaded_tracer_tools_are_no_volumes() {
        let mut needs = TracerRequirements::default();
        needs.capabilities.push("SYS_PTRACE".into());
        needs.mounts.push(Mount {
            source: "/opt/strace".into(),
            target: "/__gha/tools/strace".into(),
            read_only: true,
        });
        let config = EcsConfig {
            launch_type: LaunchType::Fargate,
            tracer_tools: TracerTools::Upload,
            ..EcsConfig::default()
        };
        let plan = TaskDefinitionPlan::new(&config, "img", &needs);
        assert!(plan.mounts.is_empty());
        assert_eq!(plan.capabilities, ["SYS_PTRACE"]);
        plan.validate().unwrap();
        let config = EcsConfig {
            tracer_tools: TracerTools::HostVolumes,
            ..config
        };
        let plan = TaskDefinitionPlan::new(&config, "img", &needs);
        assert!(plan.validate().unwrap_err().contains("need EC2"));
    }

    #[test]
    fn fargate_refuses_host_mounts_and_extra_capabilities() {
        let config = EcsConfig {
            launch_type: LaunchType::Fargate,
            ..EcsConfig::default()
        };
        let mut needs = TracerRequirements::default();
        needs.capabilities.push("SYS_ADMIN".into());
        let plan = TaskDefinitionPlan::new(&config, "img", &needs);
        assert!(plan.validate().unwrap_err().contains("SYS_ADMIN"));
        assert_eq!(plan.network_mode, "awsvpc");
    }
}
