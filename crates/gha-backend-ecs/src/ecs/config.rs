//! How the ECS backend is configured: where tasks run and how their agents reach back.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use gha_backend_docker::Platforms;

use super::settings::{EcsSettings, SettingValue};
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

/// How the tool bundles and trace directory a `StepTracer` asks for reach the task.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TracerTools {
    /// Host volumes of the task definition (`host`): the directories must exist at the same
    /// paths on the container instances, and traces are written there (EC2 only; for instances
    /// that share those paths with the controller, e.g. a network file system).
    #[default]
    HostVolumes,
    /// Through the agent (`upload`): the bundles are copied into the task when the job starts,
    /// and new or changed files of the trace directory are copied back after every process
    /// the job runs. Works on any container instance and on Fargate.
    Upload,
}

impl std::str::FromStr for TracerTools {
    type Err = String;
    fn from_str(s: &str) -> Result<TracerTools, String> {
        match s {
            "host" => Ok(TracerTools::HostVolumes),
            "upload" => Ok(TracerTools::Upload),
            _ => Err(format!(
                "unknown way to ship tracer tools '{s}' (expected host or upload)"
            )),
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
    /// How a tracer's tools and traces reach the task (`GHA_ECS_TRACER_TOOLS`: `host`, the
    /// default, or `upload`).
    pub tracer_tools: TracerTools,
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
            tracer_tools: TracerTools::HostVolumes,
        }
    }
}

/// The container name in every task definition.
pub const CONTAINER_NAME: &str = "job";

impl EcsConfig {
    /// The configuration from the process environment (see each field for its variable; a
    /// file named by `GHA_ECS_CONFIG` underneath).
    pub fn from_env() -> Result<EcsConfig, String> {
        EcsConfig::load(EcsSettings::default(), None)
    }

    /// The configuration from variables looked up with `var` alone (no config file).
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<EcsConfig, String> {
        EcsConfig::from_settings(&EcsSettings::from_vars(var))
    }

    /// The configuration from command-line `flags` over the `GHA_ECS_*` variables of the
    /// process over `config_file` (else the file `GHA_ECS_CONFIG` names) over the defaults.
    pub fn load(flags: EcsSettings, config_file: Option<&Path>) -> Result<EcsConfig, String> {
        let settings = EcsSettings::resolve(flags, config_file, |k| std::env::var(k).ok())?;
        EcsConfig::from_settings(&settings)
    }

