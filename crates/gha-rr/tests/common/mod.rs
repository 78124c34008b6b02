//! Helpers shared by gha-rr's integration tests: run a workflow through the executor with a
//! tracer and collect the report.

#![allow(dead_code)]

use std::sync::{Arc, Mutex};

use gha_exec::run::{Executor, RunCancellation, RunOptions, RunReport, WorkflowFile};
use gha_exec::{Backend, Masker, RunEvent, RunObserver, StepTracer};

/// Keeps every log line and error annotation.
#[derive(Default)]
pub struct Collect(pub Mutex<Vec<String>>);

impl RunObserver for Collect {
    fn on_event(&self, event: &RunEvent) {
        self.0.lock().unwrap().push(format!("{event:?}"));
    }
}

impl Collect {
    pub fn text(&self) -> String {
        self.0.lock().unwrap().join("\n")
    }
}

/// Runs `yaml` on `backend` with `tracer`.
pub async fn run_with_tracer(
    yaml: &str,
    backend: Arc<dyn Backend>,
    tracer: Arc<dyn StepTracer>,
    repo: &std::path::Path,
) -> (RunReport, Arc<Collect>) {
    let workflow = gha_model::Workflow::from_yaml(yaml).expect("valid workflow");
    let observer = Arc::new(Collect::default());
    let executor =
        Executor::new(backend, observer.clone(), Arc::new(Masker::new())).with_tracer(tracer);
    let report = executor
        .run(
            vec![WorkflowFile {
                path: ".github/workflows/ci.yml".into(),
                workflow,
            }],
            RunOptions::new(repo),
            RunCancellation::default(),
        )
        .await
        .expect("the run starts");
    (report, observer)
}

/// Whether a Docker engine answers; panics when `GHA_REQUIRE_DOCKER=1` and none does.
pub async fn docker_or_skip(test: &str) -> Option<gha_backend_docker::DockerBackend> {
    let runs = std::env::temp_dir().join("gha-rr-docker-tests");
    let mut options = gha_backend_docker::DockerBackendOptions::new(runs);
    options
        .platforms
        .add_flag("ubuntu-latest=gha-runner/base:bookworm")
        .unwrap();
    match gha_backend_docker::DockerBackend::connect(options).await {
        Ok(b) => Some(b),
        Err(e) => {
            if std::env::var("GHA_REQUIRE_DOCKER").as_deref() == Ok("1") {
                panic!("{test}: GHA_REQUIRE_DOCKER=1 but no Docker engine answers: {e}");
            }
            eprintln!("{test}: skipped: no Docker engine answers ({e})");
            None
        }
    }
}
