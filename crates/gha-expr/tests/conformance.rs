//! Runs every case of GitHub's shared expression test data
//! (`../shared/conformance/expressions/*.json`, from actions/languageservices) through the
//! library: parse with exactly the case's context names allowed, evaluate, compare the kind and
//! value, or check that the error message contains the expected text (the reference harness
//! checks error messages the same way).
//!
//! Where that data (written against the TypeScript evaluator) disagrees with GitHub's runner,
//! we follow the runner; each such case is listed in [`RUNNER_OVER_TYPESCRIPT`] with the
//! reason and the result we give instead, and that result is checked too.

use std::path::PathBuf;

use gha_expr::{EvalEnv, Object, ParseOptions, Value, evaluate, parse_with};
use serde_json::Value as Json;

/// `(file, expression, what we give instead, why)`.
///
/// Empty: no case in the data contradicts the runner. The five cases the data itself marks
/// `options.skip: ["typescript"]` (four `Unrecognized named-value` positions counted across
/// newlines in `syntax-errors.json`, and the 1 MB memory limit) are runner behaviour that the
/// TypeScript evaluator does not reproduce; they run here like every other case (and are
/// counted). The known TypeScript/C# differences that the data does not exercise (G15
/// numbers, `toJSON(NaN)`, `'a''b''c'`, `'ß' == 'SS'`, `0X`/`0b` prefixes, lazy
/// `format`/`case`, trailing commas) are checked, runner side, in `tests/semantics.rs`.
const RUNNER_OVER_TYPESCRIPT: &[(&str, &str, &str, &str)] = &[];

fn data_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/conformance/expressions")
}

/// The outcome of one expression: `Ok(value)`, or `Err((stage, message))`.
fn run(expr: &str, contexts: &Object) -> Result<Value, (&'static str, String)> {
    let names: Vec<&str> = contexts.iter().map(|(k, _)| k).collect();
    let options = ParseOptions::new().with_contexts(names);
    let parsed = parse_with(expr, &options).map_err(|e| ("parse", e.message))?;
    evaluate(&parsed, &EvalEnv::new(contexts)).map_err(|e| ("evaluation", e.message))
}

fn same_value(got: &Value, want: &Value) -> bool {
    match (got, want) {
        (Value::Number(a), Value::Number(b)) => a == b || (a.is_nan() && b.is_nan()),
        (Value::Array(a), Value::Array(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(x, y)| same_value(x, y))
        }
        (Value::Object(a), Value::Object(b)) => {
            a.len() == b.len()
                && a.iter()
                    .zip(b.iter())
                    .all(|((ka, va), (kb, vb))| ka == kb && same_value(va, vb))
        }
        _ => got == want,
    }
}

fn describe(outcome: &Result<Value, (&'static str, String)>) -> String {
    match outcome {
        Ok(v) => format!("{} {}", v.kind_name(), v.to_json()),
        Err((stage, m)) => format!("{stage} error: {m}"),
    }
}

#[test]
fn every_conformance_case() {
    let mut files: Vec<PathBuf> = std::fs::read_dir(data_dir())
        .expect("conformance data directory")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    assert_eq!(files.len(), 28, "expected GitHub's 28 test data files");

    let mut total = 0;
    let mut runner_only = 0;
    let mut deviations_seen = 0;
    let mut failures = Vec::new();
    for file in &files {
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(file).expect("read test data");
        let groups: serde_json::Map<String, Json> = serde_json::from_str(&text).expect("json");
        for (group, cases) in groups {
            for case in cases.as_array().expect("array of cases") {
                total += 1;
                if case.pointer("/options/skip").is_some() {
                    runner_only += 1;
                }
                let expr = case["expr"].as_str().expect("expr");
                let contexts =
                    match Value::from(case.get("contexts").cloned().unwrap_or(Json::Null)) {
                        Value::Object(o) => o,
                        _ => Object::new(),
                    };
                let outcome = run(expr, &contexts);
                if let Some((_, _, instead, _)) = RUNNER_OVER_TYPESCRIPT
                    .iter()
                    .find(|(f, e, _, _)| *f == name && *e == expr)
                {
                    deviations_seen += 1;
                    if describe(&outcome) != *instead {
                        failures.push(format!(
                            "{name} [{group}] {expr:?}: documented deviation {instead:?}, got {}",
                            describe(&outcome)
                        ));
                    }
                    continue;
                }
                let ok = if let Some(result) = case.get("result") {
                    let want = Value::from(result["value"].clone());
                    let kind = result["kind"].as_str().unwrap_or_default();
                    matches!(&outcome, Ok(got) if got.kind_name() == kind && same_value(got, &want))
                } else {
                    let err = &case["err"];
                    let want_stage = match err["kind"].as_str() {
                        Some("evaluation") => "evaluation",
                        _ => "parse",
                    };
                    let text = err["value"].as_str().unwrap_or_default();
                    matches!(&outcome, Err((stage, m)) if *stage == want_stage && m.contains(text))
                };
                if !ok {
                    let want = case
                        .get("result")
                        .or(case.get("err"))
                        .cloned()
                        .unwrap_or_default();
                    failures.push(format!(
                        "{name} [{group}] {expr:?}\n    want {want}\n    got  {}",
                        describe(&outcome)
                    ));
                }
            }
        }
    }
    assert_eq!(
        deviations_seen,
        RUNNER_OVER_TYPESCRIPT.len(),
        "every documented deviation is a real case"
    );
    assert!(
        failures.is_empty(),
        "{} of {total} cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert_eq!(total, 1020);
    assert_eq!(runner_only, 5, "the cases marked skip-typescript ran too");
    eprintln!("conformance: {total}/{total} cases");
}
