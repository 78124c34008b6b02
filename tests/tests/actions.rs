//! `uses:` end to end through the `gha` binary: JavaScript actions with node (pre, main, post,
//! state, inputs, outputs), nested composite actions across repositories, the action cache
//! (warm, offline, concurrent), bad references, and running a repository at a commit straight
//! from the API. GitHub is a local server with GitHub's REST shapes (`gha_actions::test_server`).

use std::path::Path;

use gha_actions::test_server::GitHubServer;
use gha_tests::{Backend, Gha, RunResult, backend_tests, fixtures};

/// A GitHub-shaped server (kept alive by its runtime) and an action cache for `gha`.
struct FakeGitHub {
    gh: GitHubServer,
    rt: tokio::runtime::Runtime,
}

impl FakeGitHub {
    fn start() -> FakeGitHub {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let gh = rt.block_on(GitHubServer::start());
        FakeGitHub { gh, rt }
    }

    /// Serves the fixture directory `tests/fixtures/actions/<name>` as `owner/repo` at `refs`.
    fn serve(&self, owner: &str, repo: &str, refs: &[&str], name: &str) -> String {
        let root = fixtures().join("actions").join(name);
        let mut files = Vec::new();
        collect(&root, &root, &mut files);
        self.gh.add_commit_files(owner, repo, refs, files)
    }

    fn requests(&self) -> Vec<String> {
        self.rt.block_on(self.gh.requests())
    }

    fn api(&self) -> String {
        self.gh.api_url()
    }
}

fn collect(root: &Path, dir: &Path, out: &mut Vec<(String, u32, Vec<u8>)>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            collect(root, &p, out);
        } else {
            let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
            let mode = if rel.ends_with(".sh") { 0o755 } else { 0o644 };
            out.push((rel, mode, std::fs::read(&p).unwrap()));
        }
    }
}

/// `gha run <args> --github-api-url <server> --report <file>` on `gha`'s backend, with `cache`
/// as the action cache.
fn run(gha: &Gha, gh: &FakeGitHub, cache: &Path, args: &[&str]) -> RunResult {
    let api = gh.api();
    let mut all = vec!["--github-api-url", api.as_str()];
    all.extend_from_slice(args);
    gha.run_with(&all, |cmd| {
        cmd.env("GHA_ACTION_CACHE", cache)
            .env_remove("GITHUB_TOKEN");
    })
}

fn position(out: &str, needle: &str) -> usize {
    out.find(needle)
        .unwrap_or_else(|| panic!("`{needle}` not in output:\n{out}"))
}

const JS_WORKFLOW: &str = r#"
on: push
jobs:
  greet:
    runs-on: ubuntu-latest
    steps:
      - id: hello
        uses: octo/hello-js@v1
        with:
          who-to greet: you
          surprise: 1
      - id: echo
        run: echo "got=${{ steps.hello.outputs.greeting }}"
      - id: boom
        run: exit 1
      - id: never
        run: echo "never" "printed"
"#;

