//! `hashFiles(...)` with GitHub's algorithm.
//!
//! Patterns use `@actions/glob` syntax relative to the workspace: `*` and `?` stay within one
//! path segment, `**` crosses segments, `[...]` classes, dot files match, a pattern that names a
//! directory also matches everything below it, and a leading `!` excludes (patterns apply in
//! order, so a later pattern can re-include). Matched regular files are visited in the order
//! the runner's globber visits them (depth first, names in byte order); the result is the hex
//! SHA-256 over the concatenated SHA-256 digests of their contents, or the empty string when no
//! file matches. Files outside the workspace never count.

use std::io::Read;
use std::path::{Path, PathBuf};

use globset::{GlobBuilder, GlobMatcher};
use sha2::{Digest, Sha256};

use crate::backend::{BackendError, JobEnv};

struct Pattern {
    negate: bool,
    exact: GlobMatcher,
    descendants: GlobMatcher,
}

fn compile(pattern: &str, workspace: &Path) -> Result<Option<Pattern>, String> {
    let mut p = pattern.trim();
    if p.is_empty() || p.starts_with('#') {
        return Ok(None);
    }
    let mut negate = false;
    while let Some(rest) = p.strip_prefix('!') {
        negate = !negate;
        p = rest;
    }
    let ws = workspace.to_string_lossy();
    let mut rel = p.to_string();
    if Path::new(p).is_absolute() {
        match p.strip_prefix(ws.as_ref()) {
            Some(r) if r.is_empty() || r.starts_with('/') => {
                rel = r.trim_start_matches('/').to_string()
            }
            // Outside the workspace: can never match a workspace file.
            _ => return Ok(None),
        }
    }
    while let Some(r) = rel.strip_prefix("./") {
        rel = r.to_string();
    }
    if rel.starts_with("../") || rel == ".." {
        return Ok(None);
    }
    let rel = rel.trim_end_matches('/');
    let build = |glob: &str| {
        GlobBuilder::new(glob)
            .literal_separator(true)
            .backslash_escape(true)
            .build()
            .map(|g| g.compile_matcher())
            .map_err(|e| format!("Invalid pattern '{pattern}': {e}"))
    };
    let (exact, descendants) = if rel.is_empty() {
        (build("**")?, build("**")?)
    } else {
        (build(rel)?, build(&format!("{rel}/**"))?)
    };
    Ok(Some(Pattern {
        negate,
        exact,
        descendants,
    }))
}

/// Computes `hashFiles(patterns...)` over the files under `workspace`.
///
/// ```
/// let ws = tempfile::tempdir().unwrap();
/// std::fs::write(ws.path().join("Cargo.lock"), "lock").unwrap();
/// std::fs::create_dir(ws.path().join("sub")).unwrap();
/// std::fs::write(ws.path().join("sub/Cargo.lock"), "lock2").unwrap();
///
/// let all = gha_exec::hash_files::hash_files(ws.path(), &["**/Cargo.lock".into()]).unwrap();
/// assert_eq!(all.len(), 64);
/// let none = gha_exec::hash_files::hash_files(ws.path(), &["*.nothing".into()]).unwrap();
/// assert_eq!(none, "");
/// let top = gha_exec::hash_files::hash_files(ws.path(), &["**/Cargo.lock".into(), "!sub".into()]).unwrap();
/// assert_ne!(top, all);
/// ```
pub fn hash_files(workspace: &Path, patterns: &[String]) -> Result<String, String> {
    let mut compiled = Vec::new();
    for p in patterns {
        // hashFiles('a\nb') is two patterns, as the runner joins and splits them by line.
        for line in p.split('\n') {
            if let Some(c) = compile(line, workspace)? {
                compiled.push(c);
            }
        }
    }
    if compiled.iter().all(|p| p.negate) {
        return Ok(String::new());
    }
    let mut total = Sha256::new();
    let mut matched = 0usize;
    let walker = walkdir::WalkDir::new(workspace)
        .follow_links(true)
        .sort_by(|a, b| {
            a.file_name()
                .as_encoded_bytes()
                .cmp(b.file_name().as_encoded_bytes())
        });
    for entry in walker.into_iter().filter_map(Result::ok) {
        if !entry.file_type().is_file() {
            continue;
        }
        let Ok(rel) = entry.path().strip_prefix(workspace) else {
            continue;
        };
        let rel = rel.to_string_lossy();
        let mut hit = false;
        for p in &compiled {
            let m = p.exact.is_match(rel.as_ref()) || p.descendants.is_match(rel.as_ref());
            if p.negate {
                hit &= !m;
            } else {
                hit |= m;
            }
        }
        if !hit {
            continue;
        }
        let digest = file_sha256(entry.path())
            .map_err(|e| format!("hashFiles: cannot read '{}': {e}", entry.path().display()))?;
        total.update(digest);
        matched += 1;
    }
    if matched == 0 {
        Ok(String::new())
    } else {
        Ok(hex::encode(total.finalize()))
    }
}

