//! A GitHub-shaped REST server on 127.0.0.1 for tests (feature `test-server`): workflow runs,
//! their jobs with steps, the contents API and tarballs (through a redirect, as GitHub does),
//! with response bodies shaped like GitHub's.

use std::io::Write;

use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// The fake server.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use gha_rr::rerun::test_server::{FakeGitHub, run_json};
/// let gh = FakeGitHub::start().await;
/// gh.add_run("octo", "hello", run_json(7, "abc123", ".github/workflows/ci.yml")).await;
/// let api = gha_rr::rerun::GitHubApi::new(&gh.url(), None).unwrap();
/// let r = gha_rr::rerun::RunRef::parse("octo/hello", Some("7")).unwrap();
/// assert_eq!(api.run(&r).await.unwrap().head_sha, "abc123");
/// # }
/// ```
pub struct FakeGitHub {
    server: MockServer,
}

/// A run as `GET /repos/{owner}/{repo}/actions/runs/{id}` returns it (a failed push run).
pub fn run_json(id: u64, head_sha: &str, workflow_path: &str) -> Value {
    json!({
        "id": id,
        "name": "CI",
        "node_id": "WFR_kwLOA",
        "head_branch": "main",
        "head_sha": head_sha,
        "path": workflow_path,
        "display_title": "Make the tests fail",
        "run_number": 12,
        "event": "push",
        "status": "completed",
        "conclusion": "failure",
        "workflow_id": 161335,
        "check_suite_id": 414944374,
        "url": format!("https://api.github.com/repos/octo/hello/actions/runs/{id}"),
        "html_url": format!("https://github.com/octo/hello/actions/runs/{id}"),
        "pull_requests": [],
        "created_at": "2026-11-30T10:00:00Z",
        "updated_at": "2026-11-30T10:05:00Z",
        "run_attempt": 1,
        "run_started_at": "2026-11-30T10:00:00Z",
        "jobs_url": format!("https://api.github.com/repos/octo/hello/actions/runs/{id}/jobs"),
        "logs_url": format!("https://api.github.com/repos/octo/hello/actions/runs/{id}/logs"),
        "head_commit": {"id": head_sha, "message": "Make the tests fail"},
        "repository": {"id": 1296269, "full_name": "octo/hello"},
    })
}

/// A job as the jobs list returns it; `steps` are `(name, conclusion)` in GitHub's order
/// ("Set up job" first), numbered from 1.
pub fn job_json(
    id: u64,
    run_id: u64,
    name: &str,
    conclusion: &str,
    steps: &[(&str, &str)],
) -> Value {
    let steps: Vec<Value> = steps
        .iter()
        .enumerate()
        .map(|(i, (n, c))| {
            json!({
                "name": n,
                "status": "completed",
                "conclusion": c,
                "number": i + 1,
                "started_at": "2026-11-30T10:01:00Z",
                "completed_at": "2026-11-30T10:01:05Z",
            })
        })
        .collect();
    json!({
        "id": id,
        "run_id": run_id,
        "workflow_name": "CI",
        "head_branch": "main",
        "run_url": format!("https://api.github.com/repos/octo/hello/actions/runs/{run_id}"),
        "run_attempt": 1,
        "node_id": "CR_kwDOA",
        "head_sha": "",
        "url": format!("https://api.github.com/repos/octo/hello/actions/jobs/{id}"),
        "html_url": format!("https://github.com/octo/hello/actions/runs/{run_id}/job/{id}"),
        "status": "completed",
        "conclusion": conclusion,
        "created_at": "2026-11-30T10:00:10Z",
        "started_at": "2026-11-30T10:00:20Z",
        "completed_at": "2026-11-30T10:04:00Z",
        "name": name,
        "steps": steps,
        "check_run_url": format!("https://api.github.com/repos/octo/hello/check-runs/{id}"),
        "labels": ["ubuntu-latest"],
        "runner_id": 1,
        "runner_name": "GitHub Actions 1",
        "runner_group_id": 0,
        "runner_group_name": "GitHub Actions",
    })
}

