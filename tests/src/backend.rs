//! Which backend a test runs `gha run` on, whether that backend can run here, and the
//! [`backend_tests!`](crate::backend_tests) macro that makes one test function per backend.

use std::process::{Command, Stdio};

/// The image every label maps to under `--backend docker` and `--backend ecs`.
pub const BASE_IMAGE: &str = "gha-runner/base:bookworm";

/// The `runs-on` labels the fixtures use; each maps to [`BASE_IMAGE`] (`-P LABEL=IMAGE`).
pub const LABELS: &[&str] = &[
    "ubuntu-latest",
    "ubuntu-24.04",
    "ubuntu-22.04",
    "ubuntu-20.04",
    "ubuntu-18.04",
    "x",
];

/// Where `gha run` runs a test's jobs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// `--backend host` (the default): processes on this machine.
    Host,
    /// `--backend docker` against the real engine, every label mapped to [`BASE_IMAGE`].
    Docker,
    /// `--backend ecs` against moto_server, with the test harness as ECS's scheduler starting
    /// each task's `gha agent` as a process of this machine.
    Ecs,
    /// `--backend ecs` as [`Backend::Ecs`], but each agent runs inside a container of
    /// [`BASE_IMAGE`] with the `gha` binary mounted, as in a real task.
    EcsAgentInContainer,
}

impl Backend {
    /// A short name for messages (`host`, `docker`, `ecs`, `ecs-container`).
    pub fn name(self) -> &'static str {
        match self {
            Backend::Host => "host",
            Backend::Docker => "docker",
            Backend::Ecs => "ecs",
            Backend::EcsAgentInContainer => "ecs-container",
        }
    }

    /// Whether jobs run on the host backend.
    pub fn is_host(self) -> bool {
        self == Backend::Host
    }

    /// Whether jobs run in Docker containers started by `gha` itself.
    pub fn is_docker(self) -> bool {
        self == Backend::Docker
    }

    /// Whether jobs run as ECS tasks (either agent placement).
    pub fn is_ecs(self) -> bool {
        matches!(self, Backend::Ecs | Backend::EcsAgentInContainer)
    }

    /// Whether the job's processes are processes of this machine's PID namespace (host, and
    /// ECS with agents started as processes), so that `/proc` sees their PIDs.
    pub fn steps_share_our_pid_namespace(self) -> bool {
        matches!(self, Backend::Host | Backend::Ecs)
    }

    /// The `gha run` flags that select this backend.
    pub fn run_flags(self) -> Vec<String> {
        let mut flags = Vec::new();
        match self {
            Backend::Host => {}
            Backend::Docker => flags.extend(["--backend".to_string(), "docker".to_string()]),
            Backend::Ecs | Backend::EcsAgentInContainer => {
                flags.extend(["--backend".to_string(), "ecs".to_string()])
            }
        }
        if !self.is_host() {
            for label in LABELS {
                flags.push("-P".into());
                flags.push(format!("{label}={BASE_IMAGE}"));
            }
        }
        flags
    }

    /// Whether this backend can run here. When it cannot, prints `skipped: …` and returns
    /// false, unless `GHA_REQUIRE_DOCKER=1` (Docker) or `GHA_REQUIRE_MOTO=1` (ECS) is set: then it
    /// panics, so that CI cannot pass by skipping.
    pub fn available(self) -> bool {
        let docker_needed = matches!(self, Backend::Docker | Backend::EcsAgentInContainer);
        if docker_needed && !docker_available() {
            return false;
        }
        if self.is_ecs() && crate::ecs::moto_endpoint().is_none() {
            return false;
        }
        true
    }

    /// Runs `test` on this backend when [`Backend::available`].
    pub fn run_test(self, test: impl FnOnce(Backend)) {
        if self.available() {
            test(self);
        }
    }
}

/// Whether a Docker engine answers and has [`BASE_IMAGE`]; prints `skipped: no Docker engine`
/// (or panics under `GHA_REQUIRE_DOCKER=1`) when not.
pub fn docker_available() -> bool {
    let engine = Command::new("docker")
        .args(["version", "--format", "{{.Server.Version}}"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    let image = engine
        && Command::new("docker")
            .args(["image", "inspect", BASE_IMAGE])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
    if image {
        return true;
    }
    let why = if engine {
        format!("the Docker engine has no image {BASE_IMAGE} (cargo xtask image)")
    } else {
        "no Docker engine".to_string()
    };
    assert!(
        std::env::var("GHA_REQUIRE_DOCKER").as_deref() != Ok("1"),
        "GHA_REQUIRE_DOCKER=1 but {why}"
    );
    eprintln!("skipped: {why}");
    false
}

/// Makes one test per backend from a function taking a [`Backend`]: `mod NAME { fn host();
/// fn docker(); fn ecs(); }`, each a `#[test]` that runs the body on that backend (or prints
/// `skipped: …` when the backend cannot run here and is not required).
///
/// Starting the list with `agent_in_container;` adds `fn ecs_agent_in_container()`, where each
/// ECS task's agent runs inside a container of the base image.
///
/// ```ignore
/// gha_tests::backend_tests! {
///     /// Echo works everywhere.
///     fn echo(b) {
///         let gha = gha_tests::Gha::with_workflow("...").on(b);
///         assert_eq!(gha.run(&[]).code(), 0);
///     }
/// }
/// ```
#[macro_export]
macro_rules! backend_tests {
    (agent_in_container; $($(#[$meta:meta])* fn $name:ident($b:ident) $body:block)*) => {
        $(
            $(#[$meta])*
            mod $name {
                #[allow(unused_imports)]
                use super::*;
                fn body($b: $crate::Backend) $body
                #[test]
                fn host() { $crate::Backend::Host.run_test(body) }
                #[test]
                fn docker() { $crate::Backend::Docker.run_test(body) }
                #[test]
                fn ecs() { $crate::Backend::Ecs.run_test(body) }
                #[test]
                fn ecs_agent_in_container() { $crate::Backend::EcsAgentInContainer.run_test(body) }
            }
        )*
    };
    ($($(#[$meta:meta])* fn $name:ident($b:ident) $body:block)*) => {
        $(
            $(#[$meta])*
            mod $name {
                #[allow(unused_imports)]
                use super::*;
                fn body($b: $crate::Backend) $body
                #[test]
                fn host() { $crate::Backend::Host.run_test(body) }
                #[test]
                fn docker() { $crate::Backend::Docker.run_test(body) }
                #[test]
                fn ecs() { $crate::Backend::Ecs.run_test(body) }
            }
        )*
    };
}
