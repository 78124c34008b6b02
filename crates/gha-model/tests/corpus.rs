//! Every real workflow and action file in the shared corpus loads with zero errors.

use std::path::{Path, PathBuf};

fn corpus_dir(sub: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/corpus")
        .join(sub)
}

fn files(sub: &str) -> Vec<PathBuf> {
    let dir = corpus_dir(sub);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
}

fn report(kind: &str, failures: &[(PathBuf, Vec<gha_model::Diagnostic>)], total: usize) {
    for (path, diags) in failures {
        eprintln!("{}:", path.display());
        for d in diags.iter().filter(|d| d.is_error()) {
            eprintln!("  {d}");
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {total} {kind} files have errors",
        failures.len()
    );
}

#[test]
fn every_corpus_workflow_loads_without_errors() {
    let files = files("workflows");
    assert!(files.len() > 900, "corpus has {} workflows", files.len());
    let mut failures = Vec::new();
    for path in &files {
        let bytes = std::fs::read(path).unwrap();
        let text = String::from_utf8(bytes).expect("corpus files are UTF-8");
        if let Err(diags) = gha_model::Workflow::from_yaml(&text) {
            failures.push((path.clone(), diags));
        }
    }
    report("workflow", &failures, files.len());
}

#[test]
fn every_corpus_action_loads_without_errors() {
    let files = files("actions");
    assert!(files.len() > 100, "corpus has {} actions", files.len());
    let mut failures = Vec::new();
    for path in &files {
        let text = std::fs::read_to_string(path).unwrap();
        if let Err(diags) = gha_model::Action::from_yaml(&text) {
            failures.push((path.clone(), diags));
        }
    }
    report("action", &failures, files.len());
}