impl FakeGitHub {
    /// Starts the server on 127.0.0.1.
    pub async fn start() -> FakeGitHub {
        FakeGitHub {
            server: MockServer::start().await,
        }
    }

    /// The API base URL.
    pub fn url(&self) -> String {
        self.server.uri()
    }

    /// Serves `run` at `/repos/{owner}/{repo}/actions/runs/{run.id}`.
    pub async fn add_run(&self, owner: &str, repo: &str, run: Value) {
        let id = run["id"].as_u64().unwrap_or_default();
        Mock::given(method("GET"))
            .and(path(format!("/repos/{owner}/{repo}/actions/runs/{id}")))
            .respond_with(ResponseTemplate::new(200).set_body_json(run))
            .mount(&self.server)
            .await;
    }

    /// Serves `jobs` as the jobs list of run `run_id` (one page).
    pub async fn add_jobs(&self, owner: &str, repo: &str, run_id: u64, jobs: Vec<Value>) {
        Mock::given(method("GET"))
            .and(path(format!(
                "/repos/{owner}/{repo}/actions/runs/{run_id}/jobs"
            )))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_json(json!({"total_count": jobs.len(), "jobs": jobs})),
            )
            .mount(&self.server)
            .await;
    }

    /// Serves `text` as `file_path` through the contents API (base64, as GitHub does).
    pub async fn add_file(&self, owner: &str, repo: &str, file_path: &str, text: &str) {
        use base64::Engine as _;
        let encoded = base64::engine::general_purpose::STANDARD.encode(text);
        // GitHub wraps the base64 at 60 columns.
        let wrapped: Vec<&str> = encoded
            .as_bytes()
            .chunks(60)
            .map(|c| std::str::from_utf8(c).unwrap_or_default())
            .collect();
        let name = file_path.rsplit('/').next().unwrap_or(file_path);
        Mock::given(method("GET"))
            .and(path(format!("/repos/{owner}/{repo}/contents/{file_path}")))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "type": "file",
                "encoding": "base64",
                "size": text.len(),
                "name": name,
                "path": file_path,
                "content": wrapped.join("\n") + "\n",
                "sha": "3d21ec53a331a6f037a91c368710b99387d012c1",
                "url": format!("https://api.github.com/repos/{owner}/{repo}/contents/{file_path}"),
            })))
            .mount(&self.server)
            .await;
    }

    /// Serves the repository at `sha` as GitHub's tarball (a redirect to a codeload-like URL,
    /// then a gzipped tar with one `owner-repo-sha` directory). `files`: path, contents,
    /// executable.
    pub async fn add_tarball(
        &self,
        owner: &str,
        repo: &str,
        sha: &str,
        files: &[(&str, &str, bool)],
    ) {
        let top = format!("{owner}-{repo}-{}", &sha[..sha.len().min(7)]);
        let mut builder = tar::Builder::new(Vec::new());
        for (name, text, exec) in files {
            let mut header = tar::Header::new_gnu();
            header.set_size(text.len() as u64);
            header.set_mode(if *exec { 0o755 } else { 0o644 });
            header.set_cksum();
            builder
                .append_data(&mut header, format!("{top}/{name}"), text.as_bytes())
                .expect("tar entry");
        }
        let tar = builder.into_inner().expect("tar");
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&tar).expect("gzip");
        let bytes = gz.finish().expect("gzip");
        let codeload = format!("/_codeload/{owner}/{repo}/legacy.tar.gz/{sha}");
        Mock::given(method("GET"))
            .and(path(format!("/repos/{owner}/{repo}/tarball/{sha}")))
            .respond_with(
                ResponseTemplate::new(302)
                    .insert_header("Location", format!("{}{codeload}", self.server.uri())),
            )
            .mount(&self.server)
            .await;
        Mock::given(method("GET"))
            .and(path(codeload))
            .respond_with(
                ResponseTemplate::new(200)
                    .insert_header("Content-Type", "application/x-gzip")
                    .set_body_bytes(bytes),
            )
            .mount(&self.server)
            .await;
    }
}
