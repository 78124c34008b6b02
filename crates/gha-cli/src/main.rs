//! `gha`: run GitHub Actions workflows outside GitHub.
//!
//! The binary is thin: it parses flags, composes the library crates and renders results.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod check;
mod eval;

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
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Check(args) => check::run(args),
        Command::Eval(args) => eval::run(args),
    }
}
