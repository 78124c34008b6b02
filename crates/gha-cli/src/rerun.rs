//! `gha rerun`: re-run a failed GitHub run up to its failing step, with that step recorded by
//! rr (or traced by strace), and say whether the failure reproduced.
//!
//! Exit codes: 0 the failure reproduced · 1 it did not · 2 bad input, API errors or a failed
//! rr preflight · 3 the failing step did not opt in (nothing was run).

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Args, ValueEnum};
use gha_exec::run::Executor;
use gha_exec::{Backend, HostBackend, HostBackendOptions, Masker, RunEvent, RunObserver};
use gha_rr::rerun::{
    AnalysisOptions, FailureAnalysis, GITHUB_API_URL, GitHubApi, RerunOutcome, RerunPlan,
    RerunSource, RerunVerdict, RunRef,
};

use crate::render::Terminal;
use crate::tracers::{RrArgs, Tracer, TracerKind};

/// Where the rerun's job runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum RerunBackend {
    /// Child processes on this machine.
    Host,
    /// A Docker container (the tracer's tool is bundled into it).
    Docker,
    /// An AWS ECS task (--ecs-* flags, GHA_ECS_* variables or --ecs-config, as `gha run
    /// --backend ecs`; the tracer's tool and trace directories are host volumes at the same
    /// paths on the container instances, or go through the agent with --ecs-tracer-tools
    /// upload).
    #[cfg(feature = "ecs")]
    Ecs,
}

/// `gha rerun` flags.
#[derive(Debug, Args)]
pub struct RerunArgs {
    /// OWNER/REPO (then RUN_ID), or a run URL such as
    /// https://github.com/OWNER/REPO/actions/runs/RUN_ID[/job/JOB_ID].
    #[arg(value_name = "OWNER/REPO|RUN_URL")]
    pub repository: String,
    /// The run id (with OWNER/REPO).
    #[arg(value_name = "RUN_ID")]
    pub run_id: Option<String>,
    /// The job to re-run: its display name (`test (ubuntu-latest, 3.12)`) or numeric id
    /// (default: the run's first failed job).
    #[arg(long = "job", value_name = "NAME")]
    pub job: Option<String>,
    /// The tool that watches the failing step.
    #[arg(long = "tracer", value_enum, default_value = "rr")]
    pub tracer: TracerKind,
    /// Where the job runs.
    #[arg(long = "backend", value_enum, default_value = "host")]
    pub backend: RerunBackend,
    /// `runs-on` label to Docker image (`--backend docker`). Repeatable.
    #[arg(short = 'P', long = "platform", value_name = "LABEL=IMAGE")]
    pub platforms: Vec<String>,
    /// The opt-in variable the failing step's env must set (repeatable; default
    /// PERNOSCO_ENABLED, PERNOSCO_ENABLE).
    #[arg(long = "require-env", value_name = "NAME")]
    pub require_env: Vec<String>,
    /// Where the trace goes, as DIR/<job>/<step-number>-<step-slug>/.
    #[arg(long = "trace-dir", value_name = "DIR", default_value = "gha-traces")]
    pub trace_dir: PathBuf,
    /// Use this checkout of the repository (at the run's commit) instead of downloading it.
    #[arg(long = "repo-dir", value_name = "DIR")]
    pub repo_dir: Option<PathBuf>,
    /// The GitHub API (default: $GITHUB_API_URL, else https://api.github.com). The token is
    /// read from $GITHUB_TOKEN or $GH_TOKEN.
    #[arg(long = "api-url", value_name = "URL")]
    pub api_url: Option<String>,
    /// Analyse and print the plan without running anything.
    #[arg(short = 'n', long = "dryrun")]
    pub dryrun: bool,
    /// Print one JSON object (analysis and outcome) instead of the run's output.
    #[arg(long = "json")]
    pub json: bool,
    #[command(flatten)]
    pub rr: RrArgs,
    #[command(flatten)]
    pub ecs: crate::ecs_flags::EcsArgs,
}

/// Discards run events (`--json`: only the final object is printed).
struct Quiet;
impl RunObserver for Quiet {
    fn on_event(&self, _: &RunEvent) {}
}

/// Runs `gha rerun`.
pub fn run(args: RerunArgs) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            return fail(
                &args,
                2,
                "error",
                &format!("cannot start the async runtime: {e}"),
                None,
            );
        }
    };
    runtime.block_on(run_async(&args))
}

fn analysis_json(a: &FailureAnalysis) -> serde_json::Value {
    let mut v = serde_json::to_value(a).unwrap_or_default();
    if let Some(o) = v.as_object_mut() {
        o.remove("workflow_source");
    }
    v
}