backend_tests! {
fn javascript_action_pre_main_post_state_inputs_outputs_and_the_cache(backend) {
    let gh = FakeGitHub::start();
    gh.serve("octo", "hello-js", &["v1"], "hello-js");
    let cache = tempfile::tempdir().unwrap();
    let gha = Gha::with_workflow(JS_WORKFLOW).on(backend);

    let r = run(&gha, &gh, cache.path(), &[]);
    let out = r.stdout();
    assert_eq!(r.code(), 1, "{}", r.all_output());
    // pre at set-up, main as the step, post at the end (after the failure), state carried.
    let pre = position(&out, "pre: who=you");
    let main = position(
        &out,
        "main: hello you from_pre=p1 level=<none> action_path_set=true repo=octo/hello-js@v1",
    );
    let echo = position(&out, "got=hello you");
    let post = position(
        &out,
        "post: who=you from_pre=p1 from_main=m-you by_command=c1",
    );
    assert!(pre < main && main < echo && echo < post, "{out}");
    assert!(!out.contains("never printed"));
    let all = r.all_output();
    assert!(
        all.contains("Input required and not supplied: level"),
        "{all}"
    );
    assert!(
        all.contains(
            "Unexpected input(s) 'surprise', valid inputs are ['who-to greet', 'token', 'level']"
        ),
        "{all}"
    );
    assert_eq!(r.step("greet", "hello")["outputs"]["greeting"], "hello you");
    let steps = r.job("greet")["steps"].as_array().unwrap().clone();
    let names: Vec<&str> = steps.iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(
        names.first(),
        Some(&"Pre Run octo/hello-js@v1"),
        "{names:?}"
    );
    assert_eq!(
        names.last(),
        Some(&"Post Run octo/hello-js@v1"),
        "{names:?}"
    );
    assert_eq!(steps.last().unwrap()["conclusion"], "success");
    let first = gh.requests();
    assert!(
        first
            .iter()
            .any(|q| q == "GET /repos/octo/hello-js/commits/v1"),
        "{first:?}"
    );

    // Second run with a warm cache: no HTTP request at all.
    let r2 = run(&gha, &gh, cache.path(), &[]);
    assert_eq!(r2.code(), 1, "{}", r2.all_output());
    assert!(r2.stdout().contains("got=hello you"));
    assert_eq!(
        gh.requests().len(),
        first.len(),
        "the warm cache made requests"
    );

    // --offline with the warm cache works; with a cold cache it fails naming what is missing.
    let r3 = run(&gha, &gh, cache.path(), &["--offline"]);
    assert!(r3.stdout().contains("got=hello you"), "{}", r3.all_output());
    let cold = tempfile::tempdir().unwrap();
    let r4 = run(&gha, &gh, cold.path(), &["--offline"]);
    assert_eq!(r4.code(), 1, "{}", r4.all_output());
    let all = r4.all_output();
    assert!(
        all.contains("`octo/hello-js@v1` is not in the action cache") && all.contains("--offline"),
        "{all}"
    );
    assert!(!all.contains("main: hello"));
    assert_eq!(gh.requests().len(), first.len());
}
}

backend_tests! {
fn post_steps_run_in_reverse_after_a_failed_main(backend) {
    let gh = FakeGitHub::start();
    gh.serve("octo", "hello-js", &["v1", "v2"], "hello-js");
    let cache = tempfile::tempdir().unwrap();
    let gha = Gha::with_workflow(
        r#"
on: push
jobs:
  j:
    runs-on: ubuntu-latest
    steps:
      - uses: octo/hello-js@v1
        with: {who-to greet: first, level: "1"}
      - uses: octo/hello-js@v2
        env: {FAIL_MAIN: "yes"}
        with: {who-to greet: second, level: "1"}
"#,
    )
    .on(backend);
    let r = run(&gha, &gh, cache.path(), &[]);
    let out = r.stdout();
    assert_eq!(r.code(), 1, "{}", r.all_output());
    assert!(r.all_output().contains("main failed on purpose"));
    let second = position(&out, "post: who=second");
    let first = position(&out, "post: who=first");
    assert!(second < first, "post steps must run last-first:\n{out}");
}
}

backend_tests! {
fn nested_composite_actions_across_repositories(backend) {
    let gh = FakeGitHub::start();
    gh.serve("octo", "hello-js", &["v1"], "hello-js");
    gh.serve("octo", "inner-composite", &["v1"], "inner-composite");
    gh.serve("octo", "outer-composite", &["v1"], "outer-composite");
    let cache = tempfile::tempdir().unwrap();
    let gha = Gha::empty().on(backend);
    gha.write("sub/.keep", "");
    gha.write(
        ".github/workflows/ci.yml",
        r#"
on: push
jobs:
  c:
    runs-on: ubuntu-latest
    steps:
      - id: outer
        uses: octo/outer-composite@v1
        with: {greetee: bob}
      - run: echo "result=${{ steps.outer.outputs.result }} exported=$FROM_COMPOSITE"
"#,
    );
    gha.commit();
    let r = run(&gha, &gh, cache.path(), &[]);
    let out = r.stdout();
    assert_eq!(r.code(), 0, "{}", r.all_output());
    assert!(
        out.contains("outer: action_path_ok=yes step_env=from-step-env"),
        "{out}"
    );
    assert!(!out.contains("must not run"), "{out}");
    assert!(out.contains("outer: cwd=sub"), "{out}");
    assert!(out.contains("main: hello bob-nested"), "{out}");
    assert!(
        out.contains("result=bob/hello bob-nested exported=exported"),
        "{out}"
    );
    assert_eq!(
        r.step("c", "outer")["outputs"]["result"],
        "bob/hello bob-nested"
    );
    // The nested JavaScript action's post step still runs at job end.
    assert!(out.contains("post: who=bob-nested"), "{out}");
}
}

