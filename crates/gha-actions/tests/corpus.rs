//! Every action file of the shared corpus resolves through `Resolver` from the GitHub-shaped
//! test server, at the commit MANIFEST.tsv records, and loads through gha-model.

use gha_actions::test_server::GitHubServer;
use gha_actions::{
    ActionCache, ActionRef, ActionResolver, ResolvedAction, Resolver, ResolverConfig,
};

const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/corpus");

#[tokio::test]
async fn every_corpus_action_resolves_and_loads() {
    let manifest =
        std::fs::read_to_string(format!("{CORPUS}/MANIFEST.tsv")).expect("corpus manifest");
    let gh = GitHubServer::start().await;
    let mut refs = Vec::new();
    for line in manifest.lines().skip(1) {
        let cols: Vec<&str> = line.split('\t').collect();
        if cols.len() < 5 || cols[4] != "action" {
            continue;
        }
        let (file, repo, path, commit) = (cols[0], cols[1], cols[2], cols[3]);
        let text = std::fs::read_to_string(format!("{CORPUS}/{file}")).unwrap();
        let (owner, name) = repo.split_once('/').unwrap();
        // Each manifest row is its own commit: serve it under a ref unique to the row.
        let git_ref = format!("{}-{}", &commit[..12.min(commit.len())], refs.len());
        gh.add_commit(owner, name, &[&git_ref], &[(path, &text)]);
        let dir = path.rsplit_once('/').map(|(d, _)| d).unwrap_or("");
        let uses = if dir.is_empty() {
            format!("{repo}@{git_ref}")
        } else {
            format!("{repo}/{dir}@{git_ref}")
        };
        refs.push((file.to_string(), uses));
    }
    assert!(refs.len() >= 120, "only {} corpus actions", refs.len());
    let cache = tempfile::tempdir().unwrap();
    let r = Resolver::new(
        ResolverConfig::new(cache.path())
            .api_url(gh.api_url())
            .token(None)
            .cache(ActionCache::new(cache.path())),
    );
    let mut failures = Vec::new();
    for (file, uses) in &refs {
        match r.resolve(&ActionRef::parse(uses).unwrap()).await {
            Ok(ResolvedAction::Directory(d)) => {
                assert!(!matches!(d.action.runs, gha_model::Runs::Invalid), "{file}");
            }
            Ok(other) => failures.push(format!("{file}: unexpected {other:?}")),
            Err(e) => failures.push(format!("{file} ({uses}): {e}")),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} failed:\n{}",
        failures.len(),
        refs.len(),
        failures.join("\n")
    );
    eprintln!(
        "corpus: {}/{} actions resolved and loaded",
        refs.len(),
        refs.len()
    );
}
