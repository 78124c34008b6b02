//! The job container, what is Docker's own: the runner paths and the image's tools, files outside
//! the bind mounts, cleanup of dropped jobs, privileges, the step launcher. The JobEnv contract
//! itself (exit codes, streams, env, working directory, files, cancellation, stop...) is checked
//! by the conformance suite in `tests/conformance.rs`.

mod common;

use gha_exec::{BackendError, CancellationToken, Exec, OutputStream, VecLogSink};

#[tokio::test]
async fn the_job_runs_at_the_runner_paths_with_the_image_tools() {
    let engine = engine_or_skip!();
    let (backend, _runs) = common::backend(&engine);
    let (spec, _src) = common::spec("paths");
    let job = common::start(&backend, &spec).await;
    assert_eq!(job.paths().workspace, "/home/runner/work/demo/demo");
    let sink = VecLogSink::default();
    let st = job
        .exec(
            &Exec::new([
                "bash",
                "-c",
                "python --version; node -e 'console.log(1+1)'; cat hello.txt",
            ]),
            &sink,
            CancellationToken::new(),
        )
        .await
        .unwrap();
    assert!(st.success(), "{:?}", sink.lines());
    let text: Vec<String> = sink.lines().into_iter().map(|(_, l)| l).collect();
    assert!(text.iter().any(|l| l.starts_with("Python 3")), "{text:?}");
    assert!(text.contains(&"2".to_string()) && text.contains(&"hello from the repo".to_string()));
    job.stop().await.unwrap();
    common::assert_nothing_left(&engine, backend.instance()).await;
}

#[tokio::test]
async fn files_outside_the_mounts_go_through_the_archive_api() {
    let engine = engine_or_skip!();
    let (backend, _runs) = common::backend(&engine);
    let (spec, _src) = common::spec("files");
    let job = common::start(&backend, &spec).await;

    // Outside every mount: the archive API, parents created.
    job.write_file("/opt/gha-test/deep/x.txt", b"archived")
        .await
        .unwrap();
    assert_eq!(
        job.read_file("/opt/gha-test/deep/x.txt").await.unwrap(),
        b"archived"
    );
    let sink = VecLogSink::default();
    job.exec(
        &Exec::new(["cat", "/opt/gha-test/deep/x.txt"]),
        &sink,
        CancellationToken::new(),
    )
    .await
    .unwrap();
    assert_eq!(
        sink.lines(),
        [(OutputStream::Stdout, "archived".to_string())]
    );
    // /tmp keeps its sticky mode when a file is written into it.
    job.write_file("/tmp/y", b"y").await.unwrap();
    let sink = VecLogSink::default();
    job.exec(
        &Exec::new(["stat", "-c", "%a", "/tmp"]),
        &sink,
        CancellationToken::new(),
    )
    .await
    .unwrap();
    assert_eq!(sink.lines(), [(OutputStream::Stdout, "1777".to_string())]);

    assert!(matches!(
        job.read_file("/etc/nope").await,
        Err(BackendError::NotFound(_))
    ));
    job.stop().await.unwrap();
    common::assert_nothing_left(&engine, backend.instance()).await;
}

#[tokio::test]
async fn stop_and_a_dropped_job_leave_nothing() {
    let engine = engine_or_skip!();
    let (backend, runs) = common::backend(&engine);
    let (spec, _src) = common::spec("stop");
    let job = common::start(&backend, &spec).await;
    job.stop().await.unwrap();
    backend.wait_for_removals().unwrap();
    assert_eq!(
        std::fs::read_dir(runs.path()).unwrap().count(),
        0,
        "host directories left"
    );
    common::assert_nothing_left(&engine, backend.instance()).await;

    // Dropped without stop() (a panic in the executor): the containers still go.
    let job = common::start(&backend, &spec).await;
    assert!(
        !common::leftovers(&engine, backend.instance())
            .await
            .is_empty()
    );
    drop(job);
    common::assert_nothing_left(&engine, backend.instance()).await;
}

#[tokio::test]
async fn nothing_privileged_by_default_and_tracer_requirements_are_honoured() {
    let engine = engine_or_skip!();
    let (backend, _runs) = common::backend(&engine);
    let (mut spec, _src) = common::spec("caps");
    let job = common::start(&backend, &spec).await;
    let plain = security_status(job.as_ref()).await;
    job.stop().await.unwrap();
    let cap_eff = |lines: &[String]| {
        let hex = lines
            .iter()
            .find_map(|l| l.strip_prefix("CapEff:"))
            .unwrap()
            .trim()
            .to_string();
        u64::from_str_radix(&hex, 16).unwrap()
    };
    const SYS_PTRACE: u64 = 1 << 19;
    assert_eq!(cap_eff(&plain) & SYS_PTRACE, 0, "{plain:?}");
    assert!(plain.contains(&"Seccomp:\t2".to_string()), "{plain:?}");
    assert!(plain.contains(&"no-socket".to_string()), "{plain:?}");

    let tools = tempfile::tempdir().unwrap();
    std::fs::write(tools.path().join("tool.txt"), "the tool\n").unwrap();
    spec.tracer_requirements
        .capabilities
        .push("SYS_PTRACE".into());
    spec.tracer_requirements.seccomp_unconfined = true;
    spec.tracer_requirements.mounts.push(gha_exec::Mount {
        source: tools.path().to_path_buf(),
        target: "/opt/tools".into(),
        read_only: true,
    });
    let job = common::start(&backend, &spec).await;
    let traced = security_status(job.as_ref()).await;
    job.stop().await.unwrap();
    assert_ne!(cap_eff(&traced) & SYS_PTRACE, 0, "{traced:?}");
    assert!(traced.contains(&"Seccomp:\t0".to_string()), "{traced:?}");
    assert!(traced.contains(&"the tool".to_string()), "{traced:?}");
    assert!(traced.contains(&"read-only".to_string()), "{traced:?}");
    common::assert_nothing_left(&engine, backend.instance()).await;
}

