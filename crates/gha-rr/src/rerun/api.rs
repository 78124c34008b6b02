//! The few GitHub REST endpoints a rerun needs, through gha-actions' `GitHubClient` (octocrab): a workflow run, its jobs
//! with their steps, a file at a commit, and the repository's tarball.

use std::path::Path;

use base64::Engine as _;
use gha_actions::GitHubClient;
use serde::{Deserialize, Serialize};

use super::error::RerunError;
use super::run_ref::RunRef;

/// `GET /repos/{owner}/{repo}/actions/runs/{run_id}` (the fields a rerun reads).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiRun {
    /// The run id.
    pub id: u64,
    /// The workflow's name.
    #[serde(default)]
    pub name: Option<String>,
    /// The commit the run ran on.
    pub head_sha: String,
    /// The branch, when there is one.
    #[serde(default)]
    pub head_branch: Option<String>,
    /// The workflow file (`.github/workflows/ci.yml`; `…@ref` for some events).
    pub path: String,
    /// The triggering event.
    #[serde(default)]
    pub event: String,
    /// `completed`, `in_progress`, ...
    #[serde(default)]
    pub status: Option<String>,
    /// `failure`, `success`, ...
    #[serde(default)]
    pub conclusion: Option<String>,
    /// The run number.
    #[serde(default)]
    pub run_number: u64,
    /// The attempt.
    #[serde(default)]
    pub run_attempt: Option<u64>,
    /// The run's page.
    #[serde(default)]
    pub html_url: Option<String>,
}

/// One job of `GET /repos/{owner}/{repo}/actions/runs/{run_id}/jobs`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiJob {
    /// The job id.
    pub id: u64,
    /// The display name (`Build+test (stable, ubuntu-18.04)`).
    pub name: String,
    /// `completed`, ...
    #[serde(default)]
    pub status: Option<String>,
    /// `failure`, `success`, `skipped`, `cancelled`, ...
    #[serde(default)]
    pub conclusion: Option<String>,
    /// The steps GitHub shows, "Set up job" first.
    #[serde(default)]
    pub steps: Vec<ApiStep>,
    /// The job's page.
    #[serde(default)]
    pub html_url: Option<String>,
    /// `runs-on` labels.
    #[serde(default)]
    pub labels: Vec<String>,
}

/// One entry of a job's `steps`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiStep {
    /// The name GitHub shows.
    pub name: String,
    /// 1-based, counting "Set up job" and pre steps.
    pub number: u64,
    /// `completed`, ...
    #[serde(default)]
    pub status: Option<String>,
    /// `failure`, `success`, `skipped`, ...
    #[serde(default)]
    pub conclusion: Option<String>,
}

#[derive(Deserialize)]
struct JobsPage {
    total_count: u64,
    jobs: Vec<ApiJob>,
}

#[derive(Deserialize)]
struct ContentFile {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    encoding: Option<String>,
    #[serde(default)]
    content: Option<String>,
}

/// The public GitHub API.
pub const GITHUB_API_URL: &str = "https://api.github.com";

/// A client for the endpoints a rerun reads.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let api = gha_rr::rerun::GitHubApi::new("http://127.0.0.1:9", None).unwrap();
/// assert_eq!(api.api_url(), "http://127.0.0.1:9");
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct GitHubApi {
    gh: GitHubClient,
}

impl GitHubApi {
    /// A client for `api_url` (`https://api.github.com`, GitHub Enterprise's `https://HOST/api/v3`,
    /// or a test server), authenticated with `token` when given. Needs a Tokio runtime.
    pub fn new(api_url: &str, token: Option<&str>) -> Result<GitHubApi, RerunError> {
        let gh = GitHubClient::new(api_url, token).map_err(|e| RerunError::Api(e.to_string()))?;
        Ok(GitHubApi { gh })
    }

    /// The API base URL.
    pub fn api_url(&self) -> &str {
        self.gh.api_url()
    }

    /// GETs `route`, following redirects; the status and body.
    async fn get(&self, route: &str, accept: &str) -> Result<(u16, Vec<u8>), RerunError> {
        let resp = self
            .gh
            .get_raw(route, accept)
            .await
            .map_err(RerunError::Api)?;
        Ok((resp.status().as_u16(), resp.into_body()))
    }

    async fn get_json<T: serde::de::DeserializeOwned>(
        &self,
        route: &str,
        what: &str,
    ) -> Result<T, RerunError> {
        let (status, body) = self.get(route, "application/vnd.github+json").await?;
        check_status(status, &body, what)?;
        serde_json::from_slice(&body)
            .map_err(|e| RerunError::Api(format!("{what}: unexpected response: {e}")))
    }

