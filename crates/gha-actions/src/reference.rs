//! `uses:` references of steps: `owner/repo@ref`, `owner/repo/path@ref`, `./path`,
//! `docker://image`, parsed with the rules and messages of GitHub's runner.

use std::fmt;

/// A repository at a git ref, optionally a directory inside it: the remote part of
/// `owner/repo[/path]@ref`.
///
/// ```
/// let r = gha_actions::RepoRef::new("actions", "cache", Some("restore"), "v4");
/// assert_eq!(r.to_string(), "actions/cache/restore@v4");
/// assert_eq!(r.repository(), "actions/cache");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct RepoRef {
    /// Repository owner (user or organisation).
    pub owner: String,
    /// Repository name.
    pub repo: String,
    /// Directory (or file, for reusable workflows) inside the repository; `None` for the root.
    pub path: Option<String>,
    /// Branch, tag or commit SHA.
    pub git_ref: String,
}

impl RepoRef {
    /// Builds a reference from its parts.
    ///
    /// ```
    /// let r = gha_actions::RepoRef::new("o", "r", None, "main");
    /// assert_eq!(r.to_string(), "o/r@main");
    /// ```
    pub fn new(owner: &str, repo: &str, path: Option<&str>, git_ref: &str) -> RepoRef {
        RepoRef {
            owner: owner.to_string(),
            repo: repo.to_string(),
            path: path.filter(|p| !p.is_empty()).map(str::to_string),
            git_ref: git_ref.to_string(),
        }
    }

    /// `owner/repo`.
    ///
    /// ```
    /// let r = gha_actions::RepoRef::new("o", "r", Some("sub"), "v1");
    /// assert_eq!(r.repository(), "o/r");
    /// ```
    pub fn repository(&self) -> String {
        format!("{}/{}", self.owner, self.repo)
    }

    /// Whether the ref is a full 40-hex-digit commit SHA (immutable, so always safe to cache).
    ///
    /// ```
    /// assert!(gha_actions::RepoRef::new("o", "r", None, &"a".repeat(40)).is_commit_sha());
    /// assert!(!gha_actions::RepoRef::new("o", "r", None, "v4").is_commit_sha());
    /// ```
    pub fn is_commit_sha(&self) -> bool {
        is_commit_sha(&self.git_ref)
    }
}

/// Whether `s` is a full 40-hex-digit commit SHA.
pub(crate) fn is_commit_sha(s: &str) -> bool {
    s.len() == 40 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

impl fmt::Display for RepoRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.owner, self.repo)?;
        if let Some(p) = &self.path {
            write!(f, "/{p}")?;
        }
        write!(f, "@{}", self.git_ref)
    }
}

/// What a step's `uses:` names.
///
/// ```
/// use gha_actions::ActionRef;
/// assert!(matches!(ActionRef::parse("actions/checkout@v4").unwrap(), ActionRef::Repo(_)));
/// assert!(matches!(ActionRef::parse("./.github/actions/x").unwrap(), ActionRef::Local { .. }));
/// assert!(matches!(ActionRef::parse("docker://alpine:3").unwrap(), ActionRef::Docker { .. }));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ActionRef {
    /// `./path` (or `.\path`): a directory of the workspace.
    Local {
        /// The path as written, including the leading `./`.
        path: String,
    },
    /// `owner/repo[/path]@ref`.
    Repo(RepoRef),
    /// `docker://image`.
    Docker {
        /// The image, without `docker://`.
        image: String,
    },
}

/// A malformed `uses:` value, with the message GitHub prints for it.
///
/// ```
/// let e = gha_actions::ActionRef::parse("actions/checkout").unwrap_err();
/// assert_eq!(e.to_string(), "Expected format {org}/{repo}[/path]@ref. Actual 'actions/checkout'");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ReferenceError {
    /// The value that could not be parsed.
    pub value: String,
    /// GitHub's message.
    pub message: String,
}

