//! The `options:` of a job container or service: a subset of `docker create` flags.

use gha_exec::BackendError;

/// `docker create` flags from an `options:` string, as far as this backend understands them.
///
/// ```
/// use gha_backend_docker::ContainerOptions;
///
/// let o = ContainerOptions::parse(
///     r#"--health-cmd "pg_isready -U postgres" --health-interval 10s --health-retries=5 -e A=1"#,
/// ).unwrap();
/// assert_eq!(o.health_cmd.as_deref(), Some("pg_isready -U postgres"));
/// assert_eq!(o.health_interval_ns, Some(10_000_000_000));
/// assert_eq!(o.health_retries, Some(5));
/// assert_eq!(o.env, ["A=1"]);
/// assert!(ContainerOptions::parse("--bogus").is_err());
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ContainerOptions {
    /// `--health-cmd`: run through `/bin/sh -c` (`CMD-SHELL`).
    pub health_cmd: Option<String>,
    /// `--health-interval`, in nanoseconds.
    pub health_interval_ns: Option<i64>,
    /// `--health-timeout`, in nanoseconds.
    pub health_timeout_ns: Option<i64>,
    /// `--health-start-period`, in nanoseconds.
    pub health_start_period_ns: Option<i64>,
    /// `--health-retries`.
    pub health_retries: Option<i64>,
    /// `--no-healthcheck`.
    pub no_healthcheck: bool,
    /// `-e`/`--env` `K=V`.
    pub env: Vec<String>,
    /// `--entrypoint`.
    pub entrypoint: Option<String>,
    /// `--cap-add`.
    pub cap_add: Vec<String>,
    /// `--cap-drop`.
    pub cap_drop: Vec<String>,
    /// `--security-opt`.
    pub security_opt: Vec<String>,
    /// `--privileged`.
    pub privileged: bool,
    /// `-u`/`--user`.
    pub user: Option<String>,
    /// `-h`/`--hostname`.
    pub hostname: Option<String>,
    /// `--network-alias`.
    pub network_aliases: Vec<String>,
    /// `-m`/`--memory`, in bytes.
    pub memory: Option<i64>,
    /// `--cpus`, in billionths of a CPU.
    pub nano_cpus: Option<i64>,
    /// `--shm-size`, in bytes.
    pub shm_size: Option<i64>,
    /// `-v`/`--volume`.
    pub volumes: Vec<String>,
    /// `--tmpfs` `PATH[:OPTIONS]`.
    pub tmpfs: Vec<String>,
    /// `--add-host` `HOST:IP`.
    pub add_hosts: Vec<String>,
    /// `--dns`.
    pub dns: Vec<String>,
    /// `-l`/`--label` `K=V`.
    pub labels: Vec<String>,
    /// `--read-only`.
    pub read_only: bool,
    /// `--init`.
    pub init: bool,
    /// `--ipc`.
    pub ipc: Option<String>,
    /// `--pid`.
    pub pid: Option<String>,
}

/// Flags that take a value.
const VALUE_FLAGS: &[&str] = &[
    "--health-cmd",
    "--health-interval",
    "--health-timeout",
    "--health-start-period",
    "--health-retries",
    "-e",
    "--env",
    "--entrypoint",
    "--cap-add",
    "--cap-drop",
    "--security-opt",
    "-u",
    "--user",
    "-h",
    "--hostname",
    "--network-alias",
    "-m",
    "--memory",
    "--cpus",
    "--shm-size",
    "-v",
    "--volume",
    "--tmpfs",
    "--add-host",
    "--dns",
    "-l",
    "--label",
    "--ipc",
    "--pid",
];
/// Flags without a value.
const SWITCHES: &[&str] = &["--no-healthcheck", "--privileged", "--read-only", "--init"];

impl ContainerOptions {
    /// Parses an `options:` string (shell-like quoting, `--flag value` and `--flag=value`).
    pub fn parse(text: &str) -> Result<ContainerOptions, BackendError> {
        let words = shell_words::split(text)
            .map_err(|e| BackendError::Other(format!("container options `{text}`: {e}")))?;
        let mut o = ContainerOptions::default();
        let mut words = words.into_iter();
        while let Some(word) = words.next() {
            let (flag, inline) = match word.split_once('=') {
                Some((f, v)) if f.starts_with('-') => (f.to_string(), Some(v.to_string())),
                _ => (word.clone(), None),
            };
            if SWITCHES.contains(&flag.as_str()) && inline.is_none() {
                match flag.as_str() {
                    "--no-healthcheck" => o.no_healthcheck = true,
                    "--privileged" => o.privileged = true,
                    "--read-only" => o.read_only = true,
                    _ => o.init = true,
                }
                continue;
            }
            if !VALUE_FLAGS.contains(&flag.as_str()) {
                return Err(BackendError::Unsupported(format!(
                    "container option `{word}` in `{text}` (supported: {} {})",
                    VALUE_FLAGS.join(" "),
                    SWITCHES.join(" ")
                )));
            }
            let value = match inline {
                Some(v) => v,
                None => words.next().ok_or_else(|| {
                    BackendError::Other(format!("container option `{flag}` needs a value"))
                })?,
            };
            o.set(&flag, value)?;
        }
        Ok(o)
    }

