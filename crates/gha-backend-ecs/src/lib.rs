//! `gha-backend-ecs`: run GitHub Actions jobs as AWS ECS tasks.
//!
//! Two halves: [`agent`] is the protocol between `gha agent` (inside the task) and the
//! controller; [`EcsBackend`] registers task definitions, runs one task per job, waits for its
//! agent to dial back and hands the executor a [`JobEnv`](gha_exec::JobEnv) that talks to it.
//! See the crate README.

pub mod agent;
mod ecs;

pub use ecs::backend::{
    EcsBackend, STARTED_BY_PREFIX, TAG_JOB, TAG_MANAGED_BY, TAG_RUN_ID, sdk_config, started_by,
};
pub use ecs::config::{AGENT_MOUNT, CONTAINER_NAME, EcsConfig, LaunchType, TracerTools};
pub use ecs::job_env::EcsJobEnv;
pub use ecs::prune::{PruneReport, prune};
pub use ecs::settings::{
    CONFIG_FILE_ENV, EcsSettings, SETTING_KEYS, SettingKey, SettingKind, SettingValue, setting_key,
};
pub use ecs::task_definition::{PlannedMount, TaskDefinitionPlan};
pub use ecs::task_status::{describe_failures, describe_stopped_task, task_id};

/// The AWS SDK's shared configuration (what [`sdk_config`] returns).
pub use aws_config::SdkConfig;
/// The AWS SDK's ECS client (re-exported so that users need no direct AWS dependency).
pub use aws_sdk_ecs::Client as EcsClient;

#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
