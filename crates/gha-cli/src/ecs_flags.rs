//! The `--ecs-*` flags of `gha run`, `gha rerun` and `gha prune` (`--backend ecs`). Each is
//! also a `GHA_ECS_*` variable and a key of the `--ecs-config` file; flags win over variables,
//! variables over the file (gha-backend-ecs's `EcsSettings` does the stacking and the checks).

use std::path::PathBuf;

use clap::Args;

/// ECS settings on the command line.
#[derive(Debug, Default, Args)]
#[command(next_help_heading = "ECS (--backend ecs; each flag also a GHA_ECS_* variable)")]
pub struct EcsArgs {
    /// A YAML file of ECS settings (keys as these flags without `--ecs-`, lists as `subnets` and
    /// `security-groups`); default $GHA_ECS_CONFIG.
    #[arg(long = "ecs-config", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// The cluster (default `default`).
    #[arg(long = "ecs-cluster", value_name = "NAME")]
    pub cluster: Option<String>,
    /// `EC2` (default) or `FARGATE`.
    #[arg(long = "ecs-launch-type", value_name = "TYPE")]
    pub launch_type: Option<String>,
    /// A subnet for awsvpc tasks (Fargate). Repeatable.
    #[arg(long = "ecs-subnet", value_name = "ID")]
    pub subnets: Vec<String>,
    /// A security group for awsvpc tasks. Repeatable.
    #[arg(long = "ecs-security-group", value_name = "ID")]
    pub security_groups: Vec<String>,
    /// Give awsvpc tasks a public IP.
    #[arg(long = "ecs-assign-public-ip")]
    pub assign_public_ip: bool,
    /// The task role's ARN.
    #[arg(long = "ecs-task-role", value_name = "ARN")]
    pub task_role: Option<String>,
    /// The execution role's ARN (private registries, awslogs on Fargate).
    #[arg(long = "ecs-execution-role", value_name = "ARN")]
    pub execution_role: Option<String>,
    /// The AWS region (default: the SDK's usual sources).
    #[arg(long = "ecs-region", value_name = "REGION")]
    pub region: Option<String>,
    /// An endpoint URL instead of AWS's (an emulator).
    #[arg(long = "ecs-endpoint", value_name = "URL")]
    pub endpoint: Option<String>,
    /// Where this process listens for agents (default 0.0.0.0:7400).
    #[arg(long = "ecs-listen", value_name = "ADDR:PORT")]
    pub listen: Option<String>,
    /// The URL tasks dial to reach this process, tcp://HOST:PORT.
    #[arg(long = "ecs-advertise-url", value_name = "URL")]
    pub advertise_url: Option<String>,
    /// A PEM certificate: agents connect with TLS (with --ecs-tls-key).
    #[arg(long = "ecs-tls-cert", value_name = "FILE")]
    pub tls_cert: Option<String>,
    /// The PEM key of --ecs-tls-cert.
    #[arg(long = "ecs-tls-key", value_name = "FILE")]
    pub tls_key: Option<String>,
    /// Task CPU units (default 1024).
    #[arg(long = "ecs-cpu", value_name = "UNITS")]
    pub cpu: Option<String>,
    /// Task memory in MiB (default 2048).
    #[arg(long = "ecs-memory", value_name = "MIB")]
    pub memory: Option<String>,
    /// A CloudWatch Logs group for the tasks' output (awslogs).
    #[arg(long = "ecs-log-group", value_name = "GROUP")]
    pub log_group: Option<String>,
    /// How a tracer's tools and traces reach the task: `host` volumes of the task definition
    /// (the default; same paths on the container instances) or `upload` through the agent.
    #[arg(long = "ecs-tracer-tools", value_name = "host|upload")]
    pub tracer_tools: Option<String>,
}

