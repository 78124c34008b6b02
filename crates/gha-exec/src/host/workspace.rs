//! Making a job's workspace: a copy of the repository's working tree.
//!
//! In a git repository the copy holds what `git ls-files --cached --others --exclude-standard`
//! lists (tracked files plus untracked, non-ignored ones: what a push of the current state would
//! contain, without build output), and a light `.git` directory that shares the source's object
//! store through `objects/info/alternates`, so git commands work in the copy without touching
//! the original. Outside git, the whole tree is copied.

use std::io::{BufRead, BufReader};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Mutex, mpsc};

use crate::backend::BackendError;

/// How many threads copy files. File creation dominates and mostly waits on the file system's
/// journal, so a few more threads than cores keep it busy.
const COPY_THREADS: usize = 6;

/// Copies the working tree of `src` into `dst` (which must not exist yet or be empty).
///
/// In a git work tree, `git ls-files` runs while the light `.git` is made, and its output is
/// streamed to the copying threads: files are copied while git is still listing, and each
/// file's directories are created when the first file in them is.
pub(crate) fn copy_working_tree(src: &Path, dst: &Path) -> Result<(), BackendError> {
    std::fs::create_dir_all(dst)
        .map_err(|e| BackendError::io(format!("creating {}", dst.display()), e))?;
    if src.join(".git").exists() {
        match copy_git_listed(src, dst)? {
            Listing::Done => return Ok(()),
            // git is missing or refused: copy everything instead (files already copied are
            // overwritten).
            Listing::Unavailable => {}
        }
    }
    let files = walk_files(src)?;
    copy_files(src, dst, &files)
}

enum Listing {
    Done,
    Unavailable,
}

/// Streams `git ls-files` into the copying threads and makes the light `.git` meanwhile.
fn copy_git_listed(src: &Path, dst: &Path) -> Result<Listing, BackendError> {
    let Ok(mut child) = Command::new("git")
        .arg("-C")
        .arg(src)
        .args(LS_FILES_ARGS)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
    else {
        return Ok(Listing::Unavailable);
    };
    let stdout = child.stdout.take().expect("piped stdout");
    let copied = copy_parallel(src, dst, |send| {
        copy_git_dir(src, dst)?;
        let mut last: Vec<u8> = Vec::new();
        for item in BufReader::with_capacity(64 * 1024, stdout).split(0) {
            let path = item.map_err(|e| BackendError::io("reading git ls-files output", e))?;
            // Unmerged entries are listed once per stage, one after the other.
            if path.is_empty() || path == last {
                continue;
            }
            use std::os::unix::ffi::OsStrExt;
            send(PathBuf::from(std::ffi::OsStr::from_bytes(&path)));
            last = path;
        }
        Ok(())
    });
    let status = child.wait();
    copied?;
    match status {
        Ok(s) if s.success() => Ok(Listing::Done),
        _ => Ok(Listing::Unavailable),
    }
}

const LS_FILES_ARGS: [&str; 5] = [
    "ls-files",
    "-z",
    "--cached",
    "--others",
    "--exclude-standard",
];

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
        .args(LS_FILES_ARGS)
        .stderr(Stdio::null())
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
    copy_parallel(src, dst, |send| {
        for f in files {
            send(f.clone());
        }
        Ok(())
    })
}

/// Paths go to the copying threads in runs of this many. Listings are sorted, so a run is
/// mostly files of one directory: threads then create files in different directories, which
/// file systems that lock a directory while creating an entry in it (ext4) serialise less.
const BATCH: usize = 32;

