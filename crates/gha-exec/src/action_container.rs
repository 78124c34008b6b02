//! What [`JobEnv::provide_action_dir`] and [`JobEnv::run_action_container`] are asked to do, and
//! the default implementations every backend gets: action files copied in through
//! [`JobEnv::write_file`], Docker actions run by the `docker` CLI inside the job environment.
//!
//! Docker actions see the paths the official runner gives them (its `ContainerActionHandler`):
//! the job's workspace at `/github/workspace` (also the working directory), the file-command
//! directory at `/github/file_commands`, `$RUNNER_TEMP/_github_home` at `/github/home` (`HOME`)
//! and `$RUNNER_TEMP/_github_workflow` (where `event.json` is) at `/github/workflow`. Every
//! environment value that starts with one of those directories is rewritten to the container
//! path, so `GITHUB_OUTPUT` becomes `/github/file_commands/set_output_…`.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio_util::sync::CancellationToken;

use crate::backend::{BackendError, JobEnv, JobPaths};
use crate::exec::{Exec, ExitStatus, KillPolicy};
use crate::log_sink::{LogSink, NullLogSink};

/// Where a Docker action sees the job's workspace (`GITHUB_WORKSPACE`, the working directory).
pub const CONTAINER_WORKSPACE: &str = "/github/workspace";
/// Where a Docker action sees the file-command directory (`GITHUB_ENV`, `GITHUB_OUTPUT`, ...).
pub const CONTAINER_FILE_COMMANDS: &str = "/github/file_commands";
/// A Docker action's `HOME`.
pub const CONTAINER_HOME: &str = "/github/home";
/// Where a Docker action sees the workflow directory (`GITHUB_EVENT_PATH` is `event.json` in it).
pub const CONTAINER_WORKFLOW: &str = "/github/workflow";

/// The image a Docker action runs.
///
/// ```
/// use gha_exec::action_container::ActionImage;
/// let i = ActionImage::Image("alpine:3".into());
/// assert_eq!(i, ActionImage::Image("alpine:3".into()));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ActionImage {
    /// An existing image (`uses: docker://IMAGE`, or `runs.image: docker://IMAGE`).
    Image(String),
    /// Built from the action's Dockerfile.
    Dockerfile {
        /// The build context: the directory of the Dockerfile, on the machine running `gha`.
        context: PathBuf,
        /// The Dockerfile, relative to `context`.
        dockerfile: String,
    },
}

/// One bind mount of a Docker action: a directory of the job environment at a container path.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionMount {
    /// The directory as seen inside the job environment (a [`JobPaths`] path or below one).
    pub source: String,
    /// Where the action's container sees it.
    pub target: String,
}

/// A Docker action's container for one step (or its `pre-entrypoint`/`post-entrypoint`).
///
/// Built by the executor; backends run it with [`JobEnv::run_action_container`].
///
/// ```
/// use gha_exec::JobPaths;
/// use gha_exec::action_container::{ActionContainer, ActionImage};
///
/// let paths = JobPaths::under("/w/_temp", "/w/repo/repo");
/// let mut c = ActionContainer::new("docker://alpine", ActionImage::Image("alpine".into()), &paths);
/// c.env.push(("GITHUB_OUTPUT".into(), "/w/_temp/_runner_file_commands/set_output_1".into()));
/// c.translate_env();
/// assert_eq!(c.env[0].1, "/github/file_commands/set_output_1");
/// assert_eq!(c.working_dir, "/github/workspace");
/// assert_eq!(c.mounts.len(), 4);
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionContainer {
    /// The action as written (`owner/repo@ref`, `docker://image`), for messages.
    pub name: String,
    /// What to run.
    pub image: ActionImage,
    /// Replaces the image's `ENTRYPOINT` (and then its `CMD` too, as `docker run --entrypoint`).
    pub entrypoint: Option<String>,
    /// The command's arguments (`runs.args`, or the `args` input).
    pub args: Vec<String>,
    /// The container's environment, values already as the container sees them.
    pub env: Vec<(String, String)>,
    /// Bind mounts (see [`ActionContainer::github_mounts`]).
    pub mounts: Vec<ActionMount>,
    /// The working directory inside the container.
    pub working_dir: String,
    /// How a cancelled container is stopped.
    pub kill_policy: KillPolicy,
}

