//! `services:` on a per-job network, reachable by id, with health-check waiting.

mod common;

use std::time::{Duration, Instant};

use gha_exec::{Backend, CancellationToken, ContainerSpec, Exec, ServiceSpec, VecLogSink};

fn http_service(id: &str, options: &str) -> ServiceSpec {
    let mut c = ContainerSpec::new(common::HTTP_IMAGE);
    c.ports.push("8000".into());
    c.options = Some(options.into());
    ServiceSpec {
        id: id.into(),
        container: c,
    }
}

#[tokio::test]
async fn a_service_is_reached_by_its_id_after_its_health_check_passes() {
    let engine = engine_or_skip!();
    common::ensure_http_image(&engine).await;
    let (backend, _runs) = common::backend(&engine);
    let (mut spec, _src) = common::spec("svc");
    // The server listens only 2 s after start: the job must wait for the health check.
    spec.services.push(http_service(
        "web",
        "--health-cmd \"curl -sf http://localhost:8000/ >/dev/null\" --health-interval 200ms --health-retries 50",
    ));
    let t = Instant::now();
    let job = common::start(&backend, &spec).await;
    assert!(
        t.elapsed() >= Duration::from_millis(1500),
        "did not wait: {:?}",
        t.elapsed()
    );

    // No retry: the first request must work.
    let sink = VecLogSink::default();
    let st = job
        .exec(
            &Exec::new([
                "bash",
                "-c",
                "curl -sf -o /dev/null -w '%{http_code}\\n' http://web:8000/",
            ]),
            &sink,
            CancellationToken::new(),
        )
        .await
        .unwrap();
    assert!(st.success(), "{:?}", sink.lines());
    assert_eq!(sink.lines()[0].1, "200");

    // job.services.web: id, network, the published port (reachable from this machine too).
    let info = job.container_info();
    assert!(info.container.is_none(), "not a container job");
    let web = &info.services[0];
    assert_eq!(web.name, "web");
    assert!(!web.container.id.is_empty() && !web.container.network.is_empty());
    let (port, host_port) = &web.ports[0];
    assert_eq!(port, "8000");
    let host_port: u16 = host_port.parse().unwrap();
    assert!(std::net::TcpStream::connect(("127.0.0.1", host_port)).is_ok());

    job.stop().await.unwrap();
    common::assert_nothing_left(&engine, backend.instance()).await;
}

#[tokio::test]
async fn an_unhealthy_service_fails_the_start_naming_it_and_leaves_nothing() {
    let engine = engine_or_skip!();
    common::ensure_http_image(&engine).await;
    let (backend, runs) = common::backend(&engine);
    let (mut spec, _src) = common::spec("sick");
    spec.services.push(http_service(
        "db",
        "--health-cmd 'echo not ready; exit 1' --health-interval 100ms --health-retries 2",
    ));
    let err = common::start_err(&backend, &spec).await.to_string();
    assert!(err.contains("service `db` is unhealthy"), "{err}");
    assert!(err.contains("not ready"), "{err}");
    common::assert_nothing_left(&engine, backend.instance()).await;
    assert_eq!(
        std::fs::read_dir(runs.path()).unwrap().count(),
        0,
        "host directories left"
    );
}

#[tokio::test]
async fn a_service_that_exits_fails_the_start() {
    let engine = engine_or_skip!();
    let (backend, _runs) = common::backend(&engine);
    let (mut spec, _src) = common::spec("crash");
    let mut c = ContainerSpec::new(common::BASE_IMAGE);
    c.options =
        Some("--entrypoint env -e MARKER=visible --health-cmd true --health-interval 1s".into());
    spec.services.push(ServiceSpec {
        id: "broken".into(),
        container: c,
    });
    let err = common::start_err(&backend, &spec).await.to_string();
    // `env` prints its environment and exits: the error shows the exit code and the output.
    assert!(
        err.contains("service `broken` stopped while starting (exit code 0)"),
        "{err}"
    );
    assert!(err.contains("MARKER=visible"), "{err}");
    common::assert_nothing_left(&engine, backend.instance()).await;
}

#[tokio::test]
async fn bad_service_options_are_rejected_before_anything_is_created() {
    let engine = engine_or_skip!();
    let (backend, _runs) = common::backend(&engine);
    let (mut spec, _src) = common::spec("badopts");
    let mut c = ContainerSpec::new(common::BASE_IMAGE);
    c.options = Some("--frobnicate".into());
    spec.services.push(ServiceSpec {
        id: "x".into(),
        container: c,
    });
    let err = common::start_err(&backend, &spec).await.to_string();
    assert!(err.contains("--frobnicate"), "{err}");
    common::assert_nothing_left(&engine, backend.instance()).await;
}

#[tokio::test]
async fn an_interrupt_while_waiting_for_a_service_leaves_nothing() {
    let engine = engine_or_skip!();
    common::ensure_http_image(&engine).await;
    let (backend, _runs) = common::backend(&engine);
    let (mut spec, _src) = common::spec("interrupted");
    // Never healthy within the test's patience: the start is abandoned half-way, as when
    // Ctrl-C drops the executor's future.
    spec.services.push(http_service(
        "slow",
        "--health-cmd false --health-interval 30s --health-retries 5",
    ));
    let started = tokio::time::timeout(Duration::from_secs(2), backend.start_job(&spec)).await;
    assert!(started.is_err(), "the start should still be waiting");
    common::assert_nothing_left(&engine, backend.instance()).await;
}
