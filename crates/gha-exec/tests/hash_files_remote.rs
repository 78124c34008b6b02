//! `hashFiles` when `gha` cannot see the job's workspace (an ECS task): the executor asks the
//! job environment ([`JobEnv::hash_files`]) for steps, `with:` of actions and composite
//! actions' own steps, and says clearly when it cannot (a current-thread runtime).
//!
//! The backend here is the host backend with its workspace hidden from the executor
//! (`host_workspace: None`), answering `hash_files` itself, as an ECS agent does.

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use gha_exec::run::{Executor, RunCancellation, RunOptions, RunReport, WorkflowFile};
use gha_exec::{
    Backend, BackendError, CancellationToken, Exec, ExitStatus, HostBackend, HostBackendOptions,
    JobEnv, JobPaths, JobSpec, LogSink, Masker, RunEvent, RunObserver, async_trait,
};
use sha2::{Digest, Sha256};

struct Hidden {
    host: HostBackend,
    asked: Arc<AtomicUsize>,
}

struct HiddenEnv {
    inner: Box<dyn JobEnv>,
    paths: JobPaths,
    asked: Arc<AtomicUsize>,
}

#[async_trait]
impl Backend for Hidden {
    fn name(&self) -> &str {
        "hidden"
    }
    async fn start_job(&self, spec: &JobSpec) -> Result<Box<dyn JobEnv>, BackendError> {
        let inner = self.host.start_job(spec).await?;
        let mut paths = inner.paths().clone();
        paths.host_workspace = None;
        Ok(Box::new(HiddenEnv {
            inner,
            paths,
            asked: self.asked.clone(),
        }))
    }
}

#[async_trait]
impl JobEnv for HiddenEnv {
    fn paths(&self) -> &JobPaths {
        &self.paths
    }
    async fn exec(
        &self,
        exec: &Exec,
        sink: &dyn LogSink,
        cancel: CancellationToken,
    ) -> Result<ExitStatus, BackendError> {
        self.inner.exec(exec, sink, cancel).await
    }
    async fn write_file(&self, path: &str, contents: &[u8]) -> Result<(), BackendError> {
        self.inner.write_file(path, contents).await
    }
    async fn read_file(&self, path: &str) -> Result<Vec<u8>, BackendError> {
        self.inner.read_file(path).await
    }
    async fn hash_files(&self, patterns: &[String]) -> Result<String, BackendError> {
        self.asked.fetch_add(1, Ordering::SeqCst);
        // The answer comes from another task, as a remote agent's reply does.
        tokio::task::yield_now().await;
        self.inner.hash_files(patterns).await
    }
    async fn stop(&self) -> Result<(), BackendError> {
        self.inner.stop().await
    }
}

#[derive(Default)]
struct Lines(Mutex<Vec<String>>);

impl RunObserver for Lines {
    fn on_event(&self, e: &RunEvent) {
        self.0.lock().unwrap().push(format!("{e:?}"));
    }
}

const WORKFLOW: &str = r#"
on: push
jobs:
  h:
    runs-on: ubuntu-latest
    steps:
      - id: before
        run: echo "hash=${{ hashFiles('**/*.txt') }}" >> "$GITHUB_OUTPUT"
      - run: echo made-by-the-job > made.txt
      - id: after
        if: hashFiles('**/*.txt') != ''
        run: echo "hash=${{ hashFiles('**/*.txt', '!nothing') }}" >> "$GITHUB_OUTPUT"
      - id: composite
        uses: ./hasher
        with:
          given: ${{ hashFiles('made.txt') }}
"#;

const ACTION: &str = r#"
name: hasher
inputs:
  given:
    required: true
outputs:
  both:
    value: ${{ steps.s.outputs.both }}
runs:
  using: composite
  steps:
    - id: s
      shell: bash
      run: echo "both=${{ inputs.given }}/${{ hashFiles('*.txt') }}" >> "$GITHUB_OUTPUT"
"#;

struct Run {
    report: RunReport,
    asked: usize,
    events: Vec<String>,
}

async fn run() -> Run {
    let repo = tempfile::tempdir().unwrap();
    std::fs::create_dir(repo.path().join("hasher")).unwrap();
    std::fs::write(repo.path().join("hasher/action.yml"), ACTION).unwrap();
    let runs = tempfile::tempdir().unwrap();
    let asked = Arc::new(AtomicUsize::new(0));
    let backend = Hidden {
        host: HostBackend::new(HostBackendOptions::new(runs.path())),
        asked: asked.clone(),
    };
    let lines = Arc::new(Lines::default());
    let executor = Executor::new(Arc::new(backend), lines.clone(), Arc::new(Masker::new()));
    let workflow = gha_model::Workflow::from_yaml(WORKFLOW).unwrap();
    let report = executor
        .run(
            vec![WorkflowFile {
                path: "ci.yml".into(),
                workflow,
            }],
            RunOptions::new(repo.path()),
            RunCancellation::default(),
        )
        .await
        .unwrap();
    let events = lines.0.lock().unwrap().clone();
    Run {
        report,
        asked: asked.load(Ordering::SeqCst),
        events,
    }
}

fn output(report: &RunReport, step: &str, name: &str) -> String {
    let s = report.jobs[0]
        .steps
        .iter()
        .find(|s| s.id == step)
        .unwrap_or_else(|| panic!("no step {step}: {report:?}"));
    s.outputs[name].as_str().unwrap_or_default().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn steps_and_composite_actions_hash_through_the_job_env() {
    let r = run().await;
    assert_eq!(
        r.report.conclusion,
        gha_exec::Conclusion::Success,
        "{:#?}",
        r.events
    );
    let made = hex::encode(Sha256::digest(Sha256::digest(b"made-by-the-job\n")));
    assert_eq!(output(&r.report, "before", "hash"), "");
    assert_eq!(output(&r.report, "after", "hash"), made);
    assert_eq!(
        output(&r.report, "composite", "both"),
        format!("{made}/{made}")
    );
    // before, if:, after, with:, the composite's step: every one asked the job environment.
    assert_eq!(r.asked, 5, "{:#?}", r.events);
}

#[tokio::test(flavor = "current_thread")]
async fn a_current_thread_runtime_fails_the_step_with_a_clear_error() {
    let r = run().await;
    assert_eq!(r.report.conclusion, gha_exec::Conclusion::Failure);
    assert_eq!(r.report.jobs[0].steps[0].id, "before");
    assert_eq!(
        r.report.jobs[0].steps[0].conclusion,
        gha_exec::Conclusion::Failure
    );
    assert!(
        r.events
            .iter()
            .any(|e| e.contains("needs a multi-thread Tokio runtime (this one is current-thread)")),
        "{:#?}",
        r.events
    );
    assert_eq!(r.asked, 0);
}
