//! `gha`: run GitHub Actions workflows outside GitHub.
//!
//! The binary is thin: it parses flags, composes the library crates and renders results.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[cfg(feature = "ecs")]
mod agent;
mod check;
mod ecs_flags;
#[cfg(feature = "ecs")]
mod ecs_prune;
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
    /// Remove Docker containers, networks and volumes that crashed runs left behind (or, with
    /// `--backend ecs`, stop their ECS tasks).
    Prune(Box<PruneArgs>),
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
        Command::Prune(args) => prune(*args),
        #[cfg(feature = "ecs")]
        Command::Agent(args) => agent::run(args),
    }
}

/// `gha prune`: everything labelled by gha-runner on the Docker engine (`DOCKER_HOST` or the
/// local socket), or only one run's.
#[derive(Debug, clap::Args)]
struct PruneArgs {
    /// Only what the run with this `github.run_id` left.
    #[arg(long = "run-id", value_name = "ID")]
    run_id: Option<String>,
    /// `docker` (the default), or `ecs`: stop running ECS tasks that `gha` started (cluster and
    /// endpoint from the --ecs-* flags, GHA_ECS_* variables or config file, as for `gha run`).
    #[arg(long = "backend", value_name = "BACKEND", default_value = "docker")]
    backend: String,
    #[command(flatten)]
    ecs: ecs_flags::EcsArgs,
}

fn prune(args: PruneArgs) -> ExitCode {
    match args.backend.as_str() {
        "docker" => {}
        #[cfg(feature = "ecs")]
        "ecs" => return ecs_prune::run(args.run_id, &args.ecs),
        other => {
            eprintln!("error: gha prune knows --backend docker and ecs, not '{other}'");
            return ExitCode::from(2);
        }
    }
    if !args.ecs.is_empty() {
        eprintln!("error: the --ecs-* flags only apply to --backend ecs");
        return ExitCode::from(2);
    }
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    runtime.block_on(async {
        let engine = match gha_backend_docker::Engine::connect(None).await {
            Ok(engine) => engine,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(2);
            }
        };
        let filter = gha_backend_docker::PruneFilter {
            run_id: args.run_id,
            ..Default::default()
        };
        match gha_backend_docker::prune(&engine, &filter).await {
            Ok(report) => {
                println!(
                    "removed {} containers, {} networks, {} volumes",
                    report.containers.len(),
                    report.networks.len(),
                    report.volumes.len()
                );
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        }
    })
}
