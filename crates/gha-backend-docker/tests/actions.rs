//! Actions in Docker jobs, through the executor (`gha_exec::run::Executor`) on this backend:
//! a Dockerfile action and a `docker://` step as sibling containers (no docker CLI in the job),
//! a JavaScript action (pre, main, post, state) copied to `_actions/<owner>/<repo>/<ref>`, a
//! composite action with a nested JavaScript action, a JavaScript action in a `container:` job,
//! and a cancelled Docker action. Remote actions come from `--action-dir`-style overrides.

mod common;

use std::path::Path;
use std::sync::{Arc, Mutex};

use gha_actions::{ActionDirOverride, ActionResolver, Resolver, ResolverConfig};
use gha_backend_docker::{DockerBackend, Engine};
use gha_exec::run::{Executor, RunCancellation, RunOptions, RunReport, WorkflowFile};
use gha_exec::{Conclusion, KillPolicy, Masker, RunEvent, RunObserver};

/// Keeps every log line (masked, as observers see them).
#[derive(Default)]
struct Lines(Mutex<Vec<String>>);

impl RunObserver for Lines {
    fn on_event(&self, event: &RunEvent) {
        match event {
            RunEvent::Log { line, .. } => self.0.lock().unwrap().push(line.clone()),
            RunEvent::Annotation { annotation, .. } => self
                .0
                .lock()
                .unwrap()
                .push(format!("annotation: {}", annotation.message)),
            _ => {}
        }
    }
}

fn write(root: &Path, rel: &str, text: &str) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(&p, text).unwrap();
}