backend_tests! {
fn bad_references_fail_with_clear_errors(backend) {
    let gh = FakeGitHub::start();
    gh.serve("octo", "hello-js", &["v1"], "hello-js");
    gh.serve("octo", "lib", &["v1"], "app");
    let cache = tempfile::tempdir().unwrap();
    let case = |uses: &str| {
        let gha = Gha::with_workflow(&format!(
            "on: push\njobs:\n  j:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: {uses}\n      - run: echo after\n        if: always()\n"
        ))
        .on(backend);
        run(&gha, &gh, cache.path(), &[])
    };
    let r = case("octo/nope@v1");
    assert_eq!(r.code(), 1);
    // Set-up failed: no step runs.
    assert!(
        !r.stdout()
            .lines()
            .any(|l| l.trim_end().ends_with("| after")),
        "{}",
        r.all_output()
    );
    assert!(
        r.all_output()
            .contains("Unable to resolve action `octo/nope@v1`, repository not found"),
        "{}",
        r.all_output()
    );
    let r = case("octo/hello-js@v9");
    assert!(
        r.all_output()
            .contains("Unable to resolve action `octo/hello-js@v9`, unable to find version `v9`"),
        "{}",
        r.all_output()
    );
    let r = case("octo/lib@v1");
    assert!(
        r.all_output().contains(
            "Can't find 'action.yml', 'action.yaml' or 'Dockerfile' for action 'octo/lib@v1'."
        ),
        "{}",
        r.all_output()
    );
    let r = case("./missing/action");
    assert_eq!(r.code(), 1);
    assert!(
        r.all_output()
            .contains("Can't find 'action.yml', 'action.yaml' or 'Dockerfile' under"),
        "{}",
        r.all_output()
    );
    assert!(
        r.all_output()
            .contains("Did you forget to run actions/checkout")
    );

    gh.gh.set_rate_limited(Some(1_796_425_200));
    let r = case("octo/other@v1");
    assert_eq!(r.code(), 1);
    let all = r.all_output();
    assert!(
        all.contains("rate limit exceeded while resolving `octo/other@v1`"),
        "{all}"
    );
    assert!(all.contains("resets at 2026-12-04 23:00:00 UTC"), "{all}");
    gh.gh.set_rate_limited(None);

    // Unreachable API.
    let gha = Gha::with_workflow(
        "on: push\njobs:\n  j:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: octo/hello-js@v1\n",
    )
    .on(backend);
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = format!("http://127.0.0.1:{}", l.local_addr().unwrap().port());
    drop(l);
    let cold = tempfile::tempdir().unwrap();
    let r = gha.run_with(&["--github-api-url", &dead], |cmd| {
        cmd.env("GHA_ACTION_CACHE", cold.path());
    });
    let all = r.all_output();
    assert_eq!(r.code(), 1, "{all}");
    assert!(
        all.contains(&format!(
            "Cannot reach the GitHub API at {dead} while resolving `octo/hello-js@v1`"
        )),
        "{all}"
    );
}
}

backend_tests! {
fn two_runs_fill_the_same_cold_cache_at_once(backend) {
    let gh = FakeGitHub::start();
    gh.serve("octo", "hello-js", &["v1"], "hello-js");
    let cache = tempfile::tempdir().unwrap();
    let a = Gha::with_workflow(JS_WORKFLOW).on(backend);
    let b = Gha::with_workflow(JS_WORKFLOW).on(backend);
    let (ra, rb) = std::thread::scope(|s| {
        let ta = s.spawn(|| run(&a, &gh, cache.path(), &[]));
        let tb = s.spawn(|| run(&b, &gh, cache.path(), &[]));
        (ta.join().unwrap(), tb.join().unwrap())
    });
    for r in [&ra, &rb] {
        assert!(r.stdout().contains("got=hello you"), "{}", r.all_output());
        assert_eq!(r.step("greet", "hello")["conclusion"], "success");
    }
}
}

backend_tests! {
fn action_dir_override_uses_a_local_checkout(backend) {
    let gh = FakeGitHub::start();
    let cache = tempfile::tempdir().unwrap();
    let gha = Gha::with_workflow(JS_WORKFLOW).on(backend);
    let dir = fixtures().join("actions/hello-js");
    let flag = format!("octo/hello-js@v1={}", dir.display());
    let r = run(&gha, &gh, cache.path(), &["--action-dir", &flag]);
    assert!(r.stdout().contains("got=hello you"), "{}", r.all_output());
    assert!(gh.requests().is_empty());
}
}

