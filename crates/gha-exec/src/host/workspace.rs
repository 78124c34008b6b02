//! Making a job's workspace: a copy of the repository's working tree.
//!
//! In a git repository the copy holds what `git ls-files --cached --others --exclude-standard`
//! lists (tracked files plus untracked, non-ignored ones: what a push of the current state would
//! contain, without build output), and a light `.git` directory that shares the source's object
//! store through `objects/info/alternates`, so git commands work in the copy without touching
//! the original. Outside git, the whole tree is copied.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::backend::BackendError;

/// Copies the working tree of `src` into `dst` (which must not exist yet or be empty).
pub(crate) fn copy_working_tree(src: &Path, dst: &Path) -> Result<(), BackendError> {
    std::fs::create_dir_all(dst)
        .map_err(|e| BackendError::io(format!("creating {}", dst.display()), e))?;
    let files = match git_working_tree_files(src) {
        Some(files) => {
            copy_git_dir(src, dst)?;
            files
        }
        None => walk_files(src)?,
    };
    copy_files(src, dst, &files)
}

/// The files of a job's workspace as git sees them, relative to `src`: what
/// `git ls-files --cached --others --exclude-standard` lists (tracked files plus untracked,
/// non-ignored ones; no build output, no `.git`). `None` when `src` is not the top of a git
/// work tree (or git is missing), so callers fall back to the whole directory.
///
/// ```
/// let dir = tempfile::tempdir().unwrap();
/// assert!(gha_exec::host::git_working_tree_files(dir.path()).is_none());
/// ```
pub fn git_working_tree_files(src: &Path) -> Option<Vec<PathBuf>> {
    if !src.join(".git").exists() {
        return None;
    }
    let out = Command::new("git")
        .arg("-C")
        .arg(src)
        .args([
            "ls-files",
            "-z",
            "--cached",
            "--others",
            "--exclude-standard",
        ])
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    use std::os::unix::ffi::OsStrExt;
    let mut files: Vec<PathBuf> = out
        .stdout
        .split(|&b| b == 0)
        .filter(|s| !s.is_empty())
        .map(|s| PathBuf::from(std::ffi::OsStr::from_bytes(s)))
        .collect();
    files.dedup();
    Some(files)
}

fn walk_files(src: &Path) -> Result<Vec<PathBuf>, BackendError> {
    let mut files = Vec::new();
    for entry in walkdir::WalkDir::new(src).min_depth(1) {
        let entry =
            entry.map_err(|e| BackendError::Other(format!("listing {}: {e}", src.display())))?;
        if !entry.file_type().is_dir() {
            let rel = entry
                .path()
                .strip_prefix(src)
                .expect("walkdir stays under its root");
            files.push(rel.to_path_buf());
        }
    }
    Ok(files)
}

/// Copies `files` (relative paths) from `src` to `dst`, on a few threads.
fn copy_files(src: &Path, dst: &Path, files: &[PathBuf]) -> Result<(), BackendError> {
    // Create directories first, once each, in order.
    let mut dirs: Vec<&Path> = files.iter().filter_map(|f| f.parent()).collect();
    dirs.sort();
    dirs.dedup();
    for d in dirs {
        if !d.as_os_str().is_empty() {
            let target = dst.join(d);
            std::fs::create_dir_all(&target)
                .map_err(|e| BackendError::io(format!("creating {}", target.display()), e))?;
        }
    }
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
        .clamp(1, 4);
    let chunk = files.len().div_ceil(threads).max(1);
    std::thread::scope(|scope| {
        let handles: Vec<_> = files
            .chunks(chunk)
            .map(|part| scope.spawn(move || part.iter().try_for_each(|f| copy_one(src, dst, f))))
            .collect();
        handles.into_iter().try_for_each(|h| {
            h.join()
                .unwrap_or_else(|_| Err(BackendError::Other("copy thread panicked".into())))
        })
    })
}

fn copy_one(src: &Path, dst: &Path, rel: &Path) -> Result<(), BackendError> {
    let from = src.join(rel);
    let to = dst.join(rel);
    let meta = match std::fs::symlink_metadata(&from) {
        Ok(m) => m,
        // Listed by git but deleted in the working tree: nothing to copy.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(BackendError::io(format!("reading {}", from.display()), e)),
    };
    if meta.file_type().is_symlink() {
        let target = std::fs::read_link(&from)
            .map_err(|e| BackendError::io(format!("reading link {}", from.display()), e))?;
        std::os::unix::fs::symlink(&target, &to)
            .map_err(|e| BackendError::io(format!("creating link {}", to.display()), e))?;
    } else if meta.is_dir() {
        // A submodule or nested repository: git lists it as one entry. Copy it whole.
        let files = walk_files(&from)?;
        std::fs::create_dir_all(&to)
            .map_err(|e| BackendError::io(format!("creating {}", to.display()), e))?;
        copy_files(&from, &to, &files)?;
    } else {
        std::fs::copy(&from, &to)
            .map_err(|e| BackendError::io(format!("copying {}", from.display()), e))?;
    }
    Ok(())
}

