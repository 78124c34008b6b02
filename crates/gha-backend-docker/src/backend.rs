//! [`DockerBackend`]: brings a job up as containers.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use async_trait::async_trait;
use bollard::models::{NetworkCreateRequest, VolumeCreateRequest};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, ListNetworksOptionsBuilder, ListVolumesOptionsBuilder,
};
use gha_exec::{
    Backend, BackendError, ContainerInfo, HostBackend, HostBackendOptions, JobEnv, JobPaths,
    JobSpec, RunningContainer, RunningService,
};

use crate::container::ContainerPlan;
use crate::engine::Engine;
use crate::image::{ImageUse, Progress};
use crate::job_env::{DockerJobEnv, Resources};
use crate::labels;
use crate::launcher::Launcher;

/// Where the step launcher's directory is mounted in job containers.
const LAUNCH_DIR: &str = "/__gha_launch";
use crate::platforms::Platforms;

/// Settings of a [`DockerBackend`].
///
/// ```
/// use gha_backend_docker::DockerBackendOptions;
///
/// let mut o = DockerBackendOptions::new("/tmp/gha-docker-runs");
/// o.platforms.add_flag("ubuntu-latest=gha-runner/base:bookworm").unwrap();
/// assert!(!o.reuse && !o.mount_docker_socket);
/// ```
#[derive(Clone)]
pub struct DockerBackendOptions {
    /// `runs-on` label → image (`-P`).
    pub platforms: Platforms,
    /// Where the per-job host directories (workspace copy, temp, tool cache) are made.
    pub runs_dir: PathBuf,
    /// Engine address; `None`: `DOCKER_HOST`, else the local socket.
    pub docker_host: Option<String>,
    /// Keep containers, networks and directories after the job (`--reuse`, for debugging).
    pub reuse: bool,
    /// Mount the engine's socket into job containers (off unless the user asks).
    pub mount_docker_socket: bool,
    /// Receives progress lines (image pulls, health-check waits).
    pub progress: Option<Progress>,
    /// Start steps through the in-container launcher (fast; falls back to plain Docker execs
    /// when the image cannot run it). `false`: one Docker exec per step.
    pub step_launcher: bool,
}

impl std::fmt::Debug for DockerBackendOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DockerBackendOptions")
            .field("platforms", &self.platforms)
            .field("runs_dir", &self.runs_dir)
            .field("docker_host", &self.docker_host)
            .field("reuse", &self.reuse)
            .field("mount_docker_socket", &self.mount_docker_socket)
            .field("step_launcher", &self.step_launcher)
            .finish_non_exhaustive()
    }
}

impl DockerBackendOptions {
    /// Default platforms, host directories under `runs_dir`, everything else off.
    pub fn new(runs_dir: impl Into<PathBuf>) -> DockerBackendOptions {
        DockerBackendOptions {
            platforms: Platforms::with_defaults(),
            runs_dir: runs_dir.into(),
            docker_host: None,
            reuse: false,
            mount_docker_socket: false,
            progress: None,
            step_launcher: true,
        }
    }
}

/// Runs each job in its own long-lived container (see the crate docs).
///
/// ```no_run
/// use gha_backend_docker::{DockerBackend, DockerBackendOptions};
/// use gha_exec::{Backend, Exec, JobSpec, VecLogSink, CancellationToken};
///
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let mut options = DockerBackendOptions::new(std::env::temp_dir().join("gha-docker"));
/// options.platforms.add_flag("ubuntu-latest=gha-runner/base:bookworm")?;
/// let backend = DockerBackend::connect(options).await?;
/// let mut spec = JobSpec::new("build", ".");
/// spec.runs_on = vec!["ubuntu-latest".into()];
/// let job = backend.start_job(&spec).await?;
/// let log = VecLogSink::default();
/// let status = job.exec(&Exec::new(["python", "--version"]), &log, CancellationToken::new()).await?;
/// assert!(status.success());
/// job.stop().await?;
/// # Ok::<(), gha_exec::BackendError>(())
/// # });
/// ```
pub struct DockerBackend {
    engine: Engine,
    options: DockerBackendOptions,
    host: HostBackend,
    instance: String,
    counter: AtomicU64,
}

