//! A running job: its container (plus services and network) and the host directories mounted
//! into it.

use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use async_trait::async_trait;
use bollard::query_parameters::{
    DownloadFromContainerOptionsBuilder, UploadToContainerOptionsBuilder,
};
use futures_util::StreamExt;
use gha_exec::action_container::ActionContainer;
use gha_exec::{
    BackendError, ContainerInfo, Exec, ExitStatus, JobEnv, JobPaths, LogSink, RunnerInfo,
};
use tokio_util::sync::CancellationToken;

use crate::engine::Engine;

/// What one job created on the engine, so that it can all be removed again.
#[derive(Clone, Debug, Default)]
pub(crate) struct Resources {
    /// Container ids, services first, the job container last.
    pub containers: Vec<String>,
    /// The job network's id.
    pub network: Option<String>,
    /// Named volumes (remote engines: the job's `work` tree).
    pub volumes: Vec<String>,
}

impl Resources {
    /// Removes every container (with its anonymous volumes) and the network. Goes on after an
    /// error and reports the first one; objects already gone count as removed.
    pub(crate) async fn remove(&self, engine: &Engine) -> Result<(), BackendError> {
        let mut first_error = None;
        for id in self.containers.iter().rev() {
            if let Err(e) = engine.force_remove_container(id).await {
                first_error.get_or_insert(e);
            }
        }
        if let Some(net) = &self.network
            && let Err(e) = engine.remove_network(net).await
        {
            first_error.get_or_insert(e);
        }
        for volume in &self.volumes {
            if let Err(e) = engine.remove_volume(volume).await {
                first_error.get_or_insert(e);
            }
        }
        first_error.map_or(Ok(()), Err)
    }
    /// [`Resources::remove`] from synchronous code (a `Drop`), on its own thread and runtime,
    /// so that it also works while the caller's runtime is shutting down (a panicking test or
    /// executor). Blocks until done.
    pub(crate) fn remove_blocking(&self, engine: &Engine) {
        if self.containers.is_empty() && self.network.is_none() && self.volumes.is_empty() {
            return;
        }
        let resources = self.clone();
        engine.cleanup_blocking(move |engine| async move {
            let _ = resources.remove(&engine).await;
        });
    }
}

/// A job running in a Docker container. Made by [`DockerBackend`](crate::DockerBackend).
///
/// Paths are container paths. With a local engine, files under the mounted directories
/// (workspace, temp, tool cache, home) are read and written on the host side of the bind mount;
/// other paths, and every path with a remote engine (no bind mounts), go through the engine's
/// archive API.
pub struct DockerJobEnv {
    pub(crate) engine: Engine,
    pub(crate) container_id: String,
    pub(crate) container_name: String,
    pub(crate) paths: JobPaths,
    /// (container directory, host directory) pairs of the bind mounts we made (none with a
    /// remote engine).
    pub(crate) mounts: Vec<(String, PathBuf)>,
    pub(crate) resources: Resources,
    /// The fast path for starting steps, when the image supports it.
    pub(crate) launcher: Option<crate::launcher::Launcher>,
    pub(crate) info: ContainerInfo,
    /// The host side of the directories (the host backend made them; it removes them).
    pub(crate) host_dirs: Box<dyn JobEnv>,
    pub(crate) reuse: bool,
    pub(crate) stopped: AtomicBool,
    pub(crate) stop_lock: tokio::sync::Mutex<()>,
    pub(crate) cleanup_error: Mutex<Option<String>>,
}

impl std::fmt::Debug for DockerJobEnv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DockerJobEnv")
            .field("container", &self.container_name)
            .field("paths", &self.paths)
            .finish_non_exhaustive()
    }
}

impl DockerJobEnv {
    /// The job container's id.
    pub fn container_id(&self) -> &str {
        &self.container_id
    }

    /// The job container's name (`gha-…`).
    pub fn container_name(&self) -> &str {
        &self.container_name
    }

    /// The host path behind container path `path`, when it lies under one of our bind mounts.
    pub(crate) fn host_path(&self, path: &str) -> Option<PathBuf> {
        let path = path.trim_end_matches('/');
        self.mounts.iter().find_map(|(inside, host)| {
            let rest = path.strip_prefix(inside.as_str())?;
            if rest.is_empty() {
                Some(host.clone())
            } else {
                let rest = rest.strip_prefix('/')?;
                if rest.split('/').any(|c| c == "..") {
                    return None;
                }
                Some(host.join(rest))
            }
        })
    }