    fn set(&mut self, flag: &str, value: String) -> Result<(), BackendError> {
        match flag {
            "--health-cmd" => self.health_cmd = Some(value),
            "--health-interval" => self.health_interval_ns = Some(duration_ns(flag, &value)?),
            "--health-timeout" => self.health_timeout_ns = Some(duration_ns(flag, &value)?),
            "--health-start-period" => {
                self.health_start_period_ns = Some(duration_ns(flag, &value)?)
            }
            "--health-retries" => {
                self.health_retries = Some(value.parse().map_err(|_| {
                    BackendError::Other(format!("`{flag} {value}`: not a whole number"))
                })?)
            }
            "-e" | "--env" => self.env.push(value),
            "--entrypoint" => self.entrypoint = Some(value),
            "--cap-add" => self.cap_add.push(value),
            "--cap-drop" => self.cap_drop.push(value),
            "--security-opt" => self.security_opt.push(value),
            "-u" | "--user" => self.user = Some(value),
            "-h" | "--hostname" => self.hostname = Some(value),
            "--network-alias" => self.network_aliases.push(value),
            "-m" | "--memory" => self.memory = Some(bytes(flag, &value)?),
            "--cpus" => {
                let cpus: f64 = value
                    .parse()
                    .map_err(|_| BackendError::Other(format!("`{flag} {value}`: not a number")))?;
                self.nano_cpus = Some((cpus * 1e9) as i64);
            }
            "--shm-size" => self.shm_size = Some(bytes(flag, &value)?),
            "-v" | "--volume" => self.volumes.push(value),
            "--tmpfs" => self.tmpfs.push(value),
            "--add-host" => self.add_hosts.push(value),
            "--dns" => self.dns.push(value),
            "-l" | "--label" => self.labels.push(value),
            "--ipc" => self.ipc = Some(value),
            _ => self.pid = Some(value),
        }
        Ok(())
    }

    /// Whether any `--health-*` setting was given.
    pub fn has_health_settings(&self) -> bool {
        self.health_cmd.is_some()
            || self.health_interval_ns.is_some()
            || self.health_timeout_ns.is_some()
            || self.health_start_period_ns.is_some()
            || self.health_retries.is_some()
            || self.no_healthcheck
    }
}

/// A Go duration as Docker accepts it (`10s`, `1m30s`, `500ms`, `2h`) in nanoseconds.
fn duration_ns(flag: &str, text: &str) -> Result<i64, BackendError> {
    let bad = || {
        BackendError::Other(format!(
            "`{flag} {text}`: not a duration (write e.g. 10s, 1m30s, 500ms)"
        ))
    };
    let mut rest = text.trim();
    if rest.is_empty() {
        return Err(bad());
    }
    if rest == "0" {
        return Ok(0);
    }
    let mut total = 0f64;
    while !rest.is_empty() {
        let end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(bad)?;
        let number: f64 = rest[..end].parse().map_err(|_| bad())?;
        rest = &rest[end..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_end] {
            "ns" => 1.0,
            "us" | "µs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return Err(bad()),
        };
        total += number * scale;
        rest = &rest[unit_end..];
    }
    Ok(total as i64)
}

/// A size as Docker accepts it (`512m`, `1g`, `100k`, `1024`) in bytes.
fn bytes(flag: &str, text: &str) -> Result<i64, BackendError> {
    let t = text.trim().to_ascii_lowercase();
    let t = t.strip_suffix('b').unwrap_or(&t);
    let (digits, scale) = match t.chars().last() {
        Some('k') => (&t[..t.len() - 1], 1i64 << 10),
        Some('m') => (&t[..t.len() - 1], 1 << 20),
        Some('g') => (&t[..t.len() - 1], 1 << 30),
        _ => (t, 1),
    };
    let n: f64 = digits.parse().map_err(|_| {
        BackendError::Other(format!("`{flag} {text}`: not a size (write e.g. 512m, 1g)"))
    })?;
    Ok((n * scale as f64) as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_typical_postgres_service() {
        let o = ContainerOptions::parse(
            "--health-cmd pg_isready --health-interval 10s --health-timeout 5s --health-retries 5",
        )
        .unwrap();
        assert_eq!(o.health_cmd.as_deref(), Some("pg_isready"));
        assert_eq!(o.health_timeout_ns, Some(5_000_000_000));
        assert!(o.has_health_settings());
    }

    #[test]
    fn parses_switches_sizes_and_quoting() {
        let o = ContainerOptions::parse(
            "--privileged --cpus 1.5 -m 512m --shm-size=2g --cap-add SYS_PTRACE --user '1000:1000'",
        )
        .unwrap();
        assert!(o.privileged);
        assert_eq!(o.nano_cpus, Some(1_500_000_000));
        assert_eq!(o.memory, Some(512 << 20));
        assert_eq!(o.shm_size, Some(2 << 30));
        assert_eq!(o.cap_add, ["SYS_PTRACE"]);
        assert_eq!(o.user.as_deref(), Some("1000:1000"));
    }

    #[test]
    fn durations() {
        assert_eq!(duration_ns("f", "1m30s").unwrap(), 90_000_000_000);
        assert_eq!(duration_ns("f", "500ms").unwrap(), 500_000_000);
        assert_eq!(duration_ns("f", "1.5s").unwrap(), 1_500_000_000);
        for bad in ["", "10", "10x", "s"] {
            assert!(duration_ns("f", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn errors_name_the_problem() {
        let e = ContainerOptions::parse("--network host")
            .unwrap_err()
            .to_string();
        assert!(e.contains("`--network`"), "{e}");
        let e = ContainerOptions::parse("--health-cmd")
            .unwrap_err()
            .to_string();
        assert!(e.contains("needs a value"), "{e}");
        let e = ContainerOptions::parse("--health-cmd 'unterminated")
            .unwrap_err()
            .to_string();
        assert!(e.contains("container options"), "{e}");
    }
}