impl ActionContainer {
    /// A container of `image` with GitHub's mounts for a job with `paths`, working directory
    /// `/github/workspace`, no entrypoint, arguments or environment.
    pub fn new(name: impl Into<String>, image: ActionImage, paths: &JobPaths) -> ActionContainer {
        ActionContainer {
            name: name.into(),
            image,
            entrypoint: None,
            args: Vec::new(),
            env: Vec::new(),
            mounts: ActionContainer::github_mounts(paths),
            working_dir: CONTAINER_WORKSPACE.into(),
            kill_policy: KillPolicy::default(),
        }
    }

    /// The mounts the official runner gives Docker actions, sources as paths of the job
    /// environment: `$RUNNER_TEMP/_github_home` → `/github/home`, `$RUNNER_TEMP/_github_workflow`
    /// → `/github/workflow`, the file-command directory → `/github/file_commands`, the
    /// workspace → `/github/workspace`.
    ///
    /// ```
    /// let paths = gha_exec::JobPaths::under("/w/_temp", "/w/r/r");
    /// let m = gha_exec::action_container::ActionContainer::github_mounts(&paths);
    /// assert_eq!((m[0].source.as_str(), m[0].target.as_str()), ("/w/_temp/_github_home", "/github/home"));
    /// ```
    pub fn github_mounts(paths: &JobPaths) -> Vec<ActionMount> {
        let m = |source: String, target: &str| ActionMount {
            source,
            target: target.to_string(),
        };
        vec![
            m(format!("{}/_github_home", paths.temp), CONTAINER_HOME),
            m(
                format!("{}/_github_workflow", paths.temp),
                CONTAINER_WORKFLOW,
            ),
            m(paths.file_commands_dir(), CONTAINER_FILE_COMMANDS),
            m(paths.workspace.clone(), CONTAINER_WORKSPACE),
        ]
    }

    /// `value` with a leading mount source replaced by its target (the runner's
    /// `TranslateToContainerPath`); other values unchanged.
    ///
    /// ```
    /// let paths = gha_exec::JobPaths::under("/w/_temp", "/w/r/r");
    /// let c = gha_exec::action_container::ActionContainer::new(
    ///     "x", gha_exec::action_container::ActionImage::Image("i".into()), &paths);
    /// assert_eq!(c.translate("/w/r/r/src"), "/github/workspace/src");
    /// assert_eq!(c.translate("/w/r/rx"), "/w/r/rx");
    /// assert_eq!(c.translate("/w/_temp"), "/w/_temp");
    /// ```
    pub fn translate(&self, value: &str) -> String {
        for m in &self.mounts {
            if let Some(rest) = value.strip_prefix(m.source.as_str())
                && (rest.is_empty() || rest.starts_with('/'))
            {
                return format!("{}{rest}", m.target);
            }
        }
        value.to_string()
    }

    /// Applies [`ActionContainer::translate`] to every environment value.
    pub fn translate_env(&mut self) {
        let env = std::mem::take(&mut self.env);
        self.env = env
            .into_iter()
            .map(|(k, v)| {
                let v = self.translate(&v);
                (k, v)
            })
            .collect();
    }
}

/// The tag a Dockerfile action's image gets: `gha-runner-action:` and a hash of the *content*
/// of the build context (file names, executable bits, bytes), so that the same action at two
/// paths (two jobs, two runs) builds once and a changed action builds again.
///
/// ```
/// let a = tempfile::tempdir().unwrap();
/// let b = tempfile::tempdir().unwrap();
/// for d in [a.path(), b.path()] {
///     std::fs::write(d.join("Dockerfile"), "FROM scratch\n").unwrap();
/// }
/// let tag = gha_exec::action_container::build_tag(a.path()).unwrap();
/// assert!(tag.starts_with("gha-runner-action:"));
/// assert_eq!(tag, gha_exec::action_container::build_tag(b.path()).unwrap());
/// std::fs::write(b.path().join("x"), "1").unwrap();
/// assert_ne!(tag, gha_exec::action_container::build_tag(b.path()).unwrap());
/// ```
pub fn build_tag(context: &Path) -> std::io::Result<String> {
    Ok(format!(
        "gha-runner-action:{}",
        &content_hash(context)?[..24]
    ))
}

/// Files of `dir` (recursively, symlinks followed, `.git` skipped) in a stable order, each
/// with its path relative to `dir`.
fn files_of(dir: &Path) -> std::io::Result<Vec<(String, PathBuf)>> {
    let mut out = Vec::new();
    let walker = walkdir::WalkDir::new(dir)
        .follow_links(true)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| e.depth() == 0 || e.file_name() != ".git");
    for entry in walker {
        let entry = entry.map_err(std::io::Error::other)?;
        if !entry.file_type().is_file() {
            continue;
        }
        let rel = entry
            .path()
            .strip_prefix(dir)
            .map_err(std::io::Error::other)?
            .to_string_lossy()
            .replace('\\', "/");
        out.push((rel, entry.path().to_path_buf()));
    }
    Ok(out)
}

