//! `runs-on` labels → images: act's `-P LABEL=IMAGE` flag, `.actrc`-style files, and defaults.

use gha_exec::BackendError;

/// The defaults: act's "medium" images, which act users already know.
///
/// None of these can be pulled here (no registry); map a label to the local base image instead:
/// `-P ubuntu-latest=gha-runner/base:bookworm`.
pub const DEFAULT_PLATFORMS: &[(&str, &str)] = &[
    ("ubuntu-latest", "catthehacker/ubuntu:act-latest"),
    ("ubuntu-24.04", "catthehacker/ubuntu:act-24.04"),
    ("ubuntu-22.04", "catthehacker/ubuntu:act-22.04"),
    ("ubuntu-20.04", "catthehacker/ubuntu:act-20.04"),
];

/// The image each `runs-on` label runs in.
///
/// Later mappings of a label replace earlier ones, so `-P` flags given after a config file win.
///
/// ```
/// use gha_backend_docker::Platforms;
///
/// let mut p = Platforms::with_defaults();
/// p.add_flag("ubuntu-latest=gha-runner/base:bookworm").unwrap();
/// assert_eq!(p.image_for("ubuntu-latest"), Some("gha-runner/base:bookworm"));
/// assert_eq!(p.image_for("UBUNTU-22.04"), Some("catthehacker/ubuntu:act-22.04"));
/// assert_eq!(p.image_for("windows-latest"), None);
/// assert!(p.add_flag("no-equals-sign").is_err());
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Platforms {
    entries: Vec<(String, String)>,
}

impl Platforms {
    /// No mapping at all.
    pub fn empty() -> Platforms {
        Platforms::default()
    }

    /// [`DEFAULT_PLATFORMS`].
    pub fn with_defaults() -> Platforms {
        let mut p = Platforms::empty();
        for (label, image) in DEFAULT_PLATFORMS {
            p.insert(label, image);
        }
        p
    }

    /// Maps `label` (case-insensitive, as GitHub matches labels) to `image`.
    pub fn insert(&mut self, label: &str, image: &str) {
        let label = label.to_ascii_lowercase();
        self.entries.retain(|(l, _)| *l != label);
        self.entries.push((label, image.to_string()));
    }

    /// Adds one `-P` value: `LABEL=IMAGE`.
    pub fn add_flag(&mut self, value: &str) -> Result<(), BackendError> {
        let (label, image) = value
            .split_once('=')
            .map(|(l, i)| (l.trim(), i.trim()))
            .filter(|(l, i)| !l.is_empty() && !i.is_empty())
            .ok_or_else(|| {
                BackendError::Other(format!(
                    "invalid platform `{value}`: expected -P LABEL=IMAGE, e.g. -P ubuntu-latest=gha-runner/base:bookworm"
                ))
            })?;
        self.insert(label, image);
        Ok(())
    }

    /// Reads an act-style config file (`.actrc`): one flag per line; `-P LABEL=IMAGE`,
    /// `-P=LABEL=IMAGE`, `--platform LABEL=IMAGE` lines are used, other lines are ignored.
    ///
    /// ```
    /// let mut p = gha_backend_docker::Platforms::empty();
    /// p.add_config("# comment\n-P ubuntu-latest=gha-runner/base:bookworm\n--container-architecture linux/amd64\n").unwrap();
    /// assert_eq!(p.image_for("ubuntu-latest"), Some("gha-runner/base:bookworm"));
    /// ```
    pub fn add_config(&mut self, text: &str) -> Result<(), BackendError> {
        for line in text.lines().map(str::trim) {
            let value = ["-P ", "-P=", "--platform ", "--platform="]
                .iter()
                .find_map(|prefix| line.strip_prefix(prefix));
            if let Some(value) = value {
                self.add_flag(value.trim())?;
            }
        }
        Ok(())
    }

    /// The image for one label.
    pub fn image_for(&self, label: &str) -> Option<&str> {
        let label = label.to_ascii_lowercase();
        self.entries
            .iter()
            .find(|(l, _)| *l == label)
            .map(|(_, i)| i.as_str())
    }

    /// The image for a job's `runs-on` labels: the first label that has a mapping.
    pub fn resolve(&self, runs_on: &[String]) -> Result<(String, String), BackendError> {
        runs_on
            .iter()
            .find_map(|label| self.image_for(label).map(|i| (label.clone(), i.to_string())))
            .ok_or_else(|| {
                let labels = if runs_on.is_empty() {
                    "(none)".to_string()
                } else {
                    runs_on.join(", ")
                };
                let example = runs_on.first().map(String::as_str).unwrap_or("ubuntu-latest");
                BackendError::Other(format!(
                    "no Docker image for runs-on: {labels}; map a label to an image with -P {example}=IMAGE (e.g. -P {example}=gha-runner/base:bookworm)"
                ))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn later_mappings_win_and_labels_are_case_insensitive() {
        let mut p = Platforms::with_defaults();
        p.add_flag("Ubuntu-Latest = a:1").unwrap();
        p.add_flag("ubuntu-latest=b:2").unwrap();
        assert_eq!(p.image_for("ubuntu-latest"), Some("b:2"));
    }

    #[test]
    fn resolve_takes_the_first_mapped_label() {
        let mut p = Platforms::empty();
        p.add_flag("linux=x:1").unwrap();
        let labels = vec!["self-hosted".to_string(), "linux".to_string()];
        assert_eq!(p.resolve(&labels).unwrap(), ("linux".into(), "x:1".into()));
    }

    #[test]
    fn unmapped_labels_name_the_flag() {
        let err = Platforms::empty()
            .resolve(&["macos-latest".to_string()])
            .unwrap_err()
            .to_string();
        assert!(err.contains("-P macos-latest=IMAGE"), "{err}");
    }

    #[test]
    fn bad_flags_are_errors() {
        for bad in ["", "=x", "x=", "x"] {
            assert!(Platforms::empty().add_flag(bad).is_err(), "{bad}");
        }
    }
}
