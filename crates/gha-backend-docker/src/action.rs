//! Actions in Docker jobs, without the docker CLI: action directories uploaded into the job
//! container, Docker actions as sibling containers (bollard), Dockerfile actions built through
//! the engine's build API and tagged by content.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use bollard::container::LogOutput;
use bollard::models::{ContainerCreateBody, HostConfig};
use bollard::query_parameters::{
    AttachContainerOptionsBuilder, BuildImageOptionsBuilder, CreateContainerOptionsBuilder,
    KillContainerOptionsBuilder, UploadToContainerOptionsBuilder,
};
use futures_util::StreamExt;
use gha_exec::action_container::{self, ActionContainer, ActionImage};
use gha_exec::{
    BackendError, ExitStatus, KillEscalation, KillSignal, LineSplitter, LogSink, OutputStream,
};
use tokio_util::sync::CancellationToken;

use crate::engine::Engine;
use crate::job_env::DockerJobEnv;
use crate::labels;

/// `action` on the containers of Docker actions (the [`labels::ROLE`] label).
pub const ACTION_ROLE: &str = "action";
/// On a Docker action's container: the id of the job container it belongs to.
pub const PARENT_LABEL: &str = "io.gha-runner.parent";

/// `JobEnv::provide_action_dir` for Docker jobs: a directory of the (bind-mounted) workspace
/// is used where it is; anything else is packed into a tar and uploaded to
/// `<work>/_actions/<layout>` in the job container (modes kept), which also works for an engine
/// on another machine.
pub(crate) async fn provide_action_dir(
    env: &DockerJobEnv,
    host_dir: &Path,
    layout: &str,
) -> Result<String, BackendError> {
    if let Some(p) = action_container::shared_path(&env.paths, host_dir) {
        return Ok(p);
    }
    let target = format!(
        "{}/{}",
        action_container::actions_root(&env.paths),
        layout.trim_matches('/')
    );
    let dir = host_dir.to_path_buf();
    let prefix = target.trim_start_matches('/').to_string();
    let tar = tokio::task::spawn_blocking(move || tar_of_dir(&dir, &prefix))
        .await
        .map_err(|e| BackendError::Other(e.to_string()))?
        .map_err(|e| BackendError::io(format!("packing {}", host_dir.display()), e))?;
    let options = UploadToContainerOptionsBuilder::default().path("/").build();
    env.engine
        .docker()
        .upload_to_container(
            &env.container_id,
            Some(options),
            bollard::body_full(tar.into()),
        )
        .await
        .map_err(|e| {
            env.engine
                .error(&format!("copying the action to {target}"), e)
        })?;
    Ok(target)
}

/// A tar of the files of `dir` (`.git` left out) under `prefix`, with their executable bits.
fn tar_of_dir(dir: &Path, prefix: &str) -> std::io::Result<Vec<u8>> {
    let mut builder = tar::Builder::new(Vec::new());
    builder.mode(tar::HeaderMode::Deterministic);
    builder.follow_symlinks(true);
    append_dir(&mut builder, dir, Path::new(prefix))?;
    builder.into_inner()
}

fn append_dir(builder: &mut tar::Builder<Vec<u8>>, dir: &Path, name: &Path) -> std::io::Result<()> {
    if !name.as_os_str().is_empty() {
        builder.append_dir(name, dir)?;
    }
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        if entry.file_name() == ".git" {
            continue;
        }
        let path = entry.path();
        let child = name.join(entry.file_name());
        let meta = std::fs::metadata(&path)?; // follows symlinks
        if meta.is_dir() {
            append_dir(builder, &path, &child)?;
        } else if meta.is_file() {
            builder.append_path_with_name(&path, &child)?;
        }
    }
    Ok(())
}

