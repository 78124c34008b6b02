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
            Ok(workflow) => {
                let file = WorkflowFile {
                    path: shown.clone(),
                    workflow,
                };
                if let Err(e) = check_called_workflows(repo, &file) {
                    errors.push_str(&e);
                } else {
                    // As GitHub, a call it would reject (inputs, secrets, permissions, a local
                    // callee that is missing or not reusable) rejects the file before any job
                    // runs; remote callees are resolved, and checked, as the run reaches them.
                    let (called, texts) = crate::check::check_called(f, &shown, &file.workflow);
                    for d in called.iter().filter(|d| d.is_error()) {
                        let at = d.file.as_deref().unwrap_or(&shown);
                        let source = if at == shown {
                            text.as_str()
                        } else {
                            texts.get(at).map_or("", String::as_str)
                        };
                        errors.push_str(&crate::check::render_human(
                            at,
                            &SourceMap::new(source),
                            d,
                        ));
                        if !errors.ends_with('\n') {
                            errors.push('\n');
                        }
                    }
                }
                out.push(file);
            }
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

/// How deep reusable workflows may be nested: GitHub allows ten levels, the top-level caller
/// and nine called workflows below it.
pub const MAX_CALLED_DEPTH: usize = 9;

/// How many different reusable workflows one run may call, the whole tree included.
pub const MAX_UNIQUE_CALLED: usize = 50;

/// Checks the tree of reusable workflows `top` calls, as far as the called files are local
/// (`./.github/workflows/...`), against GitHub's limits before anything runs: at most
/// [`MAX_CALLED_DEPTH`] levels of called workflows, at most [`MAX_UNIQUE_CALLED`] different
/// ones. Remote callees are not followed (the executor checks the depth again as it runs
/// them); unreadable or invalid local callees are left to the run to report. The error names
/// the file and `line:col` of the offending `uses:`, with GitHub's message.
pub fn check_called_workflows(repo: &Path, top: &WorkflowFile) -> Result<(), String> {
    struct Level {
        /// The file as shown in messages, and as GitHub names a called workflow.
        shown: String,
        called_name: String,
        workflow: Workflow,
        depth: usize,
    }
    let mut unique: Vec<String> = Vec::new();
    let mut stack = vec![Level {
        shown: top.path.clone(),
        called_name: called_name(&top.path),
        workflow: top.workflow.clone(),
        depth: 0,
    }];
    // A guard against pathological fan-out (each level calling many others).
    let mut visits = 0usize;
    while let Some(level) = stack.pop() {
        visits += 1;
        if visits > 10_000 {
            break;
        }
        for job in &level.workflow.jobs {
            let Some(call) = &job.call else { continue };
            let uses = call.uses.value.trim();
            let Ok(reference) = gha_actions::WorkflowRef::parse(uses) else {
                continue; // reported with GitHub's message when the job runs
            };
            let callee_name = match &reference {
                gha_actions::WorkflowRef::Local { path } => called_name(path),
                gha_actions::WorkflowRef::Remote(_) => uses.to_string(),
            };
            let at = call.uses.span.start_pos;
            if level.depth + 1 > MAX_CALLED_DEPTH {
                return Err(format!(
                    "{}:{}:{}: error parsing called workflow \"{}\": job \"{}\" calls workflow \"{}\", but doing so would exceed the limit on called workflow depth of {MAX_CALLED_DEPTH}\n",
                    level.shown, at.line, at.column, level.called_name, job.id.value, callee_name
                ));
            }
            if !unique.contains(&callee_name) {
                unique.push(callee_name.clone());
                if unique.len() > MAX_UNIQUE_CALLED {
                    return Err(format!(
                        "{}:{}:{}: error parsing called workflow \"{}\": job \"{}\" calls workflow \"{}\", but doing so would exceed the limit of {MAX_UNIQUE_CALLED} unique called workflows in one run\n",
                        level.shown,
                        at.line,
                        at.column,
                        level.called_name,
                        job.id.value,
                        callee_name
                    ));
                }
            }
            let gha_actions::WorkflowRef::Local { path } = &reference else {
                continue;
            };
            let Ok(text) = std::fs::read_to_string(repo.join(path)) else {
                continue;
            };
            let Ok(workflow) = Workflow::from_yaml(&text) else {
                continue;
            };
            stack.push(Level {
                shown: path.clone(),
                called_name: callee_name,
                workflow,
                depth: level.depth + 1,
            });
        }
    }
    Ok(())
}

