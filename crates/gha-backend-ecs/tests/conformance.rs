//! The JobEnv conformance suite (`gha_exec::conformance`) against the ECS backend's job
//! environment: the controller side (`AgentListener` + `RemoteJobEnv`) driving a real
//! `gha agent` process over loopback, one test per contract item. No moto needed: the agent is
//! started the way ECS's scheduler would, with the URL and token in its environment. Needs
//! `target/debug/gha` (`cargo build -p gha-cli`).

mod common;

use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use common::{AgentHost, RunningAgent};
use gha_backend_ecs::agent::protocol::AgentJob;
use gha_backend_ecs::agent::{AgentListener, RemoteJobEnv, RemoteOptions};
use gha_exec::conformance::{self, Target};
use gha_exec::{Backend, BackendError, JobEnv, JobSpec};

/// A backend whose every job is a `gha agent` child process dialling back to a listener of its
/// own; it keeps the listeners and processes so that the test can check each agent exits 0
/// once its job is stopped.
#[derive(Default)]
struct AgentProcesses {
    agents: Mutex<Vec<(AgentListener, RunningAgent)>>,
}

#[async_trait]
impl Backend for AgentProcesses {
    fn name(&self) -> &str {
        "ecs agent"
    }

    async fn start_job(&self, spec: &JobSpec) -> Result<Box<dyn JobEnv>, BackendError> {
        let listener = AgentListener::bind("127.0.0.1:0".parse().unwrap(), None)
            .await
            .map_err(BackendError::Other)?;
        let mut pending = listener.expect().map_err(BackendError::Other)?;
        let env = [
            (
                gha_backend_ecs::agent::ENV_URL.to_string(),
                format!("tcp://{}", listener.local_addr()),
            ),
            (
                gha_backend_ecs::agent::ENV_TOKEN.to_string(),
                pending.token().to_string(),
            ),
        ];
        let agent = common::start_agent(AgentHost::Process, &env, None).await;
        let connection = tokio::time::timeout(Duration::from_secs(20), pending.connected())
            .await
            .map_err(|_| BackendError::Other("the agent did not connect within 20 s".into()))?
            .ok_or_else(|| BackendError::Other("the listener went away".into()))?;
        let job = AgentJob {
            job_id: spec.job_id.clone(),
            unique_name: spec.unique_name.clone(),
            run_id: spec.run_id.clone(),
            repository: spec.repository.clone(),
        };
        let mut options = RemoteOptions::new("the conformance agent");
        options.heartbeat_interval = Duration::from_millis(200);
        options.dead_after = Duration::from_secs(5);
        let env = RemoteJobEnv::start(connection, job, &spec.source_dir, options).await?;
        self.agents
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((listener, agent));
        Ok(Box::new(env))
    }
}

impl AgentProcesses {
    /// Checks that every agent exited 0 (its job was stopped).
    async fn assert_agents_exited(&self) {
        let agents = std::mem::take(&mut *self.agents.lock().unwrap_or_else(|e| e.into_inner()));
        assert!(!agents.is_empty(), "no agent was started");
        for (_listener, agent) in agents {
            let (code, stderr) = agent.finish(Duration::from_secs(20)).await;
            assert_eq!(code, Some(0), "the agent did not exit cleanly: {stderr}");
        }
    }
}

fn template() -> JobSpec {
    let mut spec = JobSpec::new("conformance", "/unused");
    spec.repository = "octo/hello".into();
    spec.run_id = "4711".into();
    spec
}

/// One `#[tokio::test]` per check, each with its own agents.
macro_rules! checks {
    ($($check:ident),+ $(,)?) => {
        $(
            #[tokio::test]
            async fn $check() {
                let backend = AgentProcesses::default();
                let target = Target::new(&backend, template());
                conformance::$check(&target).await;
                backend.assert_agents_exited().await;
            }
        )+
    };
}

gha_exec::conformance_checks!(checks);

/// Docker actions through the agent (the `docker` CLI where the agent runs: this machine).
#[tokio::test]
async fn run_action_container() {
    if !common::docker_ready().await {
        return;
    }
    let backend = AgentProcesses::default();
    let target = Target::new(&backend, template());
    conformance::run_action_container(&target, "gha-runner/base:bookworm").await;
    backend.assert_agents_exited().await;
}