fn is_executable(path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(path).is_ok_and(|m| m.permissions().mode() & 0o111 != 0)
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        false
    }
}

/// A hex SHA-256 over the names, executable bits and contents of the files of `dir`.
pub fn content_hash(dir: &Path) -> std::io::Result<String> {
    let mut h = Sha256::new();
    for (rel, path) in files_of(dir)? {
        let bytes = std::fs::read(&path)?;
        h.update(rel.as_bytes());
        h.update([0, u8::from(is_executable(&path))]);
        h.update((bytes.len() as u64).to_le_bytes());
        h.update(&bytes);
    }
    Ok(hex::encode(h.finalize()))
}

/// Whether the job environment is this machine (its workspace path is the host's).
pub fn is_host(paths: &JobPaths) -> bool {
    paths
        .host_workspace
        .as_ref()
        .is_some_and(|h| h.to_str() == Some(paths.workspace.as_str()))
}

/// `<work>/_actions`: where the runner keeps downloaded actions (the parent of `RUNNER_TEMP`
/// plus `_actions`, e.g. `/home/runner/work/_actions`, `/__w/_actions` in container jobs).
///
/// ```
/// let paths = gha_exec::JobPaths::under("/__w/_temp", "/__w/r/r");
/// assert_eq!(gha_exec::action_container::actions_root(&paths), "/__w/_actions");
/// ```
pub fn actions_root(paths: &JobPaths) -> String {
    let parent = paths
        .temp
        .rsplit_once('/')
        .map(|(p, _)| p)
        .unwrap_or(paths.temp.as_str());
    format!("{parent}/_actions")
}

/// The path inside the job environment of `host_dir` when no copy is needed: `host_dir` itself
/// on the host, the matching workspace path when `host_dir` lies in the job's workspace (a
/// `./` action) and the workspace is shared with this machine.
pub fn shared_path(paths: &JobPaths, host_dir: &Path) -> Option<String> {
    if is_host(paths) {
        return Some(host_dir.to_string_lossy().into_owned());
    }
    let rel = host_dir.strip_prefix(paths.host_workspace.as_ref()?).ok()?;
    let rel = rel.to_string_lossy();
    Some(if rel.is_empty() {
        paths.workspace.clone()
    } else {
        format!("{}/{rel}", paths.workspace)
    })
}

/// The default [`JobEnv::provide_action_dir`]: [`shared_path`] when there is one, else every file
/// of `host_dir` written to `<work>/_actions/<layout>` with [`JobEnv::write_file`] and the
/// executable bits set again with one `chmod +x` exec.
pub async fn default_provide_action_dir<E: JobEnv + ?Sized>(
    env: &E,
    host_dir: &Path,
    layout: &str,
) -> Result<String, BackendError> {
    if let Some(p) = shared_path(env.paths(), host_dir) {
        return Ok(p);
    }
    let target = format!("{}/{}", actions_root(env.paths()), layout.trim_matches('/'));
    copy_dir_through_files(env, host_dir, &target).await?;
    Ok(target)
}

/// Copies the files of `host_dir` to `target` inside `env` with [`JobEnv::write_file`]; files
/// executable here are made executable there (`chmod +x`, in batches).
pub async fn copy_dir_through_files<E: JobEnv + ?Sized>(
    env: &E,
    host_dir: &Path,
    target: &str,
) -> Result<(), BackendError> {
    let dir = host_dir.to_path_buf();
    let files = tokio::task::spawn_blocking(move || files_of(&dir))
        .await
        .map_err(|e| BackendError::Other(e.to_string()))?
        .map_err(|e| BackendError::io(format!("reading {}", host_dir.display()), e))?;
    let mut executables = Vec::new();
    for (rel, path) in files {
        let bytes = tokio::fs::read(&path)
            .await
            .map_err(|e| BackendError::io(format!("reading {}", path.display()), e))?;
        let inside = format!("{target}/{rel}");
        env.write_file(&inside, &bytes).await?;
        if is_executable(&path) {
            executables.push(inside);
        }
    }
    for chunk in executables.chunks(200) {
        let mut argv = vec!["chmod".to_string(), "+x".into(), "--".into()];
        argv.extend(chunk.iter().cloned());
        let status = env
            .exec(&Exec::new(argv), &NullLogSink, CancellationToken::new())
            .await?;
        if !status.success() {
            return Err(BackendError::Other(format!(
                "making the files of {target} executable failed ({status})"
            )));
        }
    }
    Ok(())
}

