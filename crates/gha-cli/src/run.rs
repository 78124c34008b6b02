//! `gha run`: run workflows on this machine (or in Docker), as GitHub would.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use clap::{Args, ValueEnum};
use gha_exec::run::event_filter::{EventFacts, triggers};
use gha_exec::run::{Executor, RunCancellation, RunOptions};
use gha_exec::{Backend, Conclusion, HostBackend, HostBackendOptions, Masker, RunObserver};

use crate::render::{Fanout, JsonLines, SummaryDir, Terminal};
use crate::{kv, workflows};

/// Where jobs run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum BackendKind {
    /// Child processes on this machine (the default).
    Host,
    /// One Docker container per job.
    Docker,
    /// AWS ECS tasks.
    Ecs,
}

/// `gha run` flags (act's names where act has the same idea).
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The event to simulate (`push`, `pull_request`, `workflow_dispatch`, ...).
    #[arg(default_value = "push")]
    pub event: String,
    /// Workflow file or directory (repeatable; default `.github/workflows`). Given files run
    /// whatever their `on:` filters say.
    #[arg(short = 'W', long = "workflows", value_name = "PATH")]
    pub workflows: Vec<PathBuf>,
    /// Run this job (id or display name, e.g. a matrix leg's `"test (ubuntu, 3.12)"`) and its
    /// transitive needs.
    #[arg(short = 'j', long = "job", value_name = "JOB")]
    pub job: Option<String>,
    /// The event payload (JSON) for `github.event`.
    #[arg(short = 'e', long = "eventpath", value_name = "FILE")]
    pub eventpath: Option<PathBuf>,
    /// A secret `NAME=VALUE` (or `NAME` to read it from the environment). Repeatable.
    #[arg(short = 's', long = "secret", value_name = "NAME[=VALUE]")]
    pub secrets: Vec<String>,
    /// A file of secrets (`NAME=VALUE` lines, dotenv syntax).
    #[arg(long = "secret-file", value_name = "FILE")]
    pub secret_file: Option<PathBuf>,
    /// A configuration variable (`vars` context). Repeatable.
    #[arg(long = "var", value_name = "NAME=VALUE")]
    pub vars: Vec<String>,
    /// A file of variables.
    #[arg(long = "var-file", value_name = "FILE")]
    pub var_file: Option<PathBuf>,
    /// An environment variable for every step (overrides the workflow's `env`). Repeatable.
    #[arg(long = "env", value_name = "NAME=VALUE")]
    pub env: Vec<String>,
    /// A file of environment variables.
    #[arg(long = "env-file", value_name = "FILE")]
    pub env_file: Option<PathBuf>,
    /// A `workflow_dispatch` input. Repeatable.
    #[arg(long = "input", value_name = "NAME=VALUE")]
    pub inputs: Vec<String>,
    /// Only run matrix legs with this value (`KEY:VALUE`). Repeatable.
    #[arg(long = "matrix", value_name = "KEY:VALUE")]
    pub matrix: Vec<String>,
    /// `runs-on` label to Docker image (`--backend docker`). Repeatable.
    #[arg(short = 'P', long = "platform", value_name = "LABEL=IMAGE")]
    pub platforms: Vec<String>,
    /// Plan the run and print the steps without running them.
    #[arg(short = 'n', long = "dryrun")]
    pub dryrun: bool,
    /// Write the run report (JSON) to this file.
    #[arg(long = "report", value_name = "FILE")]
    pub report: Option<PathBuf>,
    /// Print one JSON event per line instead of the terminal display.
    #[arg(long = "json")]
    pub json: bool,
    /// Where jobs run.
    #[arg(long = "backend", value_enum, default_value = "host")]
    pub backend: BackendKind,
    /// How many jobs may run at once (default: the number of CPUs).
    #[arg(long = "jobs", value_name = "N")]
    pub jobs: Option<usize>,
    /// Run in the working tree itself instead of a copy (host backend).
    #[arg(long = "bind")]
    pub bind: bool,
    /// Also save step summaries (Markdown) in this directory.
    #[arg(long = "summary-dir", value_name = "DIR")]
    pub summary_dir: Option<PathBuf>,
    /// The repository (default: the git work tree containing the current directory).
    #[arg(short = 'C', long = "directory", value_name = "DIR")]
    pub directory: Option<PathBuf>,
    #[command(flatten)]
    pub trace: crate::tracers::TraceArgs,
    #[command(flatten)]
    pub ecs: crate::ecs_flags::EcsArgs,
    /// Where per-job run directories (workspace copy, temp, tool cache) are made (host backend;
    /// default `$GHA_RUNS_DIR`, else `$TMPDIR/gha-runs`). A tmpfs such as `/dev/shm/gha-runs`
    /// makes job set-up fast.
    #[arg(long = "runs-dir", value_name = "DIR")]
    pub runs_dir: Option<PathBuf>,
    /// Resolve actions from the action cache only, never from the network.
    #[arg(long = "offline")]
    pub offline: bool,
    /// Use a local checkout for an action: `OWNER/REPO@REF=PATH` (repeatable).
    #[arg(long = "action-dir", value_name = "OWNER/REPO@REF=PATH")]
    pub action_dirs: Vec<String>,
    /// The GitHub REST API base URL (GitHub Enterprise: `https://HOST/api/v3`).
    #[arg(long = "github-api-url", value_name = "URL")]
    pub github_api_url: Option<String>,
    /// The node binary for JavaScript actions (default: `node` on `PATH`).
    #[arg(long = "node", value_name = "PATH")]
    pub node: Option<PathBuf>,
    /// Run `actions/checkout` instead of using the workspace as the checkout.
    #[arg(long = "real-checkout")]
    pub real_checkout: bool,
    /// Run a repository straight from GitHub (with `--sha`): `OWNER/REPO`.
    #[arg(long = "repo", value_name = "OWNER/REPO", requires = "sha")]
    pub repo: Option<String>,
    /// The commit to run with `--repo`.
    #[arg(long = "sha", value_name = "SHA", requires = "repo")]
    pub sha: Option<String>,
}