impl std::fmt::Debug for DockerBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DockerBackend")
            .field("engine", &self.engine.endpoint())
            .field("instance", &self.instance)
            .finish_non_exhaustive()
    }
}

impl DockerBackend {
    /// Connects to the engine (see [`Engine::connect`]).
    pub async fn connect(options: DockerBackendOptions) -> Result<DockerBackend, BackendError> {
        let engine = Engine::connect(options.docker_host.as_deref()).await?;
        Ok(DockerBackend::with_engine(engine, options))
    }

    /// A backend on an existing connection.
    pub fn with_engine(engine: Engine, options: DockerBackendOptions) -> DockerBackend {
        let mut host_options = HostBackendOptions::new(&options.runs_dir);
        host_options.keep_run_dirs = options.reuse;
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() % 1_000_000_000)
            .unwrap_or(0);
        DockerBackend {
            engine,
            host: HostBackend::new(host_options),
            instance: format!("{}-{nanos}", std::process::id()),
            options,
            counter: AtomicU64::new(0),
        }
    }

    /// The engine connection.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The value of the [`labels::INSTANCE`] label on everything this backend creates.
    pub fn instance(&self) -> &str {
        &self.instance
    }

    /// Waits until the host run directories of stopped jobs are deleted (the host side of
    /// the bind mounts is removed in the background, as with [`HostBackend`]); dropping the
    /// backend waits too. The first deletion error, if any.
    pub fn wait_for_removals(&self) -> Result<(), BackendError> {
        self.host.wait_for_removals()
    }

    fn progress(&self) -> Option<&Progress> {
        self.options.progress.as_ref()
    }

    async fn start(
        &self,
        spec: &JobSpec,
        job_key: &str,
        res: &StartState,
    ) -> Result<Started, BackendError> {
        // A remote engine cannot see this machine's directories: a tracer's tool mounts are
        // paths here.
        if !self.engine.is_local() && !spec.tracer_requirements.mounts.is_empty() {
            return Err(BackendError::Unsupported(format!(
                "a tracer's mounts of this machine's directories ({}) with a remote Docker engine ({})",
                spec.tracer_requirements
                    .mounts
                    .iter()
                    .map(|m| m.source.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
                self.engine.endpoint()
            )));
        }
        let base_name = labels::docker_name(&["gha", &spec.run_id, &self.instance, job_key]);
        let job_labels = labels::for_job(&spec.run_id, &self.instance, job_key);

        // Images first: nothing to clean up when one is missing.
        let (image, image_use) = match &spec.container {
            Some(c) => (c.image.clone(), ImageUse::JobContainer),
            None => {
                let (label, image) = self.options.platforms.resolve(&spec.runs_on)?;
                (image, ImageUse::Platform(label))
            }
        };
        let credentials = spec.container.as_ref().and_then(|c| c.credentials.as_ref());
        // `Backend::start_job` has no cancellation token: a cancelled run abandons the start by
        // dropping this future (the pull's stream goes with it, and the engine abandons the
        // pull); `StartGuard` then removes what was created.
        let never = tokio_util::sync::CancellationToken::new();
        crate::image::ensure(
            &self.engine,
            &image,
            credentials,
            &image_use,
            self.progress(),
            &never,
        )
        .await?;
        for service in &spec.services {
            crate::image::ensure(
                &self.engine,
                &service.container.image,
                service.container.credentials.as_ref(),
                &ImageUse::Service(service.id.clone()),
                self.progress(),
                &never,
            )
            .await?;
        }
        // Parse every options string before creating anything.
        let mut job_plan = match &spec.container {
            Some(c) => ContainerPlan::from_spec(c)?,
            None => ContainerPlan {
                image: image.clone(),
                ..ContainerPlan::default()
            },
        };
        let mut service_plans = Vec::new();
        for service in &spec.services {
            service_plans.push((
                service.id.clone(),
                ContainerPlan::from_spec(&service.container)?,
            ));
        }

        // Host directories (a copy of the working tree, temp, tool cache), made by the host
        // backend so that the workspace is exactly what `--backend host` gives.
        let mut host_spec = spec.clone();
        host_spec.container = None;
        host_spec.services.clear();
        let host_dirs = self.host.start_job(&host_spec).await?;
        let started = self
            .start_containers(
                spec,
                &base_name,
                &job_labels,
                &mut job_plan,
                service_plans,
                host_dirs.paths(),
                res,
            )
            .await;
        match started {
            Ok(containers) => Ok(Started {
                containers,
                container_name: base_name,
                host_dirs,
            }),
            Err(e) => {
                if !self.options.reuse {
                    let _ = host_dirs.stop().await;
                }
                Err(e)
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    async fn start_containers(
        &self,
        spec: &JobSpec,
        base_name: &str,
        job_labels: &std::collections::HashMap<String, String>,
        job_plan: &mut ContainerPlan,
        service_plans: Vec<(String, ContainerPlan)>,
        host: &JobPaths,
        res: &StartState,
    ) -> Result<StartedContainers, BackendError> {
        let docker = self.engine.docker();
        let repo = spec
            .repository
            .rsplit('/')
            .next()
            .filter(|s| !s.is_empty())
            .map(gha_exec::backend::sanitize_name)
            .unwrap_or_else(|| "repo".into());
        // The paths GitHub uses: /__w/... in container jobs, the hosted runner's otherwise.
        let (work, tool, home) = if spec.container.is_some() {
            (
                "/__w".to_string(),
                "/__t".to_string(),
                "/github/home".to_string(),
            )
        } else {
            (
                "/home/runner/work".to_string(),
                "/opt/hostedtoolcache".to_string(),
                "/home/runner".to_string(),
            )
        };
        let paths = JobPaths {
            workspace: format!("{work}/{repo}/{repo}"),
            temp: format!("{work}/_temp"),
            tool_cache: tool,
            home,
            // A remote engine's copy is not visible here (steps change it there).
            host_workspace: if self.engine.is_local() {
                host.host_workspace.clone()
            } else {
                None
            },
        };
        let host_workspace = host
            .host_workspace
            .clone()
            .unwrap_or_else(|| PathBuf::from(&host.workspace));
        let host_temp = PathBuf::from(&host.temp);
        let host_home = host_temp.parent().unwrap_or(Path::new("/")).join("_home");
        tokio::fs::create_dir_all(&host_home)
            .await
            .map_err(|e| BackendError::io(format!("creating {}", host_home.display()), e))?;
        let host_launch = host_temp.parent().unwrap_or(Path::new("/")).join("_launch");
        // A remote engine cannot mount this machine's directories: the `work` tree lives in a
        // volume of the job's, filled through the archive API once the container runs.
        let remote = !self.engine.is_local();
        let mounts = if remote {
            Vec::new()
        } else {
            vec![
                (paths.workspace.clone(), host_workspace.clone()),
                (paths.temp.clone(), host_temp),
                (paths.tool_cache.clone(), PathBuf::from(&host.tool_cache)),
                (paths.home.clone(), host_home),
            ]
        };
        let work_volume = if remote {
            res.creating.store(true, Ordering::SeqCst);
            let created = docker
                .create_volume(VolumeCreateRequest {
                    name: Some(base_name.to_string()),
                    labels: Some(job_labels.clone()),
                    ..Default::default()
                })
                .await
                .map_err(|e| self.engine.error("creating the job's volume", e));
            res.creating.store(false, Ordering::SeqCst);
            let name = created?.name;
            lock(&res.resources).volumes.push(name.clone());
            Some(name)
        } else {
            None
        };

        // The job network, when services need one.
        let network = if spec.services.is_empty() {
            None
        } else {
            res.creating.store(true, Ordering::SeqCst);
            let created = docker
                .create_network(NetworkCreateRequest {
                    name: base_name.to_string(),
                    driver: Some("bridge".into()),
                    labels: Some(job_labels.clone()),
                    ..Default::default()
                })
                .await
                .map_err(|e| self.engine.error("creating the job network", e));
            res.creating.store(false, Ordering::SeqCst);
            let id = created?.id;
            lock(&res.resources).network = Some(id.clone());
            Some(base_name.to_string())
        };

        // Services, reachable by their id as host name.
        let mut services = Vec::new();
        for (id, mut plan) in service_plans {
            let mut service_labels = job_labels.clone();
            service_labels.insert(labels::ROLE.into(), "service".into());
            plan.labels = service_labels;
            plan.network = network.clone();
            plan.aliases = vec![id.clone()];
            let name = labels::docker_name(&[base_name, &id]);
            let container_id = self
                .create_and_start(&name, &plan, res, &format!("service `{id}`"))
                .await?;
            services.push((id, container_id));
        }

        // The job container: kept alive, workspace and temp mounted.
        let mut job_labels = job_labels.clone();
        job_labels.insert(labels::ROLE.into(), "job".into());
        job_plan.labels = job_labels;
        job_plan.keep_alive = true;
        job_plan.network = network.clone();
        job_plan.working_dir = Some(paths.workspace.clone());
        // HOME is the mounted home directory, as the official runner sets it for containers.
        if !job_plan.env.iter().any(|e| e.starts_with("HOME=")) {
            job_plan.env.insert(0, format!("HOME={}", paths.home));
        }
        job_plan.tracer = spec.tracer_requirements.clone();
        for (inside, host) in &mounts {
            job_plan.binds.push(format!("{}:{inside}", host.display()));
        }
        if let Some(volume) = &work_volume {
            job_plan.binds.push(format!("{volume}:{work}"));
        } else {
            job_plan
                .binds
                .push(format!("{}:{LAUNCH_DIR}", host_launch.display()));
        }
        if self.options.mount_docker_socket {
            job_plan
                .binds
                .push("/var/run/docker.sock:/var/run/docker.sock".into());
        }
        let what = if spec.container.is_some() {
            "the job container"
        } else {
            "the job's container"
        };
        let container_id = self
            .create_and_start(base_name, job_plan, res, what)
            .await?;
        if remote {
            self.upload_job_tree(&container_id, &host_workspace, &paths)
                .await?;
        }
        // The launcher needs a directory shared with this machine: none with a remote engine.
        let launcher = if self.options.step_launcher && !remote {
            Launcher::start(&self.engine, &container_id, &host_launch, LAUNCH_DIR).await?
        } else {
            None
        };

        // Services must be healthy before the first step, as on GitHub.
        let mut info = ContainerInfo::default();
        for (id, container_id) in &services {
            crate::health::wait_healthy(&self.engine, container_id, id, self.progress()).await?;
            let inspected = docker
                .inspect_container(container_id, None)
                .await
                .map_err(|e| self.engine.error(&format!("inspecting service `{id}`"), e))?;
            let mut ports = Vec::new();
            if let Some(map) = inspected.network_settings.and_then(|n| n.ports) {
                for (container_port, bindings) in map {
                    let port = container_port.split('/').next().unwrap_or("").to_string();
                    if let Some(host_port) =
                        bindings.iter().flatten().find_map(|b| b.host_port.clone())
                    {
                        ports.push((port, host_port));
                    }
                }
            }
            ports.sort();
            ports.dedup();
            info.services.push(RunningService {
                name: id.clone(),
                container: RunningContainer {
                    id: container_id.clone(),
                    network: network.clone().unwrap_or_default(),
                },
                ports,
            });
        }
        if spec.container.is_some() {
            info.container = Some(RunningContainer {
                id: container_id.clone(),
                network: network.clone().unwrap_or_default(),
            });
        }
        Ok(StartedContainers {
            paths,
            mounts,
            info,
            container_id,
            launcher,
        })
    }

    /// Remote engines: copies the workspace (and empty temp, tool-cache and home directories)
    /// into the running job container through the archive API.
    async fn upload_job_tree(
        &self,
        container_id: &str,
        host_workspace: &Path,
        paths: &JobPaths,
    ) -> Result<(), BackendError> {
        let dir = host_workspace.to_path_buf();
        let tree_paths = paths.clone();
        let tar =
            tokio::task::spawn_blocking(move || crate::remote::job_tree_tar(&dir, &tree_paths))
                .await
                .map_err(|e| BackendError::Other(e.to_string()))?
                .map_err(|e| {
                    BackendError::io(format!("packing {}", host_workspace.display()), e)
                })?;
        let options = bollard::query_parameters::UploadToContainerOptionsBuilder::default()
            .path("/")
            .build();
        self.engine
            .docker()
            .upload_to_container(container_id, Some(options), bollard::body_full(tar.into()))
            .await
            .map_err(|e| {
                self.engine
                    .error(&format!("copying the workspace to {}", paths.workspace), e)
            })
    }

    async fn create_and_start(
        &self,
        name: &str,
        plan: &ContainerPlan,
        res: &StartState,
        what: &str,
    ) -> Result<String, BackendError> {
        let docker = self.engine.docker();
        let body = plan.build()?;
        let options = CreateContainerOptionsBuilder::default().name(name).build();
        res.creating.store(true, Ordering::SeqCst);
        let created = docker
            .create_container(Some(options), body)
            .await
            .map_err(|e| {
                self.engine
                    .error(&format!("creating {what} ({})", plan.image), e)
            });
        res.creating.store(false, Ordering::SeqCst);
        let created = created?;
        lock(&res.resources).containers.push(created.id.clone());
        docker
            .start_container(&created.id, None)
            .await
            .map_err(|e| {
                self.engine
                    .error(&format!("starting {what} ({})", plan.image), e)
            })?;
        Ok(created.id)
    }
}

struct StartedContainers {
    paths: JobPaths,
    mounts: Vec<(String, PathBuf)>,
    info: ContainerInfo,
    container_id: String,
    launcher: Option<Launcher>,
}

struct Started {
    containers: StartedContainers,
    container_name: String,
    host_dirs: Box<dyn JobEnv>,
}

fn lock(res: &Mutex<Resources>) -> std::sync::MutexGuard<'_, Resources> {
    res.lock().unwrap_or_else(|p| p.into_inner())
}

/// What a job start has created so far, shared with its [`StartGuard`].
#[derive(Default)]
struct StartState {
    resources: Mutex<Resources>,
    /// A create request (network or container) has been sent and its answer not read yet. Set
    /// and cleared around the request, never by a destructor: when the start is dropped during
    /// the request it stays set, and the guard knows the engine may still create the object.
    creating: AtomicBool,
}

/// How long an abandoned start's cleanup keeps looking for an object whose create request was
/// in flight when the start was dropped (the engine completes such a request although its
/// client went away).
const IN_FLIGHT_GRACE: std::time::Duration = std::time::Duration::from_secs(2);

/// Removes what a failed or abandoned start created, even when the start future is dropped
/// half-way (Ctrl-C during a pull, a create, or while waiting for a service): the recorded
/// objects, then anything else labelled with this backend instance and job (an object whose
/// create request was in flight is looked for until it appears, up to [`IN_FLIGHT_GRACE`]).
struct StartGuard<'a> {
    engine: &'a Engine,
    state: &'a StartState,
    instance: &'a str,
    job_key: &'a str,
    armed: bool,
}

impl Drop for StartGuard<'_> {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let resources = lock(&self.state.resources).clone();
        let in_flight = self.state.creating.load(Ordering::SeqCst);
        let instance = self.instance.to_string();
        let job_key = self.job_key.to_string();
        self.engine.cleanup_blocking(move |engine| async move {
            let _ = resources.remove(&engine).await;
            let deadline = tokio::time::Instant::now() + IN_FLIGHT_GRACE;
            loop {
                let removed = remove_job_objects(&engine, &instance, &job_key)
                    .await
                    .unwrap_or(0);
                // One create at a time: once the in-flight object is found, that is all.
                if !in_flight || removed > 0 || tokio::time::Instant::now() >= deadline {
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
        });
    }
}

/// Removes the containers, then the networks, then the volumes labelled with backend instance `instance` and job
/// key `job_key`; the number removed.
async fn remove_job_objects(
    engine: &Engine,
    instance: &str,
    job_key: &str,
) -> Result<usize, BackendError> {
    let wanted = vec![
        format!("{}={instance}", labels::INSTANCE),
        format!("{}={job_key}", labels::JOB),
    ];
    let filters = std::collections::HashMap::from([("label".to_string(), wanted.clone())]);
    let docker = engine.docker();
    let mut removed = 0;
    let containers = engine
        .containers_labelled(&wanted, "the job's containers")
        .await?;
    for id in containers.into_iter().filter_map(|c| c.id) {
        if engine.force_remove_container(&id).await? {
            removed += 1;
        }
    }
    let networks = docker
        .list_networks(Some(
            ListNetworksOptionsBuilder::default()
                .filters(&filters)
                .build(),
        ))
        .await
        .map_err(|e| engine.error("listing the job's networks", e))?;
    for id in networks.into_iter().filter_map(|n| n.id) {
        if engine.remove_network(&id).await? {
            removed += 1;
        }
    }
    let volumes = docker
        .list_volumes(Some(
            ListVolumesOptionsBuilder::default()
                .filters(&filters)
                .build(),
        ))
        .await
        .map_err(|e| engine.error("listing the job's volumes", e))?;
    for v in volumes.volumes.unwrap_or_default() {
        if engine.remove_volume(&v.name).await? {
            removed += 1;
        }
    }
    Ok(removed)
}

#[async_trait]
impl Backend for DockerBackend {
    fn name(&self) -> &str {
        "docker"
    }

    async fn start_job(&self, spec: &JobSpec) -> Result<Box<dyn JobEnv>, BackendError> {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let job_key = format!("{}-{n}", spec.unique_name);
        let state = StartState::default();
        let mut guard = StartGuard {
            engine: &self.engine,
            state: &state,
            instance: &self.instance,
            job_key: &job_key,
            armed: !self.options.reuse,
        };
        match self.start(spec, &job_key, &state).await {
            Ok(started) => {
                guard.armed = false;
                let resources = lock(&state.resources).clone();
                Ok(Box::new(DockerJobEnv {
                    engine: self.engine.clone(),
                    container_id: started.containers.container_id,
                    container_name: started.container_name,
                    paths: started.containers.paths,
                    mounts: started.containers.mounts,
                    resources,
                    launcher: started.containers.launcher,
                    info: started.containers.info,
                    host_dirs: started.host_dirs,
                    reuse: self.options.reuse,
                    stopped: AtomicBool::new(false),
                    stop_lock: tokio::sync::Mutex::new(()),
                    cleanup_error: Mutex::new(None),
                }))
            }
            Err(e) => {
                guard.armed = false;
                if !self.options.reuse {
                    let resources = lock(&state.resources).clone();
                    let _ = resources.remove(&self.engine).await;
                }
                Err(e)
            }
        }
    }
}