/// The default [`JobEnv::run_action_container`]: the `docker` CLI inside the job environment
/// (`docker build` when the image is not there yet, then `docker run --rm`). Fails with a clear
/// error when no Docker engine answers there.
pub async fn run_with_docker_cli<E: JobEnv + ?Sized>(
    env: &E,
    container: &ActionContainer,
    sink: &dyn LogSink,
    cancel: CancellationToken,
) -> Result<ExitStatus, BackendError> {
    let name = &container.name;
    let probe = Exec::new(["docker", "version", "--format", "{{.Server.Version}}"]);
    let why = match env.exec(&probe, &NullLogSink, cancel.child_token()).await {
        Ok(s) if s.success() => None,
        Ok(s) => Some(format!("`docker version` exited with {s}")),
        Err(e) => Some(e.to_string()),
    };
    if let Some(why) = why {
        return Err(BackendError::Other(format!(
            "`{name}` is a Docker action, but no Docker engine answers in this job's environment ({why}); start Docker or use --backend docker"
        )));
    }
    let paths = env.paths().clone();
    let image = match &container.image {
        ActionImage::Image(image) => image.clone(),
        ActionImage::Dockerfile {
            context,
            dockerfile,
        } => {
            let ctx = context.clone();
            let tag = tokio::task::spawn_blocking(move || build_tag(&ctx))
                .await
                .map_err(|e| BackendError::Other(e.to_string()))?
                .map_err(|e| BackendError::io(format!("reading {}", context.display()), e))?;
            let inspect = Exec::new(["docker", "image", "inspect", tag.as_str()]);
            let have = env
                .exec(&inspect, &NullLogSink, cancel.child_token())
                .await
                .is_ok_and(|s| s.success());
            if !have {
                let layout = format!("_docker/{}", tag.rsplit(':').next().unwrap_or("x"));
                let inside = env.provide_action_dir(context, &layout).await?;
                let build = Exec::new([
                    "docker".to_string(),
                    "build".into(),
                    "-t".into(),
                    tag.clone(),
                    "-f".into(),
                    format!("{inside}/{dockerfile}"),
                    inside,
                ]);
                let status = env.exec(&build, sink, cancel.child_token()).await?;
                if !status.success() {
                    return Err(BackendError::Other(format!(
                        "Docker build failed with exit code {}",
                        status.code.unwrap_or(1)
                    )));
                }
            }
            tag
        }
    };
    if is_host(&paths) {
        for m in &container.mounts {
            let _ = std::fs::create_dir_all(&m.source);
        }
    }
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let cname = format!(
        "gha-action-{}-{}",
        std::process::id(),
        N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    );
    let mut argv: Vec<String> = vec![
        "docker".into(),
        "run".into(),
        "--rm".into(),
        "--name".into(),
        cname.clone(),
    ];
    for m in &container.mounts {
        argv.push("-v".into());
        argv.push(format!("{}:{}", m.source, m.target));
    }
    argv.push("--workdir".into());
    argv.push(container.working_dir.clone());
    let mut exec = Exec::default();
    for (k, v) in &container.env {
        argv.push("-e".into());
        if k == "HOME" || k == "PATH" {
            // Would change the docker CLI's own behaviour: pass it on the command line.
            argv.push(format!("{k}={v}"));
        } else {
            argv.push(k.clone());
            exec.env.push((k.clone(), v.clone()));
        }
    }
    if let Some(ep) = &container.entrypoint {
        argv.push("--entrypoint".into());
        argv.push(ep.clone());
    }
    argv.push(image);
    argv.extend(container.args.iter().cloned());
    exec.argv = argv;
    exec.kill_policy = container.kill_policy;
    let status = env.exec(&exec, sink, cancel).await;
    if status.as_ref().map_or(true, |s| s.cancelled) {
        // A docker CLI killed before it could remove its container leaves it behind.
        let rm = Exec::new(["docker", "rm", "-f", cname.as_str()]);
        let _ = env.exec(&rm, &NullLogSink, CancellationToken::new()).await;
    }
    status
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn translation_follows_the_runner_mounts() {
        let paths = JobPaths::under("/h/work/_temp", "/h/work/r/r");
        let mut c = ActionContainer::new("a", ActionImage::Image("i".into()), &paths);
        c.env = vec![
            ("GITHUB_WORKSPACE".into(), "/h/work/r/r".into()),
            (
                "GITHUB_EVENT_PATH".into(),
                "/h/work/_temp/_github_workflow/event.json".into(),
            ),
            ("HOME".into(), "/h/work/_temp/_github_home".into()),
            ("RUNNER_TEMP".into(), "/h/work/_temp".into()),
            ("X".into(), "a /h/work/r/r".into()),
        ];
        c.translate_env();
        let v: Vec<&str> = c.env.iter().map(|(_, v)| v.as_str()).collect();
        assert_eq!(
            v,
            [
                "/github/workspace",
                "/github/workflow/event.json",
                "/github/home",
                "/h/work/_temp",
                "a /h/work/r/r"
            ]
        );
    }

    #[test]
    fn shared_paths_need_no_copy() {
        let mut paths = JobPaths::under("/__w/_temp", "/__w/r/r");
        assert_eq!(shared_path(&paths, Path::new("/x")), None);
        paths.host_workspace = Some(PathBuf::from("/host/ws"));
        assert_eq!(
            shared_path(&paths, Path::new("/host/ws/.github/a")).as_deref(),
            Some("/__w/r/r/.github/a")
        );
        assert_eq!(shared_path(&paths, Path::new("/cache/o/r")), None);
        let host = JobPaths {
            host_workspace: Some(PathBuf::from("/host/ws")),
            ..JobPaths::under("/host/_temp", "/host/ws")
        };
        assert_eq!(
            shared_path(&host, Path::new("/cache/o/r")).as_deref(),
            Some("/cache/o/r")
        );
    }

    /// A host job environment that does not admit being the host (as an ECS task would not).
    struct Elsewhere(Box<dyn JobEnv>, JobPaths);

    #[async_trait::async_trait]
    impl JobEnv for Elsewhere {
        fn paths(&self) -> &JobPaths {
            &self.1
        }
        async fn exec(
            &self,
            exec: &Exec,
            sink: &dyn LogSink,
            cancel: CancellationToken,
        ) -> Result<ExitStatus, BackendError> {
            self.0.exec(exec, sink, cancel).await
        }
        async fn write_file(&self, path: &str, contents: &[u8]) -> Result<(), BackendError> {
            self.0.write_file(path, contents).await
        }
        async fn read_file(&self, path: &str) -> Result<Vec<u8>, BackendError> {
            self.0.read_file(path).await
        }
        async fn stop(&self) -> Result<(), BackendError> {
            self.0.stop().await
        }
    }

    #[tokio::test]
    async fn the_default_copies_action_files_in_with_their_executable_bits() {
        use crate::{Backend, HostBackend, HostBackendOptions, JobSpec};
        use std::os::unix::fs::PermissionsExt;
        let repo = tempfile::tempdir().unwrap();
        let runs = tempfile::tempdir().unwrap();
        let host = HostBackend::new(HostBackendOptions::new(runs.path()))
            .start_job(&JobSpec::new("copy", repo.path()))
            .await
            .unwrap();
        let mut paths = host.paths().clone();
        paths.host_workspace = None;
        let env = Elsewhere(host, paths.clone());
        let action = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(action.path().join("dist/lib")).unwrap();
        std::fs::create_dir_all(action.path().join(".git")).unwrap();
        std::fs::write(action.path().join(".git/HEAD"), "x").unwrap();
        std::fs::write(action.path().join("dist/lib/index.js"), "js").unwrap();
        std::fs::write(action.path().join("run.sh"), "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(
            action.path().join("run.sh"),
            std::fs::Permissions::from_mode(0o755),
        )
        .unwrap();
        let inside = env
            .provide_action_dir(action.path(), "octo/tool/v1")
            .await
            .unwrap();
        assert_eq!(inside, format!("{}/octo/tool/v1", actions_root(&paths)));
        assert!(inside.ends_with("/_actions/octo/tool/v1"), "{inside}");
        let base = Path::new(&inside);
        assert_eq!(
            std::fs::read(base.join("dist/lib/index.js")).unwrap(),
            b"js"
        );
        let mode = std::fs::metadata(base.join("run.sh"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o111, 0o111, "{mode:o}");
        let mode = std::fs::metadata(base.join("dist/lib/index.js"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o111, 0, "{mode:o}");
        assert!(!base.join(".git").exists());
        env.stop().await.unwrap();
    }

    #[test]
    fn content_hash_sees_the_executable_bit() {
        use std::os::unix::fs::PermissionsExt;
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("e.sh"), "echo\n").unwrap();
        let before = content_hash(d.path()).unwrap();
        std::fs::set_permissions(
            d.path().join("e.sh"),
            std::fs::Permissions::from_mode(0o755),
        )
        .unwrap();
        assert_ne!(before, content_hash(d.path()).unwrap());
    }
}
