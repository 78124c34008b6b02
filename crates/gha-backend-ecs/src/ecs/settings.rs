//! Where ECS settings come from: command-line flags, `GHA_ECS_*` variables and a YAML config
//! file, each an [`EcsSettings`] layer keyed by the same names. [`EcsSettings::layered`]
//! stacks them (flag > variable > file) and [`EcsConfig::from_settings`](crate::EcsConfig)
//! turns the result into a configuration, naming the flag, variable or file key of any bad value.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// How a setting's text is split into values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SettingKind {
    /// One value.
    Scalar,
    /// A list: comma-separated in a variable or flag, repeatable as a flag, a YAML sequence or
    /// a comma-separated string in the file.
    List,
    /// A command line: split on whitespace in a variable or flag, a YAML sequence (each item one
    /// argument) or a string split on whitespace in the file.
    Words,
}

/// One ECS setting: its key in the config file, its flag and its variable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SettingKey {
    /// The key in the config file (and the flag without `--ecs-`, except for lists, whose flag
    /// is singular).
    pub key: &'static str,
    /// The command-line flag of `gha run`, `gha rerun` and `gha prune`.
    pub flag: &'static str,
    /// The environment variable.
    pub env: &'static str,
    /// How its text splits into values.
    pub kind: SettingKind,
}

const fn key(
    key: &'static str,
    flag: &'static str,
    env: &'static str,
    kind: SettingKind,
) -> SettingKey {
    SettingKey {
        key,
        flag,
        env,
        kind,
    }
}

use SettingKind::{List, Scalar, Words};

/// Every setting, in the order of the README's table.
pub const SETTING_KEYS: &[SettingKey] = &[
    key("cluster", "--ecs-cluster", "GHA_ECS_CLUSTER", Scalar),
    key(
        "launch-type",
        "--ecs-launch-type",
        "GHA_ECS_LAUNCH_TYPE",
        Scalar,
    ),
    key("subnets", "--ecs-subnet", "GHA_ECS_SUBNETS", List),
    key(
        "security-groups",
        "--ecs-security-group",
        "GHA_ECS_SECURITY_GROUPS",
        List,
    ),
    key(
        "assign-public-ip",
        "--ecs-assign-public-ip",
        "GHA_ECS_ASSIGN_PUBLIC_IP",
        Scalar,
    ),
    key(
        "task-role",
        "--ecs-task-role",
        "GHA_ECS_TASK_ROLE_ARN",
        Scalar,
    ),
    key(
        "execution-role",
        "--ecs-execution-role",
        "GHA_ECS_EXECUTION_ROLE_ARN",
        Scalar,
    ),
    key("region", "--ecs-region", "GHA_ECS_REGION", Scalar),
    key("endpoint", "--ecs-endpoint", "GHA_ECS_ENDPOINT", Scalar),
    key("listen", "--ecs-listen", "GHA_ECS_LISTEN", Scalar),
    key(
        "advertise-url",
        "--ecs-advertise-url",
        "GHA_ECS_ADVERTISE_URL",
        Scalar,
    ),
    key("tls-cert", "--ecs-tls-cert", "GHA_ECS_TLS_CERT", Scalar),
    key("tls-key", "--ecs-tls-key", "GHA_ECS_TLS_KEY", Scalar),
    key("cpu", "--ecs-cpu", "GHA_ECS_CPU", Scalar),
    key("memory", "--ecs-memory", "GHA_ECS_MEMORY", Scalar),
    key(
        "agent-command",
        "--ecs-agent-command",
        "GHA_ECS_AGENT_COMMAND",
        Words,
    ),
    key(
        "agent-host-dir",
        "--ecs-agent-host-dir",
        "GHA_ECS_AGENT_HOST_DIR",
        Scalar,
    ),
    key("log-group", "--ecs-log-group", "GHA_ECS_LOG_GROUP", Scalar),
    key(
        "log-stream-prefix",
        "--ecs-log-stream-prefix",
        "GHA_ECS_LOG_STREAM_PREFIX",
        Scalar,
    ),
    key(
        "connect-timeout",
        "--ecs-connect-timeout",
        "GHA_ECS_CONNECT_TIMEOUT",
        Scalar,
    ),
    key(
        "poll-interval",
        "--ecs-poll-interval",
        "GHA_ECS_POLL_INTERVAL",
        Scalar,
    ),
    key(
        "agent-dead-after",
        "--ecs-agent-dead-after",
        "GHA_ECS_AGENT_DEAD_AFTER",
        Scalar,
    ),
    key(
        "network-mode",
        "--ecs-network-mode",
        "GHA_ECS_NETWORK_MODE",
        Scalar,
    ),
    key(
        "tracer-tools",
        "--ecs-tracer-tools",
        "GHA_ECS_TRACER_TOOLS",
        Scalar,
    ),
];

