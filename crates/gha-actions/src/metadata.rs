//! Loading an action's metadata from its directory, the way the runner looks for it:
//! `action.yml`, then `action.yaml`, then a bare `Dockerfile`.

use std::path::{Path, PathBuf};

use gha_model::{Action, Workflow};

use crate::error::ResolveError;

/// The metadata file names the runner accepts, in the order it tries them.
pub const METADATA_FILES: &[&str] = &["action.yml", "action.yaml"];

/// Loads the action in `dir`. `reference` names it in errors; `local` selects the runner's
/// "did you forget to run actions/checkout" hint.
///
/// ```
/// let dir = tempfile::tempdir().unwrap();
/// std::fs::write(dir.path().join("action.yml"), "name: x\ndescription: y\nruns: {using: node20, main: i.js}\n").unwrap();
/// let (file, action) = gha_actions::load_action_dir(dir.path(), "./x", true).unwrap();
/// assert!(file.unwrap().ends_with("action.yml"));
/// assert!(matches!(action.runs, gha_model::Runs::Node { .. }));
/// let empty = tempfile::tempdir().unwrap();
/// assert!(gha_actions::load_action_dir(empty.path(), "./y", true).unwrap_err().to_string().contains("Can't find 'action.yml'"));
/// ```
pub fn load_action_dir(
    dir: &Path,
    reference: &str,
    local: bool,
) -> Result<(Option<PathBuf>, Action), ResolveError> {
    for name in METADATA_FILES {
        let file = dir.join(name);
        if file.is_file() {
            let src = std::fs::read_to_string(&file)
                .map_err(|e| ResolveError::io(format!("Cannot read {}", file.display()), e))?;
            let action =
                Action::from_yaml(&src).map_err(|diagnostics| ResolveError::InvalidMetadata {
                    file: file.clone(),
                    diagnostics,
                })?;
            return Ok((Some(file), action));
        }
    }
    if dir.join("Dockerfile").is_file() {
        // A Dockerfile alone is a Docker action with no inputs (the runner accepts it).
        let action = Action::from_yaml("runs:\n  using: docker\n  image: Dockerfile\n")
            .expect("built-in metadata is valid");
        return Ok((None, action));
    }
    let message = if local {
        format!(
            "Can't find 'action.yml', 'action.yaml' or 'Dockerfile' under '{}'. Did you forget to run actions/checkout before running your local action?",
            dir.display()
        )
    } else {
        format!("Can't find 'action.yml', 'action.yaml' or 'Dockerfile' for action '{reference}'.")
    };
    Err(ResolveError::MissingMetadata {
        reference: reference.to_string(),
        dir: dir.to_path_buf(),
        message,
    })
}

/// Loads a reusable workflow file and checks that it declares `on: workflow_call`.
///
/// ```
/// let dir = tempfile::tempdir().unwrap();
/// let f = dir.path().join("w.yml");
/// std::fs::write(&f, "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps: [{run: echo}]\n").unwrap();
/// let e = gha_actions::load_reusable_workflow(&f, "./w.yml").unwrap_err();
/// assert!(e.to_string().contains("workflow_call key is not defined"));
/// ```
pub fn load_reusable_workflow(
    file: &Path,
    reference: &str,
) -> Result<(String, Workflow), ResolveError> {
    if !file.is_file() {
        return Err(ResolveError::MissingWorkflow {
            reference: reference.to_string(),
            path: file.to_path_buf(),
        });
    }
    let src = std::fs::read_to_string(file)
        .map_err(|e| ResolveError::io(format!("Cannot read {}", file.display()), e))?;
    let wf = Workflow::from_yaml(&src).map_err(|diagnostics| ResolveError::InvalidMetadata {
        file: file.to_path_buf(),
        diagnostics,
    })?;
    if wf.on.workflow_call().is_none() {
        return Err(ResolveError::NotReusable {
            reference: reference.to_string(),
        });
    }
    Ok((src, wf))
}
