//! `gha agent`: the program an ECS task runs. It dials the controller (`gha run --backend ecs`)
//! and serves the job's processes and files until the controller stops it.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use gha_backend_ecs::agent::{AgentOptions, AgentUrl, ENV_CA, ENV_TOKEN, ENV_URL, run_agent};

/// `gha agent` flags. The URL, token and CA usually come from the task's environment
/// (`GHA_AGENT_URL`, `GHA_AGENT_TOKEN`, `GHA_AGENT_CA`), which the ECS backend sets.
#[derive(Debug, Args)]
pub struct AgentArgs {
    /// The controller: `tcp://HOST:PORT` or `tls://HOST:PORT` (default: $GHA_AGENT_URL).
    #[arg(long = "url", value_name = "URL")]
    pub url: Option<String>,
    /// A file holding the one-time token (default: $GHA_AGENT_TOKEN). Tokens are never taken
    /// from the command line, where other users could see them.
    #[arg(long = "token-file", value_name = "FILE")]
    pub token_file: Option<PathBuf>,
    /// A PEM file of the certificate(s) to trust for tls:// (default: $GHA_AGENT_CA, the PEM
    /// text itself).
    #[arg(long = "ca-file", value_name = "FILE")]
    pub ca_file: Option<PathBuf>,
    /// Where the job's directories are made (default: $GHA_AGENT_WORK_DIR or the temp
    /// directory's gha-agent).
    #[arg(long = "work-dir", value_name = "DIR")]
    pub work_dir: Option<PathBuf>,
    /// Seconds without any message after which the controller counts as gone.
    #[arg(long = "dead-after", value_name = "SECONDS", default_value_t = 30.0)]
    pub dead_after: f64,
    /// Seconds to keep retrying the first connection.
    #[arg(
        long = "connect-timeout",
        value_name = "SECONDS",
        default_value_t = 30.0
    )]
    pub connect_timeout: f64,
}

fn fail(msg: &str) -> ExitCode {
    eprintln!("gha agent: error: {msg}");
    ExitCode::from(2)
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

fn seconds(name: &str, v: f64) -> Result<Duration, String> {
    if v.is_finite() && v > 0.0 {
        Ok(Duration::from_secs_f64(v))
    } else {
        Err(format!(
            "{name} must be a positive number of seconds, not {v}"
        ))
    }
}

fn options(args: &AgentArgs) -> Result<AgentOptions, String> {
    let url = match args.url.clone().or_else(|| env(ENV_URL)) {
        Some(u) => u.parse::<AgentUrl>()?,
        None => return Err(format!("no controller URL: pass --url or set {ENV_URL}")),
    };
    let token = match &args.token_file {
        Some(f) => std::fs::read_to_string(f)
            .map_err(|e| format!("cannot read {}: {e}", f.display()))?
            .trim()
            .to_string(),
        None => env(ENV_TOKEN)
            .ok_or_else(|| format!("no token: set {ENV_TOKEN} or pass --token-file"))?,
    };
    if token.is_empty() {
        return Err("the token is empty".into());
    }
    let ca_pem = match &args.ca_file {
        Some(f) => Some(
            std::fs::read_to_string(f).map_err(|e| format!("cannot read {}: {e}", f.display()))?,
        ),
        None => env(ENV_CA),
    };
    let mut o = AgentOptions::new(url, token);
    o.ca_pem = ca_pem;
    if let Some(dir) = args
        .work_dir
        .clone()
        .or_else(|| env("GHA_AGENT_WORK_DIR").map(PathBuf::from))
    {
        o.work_dir = dir;
    }
    o.dead_after = seconds("--dead-after", args.dead_after)?;
    o.connect_timeout = seconds("--connect-timeout", args.connect_timeout)?;
    o.heartbeat_interval =
        (o.dead_after / 6).clamp(Duration::from_millis(100), Duration::from_secs(5));
    Ok(o)
}

/// Runs `gha agent`: exit 0 when the controller stopped the job, 1 when the connection was
/// refused or lost (every step killed), 2 for bad settings.
pub fn run(args: AgentArgs) -> ExitCode {
    let options = match options(&args) {
        Ok(o) => o,
        Err(e) => return fail(&e),
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => return fail(&format!("cannot start the async runtime: {e}")),
    };
    eprintln!("gha agent: connecting to {}", options.url);
    match runtime.block_on(run_agent(options)) {
        Ok(()) => {
            eprintln!("gha agent: the controller stopped the job");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("gha agent: error: {e}");
            ExitCode::FAILURE
        }
    }
}
