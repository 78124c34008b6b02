//! Finding and talking to the Docker engine.

use std::time::Duration;

use bollard::Docker;
use gha_exec::BackendError;

/// The socket tried when `DOCKER_HOST` is not set.
pub const DEFAULT_DOCKER_HOST: &str = "unix:///var/run/docker.sock";

/// How long a single API request may take before the engine counts as not answering.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// How long the first contact (version negotiation) may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A connection to a Docker engine, with the address it was made to (for messages).
///
/// ```no_run
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let engine = gha_backend_docker::Engine::connect(None).await.unwrap();
/// println!("talking to {}", engine.endpoint());
/// # });
/// ```
#[derive(Clone, Debug)]
pub struct Engine {
    docker: Docker,
    endpoint: String,
}

impl Engine {
    /// Connects to `host` (`unix:///path`, `tcp://host:port`, or a socket path), or when `None`
    /// to `DOCKER_HOST`, or else to [`DEFAULT_DOCKER_HOST`]; negotiates the API version with the
    /// engine. Fails with a message naming the address tried when no engine answers.
    pub async fn connect(host: Option<&str>) -> Result<Engine, BackendError> {
        let endpoint = match host {
            Some(h) => h.to_string(),
            None => std::env::var("DOCKER_HOST")
                .ok()
                .filter(|h| !h.is_empty())
                .unwrap_or_else(|| DEFAULT_DOCKER_HOST.to_string()),
        };
        let endpoint = if endpoint.starts_with('/') {
            format!("unix://{endpoint}")
        } else {
            endpoint
        };
        let unreachable = |why: String| {
            BackendError::Other(format!(
                "no Docker engine answers at {endpoint} ({why}); start dockerd or set DOCKER_HOST"
            ))
        };
        let docker = Docker::connect_with_host(&endpoint)
            .map_err(|e| unreachable(e.to_string()))?
            .with_timeout(REQUEST_TIMEOUT);
        let docker = match tokio::time::timeout(CONNECT_TIMEOUT, docker.negotiate_version()).await {
            Ok(Ok(docker)) => docker,
            Ok(Err(e)) => return Err(unreachable(e.to_string())),
            Err(_) => {
                return Err(unreachable(format!(
                    "no answer within {} s",
                    CONNECT_TIMEOUT.as_secs()
                )));
            }
        };
        Ok(Engine { docker, endpoint })
    }

    /// The bollard client.
    pub fn docker(&self) -> &Docker {
        &self.docker
    }

    /// The address connected to, e.g. `unix:///var/run/docker.sock`.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Whether the engine runs on this machine, so that bind mounts of local directories work
    /// (a `unix://` socket). Otherwise (`tcp://`, `ssh://`, …) jobs copy their files in through
    /// the archive API and keep them in a volume (see the crate's README, "Remote engines").
    ///
    /// ```no_run
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let engine = gha_backend_docker::Engine::connect(Some("tcp://127.0.0.1:2375")).await.unwrap();
    /// assert!(!engine.is_local());
    /// # });
    /// ```
    pub fn is_local(&self) -> bool {
        self.endpoint.starts_with("unix://")
    }

    /// The containers (running or not) that carry every label of `labels` (`key=value`);
    /// `what` names them in an error.
    pub async fn containers_labelled(
        &self,
        labels: &[String],
        what: &str,
    ) -> Result<Vec<bollard::models::ContainerSummary>, BackendError> {
        let filters = std::collections::HashMap::from([("label".to_string(), labels.to_vec())]);
        let options = bollard::query_parameters::ListContainersOptionsBuilder::default()
            .all(true)
            .filters(&filters)
            .build();
        self.docker
            .list_containers(Some(options))
            .await
            .map_err(|e| self.error(&format!("listing {what}"), e))
    }

    /// Runs `cleanup` with a fresh connection to this engine on its own thread and runtime,
    /// and waits for it: for `Drop` implementations, which may run while the caller's runtime
    /// is shutting down (a dropped executor future, a panicking test) or right before the
    /// process exits. Nothing happens when the engine cannot be reached.
    pub(crate) fn cleanup_blocking<F, Fut>(&self, cleanup: F)
    where
        F: FnOnce(Engine) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = ()>,
    {
        let endpoint = self.endpoint.clone();
        let worker = std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            runtime.block_on(async {
                if let Ok(engine) = Engine::connect(Some(&endpoint)).await {
                    cleanup(engine).await;
                }
            });
        });
        let _ = worker.join();
    }

    /// Removes container `id` (running or not) with its anonymous volumes. `Ok(false)` when it
    /// was already gone.
    pub async fn force_remove_container(&self, id: &str) -> Result<bool, BackendError> {
        let options = bollard::query_parameters::RemoveContainerOptionsBuilder::default()
            .force(true)
            .v(true)
            .build();
        match self.docker.remove_container(id, Some(options)).await {
            Ok(()) => Ok(true),
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            }) => Ok(false),
            Err(e) => Err(self.error(&format!("removing container {id}"), e)),
        }
    }

    /// Removes network `id`. `Ok(false)` when it was already gone.
    pub async fn remove_network(&self, id: &str) -> Result<bool, BackendError> {
        match self.docker.remove_network(id).await {
            Ok(()) => Ok(true),
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            }) => Ok(false),
            Err(e) => Err(self.error(&format!("removing network {id}"), e)),
        }
    }

    /// Removes volume `name`. `Ok(false)` when it was already gone.
    pub async fn remove_volume(&self, name: &str) -> Result<bool, BackendError> {
        let options = bollard::query_parameters::RemoveVolumeOptionsBuilder::default()
            .force(true)
            .build();
        match self.docker.remove_volume(name, Some(options)).await {
            Ok(()) => Ok(true),
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            }) => Ok(false),
            Err(e) => Err(self.error(&format!("removing volume {name}"), e)),
        }
    }

    /// Turns a bollard error from doing `what` into a [`BackendError`] that says whether the
    /// engine went away or refused the request.
    pub fn error(&self, what: &str, error: bollard::errors::Error) -> BackendError {
        use bollard::errors::Error as E;
        match error {
            E::DockerResponseServerError {
                status_code,
                message,
            } => {
                if status_code == 404 {
                    BackendError::NotFound(format!("{what}: {message}"))
                } else {
                    BackendError::Other(format!("{what}: the Docker engine answered: {message}"))
                }
            }
            E::DockerStreamError { error } => {
                BackendError::Other(format!("{what}: the Docker engine answered: {error}"))
            }
            other => BackendError::Other(format!(
                "{what}: the Docker engine at {} stopped answering ({other})",
                self.endpoint
            )),
        }
    }
}
