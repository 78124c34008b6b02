//! Ctrl-C while an image is being made ready: SIGINT to the real `gha` binary
//! (`target/<profile>/gha`, built with `cargo build -p gha-cli`) during a Dockerfile action's
//! build and during a `docker://` step's pull, and a job start abandoned at any point. Each
//! test checks that the run ends promptly as cancelled, that the action never ran, and that
//! nothing labelled with the run (or backend instance) is left on the engine.
//!
//! A slow pull is simulated with a "registry" on 127.0.0.1 that accepts connections and never
//! answers: the engine's pull hangs on it until the client goes away.

mod common;

use std::io::Read;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bollard::query_parameters::ListContainersOptionsBuilder;
use gha_backend_docker::{Engine, labels};
use gha_exec::{Backend, ContainerSpec, ServiceSpec};

/// How long `gha` may take to end after SIGINT (the brief: within a few seconds).
const PROMPT: Duration = Duration::from_secs(5);

/// The `gha` binary next to this test executable (`target/<profile>/gha`), built when missing.
fn gha_binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().and_then(Path::parent).unwrap().to_path_buf();
    let bin = profile_dir.join("gha");
    if !bin.exists() {
        let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../Cargo.toml");
        let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .args([
                "build",
                "-q",
                "-p",
                "gha-cli",
                "--bin",
                "gha",
                "--manifest-path",
            ])
            .arg(&manifest)
            .arg("--target-dir")
            .arg(profile_dir.parent().unwrap())
            .status()
            .unwrap();
        assert!(status.success(), "building gha failed");
    }
    bin
}

/// Something unique to this test run, so that images and containers of earlier runs (and of
/// other tests) never match.
fn nonce() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{}-{nanos}", std::process::id())
}

fn write(root: &Path, rel: &str, text: &str) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

/// A git repository holding `.github/workflows/ci.yml` and `files`.
fn repo(workflow: &str, files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), ".github/workflows/ci.yml", workflow);
    for (rel, text) in files {
        write(dir.path(), rel, text);
    }
    let git = |args: &[&str]| {
        let out = Command::new("git")
            .args(["-c", "user.name=t", "-c", "user.email=t@example.com"])
            .args(args)
            .current_dir(dir.path())
            .output()
            .unwrap();
        assert!(out.status.success(), "git {args:?}: {out:?}");
    };
    git(&["init", "-q", "."]);
    git(&["add", "-A"]);
    git(&["commit", "-q", "-m", "init"]);
    dir
}

/// `gha run --backend docker` in `repo`, its output in a file (no pipe to fill up).
struct Gha {
    child: Child,
    out: PathBuf,
    _dir: tempfile::TempDir,
}

impl Gha {
    fn start(repo: &Path, extra: &[&str]) -> Gha {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out.txt");
        let file = std::fs::File::create(&out).unwrap();
        let child = Command::new(gha_binary())
            .args(["run", "--backend", "docker", "-C"])
            .arg(repo)
            .args(["-P", &format!("ubuntu-latest={}", common::BASE_IMAGE)])
            .args(extra)
            .env("GHA_RUNS_DIR", dir.path().join("runs"))
            .stdin(Stdio::null())
            .stdout(file.try_clone().unwrap())
            .stderr(file)
            .spawn()
            .unwrap();
        Gha {
            child,
            out,
            _dir: dir,
        }
    }

    /// The `github.run_id` of the run (the `gha` process id): the value of the run-id label.
    fn run_id(&self) -> String {
        self.child.id().to_string()
    }

    fn output(&self) -> String {
        let mut s = String::new();
        if let Ok(mut f) = std::fs::File::open(&self.out) {
            let _ = f.read_to_string(&mut s);
        }
        s
    }

