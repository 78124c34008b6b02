//! Turning a job container or service into a `docker create` request.

use std::collections::HashMap;

use bollard::models::{
    ContainerCreateBody, EndpointSettings, HealthConfig, HostConfig, Mount, MountType,
    MountVolumeOptions, NetworkingConfig, PortBinding,
};
use gha_exec::{BackendError, ContainerSpec, TracerRequirements};

use crate::options::ContainerOptions;

/// Everything one container needs, gathered before the request is built.
#[derive(Debug, Default)]
pub(crate) struct ContainerPlan {
    pub image: String,
    /// Replaces the image's entrypoint and command (job containers: `tail -f /dev/null`).
    pub keep_alive: bool,
    pub env: Vec<String>,
    pub labels: HashMap<String, String>,
    pub binds: Vec<String>,
    pub anonymous_volumes: Vec<String>,
    pub ports: Vec<String>,
    pub options: ContainerOptions,
    pub tracer: TracerRequirements,
    pub network: Option<String>,
    pub aliases: Vec<String>,
    pub working_dir: Option<String>,
}

impl ContainerPlan {
    /// A plan from a `container:`/`services:` entry (image, env, ports, volumes, options).
    pub(crate) fn from_spec(spec: &ContainerSpec) -> Result<ContainerPlan, BackendError> {
        let options = match &spec.options {
            Some(text) => ContainerOptions::parse(text)?,
            None => ContainerOptions::default(),
        };
        let mut plan = ContainerPlan {
            image: spec.image.clone(),
            env: spec.env.iter().map(|(k, v)| format!("{k}={v}")).collect(),
            ports: spec.ports.clone(),
            ..ContainerPlan::default()
        };
        for volume in spec.volumes.iter().chain(&options.volumes) {
            if volume.contains(':') {
                plan.binds.push(volume.clone());
            } else {
                plan.anonymous_volumes.push(volume.clone());
            }
        }
        plan.env.extend(options.env.iter().cloned());
        plan.options = options;
        Ok(plan)
    }

    pub(crate) fn build(&self) -> Result<ContainerCreateBody, BackendError> {
        let o = &self.options;
        let (exposed, bindings) = port_bindings(&self.ports)?;
        let mut labels = self.labels.clone();
        for label in &o.labels {
            let (k, v) = label.split_once('=').unwrap_or((label, ""));
            labels.entry(k.to_string()).or_insert_with(|| v.to_string());
        }
        let mut cap_add = self.tracer.capabilities.clone();
        cap_add.extend(o.cap_add.iter().cloned());
        let mut security_opt = o.security_opt.clone();
        if self.tracer.seccomp_unconfined && !security_opt.iter().any(|s| s.starts_with("seccomp"))
        {
            security_opt.push("seccomp=unconfined".into());
        }
        let mut binds = self.binds.clone();
        for m in &self.tracer.mounts {
            let mode = if m.read_only { ":ro" } else { "" };
            binds.push(format!("{}:{}{mode}", m.source.display(), m.target));
        }
        let tmpfs: HashMap<String, String> = o
            .tmpfs
            .iter()
            .map(|t| {
                let (path, opts) = t.split_once(':').unwrap_or((t, ""));
                (path.to_string(), opts.to_string())
            })
            .collect();
        let (entrypoint, cmd) = if self.keep_alive {
            (
                Some(vec!["tail".to_string()]),
                Some(vec!["-f".to_string(), "/dev/null".to_string()]),
            )
        } else {
            (o.entrypoint.clone().map(|e| vec![e]), None)
        };
        let healthcheck = if o.no_healthcheck {
            Some(HealthConfig {
                test: Some(vec!["NONE".into()]),
                ..Default::default()
            })
        } else if o.has_health_settings() {
            Some(HealthConfig {
                test: o.health_cmd.clone().map(|c| vec!["CMD-SHELL".into(), c]),
                interval: o.health_interval_ns,
                timeout: o.health_timeout_ns,
                retries: o.health_retries,
                start_period: o.health_start_period_ns,
                ..Default::default()
            })
        } else {
            None
        };
        let networking_config = self.network.as_ref().map(|net| {
            let mut aliases = self.aliases.clone();
            aliases.extend(o.network_aliases.iter().cloned());
            NetworkingConfig {
                endpoints_config: Some(HashMap::from([(
                    net.clone(),
                    EndpointSettings {
                        aliases: Some(aliases),
                        ..Default::default()
                    },
                )])),
            }
        });
        let non_empty = |v: Vec<String>| (!v.is_empty()).then_some(v);
        // Anonymous volumes as mounts, so that they carry our labels too (for `prune`).
        let volume_mounts: Vec<Mount> = self
            .anonymous_volumes
            .iter()
            .map(|target| Mount {
                target: Some(target.clone()),
                typ: Some(MountType::VOLUME),
                volume_options: Some(MountVolumeOptions {
                    labels: Some(labels.clone()),
                    ..Default::default()
                }),
                ..Default::default()
            })
            .collect();
        Ok(ContainerCreateBody {
            image: Some(self.image.clone()),
            entrypoint,
            cmd,
            env: non_empty(self.env.clone()),
            labels: Some(labels),
            working_dir: self.working_dir.clone(),
            user: o.user.clone(),
            hostname: o.hostname.clone(),
            exposed_ports: non_empty(exposed),
            healthcheck,
            networking_config,
            host_config: Some(HostConfig {
                binds: non_empty(binds),
                mounts: (!volume_mounts.is_empty()).then_some(volume_mounts),
                port_bindings: (!bindings.is_empty()).then_some(bindings),
                cap_add: non_empty(cap_add),
                cap_drop: non_empty(o.cap_drop.clone()),
                security_opt: non_empty(security_opt),
                privileged: Some(o.privileged),
                init: Some(self.keep_alive || o.init),
                memory: o.memory,
                nano_cpus: o.nano_cpus,
                shm_size: o.shm_size,
                tmpfs: (!tmpfs.is_empty()).then_some(tmpfs),
                extra_hosts: non_empty(o.add_hosts.clone()),
                dns: non_empty(o.dns.clone()),
                readonly_rootfs: Some(o.read_only),
                ipc_mode: o.ipc.clone(),
                pid_mode: o.pid.clone(),
                network_mode: self.network.clone(),
                ..Default::default()
            }),
            ..Default::default()
        })
    }
}

