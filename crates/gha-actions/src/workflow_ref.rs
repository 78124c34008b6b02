//! `jobs.<id>.uses:` references of reusable workflows: `./.github/workflows/x.yml` and
//! `owner/repo/.github/workflows/x.yml@ref`, with GitHub's rules and messages.

use std::fmt;

use crate::reference::{RepoRef, parse_repo_ref};

/// What a job's `uses:` names.
///
/// ```
/// use gha_actions::WorkflowRef;
/// let r = WorkflowRef::parse("octo/ci/.github/workflows/build.yml@v1").unwrap();
/// let WorkflowRef::Remote(repo) = &r else { panic!() };
/// assert_eq!(repo.path.as_deref(), Some(".github/workflows/build.yml"));
/// assert!(matches!(WorkflowRef::parse("./.github/workflows/x.yaml").unwrap(), WorkflowRef::Local { .. }));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum WorkflowRef {
    /// `./.github/workflows/<file>` in the same repository (at the same commit).
    Local {
        /// The path without the leading `./`, e.g. `.github/workflows/build.yml`.
        path: String,
    },
    /// `owner/repo/.github/workflows/<file>@ref`; `path` is the workflow file.
    Remote(RepoRef),
}

/// A malformed reusable-workflow reference with GitHub's message.
///
/// ```
/// let e = gha_actions::WorkflowRef::parse("octo/ci/.github/workflows/b.yml").unwrap_err();
/// assert_eq!(e.to_string(), "invalid value workflow reference: no version specified");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid value workflow reference: {reason}")]
pub struct WorkflowRefError {
    /// The value as written.
    pub value: String,
    /// Why it is invalid.
    pub reason: String,
}

impl WorkflowRef {
    /// Parses a job's `uses:`.
    ///
    /// ```
    /// use gha_actions::WorkflowRef;
    /// assert!(WorkflowRef::parse("./build.yml").is_err());
    /// assert!(WorkflowRef::parse("octo/ci/build.yml@v1").is_err());
    /// ```
    pub fn parse(value: &str) -> Result<WorkflowRef, WorkflowRefError> {
        let err = |reason: &str| WorkflowRefError {
            value: value.to_string(),
            reason: reason.to_string(),
        };
        let (path, remote) = if let Some(local) = value.strip_prefix("./") {
            if local.contains('@') {
                return Err(err("cannot specify version when calling local workflows"));
            }
            (local.to_string(), None)
        } else {
            if !value.contains('@') {
                let looks_remote = value.split('/').filter(|s| !s.is_empty()).count() >= 3;
                return Err(err(if looks_remote {
                    "no version specified"
                } else {
                    "references to workflows must be prefixed with format 'owner/repository/' or './' for local workflows"
                }));
            }
            let Some(r) = parse_repo_ref(value) else {
                return Err(err(
                    "references to workflows must be prefixed with format 'owner/repository/' or './' for local workflows",
                ));
            };
            (r.path.clone().unwrap_or_default(), Some(r))
        };
        let Some(file) = path.strip_prefix(".github/workflows/") else {
            return Err(err(
                "references to workflows must be rooted in '.github/workflows'",
            ));
        };
        if file.is_empty() || file.contains('/') {
            return Err(err(
                "workflows must be defined at the top level of the .github/workflows/ directory",
            ));
        }
        if !(file.ends_with(".yml") || file.ends_with(".yaml")) {
            return Err(err("workflow file name must end with '.yml' or '.yaml'"));
        }
        Ok(match remote {
            Some(r) => WorkflowRef::Remote(r),
            None => WorkflowRef::Local { path },
        })
    }

    /// The workflow file's path inside its repository.
    ///
    /// ```
    /// let r = gha_actions::WorkflowRef::parse("./.github/workflows/x.yml").unwrap();
    /// assert_eq!(r.file_path(), ".github/workflows/x.yml");
    /// ```
    pub fn file_path(&self) -> &str {
        match self {
            WorkflowRef::Local { path } => path,
            WorkflowRef::Remote(r) => r.path.as_deref().unwrap_or_default(),
        }
    }
}

impl fmt::Display for WorkflowRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WorkflowRef::Local { path } => write!(f, "./{path}"),
            WorkflowRef::Remote(r) => r.fmt(f),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_and_invalid() {
        let cases = [
            "./.github/workflows/build.yml",
            "./.github/workflows/build.yaml",
            "octo/ci/.github/workflows/build.yml@v1",
            "octo/ci/.github/workflows/build.yml@0123456789abcdef0123456789abcdef01234567",
            "octo/ci/.github/workflows/build.yml",
            "./.github/workflows/build.yml@v1",
            "./ci/build.yml",
            "octo/ci/ci/build.yml@v1",
            "./.github/workflows/sub/build.yml",
            "./.github/workflows/build.json",
            "build.yml",
            "octo/.github/workflows/build.yml@",
        ];
        let out: Vec<String> = cases
            .iter()
            .map(|c| match WorkflowRef::parse(c) {
                Ok(r) => format!("{c} => {r:?}"),
                Err(e) => format!("{c} => error: {e}"),
            })
            .collect();
        insta::assert_snapshot!(out.join("\n"));
    }
}
