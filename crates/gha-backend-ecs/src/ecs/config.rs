//! How the ECS backend is configured: where tasks run and how their agents reach back.

use std::net::SocketAddr;
use std::time::Duration;

use gha_backend_docker::Platforms;

use crate::agent::{AgentUrl, TlsIdentity};

/// Which capacity runs the tasks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LaunchType {
    /// Container instances of the cluster (needed for tracers such as rr).
    #[default]
    Ec2,
    /// AWS Fargate (network mode `awsvpc`; needs subnets).
    Fargate,
}

impl std::str::FromStr for LaunchType {
    type Err = String;
    fn from_str(s: &str) -> Result<LaunchType, String> {
        match s.to_ascii_uppercase().as_str() {
            "EC2" => Ok(LaunchType::Ec2),
            "FARGATE" => Ok(LaunchType::Fargate),
            _ => Err(format!(
                "unknown ECS launch type '{s}' (expected EC2 or FARGATE)"
            )),
        }
    }
}

impl LaunchType {
    /// The name ECS uses.
    pub fn as_str(self) -> &'static str {
        match self {
            LaunchType::Ec2 => "EC2",
            LaunchType::Fargate => "FARGATE",
        }
    }
}

/// Settings of an [`EcsBackend`](crate::EcsBackend).
///
/// ```
/// use gha_backend_ecs::{EcsConfig, LaunchType};
/// let vars = [("GHA_ECS_CLUSTER", "ci"), ("GHA_ECS_LAUNCH_TYPE", "fargate"),
///             ("GHA_ECS_SUBNETS", "subnet-1,subnet-2"), ("GHA_ECS_ADVERTISE_URL", "tcp://10.0.0.5:7400")];
/// let config = EcsConfig::from_vars(|k| vars.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string())).unwrap();
/// assert_eq!(config.cluster, "ci");
/// assert_eq!(config.launch_type, LaunchType::Fargate);
/// assert_eq!(config.subnets, ["subnet-1", "subnet-2"]);
/// assert_eq!(config.network_mode(), "awsvpc");
/// ```
#[derive(Clone, Debug)]
pub struct EcsConfig {
    /// The cluster (`GHA_ECS_CLUSTER`, default `default`).
    pub cluster: String,
    /// EC2 or Fargate (`GHA_ECS_LAUNCH_TYPE`, default EC2).
    pub launch_type: LaunchType,
    /// Subnets for `awsvpc` tasks (`GHA_ECS_SUBNETS`, comma-separated).
    pub subnets: Vec<String>,
    /// Security groups for `awsvpc` tasks (`GHA_ECS_SECURITY_GROUPS`).
    pub security_groups: Vec<String>,
    /// Give `awsvpc` tasks a public IP (`GHA_ECS_ASSIGN_PUBLIC_IP=1`).
    pub assign_public_ip: bool,
    /// The task role (`GHA_ECS_TASK_ROLE_ARN`).
    pub task_role_arn: Option<String>,
    /// The execution role, needed for private registries and awslogs on Fargate
    /// (`GHA_ECS_EXECUTION_ROLE_ARN`).
    pub execution_role_arn: Option<String>,
    /// The region (`GHA_ECS_REGION`, else the SDK's usual sources).
    pub region: Option<String>,
    /// An endpoint URL instead of AWS's (`GHA_ECS_ENDPOINT`), e.g. a local emulator.
    pub endpoint: Option<String>,
    /// Where the controller listens for agents (`GHA_ECS_LISTEN`, default `0.0.0.0:7400`).
    pub listen: SocketAddr,
    /// The URL tasks dial (`GHA_ECS_ADVERTISE_URL`); required unless `listen` is a specific
    /// address, which is then used.
    pub advertise_url: Option<AgentUrl>,
    /// TLS for agent connections (`GHA_ECS_TLS_CERT` and `GHA_ECS_TLS_KEY`: PEM files). Agents
    /// get the certificate as the one to trust.
    pub tls: Option<TlsIdentity>,
    /// `runs-on` label → image (the Docker backend's mapping, `-P LABEL=IMAGE`).
    pub platforms: Platforms,
    /// Task CPU units (`GHA_ECS_CPU`, default `1024`).
    pub cpu: String,
    /// Task memory in MiB (`GHA_ECS_MEMORY`, default `2048`).
    pub memory: String,
    /// The agent's command line in the image (`GHA_ECS_AGENT_COMMAND`, space-separated,
    /// default `gha agent`).
    pub agent_command: Vec<String>,
    /// A directory on the container instance holding the `gha` binary, mounted read-only at
    /// `/opt/gha` (`GHA_ECS_AGENT_HOST_DIR`, EC2 only); the command becomes
    /// `/opt/gha/gha agent`.
    pub agent_host_dir: Option<String>,
    /// A CloudWatch Logs group for the `awslogs` driver (`GHA_ECS_LOG_GROUP`).
    pub log_group: Option<String>,
    /// The awslogs stream prefix (`GHA_ECS_LOG_STREAM_PREFIX`, default `gha`).
    pub log_stream_prefix: String,
    /// How long a task has to start and connect its agent (`GHA_ECS_CONNECT_TIMEOUT`,
    /// seconds, default 600).
    pub connect_timeout: Duration,
    /// How often to poll DescribeTasks while waiting (`GHA_ECS_POLL_INTERVAL`, seconds,
    /// default 3).
    pub poll_interval: Duration,
    /// After how long without any message an agent counts as gone (`GHA_ECS_AGENT_DEAD_AFTER`,
    /// seconds, default 30).
    pub agent_dead_after: Duration,
    /// How often heartbeats go both ways (default 5 s).
    pub heartbeat_interval: Duration,
    /// The task network mode instead of the launch type's usual one (`GHA_ECS_NETWORK_MODE`:
    /// `bridge`, `host` or `awsvpc`), e.g. `bridge` for Fargate on an emulator.
    pub network_mode: Option<String>,
}

