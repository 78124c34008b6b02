//! Shared set-up for the tests against a real Docker engine.
//!
//! Without an engine (or without the base image) a test prints why and returns early, unless
//! `GHA_REQUIRE_DOCKER=1` is set (as `.ci/run` does): then it fails.

#![allow(dead_code)]

use std::collections::HashMap;

use bollard::query_parameters::{ListContainersOptionsBuilder, ListNetworksOptionsBuilder};
use gha_backend_docker::{DockerBackend, DockerBackendOptions, Engine, labels};
use gha_exec::{Backend, JobEnv, JobSpec};

/// The image `cargo xtask image` builds.
pub const BASE_IMAGE: &str = "gha-runner/base:bookworm";
/// A web server on port 8000 that starts listening 2 s after the container starts.
pub const HTTP_IMAGE: &str = "gha-runner/test-http:1";

fn required() -> bool {
    std::env::var("GHA_REQUIRE_DOCKER").is_ok_and(|v| v == "1" || v == "true")
}

fn skip(why: &str) {
    if required() {
        panic!("GHA_REQUIRE_DOCKER=1 but {why}");
    }
    eprintln!("skipping Docker test: {why}");
}

/// The engine, or `None` (after printing why) when the test should be skipped.
pub async fn engine() -> Option<Engine> {
    let engine = match Engine::connect(None).await {
        Ok(engine) => engine,
        Err(e) => {
            skip(&e.to_string());
            return None;
        }
    };
    if engine.docker().inspect_image(BASE_IMAGE).await.is_err() {
        skip(&format!(
            "image {BASE_IMAGE} is missing: run `cargo xtask image`"
        ));
        return None;
    }
    Some(engine)
}

/// `let engine = engine_or_skip!();`
#[macro_export]
macro_rules! engine_or_skip {
    () => {
        match common::engine().await {
            Some(engine) => engine,
            None => return,
        }
    };
}

/// A backend with `ubuntu-latest` mapped to the base image, host directories in a temp dir.
pub fn backend(engine: &Engine) -> (DockerBackend, tempfile::TempDir) {
    backend_with(engine, |_| {})
}

pub fn backend_with(
    engine: &Engine,
    tweak: impl FnOnce(&mut DockerBackendOptions),
) -> (DockerBackend, tempfile::TempDir) {
    let runs = tempfile::tempdir().unwrap();
    let mut options = DockerBackendOptions::new(runs.path());
    options
        .platforms
        .add_flag(&format!("ubuntu-latest={BASE_IMAGE}"))
        .unwrap();
    tweak(&mut options);
    (DockerBackend::with_engine(engine.clone(), options), runs)
}

/// A source tree with a file in it and a spec for an `ubuntu-latest` job on it.
pub fn spec(job: &str) -> (JobSpec, tempfile::TempDir) {
    let src = tempfile::tempdir().unwrap();
    std::fs::write(src.path().join("hello.txt"), "hello from the repo\n").unwrap();
    let mut spec = JobSpec::new(job, src.path());
    spec.repository = "octo/demo".into();
    spec.runs_on = vec!["ubuntu-latest".into()];
    (spec, src)
}

pub async fn start(backend: &DockerBackend, spec: &JobSpec) -> Box<dyn JobEnv> {
    backend.start_job(spec).await.unwrap()
}

/// The error of a start that must fail.
pub async fn start_err(backend: &DockerBackend, spec: &JobSpec) -> gha_exec::BackendError {
    match backend.start_job(spec).await {
        Ok(job) => {
            job.stop().await.unwrap();
            panic!("the job started");
        }
        Err(e) => e,
    }
}

/// Names of containers, networks and volumes of backend instance `instance` still on the engine.
pub async fn leftovers(engine: &Engine, instance: &str) -> Vec<String> {
    labelled_leftovers(engine, &format!("{}={instance}", labels::INSTANCE)).await
}

/// Names of containers, networks and volumes carrying `label` (`key=value`) still on the engine.
#[allow(dead_code)] // not every test file uses it
pub async fn labelled_leftovers(engine: &Engine, label: &str) -> Vec<String> {
    let filters = HashMap::from([("label".to_string(), vec![label.to_string()])]);
    let mut names = Vec::new();
    let containers = engine
        .docker()
        .list_containers(Some(
            ListContainersOptionsBuilder::default()
                .all(true)
                .filters(&filters)
                .build(),
        ))
        .await
        .unwrap();
    names.extend(
        containers
            .into_iter()
            .flat_map(|c| c.names.unwrap_or_default()),
    );
    let networks = engine
        .docker()
        .list_networks(Some(
            ListNetworksOptionsBuilder::default()
                .filters(&filters)
                .build(),
        ))
        .await
        .unwrap();
    names.extend(networks.into_iter().filter_map(|n| n.name));
    let volumes = engine
        .docker()
        .list_volumes(Some(
            bollard::query_parameters::ListVolumesOptionsBuilder::default()
                .filters(&filters)
                .build(),
        ))
        .await
        .unwrap();
    names.extend(
        volumes
            .volumes
            .unwrap_or_default()
            .into_iter()
            .map(|v| format!("volume {}", v.name)),
    );
    names
}

/// Waits (up to 5 s) until nothing of `instance` is left, else fails listing what is.
pub async fn assert_nothing_left(engine: &Engine, instance: &str) {
    for _ in 0..50 {
        if leftovers(engine, instance).await.is_empty() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("left behind: {:?}", leftovers(engine, instance).await);
}

/// Builds [`HTTP_IMAGE`] from the base image (offline: no registry involved) unless it exists.
pub async fn ensure_http_image(engine: &Engine) {
    // Tests of one binary run in parallel: build once.
    static BUILDING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    let _guard = BUILDING.lock().await;
    if engine.docker().inspect_image(HTTP_IMAGE).await.is_ok() {
        return;
    }
    let dockerfile = format!(
        "FROM {BASE_IMAGE}\nCMD [\"sh\", \"-c\", \"sleep 2 && exec python3 -m http.server 8000\"]\n"
    );
    let mut tar = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_gnu();
    header.set_size(dockerfile.len() as u64);
    header.set_mode(0o644);
    tar.append_data(&mut header, "Dockerfile", dockerfile.as_bytes())
        .unwrap();
    let context = tar.into_inner().unwrap();
    let options = bollard::query_parameters::BuildImageOptionsBuilder::default()
        .t(HTTP_IMAGE)
        .rm(true)
        .forcerm(true)
        .build();
    use futures_util::StreamExt;
    let mut stream =
        engine
            .docker()
            .build_image(options, None, Some(bollard::body_full(context.into())));
    while let Some(item) = stream.next().await {
        item.expect("building the test image");
    }
}