/// The `hashFiles` provider of a running job, on every backend: hashes the workspace here
/// when this machine sees it ([`JobPaths::host_workspace`](crate::JobPaths::host_workspace)),
/// else asks the job environment ([`JobEnv::hash_files`]: an ECS agent hashes its own
/// workspace).
///
/// The evaluator's [`gha_expr::HashFiles`] is synchronous while [`JobEnv`] is async, so the
/// second way blocks the calling worker thread with [`tokio::task::block_in_place`] (the
/// runtime moves its other tasks elsewhere meanwhile). That needs a multi-thread Tokio runtime;
/// on a current-thread runtime, or outside any runtime, `hashFiles` is a clear error instead.
///
/// ```
/// use gha_exec::hash_files::JobHashFiles;
/// use gha_exec::{Backend, HostBackend, HostBackendOptions, JobEnv, JobSpec};
/// use gha_expr::{EvalEnv, Object, parse, evaluate};
///
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// # let runs = tempfile::tempdir().unwrap();
/// let repo = tempfile::tempdir().unwrap();
/// std::fs::write(repo.path().join("Cargo.lock"), "lock").unwrap();
/// let env = HostBackend::new(HostBackendOptions::new(runs.path()))
///     .start_job(&JobSpec::new("build", repo.path())).await.unwrap();
/// let hash = JobHashFiles::for_env(Some(env.as_ref()));
/// let ctx = Object::new();
/// let v = evaluate(&parse("hashFiles('*.lock')").unwrap(), &EvalEnv::new(&ctx).with_hash_files(&hash)).unwrap();
/// assert_eq!(v.to_display_string().len(), 64);
/// // Before a job environment exists there is nothing to hash.
/// let none = JobHashFiles::none();
/// assert!(evaluate(&parse("hashFiles('*')").unwrap(), &EvalEnv::new(&ctx).with_hash_files(&none)).is_err());
/// env.stop().await.unwrap();
/// # });
/// ```
pub struct JobHashFiles<'a> {
    host_workspace: Option<PathBuf>,
    env: Option<&'a dyn JobEnv>,
}

impl<'a> JobHashFiles<'a> {
    /// No workspace (before the job environment is up, or in a dry run): `hashFiles` fails.
    pub fn none() -> JobHashFiles<'a> {
        JobHashFiles {
            host_workspace: None,
            env: None,
        }
    }

    /// `hashFiles` over `env`'s workspace (none when `env` is `None`).
    pub fn for_env(env: Option<&'a dyn JobEnv>) -> JobHashFiles<'a> {
        JobHashFiles {
            host_workspace: env.and_then(|e| e.paths().host_workspace.clone()),
            env,
        }
    }
}

impl gha_expr::HashFiles for JobHashFiles<'_> {
    fn hash_files(&self, patterns: &[String]) -> Result<String, String> {
        if let Some(ws) = &self.host_workspace {
            return hash_files(ws, patterns);
        }
        let Some(env) = self.env else {
            return Err("hashFiles is not available: the job has no workspace yet".into());
        };
        block_on_job_env(env.hash_files(patterns)).map_err(|e| e.to_string())
    }
}

/// Waits for a job environment's future from synchronous code running inside the job's task.
fn block_on_job_env<T>(
    fut: impl std::future::Future<Output = Result<T, BackendError>>,
) -> Result<T, BackendError> {
    use tokio::runtime::{Handle, RuntimeFlavor};
    let handle = Handle::try_current().map_err(|_| {
        BackendError::Other(
            "hashFiles over the job's workspace needs a Tokio runtime, and there is none".into(),
        )
    })?;
    if handle.runtime_flavor() != RuntimeFlavor::MultiThread {
        // block_in_place would panic, and blocking this thread would stall the very tasks
        // that carry the answer.
        return Err(BackendError::Other(
            "hashFiles over a workspace that is not on this machine needs a multi-thread Tokio \
             runtime (this one is current-thread)"
                .into(),
        ));
    }
    tokio::task::block_in_place(|| handle.block_on(fut))
}