backend_tests! {
fn runs_a_repository_at_a_commit_from_the_api(backend) {
    let gh = FakeGitHub::start();
    gh.serve("octo", "hello-js", &["v1"], "hello-js");
    let sha = gh.serve("octo", "app", &["main"], "app");
    let cache = tempfile::tempdir().unwrap();
    let gha = Gha::empty().on(backend);
    let r = run(
        &gha,
        &gh,
        cache.path(),
        &[
            "--repo",
            "octo/app",
            "--sha",
            &sha,
            "-W",
            ".github/workflows/build.yml",
            "-j",
            "Build+test (stable, ubuntu-18.04)",
        ],
    );
    let out = r.stdout();
    assert_eq!(r.code(), 0, "{}", r.all_output());
    assert!(out.contains("app main.sh ran"), "{out}");
    assert!(
        out.contains(&format!("said=hello stable repo=octo/app sha={sha}")),
        "{out}"
    );
    assert!(
        !out.contains("hello nightly"),
        "only the selected leg runs:\n{out}"
    );
    let reqs = gh.requests();
    assert!(
        reqs.iter()
            .any(|q| q
                == &format!("GET /repos/octo/app/contents/.github/workflows/build.yml?ref={sha}")),
        "{reqs:?}"
    );
    assert!(
        reqs.iter()
            .any(|q| q.starts_with("GET /_codeload/octo/app/")),
        "{reqs:?}"
    );

    // A workflow that is not there: a clear error, exit 2.
    let r = run(
        &gha,
        &gh,
        cache.path(),
        &[
            "--repo",
            "octo/app",
            "--sha",
            &sha,
            "-W",
            ".github/workflows/nope.yml",
        ],
    );
    assert_eq!(r.code(), 2, "{}", r.all_output());
    assert!(
        r.stderr().contains(&format!(
            "`.github/workflows/nope.yml` does not exist in octo/app at {sha}"
        )),
        "{}",
        r.all_output()
    );
}
}

const CALLER: &str = r#"
on: push
jobs:
  local:
    strategy:
      matrix:
        flavour: [mint, lemon]
    uses: ./.github/workflows/reusable.yml
    with:
      flavour: ${{ matrix.flavour }}
    secrets:
      deploy_key: s3cret
  remote:
    uses: octo/ci-workflows/.github/workflows/reusable.yml@v1
    with:
      count: 7
    secrets: inherit
  use:
    needs: [remote]
    runs-on: ubuntu-latest
    steps:
      - run: echo "remote said ${{ needs.remote.outputs.report }}"
"#;

backend_tests! {
fn reusable_workflows_local_and_remote(backend) {
    let gh = FakeGitHub::start();
    gh.serve("octo", "ci-workflows", &["v1"], "ci-workflows");
    let cache = tempfile::tempdir().unwrap();
    let gha = Gha::empty().on(backend);
    let callee = std::fs::read_to_string(
        fixtures().join("actions/ci-workflows/.github/workflows/reusable.yml"),
    )
    .unwrap();
    gha.write(".github/workflows/reusable.yml", &callee);
    gha.write(".github/workflows/ci.yml", CALLER);
    gha.commit();
    let r = run(&gha, &gh, cache.path(), &["-W", ".github/workflows/ci.yml"]);
    let out = r.stdout();
    assert_eq!(r.code(), 0, "{}", r.all_output());
    // Typed inputs with defaults, mapped and inherited secrets, outputs to a dependent job.
    assert!(out.contains("remote said vanillax7 key=false"), "{out}");
    let legs = r.jobs("local");
    assert_eq!(legs.len(), 2, "{}", r.report);
    let mut reports: Vec<String> = legs
        .iter()
        .map(|j| j["outputs"]["report"].as_str().unwrap().to_string())
        .collect();
    reports.sort();
    assert_eq!(reports, ["lemonx2 key=true", "mintx2 key=true"]);
    // Display names `caller / callee`.
    assert!(out.contains("local (mint) / Work"), "{out}");
    assert!(out.contains("remote / Work"), "{out}");
}
}

