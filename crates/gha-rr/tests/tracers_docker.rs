//! The bundled tools in a job container whose image (gha-runner/base:bookworm) has neither
//! strace nor rr. Skipped with a message when no Docker engine answers; a failure when
//! `GHA_REQUIRE_DOCKER=1`.

mod common;

use std::sync::Arc;

use gha_exec::{Backend, CancellationToken, Conclusion, Exec, JobSpec, StepTracer, VecLogSink};
use gha_rr::{
    BUNDLE_MOUNT, PreflightKind, RrOptions, RrTracer, STRACE_FILE, StraceTracer, Tool, ToolBundle,
    TraceTargets,
};

fn cache() -> std::path::PathBuf {
    std::env::temp_dir().join("gha-rr-test-bundles")
}

#[tokio::test]
async fn bundled_strace_traces_a_step_in_an_image_without_strace() {
    let Some(backend) = common::docker_or_skip("bundled strace").await else {
        return;
    };
    let repo = tempfile::tempdir().unwrap();
    let traces = tempfile::tempdir().unwrap();
    let yaml = "on: push\njobs:\n  box:\n    runs-on: ubuntu-latest\n    steps:\n      - name: no strace here\n        run: if command -v strace; then exit 1; fi\n      - id: probe\n        run: ls -d /etc\n      - run: echo after\n";
    let bundle = ToolBundle::create(Tool::Strace, None, &cache()).unwrap();
    let tracer = Arc::new(
        StraceTracer::new(
            TraceTargets::from_selectors(&["probe"]).unwrap(),
            traces.path(),
        )
        .with_bundle(bundle),
    );
    let (report, log) = common::run_with_tracer(
        yaml,
        Arc::new(backend),
        tracer.clone() as Arc<dyn StepTracer>,
        repo.path(),
    )
    .await;
    assert_eq!(report.conclusion, Conclusion::Success, "{}", log.text());
    let text = std::fs::read_to_string(traces.path().join("box/2-run-ls-d-etc").join(STRACE_FILE))
        .unwrap();
    let first = text.lines().find(|l| l.contains("execve(")).unwrap();
    assert!(
        first.contains("/ls\", [\"ls\", \"-d\", \"/etc\"]"),
        "{first}"
    );
    // The step's environment stays clean: the loader's library path is an argument, not a
    // variable the step inherits.
    assert!(!first.contains("LD_LIBRARY_PATH"));
    let dirs: Vec<_> = std::fs::read_dir(traces.path().join("box"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(dirs, ["2-run-ls-d-etc"], "only the selected step is traced");
}

#[tokio::test]
async fn bundled_rr_runs_in_an_image_without_rr_and_its_preflight_is_classified() {
    let Some(backend) = common::docker_or_skip("bundled rr").await else {
        return;
    };
    let traces = tempfile::tempdir().unwrap();
    let repo = tempfile::tempdir().unwrap();
    let bundle = ToolBundle::create(Tool::Rr, None, &cache()).unwrap();
    let tracer = RrTracer::new(TraceTargets::default(), traces.path(), RrOptions::default())
        .with_bundle(bundle.clone());

    // `rr --version` through the bundle, in a container of the base image.
    let mut spec = JobSpec::new("rr", repo.path());
    spec.runs_on = vec!["ubuntu-latest".into()];
    spec.tracer_requirements = tracer.requirements();
    let env = backend.start_job(&spec).await.unwrap();
    let sink = VecLogSink::default();
    let st = env
        .exec(
            &Exec::new(["sh", "-c", "command -v rr || ls /usr/lib/rr || echo absent"]),
            &sink,
            CancellationToken::new(),
        )
        .await
        .unwrap();
    assert!(st.success());
    assert!(
        sink.lines().iter().any(|(_, l)| l == "absent"),
        "{:?}",
        sink.lines()
    );
    let target = format!(
        "{BUNDLE_MOUNT}/{}",
        bundle.dir.file_name().unwrap().to_string_lossy()
    );
    let mut argv = bundle.invocation(&target);
    argv.push("--version".into());
    let sink = VecLogSink::default();
    let st = env
        .exec(&Exec::new(argv), &sink, CancellationToken::new())
        .await
        .unwrap();
    assert!(st.success(), "{:?}", sink.lines());
    assert!(
        sink.lines()
            .iter()
            .any(|(_, l)| l == &format!("rr version {}", bundle.manifest.version)),
        "{:?}",
        sink.lines()
    );

    // The preflight in that container: records where the machine can, else is classified.
    let result = tracer.prepare(env.as_ref()).await;
    env.stop().await.unwrap();
    match tracer.preflight_failure() {
        None => assert!(result.is_ok()),
        Some(f) => {
            let message = result.unwrap_err().to_string();
            eprintln!("recording skipped: {message}");
            assert_eq!(message, f.to_string());
            assert!(!f.rr_output.is_empty(), "rr itself ran and said why");
            if !std::path::Path::new("/sys/bus/event_source/devices/cpu").exists() {
                assert_eq!(f.kind, PreflightKind::NoPerformanceCounters, "{message}");
                assert!(message.contains("no hardware performance counters"));
            }
        }
    }
}
