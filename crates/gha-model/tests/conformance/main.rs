//! GitHub's workflow-reader conformance cases (actions/languageservices
//! `workflow-parser/testdata/reader`, in `shared/conformance/workflow-parser`).
//!
//! Each case is options, an input workflow and the expected result. For a valid workflow we
//! load it, convert our model to GitHub's serialized form (`to_github_json`) and compare. For an
//! invalid one we require an error at every line GitHub reports one (messages are not compared:
//! ours follow GitHub's where we know them, actionlint's elsewhere).
//!
//! Cases we do not pass are listed, with the reason, in `UNSUPPORTED.md` beside this file; the
//! test fails if that list is not exactly the set of failing cases.

mod to_github_json;

use std::collections::BTreeMap;
use std::path::Path;

use gha_model::Workflow;

struct Case {
    name: String,
    options: serde_json::Value,
    input: String,
    extra_documents: usize,
    expected: serde_json::Value,
}

fn cases() -> Vec<Case> {
    let dir =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/conformance/workflow-parser");
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yml"))
        .collect();
    names.sort();
    names
        .iter()
        .map(|path| {
            let text = std::fs::read_to_string(path).unwrap();
            let mut docs = vec![String::new()];
            for line in text.split_inclusive('\n') {
                if line.trim_end() == "---" {
                    docs.push(String::new());
                } else {
                    docs.last_mut().unwrap().push_str(line);
                }
            }
            let options = gha_model::yaml::parse(&docs[0])
                .map(|n| n.to_json())
                .unwrap_or(serde_json::Value::Null);
            let expected = serde_json::from_str(docs.last().unwrap())
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            // GitHub's harness splits on "\n---", so the input has no final line break.
            if docs[1].ends_with('\n') {
                docs[1].pop();
            }
            Case {
                name: path.file_name().unwrap().to_string_lossy().into_owned(),
                options,
                input: docs[1].clone(),
                extra_documents: docs.len() - 3,
                expected,
            }
        })
        .collect()
}

/// Run one case; `Err` says why it does not pass.
fn run(case: &Case) -> Result<(), String> {
    if case.extra_documents > 0 {
        return Err("needs other workflow files (reusable-workflow expansion)".into());
    }
    if let Some(errors) = case.expected.get("errors").and_then(|e| e.as_array()) {
        let mut limits = gha_model::yaml::LoadLimits::default();
        if let Some(d) = case.options["max-depth"].as_u64() {
            limits.max_depth = d as usize;
        }
        if let Some(n) = case.options["max-file-size"].as_u64() {
            limits.max_file_size = Some(n as usize);
        }
        let (_, diags) = Workflow::load_with_limits(&case.input, &limits);
        let ours: Vec<(u32, u32)> = diags
            .iter()
            .filter(|d| d.is_error())
            .map(|d| (d.span.start_pos.line, d.span.end_pos.line))
            .collect();
        if ours.is_empty() {
            return Err("no error reported".into());
        }
        for e in errors {
            let msg = e["Message"].as_str().unwrap_or_default();
            if let Some(line) = msg
                .split("(Line: ")
                .nth(1)
                .and_then(|s| s.split(',').next())
                .and_then(|s| s.parse::<u32>().ok())
                && !ours
                    .iter()
                    .any(|(start, end)| *start <= line && line <= *end)
            {
                return Err(format!("no error at line {line} ({msg}); ours at {ours:?}"));
            }
        }
        return Ok(());
    }
    let wf = Workflow::from_yaml(&case.input).map_err(|d| {
        format!(
            "rejected: {}",
            d.iter()
                .filter(|d| d.is_error())
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join("; ")
        )
    })?;
    let options = to_github_json::Options {
        // Only the TypeScript parser serializes `events`: cases run by it alone have them.
        include_events: case.options["skip"]
            .as_array()
            .is_some_and(|s| s.iter().any(|v| v == "C#") && s.iter().any(|v| v == "Go")),
        include_source: case.options["include-source"] == true,
        file_name: format!(".github/workflows/{}", case.name),
    };
    let ours = to_github_json::workflow(&wf, &case.input, &options);
    if ours != case.expected {
        return Err(format!(
            "output differs:\n--- ours\n{}\n--- expected\n{}",
            serde_json::to_string_pretty(&ours).unwrap(),
            serde_json::to_string_pretty(&case.expected).unwrap()
        ));
    }
    Ok(())
}

fn unsupported_list() -> BTreeMap<String, String> {
    let text = include_str!("UNSUPPORTED.md");
    text.lines()
        .filter_map(|l| l.strip_prefix("- `"))
        .filter_map(|l| l.split_once("`: "))
        .map(|(name, why)| (name.to_owned(), why.to_owned()))
        .collect()
}

#[test]
fn workflow_parser_conformance() {
    let cases = cases();
    assert_eq!(cases.len(), 195);
    let listed = unsupported_list();
    let mut failing = BTreeMap::new();
    for case in &cases {
        if let Err(why) = run(case) {
            failing.insert(case.name.clone(), why);
        }
    }
    let passed = cases.len() - failing.len();
    eprintln!("workflow-parser conformance: {passed}/{} pass", cases.len());
    let verbose = std::env::var("CONFORMANCE_VERBOSE").is_ok();
    let mut problems = Vec::new();
    for (name, why) in &failing {
        if verbose || !listed.contains_key(name) {
            problems.push(format!("FAILS (not in UNSUPPORTED.md): {name}: {why}"));
        }
    }
    for name in listed.keys() {
        if !failing.contains_key(name) {
            problems.push(format!("PASSES but listed in UNSUPPORTED.md: {name}"));
        }
    }
    if verbose {
        problems.retain(|p| !p.starts_with("PASSES"));
    }
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
}