fn file_sha256(path: &Path) -> std::io::Result<[u8; 32]> {
    let mut f = std::fs::File::open(path)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(h.finalize().into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ws(files: &[(&str, &str)]) -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        for (p, c) in files {
            let path = d.path().join(p);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, c).unwrap();
        }
        d
    }

    fn expected(contents: &[&str]) -> String {
        let mut total = Sha256::new();
        for c in contents {
            total.update(Sha256::digest(c.as_bytes()));
        }
        hex::encode(total.finalize())
    }

    fn h(d: &tempfile::TempDir, pats: &[&str]) -> String {
        hash_files(
            d.path(),
            &pats.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
        )
        .unwrap()
    }

    #[test]
    fn one_file_is_sha256_of_its_sha256() {
        let d = ws(&[("a.txt", "hello")]);
        assert_eq!(h(&d, &["a.txt"]), expected(&["hello"]));
    }

    #[test]
    fn order_is_depth_first_by_name() {
        // "b/x" comes before "b-c" depth first ('b' < 'b-c'), although "b-c" < "b/x" as strings.
        let d = ws(&[("b-c", "2"), ("b/x", "1"), ("a", "0")]);
        assert_eq!(h(&d, &["**"]), expected(&["0", "1", "2"]));
    }

    #[test]
    fn star_does_not_cross_directories_and_dotfiles_match() {
        let d = ws(&[("x.lock", "1"), ("d/y.lock", "2"), (".hidden.lock", "3")]);
        assert_eq!(h(&d, &["*.lock"]), expected(&["3", "1"]));
        assert_eq!(h(&d, &["**/*.lock"]), expected(&["3", "2", "1"]));
    }

    #[test]
    fn directories_match_their_contents_and_negation_applies_in_order() {
        let d = ws(&[("src/a", "1"), ("src/gen/b", "2")]);
        assert_eq!(h(&d, &["src"]), expected(&["1", "2"]));
        assert_eq!(h(&d, &["src", "!src/gen"]), expected(&["1"]));
        assert_eq!(
            h(&d, &["src", "!src/gen", "src/gen/b"]),
            expected(&["1", "2"])
        );
    }

    #[test]
    fn nothing_matched_or_outside_workspace_is_empty() {
        let d = ws(&[("a", "1")]);
        assert_eq!(h(&d, &["nope/**"]), "");
        assert_eq!(h(&d, &["../**"]), "");
        assert_eq!(h(&d, &["/etc/passwd"]), "");
    }

    #[test]
    fn absolute_patterns_inside_the_workspace_work() {
        let d = ws(&[("a", "1")]);
        let abs = format!("{}/a", d.path().display());
        assert_eq!(h(&d, &[abs.as_str()]), expected(&["1"]));
    }

    /// A job environment whose workspace this machine does not see: like an ECS task, it
    /// hashes its files itself (here: a directory the `JobPaths` do not reveal).
    struct Elsewhere {
        paths: crate::JobPaths,
        dir: PathBuf,
    }

    #[async_trait::async_trait]
    impl JobEnv for Elsewhere {
        fn paths(&self) -> &crate::JobPaths {
            &self.paths
        }
        async fn exec(
            &self,
            _: &crate::Exec,
            _: &dyn crate::LogSink,
            _: tokio_util::sync::CancellationToken,
        ) -> Result<crate::ExitStatus, BackendError> {
            Err(BackendError::Unsupported("exec".into()))
        }
        async fn write_file(&self, _: &str, _: &[u8]) -> Result<(), BackendError> {
            Err(BackendError::Unsupported("write_file".into()))
        }
        async fn read_file(&self, _: &str) -> Result<Vec<u8>, BackendError> {
            Err(BackendError::Unsupported("read_file".into()))
        }
        async fn hash_files(&self, patterns: &[String]) -> Result<String, BackendError> {
            // Answered by another task, as a remote agent's reply arrives through the
            // connection's reader task.
            let (dir, patterns) = (self.dir.clone(), patterns.to_vec());
            tokio::spawn(async move {
                tokio::task::spawn_blocking(move || hash_files(&dir, &patterns))
                    .await
                    .unwrap()
            })
            .await
            .unwrap()
            .map_err(BackendError::Other)
        }
        async fn stop(&self) -> Result<(), BackendError> {
            Ok(())
        }
    }

    fn elsewhere(d: &tempfile::TempDir) -> Elsewhere {
        Elsewhere {
            paths: crate::JobPaths::under("/task/_temp", "/task/repo/repo"),
            dir: d.path().to_path_buf(),
        }
    }

    fn eval_hash(provider: &JobHashFiles<'_>, expr: &str) -> Result<String, String> {
        let ctx = gha_expr::Object::new();
        let env = gha_expr::EvalEnv::new(&ctx).with_hash_files(provider);
        gha_expr::evaluate(&gha_expr::parse(expr).unwrap(), &env)
            .map(|v| v.to_display_string())
            .map_err(|e| e.to_string())
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 1)]
    async fn a_workspace_elsewhere_is_hashed_by_its_job_env() {
        let d = ws(&[("a.txt", "1"), ("sub/b.txt", "2"), ("c.md", "3")]);
        let env = elsewhere(&d);
        let provider = JobHashFiles::for_env(Some(&env));
        // Synchronous evaluation inside an async task, as the executor does it.
        assert_eq!(
            eval_hash(&provider, "hashFiles('**/*.txt')").unwrap(),
            expected(&["1", "2"])
        );
        assert_eq!(
            eval_hash(&provider, "hashFiles('**/*.txt', '!sub')").unwrap(),
            expected(&["1"])
        );
        assert_eq!(eval_hash(&provider, "hashFiles('*.nothing')").unwrap(), "");
        let err = eval_hash(&provider, "hashFiles('[')").unwrap_err();
        assert!(err.contains("Invalid pattern '['"), "{err}");
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_current_thread_runtime_is_a_clear_error_not_a_panic() {
        let d = ws(&[("a.txt", "1")]);
        let env = elsewhere(&d);
        let err = eval_hash(&JobHashFiles::for_env(Some(&env)), "hashFiles('*.txt')").unwrap_err();
        assert!(
            err.contains("needs a multi-thread Tokio runtime (this one is current-thread)"),
            "{err}"
        );
    }

    #[test]
    fn outside_a_runtime_is_a_clear_error_and_no_env_is_unavailable() {
        let d = ws(&[("a.txt", "1")]);
        let env = elsewhere(&d);
        let err = eval_hash(&JobHashFiles::for_env(Some(&env)), "hashFiles('*.txt')").unwrap_err();
        assert!(
            err.contains("needs a Tokio runtime, and there is none"),
            "{err}"
        );
        let err = eval_hash(&JobHashFiles::none(), "hashFiles('*.txt')").unwrap_err();
        assert!(err.contains("the job has no workspace yet"), "{err}");
    }

    #[test]
    fn a_visible_workspace_is_hashed_here_without_a_runtime() {
        let d = ws(&[("a.txt", "1")]);
        let mut env = elsewhere(&d);
        // The env's own hash_files would need a runtime: the local path does not.
        env.paths.host_workspace = Some(d.path().to_path_buf());
        env.dir = PathBuf::from("/nonexistent");
        assert_eq!(
            eval_hash(&JobHashFiles::for_env(Some(&env)), "hashFiles('*.txt')").unwrap(),
            expected(&["1"])
        );
    }

    #[tokio::test]
    async fn the_default_job_env_method_hashes_the_visible_workspace_or_is_unsupported() {
        let parent = ws(&[("ws/a.txt", "1"), ("outside.txt", "x")]);
        let workspace = parent.path().join("ws");
        let mut paths = crate::JobPaths::under("/t/_temp", "/t/repo/repo");
        let err = crate::backend::default_hash_files(&paths, &["*.txt".into()])
            .await
            .unwrap_err();
        assert!(matches!(err, BackendError::Unsupported(_)), "{err}");
        assert!(
            err.to_string()
                .contains("/t/repo/repo is not visible to gha"),
            "{err}"
        );
        paths.host_workspace = Some(workspace);
        let all = ["**".to_string(), "../*.txt".to_string()];
        assert_eq!(
            crate::backend::default_hash_files(&paths, &all)
                .await
                .unwrap(),
            expected(&["1"])
        );
        let err = crate::backend::default_hash_files(&paths, &["[".into()])
            .await
            .unwrap_err();
        assert!(
            matches!(err, BackendError::Other(ref m) if m.starts_with("Invalid pattern")),
            "{err}"
        );
    }

    #[test]
    fn bad_pattern_is_an_error() {
        let d = ws(&[("a", "1")]);
        assert!(hash_files(d.path(), &["[".to_string()]).is_err());
    }
}
