//! A "remote" engine: the local engine behind a TCP proxy on 127.0.0.1, so that the backend
//! sees `tcp://...` and cannot bind-mount this machine's directories. The job's tree lives in a
//! volume, filled through the archive API. Skipped without an engine unless GHA_REQUIRE_DOCKER=1.

mod common;

use std::sync::OnceLock;

use bollard::query_parameters::ListVolumesOptionsBuilder;
use gha_backend_docker::{DockerBackend, Engine, labels};
use gha_exec::action_container::{ActionContainer, ActionImage};
use gha_exec::conformance::Target;
use gha_exec::{
    CancellationToken, ContainerSpec, Exec, JobEnv, NullLogSink, ServiceSpec, VecLogSink,
};

/// `tcp://127.0.0.1:PORT` forwarding to the local engine's socket. The proxy runs on a thread
/// and runtime of its own (for the whole test binary), so that it keeps serving while a test's
/// runtime blocks (cleanup in `Drop`).
fn proxy_for(engine: &Engine) -> Option<String> {
    static PROXY: OnceLock<Option<String>> = OnceLock::new();
    PROXY
        .get_or_init(|| {
            let socket = engine.endpoint().strip_prefix("unix://")?.to_string();
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let port = listener.local_addr().unwrap().port();
            listener.set_nonblocking(true).unwrap();
            std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                    .unwrap();
                runtime.block_on(async move {
                    let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                    while let Ok((mut client, _)) = listener.accept().await {
                        let socket = socket.clone();
                        tokio::spawn(async move {
                            if let Ok(mut upstream) = tokio::net::UnixStream::connect(socket).await
                            {
                                let _ =
                                    tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
                            }
                        });
                    }
                });
            });
            Some(format!("tcp://127.0.0.1:{port}"))
        })
        .clone()
}

/// The engine through the proxy, or `None` (skip) when the local engine is not on a socket.
async fn remote_engine(local: &Engine) -> Option<Engine> {
    let Some(address) = proxy_for(local) else {
        eprintln!("skipping: the engine is not on a Unix socket");
        return None;
    };
    let engine = Engine::connect(Some(&address)).await.unwrap();
    assert!(!engine.is_local(), "{address} counts as local");
    Some(engine)
}

macro_rules! remote_or_skip {
    () => {{
        let local = engine_or_skip!();
        match remote_engine(&local).await {
            Some(remote) => (local, remote),
            None => return,
        }
    }};
}

async fn job_volumes(engine: &Engine, instance: &str) -> Vec<String> {
    let filters = std::collections::HashMap::from([(
        "label".to_string(),
        vec![format!("{}={instance}", labels::INSTANCE)],
    )]);
    let list = engine
        .docker()
        .list_volumes(Some(
            ListVolumesOptionsBuilder::default()
                .filters(&filters)
                .build(),
        ))
        .await
        .unwrap();
    list.volumes
        .unwrap_or_default()
        .into_iter()
        .map(|v| v.name)
        .collect()
}

/// The id of the job container of backend instance `instance`.
async fn job_container(engine: &Engine, instance: &str) -> String {
    let filters = std::collections::HashMap::from([(
        "label".to_string(),
        vec![
            format!("{}={instance}", labels::INSTANCE),
            format!("{}=job", labels::ROLE),
        ],
    )]);
    let list = engine
        .docker()
        .list_containers(Some(
            bollard::query_parameters::ListContainersOptionsBuilder::default()
                .filters(&filters)
                .build(),
        ))
        .await
        .unwrap();
    assert_eq!(list.len(), 1, "{list:?}");
    list[0].id.clone().unwrap()
}

async fn run(job: &dyn JobEnv, script: &str) -> Vec<String> {
    let sink = VecLogSink::default();
    let status = job
        .exec(
            &Exec::new(["bash", "-c", script]),
            &sink,
            CancellationToken::new(),
        )
        .await
        .unwrap();
    assert!(status.success(), "{script}: {status} {:?}", sink.lines());
    sink.lines().into_iter().map(|(_, l)| l).collect()
}