/// Builds the image of a Dockerfile action unless the engine has it (tagged by content, so a
/// second job, run or path of the same action builds nothing). Build output goes to `sink`.
///
/// The build races `cancel`: when it fires, the build's stream is dropped at once and the answer
/// is `Ok(None)`. The engine notices that the client went away and stops the build (the classic
/// builder kills and removes its intermediate container within about half a second). The tag
/// is only set by a build that completed, so it never names a half-built image; the layers of
/// the steps that did finish stay behind untagged, as the engine's build cache (`docker
/// builder prune` / `docker image prune` remove them).
async fn ensure_built(
    engine: &Engine,
    context: &Path,
    dockerfile: &str,
    sink: &dyn LogSink,
    cancel: &CancellationToken,
) -> Result<Option<String>, BackendError> {
    let ctx = context.to_path_buf();
    let tag = tokio::task::spawn_blocking(move || action_container::build_tag(&ctx))
        .await
        .map_err(|e| BackendError::Other(e.to_string()))?
        .map_err(|e| BackendError::io(format!("reading {}", context.display()), e))?;
    if engine.docker().inspect_image(&tag).await.is_ok() {
        return Ok(Some(tag));
    }
    if cancel.is_cancelled() {
        return Ok(None);
    }
    let ctx = context.to_path_buf();
    let tar = tokio::task::spawn_blocking(move || tar_of_dir(&ctx, ""))
        .await
        .map_err(|e| BackendError::Other(e.to_string()))?
        .map_err(|e| BackendError::io(format!("packing {}", context.display()), e))?;
    let image_labels = HashMap::from([(labels::MANAGED, "true")]);
    let options = BuildImageOptionsBuilder::default()
        .t(&tag)
        .dockerfile(dockerfile)
        .rm(true)
        .forcerm(true)
        .labels(&image_labels)
        .build();
    let mut out = LineSplitter::default();
    let mut stream =
        engine
            .docker()
            .build_image(options, None, Some(bollard::body_full(tar.into())));
    loop {
        let item = tokio::select! {
            biased;
            _ = cancel.cancelled() => {
                // Dropping the stream closes the connection: the engine stops building.
                drop(stream);
                out.finish(&mut |l| sink.line(OutputStream::Stdout, l));
                return Ok(None);
            }
            item = stream.next() => item,
        };
        let Some(item) = item else { break };
        match item {
            Ok(info) => {
                if let Some(text) = info.stream {
                    out.push(text.as_bytes(), &mut |l| sink.line(OutputStream::Stdout, l));
                }
                if let Some(e) = info.error_detail.and_then(|d| d.message) {
                    out.finish(&mut |l| sink.line(OutputStream::Stdout, l));
                    return Err(BackendError::Other(format!("Docker build failed: {e}")));
                }
            }
            Err(e) => {
                out.finish(&mut |l| sink.line(OutputStream::Stdout, l));
                return Err(match e {
                    bollard::errors::Error::DockerStreamError { error } => {
                        BackendError::Other(format!("Docker build failed: {error}"))
                    }
                    other => engine.error("building the action's image", other),
                });
            }
        }
    }
    out.finish(&mut |l| sink.line(OutputStream::Stdout, l));
    Ok(Some(tag))
}

/// The status of a Docker action stopped by its cancellation token before its container ran
/// (during the image pull or build): no exit code, no signal, cancelled.
fn cancelled_before_start() -> ExitStatus {
    ExitStatus {
        code: None,
        signal: None,
        cancelled: true,
    }
}

/// Removes a container when dropped unless disarmed (a cancelled or dropped step).
struct RemoveOnDrop {
    engine: Engine,
    id: String,
    armed: bool,
}

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let id = self.id.clone();
        self.engine.cleanup_blocking(move |engine| async move {
            let _ = remove(&engine, &id).await;
        });
    }
}

async fn remove(engine: &Engine, id: &str) -> Result<(), BackendError> {
    engine.force_remove_container(id).await.map(|_| ())
}

/// Removes the Docker-action containers of job container `parent` that are still there.
pub(crate) async fn remove_leftovers(engine: &Engine, parent: &str) -> Result<(), BackendError> {
    let list = engine
        .containers_labelled(&[format!("{PARENT_LABEL}={parent}")], "action containers")
        .await?;
    for c in list {
        if let Some(id) = c.id {
            remove(engine, &id).await?;
        }
    }
    Ok(())
}

