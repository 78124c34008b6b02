//! Which run: `OWNER/REPO RUN_ID` or a run URL.

use super::error::RerunError;

/// A workflow run on GitHub (optionally one attempt and one job of it).
///
/// ```
/// use gha_rr::rerun::RunRef;
/// let r = RunRef::parse("octo/hello", Some("42")).unwrap();
/// assert_eq!((r.owner.as_str(), r.repo.as_str(), r.run_id), ("octo", "hello", 42));
/// let r = RunRef::parse("https://github.com/octo/hello/actions/runs/42/job/7", None).unwrap();
/// assert_eq!((r.run_id, r.job_id), (42, Some(7)));
/// let r = RunRef::parse("https://github.com/octo/hello/actions/runs/42/attempts/2", None).unwrap();
/// assert_eq!(r.attempt, Some(2));
/// assert!(RunRef::parse("octo/hello", None).is_err());
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunRef {
    /// The repository owner.
    pub owner: String,
    /// The repository name.
    pub repo: String,
    /// The run id.
    pub run_id: u64,
    /// The attempt (`/attempts/N`), when given.
    pub attempt: Option<u64>,
    /// The job (`/job/N`), when given.
    pub job_id: Option<u64>,
}

fn bad(text: &str) -> RerunError {
    RerunError::BadReference(format!(
        "'{text}' is not OWNER/REPO RUN_ID or a run URL (https://github.com/OWNER/REPO/actions/runs/RUN_ID)"
    ))
}

impl RunRef {
    /// Parses `repo_or_url` and the optional run id argument.
    pub fn parse(repo_or_url: &str, run_id: Option<&str>) -> Result<RunRef, RerunError> {
        let text = repo_or_url.trim();
        if let Some(rest) = text.split_once("://").map(|(_, r)| r) {
            if run_id.is_some() {
                return Err(RerunError::BadReference(
                    "give either a run URL or OWNER/REPO RUN_ID, not both".into(),
                ));
            }
            let parts: Vec<&str> = rest.trim_end_matches('/').split('/').collect();
            // host / owner / repo / actions / runs / id [/ attempts / n] [/ job / n]
            if parts.len() < 6 || parts[3] != "actions" || parts[4] != "runs" {
                return Err(bad(text));
            }
            let mut r = RunRef {
                owner: parts[1].to_string(),
                repo: parts[2].to_string(),
                run_id: parts[5].parse().map_err(|_| bad(text))?,
                attempt: None,
                job_id: None,
            };
            let mut i = 6;
            while i + 1 < parts.len() {
                let n = parts[i + 1].parse().map_err(|_| bad(text))?;
                match parts[i] {
                    "attempts" => r.attempt = Some(n),
                    "job" | "jobs" => r.job_id = Some(n),
                    _ => return Err(bad(text)),
                }
                i += 2;
            }
            if i != parts.len() {
                return Err(bad(text));
            }
            return Ok(r);
        }
        let (owner, repo) = text.split_once('/').ok_or_else(|| bad(text))?;
        let valid = |s: &str| {
            !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        };
        if !valid(owner) || !valid(repo) {
            return Err(bad(text));
        }
        let id = run_id
            .ok_or_else(|| RerunError::BadReference(format!("missing RUN_ID after {text}")))?;
        Ok(RunRef {
            owner: owner.into(),
            repo: repo.into(),
            run_id: id.trim().parse().map_err(|_| {
                RerunError::BadReference(format!("RUN_ID must be a number, not '{id}'"))
            })?,
            attempt: None,
            job_id: None,
        })
    }

    /// `owner/repo`.
    pub fn repository(&self) -> String {
        format!("{}/{}", self.owner, self.repo)
    }
}
