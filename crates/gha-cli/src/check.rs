//! `gha check FILE...`: load workflow and action files and report what GitHub would reject.
//!
//! Workflows that call local reusable workflows (`uses: ./.github/workflows/x.yml`) are
//! checked across files as GitHub does when it expands them (`gha_model::reusable`): inputs
//! and secrets the called workflow defines, input types, permissions, nesting depth. Remote
//! callees are not fetched.
//!
//! Exit status: 0 when no file has an error, 1 when any has, 2 when a file cannot be read.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use gha_model::{Action, Diagnostic, SourceMap, Workflow};

/// Arguments of `gha check`.
#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// Workflow (`.github/workflows/*.yml`) or action metadata (`action.yml`) files.
    #[arg(required = true)]
    pub files: Vec<std::path::PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
    /// Treat every file as this kind instead of guessing from its path and content.
    #[arg(long, value_enum)]
    pub kind: Option<FileKind>,
}

/// How diagnostics are printed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Messages with a source excerpt under each one.
    Human,
    /// One JSON array of `{file, line, column, end_line, end_column, severity, code, message}`.
    Json,
}

/// What a file is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum FileKind {
    /// A workflow file.
    Workflow,
    /// An action metadata file.
    Action,
}

/// Run `gha check`.
pub fn run(args: CheckArgs) -> ExitCode {
    let mut unreadable = false;
    let mut any_error = false;
    let mut json_out = Vec::new();
    // A called workflow's problems are reported once, however many files call it.
    let mut seen = HashSet::new();
    for path in &args.files {
        let display = path.display().to_string();
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) => {
                eprintln!("gha check: cannot read {display}: {e}");
                unreadable = true;
                continue;
            }
        };
        let (text, mut diags) = check_bytes(path, &bytes, args.kind);
        let mut texts = BTreeMap::new();
        let kind = args.kind.unwrap_or_else(|| guess_kind(path, &text));
        if kind == FileKind::Workflow
            && let (Some(wf), _) = Workflow::load(&text)
        {
            let (called, called_texts) = check_called(path, &display, &wf);
            diags.extend(called);
            texts = called_texts;
        }
        texts.insert(display.clone(), text);
        diags.retain(|d| {
            let Some(file) = d.file.clone() else {
                return true;
            };
            seen.insert((
                file,
                d.span.start_pos.line,
                d.span.start_pos.column,
                d.message.clone(),
            ))
        });
        any_error |= diags.iter().any(Diagnostic::is_error);
        for d in &diags {
            let file = d.file.as_deref().unwrap_or(&display);
            match args.format {
                Format::Human => {
                    let map = SourceMap::new(texts.get(file).map_or("", String::as_str));
                    print!("{}", render_human(file, &map, d));
                }
                Format::Json => json_out.push(to_json(file, d)),
            }
        }
    }
    match args.format {
        Format::Json => println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::Value::Array(json_out))
                .unwrap_or_else(|_| "[]".to_owned())
        ),
        Format::Human => {
            if !any_error && !unreadable {
                eprintln!("{} file(s) checked, no errors", args.files.len());
            }
        }
    }
    if unreadable {
        ExitCode::from(2)
    } else if any_error {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

/// Load one file's bytes and return its text (lossy for invalid UTF-8) and diagnostics.
pub fn check_bytes(path: &Path, bytes: &[u8], kind: Option<FileKind>) -> (String, Vec<Diagnostic>) {
    let text = match std::str::from_utf8(bytes) {
        Ok(t) => t.to_owned(),
        Err(e) => {
            let text = String::from_utf8_lossy(bytes).into_owned();
            let map = SourceMap::new(&text);
            let at = e.valid_up_to();
            let d = Diagnostic::error(map.span(at, at), "yaml-syntax", "file is not valid UTF-8");
            return (text, vec![d]);
        }
    };
    let kind = kind.unwrap_or_else(|| guess_kind(path, &text));
    let diags = match kind {
        FileKind::Workflow => Workflow::load(&text).1,
        FileKind::Action => Action::load(&text).1,
    };
    (text, diags)
}

/// Check the reusable-workflow calls of `wf` (the file at `path`, shown as `display`) against
/// the local workflows they call. Returns the diagnostics (each with its file, as shown) and
/// the text of every called file read. Local callees are looked up only for a file in a
/// `.github/workflows` directory (elsewhere the repository is unknown).
pub fn check_called(
    path: &Path,
    display: &str,
    wf: &Workflow,
) -> (Vec<Diagnostic>, BTreeMap<String, String>) {
    let Some((root, root_shown)) = workflow_repo_root(path, display) else {
        return (Vec::new(), BTreeMap::new());
    };
    let texts = RefCell::new(BTreeMap::new());
    let load = |uses: &str| {
        let Ok(gha_actions::WorkflowRef::Local { path: rel }) =
            gha_actions::WorkflowRef::parse(uses.trim())
        else {
            return None;
        };
        let shown = root_shown.join(&rel).display().to_string();
        let text = match std::fs::read_to_string(root.join(&rel)) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Some(Err(format!(
                    "Unable to find reusable workflow '{}': {shown} does not exist",
                    uses.trim()
                )));
            }
            Err(e) => return Some(Err(format!("Cannot read {shown}: {e}"))),
        };
        texts.borrow_mut().insert(shown.clone(), text.clone());
        Some(Ok(gha_model::reusable::Loaded { path: shown, text }))
    };
    let out = gha_model::reusable::expand(wf, display, &Default::default(), &load);
    (out.diagnostics, texts.into_inner())
}

