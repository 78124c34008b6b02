//! `gha-actions`: where a GitHub Actions `uses:` comes from.
//!
//! - [`ActionRef`] / [`WorkflowRef`]: `owner/repo[/path]@ref`, `./path`, `docker://image` and
//!   reusable-workflow references, parsed with GitHub's rules and messages.
//! - [`ActionResolver`]: the seam the executor calls; [`LocalResolver`] (workspace only) and
//!   [`Resolver`] (workspace, `--action-dir` overrides, the on-disk [`ActionCache`], GitHub via
//!   octocrab, offline mode).
//! - Metadata is loaded through `gha-model` ([`load_action_dir`], [`load_reusable_workflow`]).
//!
//! ```
//! let r = gha_actions::ActionRef::parse("actions/cache/restore@v4").unwrap();
//! assert_eq!(r.to_string(), "actions/cache/restore@v4");
//! ```

#![warn(missing_docs)]

mod cache;
mod error;
mod github;
mod metadata;
mod overrides;
mod reference;
mod resolver;
#[cfg(feature = "test-server")]
pub mod test_server;
mod workflow_ref;

pub use cache::ActionCache;
pub use error::ResolveError;
pub use github::{DEFAULT_API_URL, GitHubClient, extract_tarball};
pub use metadata::{METADATA_FILES, load_action_dir, load_reusable_workflow};
pub use overrides::ActionDirOverride;
pub use reference::{ActionRef, ReferenceError, RepoRef};
pub use resolver::{
    ActionDirectory, ActionResolver, LocalResolver, Origin, RepositoryTree, ResolvedAction,
    ResolvedWorkflow, Resolver, ResolverConfig,
};
pub use workflow_ref::{WorkflowRef, WorkflowRefError};

#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