#[tokio::test]
async fn a_job_on_a_remote_engine_has_its_files_in_a_volume_and_leaves_nothing() {
    let (local, remote) = remote_or_skip!();
    common::ensure_http_image(&local).await;
    let (backend, runs) = common::backend(&remote);
    let (mut spec, src) = common::spec("remote");
    std::fs::create_dir_all(src.path().join("sub")).unwrap();
    std::fs::write(src.path().join("sub/data.txt"), "nested\n").unwrap();
    let mut web = ContainerSpec::new(common::HTTP_IMAGE);
    web.options = Some(
        "--health-cmd \"curl -sf http://localhost:8000/ >/dev/null\" --health-interval 200ms --health-retries 50"
            .into(),
    );
    spec.services.push(ServiceSpec {
        id: "web".into(),
        container: web,
    });
    let job = common::start(&backend, &spec).await;
    let paths = job.paths().clone();
    assert!(
        paths.host_workspace.is_none(),
        "a remote workspace is not visible here"
    );

    // No bind mount of this machine's directories: only the job's volume, at the work tree.
    let inspected = local
        .docker()
        .inspect_container(&job_container(&local, backend.instance()).await, None)
        .await
        .unwrap();
    let mounts = inspected.mounts.unwrap_or_default();
    assert_eq!(mounts.len(), 1, "{mounts:?}");
    assert_eq!(mounts[0].typ.as_deref(), Some("volume"));
    assert_eq!(mounts[0].destination.as_deref(), Some("/home/runner/work"));
    let volumes = job_volumes(&local, backend.instance()).await;
    assert_eq!(volumes.len(), 1, "{volumes:?}");
    assert_eq!(mounts[0].name.as_ref(), Some(&volumes[0]));

    // The repository's files were copied in, at the workspace, which is the working directory.
    let lines = run(&*job, "pwd; cat hello.txt sub/data.txt").await;
    assert_eq!(
        lines,
        [paths.workspace.as_str(), "hello from the repo", "nested"]
    );
    // Temp, tool cache and home exist.
    run(
        &*job,
        &format!(
            "test -d {} && test -d {} && test -d \"$HOME\" && test \"$HOME\" = {}",
            paths.temp, paths.tool_cache, paths.home
        ),
    )
    .await;

    // Files a step writes are read through the archive API, and the other way round.
    run(&*job, "echo made in a step > out.txt").await;
    let out = job
        .read_file(&format!("{}/out.txt", paths.workspace))
        .await
        .unwrap();
    assert_eq!(out, b"made in a step\n");
    job.write_file(&format!("{}/new/dir/in.txt", paths.temp), b"from here\n")
        .await
        .unwrap();
    let lines = run(&*job, &format!("cat {}/new/dir/in.txt", paths.temp)).await;
    assert_eq!(lines, ["from here"]);
    assert!(matches!(
        job.read_file(&format!("{}/absent", paths.workspace)).await,
        Err(gha_exec::BackendError::NotFound(_))
    ));

    // GITHUB_ENV / GITHUB_OUTPUT as the executor uses them: files made empty, appended to by a
    // step, read back.
    let github_env = format!("{}/_runner_file_commands/set_env_1", paths.temp);
    let github_output = format!("{}/_runner_file_commands/set_output_1", paths.temp);
    job.write_file(&github_env, b"").await.unwrap();
    job.write_file(&github_output, b"").await.unwrap();
    let mut exec = Exec::new([
        "bash",
        "-c",
        "echo GREETING=hi >> \"$GITHUB_ENV\"; echo answer=42 >> \"$GITHUB_OUTPUT\"",
    ]);
    exec.env.push(("GITHUB_ENV".into(), github_env.clone()));
    exec.env
        .push(("GITHUB_OUTPUT".into(), github_output.clone()));
    let status = job
        .exec(&exec, &NullLogSink, CancellationToken::new())
        .await
        .unwrap();
    assert!(status.success());
    assert_eq!(job.read_file(&github_env).await.unwrap(), b"GREETING=hi\n");
    assert_eq!(job.read_file(&github_output).await.unwrap(), b"answer=42\n");

    // hashFiles sees the workspace as the steps left it, not the copy made at the start.
    let before = job.hash_files(&["**/*.txt".into()]).await.unwrap();
    assert_eq!(before.len(), 64, "{before}");
    run(&*job, "echo changed > sub/data.txt").await;
    let after = job.hash_files(&["**/*.txt".into()]).await.unwrap();
    assert_ne!(before, after, "hashFiles did not see the step's change");
    assert_eq!(job.hash_files(&["*.nothing".into()]).await.unwrap(), "");

    // The service, by its host name.
    let lines = run(
        &*job,
        "curl -sf -o /dev/null -w '%{http_code}\\n' http://web:8000/",
    )
    .await;
    assert_eq!(lines, ["200"]);

    // Docker actions: a clear error naming the limitation.
    let action = ActionContainer::new(
        "my-docker-action",
        ActionImage::Image(common::BASE_IMAGE.into()),
        &paths,
    );
    let err = job
        .run_action_container(&action, &NullLogSink, CancellationToken::new())
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("`my-docker-action` with a remote Docker engine"),
        "{err}"
    );

    job.stop().await.unwrap();
    common::assert_nothing_left(&local, backend.instance()).await;
    backend.wait_for_removals().unwrap();
    assert_eq!(std::fs::read_dir(runs.path()).unwrap().count(), 0);
}

