//! The `ActionResolver` seam and its implementations: [`LocalResolver`] (workspace paths only)
//! and [`Resolver`] (workspace paths, `--action-dir` overrides, the on-disk cache, and GitHub
//! through octocrab unless offline).

use std::path::{Path, PathBuf};

use async_trait::async_trait;
use gha_model::{Action, Workflow};
use tokio::sync::OnceCell;

use crate::cache::ActionCache;
use crate::error::ResolveError;
use crate::github::{DEFAULT_API_URL, GitHubClient};
use crate::metadata::{load_action_dir, load_reusable_workflow};
use crate::overrides::ActionDirOverride;
use crate::reference::{ActionRef, RepoRef};
use crate::workflow_ref::WorkflowRef;

/// Where a resolved tree came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    /// The workspace (a `./` reference).
    Workspace,
    /// An `--action-dir` override.
    Override,
    /// The on-disk cache, at this commit.
    Cache {
        /// Commit SHA.
        sha: String,
    },
    /// Downloaded from GitHub just now, at this commit.
    Downloaded {
        /// Commit SHA.
        sha: String,
    },
}

impl Origin {
    /// The commit SHA, when known.
    pub fn sha(&self) -> Option<&str> {
        match self {
            Origin::Cache { sha } | Origin::Downloaded { sha } => Some(sha),
            _ => None,
        }
    }
}

/// A repository tree on disk.
#[derive(Clone, Debug)]
pub struct RepositoryTree {
    /// The repository's root directory.
    pub root: PathBuf,
    /// Where it came from.
    pub origin: Origin,
}

/// An action found on disk with its metadata.
#[derive(Clone, Debug)]
pub struct ActionDirectory {
    /// The reference that was resolved.
    pub reference: ActionRef,
    /// The action's directory (`GITHUB_ACTION_PATH`).
    pub dir: PathBuf,
    /// `action.yml`/`action.yaml`; `None` for a bare `Dockerfile`.
    pub metadata_file: Option<PathBuf>,
    /// The parsed metadata.
    pub action: Action,
    /// Where the tree came from.
    pub origin: Origin,
}

/// What a `uses:` resolved to.
#[derive(Clone, Debug)]
#[allow(clippy::large_enum_variant)]
pub enum ResolvedAction {
    /// An action directory with metadata.
    Directory(ActionDirectory),
    /// `docker://image`: no metadata, the image runs as is.
    DockerImage {
        /// The image reference.
        image: String,
    },
}

/// A reusable workflow found on disk.
#[derive(Clone, Debug)]
pub struct ResolvedWorkflow {
    /// The reference that was resolved.
    pub reference: WorkflowRef,
    /// The workflow file.
    pub file: PathBuf,
    /// Its path inside its repository (`.github/workflows/x.yml`).
    pub path: String,
    /// The file's text (for diagnostics).
    pub source: String,
    /// The parsed workflow.
    pub workflow: Workflow,
    /// The repository it came from (`None`: the caller's repository).
    pub repository: Option<RepoRef>,
    /// Where the tree came from.
    pub origin: Origin,
}

/// Resolves `uses:` references to directories with metadata. The executor holds one as
/// `Arc<dyn ActionResolver>`.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use gha_actions::{ActionRef, ActionResolver, LocalResolver, ResolvedAction};
/// let ws = tempfile::tempdir().unwrap();
/// std::fs::create_dir_all(ws.path().join("greet")).unwrap();
/// std::fs::write(ws.path().join("greet/action.yml"),
///     "name: g\ndescription: d\nruns: {using: composite, steps: [{run: echo hi, shell: bash}]}\n").unwrap();
/// let r = LocalResolver::new(ws.path());
/// let ResolvedAction::Directory(d) = r.resolve(&ActionRef::parse("./greet").unwrap()).await.unwrap() else { panic!() };
/// assert!(matches!(d.action.runs, gha_model::Runs::Composite { .. }));
/// # }
/// ```
#[async_trait]
pub trait ActionResolver: Send + Sync {
    /// Resolves a step's `uses:`.
    async fn resolve(&self, reference: &ActionRef) -> Result<ResolvedAction, ResolveError>;