/// A `.git` for the copy: HEAD, config, refs and index copied, objects borrowed from the source
/// through `objects/info/alternates`.
fn copy_git_dir(src: &Path, dst: &Path) -> Result<(), BackendError> {
    let src_git = src.join(".git");
    if !src_git.is_dir() {
        // A worktree or submodule `.git` file: leave the copy without git metadata.
        return Ok(());
    }
    let dst_git = dst.join(".git");
    let io = |what: &str, p: &Path, e| BackendError::io(format!("{what} {}", p.display()), e);
    std::fs::create_dir_all(dst_git.join("objects/info"))
        .map_err(|e| io("creating", &dst_git, e))?;
    for name in [
        "HEAD",
        "config",
        "packed-refs",
        "index",
        "shallow",
        "FETCH_HEAD",
        "ORIG_HEAD",
    ] {
        let from = src_git.join(name);
        if from.is_file() {
            std::fs::copy(&from, dst_git.join(name)).map_err(|e| io("copying", &from, e))?;
        }
    }
    let refs = src_git.join("refs");
    if refs.is_dir() {
        let files = walk_files(&refs)?;
        std::fs::create_dir_all(dst_git.join("refs")).map_err(|e| io("creating", &dst_git, e))?;
        copy_files(&refs, &dst_git.join("refs"), &files)?;
    }
    let objects =
        std::fs::canonicalize(src_git.join("objects")).map_err(|e| io("resolving", &src_git, e))?;
    std::fs::write(
        dst_git.join("objects/info/alternates"),
        format!("{}\n", objects.display()),
    )
    .map_err(|e| io("writing", &dst_git, e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn git(dir: &Path, args: &[&str]) {
        let ok = Command::new("git")
            .arg("-C")
            .arg(dir)
            .args(args)
            .env("GIT_AUTHOR_NAME", "t")
            .env("GIT_AUTHOR_EMAIL", "t@example.com")
            .env("GIT_COMMITTER_NAME", "t")
            .env("GIT_COMMITTER_EMAIL", "t@example.com")
            .output()
            .unwrap()
            .status
            .success();
        assert!(ok, "git {args:?}");
    }

    #[test]
    fn copies_tracked_and_untracked_but_not_ignored_files() {
        let src = tempfile::tempdir().unwrap();
        let dst = tempfile::tempdir().unwrap();
        git(src.path(), &["init", "-q"]);
        std::fs::write(src.path().join(".gitignore"), "target/\n").unwrap();
        std::fs::create_dir_all(src.path().join("src/a")).unwrap();
        std::fs::write(src.path().join("src/a/lib.rs"), "fn main() {}").unwrap();
        git(src.path(), &["add", "."]);
        git(src.path(), &["commit", "-qm", "init"]);
        std::fs::write(src.path().join("new.txt"), "untracked").unwrap();
        std::fs::create_dir_all(src.path().join("target")).unwrap();
        std::fs::write(src.path().join("target/big"), "ignored").unwrap();

        let ws = dst.path().join("ws");
        copy_working_tree(src.path(), &ws).unwrap();
        assert_eq!(
            std::fs::read_to_string(ws.join("src/a/lib.rs")).unwrap(),
            "fn main() {}"
        );
        assert!(ws.join("new.txt").exists());
        assert!(!ws.join("target").exists());
        // git works in the copy and sees a clean tree apart from the untracked file.
        let out = Command::new("git")
            .arg("-C")
            .arg(&ws)
            .args(["status", "--porcelain"])
            .output()
            .unwrap();
        assert!(out.status.success());
        assert_eq!(String::from_utf8_lossy(&out.stdout), "?? new.txt\n");
    }

    #[test]
    fn copies_plain_directories_whole() {
        let src = tempfile::tempdir().unwrap();
        let dst = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(src.path().join("d/e")).unwrap();
        std::fs::write(src.path().join("d/e/f"), "x").unwrap();
        std::os::unix::fs::symlink("e/f", src.path().join("d/link")).unwrap();
        copy_working_tree(src.path(), dst.path()).unwrap();
        assert_eq!(
            std::fs::read_to_string(dst.path().join("d/e/f")).unwrap(),
            "x"
        );
        assert_eq!(
            std::fs::read_link(dst.path().join("d/link")).unwrap(),
            Path::new("e/f")
        );
    }
}
