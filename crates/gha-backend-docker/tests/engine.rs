//! The engine: no engine, an engine that disappears mid-step, and `gha prune`.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use gha_backend_docker::{DockerBackend, Engine, PruneFilter, prune};
use gha_exec::{Backend, CancellationToken, Exec, NullLogSink};
use tokio::net::{UnixListener, UnixStream};

#[tokio::test]
async fn no_engine_is_a_clear_error_naming_the_address() {
    let t = Instant::now();
    let err = Engine::connect(Some("unix:///nonexistent/docker.sock"))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("no Docker engine answers at unix:///nonexistent/docker.sock"),
        "{err}"
    );
    assert!(t.elapsed() < Duration::from_secs(5));
}

/// Forwards a Unix socket to the engine's until `stop` fires, then drops every connection.
fn start_proxy(listen: &Path, engine_socket: PathBuf, stop: CancellationToken) {
    let listener = UnixListener::bind(listen).unwrap();
    tokio::spawn(async move {
        loop {
            let accepted = tokio::select! {
                a = listener.accept() => a,
                _ = stop.cancelled() => return,
            };
            let Ok((mut client, _)) = accepted else {
                return;
            };
            let engine_socket = engine_socket.clone();
            let stop = stop.clone();
            tokio::spawn(async move {
                let Ok(mut upstream) = UnixStream::connect(&engine_socket).await else {
                    return;
                };
                tokio::select! {
                    _ = tokio::io::copy_bidirectional(&mut client, &mut upstream) => {}
                    _ = stop.cancelled() => {}
                }
            });
        }
    });
}

#[tokio::test]
async fn an_engine_that_disappears_mid_step_fails_the_step_without_hanging() {
    let engine = engine_or_skip!();
    let Some(engine_socket) = engine.endpoint().strip_prefix("unix://").map(PathBuf::from) else {
        eprintln!("skipping: the engine is not on a Unix socket");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let proxy = dir.path().join("engine.sock");
    let stop = CancellationToken::new();
    start_proxy(&proxy, engine_socket, stop.clone());
    let flaky = Engine::connect(Some(&format!("unix://{}", proxy.display())))
        .await
        .unwrap();
    let runs = tempfile::tempdir().unwrap();
    let mut options = gha_backend_docker::DockerBackendOptions::new(runs.path());
    options
        .platforms
        .add_flag(&format!("ubuntu-latest={}", common::BASE_IMAGE))
        .unwrap();
    let backend = DockerBackend::with_engine(flaky, options);
    let (spec, _src) = common::spec("gone");
    let job = backend.start_job(&spec).await.unwrap();

    let killer = {
        let stop = stop.clone();
        let proxy = proxy.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(700)).await;
            stop.cancel();
            let _ = std::fs::remove_file(proxy);
        })
    };
    let t = Instant::now();
    let result = job
        .exec(
            &Exec::new(["sleep", "120"]),
            &NullLogSink,
            CancellationToken::new(),
        )
        .await;
    killer.await.unwrap();
    let err = result
        .expect_err("the step must fail when the engine goes away")
        .to_string();
    assert!(
        err.contains("stopped answering") || err.contains("did not answer"),
        "{err}"
    );
    assert!(
        err.contains("engine.sock"),
        "the message names the engine: {err}"
    );
    assert!(
        t.elapsed() < Duration::from_secs(30),
        "took {:?}",
        t.elapsed()
    );
    // Stopping does not hang either; it reports that the engine is gone.
    let stopped = tokio::time::timeout(Duration::from_secs(30), job.stop()).await;
    assert!(stopped.expect("stop() hung").is_err());

    // What the job left behind is found by label and removed.
    let report = prune(
        &engine,
        &PruneFilter {
            instance: Some(backend.instance().to_string()),
            ..PruneFilter::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(report.containers.len(), 1, "{report:?}");
    common::assert_nothing_left(&engine, backend.instance()).await;
}

#[tokio::test]
async fn prune_removes_what_reuse_kept() {
    let engine = engine_or_skip!();
    common::ensure_http_image(&engine).await;
    let (backend, _runs) = common::backend_with(&engine, |o| o.reuse = true);
    let (mut spec, _src) = common::spec("kept");
    spec.run_id = format!("prune-test-{}", std::process::id());
    let web = gha_exec::ContainerSpec::new(common::HTTP_IMAGE);
    spec.services.push(gha_exec::ServiceSpec {
        id: "svc".into(),
        container: web,
    });
    let job = backend.start_job(&spec).await.unwrap();
    job.stop().await.unwrap();
    let kept = common::leftovers(&engine, backend.instance()).await;
    assert_eq!(
        kept.len(),
        3,
        "job container, service and network are kept: {kept:?}"
    );

    let report = prune(
        &engine,
        &PruneFilter {
            run_id: Some(spec.run_id.clone()),
            ..PruneFilter::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(report.containers.len(), 2, "{report:?}");
    assert_eq!(report.networks.len(), 1, "{report:?}");
    common::assert_nothing_left(&engine, backend.instance()).await;
}