    /// Resolves a job's `uses:` (a reusable workflow).
    async fn resolve_workflow(
        &self,
        reference: &WorkflowRef,
    ) -> Result<ResolvedWorkflow, ResolveError>;
}

/// Resolves `./path` references against a workspace; remote references are an error.
#[derive(Clone, Debug)]
pub struct LocalResolver {
    workspace: PathBuf,
}

impl LocalResolver {
    /// A resolver for the workspace at `workspace`.
    pub fn new(workspace: impl Into<PathBuf>) -> LocalResolver {
        LocalResolver {
            workspace: workspace.into(),
        }
    }
}

fn resolve_local_action(
    workspace: &Path,
    reference: &ActionRef,
) -> Result<ResolvedAction, ResolveError> {
    match reference {
        ActionRef::Local { path } => {
            let rel = path.replace('\\', "/");
            let dir = workspace.join(rel.trim_start_matches("./"));
            let (metadata_file, action) = load_action_dir(&dir, path, true)?;
            Ok(ResolvedAction::Directory(ActionDirectory {
                reference: reference.clone(),
                dir,
                metadata_file,
                action,
                origin: Origin::Workspace,
            }))
        }
        ActionRef::Docker { image } => Ok(ResolvedAction::DockerImage {
            image: image.clone(),
        }),
        ActionRef::Repo(r) => Err(ResolveError::RemoteUnsupported {
            reference: r.to_string(),
        }),
    }
}

fn resolve_local_workflow(
    workspace: &Path,
    reference: &WorkflowRef,
) -> Result<ResolvedWorkflow, ResolveError> {
    let WorkflowRef::Local { path } = reference else {
        return Err(ResolveError::RemoteUnsupported {
            reference: reference.to_string(),
        });
    };
    let file = workspace.join(path);
    let (source, workflow) = load_reusable_workflow(&file, &reference.to_string())?;
    Ok(ResolvedWorkflow {
        reference: reference.clone(),
        file,
        path: path.clone(),
        source,
        workflow,
        repository: None,
        origin: Origin::Workspace,
    })
}

#[async_trait]
impl ActionResolver for LocalResolver {
    async fn resolve(&self, reference: &ActionRef) -> Result<ResolvedAction, ResolveError> {
        resolve_local_action(&self.workspace, reference)
    }

    async fn resolve_workflow(
        &self,
        reference: &WorkflowRef,
    ) -> Result<ResolvedWorkflow, ResolveError> {
        resolve_local_workflow(&self.workspace, reference)
    }
}

/// Settings of a [`Resolver`].
///
/// ```
/// let c = gha_actions::ResolverConfig::new("/work/repo").offline(true).api_url("https://ghe.example/api/v3");
/// assert!(c.offline);
/// assert_eq!(c.api_url, "https://ghe.example/api/v3");
/// ```
#[derive(Clone, Debug)]
pub struct ResolverConfig {
    /// The workspace `./` references are relative to.
    pub workspace: PathBuf,
    /// The REST API base URL (`--github-api-url`).
    pub api_url: String,
    /// The token (`GITHUB_TOKEN`); anonymous when `None`.
    pub token: Option<String>,
    /// The on-disk cache.
    pub cache: ActionCache,
    /// Cache only, never the network (`--offline`).
    pub offline: bool,
    /// `--action-dir` overrides.
    pub overrides: Vec<ActionDirOverride>,
}

