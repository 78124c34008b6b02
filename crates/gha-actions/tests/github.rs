//! Resolution against a local GitHub-shaped REST server (wiremock on 127.0.0.1).

use std::sync::Arc;

use gha_actions::test_server::GitHubServer;
use gha_actions::{
    ActionCache, ActionRef, ActionResolver, Origin, ResolveError, ResolvedAction, Resolver,
    ResolverConfig, WorkflowRef,
};

const NODE_ACTION: &str = "name: Hello\ndescription: Greets\ninputs:\n  who:\n    default: world\nruns:\n  using: node20\n  main: dist/index.js\n";

fn resolver(gh: &GitHubServer, cache: &std::path::Path, ws: &std::path::Path) -> Resolver {
    Resolver::new(
        ResolverConfig::new(ws)
            .api_url(gh.api_url())
            .token(None)
            .cache(ActionCache::new(cache)),
    )
}

fn dir(r: ResolvedAction) -> gha_actions::ActionDirectory {
    match r {
        ResolvedAction::Directory(d) => d,
        other => panic!("expected a directory, got {other:?}"),
    }
}

#[tokio::test]
async fn downloads_then_serves_from_a_warm_cache_without_http() {
    let gh = GitHubServer::start().await;
    let sha = gh.add_commit(
        "octo",
        "hello",
        &["v1"],
        &[
            ("action.yml", NODE_ACTION),
            ("dist/index.js", "console.log('hi')\n"),
            ("run.sh", "#!/bin/sh\n"),
        ],
    );
    let cache = tempfile::tempdir().unwrap();
    let ws = tempfile::tempdir().unwrap();
    let r = resolver(&gh, cache.path(), ws.path());
    let reference = ActionRef::parse("octo/hello@v1").unwrap();

    let d = dir(r.resolve(&reference).await.unwrap());
    assert_eq!(d.origin, Origin::Downloaded { sha: sha.clone() });
    assert_eq!(
        std::fs::read_to_string(d.dir.join("dist/index.js")).unwrap(),
        "console.log('hi')\n"
    );
    assert!(d.metadata_file.unwrap().ends_with("action.yml"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(d.dir.join("run.sh"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o111, 0o111, "executable bit kept");
    }
    let first = gh.requests().await;
    assert!(
        first
            .iter()
            .any(|r| r == "GET /repos/octo/hello/commits/v1"),
        "{first:?}"
    );
    assert!(
        first
            .iter()
            .any(|r| r.starts_with("GET /repos/octo/hello/tarball/")),
        "{first:?}"
    );

    // A new resolver (a second run) over the same cache: no request at all.
    let r2 = resolver(&gh, cache.path(), ws.path());
    let d2 = dir(r2.resolve(&reference).await.unwrap());
    assert_eq!(d2.origin, Origin::Cache { sha });
    assert_eq!(d2.dir, d.dir);
    assert_eq!(
        gh.requests().await.len(),
        first.len(),
        "warm cache made HTTP requests"
    );
}

#[tokio::test]
async fn resolves_an_action_in_a_subdirectory() {
    let gh = GitHubServer::start().await;
    gh.add_commit(
        "actions",
        "cache",
        &["v4"],
        &[
            ("action.yml", NODE_ACTION),
            (
                "restore/action.yaml",
                "name: restore\ndescription: r\nruns: {using: node20, main: ../dist/restore.js}\n",
            ),
        ],
    );
    let cache = tempfile::tempdir().unwrap();
    let r = resolver(&gh, cache.path(), cache.path());
    let d = dir(r
        .resolve(&ActionRef::parse("actions/cache/restore@v4").unwrap())
        .await
        .unwrap());
    assert!(d.dir.ends_with("restore"));
    assert_eq!(d.action.name.unwrap().value, "restore");
}

#[tokio::test]
async fn offline_with_a_cold_cache_names_what_is_missing() {
    let gh = GitHubServer::start().await;
    gh.add_commit("octo", "hello", &["v1"], &[("action.yml", NODE_ACTION)]);
    let cache = tempfile::tempdir().unwrap();
    let r = Resolver::new(
        ResolverConfig::new(cache.path())
            .api_url(gh.api_url())
            .cache(ActionCache::new(cache.path()))
            .offline(true),
    );
    let err = r
        .resolve(&ActionRef::parse("octo/hello@v1").unwrap())
        .await
        .unwrap_err();
    assert!(matches!(err, ResolveError::Offline { .. }));
    let msg = err.to_string();
    assert!(
        msg.contains("`octo/hello@v1` is not in the action cache"),
        "{msg}"
    );
    assert!(msg.contains(&cache.path().display().to_string()), "{msg}");
    assert!(gh.requests().await.is_empty());

    // Once cached (online run), offline works.
    resolver(&gh, cache.path(), cache.path())
        .resolve(&ActionRef::parse("octo/hello@v1").unwrap())
        .await
        .unwrap();
    let d = dir(r
        .resolve(&ActionRef::parse("octo/hello@v1").unwrap())
        .await
        .unwrap());
    assert!(matches!(d.origin, Origin::Cache { .. }));
}

#[tokio::test]
async fn concurrent_resolutions_of_the_same_action_both_succeed() {
    let gh = GitHubServer::start().await;
    let files: Vec<(String, u32, Vec<u8>)> = (0..200)
        .map(|i| (format!("dist/f{i}.js"), 0o644, vec![b'x'; 4096]))
        .chain([(
            "action.yml".to_string(),
            0o644,
            NODE_ACTION.as_bytes().to_vec(),
        )])
        .collect();
    let sha = gh.add_commit_files("octo", "big", &["main"], files);
    let cache = tempfile::tempdir().unwrap();
    let a = Arc::new(resolver(&gh, cache.path(), cache.path()));
    let b = Arc::new(resolver(&gh, cache.path(), cache.path()));
    let reference = ActionRef::parse("octo/big@main").unwrap();
    let (ra, rb) = tokio::join!(
        {
            let a = a.clone();
            let r = reference.clone();
            async move { a.resolve(&r).await }
        },
        {
            let b = b.clone();
            let r = reference.clone();
            async move { b.resolve(&r).await }
        }
    );
    let (da, db) = (dir(ra.unwrap()), dir(rb.unwrap()));
    assert_eq!(da.dir, db.dir);
    assert_eq!(std::fs::read_dir(da.dir.join("dist")).unwrap().count(), 200);
    assert!(da.dir.ends_with(&sha));
    // No staging directory left behind.
    assert_eq!(
        std::fs::read_dir(cache.path().join("tmp")).unwrap().count(),
        0
    );
}

#[tokio::test]
async fn unknown_repository_and_unknown_version() {
    let gh = GitHubServer::start().await;
    gh.add_commit("octo", "hello", &["v1"], &[("action.yml", NODE_ACTION)]);
    let cache = tempfile::tempdir().unwrap();
    let r = resolver(&gh, cache.path(), cache.path());
    let e = r
        .resolve(&ActionRef::parse("octo/nope@v1").unwrap())
        .await
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "Unable to resolve action `octo/nope@v1`, repository not found"
    );
    let e = r
        .resolve(&ActionRef::parse("octo/hello@v9").unwrap())
        .await
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "Unable to resolve action `octo/hello@v9`, unable to find version `v9`"
    );
}

