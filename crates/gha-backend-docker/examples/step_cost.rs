//! Measures, side by side in one run, what a trivial step costs through this backend versus
//! `docker exec` through the docker CLI on the same container, and what a job start (create +
//! start + first step) costs versus `docker run --rm` through the CLI.
//!
//! ```sh
//! cargo run --release -p gha-backend-docker --example step_cost -- [ROUNDS]
//! ```

use std::process::Command;
use std::time::{Duration, Instant};

use gha_backend_docker::{DockerBackend, DockerBackendOptions};
use gha_exec::{Backend, CancellationToken, Exec, JobSpec, NullLogSink};

const IMAGE: &str = "gha-runner/base:bookworm";

fn stats(mut samples: Vec<Duration>) -> String {
    samples.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let mean = samples.iter().sum::<Duration>() / samples.len() as u32;
    format!(
        "median {:.1} ms, mean {:.1} ms, min {:.1} ms, max {:.1} ms (n={})",
        ms(samples[samples.len() / 2]),
        ms(mean),
        ms(samples[0]),
        ms(samples[samples.len() - 1]),
        samples.len()
    )
}

fn median(samples: &[Duration]) -> Duration {
    let mut s = samples.to_vec();
    s.sort();
    s[s.len() / 2]
}

fn cli(args: &[&str]) -> Duration {
    let t = Instant::now();
    let status = Command::new("docker")
        .args(args)
        .status()
        .expect("docker CLI");
    assert!(status.success(), "docker {args:?}");
    t.elapsed()
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let rounds: usize = std::env::args()
        .nth(1)
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(50);
    let runs = tempfile::tempdir()?;
    let src = tempfile::tempdir()?;
    std::fs::write(src.path().join("README"), "bench")?;
    let mut options = DockerBackendOptions::new(runs.path());
    options
        .platforms
        .add_flag(&format!("ubuntu-latest={IMAGE}"))?;
    let backend = DockerBackend::connect(options).await?;
    let mut spec = JobSpec::new("bench", src.path());
    spec.runs_on = vec!["ubuntu-latest".into()];
    let trivial = Exec::new(["true"]);

    // Job start: backend (create + start + first step) vs `docker run --rm IMAGE true`.
    let starts = rounds.clamp(3, 10);
    let mut backend_start = Vec::new();
    let mut cli_run = Vec::new();
    for _ in 0..starts {
        let t = Instant::now();
        let job = backend.start_job(&spec).await?;
        job.exec(&trivial, &NullLogSink, CancellationToken::new())
            .await?;
        backend_start.push(t.elapsed());
        job.stop().await?;
        cli_run.push(cli(&["run", "--rm", IMAGE, "true"]));
    }

    // Per step: the backend (launcher, then plain execs) vs `docker exec` via the CLI, on the
    // same container, interleaved.
    let job = backend.start_job(&spec).await?;
    let name = job.runner_info().name;
    let mut plain_options = DockerBackendOptions::new(runs.path());
    plain_options
        .platforms
        .add_flag(&format!("ubuntu-latest={IMAGE}"))?;
    plain_options.step_launcher = false;
    let plain_backend = DockerBackend::connect(plain_options).await?;
    let plain_job = plain_backend.start_job(&spec).await?;
    for _ in 0..3 {
        job.exec(&trivial, &NullLogSink, CancellationToken::new())
            .await?;
        plain_job
            .exec(&trivial, &NullLogSink, CancellationToken::new())
            .await?;
        cli(&["exec", &name, "true"]);
    }
    let mut backend_exec = Vec::new();
    let mut plain_exec = Vec::new();
    let mut cli_exec = Vec::new();
    for _ in 0..rounds {
        let t = Instant::now();
        let st = job
            .exec(&trivial, &NullLogSink, CancellationToken::new())
            .await?;
        backend_exec.push(t.elapsed());
        assert!(st.success());
        let t = Instant::now();
        let st = plain_job
            .exec(&trivial, &NullLogSink, CancellationToken::new())
            .await?;
        plain_exec.push(t.elapsed());
        assert!(st.success());
        cli_exec.push(cli(&["exec", &name, "true"]));
    }
    job.stop().await?;
    plain_job.stop().await?;

    println!("trivial step (`true`), same container:");
    println!(
        "  gha-backend-docker (launcher)  : {}",
        stats(backend_exec.clone())
    );
    println!(
        "  gha-backend-docker (exec only) : {}",
        stats(plain_exec.clone())
    );
    println!(
        "  docker exec (CLI)              : {}",
        stats(cli_exec.clone())
    );
    println!(
        "  ratio of medians launcher/CLI  : {:.2}",
        median(&backend_exec).as_secs_f64() / median(&cli_exec).as_secs_f64()
    );
    println!(
        "  ratio of medians exec/CLI      : {:.2}",
        median(&plain_exec).as_secs_f64() / median(&cli_exec).as_secs_f64()
    );
    println!("job start (create + start + first step) vs `docker run --rm {IMAGE} true`:");
    println!(
        "  gha-backend-docker             : {}",
        stats(backend_start.clone())
    );
    println!(
        "  docker run (CLI)               : {}",
        stats(cli_run.clone())
    );
    println!(
        "  ratio of medians               : {:.2}",
        median(&backend_start).as_secs_f64() / median(&cli_run).as_secs_f64()
    );
    Ok(())
}
