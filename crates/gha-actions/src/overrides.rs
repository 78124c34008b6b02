//! `--action-dir OWNER/REPO@REF=PATH`: use a local checkout instead of downloading.

use std::path::PathBuf;

use crate::reference::RepoRef;

/// One override: `owner/repo@ref` is served from `dir`.
///
/// ```
/// let o: gha_actions::ActionDirOverride = "actions/cache@v4=/src/cache".parse().unwrap();
/// assert_eq!(o.owner, "actions");
/// assert_eq!(o.git_ref, "v4");
/// assert_eq!(o.dir, std::path::PathBuf::from("/src/cache"));
/// assert!("actions/cache=/x".parse::<gha_actions::ActionDirOverride>().is_err());
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ActionDirOverride {
    /// Owner.
    pub owner: String,
    /// Repository.
    pub repo: String,
    /// The ref as written in `uses:`.
    pub git_ref: String,
    /// The local checkout (the repository's root).
    pub dir: PathBuf,
}

impl ActionDirOverride {
    /// Whether this override serves `r` (owner and repository compare case-insensitively,
    /// like GitHub; the ref exactly).
    pub fn matches(&self, r: &RepoRef) -> bool {
        self.owner.eq_ignore_ascii_case(&r.owner)
            && self.repo.eq_ignore_ascii_case(&r.repo)
            && self.git_ref == r.git_ref
    }
}

impl std::str::FromStr for ActionDirOverride {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let usage = || format!("invalid --action-dir `{s}`: expected OWNER/REPO@REF=PATH");
        let (spec, dir) = s.split_once('=').ok_or_else(usage)?;
        let (repo, git_ref) = spec.split_once('@').ok_or_else(usage)?;
        let (owner, repo) = repo.split_once('/').ok_or_else(usage)?;
        if owner.is_empty()
            || repo.is_empty()
            || repo.contains('/')
            || git_ref.is_empty()
            || dir.is_empty()
        {
            return Err(usage());
        }
        Ok(ActionDirOverride {
            owner: owner.to_string(),
            repo: repo.to_string(),
            git_ref: git_ref.to_string(),
            dir: PathBuf::from(dir),
        })
    }
}
