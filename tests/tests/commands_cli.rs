//! Workflow commands (`::debug::` and `ACTIONS_STEP_DEBUG`, `::echo::`, `save-state`'s
//! deprecation, `add-path` and `ACTIONS_ALLOW_UNSECURE_COMMANDS`), `defaults.run` and the
//! default shell, the `github`/`runner` contexts against their variables, `hashFiles` with an
//! exclusion, and the `gha run` flags `-s`, `--env`, `--bind` and `-W`.

use gha_tests::{Backend, Gha, RunResult, backend_tests, fixtures};
use sha2::{Digest, Sha256};

/// GitHub's text for a refused `add-path` (the runner's `UnsupportedCommandMessageDisabled`).
const ADD_PATH_DISABLED: &str = "The `add-path` command is disabled. Please upgrade to using Environment Files or opt into unsecure command execution by setting the `ACTIONS_ALLOW_UNSECURE_COMMANDS` environment variable to `true`. For more information see: https://github.blog/changelog/2020-10-01-github-actions-deprecating-set-env-and-add-path-commands/";

/// GitHub's deprecation warning for `save-state`.
const SAVE_STATE_DEPRECATED: &str = "The `save-state` command is deprecated and will be disabled soon. Please upgrade to using Environment Files. For more information see: https://github.blog/changelog/2022-10-11-github-actions-deprecating-save-state-and-set-output-commands/";

/// Whether some output line is exactly the log line `text` of a step (`[job]   | text`).
fn logged(out: &str, text: &str) -> bool {
    out.lines().any(|l| {
        l.strip_suffix(text)
            .is_some_and(|head| head.starts_with('[') && head.ends_with("]   | "))
    })
}

/// Piped output is plain: no ANSI escapes and none of the progress display's spinner frames
/// (braille characters) — the terminal-only parts of the renderer stay off.
fn assert_plain(r: &RunResult) {
    let out = r.stdout();
    assert!(
        !out.contains('\x1b'),
        "escape sequence in piped output:\n{out}"
    );
    assert!(
        !out.chars().any(|c| ('\u{2800}'..='\u{28ff}').contains(&c)),
        "progress spinner in piped output:\n{out}"
    );
}

fn output<'a>(r: &'a RunResult, job: &str, step: &str, key: &str) -> &'a serde_json::Value {
    &r.step(job, step)["outputs"][key]
}