/// A local workflow as GitHub names it in these messages: `./<path>@` (a local call has no
/// ref).
fn called_name(path: &str) -> String {
    if path.contains('@') {
        path.to_string()
    } else {
        format!("./{}@", path.trim_start_matches("./"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `n` local workflows: `w0` calls `w1`, ... `w{n-1}` runs a step.
    fn chain(dir: &Path, n: usize) {
        let wf = dir.join(".github/workflows");
        std::fs::create_dir_all(&wf).unwrap();
        for i in 0..n {
            let on = if i == 0 { "push" } else { "workflow_call" };
            let body = if i + 1 < n {
                format!("  call:\n    uses: ./.github/workflows/w{}.yml\n", i + 1)
            } else {
                "  leaf:\n    runs-on: ubuntu-latest\n    steps: [{run: echo}]\n".to_string()
            };
            std::fs::write(
                wf.join(format!("w{i}.yml")),
                format!("on: {on}\njobs:\n{body}"),
            )
            .unwrap();
        }
    }

    fn load_top(dir: &Path) -> Result<Vec<WorkflowFile>, String> {
        load(dir, &[dir.join(".github/workflows/w0.yml")])
    }

    #[test]
    fn ten_levels_pass_eleven_fail_with_the_location() {
        let ok = tempfile::tempdir().unwrap();
        chain(ok.path(), 10);
        assert!(load_top(ok.path()).is_ok());

        let bad = tempfile::tempdir().unwrap();
        chain(bad.path(), 11);
        let err = load_top(bad.path()).unwrap_err();
        assert_eq!(
            err,
            ".github/workflows/w9.yml:4:11: error parsing called workflow \"./.github/workflows/w9.yml@\": job \"call\" calls workflow \"./.github/workflows/w10.yml@\", but doing so would exceed the limit on called workflow depth of 9\n"
        );
    }

    #[test]
    fn a_workflow_calling_itself_hits_the_limit() {
        let dir = tempfile::tempdir().unwrap();
        let wf = dir.path().join(".github/workflows");
        std::fs::create_dir_all(&wf).unwrap();
        std::fs::write(
            wf.join("w0.yml"),
            "on: [push, workflow_call]\njobs:\n  again:\n    uses: ./.github/workflows/w0.yml\n",
        )
        .unwrap();
        let err = load_top(dir.path()).unwrap_err();
        assert!(err.contains("job \"again\" calls workflow \"./.github/workflows/w0.yml@\", but doing so would exceed the limit on called workflow depth of 9"), "{err}");
    }

    #[test]
    fn more_than_fifty_unique_called_workflows_fail() {
        let dir = tempfile::tempdir().unwrap();
        let wf = dir.path().join(".github/workflows");
        std::fs::create_dir_all(&wf).unwrap();
        let mut top = String::from("on: push\njobs:\n");
        for i in 0..51 {
            top.push_str(&format!(
                "  c{i}:\n    uses: ./.github/workflows/leaf{i}.yml\n"
            ));
            std::fs::write(
                wf.join(format!("leaf{i}.yml")),
                "on: workflow_call\njobs:\n  a:\n    runs-on: x\n    steps: [{run: echo}]\n",
            )
            .unwrap();
        }
        std::fs::write(wf.join("w0.yml"), &top).unwrap();
        let err = load_top(dir.path()).unwrap_err();
        assert!(
            err.contains("job \"c50\" calls workflow \"./.github/workflows/leaf50.yml@\""),
            "{err}"
        );
        assert!(err.contains("limit of 50 unique called workflows"), "{err}");
        // Fifty are fine.
        let fifty: String = top
            .lines()
            .take(2 + 50 * 2)
            .map(|l| format!("{l}\n"))
            .collect();
        std::fs::write(wf.join("w0.yml"), fifty).unwrap();
        assert!(load_top(dir.path()).is_ok());
    }
}