/// The variable naming a config file when no `--ecs-config` flag does.
pub const CONFIG_FILE_ENV: &str = "GHA_ECS_CONFIG";

/// Keys whose values are paths on this machine: relative ones in a config file are taken
/// relative to the file's directory.
const LOCAL_PATH_KEYS: &[&str] = &["tls-cert", "tls-key"];

/// The setting named `name` (a file key, a flag with or without `--`, or a variable).
pub fn setting_key(name: &str) -> Option<&'static SettingKey> {
    SETTING_KEYS.iter().find(|k| {
        k.key == name || k.env == name || k.flag == name || k.flag.trim_start_matches("--") == name
    })
}

/// One setting's values and where they came from (`--ecs-listen`, `GHA_ECS_LISTEN`,
/// `ecs.yml: listen`), the name errors use.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SettingValue {
    /// The values (one for a scalar).
    pub values: Vec<String>,
    /// The flag, variable or `FILE: key` it came from.
    pub origin: String,
}

impl SettingValue {
    /// The single value (the last one if a list was given for a scalar).
    pub fn value(&self) -> &str {
        self.values.last().map(String::as_str).unwrap_or("")
    }
}

/// ECS settings by key from one or more sources.
///
/// ```
/// use gha_backend_ecs::{EcsConfig, EcsSettings};
/// let file = EcsSettings::from_yaml("cluster: from-file\nmemory: 4096\nsubnets: [subnet-1, subnet-2]\n",
///                                   std::path::Path::new("ecs.yml")).unwrap();
/// let env = EcsSettings::from_vars(|k| (k == "GHA_ECS_CLUSTER").then(|| "from-env".to_string()));
/// let mut flags = EcsSettings::default();
/// flags.flag("memory", ["8192"]).unwrap();
/// let config = EcsConfig::from_settings(&EcsSettings::layered([file, env, flags])).unwrap();
/// assert_eq!(config.cluster, "from-env");       // variable over file
/// assert_eq!(config.memory, "8192");            // flag over file
/// assert_eq!(config.subnets, ["subnet-1", "subnet-2"]);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EcsSettings {
    values: BTreeMap<&'static str, SettingValue>,
}

fn split(kind: SettingKind, text: &str) -> Vec<String> {
    match kind {
        Scalar => vec![text.to_string()],
        List => text
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect(),
        Words => text.split_whitespace().map(String::from).collect(),
    }
}

impl EcsSettings {
    /// The settings given as `GHA_ECS_*` variables looked up with `var` (empty values count as
    /// unset).
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> EcsSettings {
        let mut s = EcsSettings::default();
        for k in SETTING_KEYS {
            if let Some(v) = var(k.env).filter(|v| !v.is_empty()) {
                s.values.insert(
                    k.key,
                    SettingValue {
                        values: split(k.kind, &v),
                        origin: k.env.to_string(),
                    },
                );
            }
        }
        s
    }

    /// The settings in the process environment.
    pub fn from_env() -> EcsSettings {
        EcsSettings::from_vars(|k| std::env::var(k).ok())
    }

