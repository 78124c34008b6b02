//! The agent protocol end to end over loopback: a real agent (`run_agent`) against a real
//! controller (`AgentListener` + `RemoteJobEnv`): connection set-up, tokens, TLS, hashFiles,
//! lost agents. The JobEnv contract over it (exit codes, streams, files, cancellation...) is
//! checked by the conformance suite in `tests/conformance.rs`.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use gha_backend_ecs::agent::protocol::{
    AgentJob, AgentMessage, ControllerMessage, DATA_FRAME, DATA_LAST, MAX_FRAME_BYTES,
    MAX_HASH_PATTERNS, PROTOCOL_VERSION, WORKSPACE_ID,
};
use gha_backend_ecs::agent::{
    AgentError, AgentListener, AgentOptions, AgentUrl, RemoteJobEnv, RemoteOptions, TlsIdentity,
    run_agent,
};
use gha_exec::{BackendError, CancellationToken, Exec, JobEnv, OutputStream, VecLogSink};

/// Tracks the largest single allocation made on the current thread since [`largest_reset`]
/// (tests here run on a current-thread runtime, so the agent and controller tasks they spawn
/// allocate on the test's thread).
struct Tracking;

thread_local! {
    static LARGEST: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

fn note_size(n: usize) {
    let _ = LARGEST.try_with(|l| {
        if n > l.get() {
            l.set(n)
        }
    });
}

fn largest_reset() {
    LARGEST.with(|l| l.set(0));
}

fn largest() -> usize {
    LARGEST.with(|l| l.get())
}

// SAFETY: every call is forwarded to the system allocator unchanged.
unsafe impl std::alloc::GlobalAlloc for Tracking {
    unsafe fn alloc(&self, layout: std::alloc::Layout) -> *mut u8 {
        note_size(layout.size());
        unsafe { std::alloc::System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: std::alloc::Layout) -> *mut u8 {
        note_size(layout.size());
        unsafe { std::alloc::System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: std::alloc::Layout, new: usize) -> *mut u8 {
        note_size(new);
        unsafe { std::alloc::System.realloc(ptr, layout, new) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: std::alloc::Layout) {
        unsafe { std::alloc::System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Tracking = Tracking;

/// A data frame as the protocol lays it out: 0x00, the request id (big-endian), the flags, the
/// bytes.
fn data_frame(id: u64, last: bool, data: &[u8]) -> bytes::Bytes {
    let mut frame = vec![DATA_FRAME];
    frame.extend(id.to_be_bytes());
    frame.push(if last { DATA_LAST } else { 0 });
    frame.extend(data);
    frame.into()
}

struct Agent {
    handle: tokio::task::JoinHandle<Result<(), AgentError>>,
    _work: tempfile::TempDir,
}

async fn start_agent(url: AgentUrl, token: &str, ca: Option<String>) -> Agent {
    let work = tempfile::tempdir().unwrap();
    let mut options = AgentOptions::new(url, token);
    options.work_dir = work.path().to_path_buf();
    options.ca_pem = ca;
    options.heartbeat_interval = Duration::from_millis(200);
    options.dead_after = Duration::from_secs(2);
    options.connect_timeout = Duration::from_secs(5);
    Agent {
        handle: tokio::spawn(run_agent(options)),
        _work: work,
    }
}

fn repo() -> tempfile::TempDir {
    let repo = tempfile::tempdir().unwrap();
    std::fs::write(repo.path().join("README.md"), "hello\n").unwrap();
    std::fs::create_dir(repo.path().join("src")).unwrap();
    std::fs::write(repo.path().join("src/main.sh"), "echo main\n").unwrap();
    repo
}

fn job() -> AgentJob {
    AgentJob {
        job_id: "build".into(),
        unique_name: "build".into(),
        run_id: "42".into(),
        repository: "octo/hello".into(),
    }
}

fn remote_options() -> RemoteOptions {
    let mut o = RemoteOptions::new("the test task");
    o.heartbeat_interval = Duration::from_millis(200);
    o.dead_after = Duration::from_secs(2);
    o
}

async fn connected(
    tls: Option<&TlsIdentity>,
) -> (AgentListener, RemoteJobEnv, Agent, tempfile::TempDir) {
    let listener = AgentListener::bind("127.0.0.1:0".parse().unwrap(), tls)
        .await
        .unwrap();
    let mut pending = listener.expect().unwrap();
    let url = AgentUrl {
        tls: tls.is_some(),
        host: if tls.is_some() {
            "localhost".into()
        } else {
            "127.0.0.1".into()
        },
        port: listener.local_addr().port(),
    };
    let agent = start_agent(url, pending.token(), tls.map(|t| t.cert_pem.clone())).await;
    let connection = tokio::time::timeout(Duration::from_secs(10), pending.connected())
        .await
        .expect("the agent connects")
        .unwrap();
    let repo = repo();
    let env = RemoteJobEnv::start(connection, job(), repo.path(), remote_options())
        .await
        .unwrap();
    (listener, env, agent, repo)
}

fn pid_alive(pid: i32) -> bool {
    // A zombie is not alive for our purposes.
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat.split(") ").nth(1).unwrap_or("").starts_with('Z'),
        Err(_) => false,
    }
}

async fn wait_dead(pid: i32, within: Duration) -> bool {
    let start = Instant::now();
    while start.elapsed() < within {
        if !pid_alive(pid) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

#[tokio::test]
async fn the_workspace_is_named_after_the_repository_and_removed_when_the_job_stops() {
    let (_l, env, agent, _repo) = connected(None).await;
    let ws = env.paths().workspace.clone();
    assert!(env.paths().host_workspace.is_none());
    assert!(ws.ends_with("/hello"), "{ws}");
    let sink = VecLogSink::default();
    let status = env
        .exec(
            &Exec::new(["sh", "-c", "cat README.md; sh src/main.sh"]),
            &sink,
            CancellationToken::new(),
        )
        .await
        .unwrap();
    assert!(status.success());
    assert_eq!(
        sink.lines(),
        [
            (OutputStream::Stdout, "hello".to_string()),
            (OutputStream::Stdout, "main".to_string())
        ]
    );
    env.stop().await.unwrap();
    agent.handle.await.unwrap().unwrap();
    assert!(
        !Path::new(&ws).exists(),
        "the agent removes the job's directories"
    );
}

/// GitHub's hashFiles value: sha256 over the sha256 of each matched file, in walk order.
fn expected_hash(contents: &[&[u8]]) -> String {
    use sha2::{Digest, Sha256};
    let mut total = Sha256::new();
    for c in contents {
        total.update(Sha256::digest(c));
    }
    hex::encode(total.finalize())
}

fn pats(p: &[&str]) -> Vec<String> {
    p.iter().map(|s| s.to_string()).collect()
}

#[tokio::test]
async fn hash_files_is_computed_by_the_agent_over_its_workspace() {
    let (_l, env, agent, _repo) = connected(None).await;
    let ws = env.paths().workspace.clone();
    // The controller does not see the task's files.
    assert!(env.paths().host_workspace.is_none());
    // A file the job makes counts; files outside the workspace never do.
    let status = env
        .exec(
            &Exec::new([
                "sh",
                "-c",
                "mkdir -p gen && echo made > gen/made.sh && echo out > ../outside.sh",
            ])
            .working_dir(ws.clone()),
            &VecLogSink::default(),
            CancellationToken::new(),
        )
        .await
        .unwrap();
    assert!(status.success(), "{status:?}");
    let all = expected_hash(&[b"made\n", b"echo main\n"]);
    assert_eq!(env.hash_files(&pats(&["**/*.sh"])).await.unwrap(), all);
    // `!` excludes, in order; `..` and absolute paths outside match nothing.
    assert_eq!(
        env.hash_files(&pats(&["**/*.sh", "!gen"])).await.unwrap(),
        expected_hash(&[b"echo main\n"])
    );
    assert_eq!(
        env.hash_files(&pats(&["../*.sh", "/etc/passwd"]))
            .await
            .unwrap(),
        ""
    );
    // Absolute patterns inside the workspace (`${{ github.workspace }}/...`) work.
    assert_eq!(
        env.hash_files(&[format!("{ws}/src/main.sh")])
            .await
            .unwrap(),
        expected_hash(&[b"echo main\n"])
    );
    assert_eq!(env.hash_files(&pats(&["*.nothing"])).await.unwrap(), "");
    // A bad pattern fails with the pattern's own message.
    let err = env.hash_files(&pats(&["["])).await.unwrap_err();
    assert!(
        matches!(&err, BackendError::Other(m) if m.starts_with("Invalid pattern '['")),
        "{err}"
    );
    // Too many patterns fail here, before a frame is sent, and the connection stays usable.
    let err = env
        .hash_files(&vec!["x".to_string(); MAX_HASH_PATTERNS + 1])
        .await
        .unwrap_err();
    assert!(err.to_string().contains("too many patterns"), "{err}");
    assert_eq!(env.hash_files(&pats(&["**/*.sh"])).await.unwrap(), all);
    env.stop().await.unwrap();
    agent.handle.await.unwrap().unwrap();
}

/// A controller speaking raw frames to a real agent: the agent refuses an oversized pattern
/// list itself (a controller need not be this crate's).
#[tokio::test]
async fn the_agent_bounds_the_pattern_lists_it_accepts() {
    use futures_util::{SinkExt, StreamExt};
    use tokio_util::codec::{Framed, LengthDelimitedCodec};
    let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url: AgentUrl = format!("tcp://{}", tcp.local_addr().unwrap())
        .parse()
        .unwrap();
    let agent = start_agent(url, "t0ken", None).await;
    let (socket, _) = tokio::time::timeout(Duration::from_secs(10), tcp.accept())
        .await
        .unwrap()
        .unwrap();
    let mut framed = Framed::new(socket, LengthDelimitedCodec::new());
    async fn recv(
        framed: &mut Framed<tokio::net::TcpStream, LengthDelimitedCodec>,
    ) -> AgentMessage {
        loop {
            let frame = tokio::time::timeout(Duration::from_secs(10), framed.next())
                .await
                .expect("the agent answers")
                .unwrap()
                .unwrap();
            match serde_json::from_slice(&frame).unwrap() {
                AgentMessage::Heartbeat => continue,
                m => return m,
            }
        }
    }
    async fn send(
        framed: &mut Framed<tokio::net::TcpStream, LengthDelimitedCodec>,
        m: &ControllerMessage,
    ) {
        framed
            .send(bytes::Bytes::from(serde_json::to_vec(m).unwrap()))
            .await
            .unwrap();
    }
    assert!(matches!(
        recv(&mut framed).await,
        AgentMessage::Hello { .. }
    ));
    send(&mut framed, &ControllerMessage::Welcome).await;
    send(&mut framed, &ControllerMessage::Start { job: job() }).await;
    let repo = repo();
    let archive = gha_backend_ecs::agent::workspace_archive(repo.path().to_path_buf())
        .await
        .unwrap();
    // The archive in two data frames, laid out by hand.
    let half = archive.len() / 2;
    framed
        .send(data_frame(WORKSPACE_ID, false, &archive[..half]))
        .await
        .unwrap();
    framed
        .send(data_frame(WORKSPACE_ID, true, &archive[half..]))
        .await
        .unwrap();
    assert!(matches!(
        recv(&mut framed).await,
        AgentMessage::Ready { .. }
    ));

    let too_many = ControllerMessage::HashFiles {
        id: 1,
        patterns: vec!["x".to_string(); MAX_HASH_PATTERNS + 1],
    };
    send(&mut framed, &too_many).await;
    match recv(&mut framed).await {
        AgentMessage::Failed { id: 1, error } => {
            assert!(error.message.contains("too many patterns"), "{error:?}")
        }
        other => panic!("{other:?}"),
    }
    let fine = ControllerMessage::HashFiles {
        id: 2,
        patterns: pats(&["README.md"]),
    };
    send(&mut framed, &fine).await;
    assert_eq!(
        recv(&mut framed).await,
        AgentMessage::Hashed {
            id: 2,
            hash: expected_hash(&[b"hello\n"])
        }
    );
    send(&mut framed, &ControllerMessage::Stop).await;
    assert_eq!(recv(&mut framed).await, AgentMessage::Stopped);
    agent.handle.await.unwrap().unwrap();
}

#[tokio::test]
async fn a_wrong_token_is_refused_on_both_sides() {
    let listener = AgentListener::bind("127.0.0.1:0".parse().unwrap(), None)
        .await
        .unwrap();
    let pending = listener.expect().unwrap();
    let url: AgentUrl = format!("tcp://{}", listener.local_addr()).parse().unwrap();
    let mut wrong = pending.token().to_string();
    wrong.replace_range(0..1, if wrong.starts_with('0') { "1" } else { "0" });
    let agent = start_agent(url, &wrong, None).await;
    let err = agent.handle.await.unwrap().unwrap_err();
    assert_eq!(
        err.to_string(),
        "the controller refused the connection: invalid token"
    );
    let refused = listener.refused();
    assert_eq!(refused.len(), 1);
    assert!(refused[0].ends_with("invalid token"), "{refused:?}");
}

#[tokio::test]
async fn a_token_is_good_for_one_connection_only() {
    let listener = AgentListener::bind("127.0.0.1:0".parse().unwrap(), None)
        .await
        .unwrap();
    let mut pending = listener.expect().unwrap();
    let token = pending.token().to_string();
    let url: AgentUrl = format!("tcp://{}", listener.local_addr()).parse().unwrap();
    let first = start_agent(url.clone(), &token, None).await;
    let _connection = pending.connected().await.unwrap();
    let second = start_agent(url, &token, None).await;
    let err = second.handle.await.unwrap().unwrap_err();
    assert!(matches!(err, AgentError::Rejected(_)), "{err}");
    first.handle.abort();
}

#[tokio::test]
async fn tls_with_a_self_signed_certificate() {
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let identity = TlsIdentity {
        cert_pem: cert.cert.pem(),
        key_pem: cert.signing_key.serialize_pem(),
    };
    let (_l, env, agent, _repo) = connected(Some(&identity)).await;
    let sink = VecLogSink::default();
    let status = env
        .exec(
            &Exec::new(["sh", "-c", "echo over tls"]),
            &sink,
            CancellationToken::new(),
        )
        .await
        .unwrap();
    assert!(status.success());
    assert_eq!(
        sink.lines(),
        vec![(OutputStream::Stdout, "over tls".to_string())]
    );
    env.stop().await.unwrap();
    agent.handle.await.unwrap().unwrap();

    // An agent trusting another certificate does not talk to this controller.
    let listener = AgentListener::bind("127.0.0.1:0".parse().unwrap(), Some(&identity))
        .await
        .unwrap();
    let pending = listener.expect().unwrap();
    let other = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let url = AgentUrl {
        tls: true,
        host: "localhost".into(),
        port: listener.local_addr().port(),
    };
    let agent = start_agent(url.clone(), pending.token(), Some(other.cert.pem())).await;
    let err = agent.handle.await.unwrap().unwrap_err();
    assert!(err.to_string().contains("TLS handshake"), "{err}");
    // And a plain-TCP agent cannot either.
    let plain = AgentUrl { tls: false, ..url };
    let agent = start_agent(plain, pending.token(), None).await;
    assert!(agent.handle.await.unwrap().is_err());
}

#[tokio::test]
async fn an_agent_whose_controller_disappears_kills_its_steps_and_exits() {
    let (listener, env, agent, _repo) = connected(None).await;
    let pidfile = format!("{}/child.pid", env.paths().temp);
    let script = format!("sleep 300 & echo $! > {pidfile}; wait");
    let env = std::sync::Arc::new(env);
    let running = {
        let env = env.clone();
        tokio::spawn(async move {
            env.exec(
                &Exec::new(["sh", "-c", script.as_str()]),
                &VecLogSink::default(),
                CancellationToken::new(),
            )
            .await
        })
    };
    while !Path::new(&pidfile).exists() {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let pid: i32 = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    // The controller goes away: its connection tasks end, the socket closes.
    running.abort();
    drop(env);
    drop(listener);
    let err = tokio::time::timeout(Duration::from_secs(10), agent.handle)
        .await
        .expect("the agent exits")
        .unwrap()
        .unwrap_err();
    assert!(matches!(err, AgentError::ControllerLost(_)), "{err}");
    assert!(err.to_string().contains("killed every step"), "{err}");
    assert!(
        wait_dead(pid, Duration::from_secs(5)).await,
        "the step's child {pid} survived"
    );
}

/// A fake agent that sets the job up and then goes silent without closing the connection.
async fn silent_agent(url: AgentUrl, token: String) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        use futures_util::{SinkExt, StreamExt};
        use tokio_util::codec::{Framed, LengthDelimitedCodec};
        let tcp = tokio::net::TcpStream::connect((url.host.as_str(), url.port))
            .await
            .unwrap();
        let mut framed = Framed::new(tcp, LengthDelimitedCodec::new());
        let hello = AgentMessage::Hello {
            token,
            version: PROTOCOL_VERSION,
        };
        framed
            .send(bytes::Bytes::from(serde_json::to_vec(&hello).unwrap()))
            .await
            .unwrap();
        // Until the last data frame of the workspace archive.
        loop {
            let frame = framed.next().await.unwrap().unwrap();
            if frame[0] == DATA_FRAME && frame[9] & DATA_LAST != 0 {
                break;
            }
        }
        let ready = AgentMessage::Ready {
            paths: gha_exec::JobPaths::under("/tmp/x/_temp", "/tmp/x/ws"),
            runner: gha_exec::RunnerInfo::host(),
        };
        framed
            .send(bytes::Bytes::from(serde_json::to_vec(&ready).unwrap()))
            .await
            .unwrap();
        // Read (and ignore) everything, answer nothing, keep the socket open.
        while let Some(Ok(_)) = framed.next().await {}
    })
}

#[tokio::test]
async fn a_silent_agent_fails_the_job_after_a_bounded_wait() {
    let listener = AgentListener::bind("127.0.0.1:0".parse().unwrap(), None)
        .await
        .unwrap();
    let mut pending = listener.expect().unwrap();
    let url: AgentUrl = format!("tcp://{}", listener.local_addr()).parse().unwrap();
    let fake = silent_agent(url, pending.token().to_string()).await;
    let connection = pending.connected().await.unwrap();
    let repo = repo();
    let env = RemoteJobEnv::start(connection, job(), repo.path(), remote_options())
        .await
        .unwrap();
    let started = Instant::now();
    let err = env
        .exec(
            &Exec::new(["true"]),
            &VecLogSink::default(),
            CancellationToken::new(),
        )
        .await
        .unwrap_err();
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(1500) && waited < Duration::from_secs(6),
        "{waited:?}"
    );
    assert_eq!(
        err.to_string(),
        "the agent in the test task disconnected: it sent nothing for 2s"
    );
    // Later calls fail at once with the same reason.
    let err = env.read_file("/x").await.unwrap_err();
    assert!(err.to_string().contains("sent nothing"), "{err}");
    fake.abort();
}

#[tokio::test]
async fn an_agent_that_dies_mid_step_fails_the_step_at_once() {
    let (_l, env, agent, _repo) = connected(None).await;
    let started = Instant::now();
    let env = std::sync::Arc::new(env);
    let running = {
        let env = env.clone();
        tokio::spawn(async move {
            env.exec(
                &Exec::new(["sleep", "300"]),
                &VecLogSink::default(),
                CancellationToken::new(),
            )
            .await
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    agent.handle.abort();
    let err = running.await.unwrap().unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(
        err.to_string()
            .starts_with("the agent in the test task disconnected:"),
        "{err}"
    );
}

/// Transfer timings through a real `gha agent` process (`target/debug/gha`, or `GHA_BIN`):
/// job start with a repository of 1,000 files / 20 MB, `write_file` of 1 MiB and 16 MiB,
/// `read_file` of 16 MiB (best of 3 each). Run by hand (`cargo build -p gha-cli` first):
/// `cargo test -p gha-backend-ecs --test agent_protocol -- --ignored --nocapture transfer_timings`
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement: run by hand with --ignored --nocapture"]
async fn transfer_timings() {
    fn pseudo_random(len: usize, seed: u64) -> Vec<u8> {
        // xorshift: incompressible enough, and the same on every run.
        let mut x = seed | 1;
        (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect()
    }
    let repo = tempfile::tempdir().unwrap();
    for i in 0..1000u64 {
        let dir = repo.path().join(format!("d{}", i % 20));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("f{i}.bin")), pseudo_random(20_000, i)).unwrap();
    }
    let mut start_times = Vec::new();
    let mut write_1 = Vec::new();
    let mut write_16 = Vec::new();
    let mut read_16 = Vec::new();
    let small = pseudo_random(1 << 20, 7);
    let big = pseudo_random(16 << 20, 8);
    for _ in 0..3 {
        let listener = AgentListener::bind("127.0.0.1:0".parse().unwrap(), None)
            .await
            .unwrap();
        let mut pending = listener.expect().unwrap();
        let env = [
            (
                gha_backend_ecs::agent::ENV_URL.to_string(),
                format!("tcp://{}", listener.local_addr()),
            ),
            (
                gha_backend_ecs::agent::ENV_TOKEN.to_string(),
                pending.token().to_string(),
            ),
        ];
        let agent = common::start_agent(common::AgentHost::Process, &env, None).await;
        let connection = tokio::time::timeout(Duration::from_secs(20), pending.connected())
            .await
            .expect("the agent connects")
            .unwrap();
        let t = Instant::now();
        let env = RemoteJobEnv::start(connection, job(), repo.path(), remote_options())
            .await
            .unwrap();
        start_times.push(t.elapsed());
        let ws = env.paths().workspace.clone();
        let copied = env.read_file(&format!("{ws}/d7/f987.bin")).await.unwrap();
        assert_eq!(copied, pseudo_random(20_000, 987));

        let path = format!("{}/small.bin", env.paths().temp);
        let t = Instant::now();
        env.write_file(&path, &small).await.unwrap();
        write_1.push(t.elapsed());
        let path = format!("{}/big.bin", env.paths().temp);
        let t = Instant::now();
        env.write_file(&path, &big).await.unwrap();
        write_16.push(t.elapsed());
        let t = Instant::now();
        let back = env.read_file(&path).await.unwrap();
        read_16.push(t.elapsed());
        assert!(back == big, "the 16 MiB file came back changed");
        env.stop().await.unwrap();
        let (code, stderr) = agent.finish(Duration::from_secs(10)).await;
        assert_eq!(code, Some(0), "{stderr}");
    }
    let best = |v: &[Duration]| v.iter().min().unwrap().as_secs_f64() * 1000.0;
    println!(
        "job start (1,000 files, 20 MB): {:.0} ms\nwrite_file 1 MiB: {:.1} ms\n\
         write_file 16 MiB: {:.0} ms\nread_file 16 MiB: {:.0} ms",
        best(&start_times),
        best(&write_1),
        best(&write_16),
        best(&read_16)
    );
}

/// The length prefix of a frame of `u32::MAX` bytes, and a little of its promised body.
fn huge_frame_start() -> Vec<u8> {
    let mut raw = u32::MAX.to_be_bytes().to_vec();
    raw.extend([b'{'; 64]);
    raw
}

const HUGE_FRAME_ERROR: &str = "reading from the connection: the peer sent a frame of \
                                4294967295 bytes, over the 8388608-byte limit";

/// A controller that announces a 4 GiB frame ends the agent's connection with a clear error,
/// and the agent allocates nothing near that size.
#[tokio::test]
async fn an_oversized_frame_from_the_controller_ends_the_agent() {
    use futures_util::{SinkExt, StreamExt};
    use tokio::io::AsyncWriteExt;
    use tokio_util::codec::{Framed, LengthDelimitedCodec};
    let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url: AgentUrl = format!("tcp://{}", tcp.local_addr().unwrap())
        .parse()
        .unwrap();
    let agent = start_agent(url, "t0ken", None).await;
    let (socket, _) = tokio::time::timeout(Duration::from_secs(10), tcp.accept())
        .await
        .unwrap()
        .unwrap();
    let mut framed = Framed::new(socket, LengthDelimitedCodec::new());
    let hello = framed.next().await.unwrap().unwrap();
    assert!(matches!(
        serde_json::from_slice(&hello).unwrap(),
        AgentMessage::Hello {
            version: PROTOCOL_VERSION,
            ..
        }
    ));
    framed
        .send(bytes::Bytes::from(
            serde_json::to_vec(&ControllerMessage::Welcome).unwrap(),
        ))
        .await
        .unwrap();
    let mut socket = framed.into_inner();
    largest_reset();
    socket.write_all(&huge_frame_start()).await.unwrap();
    let err = tokio::time::timeout(Duration::from_secs(10), agent.handle)
        .await
        .expect("the agent ends")
        .unwrap()
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("lost the controller: {HUGE_FRAME_ERROR}; killed every step")
    );
    assert!(
        largest() < MAX_FRAME_BYTES,
        "the agent allocated {} bytes at once",
        largest()
    );
}

/// An agent that announces a 4 GiB frame (mid-job, or instead of its greeting) ends the
/// controller's connection with a clear error, and the controller allocates nothing near that
/// size.
#[tokio::test]
async fn an_oversized_frame_from_the_agent_ends_the_job() {
    use futures_util::{SinkExt, StreamExt};
    use tokio::io::AsyncWriteExt;
    use tokio_util::codec::{Framed, LengthDelimitedCodec};
    let listener = AgentListener::bind("127.0.0.1:0".parse().unwrap(), None)
        .await
        .unwrap();
    let mut pending = listener.expect().unwrap();
    let addr = listener.local_addr();
    let token = pending.token().to_string();
    let fake = tokio::spawn(async move {
        let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
        let mut framed = Framed::new(tcp, LengthDelimitedCodec::new());
        let hello = AgentMessage::Hello {
            token,
            version: PROTOCOL_VERSION,
        };
        framed
            .send(bytes::Bytes::from(serde_json::to_vec(&hello).unwrap()))
            .await
            .unwrap();
        loop {
            let frame = framed.next().await.unwrap().unwrap();
            if frame[0] == DATA_FRAME && frame[9] & DATA_LAST != 0 {
                break;
            }
        }
        let ready = AgentMessage::Ready {
            paths: gha_exec::JobPaths::under("/tmp/x/_temp", "/tmp/x/ws"),
            runner: gha_exec::RunnerInfo::host(),
        };
        framed
            .send(bytes::Bytes::from(serde_json::to_vec(&ready).unwrap()))
            .await
            .unwrap();
        // Wait for the Exec, then answer with the start of a 4 GiB frame.
        loop {
            let frame = framed.next().await.unwrap().unwrap();
            if let Ok(ControllerMessage::Exec { .. }) = serde_json::from_slice(&frame) {
                break;
            }
        }
        let mut socket = framed.into_inner();
        socket.write_all(&huge_frame_start()).await.unwrap();
        // Keep the socket open: the controller must end the connection itself.
        let mut rest = Vec::new();
        let _ = tokio::io::AsyncReadExt::read_to_end(&mut socket, &mut rest).await;
    });
    let connection = pending.connected().await.unwrap();
    let repo = repo();
    let env = RemoteJobEnv::start(connection, job(), repo.path(), remote_options())
        .await
        .unwrap();
    largest_reset();
    let err = tokio::time::timeout(
        Duration::from_secs(10),
        env.exec(
            &Exec::new(["true"]),
            &VecLogSink::default(),
            CancellationToken::new(),
        ),
    )
    .await
    .expect("the step ends at once")
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("the agent in the test task disconnected: {HUGE_FRAME_ERROR}")
    );
    assert!(
        largest() < MAX_FRAME_BYTES,
        "the controller allocated {} bytes at once",
        largest()
    );
    drop(env);
    tokio::time::timeout(Duration::from_secs(10), fake)
        .await
        .expect("the controller closed the connection")
        .unwrap();

    // The same as the first frame of a connection: refused, and the reason is kept.
    let _pending = listener.expect().unwrap();
    let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    largest_reset();
    tcp.write_all(&huge_frame_start()).await.unwrap();
    let mut rest = Vec::new();
    tokio::time::timeout(
        Duration::from_secs(10),
        tokio::io::AsyncReadExt::read_to_end(&mut tcp, &mut rest),
    )
    .await
    .expect("the listener closes the connection")
    .unwrap();
    assert!(rest.is_empty(), "{rest:?}");
    let refused = listener.refused();
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert!(
        refused[0].ends_with(&format!("no greeting: {HUGE_FRAME_ERROR}")),
        "{refused:?}"
    );
    assert!(largest() < MAX_FRAME_BYTES, "{}", largest());
}

/// Files written and read at the same time: each request's data frames stay with it.
#[tokio::test]
async fn concurrent_transfers_keep_their_data_apart() {
    let (_l, env, agent, _repo) = connected(None).await;
    let temp = env.paths().temp.clone();
    let contents: Vec<Vec<u8>> = (0..4u8)
        .map(|i| {
            (0..(3 << 20) + i as usize * 1000)
                .map(|j| (j % 253) as u8 ^ i)
                .collect()
        })
        .collect();
    let writes = contents.iter().enumerate().map(|(i, c)| {
        let env = &env;
        let path = format!("{temp}/f{i}");
        async move { env.write_file(&path, c).await }
    });
    for r in futures_util::future::join_all(writes).await {
        r.unwrap();
    }
    let reads = (0..4).map(|i| {
        let env = &env;
        let path = format!("{temp}/f{i}");
        async move { env.read_file(&path).await.unwrap() }
    });
    let back = futures_util::future::join_all(reads).await;
    for (i, (b, c)) in back.iter().zip(&contents).enumerate() {
        assert!(b == c, "file {i} came back changed ({} bytes)", b.len());
    }
    env.stop().await.unwrap();
    agent.handle.await.unwrap().unwrap();
}

/// An agent of protocol version 2 (hex inside JSON) greets in plain JSON, as every version
/// does, and is refused in words it can read; a token does not make it acceptable.
#[tokio::test]
async fn an_agent_of_the_previous_version_is_refused_with_the_reason() {
    use futures_util::{SinkExt, StreamExt};
    use tokio_util::codec::{Framed, LengthDelimitedCodec};
    assert_eq!(PROTOCOL_VERSION, 3);
    let listener = AgentListener::bind("127.0.0.1:0".parse().unwrap(), None)
        .await
        .unwrap();
    let pending = listener.expect().unwrap();
    let tcp = tokio::net::TcpStream::connect(listener.local_addr())
        .await
        .unwrap();
    let mut framed = Framed::new(tcp, LengthDelimitedCodec::new());
    let hello = format!(
        r#"{{"type":"hello","token":"{}","version":2}}"#,
        pending.token()
    );
    framed.send(bytes::Bytes::from(hello)).await.unwrap();
    let answer = tokio::time::timeout(Duration::from_secs(10), framed.next())
        .await
        .expect("the controller answers")
        .unwrap()
        .unwrap();
    assert_eq!(
        std::str::from_utf8(&answer).unwrap(),
        r#"{"type":"rejected","reason":"protocol version 2 is not supported (this controller speaks 3)"}"#
    );
    assert!(framed.next().await.is_none(), "the connection is closed");
    let refused = listener.refused();
    assert!(
        refused[0].ends_with("protocol version 2 is not supported (this controller speaks 3)"),
        "{refused:?}"
    );
}