    /// The run.
    pub async fn run(&self, run: &RunRef) -> Result<ApiRun, RerunError> {
        let route = match run.attempt {
            Some(a) => format!(
                "/repos/{}/{}/actions/runs/{}/attempts/{a}",
                run.owner, run.repo, run.run_id
            ),
            None => format!(
                "/repos/{}/{}/actions/runs/{}",
                run.owner, run.repo, run.run_id
            ),
        };
        self.get_json(
            &route,
            &format!("run {} of {}", run.run_id, run.repository()),
        )
        .await
    }

    /// The run's jobs (of the given attempt, else the latest), with their steps; every page.
    pub async fn jobs(&self, run: &RunRef) -> Result<Vec<ApiJob>, RerunError> {
        let base = match run.attempt {
            Some(a) => format!(
                "/repos/{}/{}/actions/runs/{}/attempts/{a}/jobs?per_page=100",
                run.owner, run.repo, run.run_id
            ),
            None => format!(
                "/repos/{}/{}/actions/runs/{}/jobs?filter=latest&per_page=100",
                run.owner, run.repo, run.run_id
            ),
        };
        let mut jobs = Vec::new();
        for page in 1..=50u32 {
            let p: JobsPage = self
                .get_json(
                    &format!("{base}&page={page}"),
                    &format!("jobs of run {}", run.run_id),
                )
                .await?;
            let n = p.jobs.len();
            jobs.extend(p.jobs);
            if n == 0 || jobs.len() as u64 >= p.total_count {
                break;
            }
        }
        Ok(jobs)
    }

    /// A file's text at a commit (the contents API).
    pub async fn file(
        &self,
        owner: &str,
        repo: &str,
        path: &str,
        sha: &str,
    ) -> Result<String, RerunError> {
        let route = format!(
            "/repos/{owner}/{repo}/contents/{}?ref={sha}",
            path.trim_start_matches('/')
        );
        let what = format!("{path} at {sha}");
        let f: ContentFile = self.get_json(&route, &what).await?;
        if f.kind != "file" {
            return Err(RerunError::Api(format!(
                "{what} is a {}, not a file",
                f.kind
            )));
        }
        let content = f.content.unwrap_or_default();
        let bytes = match f.encoding.as_deref() {
            Some("base64") => base64::engine::general_purpose::STANDARD
                .decode(content.replace(['\n', '\r'], ""))
                .map_err(|e| RerunError::Api(format!("{what}: bad base64 content: {e}")))?,
            Some("none") | Some("") | None if content.is_empty() => {
                return Err(RerunError::Api(format!(
                    "{what} is too large for the contents API"
                )));
            }
            _ => content.into_bytes(),
        };
        String::from_utf8(bytes).map_err(|_| RerunError::Api(format!("{what} is not UTF-8 text")))
    }

    /// Downloads the repository at `sha` (`GET /repos/{owner}/{repo}/tarball/{sha}`) and
    /// extracts it into `dest`, without GitHub's top-level directory.
    pub async fn download_source(
        &self,
        owner: &str,
        repo: &str,
        sha: &str,
        dest: &Path,
    ) -> Result<(), RerunError> {
        let route = format!("/repos/{owner}/{repo}/tarball/{sha}");
        let (status, body) = self.get(&route, "application/vnd.github+json").await?;
        check_status(
            status,
            &body,
            &format!("the source of {owner}/{repo} at {sha}"),
        )?;
        extract_tarball(&body, dest)
    }
}

fn check_status(status: u16, body: &[u8], what: &str) -> Result<(), RerunError> {
    if (200..300).contains(&status) {
        return Ok(());
    }
    let message = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| {
            v.get("message")
                .and_then(|m| m.as_str())
                .map(str::to_string)
        })
        .unwrap_or_else(|| String::from_utf8_lossy(body).chars().take(200).collect());
    let hint = match status {
        401 => " (check GITHUB_TOKEN)",
        403 => " (rate limited or not allowed: set GITHUB_TOKEN)",
        404 => " (does it exist, and can the token see it?)",
        _ => "",
    };
    Err(RerunError::Api(format!(
        "{what}: HTTP {status}: {message}{hint}"
    )))
}

/// Extracts a gzipped tarball in GitHub's layout (one top-level directory) into `dest`,
/// refusing entries outside it.
pub(crate) fn extract_tarball(bytes: &[u8], dest: &Path) -> Result<(), RerunError> {
    gha_actions::extract_tarball(bytes, dest, "the repository")
        .map_err(|e| RerunError::Source(format!("cannot unpack the source tarball: {e}")))
}