/// The action resolver the flags ask for (`GITHUB_TOKEN` from `-s` or the environment).
fn action_resolver(
    args: &RunArgs,
    workspace: &std::path::Path,
    secrets: &[(String, String)],
) -> Result<gha_actions::Resolver, String> {
    let mut config = gha_actions::ResolverConfig::new(workspace).offline(args.offline);
    if let Some(url) = &args.github_api_url {
        config = config.api_url(url.clone());
    }
    if let Some((_, t)) = secrets
        .iter()
        .find(|(k, t)| k == "GITHUB_TOKEN" && !t.is_empty())
    {
        config = config.token(Some(t.clone()));
    }
    for d in &args.action_dirs {
        config = config.with_override(d.parse()?);
    }
    Ok(gha_actions::Resolver::new(config))
}

/// `--repo OWNER/REPO --sha SHA`: the workflow files named by `-W` through the contents API,
/// then the repository's tree at that commit (cached like actions). Returns the tree.
async fn fetch_remote_repo(args: &RunArgs, repo: &str, sha: &str) -> Result<PathBuf, String> {
    let (owner, name) = repo
        .split_once('/')
        .filter(|(o, n)| !o.is_empty() && !n.is_empty() && !n.contains('/'))
        .ok_or_else(|| format!("--repo {repo}: expected OWNER/REPO"))?;
    let secrets = collect_pairs(&args.secrets, args.secret_file.as_ref(), true, "--secret")?;
    let resolver = action_resolver(args, std::path::Path::new("."), &secrets)?;
    let r = gha_actions::RepoRef::new(owner, name, None, sha);
    for w in &args.workflows {
        let path = w.to_string_lossy();
        resolver
            .fetch_file(&r, path.trim_start_matches("./"))
            .await
            .map_err(|e| e.to_string())?;
    }
    let tree = resolver
        .fetch_repository(&r, &format!("{repo}@{sha}"))
        .await
        .map_err(|e| e.to_string())?;
    Ok(tree.root)
}

fn bad_input(msg: &str) -> ExitCode {
    eprint!("gha run: error: {msg}");
    if !msg.ends_with('\n') {
        eprintln!();
    }
    ExitCode::from(2)
}

/// Runs `gha run`.
pub fn run(args: RunArgs) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => return bad_input(&format!("cannot start the async runtime: {e}")),
    };
    runtime.block_on(run_async(args))
}

