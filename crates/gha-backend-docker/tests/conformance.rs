//! The JobEnv conformance suite (`gha_exec::conformance`) against the Docker backend on a real
//! engine, one test per contract item, once with the step launcher and once with one Docker exec
//! per step. Skipped without an engine unless GHA_REQUIRE_DOCKER=1 (see `common`).

mod common;

use gha_exec::conformance::{self, Target};

/// Runs `check` against a fresh backend (launcher on or off) and checks nothing is left.
async fn against_docker<F>(launcher: bool, check: F)
where
    F: for<'t> AsyncFnOnce(&'t Target<'t>),
{
    let engine = engine_or_skip!();
    let (backend, runs) = common::backend_with(&engine, |o| o.step_launcher = launcher);
    let (template, _src) = common::spec("conformance");
    let target = Target::new(&backend, template);
    check(&target).await;
    common::assert_nothing_left(&engine, backend.instance()).await;
    backend.wait_for_removals().unwrap();
    let left: Vec<_> = std::fs::read_dir(runs.path()).unwrap().collect();
    assert!(left.is_empty(), "host directories left behind: {left:?}");
}

/// For each check, a module with a `launcher` and a `plain_exec` test.
macro_rules! checks {
    ($($check:ident),+ $(,)?) => {
        $(
            mod $check {
                #[tokio::test]
                async fn launcher() {
                    super::against_docker(true, async |t| gha_exec::conformance::$check(t).await)
                        .await
                }
                #[tokio::test]
                async fn plain_exec() {
                    super::against_docker(false, async |t| gha_exec::conformance::$check(t).await)
                        .await
                }
            }
        )+
    };
}

gha_exec::conformance_checks!(checks);

/// Docker actions run as sibling containers of the job container.
#[tokio::test]
async fn run_action_container() {
    against_docker(true, async |t| {
        conformance::run_action_container(t, common::BASE_IMAGE).await
    })
    .await
}
