//! Where traces go: `DIR/<job>/<step-number>-<step-slug>/` under `--trace-dir DIR`.

use std::path::{Path, PathBuf};

use gha_exec::StepInfo;

/// A lowercase, dash-separated form of `text` usable as a directory name (at most 60
/// characters; `step` when nothing is left).
///
/// ```
/// assert_eq!(gha_rr::slug("Build+test (stable, ubuntu-18.04)"), "build-test-stable-ubuntu-18-04");
/// assert_eq!(gha_rr::slug("Run cargo test --all"), "run-cargo-test-all");
/// assert_eq!(gha_rr::slug("!!"), "step");
/// ```
pub fn slug(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
        if out.len() >= 60 {
            break;
        }
    }
    let out = out.trim_end_matches('-').to_string();
    if out.is_empty() { "step".into() } else { out }
}

/// The trace directory tree of a run.
///
/// ```
/// use gha_exec::StepInfo;
/// let layout = gha_rr::TraceLayout::new("/tmp/traces");
/// let step = StepInfo { job_id: "test".into(), job_name: "test".into(), index: 2,
///                       name: "Run cargo test".into(), ..Default::default() };
/// assert_eq!(layout.step_relative(&step), "test/3-run-cargo-test");
/// assert_eq!(layout.step_dir(&step), std::path::Path::new("/tmp/traces/test/3-run-cargo-test"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceLayout {
    root: PathBuf,
}

impl TraceLayout {
    /// Traces under `root` (`--trace-dir`), on the machine running `gha`.
    pub fn new(root: impl Into<PathBuf>) -> TraceLayout {
        TraceLayout { root: root.into() }
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `<job>/<step-number>-<step-slug>`: the job's display name (matrix leg included) and the
    /// step's 1-based number and name.
    pub fn step_relative(&self, step: &StepInfo) -> String {
        let job = if step.job_name.is_empty() {
            &step.job_id
        } else {
            &step.job_name
        };
        format!("{}/{}-{}", slug(job), step.index + 1, slug(&step.name))
    }

    /// The step's trace directory on the machine running `gha`.
    pub fn step_dir(&self, step: &StepInfo) -> PathBuf {
        self.root.join(self.step_relative(step))
    }
}

/// Creates `dir` (and parents) writable by any user, so a container step running as another
/// user can write its trace there.
pub(crate) fn create_shared_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(dir)?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o777))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn slugs_are_safe_directory_names(text in ".{0,100}") {
            let s = slug(&text);
            prop_assert!(!s.is_empty() && s.len() <= 60);
            prop_assert!(s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'));
            prop_assert!(!s.starts_with('-') && !s.ends_with('-'));
        }
    }
}
