//! What a step tells the runner: workflow commands on its output (`::name k=v::message`) and
//! file commands (`GITHUB_ENV`, `GITHUB_OUTPUT`, `GITHUB_PATH`, `GITHUB_STATE`,
//! `GITHUB_STEP_SUMMARY`).

pub mod file_command;
pub mod workflow_command;

pub use file_command::{FileCommandError, parse_key_value_file, parse_path_file};
pub use workflow_command::{WorkflowCommand, escape_data, escape_property};