backend_tests! {
fn debug_echo_save_state_and_add_path(b) {
    let gha = Gha::with_fixture("workflow_commands.yml").on(b);

    // Without ACTIONS_STEP_DEBUG: the debug message is not shown.
    let r = gha.run(&[]);
    let out = r.stdout();
    assert_eq!(r.code(), 0, "{}", r.all_output());
    assert_plain(&r);
    assert!(logged(&out, "after-debug"), "{out}");
    assert!(!out.contains("debug: a-debug-message"), "{out}");
    // ::echo::on shows the commands that follow (::echo::off included), not those before or
    // after; every set-output still takes effect.
    assert!(logged(&out, "::set-output name=loud::l1"), "{out}");
    assert!(logged(&out, "::echo::off"), "{out}");
    assert!(!logged(&out, "::echo::on"), "{out}");
    assert!(!logged(&out, "::set-output name=quiet::q1"), "{out}");
    assert!(!logged(&out, "::set-output name=quiet2::q2"), "{out}");
    for (k, v) in [("quiet", "q1"), ("loud", "l1"), ("quiet2", "q2")] {
        assert_eq!(output(&r, "cmds", "echo", k), v, "{}", r.all_output());
    }
    // save-state works, with GitHub's deprecation warning.
    assert!(out.contains(&format!("warning: {SAVE_STATE_DEPRECATED}")), "{out}");
    assert_eq!(r.step("cmds", "state")["outcome"], "success");
    // add-path: refused (the step fails, with GitHub's two errors) unless
    // ACTIONS_ALLOW_UNSECURE_COMMANDS is true; the allowed directory leads the next step's PATH.
    let refused = r.step("cmds", "path-refused");
    assert_eq!(
        (refused["outcome"].as_str(), refused["conclusion"].as_str()),
        (Some("failure"), Some("success")),
        "{}",
        r.all_output()
    );
    assert!(
        out.contains("error: Unable to process command '::add-path::/opt/refused-dir' successfully."),
        "{out}"
    );
    assert!(out.contains(&format!("error: {ADD_PATH_DISABLED}")), "{out}");
    assert_eq!(r.step("cmds", "path-allowed")["outcome"], "success");
    let path = output(&r, "cmds", "path", "path").as_str().unwrap_or("").to_string();
    assert!(path.starts_with("/opt/allowed-dir:"), "PATH={path}\n{}", r.all_output());
    assert!(!path.contains("refused-dir"), "PATH={path}");

    // ACTIONS_STEP_DEBUG as a variable, then as a secret: the debug message is shown.
    for flag in ["--var", "-s"] {
        let r = gha.run(&[flag, "ACTIONS_STEP_DEBUG=true"]);
        assert_eq!(r.code(), 0, "{flag}: {}", r.all_output());
        assert!(r.stdout().contains("debug: a-debug-message"), "{flag}: {}", r.stdout());
        if !b.is_host() {
            // The variable reaches the job wherever it runs; the secret form is host only.
            break;
        }
    }
    // Any other value than true leaves debugging off.
    let r = gha.run(&["--var", "ACTIONS_STEP_DEBUG=yes"]);
    assert!(!r.stdout().contains("debug: a-debug-message"), "{}", r.stdout());
}

fn defaults_run_shell_and_contexts(b) {
    let text = std::fs::read_to_string(fixtures().join("contexts.yml")).unwrap();
    let gha = Gha::empty();
    gha.write(".github/workflows/contexts.yml", &text);
    gha.write("sub/a.txt", "a\n");
    gha.write("sub/dir/b.txt", "b\n");
    gha.write("sub/dir/c.txt", "c\n");
    gha.commit();
    let git = |args: &[&str]| {
        let ok = std::process::Command::new("git")
            .arg("-C")
            .arg(gha.repo.path())
            .args(args)
            .status()
            .unwrap()
            .success();
        assert!(ok, "git {args:?}");
    };
    git(&["remote", "add", "origin", "git@github.com:octo-org/hello-world.git"]);
    git(&["config", "user.name", "octo-tester"]);
    let sha = String::from_utf8(
        std::process::Command::new("git")
            .arg("-C")
            .arg(gha.repo.path())
            .args(["rev-parse", "HEAD"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap()
    .trim()
    .to_string();
    let gha = gha.on(b);
    let r = gha.run(&[]);
    if b.is_ecs() && r.job("hash")["conclusion"] == "failure" {
        // The known ECS gap (steps.rs, hash_files_reads_the_job_workspace): gha cannot see
        // the task's workspace. Only that failure is accepted; once it is fixed, the hashes
        // below are checked on ECS too.
        assert!(
            r.stdout().contains("hashFiles: the workspace") && r.stdout().contains("is not visible to gha"),
            "{}",
            r.all_output()
        );
        assert!(r.jobs("hash").len() == 1 && r.code() == 1, "{}", r.all_output());
    } else {
        assert_eq!(r.code(), 0, "{}", r.all_output());
    }
    for job in ["wf-defaults", "job-defaults", "default-shell"] {
        assert_eq!(r.job(job)["conclusion"], "success", "{}", r.all_output());
    }
    let o = |job: &str, step: &str, key: &str| {
        output(&r, job, step, key).as_str().unwrap_or("<missing>").to_string()
    };
    // Workflow defaults: sh in sub/.
    assert_eq!(o("wf-defaults", "s", "bash"), "none", "{}", r.all_output());
    assert_eq!(o("wf-defaults", "s", "dir"), "sub");
    // Job defaults win over the workflow's: bash in sub/dir; the step's own keys win over both.
    assert_eq!(o("job-defaults", "s", "bash"), "yes", "{}", r.all_output());
    assert_eq!(o("job-defaults", "s", "dir"), "dir");
    assert_eq!(o("job-defaults", "step-wins", "bash"), "none");
    assert_eq!(o("job-defaults", "step-wins", "dir"), "root");
    // The default shell is `bash -e {0}`: no pipefail.
    assert_eq!(o("default-shell", "nopipefail", "reached"), "yes", "{}", r.all_output());
    assert!(
        logged(&r.stdout(), "shell: /usr/bin/bash -e {0}") || logged(&r.stdout(), "shell: bash -e {0}"),
        "{}",
        r.stdout()
    );
    // github.* and runner.* agree with GITHUB_* and RUNNER_* (the step checks) and say:
    let c = |key: &str| o("default-shell", "contexts", key);
    assert_eq!(c("sha"), sha);
    assert_eq!(c("repository"), "octo-org/hello-world");
    assert_eq!(c("owner"), "octo-org");
    assert_eq!(c("run_id"), r.pid.to_string());
    assert_eq!(c("run_number"), "1");
    assert_eq!(c("actor"), "octo-tester");
    assert_eq!(c("os"), "Linux");
    let arch = match std::env::consts::ARCH {
        "x86_64" => "X64",
        "aarch64" => "ARM64",
        "x86" => "X86",
        "arm" => "ARM",
        other => other,
    };
    assert_eq!(c("arch"), arch);
    assert!(c("temp").starts_with('/') && c("tool_cache").starts_with('/'), "{}", r.all_output());
    assert_ne!(c("temp"), c("tool_cache"));
    // hashFiles: sha256 over each matched file's sha256, in path order; '!' removes b.txt.
    let hash = |files: &[&str]| {
        let mut all = Sha256::new();
        for f in files {
            all.update(Sha256::digest(f.as_bytes()));
        }
        hex::encode(all.finalize())
    };
    if r.job("hash")["conclusion"] == "success" {
        let h = |key: &str| o("hash", "h", key);
        assert_eq!(h("all"), hash(&["a\n", "b\n", "c\n"]), "{}", r.all_output());
        assert_eq!(h("excluding"), hash(&["a\n", "c\n"]), "{}", r.all_output());
    }
}

fn secrets_env_and_workflow_paths(b) {
    let gha = Gha::with_workflow(
        r#"
on: push
env:
  FROM_CLI: workflow-value
jobs:
  cli:
    runs-on: ubuntu-latest
    env:
      JOB_LEVEL: job-value
    steps:
      - id: s
        env:
          TOKEN: ${{ secrets.MY_TOKEN }}
        run: |
          echo "secret-expr=${{ secrets.MY_TOKEN }}"
          echo "secret-env=$TOKEN"
          echo "len=${#TOKEN}" >> "$GITHUB_OUTPUT"
          echo "env=$FROM_CLI" >> "$GITHUB_OUTPUT"
          echo "job=$JOB_LEVEL" >> "$GITHUB_OUTPUT"
          echo "only=$ONLY_CLI" >> "$GITHUB_OUTPUT"
"#,
    )
    .on(b);
    let value = "s3cr3t-Value-42";
    let secret = format!("MY_TOKEN={value}");
    let r = gha.run(&[
        "-s",
        &secret,
        "--env",
        "FROM_CLI=from-the-flag",
        "--env",
        "JOB_LEVEL=from-the-flag",
        "--env",
        "ONLY_CLI=only-flag",
    ]);
    let out = r.stdout();
    assert_eq!(r.code(), 0, "{}", r.all_output());
    // The secret reached the step (its length) and is masked wherever it is printed.
    assert_eq!(output(&r, "cli", "s", "len"), "15", "{}", r.all_output());
    assert!(logged(&out, "secret-expr=***"), "{out}");
    assert!(logged(&out, "secret-env=***"), "{out}");
    assert!(!r.all_output().contains(value), "{}", r.all_output());
    // --env overrides the workflow's env; the job's env still wins over it.
    assert_eq!(output(&r, "cli", "s", "env"), "from-the-flag");
    assert_eq!(output(&r, "cli", "s", "job"), "job-value");
    assert_eq!(output(&r, "cli", "s", "only"), "only-flag");

    // -W DIR runs the workflows of that directory (.yml and .yaml); -W repeated runs each.
    let wdir = fixtures().join("wdir");
    let r = gha.run(&["-W", wdir.to_str().unwrap()]);
    assert_eq!(r.code(), 0, "{}", r.all_output());
    let mut ran = r.printed("ran");
    ran.sort();
    assert_eq!(ran, ["one", "two"], "{}", r.all_output());
    assert!(r.jobs("cli").is_empty(), "{}", r.report);
    let one = wdir.join("one.yml");
    let two = wdir.join("two.yaml");
    let r = gha.run(&["-W", one.to_str().unwrap(), "-W", two.to_str().unwrap()]);
    assert_eq!(r.code(), 0, "{}", r.all_output());
    let mut ran = r.printed("ran");
    ran.sort();
    assert_eq!(ran, ["one", "two"], "{}", r.all_output());
    let r = gha.run(&["-W", one.to_str().unwrap()]);
    assert_eq!(r.printed("ran"), ["one"], "{}", r.all_output());
}
}

/// `--bind` runs the host backend in the working tree itself, so what a step writes stays in
/// the repository; without it, jobs run in a copy. Host only: the flag is the host backend's
/// (Docker and ECS jobs always work on their own copy).
#[test]
fn bind_runs_in_the_working_tree() {
    let gha = Gha::with_workflow(
        "on: push\njobs:\n  w:\n    runs-on: x\n    steps:\n      - run: echo made > made-by-step.txt\n",
    )
    .on(Backend::Host);
    let made = gha.repo.path().join("made-by-step.txt");
    let r = gha.run(&[]);
    assert_eq!(r.code(), 0, "{}", r.all_output());
    assert!(
        !made.exists(),
        "a run without --bind wrote into the repository"
    );
    let r = gha.run(&["--bind"]);
    assert_eq!(r.code(), 0, "{}", r.all_output());
    assert_eq!(std::fs::read_to_string(&made).unwrap(), "made\n");
}

/// Where `::echo::on` differs from GitHub's runner (ActionCommandManager): `add-mask`,
/// `debug`, `notice`, `warning` and `error` are never echoed (`OmitEcho`), an echoed
/// `add-mask` shows `::add-mask::***`, and with `ACTIONS_STEP_DEBUG` echoing starts on
/// (`EchoOnActionCommand = Step_Debug`). Host only: command processing is the same code on
/// every backend.
#[test]
fn echo_follows_the_runner() {
    let gha = Gha::with_workflow(
        r#"
on: push
jobs:
  e:
    runs-on: x
    steps:
      - run: |
          echo "::set-output name=before::b"
          echo "::echo::on"
          echo "::add-mask::leaky-value"
          echo "::warning::warned-once"
          echo "::set-output name=after::a"
"#,
    )
    .on(Backend::Host);
    let r = gha.run(&[]);
    let out = r.stdout();
    assert_eq!(r.code(), 0, "{}", r.all_output());
    assert!(logged(&out, "::set-output name=after::a"), "{out}");
    assert!(
        !logged(&out, "::add-mask::leaky-value"),
        "the mask value was echoed:\n{out}"
    );
    assert!(logged(&out, "::add-mask::***"), "{out}");
    assert!(!logged(&out, "::warning::warned-once"), "{out}");
    // Step debugging turns echoing on from the start.
    let r = gha.run(&["--var", "ACTIONS_STEP_DEBUG=true"]);
    assert!(
        logged(&r.stdout(), "::set-output name=before::b"),
        "{}",
        r.stdout()
    );
}