    /// The configuration from `settings`; errors name the flag, variable or file key of the
    /// bad value.
    ///
    /// ```
    /// use gha_backend_ecs::{EcsConfig, EcsSettings};
    /// let mut flags = EcsSettings::default();
    /// flags.flag("listen", ["nowhere"]).unwrap();
    /// let err = EcsConfig::from_settings(&flags).unwrap_err();
    /// assert_eq!(err, "--ecs-listen: 'nowhere' is not an address like 0.0.0.0:7400");
    /// ```
    pub fn from_settings(settings: &EcsSettings) -> Result<EcsConfig, String> {
        let mut c = EcsConfig::default();
        let get = |key: &str| settings.get(key);
        let text = |key: &str| get(key).map(|v| v.value().to_string());
        let secs = |key: &str| -> Result<Option<Duration>, String> {
            let Some(v) = get(key) else { return Ok(None) };
            v.value()
                .parse::<f64>()
                .ok()
                .filter(|s| s.is_finite() && *s > 0.0)
                .map(|s| Some(Duration::from_secs_f64(s)))
                .ok_or_else(|| {
                    format!(
                        "{}: '{}' is not a positive number of seconds",
                        v.origin,
                        v.value()
                    )
                })
        };
        if let Some(v) = text("cluster") {
            c.cluster = v;
        }
        if let Some(v) = get("launch-type") {
            c.launch_type = v
                .value()
                .parse()
                .map_err(|e| format!("{}: {e}", v.origin))?;
        }
        if let Some(v) = get("subnets") {
            c.subnets = v.values.clone();
        }
        if let Some(v) = get("security-groups") {
            c.security_groups = v.values.clone();
        }
        if let Some(v) = get("assign-public-ip") {
            c.assign_public_ip = match v.value().to_ascii_lowercase().as_str() {
                "1" | "true" | "yes" | "enabled" => true,
                "0" | "false" | "no" | "disabled" => false,
                other => {
                    return Err(format!("{}: '{other}' is not true or false", v.origin));
                }
            };
        }
        c.task_role_arn = text("task-role");
        c.execution_role_arn = text("execution-role");
        c.region = text("region");
        c.endpoint = text("endpoint");
        if let Some(v) = get("listen") {
            c.listen = v.value().parse().map_err(|_| {
                format!(
                    "{}: '{}' is not an address like 0.0.0.0:7400",
                    v.origin,
                    v.value()
                )
            })?;
        }
        if let Some(v) = get("advertise-url") {
            c.advertise_url = Some(
                v.value()
                    .parse()
                    .map_err(|e| format!("{}: {e}", v.origin))?,
            );
        }
        match (get("tls-cert"), get("tls-key")) {
            (None, None) => {}
            (Some(cert), Some(key)) => {
                let read = |v: &SettingValue| {
                    std::fs::read_to_string(v.value())
                        .map_err(|e| format!("{}: cannot read {}: {e}", v.origin, v.value()))
                };
                c.tls = Some(TlsIdentity {
                    cert_pem: read(cert)?,
                    key_pem: read(key)?,
                });
            }
            (Some(v), None) | (None, Some(v)) => {
                return Err(format!(
                    "{}: a TLS certificate and key go together (--ecs-tls-cert and --ecs-tls-key, GHA_ECS_TLS_CERT and GHA_ECS_TLS_KEY)",
                    v.origin
                ));
            }
        }
        if let Some(v) = get("cpu") {
            c.cpu = positive_integer(v)?;
        }
        if let Some(v) = get("memory") {
            c.memory = positive_integer(v)?;
        }
        if let Some(v) = get("agent-command") {
            if v.values.is_empty() {
                return Err(format!("{}: the agent command is empty", v.origin));
            }
            c.agent_command = v.values.clone();
        }
        c.agent_host_dir = text("agent-host-dir");
        c.log_group = text("log-group");
        if let Some(v) = text("log-stream-prefix") {
            c.log_stream_prefix = v;
        }
        if let Some(d) = secs("connect-timeout")? {
            c.connect_timeout = d;
        }
        if let Some(d) = secs("poll-interval")? {
            c.poll_interval = d;
        }
        if let Some(d) = secs("agent-dead-after")? {
            c.agent_dead_after = d;
        }
        if let Some(v) = get("network-mode") {
            if !matches!(v.value(), "bridge" | "host" | "awsvpc" | "none") {
                return Err(format!(
                    "{}: unknown network mode '{}' (expected bridge, host, awsvpc or none)",
                    v.origin,
                    v.value()
                ));
            }
            c.network_mode = Some(v.value().to_string());
        }
        if let Some(v) = get("tracer-tools") {
            c.tracer_tools = v
                .value()
                .parse()
                .map_err(|e| format!("{}: {e}", v.origin))?;
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
                "the controller listens on {bound}; set --ecs-advertise-url (GHA_ECS_ADVERTISE_URL, `advertise-url`) to the URL tasks can reach it at (e.g. tcp://10.0.0.5:{})",
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
            return Err(
                "awsvpc tasks (Fargate) need at least one subnet (--ecs-subnet, GHA_ECS_SUBNETS or `subnets` in the config file)"
                    .into(),
            );
        }
        if self.launch_type == LaunchType::Fargate && self.agent_host_dir.is_some() {
            return Err(
                "the agent host directory (GHA_ECS_AGENT_HOST_DIR) needs EC2 (Fargate has no host directories)".into(),
            );
        }
        Ok(())
    }
}