impl Default for EcsConfig {
    fn default() -> EcsConfig {
        EcsConfig {
            cluster: "default".into(),
            launch_type: LaunchType::Ec2,
            subnets: Vec::new(),
            security_groups: Vec::new(),
            assign_public_ip: false,
            task_role_arn: None,
            execution_role_arn: None,
            region: None,
            endpoint: None,
            listen: SocketAddr::from(([0, 0, 0, 0], 7400)),
            advertise_url: None,
            tls: None,
            platforms: Platforms::with_defaults(),
            cpu: "1024".into(),
            memory: "2048".into(),
            agent_command: vec!["gha".into(), "agent".into()],
            agent_host_dir: None,
            log_group: None,
            log_stream_prefix: "gha".into(),
            connect_timeout: Duration::from_secs(600),
            poll_interval: Duration::from_secs(3),
            agent_dead_after: Duration::from_secs(30),
            heartbeat_interval: Duration::from_secs(5),
            network_mode: None,
        }
    }
}

/// The container name in every task definition.
pub const CONTAINER_NAME: &str = "job";

impl EcsConfig {
    /// The configuration from the process environment (see each field for its variable).
    pub fn from_env() -> Result<EcsConfig, String> {
        EcsConfig::from_vars(|k| std::env::var(k).ok().filter(|v| !v.is_empty()))
    }

    /// The configuration from variables looked up with `var`.
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<EcsConfig, String> {
        let mut c = EcsConfig::default();
        let list = |v: String| -> Vec<String> {
            v.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect()
        };
        let secs = |name: &str, v: String| -> Result<Duration, String> {
            v.parse::<f64>()
                .ok()
                .filter(|s| s.is_finite() && *s > 0.0)
                .map(Duration::from_secs_f64)
                .ok_or_else(|| format!("{name}: '{v}' is not a positive number of seconds"))
        };
        if let Some(v) = var("GHA_ECS_CLUSTER") {
            c.cluster = v;
        }
        if let Some(v) = var("GHA_ECS_LAUNCH_TYPE") {
            c.launch_type = v.parse()?;
        }
        if let Some(v) = var("GHA_ECS_SUBNETS") {
            c.subnets = list(v);
        }
        if let Some(v) = var("GHA_ECS_SECURITY_GROUPS") {
            c.security_groups = list(v);
        }
        if let Some(v) = var("GHA_ECS_ASSIGN_PUBLIC_IP") {
            c.assign_public_ip = matches!(v.as_str(), "1" | "true" | "yes" | "ENABLED");
        }
        c.task_role_arn = var("GHA_ECS_TASK_ROLE_ARN");
        c.execution_role_arn = var("GHA_ECS_EXECUTION_ROLE_ARN");
        c.region = var("GHA_ECS_REGION");
        c.endpoint = var("GHA_ECS_ENDPOINT");
        if let Some(v) = var("GHA_ECS_LISTEN") {
            c.listen = v.parse().map_err(|_| {
                format!("GHA_ECS_LISTEN: '{v}' is not an address like 0.0.0.0:7400")
            })?;
        }
        if let Some(v) = var("GHA_ECS_ADVERTISE_URL") {
            c.advertise_url = Some(
                v.parse()
                    .map_err(|e| format!("GHA_ECS_ADVERTISE_URL: {e}"))?,
            );
        }
        match (var("GHA_ECS_TLS_CERT"), var("GHA_ECS_TLS_KEY")) {
            (None, None) => {}
            (Some(cert), Some(key)) => {
                let read = |p: &str| {
                    std::fs::read_to_string(p).map_err(|e| format!("cannot read {p}: {e}"))
                };
                c.tls = Some(TlsIdentity {
                    cert_pem: read(&cert)?,
                    key_pem: read(&key)?,
                });
            }
            _ => return Err("GHA_ECS_TLS_CERT and GHA_ECS_TLS_KEY go together".into()),
        }
        if let Some(v) = var("GHA_ECS_CPU") {
            c.cpu = v;
        }
        if let Some(v) = var("GHA_ECS_MEMORY") {
            c.memory = v;
        }
        if let Some(v) = var("GHA_ECS_AGENT_COMMAND") {
            c.agent_command = v.split_whitespace().map(String::from).collect();
            if c.agent_command.is_empty() {
                return Err("GHA_ECS_AGENT_COMMAND is empty".into());
            }
        }
        c.agent_host_dir = var("GHA_ECS_AGENT_HOST_DIR");
        c.log_group = var("GHA_ECS_LOG_GROUP");
        if let Some(v) = var("GHA_ECS_LOG_STREAM_PREFIX") {
            c.log_stream_prefix = v;
        }
        if let Some(v) = var("GHA_ECS_CONNECT_TIMEOUT") {
            c.connect_timeout = secs("GHA_ECS_CONNECT_TIMEOUT", v)?;
        }
        if let Some(v) = var("GHA_ECS_POLL_INTERVAL") {
            c.poll_interval = secs("GHA_ECS_POLL_INTERVAL", v)?;
        }
        if let Some(v) = var("GHA_ECS_NETWORK_MODE") {
            if !matches!(v.as_str(), "bridge" | "host" | "awsvpc" | "none") {
                return Err(format!(
                    "GHA_ECS_NETWORK_MODE: unknown network mode '{v}' (expected bridge, host, awsvpc or none)"
                ));
            }
            c.network_mode = Some(v);
        }
        if let Some(v) = var("GHA_ECS_AGENT_DEAD_AFTER") {
            c.agent_dead_after = secs("GHA_ECS_AGENT_DEAD_AFTER", v)?;
        }
        Ok(c)
    }