    fn ensure_running(&self) -> Result<(), BackendError> {
        if self.stopped.load(Ordering::SeqCst) {
            Err(BackendError::Other(
                "the job environment was stopped".into(),
            ))
        } else {
            Ok(())
        }
    }
}

#[async_trait]
impl JobEnv for DockerJobEnv {
    fn paths(&self) -> &JobPaths {
        &self.paths
    }

    fn runner_info(&self) -> RunnerInfo {
        RunnerInfo {
            os: "Linux".into(),
            name: self.container_name.clone(),
            ..RunnerInfo::host()
        }
    }

    fn container_info(&self) -> ContainerInfo {
        self.info.clone()
    }

    async fn exec(
        &self,
        exec: &Exec,
        sink: &dyn LogSink,
        cancel: CancellationToken,
    ) -> Result<ExitStatus, BackendError> {
        self.ensure_running()?;
        if let Some(launcher) = self.launcher.as_ref().filter(|l| l.is_alive()) {
            match launcher
                .run(exec, &self.paths.workspace, sink, cancel.clone())
                .await
            {
                Err(e) if crate::launcher::not_started(&e) => {} // fall back to an exec
                result => return result,
            }
        }
        crate::exec::run(
            &self.engine,
            &self.container_id,
            exec,
            &self.paths.workspace,
            sink,
            cancel,
        )
        .await
    }

