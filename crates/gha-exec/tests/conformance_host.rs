//! The JobEnv conformance suite (`gha_exec::conformance`) against the host backend, one test per
//! contract item.

use gha_exec::conformance::{self, Target};
use gha_exec::{HostBackend, HostBackendOptions, JobSpec};

/// One `#[tokio::test]` per check, each with its own backend and runs directory.
macro_rules! checks {
    ($($check:ident),+ $(,)?) => {
        $(
            #[tokio::test]
            async fn $check() {
                let runs = tempfile::tempdir().unwrap();
                let backend = HostBackend::new(HostBackendOptions::new(runs.path()));
                let target = Target::new(&backend, JobSpec::new("conformance", "/unused"));
                conformance::$check(&target).await;
                backend.wait_for_removals().unwrap();
                let left: Vec<_> = std::fs::read_dir(runs.path()).unwrap().collect();
                assert!(left.is_empty(), "run directories left behind: {left:?}");
            }
        )+
    };
}

gha_exec::conformance_checks!(checks);

/// The opt-in Docker-action check: the host runs the `docker` CLI, so it needs an engine with
/// the base image; skipped (with a message) without one unless GHA_REQUIRE_DOCKER=1.
#[tokio::test]
async fn run_action_container() {
    const IMAGE: &str = "gha-runner/base:bookworm";
    let have_image = std::process::Command::new("docker")
        .args(["image", "inspect", IMAGE])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !have_image {
        if std::env::var("GHA_REQUIRE_DOCKER").is_ok_and(|v| v == "1" || v == "true") {
            panic!("GHA_REQUIRE_DOCKER=1 but no Docker engine with {IMAGE}");
        }
        eprintln!("skipping: no Docker engine with {IMAGE}");
        return;
    }
    let runs = tempfile::tempdir().unwrap();
    let backend = HostBackend::new(HostBackendOptions::new(runs.path()));
    let target = Target::new(&backend, JobSpec::new("conformance", "/unused"));
    conformance::run_action_container(&target, IMAGE).await;
}
