//! `gha eval`: evaluate a GitHub Actions expression against JSON contexts.
//!
//! `gha eval EXPR [--context FILE.json]` prints the value as JSON (exit 2 with the message on
//! error). `gha eval --batch FILE.jsonl` reads lines `{"expr": "...", "context": {...}}` and
//! prints exactly one line per input line, in order: `{"value": <json>}` or
//! `{"error": "<message>"}`. The context names an expression may use are exactly the keys of
//! its context object (matched ignoring case), as on GitHub where each place allows its own set.

use std::io::{BufRead, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use gha_expr::{EvalEnv, Object, ParseOptions, Template, Value, evaluate, parse_with};
use serde_json::json;

/// Evaluate an expression (the text inside `${{ }}`) and print its value as JSON.
#[derive(Debug, clap::Args)]
pub struct EvalArgs {
    /// The expression, e.g. "github.event_name == 'push'". Text containing `${{ }}` is
    /// evaluated as a template.
    #[arg(required_unless_present = "batch", conflicts_with = "batch")]
    expr: Option<String>,

    /// A JSON object whose keys are the contexts (github, env, matrix, steps, ...).
    #[arg(long, value_name = "FILE.json")]
    context: Option<PathBuf>,

    /// Evaluate each line of a JSON-lines file (`-` for standard input):
    /// {"expr": "...", "context": {...}} -> {"value": ...} or {"error": "..."}.
    #[arg(long, value_name = "FILE.jsonl")]
    batch: Option<PathBuf>,
}

/// Runs the subcommand; exit code 0 on success, 2 on bad input or a failed expression.
pub fn run(args: EvalArgs) -> ExitCode {
    let result = match (&args.batch, &args.expr) {
        (Some(batch), _) => run_batch(batch),
        (None, Some(expr)) => run_single(expr, args.context.as_deref()),
        (None, None) => Err("an expression or --batch is required".to_owned()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::from(2)
        }
    }
}

fn run_single(expr: &str, context: Option<&Path>) -> Result<(), String> {
    let contexts = match context {
        None => Object::new(),
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            let json: serde_json::Value = serde_json::from_str(&text)
                .map_err(|e| format!("{} is not valid JSON: {e}", path.display()))?;
            contexts_from_json(json)
                .ok_or_else(|| format!("{} must hold a JSON object of contexts", path.display()))?
        }
    };
    let value = eval_text(expr, &contexts)?;
    let out = serde_json::to_string_pretty(&value.to_json()).map_err(|e| e.to_string())?;
    println!("{out}");
    Ok(())
}

fn run_batch(path: &Path) -> Result<(), String> {
    let reader: Box<dyn BufRead> = if path == Path::new("-") {
        Box::new(std::io::stdin().lock())
    } else {
        let file = std::fs::File::open(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        Box::new(std::io::BufReader::new(file))
    };
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    for line in reader.lines() {
        let line = line.map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let result = match batch_line(&line) {
            Ok(value) => json!({ "value": value.to_json() }),
            Err(message) => json!({ "error": message }),
        };
        writeln!(out, "{result}").map_err(|e| e.to_string())?;
    }
    out.flush().map_err(|e| e.to_string())
}

fn batch_line(line: &str) -> Result<Value, String> {
    let input: serde_json::Value =
        serde_json::from_str(line).map_err(|e| format!("invalid input line: {e}"))?;
    let expr = input
        .get("expr")
        .and_then(serde_json::Value::as_str)
        .ok_or("invalid input line: \"expr\" must be a string")?;
    let context = input
        .get("context")
        .or_else(|| input.get("contexts"))
        .cloned()
        .unwrap_or(serde_json::Value::Null);
    let contexts =
        contexts_from_json(context).ok_or("invalid input line: \"context\" must be an object")?;
    eval_text(expr, &contexts)
}

/// A JSON object as contexts (null means none); None for other JSON.
fn contexts_from_json(json: serde_json::Value) -> Option<Object> {
    match Value::from(json) {
        Value::Object(o) => Some(o),
        Value::Null => Some(Object::new()),
        _ => None,
    }
}

/// Parses (allowing exactly the given contexts) and evaluates an expression or template.
fn eval_text(text: &str, contexts: &Object) -> Result<Value, String> {
    let names: Vec<&str> = contexts.iter().map(|(k, _)| k).collect();
    let options = ParseOptions::new().with_contexts(names);
    let env = EvalEnv::new(contexts);
    if text.contains("${{") {
        let template = Template::parse_with(text, &options).map_err(|e| e.message)?;
        return template.evaluate(&env).map_err(|e| e.message);
    }
    let expr = parse_with(text, &options).map_err(|e| e.message)?;
    evaluate(&expr, &env).map_err(|e| e.message)
}
