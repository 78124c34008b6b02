//! Which workflows an event starts when `-W` is not given: `paths` / `paths-ignore` over the
//! diff GitHub takes (push: `before..after` in the local repository, even when the payload
//! lists no files), together with `branches`.

use std::process::Command;

use gha_tests::Gha;

const SRC_ONLY: &str = r#"
name: src
on:
  push:
    branches: [main]
    paths: ["src/**"]
jobs:
  src-job:
    runs-on: ubuntu-latest
    steps:
      - run: echo src workflow ran
"#;

const DOCS_ONLY: &str = r#"
name: docs
on:
  push:
    paths: ["docs/**"]
jobs:
  docs-job:
    runs-on: ubuntu-latest
    steps:
      - run: echo docs workflow ran
"#;

const NOT_DOCS: &str = r#"
name: not-docs
on:
  push:
    paths-ignore: ["docs/**"]
jobs:
  not-docs-job:
    runs-on: ubuntu-latest
    steps:
      - run: echo not-docs workflow ran
"#;

fn head(gha: &Gha) -> String {
    let out = Command::new("git")
        .arg("-C")
        .arg(gha.repo.path())
        .args(["rev-parse", "HEAD"])
        .output()
        .expect("git rev-parse");
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// A repository with the three workflows and a first commit; returns it and that commit.
fn repo() -> (Gha, String) {
    let gha = Gha::empty();
    gha.write(".github/workflows/src.yml", SRC_ONLY);
    gha.write(".github/workflows/docs.yml", DOCS_ONLY);
    gha.write(".github/workflows/not-docs.yml", NOT_DOCS);
    gha.write("src/lib.txt", "one\n");
    gha.write("docs/guide.md", "one\n");
    gha.commit();
    let first = head(&gha);
    (gha, first)
}

/// A push payload from `before` to the current HEAD that lists no changed files, so the
/// filter must take the diff from the repository.
fn push_event(gha: &Gha, before: &str) -> String {
    let payload = serde_json::json!({
        "ref": "refs/heads/main",
        "before": before,
        "after": head(gha),
        "commits": [],
    });
    let path = gha.out.path().join("push.json");
    std::fs::write(&path, payload.to_string()).unwrap();
    path.to_string_lossy().into_owned()
}

fn ran(r: &gha_tests::RunResult) -> Vec<String> {
    let mut ids: Vec<String> = r.report["jobs"]
        .as_array()
        .map(|jobs| {
            jobs.iter()
                .filter_map(|j| j["id"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    ids.sort();
    ids
}

#[test]
fn paths_filters_use_the_diff_between_before_and_after() {
    let (gha, first) = repo();
    gha.write("src/lib.txt", "two\n");
    gha.commit();
    let event = push_event(&gha, &first);
    let r = gha.run(&["push", "-e", &event]);
    assert_eq!(r.code(), 0, "{}", r.all_output());
    assert_eq!(ran(&r), ["not-docs-job", "src-job"], "{}", r.all_output());
}

#[test]
fn a_docs_only_push_starts_only_the_docs_workflow() {
    let (gha, first) = repo();
    gha.write("docs/guide.md", "two\n");
    gha.commit();
    let event = push_event(&gha, &first);
    let r = gha.run(&["push", "-e", &event]);
    assert_eq!(r.code(), 0, "{}", r.all_output());
    assert_eq!(ran(&r), ["docs-job"], "{}", r.all_output());
}

#[test]
fn a_push_to_another_branch_skips_the_branch_filtered_workflow() {
    let (gha, first) = repo();
    gha.write("src/lib.txt", "two\n");
    gha.commit();
    let payload = serde_json::json!({
        "ref": "refs/heads/feature",
        "before": first,
        "after": head(&gha),
        "commits": [],
    });
    let path = gha.out.path().join("feature.json");
    std::fs::write(&path, payload.to_string()).unwrap();
    let r = gha.run(&["push", "-e", &path.to_string_lossy()]);
    assert_eq!(r.code(), 0, "{}", r.all_output());
    assert_eq!(ran(&r), ["not-docs-job"], "{}", r.all_output());
}