/// Runs `produce` on this thread while [`COPY_THREADS`] threads copy every relative path it
/// gives to its `send` from `src` to `dst`. The first error wins.
fn copy_parallel(
    src: &Path,
    dst: &Path,
    produce: impl FnOnce(&mut dyn FnMut(PathBuf)) -> Result<(), BackendError>,
) -> Result<(), BackendError> {
    let (tx, rx) = mpsc::channel::<Vec<PathBuf>>();
    let rx = Mutex::new(rx);
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..COPY_THREADS)
            .map(|_| {
                let rx = &rx;
                scope.spawn(move || -> Result<(), BackendError> {
                    loop {
                        let next = rx.lock().map_err(|_| poisoned())?.recv();
                        match next {
                            Ok(batch) => {
                                for rel in batch {
                                    copy_one(src, dst, &rel)?;
                                }
                            }
                            Err(_) => return Ok(()),
                        }
                    }
                })
            })
            .collect();
        let mut batch = Vec::with_capacity(BATCH);
        let produced = produce(&mut |path| {
            batch.push(path);
            if batch.len() == BATCH {
                let _ = tx.send(std::mem::replace(&mut batch, Vec::with_capacity(BATCH)));
            }
        });
        if !batch.is_empty() {
            let _ = tx.send(batch);
        }
        drop(tx);
        let mut result = produced;
        for w in workers {
            let r = w
                .join()
                .unwrap_or_else(|_| Err(BackendError::Other("copy thread panicked".into())));
            if result.is_ok() {
                result = r;
            }
        }
        result
    })
}

fn poisoned() -> BackendError {
    BackendError::Other("a copy thread panicked".into())
}

/// Copies one entry: a regular file with its permission bits (through `copy_file_range`, so
/// the kernel copies, or shares blocks where the file system can), a symbolic link as a link,
/// a directory (a submodule or nested repository, which git lists as one entry) whole.
/// Missing parent directories of the destination are created on demand.
fn copy_one(src: &Path, dst: &Path, rel: &Path) -> Result<(), BackendError> {
    let from = src.join(rel);
    let to = dst.join(rel);
    // O_NOFOLLOW: a symbolic link fails to open (ELOOP) instead of being followed, which saves
    // an lstat per file. O_NONBLOCK: a FIFO opens at once (and is then skipped) instead of
    // waiting for a writer; it changes nothing for regular files.
    let input = match std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(&from)
    {
        Ok(f) => f,
        // Listed by git but deleted in the working tree: nothing to copy.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => return copy_link(&from, &to),
        Err(e) => return Err(BackendError::io(format!("reading {}", from.display()), e)),
    };
    let meta = input
        .metadata()
        .map_err(|e| BackendError::io(format!("reading {}", from.display()), e))?;
    if meta.is_dir() {
        let files = walk_files(&from)?;
        create_dir(&to)?;
        return copy_files(&from, &to, &files);
    }
    if !meta.is_file() {
        // FIFOs, sockets, devices: not workspace content.
        return Ok(());
    }
    let open_output = || {
        std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(meta.mode() & 0o7777)
            .custom_flags(libc::O_CLOEXEC)
            .open(&to)
    };
    let output = match open_output() {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if let Some(parent) = to.parent() {
                create_dir(parent)?;
            }
            open_output().map_err(|e| BackendError::io(format!("creating {}", to.display()), e))?
        }
        Err(e) => return Err(BackendError::io(format!("creating {}", to.display()), e)),
    };
    copy_contents(&input, &output, meta.len())
        .map_err(|e| BackendError::io(format!("copying {}", from.display()), e))
}

fn create_dir(dir: &Path) -> Result<(), BackendError> {
    std::fs::create_dir_all(dir)
        .map_err(|e| BackendError::io(format!("creating {}", dir.display()), e))
}

fn copy_link(from: &Path, to: &Path) -> Result<(), BackendError> {
    let target = std::fs::read_link(from)
        .map_err(|e| BackendError::io(format!("reading link {}", from.display()), e))?;
    let link = || std::os::unix::fs::symlink(&target, to);
    match link() {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if let Some(parent) = to.parent() {
                create_dir(parent)?;
            }
            link().map_err(|e| BackendError::io(format!("creating link {}", to.display()), e))
        }
        // The fallback copy after a failed listing meets links made the first time.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(BackendError::io(
            format!("creating link {}", to.display()),
            e,
        )),
    }
}

