//! `FailureAnalysis` and `RerunPlan` against GitHub's REST response shapes (runs, jobs with
//! steps, contents, tarballs) served on 127.0.0.1.

mod common;

use std::path::PathBuf;
use std::sync::Arc;

use gha_exec::run::Executor;
use gha_exec::{Conclusion, HostBackend, HostBackendOptions, Masker};
use gha_rr::rerun::test_server::{FakeGitHub, job_json, run_json};
use gha_rr::rerun::{
    AnalysisOptions, EnvLevel, FailureAnalysis, GitHubApi, RerunError, RerunPlan, RerunSource,
    RerunVerdict, RunRef,
};
use gha_rr::{STRACE_FILE, StraceTracer};

const SHA: &str = "6475d0fb1f2b8bd8e6b5d0c37f0e2b0b9a7c1d2e";
const WORKFLOW: &str = ".github/workflows/ci.yml";

fn fixture(name: &str) -> String {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/rr")
        .join(name);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

const MATRIX_BETA_STEPS: &[(&str, &str)] = &[
    ("Set up job", "success"),
    ("Run actions/checkout@v4", "success"),
    ("Build", "success"),
    ("Test beta", "failure"),
    ("Run echo never", "skipped"),
    ("Post Run actions/checkout@v4", "success"),
    ("Complete job", "success"),
];

/// The matrix fixture's run: lint and the stable leg passed, the beta leg failed.
async fn matrix_server(check_sh: &str) -> FakeGitHub {
    let gh = FakeGitHub::start().await;
    gh.add_run("octo", "hello", run_json(42, SHA, WORKFLOW))
        .await;
    let stable: Vec<(&str, &str)> = MATRIX_BETA_STEPS
        .iter()
        .map(|(n, _)| {
            (
                if *n == "Test beta" { "Test stable" } else { *n },
                "success",
            )
        })
        .collect();
    gh.add_jobs(
        "octo",
        "hello",
        42,
        vec![
            job_json(
                100,
                42,
                "lint",
                "success",
                &[
                    ("Set up job", "success"),
                    ("Run echo lint", "success"),
                    ("Complete job", "success"),
                ],
            ),
            job_json(
                101,
                42,
                "Build+test (ubuntu-latest, stable)",
                "success",
                &stable,
            ),
            job_json(
                102,
                42,
                "Build+test (ubuntu-latest, beta)",
                "failure",
                MATRIX_BETA_STEPS,
            ),
        ],
    )
    .await;
    gh.add_file("octo", "hello", WORKFLOW, &fixture("matrix.yml"))
        .await;
    gh.add_tarball(
        "octo",
        "hello",
        SHA,
        &[
            ("build.sh", "#!/bin/sh\necho built\n", true),
            ("check.sh", check_sh, true),
            ("README.md", "hello\n", false),
        ],
    )
    .await;
    gh
}

async fn analyse(
    gh: &FakeGitHub,
    options: &AnalysisOptions,
) -> Result<FailureAnalysis, RerunError> {
    let api = GitHubApi::new(&gh.url(), Some("test-token")).unwrap();
    let run = RunRef::parse("octo/hello", Some("42")).unwrap();
    FailureAnalysis::fetch(&api, &run, options).await
}

/// Runs the plan on the host backend with strace on the failing step.
async fn rerun(
    gh: &FakeGitHub,
    analysis: &FailureAnalysis,
) -> (gha_rr::rerun::RerunOutcome, tempfile::TempDir) {
    let api = GitHubApi::new(&gh.url(), None).unwrap();
    let plan = RerunPlan::new(analysis).unwrap();
    let scratch = tempfile::tempdir().unwrap();
    let traces = tempfile::tempdir().unwrap();
    let repo = plan
        .checkout(&api, &RerunSource::Download, scratch.path())
        .await
        .unwrap();
    assert!(
        repo.join("check.sh").is_file(),
        "the tarball was unpacked without its top directory"
    );
    let tracer = Arc::new(StraceTracer::new(plan.targets(), traces.path()));
    let observer = Arc::new(common::Collect::default());
    let executor = Executor::new(
        Arc::new(HostBackend::new(HostBackendOptions::new(
            scratch.path().join("runs"),
        ))),
        observer.clone(),
        Arc::new(Masker::new()),
    )
    .with_tracer(tracer);
    let outcome = plan
        .execute(&executor, plan.run_options(&repo), traces.path())
        .await
        .unwrap();
    (outcome, traces)
}

#[tokio::test]
async fn a_matrix_leg_that_opted_in_at_step_level_is_reproduced_with_only_its_failing_step_traced()
{
    if which("strace").is_none() {
        panic!("strace is not installed: apt-get install strace (.ci/run does)");
    }
    let gh = matrix_server(
        "#!/bin/sh\necho \"checking with PERNOSCO_ENABLED=$PERNOSCO_ENABLED\"\nexit 1\n",
    )
    .await;
    let a = analyse(&gh, &AnalysisOptions::default()).await.unwrap();
    assert_eq!(a.job.id, "test");
    assert_eq!(a.job.display_name, "Build+test (ubuntu-latest, beta)");
    assert_eq!(
        serde_json::Value::Object(a.job.matrix.clone().unwrap()),
        serde_json::json!({"os": "ubuntu-latest", "rust": "beta"})
    );
    assert_eq!((a.step.github_number, a.step.index), (4, 2));
    assert_eq!(a.step.github_name, "Test beta");
    let opt_in = a.opt_in.clone().unwrap();
    assert_eq!(
        (
            opt_in.variable.as_str(),
            opt_in.value.as_str(),
            opt_in.level
        ),
        ("PERNOSCO_ENABLED", "true", EnvLevel::Step)
    );
    assert!(a.opted_in());
    assert_eq!(a.head_sha, SHA);

    let (outcome, traces) = rerun(&gh, &a).await;
    assert_eq!(
        outcome.verdict,
        RerunVerdict::Reproduced,
        "{:?}",
        outcome.report
    );
    let job = &outcome.report.jobs[0];
    assert_eq!(job.name, "Build+test (ubuntu-latest, beta)");
    assert_eq!(
        job.steps.len(),
        3,
        "steps after the failing one are not run"
    );
    assert_eq!(
        outcome.report.jobs.len(),
        1,
        "needs (lint) and the other leg are not run"
    );
    let trace_dir = outcome.trace.clone().unwrap();
    assert_eq!(
        trace_dir,
        traces
            .path()
            .join("build-test-ubuntu-latest-beta/3-test-beta")
    );
    let strace = std::fs::read_to_string(trace_dir.join(STRACE_FILE)).unwrap();
    let first = strace.lines().find(|l| l.contains("execve(")).unwrap();
    assert!(first.contains("execve(\"./check.sh\""), "{first}");
    let dirs = std::fs::read_dir(traces.path().join("build-test-ubuntu-latest-beta"))
        .unwrap()
        .count();
    assert_eq!(dirs, 1, "only the failing step is traced");
}

#[tokio::test]
async fn a_failure_that_does_not_reproduce_is_reported_as_such() {
    if which("strace").is_none() {
        panic!("strace is not installed: apt-get install strace (.ci/run does)");
    }
    let gh = matrix_server("#!/bin/sh\necho flaky test passed this time\n").await;
    let a = analyse(&gh, &AnalysisOptions::default()).await.unwrap();
    let (outcome, _traces) = rerun(&gh, &a).await;
    assert_eq!(
        outcome.verdict,
        RerunVerdict::NotReproduced {
            outcome: Conclusion::Success
        }
    );
    assert!(!outcome.reproduced());
    assert!(outcome.trace.is_some(), "the passing step was still traced");
}

#[tokio::test]
async fn pre_steps_of_actions_shift_githubs_numbers_and_job_level_opt_in_counts() {
    let gh = FakeGitHub::start().await;
    gh.add_run(
        "octo",
        "hello",
        run_json(42, SHA, &format!("{WORKFLOW}@refs/heads/main")),
    )
    .await;
    gh.add_jobs(
        "octo",
        "hello",
        42,
        vec![job_json(
            7,
            42,
            "unit",
            "failure",
            &[
                ("Set up job", "success"),
                ("Pre Harden runner", "success"),
                ("Pre Run actions/cache@v4", "success"),
                ("Harden runner", "success"),
                ("Run actions/checkout@v4", "success"),
                ("Run actions/cache@v4", "success"),
                ("Run cargo build", "success"),
                ("cargo test", "failure"),
                ("Post Run actions/cache@v4", "success"),
                ("Post Run actions/checkout@v4", "success"),
                ("Post Harden runner", "success"),
                ("Complete job", "success"),
            ],
        )],
    )
    .await;
    gh.add_file("octo", "hello", WORKFLOW, &fixture("pre_steps.yml"))
        .await;
    let a = analyse(&gh, &AnalysisOptions::default()).await.unwrap();
    assert_eq!(a.workflow_path, WORKFLOW);
    assert_eq!((a.step.github_number, a.step.index), (8, 4));
    assert_eq!((a.step.leading_entries, a.step.pre_steps), (3, 2));
    let o = a.opt_in.clone().unwrap();
    assert_eq!(
        (o.variable.as_str(), o.value.as_str(), o.level),
        ("PERNOSCO_ENABLE", "1", EnvLevel::Job)
    );
    let plan = RerunPlan::new(&a).unwrap();
    assert_eq!(plan.workflow.jobs[0].steps.len(), 5);
    assert_eq!(plan.targets().steps, [gha_rr::StepSelector::Number(5)]);
}

async fn single_job_server(fixture_name: &str, steps: &[(&str, &str)]) -> FakeGitHub {
    let gh = FakeGitHub::start().await;
    gh.add_run("octo", "hello", run_json(42, SHA, WORKFLOW))
        .await;
    gh.add_jobs(
        "octo",
        "hello",
        42,
        vec![job_json(9, 42, "test", "failure", steps)],
    )
    .await;
    gh.add_file("octo", "hello", WORKFLOW, &fixture(fixture_name))
        .await;
    gh
}

#[tokio::test]
async fn workflow_level_opt_in_counts() {
    let gh = single_job_server(
        "workflow_level.yml",
        &[
            ("Set up job", "success"),
            ("Run ./check.sh", "failure"),
            ("Complete job", "success"),
        ],
    )
    .await;
    let a = analyse(&gh, &AnalysisOptions::default()).await.unwrap();
    let o = a.opt_in.clone().unwrap();
    assert_eq!(
        (o.variable.as_str(), o.level),
        ("PERNOSCO_ENABLED", EnvLevel::Workflow)
    );
    assert!(a.opted_in());
}

#[tokio::test]
async fn no_opt_in_is_a_clear_not_opted_in() {
    let steps = [
        ("Set up job", "success"),
        ("Run make", "success"),
        ("Run ./check.sh", "failure"),
        ("Complete job", "success"),
    ];
    let gh = single_job_server("not_opted_in.yml", &steps).await;
    let a = analyse(&gh, &AnalysisOptions::default()).await.unwrap();
    assert!(a.opt_in.is_none() && !a.opted_in());
    assert_eq!(
        a.not_opted_in_reason(),
        "not opted in: step 3 ('Run ./check.sh') of job 'test' does not set PERNOSCO_ENABLED or PERNOSCO_ENABLE in its env (workflow, job or step level)"
    );
    // --require-env chooses another variable.
    let custom = AnalysisOptions {
        opt_in_variables: vec!["CARGO_TERM_COLOR".into()],
        ..Default::default()
    };
    let gh = matrix_server("#!/bin/sh\nexit 1\n").await;
    let a = analyse(&gh, &custom).await.unwrap();
    let o = a.opt_in.unwrap();
    assert_eq!(
        (o.variable.as_str(), o.value.as_str(), o.level),
        ("CARGO_TERM_COLOR", "always", EnvLevel::Workflow)
    );
}

#[tokio::test]
async fn a_leg_that_sets_the_variable_to_false_is_not_opted_in() {
    let gh = FakeGitHub::start().await;
    gh.add_run("octo", "hello", run_json(42, SHA, WORKFLOW))
        .await;
    let stable: Vec<(&str, &str)> = MATRIX_BETA_STEPS
        .iter()
        .map(|(n, c)| (if *n == "Test beta" { "Test stable" } else { *n }, *c))
        .collect();
    gh.add_jobs(
        "octo",
        "hello",
        42,
        vec![job_json(
            101,
            42,
            "Build+test (ubuntu-latest, stable)",
            "failure",
            &stable,
        )],
    )
    .await;
    gh.add_file("octo", "hello", WORKFLOW, &fixture("matrix.yml"))
        .await;
    let a = analyse(&gh, &AnalysisOptions::default()).await.unwrap();
    let o = a.opt_in.clone().unwrap();
    assert_eq!((o.value.as_str(), o.level), ("false", EnvLevel::Step));
    assert!(!a.opted_in());
    assert!(
        a.not_opted_in_reason()
            .starts_with("not opted in: PERNOSCO_ENABLED is 'false' (set at step level)")
    );
}

#[tokio::test]
async fn choosing_a_job_that_did_not_fail_is_an_error() {
    let gh = matrix_server("#!/bin/sh\nexit 1\n").await;
    let a = analyse(
        &gh,
        &AnalysisOptions {
            job: Some("Build+test (ubuntu-latest, stable)".into()),
            ..Default::default()
        },
    )
    .await;
    let e = a.unwrap_err();
    assert!(e.to_string().contains("has no failed step"), "{e}");
}

#[tokio::test]
async fn unknown_jobs_and_runs_are_clear_errors() {
    let gh = matrix_server("#!/bin/sh\nexit 1\n").await;
    let e = analyse(
        &gh,
        &AnalysisOptions {
            job: Some("nope".into()),
            ..Default::default()
        },
    )
    .await
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "run 42 has no job named 'nope' (jobs: lint, Build+test (ubuntu-latest, stable), Build+test (ubuntu-latest, beta))"
    );
    let api = GitHubApi::new(&gh.url(), None).unwrap();
    let missing = RunRef::parse("octo/hello", Some("43")).unwrap();
    let e = FailureAnalysis::fetch(&api, &missing, &AnalysisOptions::default())
        .await
        .unwrap_err();
    assert!(
        e.to_string()
            .starts_with("GitHub API: run 43 of octo/hello: HTTP 404"),
        "{e}"
    );
}

fn which(p: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|d| d.join(p))
            .find(|f| f.is_file())
    })
}