/// The repository a workflow file belongs to: the directory above its `.github/workflows`.
/// Returned as a path to read from and as the prefix to show (relative when `display` is).
fn workflow_repo_root(path: &Path, display: &str) -> Option<(PathBuf, PathBuf)> {
    let above_workflows = |p: &Path| {
        let dir = p.parent()?;
        let github = dir.parent()?;
        (dir.file_name()? == "workflows" && github.file_name()? == ".github")
            .then(|| github.parent().map(Path::to_path_buf))?
    };
    Some((above_workflows(path)?, above_workflows(Path::new(display))?))
}

/// Action metadata is named `action.yml`/`action.yaml`; anything under
/// `.github/workflows/` is a workflow; otherwise a top-level `runs:` without `jobs:` means an
/// action.
pub fn guess_kind(path: &Path, text: &str) -> FileKind {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    let full = path.to_string_lossy().replace('\\', "/");
    if full.contains(".github/workflows/") {
        return FileKind::Workflow;
    }
    if name == "action.yml" || name == "action.yaml" {
        return FileKind::Action;
    }
    let top_level = |key: &str| {
        text.lines()
            .any(|l| l.starts_with(key) && l[key.len()..].trim_start().starts_with(':'))
    };
    if top_level("runs") && !top_level("jobs") {
        FileKind::Action
    } else {
        FileKind::Workflow
    }
}

fn to_json(file: &str, d: &Diagnostic) -> serde_json::Value {
    serde_json::json!({
        "file": file,
        "line": d.span.start_pos.line,
        "column": d.span.start_pos.column,
        "end_line": d.span.end_pos.line,
        "end_column": d.span.end_pos.column,
        "severity": d.severity,
        "code": d.code,
        "message": d.message,
    })
}

/// `severity[code]: message`, the location, and the source line with the span underlined.
pub fn render_human(file: &str, map: &SourceMap, d: &Diagnostic) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let start = d.span.start_pos;
    let _ = writeln!(out, "{}[{}]: {}", d.severity, d.code, d.message);
    let _ = writeln!(out, "  --> {file}:{}:{}", start.line, start.column);
    if let Some(line) = map.line_text(start.line).filter(|_| start.line > 0) {
        let gutter = start.line.to_string().len();
        let pad = " ".repeat(gutter);
        let col = start.column.max(1) as usize - 1;
        let width = if d.span.end_pos.line == start.line && d.span.end_pos.column > start.column {
            (d.span.end_pos.column - start.column) as usize
        } else {
            line.chars().count().saturating_sub(col).max(1)
        };
        // Keep tabs so the caret lines up under the same characters.
        let lead: String = line
            .chars()
            .take(col)
            .map(|c| if c == '\t' { '\t' } else { ' ' })
            .collect();
        let _ = writeln!(out, "{pad} |");
        let _ = writeln!(out, "{} | {line}", start.line);
        let _ = writeln!(out, "{pad} | {lead}{}", "^".repeat(width));
        for note in &d.notes {
            match note.span {
                Some(s) => {
                    let _ = writeln!(
                        out,
                        "{pad} = note: {} ({file}:{}:{})",
                        note.message, s.start_pos.line, s.start_pos.column
                    );
                }
                None => {
                    let _ = writeln!(out, "{pad} = note: {}", note.message);
                }
            }
        }
        if let Some(help) = &d.help {
            let _ = writeln!(out, "{pad} = help: {help}");
        }
    } else if let Some(help) = &d.help {
        let _ = writeln!(out, "  = help: {help}");
    }
    out.push('\n');
    out
}
