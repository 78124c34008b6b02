//! actionlint's error cases (`shared/corpus/invalid`): every file gets a diagnostic at the line
//! actionlint reports (MANIFEST.tsv, `expected` column), and the full diagnostics are
//! snapshot-tested.
//!
//! Where GitHub itself accepts what actionlint rejects, we follow GitHub and report a
//! *warning* at that line instead of an error; those files are listed in [`GITHUB_ACCEPTS`]
//! with the reason. actionlint's line 0 means "no position" (an unknown alias).

use std::path::Path;

use gha_model::{Diagnostic, Workflow};

const GITHUB_ACCEPTS: &[(&str, &str)] = &[
    (
        "err__unused_anchors.yaml",
        "an unused or redefined anchor is valid YAML and GitHub loads the file",
    ),
    (
        "examples__yaml_anchor_usage.yaml",
        "an unused anchor is valid YAML and GitHub loads the file",
    ),
    (
        "err__workflow_call_inputs.yaml",
        "GitHub accepts a required workflow_call input with a default (real workflows in corpus/workflows do it)",
    ),
    (
        "err__matrix_exclude_no_match.yaml",
        "GitHub accepts an exclude that matches no combination (corpus/workflows/actions__setup-java__e2e-versions.yml does it)",
    ),
    (
        "examples__yaml_anchors.yaml",
        "a literal registry password is accepted by GitHub; it is a security lint",
    ),
    (
        "err__workflow_call_secrets.yaml",
        "GitHub evaluates an undeclared secret to an empty string; it is a lint",
    ),
];

struct Case {
    file: String,
    line: u32,
    expected: String,
}

fn cases() -> Vec<Case> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus");
    let manifest = std::fs::read_to_string(root.join("MANIFEST.tsv")).unwrap();
    let mut out = Vec::new();
    for row in manifest.lines().skip(1) {
        let cols: Vec<&str> = row.split('\t').collect();
        if !cols[0].starts_with("invalid/") {
            continue;
        }
        let expected = cols[5].to_owned();
        let line = expected
            .split("first: line ")
            .nth(1)
            .and_then(|s| s.split(':').next())
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("no line in {expected}"));
        out.push(Case {
            file: cols[0].to_owned(),
            line,
            expected,
        });
    }
    out
}

fn load(file: &str) -> (String, Vec<Diagnostic>) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus");
    let text = std::fs::read_to_string(root.join(file)).unwrap();
    let diags = Workflow::load(&text).1;
    (text, diags)
}

fn render(diags: &[Diagnostic]) -> String {
    let mut out = String::new();
    for d in diags {
        out.push_str(&format!(
            "{}:{}-{}:{} {}[{}] {}\n",
            d.span.start_pos.line,
            d.span.start_pos.column,
            d.span.end_pos.line,
            d.span.end_pos.column,
            d.severity,
            d.code,
            d.message
        ));
        if let Some(h) = &d.help {
            out.push_str(&format!("    help: {h}\n"));
        }
        for n in &d.notes {
            match n.span {
                Some(s) => out.push_str(&format!(
                    "    note {}:{}: {}\n",
                    s.start_pos.line, s.start_pos.column, n.message
                )),
                None => out.push_str(&format!("    note: {}\n", n.message)),
            }
        }
    }
    out
}

#[test]
fn every_invalid_file_is_reported_at_actionlints_line() {
    let cases = cases();
    assert_eq!(cases.len(), 40);
    let mut misses = Vec::new();
    for case in &cases {
        let (_, diags) = load(&case.file);
        let accepted = GITHUB_ACCEPTS
            .iter()
            .any(|(suffix, _)| case.file.ends_with(suffix));
        let hit = diags.iter().any(|d| {
            (accepted || d.is_error()) && (case.line == 0 || d.span.start_pos.line == case.line)
        });
        let has_error = diags.iter().any(Diagnostic::is_error);
        if !hit || (!accepted && !has_error) {
            misses.push(format!(
                "{}: want line {} ({})\n{}",
                case.file,
                case.line,
                case.expected,
                render(&diags)
            ));
        }
    }
    assert!(misses.is_empty(), "{}", misses.join("\n"));
}

#[test]
fn invalid_file_diagnostics_snapshots() {
    for case in cases() {
        let (_, diags) = load(&case.file);
        let name = case
            .file
            .trim_start_matches("invalid/rhysd__actionlint__testdata__")
            .trim_end_matches(".yaml")
            .to_owned();
        insta::assert_snapshot!(name, render(&diags));
    }
}