    /// [`EcsConfig::network_mode`] when set, else `awsvpc` on Fargate and `bridge` on EC2.
    pub fn network_mode(&self) -> &str {
        if let Some(m) = &self.network_mode {
            return m;
        }
        match self.launch_type {
            LaunchType::Fargate => "awsvpc",
            LaunchType::Ec2 => "bridge",
        }
    }

    /// The URL agents dial: [`EcsConfig::advertise_url`], or the listen address when it is a
    /// specific one.
    pub fn agent_url(&self, bound: SocketAddr) -> Result<AgentUrl, String> {
        if let Some(u) = &self.advertise_url {
            let mut u = u.clone();
            u.tls = self.tls.is_some();
            return Ok(u);
        }
        if bound.ip().is_unspecified() {
            return Err(format!(
                "the controller listens on {bound}; set GHA_ECS_ADVERTISE_URL to the URL tasks can reach it at (e.g. tcp://10.0.0.5:{})",
                bound.port()
            ));
        }
        Ok(AgentUrl {
            tls: self.tls.is_some(),
            host: bound.ip().to_string(),
            port: bound.port(),
        })
    }

    /// The agent command as the task runs it.
    pub fn command(&self) -> Vec<String> {
        match &self.agent_host_dir {
            Some(_) => {
                let mut c = vec![format!("{AGENT_MOUNT}/gha")];
                c.extend(self.agent_command.iter().skip(1).cloned());
                c
            }
            None => self.agent_command.clone(),
        }
    }

    /// Checks settings that ECS would reject later with a less clear message.
    pub fn validate(&self) -> Result<(), String> {
        if self.network_mode() == "awsvpc" && self.subnets.is_empty() {
            return Err("awsvpc tasks (Fargate) need at least one subnet (GHA_ECS_SUBNETS)".into());
        }
        if self.launch_type == LaunchType::Fargate && self.agent_host_dir.is_some() {
            return Err(
                "GHA_ECS_AGENT_HOST_DIR needs EC2 (Fargate has no host directories)".into(),
            );
        }
        Ok(())
    }
}

/// Where [`EcsConfig::agent_host_dir`] is mounted in the task.
pub const AGENT_MOUNT: &str = "/opt/gha";

#[cfg(test)]
mod tests {
    use super::*;

    fn config(vars: &[(&str, &str)]) -> Result<EcsConfig, String> {
        EcsConfig::from_vars(|k| {
            vars.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        })
    }

    #[test]
    fn bad_values_are_named() {
        assert!(
            config(&[("GHA_ECS_LAUNCH_TYPE", "k8s")])
                .unwrap_err()
                .contains("k8s")
        );
        assert!(
            config(&[("GHA_ECS_LISTEN", "x")])
                .unwrap_err()
                .contains("GHA_ECS_LISTEN")
        );
        assert!(
            config(&[("GHA_ECS_CONNECT_TIMEOUT", "-1")])
                .unwrap_err()
                .contains("positive")
        );
        assert!(
            config(&[("GHA_ECS_TLS_CERT", "/x")])
                .unwrap_err()
                .contains("together")
        );
    }

    #[test]
    fn agent_url_needs_a_reachable_address() {
        let c = EcsConfig::default();
        let err = c.agent_url("0.0.0.0:7400".parse().unwrap()).unwrap_err();
        assert!(err.contains("GHA_ECS_ADVERTISE_URL"), "{err}");
        let u = c.agent_url("127.0.0.1:7400".parse().unwrap()).unwrap();
        assert_eq!(u.to_string(), "tcp://127.0.0.1:7400");
    }

    #[test]
    fn fargate_needs_subnets() {
        let c = config(&[("GHA_ECS_LAUNCH_TYPE", "FARGATE")]).unwrap();
        assert!(c.validate().unwrap_err().contains("subnet"));
    }
}