#[tokio::test]
async fn missing_action_metadata_in_the_repository() {
    let gh = GitHubServer::start().await;
    gh.add_commit("octo", "lib", &["v1"], &[("README.md", "no action here\n")]);
    let cache = tempfile::tempdir().unwrap();
    let r = resolver(&gh, cache.path(), cache.path());
    let e = r
        .resolve(&ActionRef::parse("octo/lib@v1").unwrap())
        .await
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "Can't find 'action.yml', 'action.yaml' or 'Dockerfile' for action 'octo/lib@v1'."
    );
}

#[tokio::test]
async fn invalid_action_metadata_names_the_file_and_line() {
    let gh = GitHubServer::start().await;
    gh.add_commit(
        "octo",
        "bad",
        &["v1"],
        &[(
            "action.yml",
            "name: x\ndescription: y\nruns:\n  using: node99\n  main: a.js\n",
        )],
    );
    let cache = tempfile::tempdir().unwrap();
    let r = resolver(&gh, cache.path(), cache.path());
    let e = r
        .resolve(&ActionRef::parse("octo/bad@v1").unwrap())
        .await
        .unwrap_err();
    let msg = e.to_string();
    assert!(msg.contains("action.yml is not valid: line 4"), "{msg}");
    assert!(msg.contains("node99"), "{msg}");
}

#[tokio::test]
async fn rate_limit_names_the_reset_time() {
    let gh = GitHubServer::start().await;
    gh.add_commit("octo", "hello", &["v1"], &[("action.yml", NODE_ACTION)]);
    gh.set_rate_limited(Some(1_796_425_200));
    let cache = tempfile::tempdir().unwrap();
    let r = resolver(&gh, cache.path(), cache.path());
    let e = r
        .resolve(&ActionRef::parse("octo/hello@v1").unwrap())
        .await
        .unwrap_err();
    assert!(matches!(e, ResolveError::RateLimited { .. }), "{e:?}");
    let msg = e.to_string();
    assert!(
        msg.contains("rate limit exceeded while resolving `octo/hello@v1`"),
        "{msg}"
    );
    assert!(msg.contains("resets at 2026-12-04 23:00:00 UTC"), "{msg}");
    assert!(msg.contains("GITHUB_TOKEN"), "{msg}");
}

