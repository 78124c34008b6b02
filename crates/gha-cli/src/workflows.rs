//! Finding and loading workflow files (`-W FILE|DIR`, default `.github/workflows`), with
//! located error messages for bad input.

use std::path::{Path, PathBuf};

use gha_exec::run::WorkflowFile;
use gha_model::{SourceMap, Workflow};

/// The repository root: `dir` itself or, inside a git work tree, its top level.
pub fn repo_root(dir: &Path) -> PathBuf {
    let out = std::process::Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["rev-parse", "--show-toplevel"])
        .stderr(std::process::Stdio::null())
        .output();
    match out {
        Ok(o) if o.status.success() => {
            PathBuf::from(String::from_utf8_lossy(&o.stdout).trim().to_string())
        }
        _ => dir.to_path_buf(),
    }
}

/// The workflow files named by `-W` (files, or directories whose `*.yml` / `*.yaml` files are
/// taken in name order). Errors are messages for the user.
pub fn find(repo: &Path, given: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    let defaults = [repo.join(".github/workflows")];
    let roots: &[PathBuf] = if given.is_empty() { &defaults } else { given };
    let mut files = Vec::new();
    for root in roots {
        let meta =
            std::fs::metadata(root).map_err(|e| format!("cannot read {}: {e}", root.display()))?;
        if meta.is_dir() {
            let mut found: Vec<PathBuf> = std::fs::read_dir(root)
                .map_err(|e| format!("cannot read {}: {e}", root.display()))?
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| {
                    p.is_file()
                        && matches!(
                            p.extension().and_then(|e| e.to_str()),
                            Some("yml") | Some("yaml")
                        )
                })
                .collect();
            found.sort();
            files.extend(found);
        } else {
            files.push(root.clone());
        }
    }
    if files.is_empty() {
        return Err(format!(
            "no workflow files found in {}",
            roots
                .iter()
                .map(|r| r.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    Ok(files)
}

/// A path as shown to the user: relative to the repository when inside it.
pub fn display_path(repo: &Path, path: &Path) -> String {
    let abs = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let repo = std::fs::canonicalize(repo).unwrap_or_else(|_| repo.to_path_buf());
    abs.strip_prefix(&repo)
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| path.display().to_string())
}

/// Loads every file; on any error returns all located messages (rendered with source lines).
pub fn load(repo: &Path, files: &[PathBuf]) -> Result<Vec<WorkflowFile>, String> {
    let mut out = Vec::new();
    let mut errors = String::new();
    for f in files {
        let shown = display_path(repo, f);
        let text = match std::fs::read(f) {
            Ok(b) => String::from_utf8_lossy(&b).into_owned(),
            Err(e) => {
                errors.push_str(&format!("{shown}: cannot read: {e}\n"));
                continue;
            }
        };
        match Workflow::from_yaml(&text) {
            Ok(workflow) => out.push(WorkflowFile {
                path: shown,
                workflow,
            }),
            Err(diags) => {
                let map = SourceMap::new(&text);
                for d in diags.iter().filter(|d| d.is_error()) {
                    errors.push_str(&crate::check::render_human(&shown, &map, d));
                    if !errors.ends_with('\n') {
                        errors.push('\n');
                    }
                }
            }
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}
