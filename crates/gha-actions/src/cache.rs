//! The on-disk action cache: one extracted tree per `owner/repo/SHA`, plus a small index from
//! refs to SHAs, under the user's cache directory. Entries are written to a temporary name and
//! renamed into place, so two runs filling the cache at once both succeed.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::ResolveError;
use crate::reference::is_commit_sha;

/// An on-disk cache of repository trees keyed by owner, repository and commit SHA.
///
/// ```
/// let root = tempfile::tempdir().unwrap();
/// let cache = gha_actions::ActionCache::new(root.path());
/// assert!(cache.tree("Actions", "Cache", &"a".repeat(40)).is_none());
/// cache.record_ref("actions", "cache", "v4", &"a".repeat(40)).unwrap();
/// assert_eq!(cache.lookup_ref("ACTIONS", "cache", "v4").unwrap(), "a".repeat(40));
/// ```
#[derive(Clone, Debug)]
pub struct ActionCache {
    root: PathBuf,
}

impl ActionCache {
    /// A cache rooted at `root` (created on first write).
    pub fn new(root: impl Into<PathBuf>) -> ActionCache {
        ActionCache { root: root.into() }
    }

    /// The default location: `$GHA_ACTION_CACHE`, else `<user cache dir>/gha-runner/actions`
    /// (`~/.cache/gha-runner/actions` on Linux), else a directory under the system temp dir.
    ///
    /// ```
    /// let c = gha_actions::ActionCache::default_location();
    /// assert!(c.root().is_absolute() || c.root().starts_with("."));
    /// ```
    pub fn default_location() -> ActionCache {
        if let Some(dir) = std::env::var_os("GHA_ACTION_CACHE").filter(|d| !d.is_empty()) {
            return ActionCache::new(dir);
        }
        let base = dirs::cache_dir().unwrap_or_else(std::env::temp_dir);
        ActionCache::new(base.join("gha-runner").join("actions"))
    }

    /// The cache's root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where the tree of `owner/repo` at `sha` lives (whether or not it is there yet).
    pub fn tree_dir(&self, owner: &str, repo: &str, sha: &str) -> PathBuf {
        self.root
            .join("repos")
            .join(escape(&owner.to_ascii_lowercase()))
            .join(escape(&repo.to_ascii_lowercase()))
            .join(sha.to_ascii_lowercase())
    }

    /// The cached tree of `owner/repo` at `sha`, if present.
    pub fn tree(&self, owner: &str, repo: &str, sha: &str) -> Option<PathBuf> {
        let dir = self.tree_dir(owner, repo, sha);
        dir.is_dir().then_some(dir)
    }

    /// The SHA a ref resolved to last time (a full SHA resolves to itself).
    pub fn lookup_ref(&self, owner: &str, repo: &str, git_ref: &str) -> Option<String> {
        if is_commit_sha(git_ref) {
            return Some(git_ref.to_ascii_lowercase());
        }
        let sha = std::fs::read_to_string(self.ref_file(owner, repo, git_ref)).ok()?;
        let sha = sha.trim();
        is_commit_sha(sha).then(|| sha.to_string())
    }

    /// Remembers that `git_ref` of `owner/repo` is `sha`.
    pub fn record_ref(
        &self,
        owner: &str,
        repo: &str,
        git_ref: &str,
        sha: &str,
    ) -> Result<(), ResolveError> {
        if is_commit_sha(git_ref) {
            return Ok(());
        }
        let file = self.ref_file(owner, repo, git_ref);
        let dir = file.parent().expect("ref files have a parent");
        std::fs::create_dir_all(dir)
            .map_err(|e| ResolveError::io(format!("Cannot create {}", dir.display()), e))?;
        let mut tmp = tempfile::NamedTempFile::new_in(dir)
            .map_err(|e| ResolveError::io(format!("Cannot write in {}", dir.display()), e))?;
        tmp.write_all(sha.as_bytes())
            .map_err(|e| ResolveError::io("Cannot write the ref index", e))?;
        tmp.persist(&file)
            .map_err(|e| ResolveError::io(format!("Cannot write {}", file.display()), e.error))?;
        Ok(())
    }

