//! `gha eval` end to end: the README's main-job command, exit codes, and `--batch` driven by
//! GitHub's shared conformance data (every case of every file, one process).

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use serde_json::{Value, json};

fn gha() -> Command {
    Command::new(env!("CARGO_BIN_EXE_gha"))
}

fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn readme_main_job_command() {
    let out = gha()
        .args([
            "eval",
            "format('{0} runs on {1}', github.workflow, runner.os)",
            "--context",
        ])
        .arg(crate_dir().join("examples/context.json"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "\"CI runs on Linux\"\n"
    );
}

#[test]
fn values_print_as_json_and_templates_work() {
    let ctx = crate_dir().join("examples/context.json");
    let run = |expr: &str| {
        let out = gha()
            .args(["eval", expr, "--context"])
            .arg(&ctx)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{expr}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice::<Value>(&out.stdout).unwrap()
    };
    assert_eq!(
        run("steps.version.outputs"),
        json!({"value": "1.2.3", "changed": "true"})
    );
    assert_eq!(
        run("github.event.commits.*.id"),
        json!(["2ce6b095f4cceb616efed52266e3e3c0367ba795"])
    );
    assert_eq!(run("matrix.rust == 'STABLE' && 1"), json!(1));
    assert_eq!(
        run("v${{ steps.version.outputs.value }}-${{ runner.os }}"),
        json!("v1.2.3-Linux")
    );
}

#[test]
fn errors_exit_2_with_the_message() {
    let out = gha().args(["eval", "1 2"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("Unexpected symbol: '2'. Located at position 3 within expression: 1 2")
    );
    let out = gha().args(["eval", "github.ref"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("Unrecognized named-value: 'github'"));
    let out = gha().args(["eval", "fromJSON('{')"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = gha()
        .args(["eval", "1", "--context", "/nonexistent.json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

fn run_batch(input: &str) -> Vec<Value> {
    let mut child = gha()
        .args(["eval", "--batch", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_owned();
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()).unwrap());
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn batch_keeps_one_line_per_input_line() {
    let input = concat!(
        "{\"expr\": \"a.*\", \"context\": {\"a\": {\"z\": 1, \"b\": 2, \"A1\": 3}}}\n",
        "not json\n",
        "\n",
        "{\"expr\": \"nosuch.x\", \"context\": {}}\n",
        "{\"expr\": \"toJSON(a)\", \"context\": {\"a\": {\"z\": 1, \"b\": [true]}}}\n",
    );
    let lines = run_batch(input);
    assert_eq!(lines.len(), 5);
    assert_eq!(lines[0], json!({"value": [1, 2, 3]}));
    assert!(lines[1]["error"].is_string());
    assert!(lines[2]["error"].is_string());
    assert_eq!(
        lines[3],
        json!({"error": "Unrecognized named-value: 'nosuch'. Located at position 1 within expression: nosuch.x"})
    );
    assert_eq!(
        lines[4],
        json!({"value": "{\n  \"z\": 1,\n  \"b\": [\n    true\n  ]\n}"})
    );
}

/// Every conformance case, as batch lines; results compared like the library test does.
#[test]
fn batch_runs_the_conformance_suite() {
    let dir = crate_dir().join("../../../shared/conformance/expressions");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    let mut cases = Vec::new();
    for file in &files {
        let groups: serde_json::Map<String, Value> =
            serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
        for (_, group) in groups {
            cases.extend(group.as_array().unwrap().iter().cloned());
        }
    }
    let input: String = cases
        .iter()
        .map(|c| {
            let line = json!({"expr": c["expr"], "context": c.get("contexts").cloned().unwrap_or(json!({}))});
            format!("{line}\n")
        })
        .collect();
    let lines = run_batch(&input);
    assert_eq!(lines.len(), cases.len());
    let mut failures = Vec::new();
    for (case, line) in cases.iter().zip(&lines) {
        let ok = if let Some(result) = case.get("result") {
            line.get("value")
                .is_some_and(|v| same_json(v, &result["value"]))
        } else {
            let want = case["err"]["value"].as_str().unwrap();
            line["error"].as_str().is_some_and(|m| m.contains(want))
        };
        if !ok {
            failures.push(format!("{}: {line}", case["expr"]));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_eq!(cases.len(), 1020);
}

/// JSON equality with numbers compared as f64 (`1` == `1.0`); the expected NaN/Infinity
/// results, which JSON cannot carry, print as null.
fn same_json(got: &Value, want: &Value) -> bool {
    match (got, want) {
        (Value::Number(a), Value::Number(b)) => a.as_f64() == b.as_f64(),
        (Value::Null, Value::Number(b)) => b.as_f64().is_none_or(|f| !f.is_finite()),
        (Value::Array(a), Value::Array(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(x, y)| same_json(x, y))
        }
        (Value::Object(a), Value::Object(b)) => {
            a.len() == b.len()
                && a.iter()
                    .zip(b)
                    .all(|((ka, va), (kb, vb))| ka == kb && same_json(va, vb))
        }
        _ => got == want,
    }
}