    /// Waits until `ready()` (checked every 50 ms), failing with the output after `limit`.
    async fn wait_for(&mut self, what: &str, limit: Duration, ready: impl Fn(&str) -> bool) {
        let deadline = Instant::now() + limit;
        loop {
            let out = self.output();
            if ready(&out) {
                return;
            }
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("gha ended ({status}) before {what}:\n{out}");
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("no {what} after {limit:?}:\n{out}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Sends SIGINT (Ctrl-C) and waits for the process: (exit code, time from the signal to
    /// the exit, output). Kills it after 60 s.
    async fn interrupt(mut self) -> (Option<i32>, Duration, String) {
        let pid = self.child.id() as libc::pid_t;
        // SAFETY: kill(2) on our own child's pid.
        assert_eq!(unsafe { libc::kill(pid, libc::SIGINT) }, 0);
        let sent = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return (status.code(), sent.elapsed(), self.output());
            }
            if sent.elapsed() > Duration::from_secs(60) {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!("gha still running 60 s after SIGINT:\n{}", self.output());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Gha {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Containers, networks and volumes labelled with run id `run_id`, waiting up to 5 s for them
/// to go.
async fn run_leftovers(engine: &Engine, run_id: &str) -> Vec<String> {
    let label = format!("{}={run_id}", labels::RUN_ID);
    let mut names = Vec::new();
    for _ in 0..50 {
        names = common::labelled_leftovers(engine, &label).await;
        if names.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    names
}

/// Containers (any labels) whose command mentions `text`, waiting up to `limit` for them to go.
async fn containers_mentioning(engine: &Engine, text: &str, limit: Duration) -> Vec<String> {
    let deadline = Instant::now() + limit;
    loop {
        let found: Vec<String> = engine
            .docker()
            .list_containers(Some(
                ListContainersOptionsBuilder::default().all(true).build(),
            ))
            .await
            .unwrap()
            .into_iter()
            .filter(|c| c.command.as_deref().is_some_and(|cmd| cmd.contains(text)))
            .map(|c| format!("{:?} {:?}", c.id, c.command))
            .collect();
        if found.is_empty() || Instant::now() > deadline {
            return found;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A "registry" on 127.0.0.1 that accepts connections and never answers: an engine pulling from
/// it waits until its client goes away. Counts the connections made and those still open.
struct HangingRegistry {
    port: u16,
    connections: Arc<AtomicUsize>,
    open: Arc<AtomicUsize>,
}

impl HangingRegistry {
    fn start() -> HangingRegistry {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let connections = Arc::new(AtomicUsize::new(0));
        let open = Arc::new(AtomicUsize::new(0));
        let (count, still_open) = (connections.clone(), open.clone());
        std::thread::spawn(move || {
            for mut conn in listener.incoming().flatten() {
                count.fetch_add(1, Ordering::SeqCst);
                still_open.fetch_add(1, Ordering::SeqCst);
                let still_open = still_open.clone();
                // Read (and ignore) the request until the engine closes the connection.
                std::thread::spawn(move || {
                    let mut buf = [0u8; 4096];
                    while matches!(conn.read(&mut buf), Ok(n) if n > 0) {}
                    still_open.fetch_sub(1, Ordering::SeqCst);
                });
            }
        });
        HangingRegistry {
            port,
            connections,
            open,
        }
    }

    /// Waits (up to `limit`) until the engine has closed every connection, then 2 s more:
    /// the number of connections it made in all, or `None` when some are still open.
    async fn connections_once_quiet(&self, limit: Duration) -> Option<usize> {
        let started = Instant::now();
        while self.open.load(Ordering::SeqCst) > 0 {
            if started.elapsed() > limit {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
        Some(self.connections.load(Ordering::SeqCst))
    }

    fn image(&self, name: &str) -> String {
        format!("127.0.0.1:{}/{name}", self.port)
    }

    async fn wait_for_a_connection(&self, limit: Duration) {
        let deadline = Instant::now() + limit;
        while self.connections.load(Ordering::SeqCst) == 0 {
            assert!(
                Instant::now() < deadline,
                "the engine never contacted the registry"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

#[tokio::test]
async fn sigint_during_a_dockerfile_build_stops_it_and_the_action_never_runs() {
    let engine = engine_or_skip!();
    let nonce = nonce();
    // `$((40+2))`: the output says 42 while the build's step lines show the expression, so a
    // match on the output is the command running, not the Dockerfile being echoed.
    let dockerfile = format!(
        "FROM {}\nRUN echo \"building-$((40+2))-{nonce}\" && sleep 30\nENTRYPOINT [\"sh\", \"-c\", \"echo action-ran-$((6*7))\"]\n",
        common::BASE_IMAGE
    );
    let repo = repo(
        "on: push\njobs:\n  build:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: ./slow\n      - run: echo \"after-$((1+1))\"\n",
        &[
            (
                "slow/action.yml",
                "name: slow\nruns:\n  using: docker\n  image: Dockerfile\n",
            ),
            ("slow/Dockerfile", &dockerfile),
        ],
    );
    let tag = gha_exec::action_container::build_tag(&repo.path().join("slow")).unwrap();
    let mut gha = Gha::start(repo.path(), &[]);
    let run_id = gha.run_id();
    let building = format!("building-42-{nonce}");
    gha.wait_for("the build's RUN step", Duration::from_secs(30), |out| {
        out.contains(&building)
    })
    .await;
    let (code, took, out) = gha.interrupt().await;
    eprintln!("gha ended {took:?} after SIGINT during the build");
    assert_eq!(code, Some(1), "{out}");
    assert!(took < PROMPT, "took {took:?} after SIGINT:\n{out}");
    assert!(out.contains("Run cancelled"), "{out}");
    assert!(out.contains("Cancelled - Run ./slow"), "{out}");
    assert!(!out.contains("action-ran-42"), "the action ran:\n{out}");
    assert!(!out.contains("after-2"), "the next step ran:\n{out}");
    // The build did not finish: later steps never began, and no tag names a half-built image.
    assert!(!out.contains("Step 3/"), "the build went on:\n{out}");
    assert!(
        engine.docker().inspect_image(&tag).await.is_err(),
        "{tag} exists after a cancelled build"
    );
    assert_eq!(run_leftovers(&engine, &run_id).await, Vec::<String>::new());
    // The engine stops the build when its client goes away: its intermediate container goes.
    let building_cmd = format!("building-$((40+2))-{nonce}");
    assert_eq!(
        containers_mentioning(&engine, &building_cmd, Duration::from_secs(10)).await,
        Vec::<String>::new(),
        "the engine kept the build's container"
    );
}

#[tokio::test]
async fn sigint_during_a_docker_step_pull_ends_the_run_promptly() {
    let engine = engine_or_skip!();
    let registry = HangingRegistry::start();
    let image = registry.image(&format!("gha-slow-pull:{}", nonce()));
    let repo = repo(
        &format!(
            "on: push\njobs:\n  pull:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: docker://{image}\n      - run: echo \"after-$((1+1))\"\n"
        ),
        &[],
    );
    let mut gha = Gha::start(repo.path(), &[]);
    let run_id = gha.run_id();
    // The job container is up and the step's pull has reached the registry.
    gha.wait_for("the Docker step", Duration::from_secs(30), |out| {
        out.contains(&format!("Run docker://{image}"))
    })
    .await;
    registry
        .wait_for_a_connection(Duration::from_secs(20))
        .await;
    let (code, took, out) = gha.interrupt().await;
    eprintln!("gha ended {took:?} after SIGINT during the pull");
    assert_eq!(code, Some(1), "{out}");
    assert!(took < PROMPT, "took {took:?} after SIGINT:\n{out}");
    assert!(out.contains("Run cancelled"), "{out}");
    assert!(!out.contains("after-2"), "the next step ran:\n{out}");
    assert!(!out.contains("could not be pulled"), "{out}");
    assert!(engine.docker().inspect_image(&image).await.is_err());
    assert_eq!(run_leftovers(&engine, &run_id).await, Vec::<String>::new());
}

/// SIGINT while the job's image is being pulled: the executor drops `Backend::start_job` (it
/// races the start against the job's cancellation), the backend's start guard removes what was
/// created, and the run ends promptly as cancelled.
#[tokio::test]
async fn sigint_during_a_job_start_pull_ends_the_run_promptly() {
    let engine = engine_or_skip!();
    let registry = HangingRegistry::start();
    let image = registry.image(&format!("gha-slow-platform:{}", nonce()));
    let repo = repo(
        "on: push\njobs:\n  start:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo \"step-$((1+1))\"\n",
        &[],
    );
    let gha = Gha::start(repo.path(), &["-P", &format!("ubuntu-latest={image}")]);
    let run_id = gha.run_id();
    registry
        .wait_for_a_connection(Duration::from_secs(20))
        .await;
    let (code, took, out) = gha.interrupt().await;
    eprintln!("gha ended {took:?} after SIGINT during the job start");
    assert_eq!(code, Some(1), "{out}");
    assert!(took < PROMPT, "took {took:?} after SIGINT:\n{out}");
    assert!(out.contains("Run cancelled"), "{out}");
    assert!(!out.contains("step-2"), "{out}");
    assert_eq!(run_leftovers(&engine, &run_id).await, Vec::<String>::new());
}

#[tokio::test]
async fn a_start_abandoned_at_any_point_leaves_nothing() {
    // What Ctrl-C does to a job start when the executor drops its future: whatever was created
    // (network, service, job container) is removed, also objects whose create request was in
    // flight when the future was dropped.
    let engine = engine_or_skip!();
    common::ensure_http_image(&engine).await;
    let (backend, _runs) = common::backend(&engine);
    let (mut spec, _src) = common::spec("abandoned");
    let mut service = ContainerSpec::new(common::HTTP_IMAGE);
    service.options = Some("--health-cmd false --health-interval 30s --health-retries 5".into());
    spec.services.push(ServiceSpec {
        id: "web".into(),
        container: service,
    });
    for ms in [
        0u64, 5, 10, 15, 20, 30, 40, 50, 60, 80, 100, 130, 160, 200, 250, 300, 400, 600,
    ] {
        let started =
            tokio::time::timeout(Duration::from_millis(ms), backend.start_job(&spec)).await;
        assert!(
            started.is_err(),
            "the start should still be going at {ms} ms"
        );
        let left = common::leftovers(&engine, backend.instance()).await;
        assert!(left.is_empty(), "dropped after {ms} ms, left: {left:?}");
    }
    // Nothing turned up later either (a create the engine finished after the drop).
    tokio::time::sleep(Duration::from_millis(500)).await;
    common::assert_nothing_left(&engine, backend.instance()).await;
}

#[tokio::test]
async fn a_job_start_stuck_in_a_pull_is_abandoned_when_its_future_is_dropped() {
    let engine = engine_or_skip!();
    let registry = HangingRegistry::start();
    let (backend, _runs) = common::backend(&engine);
    let (mut spec, _src) = common::spec("stuck-pull");
    spec.container = Some(ContainerSpec::new(
        registry.image(&format!("gha-slow-job:{}", nonce())),
    ));
    // `start_job` gives a boxed future: dropping it ends the start there and then.
    let mut start = backend.start_job(&spec);
    tokio::select! {
        _ = &mut start => panic!("the start ended although its pull cannot"),
        _ = registry.wait_for_a_connection(Duration::from_secs(20)) => {}
    }
    let made = registry.connections.load(Ordering::SeqCst);
    let dropped = Instant::now();
    drop(start);
    assert!(dropped.elapsed() < Duration::from_secs(1));
    // The engine gives up on the pull once its client has gone: the request in flight runs
    // into the engine's own timeout (10 s for a registry that does not answer), and no other
    // attempt follows (a pull that is still wanted retries over plain HTTP).
    let quiet = registry
        .connections_once_quiet(Duration::from_secs(15))
        .await;
    eprintln!(
        "{made} registry connection(s) at the drop, {quiet:?} once the engine was quiet, {:?} after the drop",
        dropped.elapsed()
    );
    assert_eq!(quiet, Some(made), "the engine went on pulling");
    assert!(
        engine
            .docker()
            .inspect_image(&spec.container.as_ref().unwrap().image)
            .await
            .is_err()
    );
    common::assert_nothing_left(&engine, backend.instance()).await;
}