backend_tests! {
fn reusable_workflow_errors(backend) {
    let gh = FakeGitHub::start();
    let cache = tempfile::tempdir().unwrap();
    let gha = Gha::empty().on(backend);
    gha.write(
        ".github/workflows/push.yml",
        "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps: [{run: echo}]\n",
    );
    gha.write(
        ".github/workflows/ci.yml",
        "on: push\njobs:\n  bad:\n    uses: ./.github/workflows/push.yml\n  other:\n    runs-on: ubuntu-latest\n    steps: [{run: echo other-ran}]\n",
    );
    gha.write(
        ".github/workflows/remote.yml",
        "on: push\njobs:\n  missing:\n    uses: octo/nope/.github/workflows/x.yml@v1\n",
    );
    gha.commit();
    // A local callee GitHub would reject rejects the whole file before any job runs (exit 2,
    // at the `uses:`), as GitHub's "Invalid workflow file".
    let r = run(&gha, &gh, cache.path(), &["-W", ".github/workflows/ci.yml"]);
    let all = r.all_output();
    assert_eq!(r.code(), 2, "{all}");
    assert!(
        all.contains("./.github/workflows/push.yml: workflow_call key is not defined in the referenced workflow."),
        "{all}"
    );
    assert!(all.contains(".github/workflows/ci.yml:4:11"), "{all}");
    assert!(!all.contains("other-ran"), "{all}");
    // A remote callee is resolved as the run reaches it: that job fails.
    let r = run(&gha, &gh, cache.path(), &["-W", ".github/workflows/remote.yml"]);
    let all = r.all_output();
    assert_eq!(r.code(), 1, "{all}");
    assert!(
        all.contains(
            "Unable to resolve action `octo/nope/.github/workflows/x.yml@v1`, repository not found"
        ),
        "{all}"
    );
}
}

const DOCKER_WORKFLOW: &str = r#"
on: push
jobs:
  d:
    runs-on: ubuntu-latest
    steps:
      - uses: docker://gha-runner/base:bookworm
        with: {entrypoint: /bin/echo, args: hi from the image}
      - id: built
        uses: ./docker-action
        with: {who: world}
      - run: echo "said=${{ steps.built.outputs.said }}"
"#;

fn docker_repo() -> Gha {
    let gha = Gha::empty();
    let dir = fixtures().join("actions/docker-action");
    for f in ["action.yml", "Dockerfile", "entry.sh"] {
        gha.write(
            &format!("docker-action/{f}"),
            &std::fs::read_to_string(dir.join(f)).unwrap(),
        );
    }
    gha.write(".github/workflows/ci.yml", DOCKER_WORKFLOW);
    gha.commit();
    gha
}

backend_tests! {
fn docker_actions_run_on_the_engine(backend) {
    if !gha_tests::docker_available() {
        return;
    }
    let gh = FakeGitHub::start();
    let cache = tempfile::tempdir().unwrap();
    // A real ECS task is a container without a Docker engine; an agent started as a process
    // of this machine would find this machine's engine, so the ECS variant runs its agent in a
    // container of the base image, as ECS would.
    let backend = if backend.is_ecs() {
        Backend::EcsAgentInContainer
    } else {
        backend
    };
    let gha = docker_repo().on(backend);
    let r = run(&gha, &gh, cache.path(), &[]);
    let out = r.stdout();
    if backend.is_ecs() {
        // An ECS task has no Docker engine: the step fails with a clear error and nothing runs.
        assert_eq!(r.code(), 1, "{}", r.all_output());
        assert!(
            r.all_output().contains(
                "`docker://gha-runner/base:bookworm` is a Docker action, but no Docker engine answers in this job's environment"
            ),
            "{}",
            r.all_output()
        );
        assert!(
            !out.lines().any(|l| l.ends_with("| hi from the image")),
            "{out}"
        );
        return;
    }
    assert_eq!(r.code(), 0, "{}", r.all_output());
    assert!(out.contains("hi from the image"), "{out}");
    assert!(out.contains("hello world input=world env=yes-env"), "{out}");
    assert!(out.contains("said=hi-world"), "{out}");
}
}