/// `JobEnv::run_action_container` for Docker jobs: a sibling container of the job container
/// on the job's network, with the job's host directories behind GitHub's `/github/...` mounts,
/// labelled like the job's containers (so stop and `gha prune` find it), removed afterwards.
///
/// `cancel` is honoured from the start: during the image pull or build (abandoned at once, see
/// [`ensure_built`]) and before the container is created or started, the answer is a cancelled
/// status and no container runs; once it runs, it gets the kill policy's signals.
pub(crate) async fn run_action_container(
    env: &DockerJobEnv,
    req: &ActionContainer,
    sink: &dyn LogSink,
    cancel: CancellationToken,
) -> Result<ExitStatus, BackendError> {
    let engine = &env.engine;
    let docker = engine.docker();
    if cancel.is_cancelled() {
        return Ok(cancelled_before_start());
    }
    if !engine.is_local() {
        // GitHub's mounts are subdirectories of the job's volume (the workspace at
        // /github/workspace, ...), and the engines this crate supports cannot mount part of a
        // volume.
        return Err(BackendError::Unsupported(format!(
            "Docker action `{}` with a remote Docker engine ({}): its /github/workspace, /github/file_commands and /github/home mounts need directories shared with this machine; run the job with a local engine",
            req.name,
            engine.endpoint()
        )));
    }
    let image = match &req.image {
        ActionImage::Image(image) => {
            let available = crate::image::ensure(
                engine,
                image,
                None,
                &crate::image::ImageUse::Action(req.name.clone()),
                None,
                &cancel,
            )
            .await
            .map_err(|e| BackendError::Other(format!("Docker action `{}`: {e}", req.name)))?;
            if available == crate::image::Availability::Cancelled {
                return Ok(cancelled_before_start());
            }
            image.clone()
        }
        ActionImage::Dockerfile {
            context,
            dockerfile,
        } => match ensure_built(engine, context, dockerfile, sink, &cancel).await? {
            Some(tag) => tag,
            None => return Ok(cancelled_before_start()),
        },
    };

    let mut binds = Vec::new();
    for m in &req.mounts {
        let Some(host) = env.host_path(&m.source) else {
            return Err(BackendError::Unsupported(format!(
                "mounting {} into a Docker action: it is not a directory shared with this machine",
                m.source
            )));
        };
        tokio::fs::create_dir_all(&host)
            .await
            .map_err(|e| BackendError::io(format!("creating {}", host.display()), e))?;
        binds.push(format!("{}:{}", host.display(), m.target));
    }
    // The job container's labels (run id, instance, job) so that cleanup finds this one too.
    let job = docker
        .inspect_container(&env.container_id, None)
        .await
        .map_err(|e| engine.error("inspecting the job container", e))?;
    let mut container_labels: HashMap<String, String> = job
        .config
        .and_then(|c| c.labels)
        .unwrap_or_default()
        .into_iter()
        .filter(|(k, _)| {
            [
                labels::MANAGED,
                labels::RUN_ID,
                labels::INSTANCE,
                labels::JOB,
            ]
            .contains(&k.as_str())
        })
        .collect();
    container_labels.insert(labels::MANAGED.into(), "true".into());
    container_labels.insert(labels::ROLE.into(), ACTION_ROLE.into());
    container_labels.insert(PARENT_LABEL.into(), env.container_id.clone());

    static N: AtomicU64 = AtomicU64::new(0);
    let name = labels::docker_name(&[
        &env.container_name,
        "action",
        &N.fetch_add(1, Ordering::Relaxed).to_string(),
    ]);
    // Cancelled while the image was being made ready (a build that ended just as the token
    // fired): the action must not run.
    if cancel.is_cancelled() {
        return Ok(cancelled_before_start());
    }
    let body = ContainerCreateBody {
        image: Some(image.clone()),
        entrypoint: req.entrypoint.as_ref().map(|e| vec![e.clone()]),
        cmd: if req.entrypoint.is_some() || !req.args.is_empty() {
            Some(req.args.clone())
        } else {
            None
        },
        env: Some(req.env.iter().map(|(k, v)| format!("{k}={v}")).collect()),
        working_dir: Some(req.working_dir.clone()),
        labels: Some(container_labels),
        attach_stdout: Some(true),
        attach_stderr: Some(true),
        tty: Some(false),
        host_config: Some(HostConfig {
            binds: Some(binds),
            network_mode: env.resources.network.clone(),
            ..Default::default()
        }),
        ..Default::default()
    };
    let created = docker
        .create_container(
            Some(CreateContainerOptionsBuilder::default().name(&name).build()),
            body,
        )
        .await
        .map_err(|e| {
            engine.error(
                &format!("creating the container of `{}` ({image})", req.name),
                e,
            )
        })?;
    let mut guard = RemoveOnDrop {
        engine: engine.clone(),
        id: created.id.clone(),
        armed: true,
    };
    let result = attach_and_wait(engine, &created.id, req, sink, cancel).await;
    guard.armed = false;
    let removed = remove(engine, &created.id).await;
    let status = result?;
    removed?;
    Ok(status)
}