/// Copies the `len` bytes fstat saw (a file still being written is copied as it was a moment
/// ago, as `cp` does) with `copy_file_range`, falling back to read/write where the kernel or
/// file system cannot.
fn copy_contents(input: &std::fs::File, output: &std::fs::File, len: u64) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    let mut remaining = len;
    while remaining > 0 {
        // SAFETY: both descriptors are open for the duration of the call; null offsets use
        // (and advance) the files' own positions.
        let n = unsafe {
            libc::copy_file_range(
                input.as_raw_fd(),
                std::ptr::null_mut(),
                output.as_raw_fd(),
                std::ptr::null_mut(),
                remaining.min(1 << 30) as usize,
                0,
            )
        };
        match n {
            0 => break, // the file shrank
            n if n > 0 => remaining -= n as u64,
            _ => {
                let e = std::io::Error::last_os_error();
                match e.raw_os_error() {
                    Some(libc::EINTR) => {}
                    Some(
                        libc::EXDEV | libc::ENOSYS | libc::EINVAL | libc::EOPNOTSUPP | libc::EPERM,
                    ) => {
                        let mut limited = std::io::Read::take(input, remaining);
                        std::io::copy(&mut limited, &mut &*output)?;
                        break;
                    }
                    _ => return Err(e),
                }
            }
        }
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
        // A handful of files: not worth threads.
        let dst_refs = dst_git.join("refs");
        std::fs::create_dir_all(&dst_refs).map_err(|e| io("creating", &dst_git, e))?;
        for f in walk_files(&refs)? {
            copy_one(&refs, &dst_refs, &f)?;
        }
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
    fn keeps_modes_contents_links_and_deep_directories() {
        use std::os::unix::fs::PermissionsExt;
        let src = tempfile::tempdir().unwrap();
        let dst = tempfile::tempdir().unwrap();
        git(src.path(), &["init", "-q"]);
        std::fs::create_dir_all(src.path().join("a/b/c")).unwrap();
        let script = src.path().join("a/b/c/run.sh");
        std::fs::write(&script, "#!/bin/sh\necho hi\n").unwrap();
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        // Larger than one copy chunk of small files, and not a multiple of the page size.
        let big: Vec<u8> = (0..3_000_001u32).map(|i| (i % 251) as u8).collect();
        std::fs::write(src.path().join("a/big.bin"), &big).unwrap();
        std::fs::write(src.path().join("empty"), "").unwrap();
        std::os::unix::fs::symlink("b/c/run.sh", src.path().join("a/link")).unwrap();
        std::os::unix::fs::symlink("../nowhere", src.path().join("dangling")).unwrap();
        git(src.path(), &["add", "."]);
        git(src.path(), &["commit", "-qm", "init"]);
        // Untracked, in a directory git has never seen.
        std::fs::create_dir_all(src.path().join("new/deeper")).unwrap();
        std::fs::write(src.path().join("new/deeper/x"), "x").unwrap();

        let ws = dst.path().join("ws");
        copy_working_tree(src.path(), &ws).unwrap();
        let mode = std::fs::metadata(ws.join("a/b/c/run.sh"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o111, 0o111, "mode {mode:o}");
        assert_eq!(std::fs::read(ws.join("a/big.bin")).unwrap(), big);
        assert_eq!(std::fs::read(ws.join("empty")).unwrap(), b"");
        assert_eq!(
            std::fs::read_link(ws.join("a/link")).unwrap(),
            Path::new("b/c/run.sh")
        );
        assert_eq!(
            std::fs::read_link(ws.join("dangling")).unwrap(),
            Path::new("../nowhere")
        );
        assert_eq!(std::fs::read(ws.join("new/deeper/x")).unwrap(), b"x");
        // A copy, not a link: writing to the workspace leaves the source alone.
        std::fs::write(ws.join("a/b/c/run.sh"), "changed").unwrap();
        assert_eq!(
            std::fs::read_to_string(&script).unwrap(),
            "#!/bin/sh\necho hi\n"
        );
    }

    #[test]
    fn a_fifo_in_a_plain_directory_does_not_block_the_copy() {
        let src = tempfile::tempdir().unwrap();
        let dst = tempfile::tempdir().unwrap();
        std::fs::write(src.path().join("file"), "x").unwrap();
        let fifo = std::ffi::CString::new(src.path().join("pipe").to_str().unwrap()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o644) }, 0);
        copy_working_tree(src.path(), dst.path()).unwrap();
        assert_eq!(std::fs::read(dst.path().join("file")).unwrap(), b"x");
        assert!(!dst.path().join("pipe").exists());
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