/// Prints a terminal result (`kind`: `error`, `not_opted_in`, ...) and returns `code`.
fn fail(
    args: &RerunArgs,
    code: u8,
    kind: &str,
    message: &str,
    analysis: Option<&FailureAnalysis>,
) -> ExitCode {
    if args.json {
        let v = serde_json::json!({
            "result": kind,
            "message": message,
            "analysis": analysis.map(analysis_json),
            "exit_code": code,
        });
        println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
    } else if kind == "error" {
        eprintln!("gha rerun: error: {message}");
    } else {
        println!("gha rerun: {message}");
    }
    ExitCode::from(code)
}

fn describe(a: &FailureAnalysis) -> String {
    let mut s = format!(
        "{} run {} at {}: job '{}' ({} job `{}`{}) failed at GitHub step {} '{}' = workflow step {}",
        a.repository,
        a.run_id,
        &a.head_sha[..a.head_sha.len().min(12)],
        a.job.display_name,
        a.workflow_path,
        a.job.id,
        a.job
            .matrix
            .as_ref()
            .map(|m| format!(", matrix {}", serde_json::Value::Object(m.clone())))
            .unwrap_or_default(),
        a.step.github_number,
        a.step.github_name,
        a.step.index + 1,
    );
    if a.step.leading_entries > 1 {
        s.push_str(&format!(
            " (GitHub lists {} entries before the first workflow step, {} of them pre steps)",
            a.step.leading_entries, a.step.pre_steps
        ));
    }
    if let Some(o) = &a.opt_in {
        s.push_str(&format!(
            "; opted in by {}={} at {} level",
            o.variable,
            o.value,
            serde_json::to_value(o.level)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default()
        ));
    }
    s
}