fn write_exe(root: &Path, rel: &str, text: &str) {
    use std::os::unix::fs::PermissionsExt;
    write(root, rel, text);
    std::fs::set_permissions(root.join(rel), std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// Remote actions served from local directories: `octo/<name>@v1`.
struct Actions {
    dir: tempfile::TempDir,
}

impl Actions {
    fn new() -> Actions {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        // A Dockerfile action: inputs as INPUT_*, outputs and env through the file commands,
        // a file in the workspace.
        write(
            root,
            "docker-greet/action.yml",
            r#"name: greet
description: greets in a container
inputs:
  who: {description: who, required: true}
outputs:
  greeting: {description: the greeting}
runs:
  using: docker
  image: Dockerfile
  args: ["${{ inputs.who }}", ""]
  env:
    FROM_ACTION: action-env
"#,
        );
        write(
            root,
            "docker-greet/Dockerfile",
            &format!(
                "FROM {}\nCOPY entrypoint.sh /entrypoint.sh\nENTRYPOINT [\"/entrypoint.sh\"]\n",
                common::BASE_IMAGE
            ),
        );
        write_exe(
            root,
            "docker-greet/entrypoint.sh",
            r#"#!/bin/sh
set -e
echo "args: $# [$1] [$2]"
echo "greeting=hello $INPUT_WHO" >> "$GITHUB_OUTPUT"
echo "ACTION_SET=from-the-action" >> "$GITHUB_ENV"
echo "pwd=$(pwd) home=$HOME ws=$GITHUB_WORKSPACE env=$FROM_ACTION event=$GITHUB_EVENT_PATH out=$GITHUB_OUTPUT"
test -f "$GITHUB_EVENT_PATH"
test -f hello.txt
echo "written in a container" > "$GITHUB_WORKSPACE/by-action.txt"
"#,
        );
        // A JavaScript action with pre, main and post passing state along.
        write(
            root,
            "js-steps/action.yml",
            r#"name: js
description: pre main post
inputs:
  name: {description: n, default: anon}
outputs:
  said: {description: s}
runs:
  using: node20
  pre: pre.js
  main: dist/main.js
  post: post.js
"#,
        );
        write(
            root,
            "js-steps/pre.js",
            r#"const fs = require('fs');
fs.appendFileSync(process.env.GITHUB_STATE, 'from_pre=pre-value\n');
console.log('pre ran in ' + __dirname + ' for ' + process.env.INPUT_NAME);
"#,
        );
        write(
            root,
            "js-steps/dist/main.js",
            r#"const fs = require('fs');
console.log('main state=' + process.env.STATE_from_pre + ' path=' + process.env.GITHUB_ACTION_PATH + ' name=' + process.env.INPUT_NAME);
fs.appendFileSync(process.env.GITHUB_OUTPUT, 'said=hi ' + process.env.INPUT_NAME + '\n');
fs.appendFileSync(process.env.GITHUB_STATE, 'from_main=main-value\n');
"#,
        );
        write(
            root,
            "js-steps/post.js",
            r#"console.log('post state=' + process.env.STATE_from_pre + ',' + process.env.STATE_from_main + ' name=' + process.env.INPUT_NAME);
"#,
        );
        // A composite action using the JavaScript action.
        write(
            root,
            "composite/action.yml",
            r#"name: composite
description: nests js-steps
inputs:
  who: {description: w, default: nobody}
outputs:
  said: {description: s, value: "${{ steps.inner.outputs.said }}"}
runs:
  using: composite
  steps:
    - run: echo "composite starts at $GITHUB_ACTION_PATH"; test -f "$GITHUB_ACTION_PATH/action.yml"
      shell: bash
    - id: inner
      uses: octo/js-steps@v1
      with:
        name: ${{ inputs.who }}
    - run: echo "composite ends"
      shell: bash
"#,
        );
        Actions { dir }
    }

    fn resolver(&self, workspace: &Path) -> Arc<dyn ActionResolver> {
        let cache = tempfile::tempdir().unwrap().keep();
        let mut config = ResolverConfig::new(workspace)
            .offline(true)
            .token(None)
            .cache(gha_actions::ActionCache::new(cache));
        for name in ["docker-greet", "js-steps", "composite"] {
            config = config.with_override(ActionDirOverride {
                owner: "octo".into(),
                repo: name.into(),
                git_ref: "v1".into(),
                dir: self.dir.path().join(name),
            });
        }
        Arc::new(Resolver::new(config))
    }
}

struct Ran {
    report: RunReport,
    lines: Vec<String>,
}

impl Ran {
    fn has(&self, text: &str) -> bool {
        self.lines.iter().any(|l| l.contains(text))
    }
    fn position(&self, text: &str) -> usize {
        self.lines
            .iter()
            .position(|l| l.contains(text))
            .unwrap_or_else(|| panic!("no line with {text:?} in {:#?}", self.lines))
    }
    fn step_output(&self, step: &str, key: &str) -> String {
        let s = self.report.jobs[0]
            .steps
            .iter()
            .find(|s| s.id == step)
            .unwrap_or_else(|| panic!("no step {step}: {:#?}", self.report.jobs[0].steps));
        s.outputs
            .get(key)
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .to_string()
    }
}

/// Runs `workflow` in a repository holding `hello.txt` on `backend`.
async fn run(
    backend: DockerBackend,
    actions: &Actions,
    workflow: &str,
    tweak: fn(&mut RunOptions),
) -> Ran {
    let repo = tempfile::tempdir().unwrap();
    std::fs::write(repo.path().join("hello.txt"), "hello\n").unwrap();
    let lines = Arc::new(Lines::default());
    let executor = Executor::new(Arc::new(backend), lines.clone(), Arc::new(Masker::new()));
    let mut options = RunOptions::new(repo.path());
    options.actions.resolver = Some(actions.resolver(repo.path()));
    tweak(&mut options);
    let workflow = gha_model::Workflow::from_yaml(workflow).unwrap();
    let report = executor
        .run(
            vec![WorkflowFile {
                path: ".github/workflows/ci.yml".into(),
                workflow,
            }],
            options,
            RunCancellation::default(),
        )
        .await
        .unwrap();
    let lines = lines.0.lock().unwrap().clone();
    Ran { report, lines }
}

fn backend(engine: &Engine) -> (DockerBackend, String, tempfile::TempDir) {
    let (backend, runs) = common::backend(engine);
    let instance = backend.instance().to_string();
    (backend, instance, runs)
}

#[tokio::test]
async fn a_dockerfile_action_runs_as_a_sibling_container_with_the_github_mounts() {
    let engine = engine_or_skip!();
    let actions = Actions::new();
    // Content no earlier run had: the first use must build.
    write(
        actions.dir.path(),
        "docker-greet/nonce.txt",
        &format!("{:?}", std::time::SystemTime::now()),
    );
    let (backend, instance, _runs) = backend(&engine);
    let ran = run(
        backend,
        &actions,
        r#"on: push
jobs:
  docker:
    runs-on: ubuntu-latest
    steps:
      - id: greet
        uses: octo/docker-greet@v1
        with:
          who: Mona
      - id: after
        run: |
          cat by-action.txt
          test "$ACTION_SET" = from-the-action
          echo "seen=${{ steps.greet.outputs.greeting }}" >> "$GITHUB_OUTPUT"
"#,
        |_| {},
    )
    .await;
    assert_eq!(
        ran.report.conclusion,
        Conclusion::Success,
        "{:#?}",
        ran.lines
    );
    assert!(ran.has("args: 2 [Mona] []"), "{:#?}", ran.lines);
    assert!(
        ran.has("pwd=/github/workspace home=/github/home ws=/github/workspace env=action-env event=/github/workflow/event.json out=/github/file_commands/set_output_"),
        "{:#?}",
        ran.lines
    );
    assert!(ran.has("written in a container"), "{:#?}", ran.lines);
    assert!(ran.has("Step 1/"), "no build output: {:#?}", ran.lines);
    assert_eq!(ran.step_output("greet", "greeting"), "hello Mona");
    assert_eq!(ran.step_output("after", "seen"), "hello Mona");
    common::assert_nothing_left(&engine, &instance).await;

    // The image is tagged by the action's content: a second run builds nothing.
    let tag =
        gha_exec::action_container::build_tag(&actions.dir.path().join("docker-greet")).unwrap();
    assert!(engine.docker().inspect_image(&tag).await.is_ok());
    let (backend, instance, _runs2) = self::backend(&engine);
    let again = run(
        backend,
        &actions,
        "on: push\njobs:\n  d:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: octo/docker-greet@v1\n        with: {who: Hubot}\n",
        |_| {},
    )
    .await;
    assert_eq!(
        again.report.conclusion,
        Conclusion::Success,
        "{:#?}",
        again.lines
    );
    assert!(!again.has("Step 1/"), "rebuilt: {:#?}", again.lines);
    common::assert_nothing_left(&engine, &instance).await;
    engine
        .docker()
        .remove_image(
            &tag,
            None::<bollard::query_parameters::RemoveImageOptions>,
            None,
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn a_docker_image_step_runs_with_entrypoint_and_args_inputs() {
    let engine = engine_or_skip!();
    let actions = Actions::new();
    let (backend, instance, _runs) = backend(&engine);
    let ran = run(
        backend,
        &actions,
        r#"on: push
jobs:
  image:
    runs-on: ubuntu-latest
    steps:
      - id: img
        uses: docker://gha-runner/base:bookworm
        env:
          GREETING: from-step-env
        with:
          entrypoint: /bin/sh
          args: -c "echo $GREETING in $(pwd) > img.txt; echo x=1 >> $GITHUB_OUTPUT; exit 0"
      - run: cat img.txt
      - id: fails
        continue-on-error: true
        uses: docker://gha-runner/base:bookworm
        with:
          entrypoint: sh
          args: -c "exit 7"
"#,
        |_| {},
    )
    .await;
    assert_eq!(
        ran.report.conclusion,
        Conclusion::Success,
        "{:#?}",
        ran.lines
    );
    assert!(
        ran.has("from-step-env in /github/workspace"),
        "{:#?}",
        ran.lines
    );
    assert_eq!(ran.step_output("img", "x"), "1");
    assert!(
        ran.has("Process completed with exit code 7."),
        "{:#?}",
        ran.lines
    );
    let fails = &ran.report.jobs[0].steps[2];
    assert_eq!(fails.outcome, Conclusion::Failure);
    common::assert_nothing_left(&engine, &instance).await;
}

#[tokio::test]
async fn a_javascript_action_runs_pre_main_and_post_from_the_actions_directory() {
    let engine = engine_or_skip!();
    let actions = Actions::new();
    let (backend, instance, _runs) = backend(&engine);
    let ran = run(
        backend,
        &actions,
        r#"on: push
jobs:
  js:
    runs-on: ubuntu-latest
    steps:
      - id: js
        uses: octo/js-steps@v1
        with:
          name: Mona
      - run: echo "between"
"#,
        |_| {},
    )
    .await;
    assert_eq!(
        ran.report.conclusion,
        Conclusion::Success,
        "{:#?}",
        ran.lines
    );
    let dir = "/home/runner/work/_actions/octo/js-steps/v1";
    let pre = ran.position(&format!("pre ran in {dir} for Mona"));
    let main = ran.position(&format!("main state=pre-value path={dir} name=Mona"));
    let between = ran.position("between");
    let post = ran.position("post state=pre-value,main-value name=Mona");
    assert!(
        pre < main && main < between && between < post,
        "{:#?}",
        ran.lines
    );
    assert_eq!(ran.step_output("js", "said"), "hi Mona");
    common::assert_nothing_left(&engine, &instance).await;
}

#[tokio::test]
async fn a_composite_action_runs_the_pre_and_post_of_its_nested_action() {
    let engine = engine_or_skip!();
    let actions = Actions::new();
    let (backend, instance, _runs) = backend(&engine);
    let ran = run(
        backend,
        &actions,
        r#"on: push
jobs:
  composite:
    runs-on: ubuntu-latest
    steps:
      - run: echo "first job step"
      - id: comp
        uses: octo/composite@v1
        with:
          who: Octo
      - run: echo "last job step"
"#,
        |_| {},
    )
    .await;
    assert_eq!(
        ran.report.conclusion,
        Conclusion::Success,
        "{:#?}",
        ran.lines
    );
    let first = ran.position("first job step");
    let pre = ran.position("pre ran in /home/runner/work/_actions/octo/js-steps/v1 for Octo");
    let starts = ran.position("composite starts at /home/runner/work/_actions/octo/composite/v1");
    let main = ran.position("main state=pre-value");
    let ends = ran.position("composite ends");
    let last = ran.position("last job step");
    let post = ran.position("post state=pre-value,main-value name=Octo");
    // The nested pre runs when the composite step starts, not at job set-up.
    assert!(first < pre, "{:#?}", ran.lines);
    assert!(
        pre < starts && starts < main && main < ends && ends < last && last < post,
        "{:#?}",
        ran.lines
    );
    assert_eq!(ran.step_output("comp", "said"), "hi Octo");
    common::assert_nothing_left(&engine, &instance).await;
}

#[tokio::test]
async fn a_javascript_action_runs_in_a_container_job() {
    let engine = engine_or_skip!();
    let actions = Actions::new();
    let (backend, instance, _runs) = backend(&engine);
    let ran = run(
        backend,
        &actions,
        &format!(
            r#"on: push
jobs:
  in-container:
    runs-on: ubuntu-latest
    container: {}
    steps:
      - id: js
        uses: octo/js-steps@v1
"#,
            common::BASE_IMAGE
        ),
        |_| {},
    )
    .await;
    assert_eq!(
        ran.report.conclusion,
        Conclusion::Success,
        "{:#?}",
        ran.lines
    );
    assert!(
        ran.has("main state=pre-value path=/__w/_actions/octo/js-steps/v1 name=anon"),
        "{:#?}",
        ran.lines
    );
    assert!(
        ran.has("post state=pre-value,main-value"),
        "{:#?}",
        ran.lines
    );
    common::assert_nothing_left(&engine, &instance).await;
}

#[tokio::test]
async fn a_timed_out_docker_action_is_killed_and_removed() {
    let engine = engine_or_skip!();
    let actions = Actions::new();
    let (backend, instance, _runs) = backend(&engine);
    let started = std::time::Instant::now();
    let ran = run(
        backend,
        &actions,
        r#"on: push
jobs:
  slow:
    runs-on: ubuntu-latest
    steps:
      - uses: docker://gha-runner/base:bookworm
        timeout-minutes: 0.05
        with:
          entrypoint: sleep
          args: "300"
"#,
        |o| {
            o.kill_policy = KillPolicy {
                after_sigint: std::time::Duration::from_millis(300),
                after_sigterm: std::time::Duration::from_millis(300),
            }
        },
    )
    .await;
    assert_eq!(
        ran.report.conclusion,
        Conclusion::Failure,
        "{:#?}",
        ran.lines
    );
    assert!(
        ran.has("has timed out after 0.05 minutes"),
        "{:#?}",
        ran.lines
    );
    assert!(
        started.elapsed() < std::time::Duration::from_secs(60),
        "{:?}",
        started.elapsed()
    );
    common::assert_nothing_left(&engine, &instance).await;
}
