//! `gha list`: the workflows, their events, and their jobs (display names; matrix legs when the
//! matrix is written out).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use crate::workflows;

/// `gha list` flags.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Workflow file or directory (repeatable; default `.github/workflows`).
    #[arg(short = 'W', long = "workflows", value_name = "PATH")]
    pub workflows: Vec<PathBuf>,
    /// The repository (default: the git work tree containing the current directory).
    #[arg(short = 'C', long = "directory", value_name = "DIR")]
    pub directory: Option<PathBuf>,
    /// Print JSON instead of text.
    #[arg(long = "json")]
    pub json: bool,
}

/// Runs `gha list`.
pub fn run(args: ListArgs) -> ExitCode {
    let cwd = args.directory.clone().unwrap_or_else(|| PathBuf::from("."));
    let repo = workflows::repo_root(&cwd);
    let loaded =
        match workflows::find(&repo, &args.workflows).and_then(|f| workflows::load(&repo, &f)) {
            Ok(l) => l,
            Err(e) => {
                eprint!("gha list: error: {e}");
                if !e.ends_with('\n') {
                    eprintln!();
                }
                return ExitCode::from(2);
            }
        };
    let mut json = Vec::new();
    let mut text = String::new();
    for wf in &loaded {
        let name = wf
            .workflow
            .name
            .as_ref()
            .map(|n| n.value.clone())
            .unwrap_or_else(|| wf.path.clone());
        let events: Vec<String> = wf
            .workflow
            .on
            .events
            .iter()
            .map(|e| e.name.value.clone())
            .collect();
        text.push_str(&format!(
            "{}  ({name})\n  on: {}\n",
            wf.path,
            events.join(", ")
        ));
        let mut jobs_json = Vec::new();
        for job in &wf.workflow.jobs {
            let needs: Vec<String> = job.needs.iter().map(|n| n.value.clone()).collect();
            let legs: Option<Vec<String>> = job
                .strategy
                .as_ref()
                .and_then(|s| s.matrix.as_ref())
                .map(|m| match m.expand() {
                    Ok(c) => c.iter().map(|c| job.display_name(Some(c))).collect(),
                    Err(_) => vec![format!(
                        "{} (matrix computed at run time)",
                        job.display_name(None)
                    )],
                });
            text.push_str(&format!(
                "  {:<20} {}",
                job.id.value,
                job.display_name(None)
            ));
            if !needs.is_empty() {
                text.push_str(&format!("  (needs: {})", needs.join(", ")));
            }
            text.push('\n');
            if let Some(legs) = &legs {
                for l in legs {
                    text.push_str(&format!("  {:<20}   - {l}\n", ""));
                }
            }
            jobs_json.push(serde_json::json!({
                "id": job.id.value,
                "name": job.display_name(None),
                "needs": needs,
                "matrix_legs": legs,
            }));
        }
        text.push('\n');
        json.push(
            serde_json::json!({"file": wf.path, "name": name, "events": events, "jobs": jobs_json}),
        );
    }
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&json).unwrap_or_default()
        );
    } else {
        print!("{}", text.trim_end_matches('\n'));
        println!();
    }
    ExitCode::SUCCESS
}
