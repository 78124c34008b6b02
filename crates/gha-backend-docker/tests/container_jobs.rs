//! `container:` jobs: the image, env, volumes and options of `jobs.<id>.container`, at GitHub's
//! `/__w` paths.

mod common;

use gha_exec::{CancellationToken, ContainerSpec, Exec, OutputStream, VecLogSink};

#[tokio::test]
async fn a_container_job_runs_in_its_image_at_the_runner_paths() {
    let engine = engine_or_skip!();
    let (backend, _runs) = common::backend(&engine);
    let (mut spec, _src) = common::spec("cjob");
    spec.runs_on = vec!["self-hosted".into()]; // unmapped: the container decides the image
    let mut c = ContainerSpec::new(common::BASE_IMAGE);
    c.env.push(("FROM_CONTAINER_ENV".into(), "yes".into()));
    c.volumes.push("/data".into());
    c.options = Some("--hostname builder -e FROM_OPTIONS=also".into());
    spec.container = Some(c);
    let job = common::start(&backend, &spec).await;
    let p = job.paths().clone();
    assert_eq!(p.workspace, "/__w/demo/demo");
    assert_eq!(p.temp, "/__w/_temp");
    assert_eq!(p.tool_cache, "/__t");
    assert_eq!(p.home, "/github/home");

    let sink = VecLogSink::default();
    let st = job
        .exec(
            &Exec::new([
                "bash",
                "-c",
                "pwd; cat hello.txt; echo $FROM_CONTAINER_ENV $FROM_OPTIONS; hostname; test -d /data && test -d /__w/_temp && test -d /github/home && echo mounts; echo $HOME",
            ]),
            &sink,
            CancellationToken::new(),
        )
        .await
        .unwrap();
    assert!(st.success(), "{:?}", sink.lines());
    let out: Vec<String> = sink
        .lines()
        .into_iter()
        .filter(|(s, _)| *s == OutputStream::Stdout)
        .map(|(_, l)| l)
        .collect();
    assert_eq!(
        out,
        [
            "/__w/demo/demo",
            "hello from the repo",
            "yes also",
            "builder",
            "mounts",
            "/github/home"
        ]
    );
    let info = job.container_info();
    assert!(!info.container.expect("job.container is set").id.is_empty());
    // The anonymous volume carries our labels while the job runs.
    let left = common::leftovers(&engine, backend.instance()).await;
    assert_eq!(
        left.iter().filter(|n| n.starts_with("volume ")).count(),
        1,
        "{left:?}"
    );

    job.stop().await.unwrap();
    common::assert_nothing_left(&engine, backend.instance()).await;
}

#[tokio::test]
async fn a_missing_container_image_is_a_clear_error() {
    let engine = engine_or_skip!();
    let (backend, _runs) = common::backend(&engine);
    let (mut spec, _src) = common::spec("cmissing");
    spec.container = Some(ContainerSpec::new("gha-runner/does-not-exist:1"));
    let err = common::start_err(&backend, &spec).await.to_string();
    assert!(err.contains("gha-runner/does-not-exist:1"), "{err}");
    assert!(err.contains("could not be pulled"), "{err}");
    common::assert_nothing_left(&engine, backend.instance()).await;
}