#[tokio::test]
async fn a_failed_remote_start_removes_the_volume() {
    let (local, remote) = remote_or_skip!();
    let (backend, _runs) = common::backend(&remote);
    let (mut spec, _src) = common::spec("remote-sick");
    let mut c = ContainerSpec::new(common::BASE_IMAGE);
    c.options = Some("--entrypoint false --health-cmd true --health-interval 1s".into());
    spec.services.push(ServiceSpec {
        id: "broken".into(),
        container: c,
    });
    let err = common::start_err(&backend, &spec).await.to_string();
    assert!(err.contains("service `broken`"), "{err}");
    common::assert_nothing_left(&local, backend.instance()).await;
}

#[tokio::test]
async fn a_remote_job_dropped_without_stop_leaves_nothing() {
    let (local, remote) = remote_or_skip!();
    let (backend, _runs) = common::backend(&remote);
    let (spec, _src) = common::spec("remote-dropped");
    let job = common::start(&backend, &spec).await;
    assert_eq!(job_volumes(&local, backend.instance()).await.len(), 1);
    drop(job);
    common::assert_nothing_left(&local, backend.instance()).await;
}

/// Runs `check` against a backend on the remote engine and checks nothing is left.
async fn against_remote<F>(check: F)
where
    F: for<'t> AsyncFnOnce(&'t Target<'t>),
{
    let (local, remote) = remote_or_skip!();
    let (backend, runs): (DockerBackend, _) = common::backend(&remote);
    let (template, _src) = common::spec("conformance");
    let target = Target::new(&backend, template);
    check(&target).await;
    common::assert_nothing_left(&local, backend.instance()).await;
    backend.wait_for_removals().unwrap();
    let left: Vec<_> = std::fs::read_dir(runs.path()).unwrap().collect();
    assert!(left.is_empty(), "host directories left behind: {left:?}");
}

/// The JobEnv conformance suite, one test per contract item, on the remote engine.
mod conformance_remote {
    macro_rules! checks {
        ($($check:ident),+ $(,)?) => {
            $(
                #[tokio::test]
                async fn $check() {
                    super::against_remote(async |t| gha_exec::conformance::$check(t).await).await
                }
            )+
        };
    }
    gha_exec::conformance_checks!(checks);
}
