//! `gha-backend-docker`: GitHub Actions jobs in Docker containers, through bollard.
//!
//! [`DockerBackend`] implements `gha-exec`'s [`Backend`](gha_exec::Backend): each job gets one
//! long-lived container (an init process plus `tail -f /dev/null`) with the job's workspace,
//! temp, tool-cache and home directories bind-mounted at the paths GitHub uses (`/__w/...` for
//! `container:` jobs, `/home/runner/work/...` otherwise). Every step is a Docker exec with its
//! own environment and working directory, stdout and stderr kept apart, and the exact exit code.
//! `services:` run on a per-job network where each is reachable by its id as host name, and are
//! waited for until their health check passes. Everything created carries the labels in
//! [`labels`] and is removed when the job stops (or by [`prune`] after a crash).
//!
//! `runs-on` labels map to images with [`Platforms`] (`-P LABEL=IMAGE`, as in act). The only
//! image available offline here is the one `cargo xtask image` builds:
//! `-P ubuntu-latest=gha-runner/base:bookworm`.
//!
//! ```no_run
//! use gha_backend_docker::{DockerBackend, DockerBackendOptions};
//! use gha_exec::{Backend, Exec, JobSpec, ServiceSpec, ContainerSpec, VecLogSink, CancellationToken};
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let mut options = DockerBackendOptions::new(std::env::temp_dir().join("gha-docker"));
//! options.platforms.add_flag("ubuntu-latest=gha-runner/base:bookworm")?;
//! let backend = DockerBackend::connect(options).await?;
//!
//! let mut spec = JobSpec::new("test", ".");
//! spec.runs_on = vec!["ubuntu-latest".into()];
//! let mut web = ContainerSpec::new("gha-runner/base:bookworm");
//! web.options = Some("--entrypoint python3".into());
//! spec.services.push(ServiceSpec { id: "web".into(), container: web });
//!
//! let job = backend.start_job(&spec).await?;
//! let log = VecLogSink::default();
//! job.exec(&Exec::new(["bash", "-c", "echo hi from $HOSTNAME"]), &log, CancellationToken::new()).await?;
//! job.stop().await?; // removes the containers, the network and the directories
//! # Ok::<(), gha_exec::BackendError>(())
//! # });
//! ```

mod action;
mod backend;
mod container;
mod engine;
mod exec;
mod health;
mod image;
mod job_env;
pub mod labels;
mod launcher;
mod options;
mod platforms;
mod prune;
mod remote;

pub use action::{ACTION_ROLE, PARENT_LABEL};
pub use backend::{DockerBackend, DockerBackendOptions};
pub use engine::{DEFAULT_DOCKER_HOST, Engine};
pub use image::Progress;
pub use job_env::DockerJobEnv;
pub use options::ContainerOptions;
pub use platforms::{DEFAULT_PLATFORMS, Platforms};
pub use prune::{PruneFilter, PruneReport, prune};
