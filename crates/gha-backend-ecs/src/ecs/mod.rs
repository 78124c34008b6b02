//! The ECS backend proper: configuration, task definitions, tasks, and their agents.

pub mod backend;
pub mod config;
pub mod job_env;
pub mod prune;
pub mod settings;
pub mod task_definition;
pub mod task_status;