/// Container port (`80/tcp`) → host bindings, as the engine wants them.
type PortMap = HashMap<String, Option<Vec<PortBinding>>>;

/// `ports:` entries (`8080:80`, `6379`, `127.0.0.1:8080:80/udp`) → exposed ports and bindings.
fn port_bindings(ports: &[String]) -> Result<(Vec<String>, PortMap), BackendError> {
    let mut exposed = Vec::new();
    let mut bindings = HashMap::new();
    for entry in ports {
        let (spec, proto) = entry.split_once('/').unwrap_or((entry, "tcp"));
        let parts: Vec<&str> = spec.split(':').collect();
        let (host_ip, host_port, container_port) = match parts.as_slice() {
            [c] => (None, None, *c),
            [h, c] => (None, Some(*h), *c),
            [ip, h, c] => (Some(*ip), Some(*h), *c),
            _ => return Err(bad_port(entry)),
        };
        if container_port.parse::<u16>().is_err()
            || host_port.is_some_and(|h| !h.is_empty() && h.parse::<u16>().is_err())
            || !matches!(proto, "tcp" | "udp" | "sctp")
        {
            return Err(bad_port(entry));
        }
        let key = format!("{container_port}/{proto}");
        exposed.push(key.clone());
        bindings.insert(
            key,
            Some(vec![PortBinding {
                host_ip: host_ip.map(str::to_string),
                host_port: Some(host_port.unwrap_or("").to_string()),
            }]),
        );
    }
    Ok((exposed, bindings))
}

fn bad_port(entry: &str) -> BackendError {
    BackendError::Other(format!(
        "invalid port mapping `{entry}`: expected CONTAINER_PORT, HOST_PORT:CONTAINER_PORT or IP:HOST_PORT:CONTAINER_PORT[/udp]"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports() {
        let (exposed, bindings) = port_bindings(&[
            "8080:80".into(),
            "6379".into(),
            "127.0.0.1:53:53/udp".into(),
        ])
        .unwrap();
        assert_eq!(exposed, ["80/tcp", "6379/tcp", "53/udp"]);
        let b = bindings["80/tcp"].as_ref().unwrap();
        assert_eq!(b[0].host_port.as_deref(), Some("8080"));
        let b = bindings["6379/tcp"].as_ref().unwrap();
        assert_eq!(b[0].host_port.as_deref(), Some(""));
        assert!(port_bindings(&["x:80".into()]).is_err());
        assert!(port_bindings(&["80/icmp".into()]).is_err());
    }

    #[test]
    fn tracer_requirements_become_capabilities_seccomp_and_mounts() {
        let mut plan = ContainerPlan {
            image: "i".into(),
            keep_alive: true,
            ..Default::default()
        };
        plan.tracer.capabilities.push("SYS_PTRACE".into());
        plan.tracer.seccomp_unconfined = true;
        plan.tracer.mounts.push(gha_exec::Mount {
            source: "/opt/rr".into(),
            target: "/__rr".into(),
            read_only: true,
        });
        let body = plan.build().unwrap();
        let host = body.host_config.unwrap();
        assert_eq!(host.cap_add.unwrap(), ["SYS_PTRACE"]);
        assert_eq!(host.security_opt.unwrap(), ["seccomp=unconfined"]);
        assert_eq!(host.binds.unwrap(), ["/opt/rr:/__rr:ro"]);
        assert_eq!(host.privileged, Some(false));
        assert_eq!(body.entrypoint.unwrap(), ["tail"]);
    }

    #[test]
    fn nothing_privileged_by_default() {
        let plan = ContainerPlan::from_spec(&ContainerSpec::new("node:20")).unwrap();
        let host = plan.build().unwrap().host_config.unwrap();
        assert_eq!(host.privileged, Some(false));
        assert!(host.cap_add.is_none() && host.binds.is_none() && host.security_opt.is_none());
    }
}