    /// A fresh private directory in the cache to extract into before
    /// [`ActionCache::commit_tree`] renames it into place.
    pub fn staging_dir(&self) -> Result<tempfile::TempDir, ResolveError> {
        let tmp = self.root.join("tmp");
        std::fs::create_dir_all(&tmp)
            .map_err(|e| ResolveError::io(format!("Cannot create {}", tmp.display()), e))?;
        tempfile::Builder::new()
            .prefix("fill-")
            .tempdir_in(&tmp)
            .map_err(|e| {
                ResolveError::io(format!("Cannot create a directory in {}", tmp.display()), e)
            })
    }

    /// Moves a filled staging directory to its final place. When another run got there first,
    /// its tree is kept and ours is discarded. Returns the final directory.
    pub fn commit_tree(
        &self,
        staged: tempfile::TempDir,
        owner: &str,
        repo: &str,
        sha: &str,
    ) -> Result<PathBuf, ResolveError> {
        let dest = self.tree_dir(owner, repo, sha);
        let parent = dest.parent().expect("tree dirs have a parent");
        std::fs::create_dir_all(parent)
            .map_err(|e| ResolveError::io(format!("Cannot create {}", parent.display()), e))?;
        let staged_path = staged.keep();
        match std::fs::rename(&staged_path, &dest) {
            Ok(()) => Ok(dest),
            Err(_) if dest.is_dir() => {
                let _ = std::fs::remove_dir_all(&staged_path);
                Ok(dest)
            }
            Err(e) => {
                let _ = std::fs::remove_dir_all(&staged_path);
                Err(ResolveError::io(
                    format!("Cannot move the action into {}", dest.display()),
                    e,
                ))
            }
        }
    }

    fn ref_file(&self, owner: &str, repo: &str, git_ref: &str) -> PathBuf {
        self.root
            .join("refs")
            .join(escape(&owner.to_ascii_lowercase()))
            .join(escape(&repo.to_ascii_lowercase()))
            .join(escape(git_ref))
    }
}

/// A file-name-safe spelling: `[A-Za-z0-9._-]` kept, every other byte as `%XX`; a leading dot
/// is escaped too so `.` and `..` never appear.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for (i, b) in s.bytes().enumerate() {
        if b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || (b == b'.' && i > 0) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_refs() {
        assert_eq!(escape("release/v1.2"), "release%2Fv1.2");
        assert_eq!(escape(".."), "%2E.");
        assert_eq!(escape("main"), "main");
    }

    #[test]
    fn commit_keeps_the_first_tree() {
        let root = tempfile::tempdir().unwrap();
        let cache = ActionCache::new(root.path());
        let sha = "b".repeat(40);
        let a = cache.staging_dir().unwrap();
        std::fs::write(a.path().join("f"), "first").unwrap();
        let b = cache.staging_dir().unwrap();
        std::fs::write(b.path().join("f"), "second").unwrap();
        let d1 = cache.commit_tree(a, "o", "r", &sha).unwrap();
        let d2 = cache.commit_tree(b, "o", "r", &sha).unwrap();
        assert_eq!(d1, d2);
        assert_eq!(std::fs::read_to_string(d1.join("f")).unwrap(), "first");
        assert_eq!(
            std::fs::read_dir(root.path().join("tmp")).unwrap().count(),
            0
        );
    }

    #[test]
    fn lookup_ignores_garbage() {
        let root = tempfile::tempdir().unwrap();
        let cache = ActionCache::new(root.path());
        cache.record_ref("o", "r", "v1", "not-a-sha").unwrap();
        assert_eq!(cache.lookup_ref("o", "r", "v1"), None);
    }
}