backend_tests! {
fn docker_actions_without_an_engine_fail_clearly(backend) {
    if backend.is_ecs() {
        // The job's engine does not come from DOCKER_HOST here: an ECS task has none at all,
        // which `docker_actions_run_on_the_engine::ecs` checks.
        eprintln!("skipped: DOCKER_HOST does not reach into an ECS task");
        return;
    }
    let gh = FakeGitHub::start();
    let cache = tempfile::tempdir().unwrap();
    let gha = docker_repo().on(backend);
    let api = gh.api();
    let r = gha.run_with(&["--github-api-url", &api], |cmd| {
        cmd.env("GHA_ACTION_CACHE", cache.path())
            .env("DOCKER_HOST", "unix:///nonexistent/docker.sock");
    });
    let all = r.all_output();
    if backend.is_docker() {
        // The whole backend needs the engine: bad input before any job starts.
        assert_eq!(r.code(), 2, "{all}");
        assert!(all.contains("cannot use Docker"), "{all}");
        return;
    }
    assert_eq!(r.code(), 1, "{all}");
    assert!(
        all.contains(
            "`docker://gha-runner/base:bookworm` is a Docker action, but no Docker engine answers"
        ),
        "{all}"
    );
}
}

backend_tests! {
fn timeout_minutes_stops_a_javascript_action(backend) {
    let gh = FakeGitHub::start();
    gh.serve("octo", "hello-js", &["v1"], "hello-js");
    let cache = tempfile::tempdir().unwrap();
    let gha = Gha::with_workflow(
        r#"
on: push
jobs:
  t:
    runs-on: ubuntu-latest
    steps:
      - id: slow
        uses: octo/hello-js@v1
        timeout-minutes: 0.02
        env: {SLEEP_MAIN: "yes"}
        with: {level: "1"}
"#,
    )
    .on(backend);
    let started = std::time::Instant::now();
    let r = run(&gha, &gh, cache.path(), &[]);
    assert!(started.elapsed() < std::time::Duration::from_secs(40));
    assert_eq!(r.code(), 1, "{}", r.all_output());
    assert!(
        r.all_output()
            .contains("The action 'Run octo/hello-js@v1' has timed out after 0.02 minutes."),
        "{}",
        r.all_output()
    );
    assert!(!r.stdout().contains("woke up"));
    assert_eq!(r.step("t", "slow")["outcome"], "failure");
}
}

backend_tests! {
fn checkout_is_local_unless_real_checkout_or_another_repository(backend) {
    let gh = FakeGitHub::start();
    gh.serve("actions", "checkout", &["v4"], "fake-checkout");
    let cache = tempfile::tempdir().unwrap();
    let gha = Gha::with_workflow(
        r#"
on: push
jobs:
  c:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - uses: actions/checkout@v4
        with: {repository: other/repo}
"#,
    )
    .on(backend);
    let r = run(&gha, &gh, cache.path(), &[]);
    assert_eq!(r.code(), 0, "{}", r.all_output());
    let out = r.stdout();
    assert_eq!(out.matches("real checkout ran").count(), 1, "{out}");
    assert!(out.contains("real checkout ran for other/repo"), "{out}");
    assert!(
        r.all_output().contains("satisfied locally"),
        "{}",
        r.all_output()
    );

    let r = run(&gha, &gh, cache.path(), &["--real-checkout"]);
    assert_eq!(r.code(), 0, "{}", r.all_output());
    assert_eq!(
        r.stdout().matches("real checkout ran").count(),
        2,
        "{}",
        r.all_output()
    );
}
}

backend_tests! {
fn composite_nesting_stops_at_the_runners_depth_limit(backend) {
    let gh = FakeGitHub::start();
    let cache = tempfile::tempdir().unwrap();
    let gha = Gha::empty().on(backend);
    gha.write(
        "rec/action.yml",
        "name: rec\ndescription: calls itself\nruns:\n  using: composite\n  steps:\n    - run: echo nesting-level\n      shell: bash\n    - uses: ./rec\n",
    );
    gha.write(
        ".github/workflows/ci.yml",
        "on: push\njobs:\n  r:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: ./rec\n",
    );
    gha.commit();
    let r = run(&gha, &gh, cache.path(), &[]);
    let all = r.all_output();
    assert_eq!(r.code(), 1, "{all}");
    assert!(
        all.contains("Composite action depth exceeded max depth 9 (at `./rec`)"),
        "{all}"
    );
    // Composites at depths 0..=8 run their first step; the one at depth 9 would put its steps
    // at depth 10, past the limit, and fails before running any of them.
    assert_eq!(
        r.stdout()
            .lines()
            .filter(|l| l.trim_end().ends_with("| nesting-level"))
            .count(),
        9,
        "{all}"
    );
}
}
