//! Steps: conditions, outcome and conclusion, file commands, shells, contexts, hashFiles.

use gha_tests::{Gha, backend_tests};
use sha2::{Digest, Sha256};

backend_tests! {
agent_in_container;

fn step_semantics(b) {
    let gha = Gha::with_fixture("steps.yml").on(b);
    let r = gha.run(&[]);
    let out = r.stdout();
    assert_eq!(r.code(), 1, "{}", r.all_output());
    let outcome = |id: &str| {
        let s = r.step("steps", id);
        (
            s["outcome"].as_str().unwrap().to_string(),
            s["conclusion"].as_str().unwrap().to_string(),
        )
    };
    let ok = ("success".to_string(), "success".to_string());
    assert_eq!(outcome("env"), ok, "{}", r.all_output());
    assert!(
        out.contains("WF=workflow JOB=job STEP=step CI=true ACTIONS=true JOBID=steps EVENT=push"),
        "{out}"
    );
    assert_eq!(outcome("use-env"), ok, "{}", r.all_output());
    assert!(out.contains("tool-ran"));
    assert!(out.contains("prev=value with spaces outcome=success"));
    // bash (defaults.run.shell) has pipefail; continue-on-error keeps the job going.
    assert_eq!(outcome("pipefail"), ("failure".into(), "success".into()));
    assert!(out.contains("shell: ") && out.contains("--noprofile --norc -eo pipefail {0}"));
    // sh -e has no pipefail.
    assert_eq!(outcome("nopipefail"), ok);
    assert!(out.contains("python says workflow"));
    assert!(out.contains("perl says hi"));
    assert_eq!(outcome("wd"), ok);
    assert_eq!(outcome("fails"), ("failure".into(), "failure".into()));
    assert!(out.contains("Process completed with exit code 3."), "{out}");
    assert_eq!(outcome("skipped"), ("skipped".into(), "skipped".into()));
    assert_eq!(outcome("on-failure"), ok);
    assert!(
        out.contains("failure() is true; pipefail=failure/success"),
        "{out}"
    );
    assert_eq!(outcome("always"), ok);
    assert!(out.contains("always runs; job.status=failure"), "{out}");
    assert_eq!(
        outcome("success-only"),
        ("skipped".into(), "skipped".into())
    );
    assert_eq!(r.job("steps")["conclusion"], "failure");
    if b.is_ecs() {
        // The job ran in one task, served by one agent.
        assert_eq!(r.agents.len(), 1, "{}", r.all_output());
    }
    // The script is echoed in a group, with the shell and env.
    assert!(out.contains("▼ Run test \"$FROM_ENV_FILE\" = one"), "{out}");
    assert!(out.contains("|   STEP: step"), "{out}");
}

fn hash_files_reads_the_job_workspace(b) {
    // The workspace as the job left it: a file of the repository and the step's new file
    // count, as on GitHub, where the runner evaluates hashFiles over its own workspace. Under
    // ECS that workspace is only in the task: the agent hashes it, and the result is the same
    // as on the host and in Docker.
    let gha = Gha::with_workflow(
        r#"
on: push
jobs:
  h:
    runs-on: ubuntu-latest
    steps:
      - id: before
        run: echo "hash=${{ hashFiles('**/*.txt') }}" >> "$GITHUB_OUTPUT"
      - run: echo made-by-the-job > made.txt
      - id: after
        run: echo "hash=${{ hashFiles('**/*.txt', '!nothing') }}" >> "$GITHUB_OUTPUT"
      - id: excluded
        if: hashFiles('**/*.txt', '!data') != ''
        run: echo "hash=${{ hashFiles('**/*.txt', '!data') }}" >> "$GITHUB_OUTPUT"
      - id: none
        run: echo "hash=${{ hashFiles('**/*.nothing', '../**', '/etc/passwd') }}" >> "$GITHUB_OUTPUT"
"#,
    )
    .on(b);
    gha.write("data/in-repo.txt", "from-the-repo\n");
    gha.commit();
    let r = gha.run(&[]);
    assert_eq!(r.code(), 0, "{}", r.all_output());
    // sha256 over the sha256 of each matched file's content, depth first by name.
    let hash = |contents: &[&[u8]]| {
        let mut total = Sha256::new();
        for c in contents {
            total.update(Sha256::digest(c));
        }
        hex::encode(total.finalize())
    };
    let out = |id: &str| {
        let step = r.step("h", id);
        step["outputs"]["hash"].as_str().unwrap_or("?").to_string()
    };
    assert_eq!(
        out("before"),
        hash(&[b"from-the-repo\n"]),
        "{}",
        r.all_output()
    );
    assert_eq!(
        out("after"),
        hash(&[b"from-the-repo\n", b"made-by-the-job\n"]),
        "{}",
        r.all_output()
    );
    assert_eq!(
        out("excluded"),
        hash(&[b"made-by-the-job\n"]),
        "{}",
        r.all_output()
    );
    // Nothing matches (files outside the workspace never count): the empty string.
    assert_eq!(out("none"), "", "{}", r.all_output());
    if b.is_ecs() {
        assert_eq!(r.agents.len(), 1, "{}", r.all_output());
    }
}

fn workflow_and_file_commands(b) {
    let gha = Gha::with_fixture("commands.yml").on(b);
    let r = gha.run(&[]);
    let out = r.stdout();
    assert_eq!(r.code(), 0, "{}", r.all_output());
    assert!(out.contains("▼ My group"));
    assert!(
        out.contains("warning src/app.rs:4:2: Careful: something\nnext line")
            || out.contains("warning src/app.rs:4:2: Careful: something"),
        "{out}"
    );
    assert!(out.contains("error: an error annotation"), "{out}");
    assert!(out.contains("notice: a notice"), "{out}");
    assert!(out.contains("the *** is masked"), "{out}");
    // Masked from the moment add-mask ran (the script echo before it shows the text, as on
    // GitHub).
    let after_mask = &out[out.find("the *** is masked").unwrap()..];
    assert!(!after_mask.contains("hidden-value"), "{out}");
    assert!(out.contains("| ::warning::not processed"), "{out}");
    assert!(
        out.contains("The `set-output` command is deprecated"),
        "{out}"
    );
    assert_eq!(
        r.step("commands", "annotate")["outputs"]["legacy"],
        "old style"
    );
    let refused = r.step("commands", "set-env-refused");
    assert_eq!(refused["outcome"], "failure");
    assert!(out.contains("The `set-env` command is disabled."), "{out}");
    assert_eq!(r.step("commands", "set-env-allowed")["outcome"], "success");
    assert_eq!(r.step("commands", "bad-output")["outcome"], "failure");
    assert!(
        out.contains("Unable to process file command 'output' successfully."),
        "{out}"
    );
    assert!(
        out.contains("Invalid value. Matching delimiter not found 'EOF'"),
        "{out}"
    );
    assert!(out.contains("## Summary title"), "{out}");
    assert!(out.contains("masked: ***"), "{out}");
}

fn json_events(b) {
    let gha = Gha::with_workflow(
        "on: push\njobs:\n  a:\n    runs-on: x\n    steps:\n      - run: echo hello\n",
    )
    .on(b);
    let r = gha.run(&["--json"]);
    assert_eq!(r.code(), 0);
    let events: Vec<serde_json::Value> = r
        .stdout()
        .lines()
        .map(|l| serde_json::from_str(l).expect("every line is JSON"))
        .collect();
    let kinds: Vec<&str> = events
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(kinds.first(), Some(&"run_started"));
    assert_eq!(kinds.last(), Some(&"run_finished"));
    assert!(kinds.contains(&"job_started") && kinds.contains(&"step_finished"));
    assert!(
        events
            .iter()
            .any(|e| e["event"] == "log" && e["line"] == "hello")
    );
}

fn dispatch_inputs_and_event_filters(b) {
    let gha = Gha::with_fixture("dispatch.yml").on(b);
    // push to main: the workflow only runs on pushes to `release`.
    let out = gha.run_command(&[]).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no workflow runs on the 'push' event"));

    let r = gha.run(&[
        "workflow_dispatch",
        "--input",
        "count=41",
        "--input",
        "flag=true",
    ]);
    assert_eq!(r.code(), 0, "{}", r.all_output());
    let o = &r.step("show", "show")["outputs"];
    assert_eq!(o["level"], "low");
    assert_eq!(o["flag"], "true");
    assert_eq!(o["count"], "41");
    assert_eq!(o["event"], "low");

    let r = gha.run(&[
        "workflow_dispatch",
        "--input",
        "count=1",
        "--input",
        "level=max",
    ]);
    assert_eq!(r.code(), 2);
    assert!(r.stderr().contains("'max'"), "{}", r.stderr());
    let r = gha.run(&["workflow_dispatch"]);
    assert_eq!(r.code(), 2);
    assert!(
        r.stderr().contains("Required input 'count' not provided"),
        "{}",
        r.stderr()
    );
}
}
