//! The original gha-runner's example, on this workspace: run one job of a GitHub repository's
//! workflow at a commit in Docker, optionally with every `run` step under strace.
//!
//! ```text
//! cargo run --example gha_local -- [--strace FILE] [--image-path PREFIX] [--api-url URL] \
//!     OWNER REPO SHA WORKFLOW "JOB NAME"
//! ```
//!
//! `WORKFLOW` is a path in the repository (`.github/workflows/ci.yml`, fetched at `SHA`) or an
//! absolute local path. `JOB NAME` is the job's display name, matrix suffix included
//! (`"Build+test (stable, ubuntu-22.04)"`). `--image-path PREFIX` maps `ubuntu-X` labels to
//! `PREFIX-X` images (`ubuntu-latest` to `PREFIX-latest`). With `--strace FILE`, FILE receives
//! the trace of the last step that ran (the failing one when the job fails). The token comes from
//! `GITHUB_TOKEN`. Exits with 0 when the job succeeded, 1 when it failed, 2 on bad input.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use gha_backend_docker::{DockerBackend, DockerBackendOptions};
use gha_exec::run::{Executor, GitInfo, RunCancellation, RunOptions, WorkflowFile};
use gha_exec::{Conclusion, Masker, RunEvent, RunObserver, StepTracer};
use gha_rr::rerun::{GITHUB_API_URL, GitHubApi};
use gha_rr::{StraceTracer, Tool, ToolBundle, TraceTargets};

/// Run one job of a GitHub workflow at a commit in Docker.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// Trace every `run` step with strace; FILE gets the last step's trace.
    #[arg(long, value_name = "FILE")]
    strace: Option<PathBuf>,
    /// Image-name prefix: `ubuntu-X` runs in `PREFIX-X`.
    #[arg(long = "image-path", value_name = "PREFIX")]
    image_path: Option<String>,
    /// The GitHub API.
    #[arg(long = "api-url", default_value = GITHUB_API_URL)]
    api_url: String,
    owner: String,
    repo: String,
    sha: String,
    workflow: String,
    job_name: String,
}

/// Prints step output and step results.
struct Print;
impl RunObserver for Print {
    fn on_event(&self, event: &RunEvent) {
        match event {
            RunEvent::Log { line, .. } => println!("{line}"),
            RunEvent::StepFinished {
                step, conclusion, ..
            } if *conclusion == Conclusion::Failure => {
                println!("Step '{}' failed, aborting", step.name)
            }
            _ => {}
        }
    }
}

async fn run(args: Args) -> Result<bool, String> {
    let token = std::env::var("GITHUB_TOKEN").ok().filter(|t| !t.is_empty());
    let api = GitHubApi::new(&args.api_url, token.as_deref()).map_err(|e| e.to_string())?;
    let (text, path) = if args.workflow.starts_with('/') {
        let text = std::fs::read_to_string(&args.workflow)
            .map_err(|e| format!("{}: {e}", args.workflow))?;
        (text, args.workflow.clone())
    } else {
        let text = api
            .file(&args.owner, &args.repo, &args.workflow, &args.sha)
            .await
            .map_err(|e| e.to_string())?;
        (text, args.workflow.clone())
    };
    let workflow = gha_model::Workflow::from_yaml(&text).map_err(|d| {
        d.iter()
            .map(|d| format!("{path}: {}", d.message))
            .collect::<Vec<_>>()
            .join("\n")
    })?;
    let scratch = tempfile::tempdir().map_err(|e| e.to_string())?;
    let source = scratch.path().join("source");
    api.download_source(&args.owner, &args.repo, &args.sha, &source)
        .await
        .map_err(|e| e.to_string())?;

    let mut options = DockerBackendOptions::new(scratch.path().join("runs"));
    if let Some(prefix) = &args.image_path {
        for v in ["latest", "24.04", "22.04", "20.04", "18.04"] {
            options
                .platforms
                .add_flag(&format!("ubuntu-{v}={prefix}-{v}"))
                .map_err(|e| e.to_string())?;
        }
    }
    let backend = DockerBackend::connect(options)
        .await
        .map_err(|e| format!("cannot use Docker: {e}"))?;
    let traces = scratch.path().join("traces");
    let tracer = match &args.strace {
        Some(_) => {
            let cache = std::env::temp_dir().join("gha-tools");
            let bundle =
                ToolBundle::create(Tool::Strace, None, &cache).map_err(|e| e.to_string())?;
            Some(Arc::new(
                StraceTracer::new(TraceTargets::default(), &traces).with_bundle(bundle),
            ))
        }
        None => None,
    };
    let mut executor = Executor::new(Arc::new(backend), Arc::new(Print), Arc::new(Masker::new()));
    if let Some(t) = &tracer {
        executor = executor.with_tracer(t.clone() as Arc<dyn StepTracer>);
    }
    let mut run_options = RunOptions::new(&source);
    run_options.git = GitInfo {
        sha: args.sha.clone(),
        git_ref: String::new(),
        repository: format!("{}/{}", args.owner, args.repo),
        actor: "gha-runner".into(),
    };
    run_options.job_filter = Some(args.job_name.clone());
    if let Some(t) = token {
        run_options.secrets.push(("GITHUB_TOKEN".into(), t));
    }
    let report = executor
        .run(
            vec![WorkflowFile { path, workflow }],
            run_options,
            RunCancellation::default(),
        )
        .await
        .map_err(|e| e.0)?;
    if let (Some(t), Some(file)) = (&tracer, &args.strace)
        && let Some((_, last)) = t.artifacts().last()
    {
        std::fs::copy(&last.path, file).map_err(|e| format!("{}: {e}", file.display()))?;
        println!("strace of the last step: {}", file.display());
    }
    Ok(report.conclusion == Conclusion::Success)
}

fn main() -> ExitCode {
    let args = Args::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("gha_local: {e}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(run(args)) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("gha_local: {e}");
            ExitCode::from(2)
        }
    }
}