#[tokio::test]
async fn unreachable_api() {
    // A port nobody listens on.
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    drop(l);
    let cache = tempfile::tempdir().unwrap();
    let r = Resolver::new(
        ResolverConfig::new(cache.path())
            .api_url(format!("http://127.0.0.1:{port}"))
            .cache(ActionCache::new(cache.path())),
    );
    let e = r
        .resolve(&ActionRef::parse("octo/hello@v1").unwrap())
        .await
        .unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.starts_with(&format!(
            "Cannot reach the GitHub API at http://127.0.0.1:{port} while resolving `octo/hello@v1`"
        )),
        "{msg}"
    );
}

#[tokio::test]
async fn token_is_sent_when_configured() {
    let gh = GitHubServer::start().await;
    gh.add_commit("octo", "hello", &["v1"], &[("action.yml", NODE_ACTION)]);
    let cache = tempfile::tempdir().unwrap();
    let r = Resolver::new(
        ResolverConfig::new(cache.path())
            .api_url(gh.api_url())
            .token(Some("ghp_test".into()))
            .cache(ActionCache::new(cache.path())),
    );
    r.resolve(&ActionRef::parse("octo/hello@v1").unwrap())
        .await
        .unwrap();
    assert!(
        gh.authorizations()
            .await
            .iter()
            .any(|a| a == "Bearer ghp_test")
    );
}

#[tokio::test]
async fn action_dir_override_wins_and_makes_no_request() {
    let gh = GitHubServer::start().await;
    let local = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(local.path().join("sub")).unwrap();
    std::fs::write(local.path().join("sub/action.yml"), NODE_ACTION).unwrap();
    let cache = tempfile::tempdir().unwrap();
    let r = Resolver::new(
        ResolverConfig::new(cache.path())
            .api_url(gh.api_url())
            .cache(ActionCache::new(cache.path()))
            .with_override(
                format!("octo/hello@v1={}", local.path().display())
                    .parse()
                    .unwrap(),
            ),
    );
    let d = dir(r
        .resolve(&ActionRef::parse("octo/hello/sub@v1").unwrap())
        .await
        .unwrap());
    assert_eq!(d.origin, Origin::Override);
    assert_eq!(d.dir, local.path().join("sub"));
    assert!(gh.requests().await.is_empty());
}

#[tokio::test]
async fn remote_and_local_reusable_workflows() {
    let gh = GitHubServer::start().await;
    let wf = "on:\n  workflow_call:\n    inputs:\n      n: {type: number, default: 3}\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps: [{run: echo hi}]\n";
    gh.add_commit(
        "octo",
        "ci",
        &["v2"],
        &[(".github/workflows/build.yml", wf)],
    );
    let ws = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(ws.path().join(".github/workflows")).unwrap();
    std::fs::write(ws.path().join(".github/workflows/local.yml"), wf).unwrap();
    std::fs::write(
        ws.path().join(".github/workflows/push.yml"),
        "on: push\njobs:\n  a:\n    runs-on: x\n    steps: [{run: y}]\n",
    )
    .unwrap();
    let cache = tempfile::tempdir().unwrap();
    let r = resolver(&gh, cache.path(), ws.path());

    let remote = r
        .resolve_workflow(&WorkflowRef::parse("octo/ci/.github/workflows/build.yml@v2").unwrap())
        .await
        .unwrap();
    assert_eq!(remote.path, ".github/workflows/build.yml");
    assert!(remote.workflow.on.workflow_call().is_some());
    assert_eq!(remote.repository.unwrap().repository(), "octo/ci");

    let local = r
        .resolve_workflow(&WorkflowRef::parse("./.github/workflows/local.yml").unwrap())
        .await
        .unwrap();
    assert_eq!(local.origin, Origin::Workspace);

    let e = r
        .resolve_workflow(&WorkflowRef::parse("./.github/workflows/push.yml").unwrap())
        .await
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "./.github/workflows/push.yml: workflow_call key is not defined in the referenced workflow."
    );
    let e = r
        .resolve_workflow(&WorkflowRef::parse("./.github/workflows/missing.yml").unwrap())
        .await
        .unwrap_err();
    assert!(
        e.to_string()
            .starts_with("Unable to find reusable workflow './.github/workflows/missing.yml'"),
        "{e}"
    );
}

#[tokio::test]
async fn contents_api_reads_one_file() {
    let gh = GitHubServer::start().await;
    let text = "on: push\njobs: {}\n# a long line to exercise base64 line wrapping ......................................\n";
    gh.add_commit(
        "octo",
        "app",
        &["main"],
        &[(".github/workflows/build.yml", text)],
    );
    let cache = tempfile::tempdir().unwrap();
    let r = resolver(&gh, cache.path(), cache.path());
    let repo = gha_actions::RepoRef::new("octo", "app", None, "main");
    let bytes = r
        .fetch_file(&repo, ".github/workflows/build.yml")
        .await
        .unwrap();
    assert_eq!(String::from_utf8(bytes).unwrap(), text);
    let e = r
        .fetch_file(&repo, ".github/workflows/nope.yml")
        .await
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "`.github/workflows/nope.yml` does not exist in octo/app at main"
    );
}