#[tokio::test]
async fn an_image_that_cannot_be_had_names_the_image_and_the_flag() {
    let engine = engine_or_skip!();
    // The defaults point at act's images, which no registry here serves.
    let (backend, _runs) = common::backend_with(&engine, |o| {
        o.platforms = gha_backend_docker::Platforms::with_defaults();
    });
    let (spec, _src) = common::spec("noimage");
    let err = common::start_err(&backend, &spec).await.to_string();
    assert!(err.contains("catthehacker/ubuntu:act-latest"), "{err}");
    assert!(err.contains("-P ubuntu-latest=IMAGE"), "{err}");

    let (mut spec, _src) = common::spec("nolabel");
    spec.runs_on = vec!["windows-latest".into()];
    let err = common::start_err(&backend, &spec).await.to_string();
    assert!(err.contains("-P windows-latest=IMAGE"), "{err}");
    common::assert_nothing_left(&engine, backend.instance()).await;
}

/// Capabilities, seccomp mode, Docker socket and tool mount as seen by a step.
async fn security_status(job: &dyn gha_exec::JobEnv) -> Vec<String> {
    let exec = Exec::new([
        "sh",
        "-c",
        "grep -E '^(CapEff|Seccomp):' /proc/self/status; test -e /var/run/docker.sock && echo socket || echo no-socket; cat /opt/tools/tool.txt 2>/dev/null; touch /opt/tools/w 2>/dev/null && echo writable || echo read-only",
    ]);
    let sink = VecLogSink::default();
    job.exec(&exec, &sink, CancellationToken::new())
        .await
        .unwrap();
    sink.lines().into_iter().map(|(_, l)| l).collect()
}

#[tokio::test]
async fn steps_go_through_the_launcher_when_the_image_can_run_it() {
    let engine = engine_or_skip!();
    for (launcher, expected) in [(true, "launcher"), (false, "exec")] {
        let (backend, _runs) = common::backend_with(&engine, |o| o.step_launcher = launcher);
        let (spec, _src) = common::spec("which-path");
        let job = common::start(&backend, &spec).await;
        // A launched step's parent is the launcher's wrapper script; an exec has no parent
        // in the container's pid namespace.
        let sink = VecLogSink::default();
        let st = job
            .exec(
                &Exec::new([
                    "sh",
                    "-c",
                    "grep -q __gha_launch /proc/$PPID/cmdline 2>/dev/null && echo launcher || echo exec",
                ]),
                &sink,
                CancellationToken::new(),
            )
            .await
            .unwrap();
        assert!(st.success());
        assert_eq!(sink.lines(), [(OutputStream::Stdout, expected.to_string())]);
        job.stop().await.unwrap();
        common::assert_nothing_left(&engine, backend.instance()).await;
    }
}

#[tokio::test]
async fn a_step_that_kills_the_launcher_fails_clearly_and_later_steps_still_run() {
    let engine = engine_or_skip!();
    let (backend, _runs) = common::backend(&engine);
    let (spec, _src) = common::spec("kill-launcher");
    let job = common::start(&backend, &spec).await;
    let sink = VecLogSink::default();
    // The launcher is the `sh -c` whose arguments name gha-launcher.
    let result = job
        .exec(
            &Exec::new([
                "bash",
                "-c",
                "for p in /proc/[0-9]*; do [ ${p#/proc/} != $$ ] && grep -q gha-launcher $p/cmdline 2>/dev/null && kill -9 ${p#/proc/}; done; sleep 1",
            ]),
            &sink,
            CancellationToken::new(),
        )
        .await;
    // Either the step finished before the launcher's end was noticed, or it failed naming it.
    match result {
        Ok(st) => assert!(st.success(), "{st:?} {:?}", sink.lines()),
        Err(e) => assert!(e.to_string().contains("step launcher"), "{e}"),
    }
    let sink = VecLogSink::default();
    let st = job
        .exec(
            &Exec::new(["sh", "-c", "exit 5"]),
            &sink,
            CancellationToken::new(),
        )
        .await
        .unwrap();
    assert_eq!(st.code, Some(5));
    job.stop().await.unwrap();
    common::assert_nothing_left(&engine, backend.instance()).await;
}

#[test]
fn a_panic_while_a_job_runs_still_removes_its_containers() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let Some(engine) = runtime.block_on(common::engine()) else {
        return;
    };
    let (tx, rx) = std::sync::mpsc::channel();
    let in_thread = engine.clone();
    let panicked = std::thread::spawn(move || {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        runtime.block_on(async {
            let (backend, _runs) = common::backend(&in_thread);
            let (spec, _src) = common::spec("panics");
            let _job = common::start(&backend, &spec).await;
            tx.send(backend.instance().to_string()).unwrap();
            panic!("the executor panics while the job runs");
        })
    })
    .join();
    assert!(panicked.is_err());
    let instance = rx.recv().unwrap();
    runtime.block_on(common::assert_nothing_left(&engine, &instance));
}