impl ResolverConfig {
    /// Defaults: the public API (or `$GITHUB_API_URL`), `$GITHUB_TOKEN`, the default cache
    /// location, online, no overrides.
    pub fn new(workspace: impl Into<PathBuf>) -> ResolverConfig {
        ResolverConfig {
            workspace: workspace.into(),
            api_url: std::env::var("GITHUB_API_URL")
                .ok()
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| DEFAULT_API_URL.to_string()),
            token: std::env::var("GITHUB_TOKEN").ok().filter(|t| !t.is_empty()),
            cache: ActionCache::default_location(),
            offline: false,
            overrides: Vec::new(),
        }
    }

    /// Sets the API base URL.
    pub fn api_url(mut self, url: impl Into<String>) -> Self {
        self.api_url = url.into();
        self
    }

    /// Sets the token (`None`: anonymous).
    pub fn token(mut self, token: Option<String>) -> Self {
        self.token = token.filter(|t| !t.is_empty());
        self
    }

    /// Sets the cache.
    pub fn cache(mut self, cache: ActionCache) -> Self {
        self.cache = cache;
        self
    }

    /// Cache only.
    pub fn offline(mut self, offline: bool) -> Self {
        self.offline = offline;
        self
    }

    /// Adds an `--action-dir` override.
    pub fn with_override(mut self, o: ActionDirOverride) -> Self {
        self.overrides.push(o);
        self
    }
}

/// The full resolver: workspace paths, overrides, the cache, then GitHub (unless offline).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use gha_actions::{ActionCache, ActionRef, ActionResolver, Resolver, ResolverConfig};
/// let cache = tempfile::tempdir().unwrap();
/// let r = Resolver::new(ResolverConfig::new(".").cache(ActionCache::new(cache.path())).offline(true));
/// let e = r.resolve(&ActionRef::parse("actions/cache@v4").unwrap()).await.unwrap_err();
/// assert!(e.to_string().contains("--offline"));
/// # }
/// ```
#[derive(Debug)]
pub struct Resolver {
    config: ResolverConfig,
    client: OnceCell<GitHubClient>,
}

impl Resolver {
    /// A resolver with these settings.
    pub fn new(config: ResolverConfig) -> Resolver {
        Resolver {
            config,
            client: OnceCell::new(),
        }
    }

    /// The settings.
    pub fn config(&self) -> &ResolverConfig {
        &self.config
    }

    async fn client(&self) -> Result<&GitHubClient, ResolveError> {
        self.client
            .get_or_try_init(|| async {
                GitHubClient::new(&self.config.api_url, self.config.token.as_deref())
            })
            .await
    }

    /// The tree of a repository at a ref: from an override, the cache, or a download (which
    /// fills the cache). `reference` names what is being resolved in errors.
    pub async fn fetch_repository(
        &self,
        repo: &RepoRef,
        reference: &str,
    ) -> Result<RepositoryTree, ResolveError> {
        if let Some(o) = self.config.overrides.iter().find(|o| o.matches(repo)) {
            if !o.dir.is_dir() {
                return Err(ResolveError::io(
                    format!("--action-dir for {reference}"),
                    std::io::Error::new(
                        std::io::ErrorKind::NotFound,
                        format!("{} is not a directory", o.dir.display()),
                    ),
                ));
            }
            return Ok(RepositoryTree {
                root: o.dir.clone(),
                origin: Origin::Override,
            });
        }
        let cache = &self.config.cache;
        if let Some(sha) = cache.lookup_ref(&repo.owner, &repo.repo, &repo.git_ref)
            && let Some(root) = cache.tree(&repo.owner, &repo.repo, &sha)
        {
            return Ok(RepositoryTree {
                root,
                origin: Origin::Cache { sha },
            });
        }
        if self.config.offline {
            return Err(ResolveError::Offline {
                reference: reference.to_string(),
                cache_dir: cache.root().to_path_buf(),
            });
        }
        let client = self
            .client()
            .await
            .map_err(|e| with_reference(e, reference))?;
        let sha = client
            .commit_sha(&repo.owner, &repo.repo, &repo.git_ref, reference)
            .await?;
        let root = match cache.tree(&repo.owner, &repo.repo, &sha) {
            Some(root) => root,
            None => {
                let staged = cache.staging_dir()?;
                client
                    .download_tree(&repo.owner, &repo.repo, &sha, staged.path(), reference)
                    .await?;
                cache.commit_tree(staged, &repo.owner, &repo.repo, &sha)?
            }
        };
        cache.record_ref(&repo.owner, &repo.repo, &repo.git_ref, &sha)?;
        Ok(RepositoryTree {
            root,
            origin: Origin::Downloaded { sha },
        })
    }

