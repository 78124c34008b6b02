//! strace and rr on the host backend, through the executor.

mod common;

use std::sync::Arc;

use gha_exec::{Conclusion, HostBackend, HostBackendOptions, StepTracer};
use gha_rr::{
    PreflightKind, RR_TRACE, RrOptions, RrTracer, STRACE_FILE, StraceTracer, TraceTargets,
};

const WORKFLOW: &str = r#"
on: push
jobs:
  build:
    runs-on: ubuntu-latest
    steps:
      - name: untraced
        run: echo before
      - id: probe
        name: Probe
        run: ls -d /
      - name: scripted
        run: |
          true
          printf 'x\n' | cat
"#;

fn have(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(program).is_file()))
}

#[tokio::test]
async fn strace_traces_only_the_selected_steps_from_the_programs_execve() {
    if !have("strace") {
        panic!("strace is not installed: apt-get install strace (.ci/run does)");
    }
    let repo = tempfile::tempdir().unwrap();
    let runs = tempfile::tempdir().unwrap();
    let traces = tempfile::tempdir().unwrap();
    let targets = TraceTargets::from_selectors(&["probe", "3"]).unwrap();
    let tracer = Arc::new(StraceTracer::new(targets, traces.path()));
    let backend = Arc::new(HostBackend::new(HostBackendOptions::new(runs.path())));
    let (report, log) = common::run_with_tracer(
        WORKFLOW,
        backend,
        tracer.clone() as Arc<dyn StepTracer>,
        repo.path(),
    )
    .await;
    assert_eq!(report.conclusion, Conclusion::Success, "{}", log.text());

    // Step 2, a simple command: traced directly, so its first execve is ls's.
    let probe = traces.path().join("build/2-probe").join(STRACE_FILE);
    let text = std::fs::read_to_string(&probe).unwrap();
    let first_execve = text.lines().find(|l| l.contains("execve(")).unwrap();
    assert!(
        first_execve.contains("/ls\", [\"ls\", \"-d\", \"/\"]"),
        "{first_execve}"
    );
    assert!(
        !text.contains("bash"),
        "a simple command must not go through the shell"
    );

    // Step 3, several lines: through the shell, whose children are followed (-f).
    let scripted = traces.path().join("build/3-scripted").join(STRACE_FILE);
    let text = std::fs::read_to_string(&scripted).unwrap();
    let first_execve = text.lines().find(|l| l.contains("execve(")).unwrap();
    assert!(first_execve.contains("bash"), "{first_execve}");
    assert!(text.contains("/cat\", [\"cat\"]"), "children are followed");

    // Step 1 was not traced.
    assert!(!traces.path().join("build/1-untraced").exists());
    let artifacts = tracer.artifacts();
    assert_eq!(artifacts.len(), 2);
    assert_eq!(artifacts[0].1.path, probe);
}

#[tokio::test]
async fn a_traced_step_fails_exactly_when_it_fails_untraced() {
    if !have("strace") {
        panic!("strace is not installed: apt-get install strace (.ci/run does)");
    }
    let yaml = "on: push\njobs:\n  t:\n    runs-on: x\n    steps:\n      - run: sh -c 'exit 7'\n      - run: echo never\n";
    let repo = tempfile::tempdir().unwrap();
    let runs = tempfile::tempdir().unwrap();
    let traces = tempfile::tempdir().unwrap();
    let tracer = Arc::new(StraceTracer::new(TraceTargets::default(), traces.path()));
    let backend = Arc::new(HostBackend::new(HostBackendOptions::new(runs.path())));
    let (report, log) = common::run_with_tracer(yaml, backend, tracer, repo.path()).await;
    assert_eq!(report.conclusion, Conclusion::Failure);
    assert!(
        log.text().contains("Process completed with exit code 7."),
        "{}",
        log.text()
    );
    assert_eq!(report.jobs[0].steps[1].conclusion, Conclusion::Skipped);
}

/// rr: where this machine has performance counters, the step is recorded and packed; where it
/// has none (like this project's build machines), the preflight stops the job before its first
/// step with the "no hardware performance counters" explanation.
#[tokio::test]
async fn rr_records_or_its_preflight_explains_why_not() {
    if !have("rr") {
        panic!("rr is not installed: apt-get install rr (.ci/run does)");
    }
    let repo = tempfile::tempdir().unwrap();
    let runs = tempfile::tempdir().unwrap();
    let traces = tempfile::tempdir().unwrap();
    let marker = repo.path().join("first-step-ran");
    let yaml = format!(
        "on: push\njobs:\n  build:\n    runs-on: x\n    steps:\n      - run: touch {}\n      - id: probe\n        run: ls -d /\n",
        marker.display()
    );
    let tracer = Arc::new(RrTracer::new(
        TraceTargets::from_selectors(&["probe"]).unwrap(),
        traces.path(),
        RrOptions::default(),
    ));
    let backend = Arc::new(HostBackend::new(HostBackendOptions::new(runs.path())));
    let (report, log) = common::run_with_tracer(
        &yaml,
        backend,
        tracer.clone() as Arc<dyn StepTracer>,
        repo.path(),
    )
    .await;
    match tracer.preflight_failure() {
        None => {
            assert_eq!(report.conclusion, Conclusion::Success, "{}", log.text());
            let trace = traces.path().join("build/2-probe").join(RR_TRACE);
            assert!(trace.join("version").is_file() || trace.is_dir());
        }
        Some(f) => {
            eprintln!("recording skipped: {f}");
            assert_eq!(report.conclusion, Conclusion::Failure);
            assert!(!marker.exists(), "no step may run after a failed preflight");
            assert!(report.jobs[0].steps.is_empty());
            let text = log.text();
            assert!(
                text.contains("Tracer rr failed to prepare: rr cannot record here"),
                "{text}"
            );
            if !std::path::Path::new("/sys/bus/event_source/devices/cpu").exists() {
                assert_eq!(f.kind, PreflightKind::NoPerformanceCounters);
                assert!(f.to_string().contains("no hardware performance counters"));
                assert!(f.to_string().contains("c5.9xlarge"));
            }
        }
    }
}