async fn run_async(args: &RerunArgs) -> ExitCode {
    #[cfg(feature = "ecs")]
    let on_ecs = args.backend == RerunBackend::Ecs;
    #[cfg(not(feature = "ecs"))]
    let on_ecs = false;
    if !on_ecs && !args.ecs.is_empty() {
        let msg = "the --ecs-* flags only apply to --backend ecs";
        return fail(args, 2, "error", msg, None);
    }
    // Bad ECS settings stop the rerun before it asks GitHub anything.
    #[cfg(feature = "ecs")]
    let ecs_config = match on_ecs.then(|| args.ecs.config()).transpose() {
        Ok(c) => c,
        Err(e) => return fail(args, 2, "error", &format!("cannot use ECS: {e}"), None),
    };
    let run_ref = match RunRef::parse(&args.repository, args.run_id.as_deref()) {
        Ok(r) => r,
        Err(e) => return fail(args, 2, "error", &e.to_string(), None),
    };
    let api_url = args
        .api_url
        .clone()
        .or_else(|| {
            std::env::var("GITHUB_API_URL")
                .ok()
                .filter(|u| !u.is_empty())
        })
        .unwrap_or_else(|| GITHUB_API_URL.to_string());
    let token = std::env::var("GITHUB_TOKEN")
        .ok()
        .or_else(|| std::env::var("GH_TOKEN").ok())
        .filter(|t| !t.is_empty());
    let api = match GitHubApi::new(&api_url, token.as_deref()) {
        Ok(a) => a,
        Err(e) => return fail(args, 2, "error", &e.to_string(), None),
    };
    let mut options = AnalysisOptions {
        job: args.job.clone(),
        ..AnalysisOptions::default()
    };
    if !args.require_env.is_empty() {
        options.opt_in_variables = args.require_env.clone();
    }
    let analysis = match FailureAnalysis::fetch(&api, &run_ref, &options).await {
        Ok(a) => a,
        Err(e) => return fail(args, 2, "error", &e.to_string(), None),
    };
    if !args.json {
        println!("gha rerun: {}", describe(&analysis));
    }
    if !analysis.opted_in() {
        return fail(
            args,
            3,
            "not_opted_in",
            &analysis.not_opted_in_reason(),
            Some(&analysis),
        );
    }
    let plan = match RerunPlan::new(&analysis) {
        Ok(p) => p,
        Err(e) => return fail(args, 2, "error", &e.to_string(), Some(&analysis)),
    };
    if args.dryrun {
        let message = format!(
            "would run steps 1-{} of job '{}' with step {} under {:?}",
            analysis.step.index + 1,
            analysis.job.display_name,
            analysis.step.index + 1,
            args.tracer
        );
        return fail(args, 0, "planned", &message, Some(&analysis));
    }

    // The repository's files.
    let scratch = match tempfile::Builder::new().prefix("gha-rerun-").tempdir() {
        Ok(d) => d,
        Err(e) => {
            return fail(
                args,
                2,
                "error",
                &format!("cannot create a directory: {e}"),
                Some(&analysis),
            );
        }
    };
    let source = match &args.repo_dir {
        Some(d) => RerunSource::Directory(d.clone()),
        None => RerunSource::Download,
    };
    let repo_dir = match plan.checkout(&api, &source, scratch.path()).await {
        Ok(d) => d,
        Err(e) => return fail(args, 2, "error", &e.to_string(), Some(&analysis)),
    };

    // Backend, tracer, executor.
    let in_containers = args.backend != RerunBackend::Host;
    let tracer = match Tracer::build(
        args.tracer,
        plan.targets(),
        args.trace_dir.clone(),
        in_containers,
        &args.rr,
    ) {
        Ok(t) => t,
        Err(e) => return fail(args, 2, "error", &e, Some(&analysis)),
    };
    let backend: Arc<dyn Backend> = match args.backend {
        RerunBackend::Host => Arc::new(HostBackend::new(HostBackendOptions::new(
            scratch.path().join("runs"),
        ))),
        RerunBackend::Docker => {
            let mut o = gha_backend_docker::DockerBackendOptions::new(scratch.path().join("runs"));
            for p in &args.platforms {
                if let Err(e) = o.platforms.add_flag(p) {
                    return fail(args, 2, "error", &e.to_string(), Some(&analysis));
                }
            }
            match gha_backend_docker::DockerBackend::connect(o).await {
                Ok(b) => Arc::new(b),
                Err(e) => {
                    return fail(
                        args,
                        2,
                        "error",
                        &format!("cannot use Docker: {e}"),
                        Some(&analysis),
                    );
                }
            }
        }
        #[cfg(feature = "ecs")]
        RerunBackend::Ecs => {
            let Some(mut config) = ecs_config else {
                return fail(args, 2, "error", "no ECS settings", Some(&analysis));
            };
            for p in &args.platforms {
                if let Err(e) = config.platforms.add_flag(p) {
                    return fail(args, 2, "error", &e.to_string(), Some(&analysis));
                }
            }
            match gha_backend_ecs::EcsBackend::connect(config).await {
                Ok(b) => Arc::new(b),
                Err(e) => {
                    let msg = format!("cannot use ECS: {e}");
                    return fail(args, 2, "error", &msg, Some(&analysis));
                }
            }
        }
    };
    let observer: Arc<dyn RunObserver> = if args.json {
        Arc::new(Quiet)
    } else {
        Arc::new(Terminal::new(std::io::stdout().is_terminal()))
    };
    let executor =
        Executor::new(backend, observer, Arc::new(Masker::new())).with_tracer(tracer.step_tracer());
    let mut run_options = plan.run_options(&repo_dir);
    if let Some(t) = &token {
        run_options.secrets.push(("GITHUB_TOKEN".into(), t.clone()));
    }
    let outcome = match plan.execute(&executor, run_options, &args.trace_dir).await {
        Ok(o) => o,
        Err(e) => return fail(args, 2, "error", &e.to_string(), Some(&analysis)),
    };
    if let Some(f) = tracer.preflight_failure() {
        return fail(args, 2, "preflight_failed", &f.to_string(), Some(&analysis));
    }
    report(args, &analysis, &outcome)
}

fn report(args: &RerunArgs, analysis: &FailureAnalysis, outcome: &RerunOutcome) -> ExitCode {
    let step = format!(
        "step {} '{}'",
        analysis.step.index + 1,
        analysis.step.github_name
    );
    let (code, message) = match &outcome.verdict {
        RerunVerdict::Reproduced => (0u8, format!("reproduced: {step} failed again")),
        RerunVerdict::NotReproduced { outcome } => (
            1,
            format!("not reproduced: {step} ended with {}", outcome.as_str()),
        ),
        RerunVerdict::EarlierStepFailed { number, name } => (
            1,
            format!("not reproduced: step {number} '{name}' failed first, so {step} did not run"),
        ),
        RerunVerdict::NotRun => (
            1,
            "not reproduced: the job stopped before its steps (see above)".to_string(),
        ),
    };
    let trace = outcome.trace.as_ref().map(|t| t.display().to_string());
    if args.json {
        let mut v = serde_json::json!({
            "result": if code == 0 { "reproduced" } else { "not_reproduced" },
            "message": message,
            "analysis": analysis_json(analysis),
            "outcome": outcome,
            "exit_code": code,
        });
        if let Some(o) = v.get_mut("outcome").and_then(|o| o.as_object_mut()) {
            o.remove("report");
        }
        println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
    } else {
        println!("gha rerun: {message}");
        match &trace {
            Some(t) => println!("gha rerun: trace: {t}"),
            None => println!("gha rerun: no trace was written"),
        }
    }
    ExitCode::from(code)
}