    /// Sets `key` (a file key such as `cluster` or `subnets`) from its command-line flag;
    /// no values leave it unset. List values may also be comma-separated.
    pub fn flag<I, S>(&mut self, key: &str, values: I) -> Result<(), String>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let k = SETTING_KEYS
            .iter()
            .find(|k| k.key == key)
            .ok_or_else(|| format!("unknown ECS setting '{key}'"))?;
        let values: Vec<String> = values
            .into_iter()
            .flat_map(|v| split(k.kind, v.as_ref()))
            .collect();
        if !values.is_empty() {
            self.values.insert(
                k.key,
                SettingValue {
                    values,
                    origin: k.flag.to_string(),
                },
            );
        }
        Ok(())
    }

    /// Reads a YAML config file: a mapping of the keys in [`SETTING_KEYS`] (JSON works too).
    pub fn from_file(path: &Path) -> Result<EcsSettings, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read the ECS config file {}: {e}", path.display()))?;
        EcsSettings::from_yaml(&text, path)
    }

    /// Parses a config file's text; `path` names it in errors and anchors relative local paths.
    pub fn from_yaml(text: &str, path: &Path) -> Result<EcsSettings, String> {
        use yaml_serde::Value;
        let name = path.display();
        let doc: Value = yaml_serde::from_str(text)
            .map_err(|e| format!("{name}: not a valid ECS config file: {e}"))?;
        let map = match doc {
            Value::Mapping(m) => m,
            Value::Null => return Ok(EcsSettings::default()),
            _ => {
                return Err(format!(
                    "{name}: an ECS config file is a mapping of settings (such as `cluster: ci`)"
                ));
            }
        };
        let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
        let mut s = EcsSettings::default();
        for (k, v) in map {
            let Some(key_name) = k.as_str() else {
                return Err(format!("{name}: setting names are strings, not {k:?}"));
            };
            let Some(k) = SETTING_KEYS.iter().find(|s| s.key == key_name) else {
                let known: Vec<&str> = SETTING_KEYS.iter().map(|k| k.key).collect();
                return Err(format!(
                    "{name}: unknown setting '{key_name}' (known: {})",
                    known.join(", ")
                ));
            };
            let origin = format!("{name}: {}", k.key);
            let scalar = |v: &Value| -> Result<String, String> {
                match v {
                    Value::String(s) => Ok(s.clone()),
                    Value::Number(n) => Ok(n.to_string()),
                    Value::Bool(b) => Ok(b.to_string()),
                    _ => Err(format!("{origin}: expected a single value, not {v:?}")),
                }
            };
            let mut values = match (&v, k.kind) {
                (Value::Null, _) => continue,
                (Value::Sequence(items), List | Words) => {
                    items.iter().map(scalar).collect::<Result<Vec<_>, _>>()?
                }
                (Value::Sequence(_), Scalar) => {
                    return Err(format!("{origin}: expected a single value, not a list"));
                }
                (v, kind) => split(kind, &scalar(v)?),
            };
            if LOCAL_PATH_KEYS.contains(&k.key) {
                for p in &mut values {
                    if Path::new(p).is_relative() {
                        *p = base.join(&*p).to_string_lossy().into_owned();
                    }
                }
            }
            s.values.insert(k.key, SettingValue { values, origin });
        }
        Ok(s)
    }

    /// Stacks layers, lowest precedence first: a later layer's setting replaces an earlier one's.
    pub fn layered(layers: impl IntoIterator<Item = EcsSettings>) -> EcsSettings {
        let mut out = EcsSettings::default();
        for layer in layers {
            out.values.extend(layer.values);
        }
        out
    }

    /// The usual stack: `config_file` (else the file `var(GHA_ECS_CONFIG)` names), then the
    /// `GHA_ECS_*` variables looked up with `var`, then `flags`.
    pub fn resolve(
        flags: EcsSettings,
        config_file: Option<&Path>,
        var: impl Fn(&str) -> Option<String>,
    ) -> Result<EcsSettings, String> {
        let file: Option<PathBuf> = config_file.map(Path::to_path_buf).or_else(|| {
            var(CONFIG_FILE_ENV)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        });
        let file = match file {
            Some(p) => EcsSettings::from_file(&p)?,
            None => EcsSettings::default(),
        };
        Ok(EcsSettings::layered([
            file,
            EcsSettings::from_vars(var),
            flags,
        ]))
    }

    /// The setting `key` (a file key), if any layer set it.
    pub fn get(&self, key: &str) -> Option<&SettingValue> {
        self.values.get(key)
    }

    /// Whether no setting is set.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn yaml(text: &str) -> Result<EcsSettings, String> {
        EcsSettings::from_yaml(text, Path::new("/etc/gha/ecs.yml"))
    }

    #[test]
    fn every_key_has_a_distinct_flag_and_variable() {
        for (i, a) in SETTING_KEYS.iter().enumerate() {
            assert!(a.flag.starts_with("--ecs-") && a.env.starts_with("GHA_ECS_"));
            for b in &SETTING_KEYS[i + 1..] {
                assert!(
                    a.key != b.key && a.flag != b.flag && a.env != b.env,
                    "{a:?} {b:?}"
                );
            }
            assert_eq!(setting_key(a.flag), Some(a));
            assert_eq!(setting_key(a.env), Some(a));
        }
    }

    #[test]
    fn file_values_of_every_yaml_shape() {
        let s = yaml(
            "cluster: ci\ncpu: 512\nassign-public-ip: true\nsubnets: subnet-a, subnet-b\n\
             security-groups: [sg-1]\nagent-command: [/opt/x/gha, agent]\nregion: ~\n\
             tls-cert: certs/c.pem\ntls-key: /abs/k.pem\n",
        )
        .unwrap();
        assert_eq!(s.get("cluster").unwrap().value(), "ci");
        assert_eq!(
            s.get("cluster").unwrap().origin,
            "/etc/gha/ecs.yml: cluster"
        );
        assert_eq!(s.get("cpu").unwrap().value(), "512");
        assert_eq!(s.get("assign-public-ip").unwrap().value(), "true");
        assert_eq!(s.get("subnets").unwrap().values, ["subnet-a", "subnet-b"]);
        assert_eq!(s.get("security-groups").unwrap().values, ["sg-1"]);
        assert_eq!(
            s.get("agent-command").unwrap().values,
            ["/opt/x/gha", "agent"]
        );
        assert!(s.get("region").is_none());
        assert_eq!(s.get("tls-cert").unwrap().value(), "/etc/gha/certs/c.pem");
        assert_eq!(s.get("tls-key").unwrap().value(), "/abs/k.pem");
        assert!(yaml("").unwrap().is_empty());
    }

    #[test]
    fn bad_files_are_named() {
        let e = yaml("clustr: ci\n").unwrap_err();
        assert!(
            e.starts_with("/etc/gha/ecs.yml: unknown setting 'clustr' (known: cluster, "),
            "{e}"
        );
        let e = yaml("cluster: [a, b]\n").unwrap_err();
        assert_eq!(
            e,
            "/etc/gha/ecs.yml: cluster: expected a single value, not a list"
        );
        let e = yaml("- cluster\n").unwrap_err();
        assert!(e.contains("a mapping of settings"), "{e}");
        let e = yaml("cluster: ci\n  bad: indent\n").unwrap_err();
        assert!(
            e.starts_with("/etc/gha/ecs.yml: not a valid ECS config file"),
            "{e}"
        );
        let e = EcsSettings::from_file(Path::new("/nonexistent/ecs.yml")).unwrap_err();
        assert!(
            e.starts_with("cannot read the ECS config file /nonexistent/ecs.yml"),
            "{e}"
        );
    }

    #[test]
    fn flags_variables_and_files_stack_in_that_order() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("ecs.yml");
        std::fs::write(
            &file,
            "cluster: file\nregion: file-region\nlisten: 1.2.3.4:1\n",
        )
        .unwrap();
        let vars = |k: &str| match k {
            "GHA_ECS_CLUSTER" => Some("env".to_string()),
            "GHA_ECS_LISTEN" => Some("5.6.7.8:2".to_string()),
            "GHA_ECS_CONFIG" => Some(file.to_string_lossy().into_owned()),
            _ => None,
        };
        let mut flags = EcsSettings::default();
        flags.flag("cluster", ["flag"]).unwrap();
        flags.flag("subnets", ["a,b", "c"]).unwrap();
        flags.flag("region", Vec::<String>::new()).unwrap();
        let s = EcsSettings::resolve(flags, None, vars).unwrap();
        assert_eq!(s.get("cluster").unwrap().value(), "flag");
        assert_eq!(s.get("cluster").unwrap().origin, "--ecs-cluster");
        assert_eq!(s.get("listen").unwrap().origin, "GHA_ECS_LISTEN");
        assert_eq!(s.get("region").unwrap().value(), "file-region");
        assert_eq!(s.get("subnets").unwrap().values, ["a", "b", "c"]);
        // An explicit file wins over GHA_ECS_CONFIG's.
        let other = dir.path().join("other.yml");
        std::fs::write(&other, "region: other\n").unwrap();
        let s = EcsSettings::resolve(EcsSettings::default(), Some(&other), vars).unwrap();
        assert_eq!(s.get("region").unwrap().value(), "other");
        assert!(EcsSettings::default().flag("nope", ["x"]).is_err());
    }
}
