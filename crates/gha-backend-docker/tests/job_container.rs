//! The job container: steps as execs, streams, exit codes, env, working directory, files,
//! cancellation, cleanup.

mod common;

/// Runs a test body once with the step launcher and once with one Docker exec per step.
macro_rules! both_paths {
    ($name:ident) => {
        mod $name {
            #[tokio::test]
            async fn launcher() {
                super::$name(true).await
            }
            #[tokio::test]
            async fn plain_exec() {
                super::$name(false).await
            }
        }
    };
}

use std::time::{Duration, Instant};

use gha_exec::{
    BackendError, CancellationToken, Exec, KillPolicy, NullLogSink, OutputStream, VecLogSink,
};

both_paths!(steps_run_as_execs_with_separate_streams_exact_codes_env_and_workdir);
async fn steps_run_as_execs_with_separate_streams_exact_codes_env_and_workdir(launcher: bool) {
    let engine = engine_or_skip!();
    let (backend, _runs) = common::backend_with(&engine, |o| o.step_launcher = launcher);
    let (spec, _src) = common::spec("streams");
    let job = common::start(&backend, &spec).await;
    assert_eq!(job.paths().workspace, "/home/runner/work/demo/demo");

    let sink = VecLogSink::default();
    let status = job
        .exec(
            &Exec::new([
                "bash",
                "-c",
                "echo out; echo err >&2; echo \"$GREETING\"; pwd; exit 42",
            ])
            .env("GREETING", "hi there"),
            &sink,
            CancellationToken::new(),
        )
        .await
        .unwrap();
    assert_eq!(status.code, Some(42));
    assert!(!status.cancelled);
    let lines = sink.lines();
    let of = |s: OutputStream| -> Vec<String> {
        lines
            .iter()
            .filter(|(st, _)| *st == s)
            .map(|(_, l)| l.clone())
            .collect()
    };
    assert_eq!(
        of(OutputStream::Stdout),
        ["out", "hi there", "/home/runner/work/demo/demo"]
    );
    assert_eq!(of(OutputStream::Stderr), ["err"]);

    for code in [0, 1, 2, 127, 255] {
        let st = job
            .exec(
                &Exec::new(["sh", "-c", &format!("exit {code}")]),
                &NullLogSink,
                CancellationToken::new(),
            )
            .await
            .unwrap();
        assert_eq!(st.code, Some(code));
    }

    let sink = VecLogSink::default();
    job.exec(
        &Exec::new(["pwd"]).working_dir("/tmp"),
        &sink,
        CancellationToken::new(),
    )
    .await
    .unwrap();
    assert_eq!(sink.lines(), [(OutputStream::Stdout, "/tmp".to_string())]);

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

both_paths!(files_go_through_the_mounts_and_the_archive_api);
async fn files_go_through_the_mounts_and_the_archive_api(launcher: bool) {
    let engine = engine_or_skip!();
    let (backend, _runs) = common::backend_with(&engine, |o| o.step_launcher = launcher);
    let (spec, _src) = common::spec("files");
    let job = common::start(&backend, &spec).await;

    // Under the temp mount: written on the host side, visible inside.
    let script = format!("{}/steps/s1.sh", job.paths().temp);
    job.write_file(&script, b"echo from the script \"$@\"\n")
        .await
        .unwrap();
    let sink = VecLogSink::default();
    let st = job
        .exec(
            &Exec::new(["bash", script.as_str(), "x"]),
            &sink,
            CancellationToken::new(),
        )
        .await
        .unwrap();
    assert!(st.success());
    assert_eq!(
        sink.lines(),
        [(OutputStream::Stdout, "from the script x".to_string())]
    );

    // Written inside, read from outside.
    let out = format!("{}/out.txt", job.paths().workspace);
    job.exec(
        &Exec::new(["sh", "-c", &format!("printf 'a\\nb' > {out}")]),
        &NullLogSink,
        CancellationToken::new(),
    )
    .await
    .unwrap();
    assert_eq!(job.read_file(&out).await.unwrap(), b"a\nb");

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

    for missing in [
        format!("{}/nope", job.paths().temp),
        "/etc/nope".to_string(),
    ] {
        assert!(
            matches!(
                job.read_file(&missing).await,
                Err(BackendError::NotFound(_))
            ),
            "{missing}"
        );
    }
    job.stop().await.unwrap();
    common::assert_nothing_left(&engine, backend.instance()).await;
}

both_paths!(missing_program_and_working_directory_are_not_found);
async fn missing_program_and_working_directory_are_not_found(launcher: bool) {
    let engine = engine_or_skip!();
    let (backend, _runs) = common::backend_with(&engine, |o| o.step_launcher = launcher);
    let (spec, _src) = common::spec("missing");
    let job = common::start(&backend, &spec).await;
    let err = job
        .exec(
            &Exec::new(["no-such-program-xyz"]),
            &NullLogSink,
            CancellationToken::new(),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&err, BackendError::NotFound(m) if m.contains("no-such-program-xyz")),
        "{err}"
    );
    let err = job
        .exec(
            &Exec::new(["true"]).working_dir("/no/such/dir"),
            &NullLogSink,
            CancellationToken::new(),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&err, BackendError::NotFound(m) if m.contains("/no/such/dir")),
        "{err}"
    );
    job.stop().await.unwrap();
    common::assert_nothing_left(&engine, backend.instance()).await;
}