async fn attach_and_wait(
    engine: &Engine,
    id: &str,
    req: &ActionContainer,
    sink: &dyn LogSink,
    cancel: CancellationToken,
) -> Result<ExitStatus, BackendError> {
    let docker = engine.docker();
    let attached = docker
        .attach_container(
            id,
            Some(
                AttachContainerOptionsBuilder::default()
                    .stream(true)
                    .logs(true)
                    .stdout(true)
                    .stderr(true)
                    .build(),
            ),
        )
        .await
        .map_err(|e| engine.error(&format!("attaching to the container of `{}`", req.name), e))?;
    let mut output = attached.output;
    // Cancelled while the container was being created: never start it (the caller removes it).
    if cancel.is_cancelled() {
        return Ok(cancelled_before_start());
    }
    docker
        .start_container(id, None)
        .await
        .map_err(|e| engine.error(&format!("starting the container of `{}`", req.name), e))?;
    let mut out = LineSplitter::default();
    let mut err = LineSplitter::default();
    let mut cancelled = false;
    let mut escalation = KillEscalation::new(req.kill_policy);
    loop {
        tokio::select! {
            chunk = output.next() => match chunk {
                Some(Ok(LogOutput::StdOut { message })) | Some(Ok(LogOutput::Console { message })) => {
                    out.push(&message, &mut |l| sink.line(OutputStream::Stdout, l));
                }
                Some(Ok(LogOutput::StdErr { message })) => {
                    err.push(&message, &mut |l| sink.line(OutputStream::Stderr, l));
                }
                Some(Ok(LogOutput::StdIn { .. })) => {}
                Some(Err(e)) => {
                    return Err(engine.error(&format!("reading the output of `{}`", req.name), e));
                }
                None => break,
            },
            _ = cancel.cancelled(), if !cancelled => {
                cancelled = true;
                kill(engine, id, "SIGINT").await;
                escalation.start();
            }
            _ = escalation.wait(), if escalation.pending() => {
                let signal = match escalation.next_signal() {
                    KillSignal::Term => "SIGTERM",
                    _ => "SIGKILL",
                };
                kill(engine, id, signal).await;
            }
        }
    }
    out.finish(&mut |l| sink.line(OutputStream::Stdout, l));
    err.finish(&mut |l| sink.line(OutputStream::Stderr, l));
    let code = exit_code(engine, id).await?;
    Ok(ExitStatus::from_wait_code(code, cancelled))
}

async fn kill(engine: &Engine, id: &str, signal: &str) {
    let options = KillContainerOptionsBuilder::default()
        .signal(signal)
        .build();
    // A container that already ended answers 409: nothing to do.
    let _ = engine.docker().kill_container(id, Some(options)).await;
}

/// The exit code once the engine reports the container stopped (its output has ended).
async fn exit_code(engine: &Engine, id: &str) -> Result<i32, BackendError> {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    let mut delay = std::time::Duration::from_millis(2);
    loop {
        let state = engine
            .docker()
            .inspect_container(id, None)
            .await
            .map_err(|e| engine.error("inspecting an action container", e))?
            .state
            .unwrap_or_default();
        if state.running != Some(true)
            && let Some(code) = state.exit_code
        {
            return Ok(code as i32);
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(BackendError::Other(
                "an action container closed its output but the Docker engine still reports it running".into(),
            ));
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(std::time::Duration::from_millis(100));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tars_keep_executable_bits_and_leave_git_out() {
        use std::os::unix::fs::PermissionsExt;
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("sub")).unwrap();
        std::fs::create_dir_all(d.path().join(".git")).unwrap();
        std::fs::write(d.path().join(".git/HEAD"), "x").unwrap();
        std::fs::write(d.path().join("sub/a.js"), "a").unwrap();
        std::fs::write(d.path().join("run.sh"), "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(
            d.path().join("run.sh"),
            std::fs::Permissions::from_mode(0o755),
        )
        .unwrap();
        let tar = tar_of_dir(d.path(), "w/_actions/o/r/v1").unwrap();
        let mut archive = tar::Archive::new(tar.as_slice());
        let mut seen = Vec::new();
        for e in archive.entries().unwrap() {
            let e = e.unwrap();
            let path = e.path().unwrap().to_string_lossy().into_owned();
            seen.push((path, e.header().mode().unwrap() & 0o111 != 0));
        }
        assert!(
            seen.contains(&("w/_actions/o/r/v1/run.sh".into(), true)),
            "{seen:?}"
        );
        assert!(
            seen.contains(&("w/_actions/o/r/v1/sub/a.js".into(), false)),
            "{seen:?}"
        );
        assert!(!seen.iter().any(|(p, _)| p.contains(".git")), "{seen:?}");
        // A build context: the files at the top.
        let tar = tar_of_dir(d.path(), "").unwrap();
        let mut archive = tar::Archive::new(tar.as_slice());
        let names: Vec<String> = archive
            .entries()
            .unwrap()
            .map(|e| e.unwrap().path().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["run.sh", "sub", "sub/a.js"]);
    }
}