fn collect_pairs(
    flags: &[String],
    file: Option<&PathBuf>,
    from_env: bool,
    what: &str,
) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    if let Some(f) = file {
        out.extend(kv::read_file(f)?);
    }
    for s in flags {
        out.push(kv::parse_pair(s, from_env, what)?);
    }
    Ok(out)
}

async fn run_async(mut args: RunArgs) -> ExitCode {
    let mut cwd = args.directory.clone().unwrap_or_else(|| PathBuf::from("."));
    if let (Some(repo), Some(sha)) = (&args.repo, &args.sha) {
        match fetch_remote_repo(&args, repo, sha).await {
            Ok(dir) => {
                // -W names files of the fetched repository.
                args.workflows = args.workflows.iter().map(|w| dir.join(w)).collect();
                cwd = dir;
            }
            Err(e) => return bad_input(&e),
        }
    }
    if !cwd.is_dir() {
        return bad_input(&format!("{} is not a directory", cwd.display()));
    }
    let repo = workflows::repo_root(&cwd);
    let files = match workflows::find(&repo, &args.workflows) {
        Ok(f) => f,
        Err(e) => return bad_input(&e),
    };
    let mut loaded = match workflows::load(&repo, &files) {
        Ok(w) => w,
        Err(e) => return bad_input(&e),
    };

    let mut options = RunOptions::new(&repo);
    options.event_name = args.event.clone();
    if let Some(p) = &args.eventpath {
        let text = match std::fs::read_to_string(p) {
            Ok(t) => t,
            Err(e) => return bad_input(&format!("cannot read {}: {e}", p.display())),
        };
        options.event = match serde_json::from_str(&text) {
            Ok(v @ serde_json::Value::Object(_)) => v,
            Ok(_) => {
                return bad_input(&format!(
                    "{}: the event payload must be a JSON object",
                    p.display()
                ));
            }
            Err(e) => {
                return bad_input(&format!(
                    "{}:{}:{}: invalid JSON: {e}",
                    p.display(),
                    e.line(),
                    e.column()
                ));
            }
        };
    }
    let pairs = (|| -> Result<_, String> {
        Ok((
            collect_pairs(&args.secrets, args.secret_file.as_ref(), true, "--secret")?,
            collect_pairs(&args.vars, args.var_file.as_ref(), false, "--var")?,
            collect_pairs(&args.env, args.env_file.as_ref(), false, "--env")?,
            collect_pairs(&args.inputs, None, false, "--input")?,
            args.matrix
                .iter()
                .map(|m| kv::parse_matrix(m))
                .collect::<Result<Vec<_>, _>>()?,
        ))
    })();
    let (secrets, vars, env, inputs, matrix) = match pairs {
        Ok(p) => p,
        Err(e) => return bad_input(&e),
    };
    options.secrets = secrets;
    options.vars = vars;
    options.env = env;
    options.inputs = inputs;
    options.matrix_filter = matrix;
    options.job_filter = args.job.clone();
    if let (Some(repo), Some(sha)) = (&args.repo, &args.sha) {
        options.git.repository = repo.clone();
        options.git.sha = sha.clone();
    }
    match action_resolver(&args, &repo, &options.secrets) {
        Ok(r) => options.actions.resolver = Some(Arc::new(r)),
        Err(e) => return bad_input(&e),
    }
    options.actions.node = args.node.clone();
    options.actions.real_checkout = args.real_checkout;
    options.dry_run = args.dryrun;
    options.bind_workspace = args.bind;
    if let Some(n) = args.jobs {
        if n == 0 {
            return bad_input("--jobs must be at least 1");
        }
        options.max_jobs = n;
    }
    options.debug = std::env::var("ACTIONS_STEP_DEBUG").is_ok_and(|v| v == "true")
        || options
            .secrets
            .iter()
            .chain(&options.vars)
            .any(|(k, v)| k == "ACTIONS_STEP_DEBUG" && v == "true");

    // Without -W, the event's filters decide which workflows run.
    if args.workflows.is_empty() {
        // Branches, tags and types from the payload; `paths` over the diff GitHub would take
        // (push: before..after, pull_request: base...head) in the local repository.
        let facts = EventFacts::for_run(&options);
        loaded.retain(|wf| triggers(&wf.workflow, &facts));
        if loaded.is_empty() {
            eprintln!(
                "gha run: no workflow runs on the '{}' event",
                options.event_name
            );
            return ExitCode::SUCCESS;
        }
    }

    if args.backend != BackendKind::Ecs && !args.ecs.is_empty() {
        return bad_input("the --ecs-* flags only apply to --backend ecs");
    }
    let backend: Arc<dyn Backend> = match args.backend {
        BackendKind::Host => {
            if !args.platforms.is_empty() {
                return bad_input("-P/--platform only applies to --backend docker");
            }
            let runs_dir = args
                .runs_dir
                .clone()
                .or_else(|| std::env::var_os("GHA_RUNS_DIR").map(PathBuf::from))
                .unwrap_or_else(|| std::env::temp_dir().join("gha-runs"));
            Arc::new(HostBackend::new(HostBackendOptions::new(runs_dir)))
        }
        BackendKind::Docker => {
            let mut o = gha_backend_docker::DockerBackendOptions::new(
                std::env::temp_dir().join("gha-docker"),
            );
            for p in &args.platforms {
                if let Err(e) = o.platforms.add_flag(p) {
                    return bad_input(&e.to_string());
                }
            }
            match gha_backend_docker::DockerBackend::connect(o).await {
                Ok(b) => Arc::new(b),
                Err(e) => return bad_input(&format!("cannot use Docker: {e}")),
            }
        }
        #[cfg(feature = "ecs")]
        BackendKind::Ecs => {
            // --ecs-* flags over GHA_ECS_* variables over the --ecs-config file.
            let mut config = match args.ecs.config() {
                Ok(c) => c,
                Err(e) => return bad_input(&format!("cannot use ECS: {e}")),
            };
            for p in &args.platforms {
                if let Err(e) = config.platforms.add_flag(p) {
                    return bad_input(&e.to_string());
                }
            }
            match gha_backend_ecs::EcsBackend::connect(config).await {
                Ok(b) => Arc::new(b),
                Err(e) => return bad_input(&format!("cannot use ECS: {e}")),
            }
        }
        #[cfg(not(feature = "ecs"))]
        BackendKind::Ecs => {
            return bad_input("this gha was built without ECS support (cargo feature `ecs`)");
        }
    };

    let interactive = std::io::stdout().is_terminal();
    let terminal = (!args.json).then(|| Arc::new(Terminal::new(interactive)));
    let mut observers: Vec<Arc<dyn RunObserver>> = Vec::new();
    if let Some(t) = &terminal {
        observers.push(t.clone());
    } else {
        observers.push(Arc::new(JsonLines));
    }
    if let Some(dir) = &args.summary_dir {
        observers.push(Arc::new(SummaryDir { dir: dir.clone() }));
    }
    let masker = Arc::new(Masker::new());
    let tracer =
        match crate::tracers::Tracer::from_args(&args.trace, args.backend != BackendKind::Host) {
            Ok(t) => t,
            Err(e) => return bad_input(&e),
        };
    let mut executor = Executor::new(backend, Arc::new(Fanout(observers)), masker.clone());
    if let Some(t) = &tracer {
        executor = executor.with_tracer(t.step_tracer());
    }

    let cancellation = RunCancellation::default();
    {
        let c = cancellation.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                eprintln!("gha: cancelling the run (Ctrl-C again to stop cleanup steps too)");
                c.cancel.cancel();
            }
            if tokio::signal::ctrl_c().await.is_ok() {
                c.force.cancel();
            }
        });
        let c = cancellation.clone();
        tokio::spawn(async move {
            if let Ok(mut term) =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                && term.recv().await.is_some()
            {
                c.cancel.cancel();
                c.force.cancel();
            }
        });
    }

    let started = Instant::now();
    let report = match executor.run(loaded, options, cancellation).await {
        Ok(r) => r,
        Err(e) => return bad_input(&masker.mask(&e.0)),
    };
    if let Some(t) = &terminal {
        t.finish(report.conclusion, started.elapsed());
    }
    if let Some(path) = &args.report {
        let json = serde_json::to_string_pretty(&report).unwrap_or_default();
        if let Err(e) = std::fs::write(path, json + "\n") {
            eprintln!(
                "gha run: cannot write the report to {}: {e}",
                path.display()
            );
            return ExitCode::from(2);
        }
    }
    if let Some(f) = tracer.as_ref().and_then(|t| t.preflight_failure()) {
        eprintln!("gha run: {f}");
        return ExitCode::from(2);
    }
    if report.conclusion == Conclusion::Success {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
