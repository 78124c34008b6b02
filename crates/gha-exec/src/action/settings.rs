//! How `uses:` steps are resolved and run: the resolver, the node binary, `--real-checkout`.

use std::path::PathBuf;
use std::sync::Arc;

use gha_actions::ActionResolver;

/// Settings for running actions, part of [`RunOptions`](crate::run::RunOptions).
///
/// ```
/// let s = gha_exec::action::ActionSettings::default();
/// assert!(s.resolver.is_none());
/// assert!(!s.real_checkout);
/// ```
#[derive(Clone, Default)]
pub struct ActionSettings {
    /// Resolves remote references (`owner/repo@ref`, remote reusable workflows). `None`: a
    /// [`gha_actions::Resolver`] with default settings (public API, `$GITHUB_TOKEN`, the user's
    /// cache directory). `./` references always resolve against the job's workspace.
    pub resolver: Option<Arc<dyn ActionResolver>>,
    /// The node binary for JavaScript actions (`--node`); `None`: `node` on `PATH`.
    pub node: Option<PathBuf>,
    /// Run `actions/checkout` of the repository being run instead of treating the workspace
    /// (already a copy of it) as the checkout.
    pub real_checkout: bool,
    /// How many reusable-workflow calls deep this run is (0 for a top-level run).
    pub call_depth: usize,
}

impl std::fmt::Debug for ActionSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ActionSettings")
            .field(
                "resolver",
                &self.resolver.as_ref().map(|_| "dyn ActionResolver"),
            )
            .field("node", &self.node)
            .field("real_checkout", &self.real_checkout)
            .field("call_depth", &self.call_depth)
            .finish()
    }
}
