//! GitHub's workflow-reader conformance cases (actions/languageservices
//! `workflow-parser/testdata/reader`, in `shared/conformance/workflow-parser`).
//!
//! Each case is options, an input workflow, the workflows it calls (pairs of documents: the
//! `uses:` reference, then the file) and the expected result. For a valid workflow we load it,
//! expand its reusable-workflow calls (`gha_model::reusable`), convert our model to GitHub's
//! serialized form (`to_github_json`) and compare. For an invalid one we require an error at
//! every line GitHub reports one (messages are not compared: ours follow GitHub's where we know
//! them, actionlint's elsewhere); for a case with called workflows we require GitHub's exact
//! messages, file and line:col included.
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
    /// The called workflows: `uses:` reference → file text.
    called: BTreeMap<String, String>,
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
            let called = docs[2..docs.len() - 1]
                .chunks(2)
                .map(|pair| (pair[0].trim().to_owned(), pair[1].clone()))
                .collect();
            Case {
                name: path.file_name().unwrap().to_string_lossy().into_owned(),
                options,
                input: docs[1].clone(),
                called,
                expected,
            }
        })
        .collect()
}

/// Run one case; `Err` says why it does not pass.
fn run(case: &Case) -> Result<(), String> {
    if !case.called.is_empty() {
        return run_with_called(case);
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
    let options = json_options(case);
    let ours = to_github_json::workflow(&wf, &case.input, &[], &options);
    if ours != case.expected {
        return Err(format!(
            "output differs:\n--- ours\n{}\n--- expected\n{}",
            serde_json::to_string_pretty(&ours).unwrap(),
            serde_json::to_string_pretty(&case.expected).unwrap()
        ));
    }
    Ok(())
}

fn file_name(case: &Case) -> String {
    format!(".github/workflows/{}", case.name)
}

fn json_options(case: &Case) -> to_github_json::Options {
    to_github_json::Options {
        // Only the TypeScript parser serializes `events`: cases run by it alone have them.
        include_events: case.options["skip"]
            .as_array()
            .is_some_and(|s| s.iter().any(|v| v == "C#") && s.iter().any(|v| v == "Go")),
        include_source: case.options["include-source"] == true,
        file_name: file_name(case),
        sort_file_table: case.options["is-partial-rerun"] == true,
        file_table: Default::default(),
        file: 1,
    }
}

/// A case with called workflows: expand the calls, then compare GitHub's error messages
/// exactly (a message GitHub truncated with `[...]` must start ours), or the expansion.
fn run_with_called(case: &Case) -> Result<(), String> {
    let file = file_name(case);
    let mut options = gha_model::reusable::Options::default();
    if let Some(d) = case.options["max-nested-reusable-workflows-depth"].as_u64() {
        options.max_depth = d as usize;
    }
    if let Some(n) = case.options["max-job-limit"].as_u64() {
        options.max_jobs = Some(n as usize);
    }
    options.permissions_policy = match case.options["permissions-policy"].as_str() {
        Some("LimitedRead") => Some(gha_model::reusable::PermissionsPolicy::LimitedRead),
        Some("Write") => Some(gha_model::reusable::PermissionsPolicy::Write),
        Some(other) => return Err(format!("unknown permissions-policy {other}")),
        None => None,
    };
    let skip = case.options["skip-reusable-workflows"] == true;
    let load = |uses: &str| {
        if skip {
            return None;
        }
        case.called.get(uses).map(|text| {
            Ok(gha_model::reusable::Loaded {
                path: uses.to_owned(),
                text: text.clone(),
            })
        })
    };
    let (wf, diags) = Workflow::load(&case.input);
    let mut ours: Vec<gha_model::Diagnostic> = diags
        .into_iter()
        .filter(|d| d.is_error())
        .map(|d| d.with_file(&file))
        .collect();
    let expansion = wf
        .as_ref()
        .map(|wf| gha_model::reusable::expand(wf, &file, &options, &load));
    if let Some(e) = &expansion {
        ours.extend(e.diagnostics.iter().cloned());
    }
    let shown = |d: &gha_model::Diagnostic, located: bool| {
        if located {
            format!(
                "{} (Line: {}, Col: {}): {}",
                d.file.as_deref().unwrap_or_default(),
                d.span.start_pos.line,
                d.span.start_pos.column,
                d.message
            )
        } else {
            d.message.clone()
        }
    };
    if let Some(errors) = case.expected.get("errors").and_then(|e| e.as_array()) {
        if ours.is_empty() {
            return Err("no error reported".into());
        }
        for e in errors {
            let msg = e["Message"].as_str().unwrap_or_default();
            let located = msg.contains(" (Line: ");
            let matches = |d: &gha_model::Diagnostic| {
                let text = shown(d, located);
                match msg.strip_suffix("[...]") {
                    Some(prefix) => text.starts_with(prefix),
                    None => text == msg,
                }
            };
            if !ours.iter().any(matches) {
                return Err(format!(
                    "no error {msg:?}; ours: {:?}",
                    ours.iter().map(|d| shown(d, true)).collect::<Vec<_>>()
                ));
            }
        }
        return Ok(());
    }
    if !ours.is_empty() {
        return Err(format!(
            "rejected: {}",
            ours.iter()
                .map(|d| shown(d, true))
                .collect::<Vec<_>>()
                .join("; ")
        ));
    }
    let wf = wf.expect("no errors, so the workflow loaded");
    let calls = expansion.map(|e| e.calls).unwrap_or_default();
    let ours = to_github_json::workflow(&wf, &case.input, &calls, &json_options(case));
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
