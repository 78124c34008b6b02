//! Docker actions' `pre-entrypoint` / `post-entrypoint` with `pre-if` / `post-if`, and the node
//! binary of JavaScript actions (`--node PATH`, and the error when there is none).

use std::path::{Path, PathBuf};

use gha_tests::{Backend, Gha, RunResult, backend_tests, fixtures};

const DOCKER_WORKFLOW: &str = r#"
on: push
jobs:
  dock:
    runs-on: ubuntu-latest
    steps:
      - id: first
        run: echo first-step
      - id: loud
        uses: octo/dock@v1
        with: {who: you}
      - id: quiet
        uses: octo/dock/quiet@v1
      - id: last
        run: echo "last-step said=${{ steps.loud.outputs.said }}"
"#;

fn position(out: &str, needle: &str) -> usize {
    out.find(needle)
        .unwrap_or_else(|| panic!("`{needle}` not in output:\n{out}"))
}

/// The report's steps of job `job` as (name, outcome).
fn steps(r: &RunResult, job: &str) -> Vec<(String, String)> {
    r.job(job)["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["name"].as_str().unwrap_or("").to_string(),
                s["outcome"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

backend_tests! {
/// Docker and host (whose Docker actions run on this machine's engine). Not ECS: a task has
/// no Docker engine (`actions.rs`, `docker_actions_run_on_the_engine::ecs`, checks that error).
fn docker_action_pre_and_post_entrypoints(b) {
    if b.is_ecs() {
        eprintln!("skipped: an ECS task has no Docker engine for Docker actions");
        return;
    }
    if !gha_tests::docker_available() {
        return;
    }
    let gha = Gha::with_workflow(DOCKER_WORKFLOW).on(b);
    let action = fixtures().join("actions/docker-entrypoints");
    let dir = format!("octo/dock@v1={}", action.display());
    let r = gha.run(&["--action-dir", &dir, "--offline"]);
    let out = r.stdout();
    assert_eq!(r.code(), 0, "{}", r.all_output());
    // pre-entrypoint at job set-up, before the first step; main as its step; post-entrypoint
    // after the last step; all three with the action's args; the state pre saved reaches main
    // and post.
    let pre = position(&out, "| docker-pre: args=you ws=/github/workspace");
    let first = position(&out, "| first-step");
    let main = position(&out, "| docker-main: args=you ws=/github/workspace");
    let last = position(&out, "| last-step said=main-saw-set-in-pre");
    let post = position(&out, "| docker-post: args=you ws=/github/workspace");
    assert!(pre < first && first < main && main < last && last < post, "{out}");
    assert!(out.contains("| docker-post: state=set-in-pre"), "{out}");
    // The quiet action's pre-if (runner.os == 'Windows') and post-if (failure()) are false:
    // its main runs, its pre and post are skipped.
    assert!(out.contains("| docker-main: args= ws=/github/workspace"), "{out}");
    let s = steps(&r, "dock");
    let names: Vec<&str> = s.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "Pre Run octo/dock@v1",
            "Pre Run octo/dock/quiet@v1",
            "Run echo first-step",
            "Run octo/dock@v1",
            "Run octo/dock/quiet@v1",
            "Run echo \"last-step said=${{ steps.loud.outputs.said }}\"",
            "Post Run octo/dock/quiet@v1",
            "Post Run octo/dock@v1",
        ],
        "{}",
        r.all_output()
    );
    let outcome = |name: &str| s.iter().find(|(n, _)| n == name).unwrap().1.clone();
    assert_eq!(outcome("Pre Run octo/dock@v1"), "success");
    assert_eq!(outcome("Pre Run octo/dock/quiet@v1"), "skipped");
    assert_eq!(outcome("Post Run octo/dock@v1"), "success");
    assert_eq!(outcome("Post Run octo/dock/quiet@v1"), "skipped");
    assert_eq!(
        out.matches("docker-pre:").count() + out.matches("docker-post: args").count(),
        2,
        "a skipped stage ran: {out}"
    );
}
}

/// A directory whose entries are symbolic links to this machine's `git`, `sh`, `bash`,
/// `env` and `cat`: a `PATH` with the tools a job needs but no `node`.
fn path_without_node(root: &Path) -> PathBuf {
    let bin = root.join("bin-without-node");
    std::fs::create_dir_all(&bin).unwrap();
    for tool in ["git", "sh", "bash", "env", "cat", "dirname", "basename"] {
        let found = std::env::split_paths(&std::env::var_os("PATH").unwrap())
            .map(|d| d.join(tool))
            .find(|p| p.is_file())
            .unwrap_or_else(|| panic!("no {tool} on PATH"));
        std::os::unix::fs::symlink(found, bin.join(tool)).unwrap();
    }
    bin
}

/// Host only: `--node` names a binary of this machine, and `PATH` is this machine's (in a
/// container the image's node is used).
#[test]
fn node_flag_and_missing_node() {
    let node = std::env::split_paths(&std::env::var_os("PATH").unwrap())
        .map(|d| d.join("node"))
        .find(|p| p.is_file());
    let Some(node) = node else {
        eprintln!("skipped: no node on PATH");
        return;
    };
    let gha = Gha::with_workflow(
        r#"
on: push
jobs:
  js:
    runs-on: ubuntu-latest
    steps:
      - id: hello
        name: Greet with node
        uses: octo/hello-js@v1
        with: {level: high}
      - id: after
        if: always()
        run: echo "after-js"
"#,
    )
    .on(Backend::Host);
    let bin = path_without_node(gha.out.path());
    let action = fixtures().join("actions/hello-js");
    let dir = format!("octo/hello-js@v1={}", action.display());

    // No node on PATH and no --node: the step fails, naming the action, and the job goes on
    // to its always() step.
    let r = gha.run_with(&["--action-dir", &dir, "--offline"], |cmd| {
        cmd.env("PATH", &bin);
    });
    assert_eq!(r.code(), 1, "{}", r.all_output());
    let out = r.stdout();
    let msg = "`octo/hello-js@v1` is a JavaScript action (node20) but no node binary was found: put node on PATH or pass --node PATH";
    let line = out
        .lines()
        .find(|l| l.contains(msg))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(line.starts_with("[js] "), "{line}");
    // It is reported inside the failing step, the action's pre (node runs pre.js first),
    // which carries the step's name; the main step is then skipped.
    let started = position(&out, "[js] ⭐ Pre Greet with node");
    let error = position(&out, msg);
    let failed = position(&out, "❌ Failure - Pre Greet with node");
    assert!(started < error && error < failed, "{out}");
    let s = steps(&r, "js");
    assert_eq!(
        s[0],
        ("Pre Greet with node".into(), "failure".into()),
        "{s:?}"
    );
    assert_eq!(
        r.step("js", "hello")["outcome"],
        "skipped",
        "{}",
        r.all_output()
    );
    assert!(out.contains("| after-js"), "{out}");

    // --node: a wrapper that logs its arguments and runs node; PATH still has no node.
    // (bash, not sh: dash drops variables such as INPUT_WHO-TO_GREET from the environment.)
    let log = gha.out.path().join("node-calls.log");
    let wrapper = gha.out.path().join("node-wrapper.sh");
    std::fs::write(
        &wrapper,
        format!(
            "#!/bin/bash\necho \"$@\" >> '{}'\nexec '{}' \"$@\"\n",
            log.display(),
            node.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(
        &wrapper,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let r = gha.run_with(
        &[
            "--action-dir",
            &dir,
            "--offline",
            "--node",
            wrapper.to_str().unwrap(),
        ],
        |cmd| {
            cmd.env("PATH", &bin);
        },
    );
    assert_eq!(r.code(), 0, "{}", r.all_output());
    assert_eq!(r.step("js", "hello")["outputs"]["greeting"], "hello world");
    let calls = std::fs::read_to_string(&log).unwrap();
    let scripts: Vec<&str> = calls
        .lines()
        .map(|l| l.rsplit('/').next().unwrap_or(""))
        .collect();
    assert_eq!(scripts, ["pre.js", "main.js", "post.js"], "{calls}");
    // A --node that does not exist is named.
    let r = gha.run_with(
        &[
            "--action-dir",
            &dir,
            "--offline",
            "--node",
            "/nonexistent/node",
        ],
        |cmd| {
            cmd.env("PATH", &bin);
        },
    );
    assert_eq!(r.code(), 1, "{}", r.all_output());
    assert!(
        r.stdout().contains(
            "--node /nonexistent/node: no such file (needed by `octo/hello-js@v1`, which uses node20)"
        ),
        "{}",
        r.all_output()
    );
}