impl ActionRef {
    /// Parses a step's `uses:` the way GitHub's runner does: `docker://` first, then `./` or
    /// `.\`, otherwise exactly one `@` separating `owner/repo[/path]` from a non-empty ref
    /// (`/` and `\` separate segments, empty segments are dropped). Two checks are stricter
    /// than the runner's: an empty `docker://` image and `.`/`..` path segments are rejected
    /// here instead of failing later.
    ///
    /// ```
    /// use gha_actions::{ActionRef, RepoRef};
    /// assert_eq!(
    ///     ActionRef::parse("actions/cache/restore@v4").unwrap(),
    ///     ActionRef::Repo(RepoRef::new("actions", "cache", Some("restore"), "v4")),
    /// );
    /// assert!(ActionRef::parse("actions/checkout@").is_err());
    /// assert!(ActionRef::parse("docker://").is_err());
    /// ```
    pub fn parse(value: &str) -> Result<ActionRef, ReferenceError> {
        if let Some(image) = value.strip_prefix("docker://") {
            if image.trim().is_empty() {
                return Err(ReferenceError {
                    value: value.to_string(),
                    message: format!(
                        "Expected format docker://{{image}}[:{{tag}}]. Actual '{value}'"
                    ),
                });
            }
            return Ok(ActionRef::Docker {
                image: image.to_string(),
            });
        }
        if value.starts_with("./") || value.starts_with(".\\") {
            return Ok(ActionRef::Local {
                path: value.to_string(),
            });
        }
        parse_repo_ref(value)
            .map(ActionRef::Repo)
            .ok_or_else(|| ReferenceError {
                value: value.to_string(),
                message: format!("Expected format {{org}}/{{repo}}[/path]@ref. Actual '{value}'"),
            })
    }
}

/// `owner/repo[/path]@ref` with GitHub's splitting rules (`/` and `\` separate path segments,
/// empty segments are dropped); `None` when malformed.
pub(crate) fn parse_repo_ref(value: &str) -> Option<RepoRef> {
    let mut at = value.split('@');
    let (Some(left), Some(git_ref), None) = (at.next(), at.next(), at.next()) else {
        return None;
    };
    if git_ref.is_empty() {
        return None;
    }
    let segments: Vec<&str> = left.split(['/', '\\']).filter(|s| !s.is_empty()).collect();
    if segments.len() < 2 {
        return None;
    }
    // Stricter than the runner: `.`/`..` segments would point outside the repository.
    if segments.iter().any(|s| *s == "." || *s == "..") {
        return None;
    }
    let path = segments[2..].join("/");
    Some(RepoRef::new(
        segments[0],
        segments[1],
        Some(path.as_str()),
        git_ref,
    ))
}

impl fmt::Display for ActionRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ActionRef::Local { path } => f.write_str(path),
            ActionRef::Repo(r) => r.fmt(f),
            ActionRef::Docker { image } => write!(f, "docker://{image}"),
        }
    }
}

impl std::str::FromStr for ActionRef {
    type Err = ReferenceError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ActionRef::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_every_form() {
        let cases = [
            "actions/checkout@v4",
            "actions/cache/save@v4",
            "org/repo/deep/er/path@0123456789abcdef0123456789abcdef01234567",
            "./local/action",
            ".\\win\\action",
            "docker://alpine:3.19",
            "docker://ghcr.io/o/i@sha256:abc",
            "owner\\repo@v1",
            "o//r//p@v1",
        ];
        let parsed: Vec<String> = cases
            .iter()
            .map(|c| format!("{c} => {:?}", ActionRef::parse(c).unwrap()))
            .collect();
        insta::assert_snapshot!(parsed.join("\n"));
    }

    #[test]
    fn malformed_messages() {
        let cases = [
            "actions/checkout",
            "actions@v4",
            "actions/checkout@",
            "actions/checkout@v4@v5",
            "@v4",
            "/checkout@v4",
            "docker://",
            "o/r/../x@v1",
            "",
        ];
        let errs: Vec<String> = cases
            .iter()
            .map(|c| ActionRef::parse(c).unwrap_err().to_string())
            .collect();
        insta::assert_snapshot!(errs.join("\n"));
    }

    proptest! {
        #[test]
        fn display_round_trips(
            owner in "[A-Za-z0-9][A-Za-z0-9-]{0,10}",
            repo in "[A-Za-z0-9._-]{1,10}",
            path in proptest::option::of("[a-z]{1,5}(/[a-z]{1,5}){0,2}"),
            git_ref in "[A-Za-z0-9._/-]{1,12}",
        ) {
            prop_assume!(repo != "." && repo != "..");
            let r = RepoRef::new(&owner, &repo, path.as_deref(), &git_ref);
            let parsed = ActionRef::parse(&r.to_string()).unwrap();
            prop_assert_eq!(parsed, ActionRef::Repo(r));
        }

        #[test]
        fn never_panics(s in ".{0,40}") {
            let _ = ActionRef::parse(&s);
        }
    }
}