    /// One file of a repository at a ref through the contents API (never cached; used to read
    /// a workflow before its tree is needed).
    pub async fn fetch_file(&self, repo: &RepoRef, path: &str) -> Result<Vec<u8>, ResolveError> {
        let reference = format!("{}/{}@{}", repo.owner, repo.repo, repo.git_ref);
        if let Ok(tree) = self.cached_tree(repo) {
            let f = tree.root.join(path);
            return std::fs::read(&f).map_err(|_| ResolveError::FileNotFound {
                repository: repo.repository(),
                path: path.to_string(),
                git_ref: repo.git_ref.clone(),
            });
        }
        if self.config.offline {
            return Err(ResolveError::Offline {
                reference,
                cache_dir: self.config.cache.root().to_path_buf(),
            });
        }
        let client = self
            .client()
            .await
            .map_err(|e| with_reference(e, &reference))?;
        client
            .file_content(&repo.owner, &repo.repo, path, &repo.git_ref, &reference)
            .await
    }

    fn cached_tree(&self, repo: &RepoRef) -> Result<RepositoryTree, ()> {
        if let Some(o) = self.config.overrides.iter().find(|o| o.matches(repo)) {
            return Ok(RepositoryTree {
                root: o.dir.clone(),
                origin: Origin::Override,
            });
        }
        let cache = &self.config.cache;
        let sha = cache
            .lookup_ref(&repo.owner, &repo.repo, &repo.git_ref)
            .ok_or(())?;
        let root = cache.tree(&repo.owner, &repo.repo, &sha).ok_or(())?;
        Ok(RepositoryTree {
            root,
            origin: Origin::Cache { sha },
        })
    }
}

fn with_reference(e: ResolveError, reference: &str) -> ResolveError {
    match e {
        ResolveError::Unreachable {
            api_url, detail, ..
        } => ResolveError::Unreachable {
            reference: reference.to_string(),
            api_url,
            detail,
        },
        other => other,
    }
}

#[async_trait]
impl ActionResolver for Resolver {
    async fn resolve(&self, reference: &ActionRef) -> Result<ResolvedAction, ResolveError> {
        let ActionRef::Repo(repo) = reference else {
            return resolve_local_action(&self.config.workspace, reference);
        };
        let name = reference.to_string();
        let tree = self.fetch_repository(repo, &name).await?;
        let dir = match &repo.path {
            Some(p) => tree.root.join(p),
            None => tree.root.clone(),
        };
        let (metadata_file, action) = load_action_dir(&dir, &name, false)?;
        Ok(ResolvedAction::Directory(ActionDirectory {
            reference: reference.clone(),
            dir,
            metadata_file,
            action,
            origin: tree.origin,
        }))
    }

    async fn resolve_workflow(
        &self,
        reference: &WorkflowRef,
    ) -> Result<ResolvedWorkflow, ResolveError> {
        let WorkflowRef::Remote(repo) = reference else {
            return resolve_local_workflow(&self.config.workspace, reference);
        };
        let name = reference.to_string();
        let tree = self.fetch_repository(repo, &name).await?;
        let path = reference.file_path().to_string();
        let file = tree.root.join(&path);
        let (source, workflow) = load_reusable_workflow(&file, &name)?;
        Ok(ResolvedWorkflow {
            reference: reference.clone(),
            file,
            path,
            source,
            workflow,
            repository: Some(repo.clone()),
            origin: tree.origin,
        })
    }
}