impl EcsArgs {
    /// Whether any `--ecs-*` flag was given.
    pub fn is_empty(&self) -> bool {
        let EcsArgs {
            config,
            cluster,
            launch_type,
            subnets,
            security_groups,
            assign_public_ip,
            task_role,
            execution_role,
            region,
            endpoint,
            listen,
            advertise_url,
            tls_cert,
            tls_key,
            cpu,
            memory,
            log_group,
            tracer_tools,
        } = self;
        config.is_none()
            && [
                cluster,
                launch_type,
                task_role,
                execution_role,
                region,
                endpoint,
                listen,
                advertise_url,
                tls_cert,
                tls_key,
                cpu,
                memory,
                log_group,
                tracer_tools,
            ]
            .iter()
            .all(|o| o.is_none())
            && subnets.is_empty()
            && security_groups.is_empty()
            && !assign_public_ip
    }

    /// The configuration: these flags over the GHA_ECS_* variables over the config file over
    /// the defaults. Errors name the flag, variable or file key.
    #[cfg(feature = "ecs")]
    pub fn config(&self) -> Result<gha_backend_ecs::EcsConfig, String> {
        let mut flags = gha_backend_ecs::EcsSettings::default();
        let scalars = [
            ("cluster", &self.cluster),
            ("launch-type", &self.launch_type),
            ("task-role", &self.task_role),
            ("execution-role", &self.execution_role),
            ("region", &self.region),
            ("endpoint", &self.endpoint),
            ("listen", &self.listen),
            ("advertise-url", &self.advertise_url),
            ("tls-cert", &self.tls_cert),
            ("tls-key", &self.tls_key),
            ("cpu", &self.cpu),
            ("memory", &self.memory),
            ("log-group", &self.log_group),
            ("tracer-tools", &self.tracer_tools),
        ];
        for (key, value) in scalars {
            flags.flag(key, value)?;
        }
        flags.flag("subnets", &self.subnets)?;
        flags.flag("security-groups", &self.security_groups)?;
        if self.assign_public_ip {
            flags.flag("assign-public-ip", ["true"])?;
        }
        gha_backend_ecs::EcsConfig::load(flags, self.config.as_deref())
    }
}

#[cfg(all(test, feature = "ecs"))]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        ecs: EcsArgs,
    }

    fn parse(args: &[&str]) -> EcsArgs {
        Cli::try_parse_from(std::iter::once("gha").chain(args.iter().copied()))
            .unwrap()
            .ecs
    }

    #[test]
    fn flags_reach_the_configuration() {
        let a = parse(&[
            "--ecs-cluster",
            "ci",
            "--ecs-launch-type",
            "FARGATE",
            "--ecs-subnet",
            "s-1",
            "--ecs-subnet",
            "s-2,s-3",
            "--ecs-security-group",
            "sg-1",
            "--ecs-assign-public-ip",
            "--ecs-listen",
            "127.0.0.1:7401",
            "--ecs-memory",
            "4096",
            "--ecs-tracer-tools",
            "upload",
        ]);
        assert!(!a.is_empty());
        let c = a.config().unwrap();
        assert_eq!(c.cluster, "ci");
        assert_eq!(c.launch_type, gha_backend_ecs::LaunchType::Fargate);
        assert_eq!(c.subnets, ["s-1", "s-2", "s-3"]);
        assert_eq!(c.security_groups, ["sg-1"]);
        assert!(c.assign_public_ip);
        assert_eq!(c.listen.to_string(), "127.0.0.1:7401");
        assert_eq!(c.memory, "4096");
        assert_eq!(c.tracer_tools, gha_backend_ecs::TracerTools::Upload);
        assert!(parse(&[]).is_empty());
    }

    #[test]
    fn a_bad_flag_value_names_the_flag() {
        let err = parse(&["--ecs-launch-type", "k8s"]).config().unwrap_err();
        assert_eq!(
            err,
            "--ecs-launch-type: unknown ECS launch type 'k8s' (expected EC2 or FARGATE)"
        );
        let err = parse(&["--ecs-config", "/nonexistent/ecs.yml"])
            .config()
            .unwrap_err();
        assert!(err.starts_with("cannot read the ECS config file /nonexistent/ecs.yml"));
    }
}
