//! `gha run` options: dry run, event payloads, vars and env files, summaries on disk.

use gha_tests::{Gha, backend_tests};

backend_tests! {
fn dry_run_plans_without_running(b) {
    let gha = Gha::with_workflow(
        "on: push\njobs:\n  a:\n    runs-on: x\n    steps:\n      - id: s\n        run: touch ran-for-real\n",
    )
    .on(b);
    let r = gha.run(&["-n"]);
    assert_eq!(r.code(), 0, "{}", r.all_output());
    assert_eq!(r.step("a", "s")["outcome"], "success");
    assert!(r.stdout().contains("| touch ran-for-real"));
    assert!(!gha.repo.path().join("ran-for-real").exists());
    // Nothing was started: under ECS, no task (so no agent).
    assert!(r.agents.is_empty(), "{}", r.all_output());
}

fn event_payload_vars_env_files_and_summary_dir(b) {
    let gha = Gha::with_workflow(
        r##"on: pull_request
jobs:
  show:
    runs-on: x
    steps:
      - id: s
        run: |
          echo "title=${{ github.event.pull_request.title }}" >> "$GITHUB_OUTPUT"
          echo "ref=${{ github.ref }}" >> "$GITHUB_OUTPUT"
          echo "head=$GITHUB_HEAD_REF" >> "$GITHUB_OUTPUT"
          echo "var=${{ vars.COLOR }}" >> "$GITHUB_OUTPUT"
          echo "env=$FROM_FILE" >> "$GITHUB_OUTPUT"
          echo "# Report for ${{ github.event.pull_request.number }}" >> "$GITHUB_STEP_SUMMARY"
"##,
    )
    .on(b);
    let event = gha.out.path().join("event.json");
    std::fs::write(
        &event,
        r#"{"action": "opened", "pull_request": {"number": 12, "title": "Fix it", "head": {"ref": "fix"}, "base": {"ref": "main"}}}"#,
    )
    .unwrap();
    let vars = gha.out.path().join("vars.env");
    std::fs::write(&vars, "COLOR=blue\n").unwrap();
    let envf = gha.out.path().join("env.env");
    std::fs::write(&envf, "FROM_FILE='from a file'\n").unwrap();
    let summaries = gha.out.path().join("summaries");
    let r = gha.run(&[
        "pull_request",
        "-e",
        event.to_str().unwrap(),
        "--var-file",
        vars.to_str().unwrap(),
        "--env-file",
        envf.to_str().unwrap(),
        "--summary-dir",
        summaries.to_str().unwrap(),
    ]);
    assert_eq!(r.code(), 0, "{}", r.all_output());
    let o = &r.step("show", "s")["outputs"];
    assert_eq!(o["title"], "Fix it");
    assert_eq!(o["ref"], "refs/pull/12/merge");
    assert_eq!(o["head"], "fix");
    assert_eq!(o["var"], "blue");
    assert_eq!(o["env"], "from a file");
    let files: Vec<_> = std::fs::read_dir(&summaries).unwrap().flatten().collect();
    assert_eq!(files.len(), 1);
    let text = std::fs::read_to_string(files[0].path()).unwrap();
    assert_eq!(text, "# Report for 12\n");
    // The push event does not trigger this workflow.
    let out = gha.run_command(&["push"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no workflow runs on the 'push' event"));
}
}
