//! Finding the node binary for JavaScript actions.

use std::path::Path;

use crate::shell::which_on_path;

/// The node binary to run an action with: `--node PATH` when given (it must exist), else
/// `node` on the job's `PATH` when the job runs on this machine, else plain `node` (found
/// inside the job's container image).
pub(crate) fn find_node(
    explicit: Option<&Path>,
    path_var: &str,
    on_host: bool,
    action: &str,
    using: &str,
) -> Result<String, String> {
    if let Some(p) = explicit {
        if on_host && !p.is_file() {
            return Err(format!(
                "--node {}: no such file (needed by `{action}`, which uses {using})",
                p.display()
            ));
        }
        return Ok(p.display().to_string());
    }
    if !on_host {
        return Ok("node".into());
    }
    which_on_path("node", path_var).ok_or_else(|| {
        format!(
            "`{action}` is a JavaScript action ({using}) but no node binary was found: put node on PATH or pass --node PATH"
        )
    })
}
