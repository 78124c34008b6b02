//! Why an action or reusable workflow could not be resolved.

use std::path::PathBuf;

use gha_model::Diagnostic;

use crate::reference::ReferenceError;
use crate::workflow_ref::WorkflowRefError;

/// A resolution failure. Every variant's message names what was being resolved.
///
/// ```
/// let e = gha_actions::ResolveError::Offline {
///     reference: "actions/cache@v4".into(),
///     cache_dir: "/tmp/cache".into(),
/// };
/// assert!(e.to_string().contains("actions/cache@v4"));
/// assert!(e.to_string().contains("--offline"));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ResolveError {
    /// A malformed step `uses:`.
    #[error(transparent)]
    Reference(#[from] ReferenceError),
    /// A malformed job `uses:`.
    #[error(transparent)]
    WorkflowReference(#[from] WorkflowRefError),
    /// No `action.yml`, `action.yaml` or `Dockerfile` where the action should be.
    #[error("{message}")]
    MissingMetadata {
        /// The reference being resolved.
        reference: String,
        /// The directory that was searched.
        dir: PathBuf,
        /// GitHub's message.
        message: String,
    },
    /// The metadata file exists but is not valid.
    #[error("{}", invalid_metadata_message(file, diagnostics))]
    InvalidMetadata {
        /// The file.
        file: PathBuf,
        /// Its errors.
        diagnostics: Vec<Diagnostic>,
    },
    /// A reusable workflow file does not exist.
    #[error("Unable to find reusable workflow '{reference}': {} does not exist", path.display())]
    MissingWorkflow {
        /// The reference being resolved.
        reference: String,
        /// Where it was looked for.
        path: PathBuf,
    },
    /// The called workflow has no `on: workflow_call`.
    #[error("{reference}: workflow_call key is not defined in the referenced workflow.")]
    NotReusable {
        /// The reference being resolved.
        reference: String,
    },
    /// The repository does not exist (or is private and no token can see it): HTTP 404.
    #[error("Unable to resolve action `{reference}`, repository not found")]
    RepositoryNotFound {
        /// The reference being resolved.
        reference: String,
    },
    /// The repository exists but the ref does not: HTTP 404/422 on the commit.
    #[error("Unable to resolve action `{reference}`, unable to find version `{version}`")]
    VersionNotFound {
        /// The reference being resolved.
        reference: String,
        /// The ref.
        version: String,
    },
    /// A file is missing at that commit (contents API 404).
    #[error("`{path}` does not exist in {repository} at {git_ref}")]
    FileNotFound {
        /// `owner/repo`.
        repository: String,
        /// The path.
        path: String,
        /// The ref or commit.
        git_ref: String,
    },
    /// HTTP 403/429 with the rate limit exhausted.
    #[error(
        "GitHub API rate limit exceeded while resolving `{reference}`{}{}; set GITHUB_TOKEN (or -s GITHUB_TOKEN=...) for a higher limit",
        reset_at.as_ref().map(|r| format!(" (it resets at {r})")).unwrap_or_default(),
        if message.is_empty() { String::new() } else { format!(": {message}") },
    )]
    RateLimited {
        /// The reference being resolved.
        reference: String,
        /// When the limit resets, as `YYYY-MM-DD HH:MM:SS UTC` from `x-ratelimit-reset`.
        reset_at: Option<String>,
        /// GitHub's message.
        message: String,
    },
    /// Any other unsuccessful HTTP status.
    #[error("GitHub API returned HTTP {status} for {url} while resolving `{reference}`{}", if message.is_empty() { String::new() } else { format!(": {message}") })]
    Http {
        /// The reference being resolved.
        reference: String,
        /// The request.
        url: String,
        /// The status code.
        status: u16,
        /// GitHub's `message`, if any.
        message: String,
    },
    /// The API could not be reached at all.
    #[error("Cannot reach the GitHub API at {api_url} while resolving `{reference}`: {detail}")]
    Unreachable {
        /// The reference being resolved.
        reference: String,
        /// The API base URL.
        api_url: String,
        /// The transport error.
        detail: String,
    },
    /// `--offline` and the action is not cached.
    #[error(
        "`{reference}` is not in the action cache ({}) and --offline forbids downloading it; run once without --offline or pass --action-dir {reference}=PATH",
        cache_dir.display()
    )]
    Offline {
        /// The reference being resolved.
        reference: String,
        /// The cache directory.
        cache_dir: PathBuf,
    },
    /// A remote reference needs a GitHub resolver, but only local resolution is configured.
    #[error("`{reference}` is a remote reference, but this resolver only resolves local paths")]
    RemoteUnsupported {
        /// The reference.
        reference: String,
    },
    /// The tarball could not be read.
    #[error("The archive of `{reference}` could not be extracted: {detail}")]
    Archive {
        /// The reference being resolved.
        reference: String,
        /// What went wrong.
        detail: String,
    },
    /// A file-system operation failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The error.
        #[source]
        source: std::io::Error,
    },
}

impl ResolveError {
    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> ResolveError {
        ResolveError::Io {
            context: context.into(),
            source,
        }
    }
}

fn invalid_metadata_message(file: &std::path::Path, diagnostics: &[Diagnostic]) -> String {
    let errors: Vec<&Diagnostic> = diagnostics.iter().filter(|d| d.is_error()).collect();
    let shown = errors.first().copied().or(diagnostics.first());
    let mut s = format!("{} is not valid", file.display());
    if let Some(d) = shown {
        s.push_str(&format!(
            ": line {}, column {}: {}",
            d.span.start_pos.line, d.span.start_pos.column, d.message
        ));
    }
    if errors.len() > 1 {
        s.push_str(&format!(" (and {} more errors)", errors.len() - 1));
    }
    s
}
