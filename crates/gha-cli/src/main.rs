//! `gha`: run GitHub Actions workflows outside GitHub.
//!
//! The binary is thin: it parses flags, composes the library crates and renders results.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[cfg(feature = "ecs")]
mod agent;
mod check;
mod eval;
mod graph;
mod kv;
mod list;
mod render;
mod rerun;
mod run;
mod tracers;
mod workflows;

/// Run GitHub Actions workflows on this machine, in Docker, or on AWS ECS.
#[derive(Debug, Parser)]
#[command(name = "gha", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Check workflow and action files for errors GitHub would report.
    Check(check::CheckArgs),
    /// Evaluate a `${{ }}` expression against JSON contexts.
    Eval(eval::EvalArgs),
    /// Run workflows on this machine (or in Docker), as GitHub would.
    Run(Box<run::RunArgs>),
    /// List workflows, their events and jobs.
    List(list::ListArgs),
    /// Draw the `needs` graph of each workflow.
    Graph(graph::GraphArgs),
    /// Re-run a failed GitHub run up to its failing step, that step under rr or strace.
    Rerun(Box<rerun::RerunArgs>),
    /// Serve a job inside an ECS task (started by `gha run --backend ecs`; not for people).
    #[cfg(feature = "ecs")]
    Agent(agent::AgentArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Check(args) => check::run(args),
        Command::Eval(args) => eval::run(args),
        Command::Run(args) => run::run(*args),
        Command::List(args) => list::run(args),
        Command::Graph(args) => graph::run(args),
        Command::Rerun(args) => rerun::run(*args),
        #[cfg(feature = "ecs")]
        Command::Agent(args) => agent::run(args),
    }
}