/// CPU units or MiB: a positive whole number (ECS also takes `1 vCPU` / `2 GB` forms; those are
/// passed through when they end in a unit).
fn positive_integer(v: &SettingValue) -> Result<String, String> {
    let t = v.value().trim();
    let unit = t.ends_with("vCPU") || t.ends_with("vcpu") || t.ends_with("GB") || t.ends_with("gb");
    if unit || t.parse::<u32>().is_ok_and(|n| n > 0) {
        Ok(t.to_string())
    } else {
        Err(format!(
            "{}: '{}' is not a positive whole number",
            v.origin,
            v.value()
        ))
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
        let err = |vars: &[(&str, &str)]| config(vars).unwrap_err();
        assert_eq!(
            err(&[("GHA_ECS_LAUNCH_TYPE", "k8s")]),
            "GHA_ECS_LAUNCH_TYPE: unknown ECS launch type 'k8s' (expected EC2 or FARGATE)"
        );
        assert_eq!(
            err(&[("GHA_ECS_LISTEN", "x")]),
            "GHA_ECS_LISTEN: 'x' is not an address like 0.0.0.0:7400"
        );
        assert_eq!(
            err(&[("GHA_ECS_CONNECT_TIMEOUT", "-1")]),
            "GHA_ECS_CONNECT_TIMEOUT: '-1' is not a positive number of seconds"
        );
        assert!(
            err(&[("GHA_ECS_TLS_CERT", "/x")])
                .starts_with("GHA_ECS_TLS_CERT: a TLS certificate and key go together")
        );
        assert_eq!(
            err(&[("GHA_ECS_MEMORY", "lots")]),
            "GHA_ECS_MEMORY: 'lots' is not a positive whole number"
        );
        assert_eq!(
            err(&[("GHA_ECS_ASSIGN_PUBLIC_IP", "maybe")]),
            "GHA_ECS_ASSIGN_PUBLIC_IP: 'maybe' is not true or false"
        );
        assert!(
            err(&[("GHA_ECS_ADVERTISE_URL", "http://x")]).starts_with("GHA_ECS_ADVERTISE_URL: ")
        );
        assert!(
            err(&[("GHA_ECS_NETWORK_MODE", "nat")])
                .starts_with("GHA_ECS_NETWORK_MODE: unknown network mode 'nat'")
        );
        assert!(
            err(&[
                ("GHA_ECS_TLS_CERT", "/nonexistent/c"),
                ("GHA_ECS_TLS_KEY", "/nonexistent/k")
            ])
            .starts_with("GHA_ECS_TLS_CERT: cannot read /nonexistent/c: ")
        );
    }

    #[test]
    fn errors_name_the_flag_or_file_key_the_value_came_from() {
        let mut flags = EcsSettings::default();
        flags.flag("launch-type", ["k8s"]).unwrap();
        assert!(
            EcsConfig::from_settings(&flags)
                .unwrap_err()
                .starts_with("--ecs-launch-type: unknown ECS launch type 'k8s'")
        );
        let file =
            EcsSettings::from_yaml("poll-interval: soon\n", Path::new("ci/ecs.yml")).unwrap();
        assert_eq!(
            EcsConfig::from_settings(&file).unwrap_err(),
            "ci/ecs.yml: poll-interval: 'soon' is not a positive number of seconds"
        );
        // A flag with a good value hides the variable's bad one.
        let env = EcsSettings::from_vars(|k| (k == "GHA_ECS_LISTEN").then(|| "bad".into()));
        let mut flags = EcsSettings::default();
        flags.flag("listen", ["127.0.0.1:9"]).unwrap();
        let c = EcsConfig::from_settings(&EcsSettings::layered([env, flags])).unwrap();
        assert_eq!(c.listen.to_string(), "127.0.0.1:9");
    }

    #[test]
    fn every_setting_reaches_the_configuration() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("c.pem"), "CERT").unwrap();
        std::fs::write(dir.path().join("k.pem"), "KEY").unwrap();
        let file = dir.path().join("ecs.yml");
        std::fs::write(
            &file,
            "cluster: ci\nlaunch-type: fargate\nsubnets: [s-1, s-2]\nsecurity-groups: sg-1\n\
             assign-public-ip: true\ntask-role: arn:task\nexecution-role: arn:exec\n\
             region: eu-west-1\nendpoint: http://127.0.0.1:1\nlisten: 0.0.0.0:7500\n\
             advertise-url: tcp://10.0.0.5:7500\ntls-cert: c.pem\ntls-key: k.pem\ncpu: 2048\n\
             memory: 4096\nagent-command: [/bin/gha, agent, -v]\nlog-group: /gha\n\
             log-stream-prefix: p\nconnect-timeout: 90\npoll-interval: 0.5\n\
             agent-dead-after: 12\nnetwork-mode: awsvpc\ntracer-tools: upload\n",
        )
        .unwrap();
        let c = EcsConfig::from_settings(&EcsSettings::from_file(&file).unwrap()).unwrap();
        assert_eq!(c.cluster, "ci");
        assert_eq!(c.launch_type, LaunchType::Fargate);
        assert_eq!(c.subnets, ["s-1", "s-2"]);
        assert_eq!(c.security_groups, ["sg-1"]);
        assert!(c.assign_public_ip);
        assert_eq!(c.task_role_arn.as_deref(), Some("arn:task"));
        assert_eq!(c.execution_role_arn.as_deref(), Some("arn:exec"));
        assert_eq!(c.region.as_deref(), Some("eu-west-1"));
        assert_eq!(c.endpoint.as_deref(), Some("http://127.0.0.1:1"));
        assert_eq!(c.listen.to_string(), "0.0.0.0:7500");
        assert_eq!(
            c.agent_url(c.listen).unwrap().to_string(),
            "tls://10.0.0.5:7500"
        );
        let tls = c.tls.as_ref().unwrap();
        assert_eq!(
            (tls.cert_pem.as_str(), tls.key_pem.as_str()),
            ("CERT", "KEY")
        );
        assert_eq!((c.cpu.as_str(), c.memory.as_str()), ("2048", "4096"));
        assert_eq!(c.agent_command, ["/bin/gha", "agent", "-v"]);
        assert_eq!(c.log_group.as_deref(), Some("/gha"));
        assert_eq!(c.log_stream_prefix, "p");
        assert_eq!(c.connect_timeout, Duration::from_secs(90));
        assert_eq!(c.poll_interval, Duration::from_millis(500));
        assert_eq!(c.agent_dead_after, Duration::from_secs(12));
        assert_eq!(c.network_mode(), "awsvpc");
        assert_eq!(c.tracer_tools, TracerTools::Upload);
        c.validate().unwrap();
    }

    #[test]
    fn agent_url_needs_a_reachable_address() {
        let c = EcsConfig::default();
        let err = c.agent_url("0.0.0.0:7400".parse().unwrap()).unwrap_err();
        assert!(
            err.contains("--ecs-advertise-url (GHA_ECS_ADVERTISE_URL"),
            "{err}"
        );
        let u = c.agent_url("127.0.0.1:7400".parse().unwrap()).unwrap();
        assert_eq!(u.to_string(), "tcp://127.0.0.1:7400");
    }

    #[test]
    fn fargate_needs_subnets() {
        let c = config(&[("GHA_ECS_LAUNCH_TYPE", "FARGATE")]).unwrap();
        assert!(c.validate().unwrap_err().contains("subnet"));
    }
}
