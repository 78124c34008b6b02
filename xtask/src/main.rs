//! Developer automation: `cargo xtask <task>`.
//!
//! Tasks:
//! - `image [--force] [--mirror URL]`: build the local base image `gha-runner/base:bookworm`
//!   with debootstrap and `docker import` (see [`image`]).

mod image;

use std::process::ExitCode;

const USAGE: &str = "usage: cargo xtask <task>

tasks:
  image [--force] [--mirror URL]   build the local Docker image gha-runner/base:bookworm
                                   (debootstrap + docker import; skipped when it exists)";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((task, rest)) = args.split_first() else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    let result = match task.as_str() {
        "image" => match image::Options::parse(rest) {
            Ok(options) => image::run(&options),
            Err(message) => {
                eprintln!("xtask image: {message}\n\n{USAGE}");
                return ExitCode::from(2);
            }
        },
        "-h" | "--help" | "help" => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        other => {
            eprintln!("xtask: unknown task `{other}`\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("xtask {task}: error: {error}");
            ExitCode::FAILURE
        }
    }
}
