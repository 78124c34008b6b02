//! `gha graph`: the `needs` graph of each workflow, drawn as text, one row per level (a job's
//! level is one more than the deepest of its needs).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use gha_model::Workflow;

use crate::workflows;

/// `gha graph` flags.
#[derive(Debug, Args)]
pub struct GraphArgs {
    /// Workflow file or directory (repeatable; default `.github/workflows`).
    #[arg(short = 'W', long = "workflows", value_name = "PATH")]
    pub workflows: Vec<PathBuf>,
    /// The repository (default: the git work tree containing the current directory).
    #[arg(short = 'C', long = "directory", value_name = "DIR")]
    pub directory: Option<PathBuf>,
}

/// Draws one workflow's graph.
///
/// ```text
/// ┌───────┐ ┌──────┐
/// │ build │ │ lint │
/// └───────┘ └──────┘
///     │
///     ▼
///  test ← build
/// ```
pub fn draw(workflow: &Workflow) -> String {
    let graph = workflow.needs_graph();
    let levels = graph.levels();
    let mut out = String::new();
    for (i, level) in levels.iter().enumerate() {
        let boxes: Vec<String> = level.iter().map(|id| id.to_string()).collect();
        let top: Vec<String> = boxes
            .iter()
            .map(|b| format!("┌{}┐", "─".repeat(b.chars().count() + 2)))
            .collect();
        let mid: Vec<String> = boxes.iter().map(|b| format!("│ {b} │")).collect();
        let bot: Vec<String> = boxes
            .iter()
            .map(|b| format!("└{}┘", "─".repeat(b.chars().count() + 2)))
            .collect();
        out.push_str(&top.join(" "));
        out.push('\n');
        out.push_str(&mid.join(" "));
        out.push('\n');
        out.push_str(&bot.join(" "));
        out.push('\n');
        if i + 1 < levels.len() {
            out.push_str("    │\n    ▼\n");
            for id in &levels[i + 1] {
                let deps = graph.dependencies(id);
                out.push_str(&format!("  {id} ← {}\n", deps.join(", ")));
            }
        }
    }
    out
}

/// Runs `gha graph`.
pub fn run(args: GraphArgs) -> ExitCode {
    let cwd = args.directory.clone().unwrap_or_else(|| PathBuf::from("."));
    let repo = workflows::repo_root(&cwd);
    let loaded =
        match workflows::find(&repo, &args.workflows).and_then(|f| workflows::load(&repo, &f)) {
            Ok(l) => l,
            Err(e) => {
                eprint!("gha graph: error: {e}");
                if !e.ends_with('\n') {
                    eprintln!();
                }
                return ExitCode::from(2);
            }
        };
    for (i, wf) in loaded.iter().enumerate() {
        if i > 0 {
            println!();
        }
        let name = wf
            .workflow
            .name
            .as_ref()
            .map(|n| n.value.clone())
            .unwrap_or_else(|| wf.path.clone());
        println!("{} ({name})", wf.path);
        print!("{}", draw(&wf.workflow));
    }
    ExitCode::SUCCESS
}