both_paths!(cancellation_escalates_sigint_sigterm_sigkill_on_the_process_group);
async fn cancellation_escalates_sigint_sigterm_sigkill_on_the_process_group(launcher: bool) {
    let engine = engine_or_skip!();
    let (backend, _runs) = common::backend_with(&engine, |o| o.step_launcher = launcher);
    let (spec, _src) = common::spec("cancel");
    let job = common::start(&backend, &spec).await;

    // A well-behaved step stops at SIGINT.
    let cancel = CancellationToken::new();
    let c = cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        c.cancel();
    });
    let st = job
        .exec(&Exec::new(["sleep", "60"]), &NullLogSink, cancel)
        .await
        .unwrap();
    assert!(st.cancelled);
    assert_eq!(st.signal, Some(libc::SIGINT), "{st:?}");

    // One that ignores SIGINT and SIGTERM, with a child in its group, is SIGKILLed.
    let pidfile = format!("{}/child.pid", job.paths().temp);
    let script = format!(
        "trap '' INT TERM; sleep 300 & echo $! > {pidfile}; echo started; while true; do sleep 0.05; done"
    );
    let mut exec = Exec::new(["bash", "-c", script.as_str()]);
    exec.kill_policy = KillPolicy {
        after_sigint: Duration::from_millis(200),
        after_sigterm: Duration::from_millis(200),
    };
    let cancel = CancellationToken::new();
    let c = cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(500)).await;
        c.cancel();
    });
    let t = Instant::now();
    let st = job.exec(&exec, &NullLogSink, cancel).await.unwrap();
    assert!(st.cancelled);
    assert_eq!(st.signal, Some(libc::SIGKILL), "{st:?}");
    assert!(t.elapsed() >= Duration::from_millis(850));
    let child = String::from_utf8(job.read_file(&pidfile).await.unwrap()).unwrap();
    let st = job
        .exec(
            &Exec::new(["sh", "-c", &format!("kill -0 {}", child.trim())]),
            &NullLogSink,
            CancellationToken::new(),
        )
        .await
        .unwrap();
    assert_eq!(st.code, Some(1), "the step's child survived");

    job.stop().await.unwrap();
    common::assert_nothing_left(&engine, backend.instance()).await;
}

both_paths!(a_background_process_does_not_hold_the_step_open);
async fn a_background_process_does_not_hold_the_step_open(launcher: bool) {
    let engine = engine_or_skip!();
    let (backend, _runs) = common::backend_with(&engine, |o| o.step_launcher = launcher);
    let (spec, _src) = common::spec("background");
    let job = common::start(&backend, &spec).await;
    let t = Instant::now();
    let sink = VecLogSink::default();
    let st = job
        .exec(
            &Exec::new(["sh", "-c", "sleep 30 & echo done"]),
            &sink,
            CancellationToken::new(),
        )
        .await
        .unwrap();
    assert!(st.success());
    assert_eq!(sink.lines(), [(OutputStream::Stdout, "done".to_string())]);
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
    job.stop().await.unwrap();
    common::assert_nothing_left(&engine, backend.instance()).await;
}

#[tokio::test]
async fn stop_is_idempotent_and_a_dropped_job_is_cleaned_up_too() {
    let engine = engine_or_skip!();
    let (backend, runs) = common::backend(&engine);
    let (spec, _src) = common::spec("stop");
    let job = common::start(&backend, &spec).await;
    job.stop().await.unwrap();
    job.stop().await.unwrap();
    assert!(
        job.exec(&Exec::new(["true"]), &NullLogSink, CancellationToken::new())
            .await
            .is_err()
    );
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

both_paths!(concurrent_steps_keep_their_output_and_exit_codes_apart);
async fn concurrent_steps_keep_their_output_and_exit_codes_apart(launcher: bool) {
    let engine = engine_or_skip!();
    let (backend, _runs) = common::backend_with(&engine, |o| o.step_launcher = launcher);
    let (spec, _src) = common::spec("parallel");
    let job = common::start(&backend, &spec).await;
    let runs = (0..6).map(|i| {
        let job = &job;
        async move {
            let sink = VecLogSink::default();
            let script = format!(
                "for n in 1 2 3; do echo step{i}-$n; echo err{i} >&2; sleep 0.05; done; exit {i}"
            );
            let st = job
                .exec(
                    &Exec::new(["bash", "-c", script.as_str()]),
                    &sink,
                    CancellationToken::new(),
                )
                .await
                .unwrap();
            (i, st, sink.lines())
        }
    });
    for (i, st, lines) in futures_util::future::join_all(runs).await {
        assert_eq!(st.code, Some(i));
        let out: Vec<String> = lines
            .iter()
            .filter(|(s, _)| *s == OutputStream::Stdout)
            .map(|(_, l)| l.clone())
            .collect();
        assert_eq!(out, [1, 2, 3].map(|n| format!("step{i}-{n}")));
        assert_eq!(lines.len(), 6, "{lines:?}");
    }
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
