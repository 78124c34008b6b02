//! What the `github` context says about the repository, read from the local git checkout.

use std::path::Path;
use std::process::Command;

/// Facts about the local repository used for `github.sha`, `github.ref`, `github.repository`
/// and `github.actor`.
///
/// ```
/// let dir = tempfile::tempdir().unwrap();
/// let info = gha_exec::run::GitInfo::read(dir.path());
/// // Not a git repository: placeholders named after the directory.
/// assert_eq!(info.sha, "0000000000000000000000000000000000000000");
/// assert!(info.repository.starts_with("local/"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GitInfo {
    /// `HEAD`'s commit.
    pub sha: String,
    /// The full ref (`refs/heads/main`, `refs/tags/v1`), empty when detached.
    pub git_ref: String,
    /// `owner/name`, from the `origin` remote's URL (or `local/<directory>`).
    pub repository: String,
    /// Who is running (`git config user.name`, `$USER`).
    pub actor: String,
}

fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let s = String::from_utf8_lossy(&out.stdout).trim().to_string();
    (!s.is_empty()).then_some(s)
}

/// `owner/name` from a remote URL (`https://github.com/o/n.git`, `git@github.com:o/n.git`).
///
/// ```
/// use gha_exec::run::git_info::repository_from_url;
/// assert_eq!(repository_from_url("git@github.com:rust-lang/cargo.git").as_deref(), Some("rust-lang/cargo"));
/// assert_eq!(repository_from_url("https://github.com/o/n").as_deref(), Some("o/n"));
/// assert_eq!(repository_from_url("/srv/git/repo.git"), None);
/// ```
pub fn repository_from_url(url: &str) -> Option<String> {
    let url = url.trim().trim_end_matches('/');
    let url = url.strip_suffix(".git").unwrap_or(url);
    let path = if let Some((_, rest)) = url.split_once("://") {
        rest.split_once('/')?.1
    } else if let Some((host, rest)) = url.split_once(':') {
        if host.contains('/') {
            return None;
        }
        rest
    } else {
        return None;
    };
    let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    if parts.len() < 2 {
        return None;
    }
    Some(format!(
        "{}/{}",
        parts[parts.len() - 2],
        parts[parts.len() - 1]
    ))
}

impl GitInfo {
    /// Reads `dir`'s git state; anything missing gets a placeholder.
    pub fn read(dir: &Path) -> GitInfo {
        let sha = git(dir, &["rev-parse", "HEAD"])
            .unwrap_or_else(|| "0000000000000000000000000000000000000000".into());
        let git_ref = git(dir, &["symbolic-ref", "-q", "HEAD"])
            .or_else(|| {
                git(dir, &["describe", "--tags", "--exact-match", "HEAD"])
                    .map(|t| format!("refs/tags/{t}"))
            })
            .unwrap_or_default();
        let dir_name = std::fs::canonicalize(dir)
            .ok()
            .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .unwrap_or_else(|| "repo".into());
        let repository = git(dir, &["remote", "get-url", "origin"])
            .and_then(|u| repository_from_url(&u))
            .unwrap_or_else(|| format!("local/{dir_name}"));
        let actor = git(dir, &["config", "user.name"])
            .or_else(|| std::env::var("USER").ok())
            .unwrap_or_else(|| "gha".into());
        GitInfo {
            sha,
            git_ref,
            repository,
            actor,
        }
    }
}