    async fn write_file(&self, path: &str, contents: &[u8]) -> Result<(), BackendError> {
        self.ensure_running()?;
        if let Some(host) = self.host_path(path) {
            if let Some(parent) = host.parent() {
                tokio::fs::create_dir_all(parent)
                    .await
                    .map_err(|e| BackendError::io(format!("creating {}", parent.display()), e))?;
            }
            return tokio::fs::write(&host, contents)
                .await
                .map_err(|e| BackendError::io(format!("writing {path}"), e));
        }
        let (parent, name) = match path.rsplit_once('/') {
            Some((parent, name)) if path.starts_with('/') && !name.is_empty() => {
                (if parent.is_empty() { "/" } else { parent }, name)
            }
            _ => {
                return Err(BackendError::Other(format!(
                    "writing {path}: container paths must be absolute file paths"
                )));
            }
        };
        let tar = tar_of_one_file(name, contents)
            .map_err(|e| BackendError::io(format!("packing {path}"), e))?;
        let upload = || {
            let options = UploadToContainerOptionsBuilder::default()
                .path(parent)
                .build();
            self.engine.docker().upload_to_container(
                &self.container_id,
                Some(options),
                bollard::body_full(tar.clone().into()),
            )
        };
        match upload().await {
            Ok(()) => Ok(()),
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            }) => {
                // The parent directory is missing: create it, then try again.
                let mkdir = Exec::new(["mkdir", "-p", parent]);
                let status = self
                    .exec(&mkdir, &gha_exec::NullLogSink, CancellationToken::new())
                    .await?;
                if !status.success() {
                    return Err(BackendError::Other(format!(
                        "writing {path}: cannot create {parent} ({status})"
                    )));
                }
                upload()
                    .await
                    .map_err(|e| self.engine.error(&format!("writing {path}"), e))
            }
            Err(e) => Err(self.engine.error(&format!("writing {path}"), e)),
        }
    }

    async fn read_file(&self, path: &str) -> Result<Vec<u8>, BackendError> {
        self.ensure_running()?;
        if let Some(host) = self.host_path(path) {
            return match tokio::fs::read(&host).await {
                Ok(bytes) => Ok(bytes),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    Err(BackendError::NotFound(path.to_string()))
                }
                Err(e) => Err(BackendError::io(format!("reading {path}"), e)),
            };
        }
        let options = DownloadFromContainerOptionsBuilder::default()
            .path(path)
            .build();
        let mut stream = self
            .engine
            .docker()
            .download_from_container(&self.container_id, Some(options));
        let mut tar = Vec::new();
        while let Some(chunk) = stream.next().await {
            match chunk {
                Ok(bytes) => tar.extend_from_slice(&bytes),
                Err(bollard::errors::Error::DockerResponseServerError {
                    status_code: 404, ..
                }) => return Err(BackendError::NotFound(path.to_string())),
                Err(e) => return Err(self.engine.error(&format!("reading {path}"), e)),
            }
        }
        first_file_of_tar(&tar)
            .map_err(|e| BackendError::io(format!("unpacking {path}"), e))?
            .ok_or_else(|| BackendError::Other(format!("reading {path}: not a regular file")))
    }

    /// With a local engine, the bind-mounted workspace is hashed here. With a remote one, the
    /// workspace as it is now in the job's volume is downloaded through the archive API,
    /// unpacked into a scratch directory under the job's host temp directory, hashed there and
    /// removed.
    async fn hash_files(&self, patterns: &[String]) -> Result<String, BackendError> {
        self.ensure_running()?;
        if self.paths.host_workspace.is_some() {
            return gha_exec::backend::default_hash_files(&self.paths, patterns).await;
        }
        let options = DownloadFromContainerOptionsBuilder::default()
            .path(&self.paths.workspace)
            .build();
        let mut stream = self
            .engine
            .docker()
            .download_from_container(&self.container_id, Some(options));
        let mut tar = Vec::new();
        while let Some(chunk) = stream.next().await {
            let bytes = chunk.map_err(|e| {
                self.engine
                    .error(&format!("hashFiles: reading {}", self.paths.workspace), e)
            })?;
            tar.extend_from_slice(&bytes);
        }
        static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let scratch = PathBuf::from(&self.host_dirs.paths().temp)
            .join(format!("_hashfiles-{}", N.fetch_add(1, Ordering::Relaxed)));
        let name = self
            .paths
            .workspace
            .rsplit('/')
            .next()
            .unwrap_or_default()
            .to_string();
        let patterns = patterns.to_vec();
        tokio::task::spawn_blocking(move || {
            let unpacked = tar::Archive::new(tar.as_slice()).unpack(&scratch);
            let result = match unpacked {
                Ok(()) => gha_exec::hash_files::hash_files(&scratch.join(&name), &patterns)
                    .map_err(BackendError::Other),
                Err(e) => Err(BackendError::io("hashFiles: unpacking the workspace", e)),
            };
            let _ = std::fs::remove_dir_all(&scratch);
            result
        })
        .await
        .map_err(|e| BackendError::Other(format!("hashFiles panicked: {e}")))?
    }

    async fn provide_action_dir(
        &self,
        host_dir: &std::path::Path,
        layout: &str,
    ) -> Result<String, BackendError> {
        self.ensure_running()?;
        crate::action::provide_action_dir(self, host_dir, layout).await
    }

    async fn run_action_container(
        &self,
        container: &ActionContainer,
        sink: &dyn LogSink,
        cancel: CancellationToken,
    ) -> Result<ExitStatus, BackendError> {
        self.ensure_running()?;
        crate::action::run_action_container(self, container, sink, cancel).await
    }

    async fn stop(&self) -> Result<(), BackendError> {
        let _guard = self.stop_lock.lock().await;
        if self.stopped.swap(true, Ordering::SeqCst) {
            return Ok(());
        }
        if self.reuse {
            return Ok(());
        }
        // Docker-action containers of a step that was abandoned mid-way.
        let actions_result =
            crate::action::remove_leftovers(&self.engine, &self.container_id).await;
        let engine_result = self.resources.remove(&self.engine).await;
        let engine_result = actions_result.and(engine_result);
        let dirs_result = self.host_dirs.stop().await;
        if let Err(e) = &engine_result {
            *self.cleanup_error.lock().unwrap_or_else(|p| p.into_inner()) = Some(e.to_string());
        }
        engine_result.and(dirs_result)
    }
}

impl Drop for DockerJobEnv {
    fn drop(&mut self) {
        // Dropped without stop() (a panic, a cancelled future): still remove what we made.
        if self.reuse || self.stopped.load(Ordering::SeqCst) {
            return;
        }
        self.launcher.take();
        self.resources.remove_blocking(&self.engine);
    }
}

fn tar_of_one_file(name: &str, contents: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut builder = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_gnu();
    header.set_size(contents.len() as u64);
    header.set_mode(0o644);
    header.set_mtime(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0),
    );
    header.set_entry_type(tar::EntryType::Regular);
    builder.append_data(&mut header, name, contents)?;
    builder.into_inner()
}

fn first_file_of_tar(tar: &[u8]) -> std::io::Result<Option<Vec<u8>>> {
    let mut archive = tar::Archive::new(tar);
    for entry in archive.entries()? {
        let mut entry = entry?;
        if entry.header().entry_type().is_file() {
            let mut bytes = Vec::new();
            std::io::Read::read_to_end(&mut entry, &mut bytes)?;
            return Ok(Some(bytes));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tar_round_trip() {
        let tar = tar_of_one_file("c.txt", b"hello").unwrap();
        assert_eq!(first_file_of_tar(&tar).unwrap().unwrap(), b"hello");
    }
}
