//! Reusable workflows: GitHub's nesting limit (ten levels: the caller and nine called
//! workflows), checked before anything runs for local trees; the called jobs in `--report`
//! and in `--json` events as `caller / callee`.

use gha_tests::Gha;

/// A repository with `n` chained local workflows: `w0` (on push) calls `w1`, ..., and the
/// last one runs a step. The job of `w{i}` is `l{i}`.
fn chain(n: usize) -> Gha {
    let gha = Gha::empty();
    for i in 0..n {
        let on = if i == 0 { "push" } else { "workflow_call" };
        let body = if i + 1 < n {
            format!("  l{i}:\n    uses: ./.github/workflows/w{}.yml\n", i + 1)
        } else {
            format!(
                "  l{i}:\n    runs-on: ubuntu-latest\n    steps:\n      - id: deep\n        run: echo \"depth-reached=${{{{ github.workflow }}}}\"\n"
            )
        };
        gha.write(
            &format!(".github/workflows/w{i}.yml"),
            &format!("name: w{i}\non: {on}\njobs:\n{body}"),
        );
    }
    gha.commit();
    gha
}

#[test]
fn ten_levels_run_and_the_called_jobs_are_reported_as_caller_slash_callee() {
    let gha = chain(10);
    let r = gha.run(&["-W", ".github/workflows/w0.yml", "--json"]);
    let all = r.all_output();
    assert_eq!(r.code(), 0, "{all}");
    let leaf_name = (0..10)
        .map(|i| format!("l{i}"))
        .collect::<Vec<_>>()
        .join(" / ");
    // The report: the caller job, and every called job under its `caller / callee` name.
    let leaf = r.job("l9");
    assert_eq!(leaf["name"], leaf_name.as_str(), "{}", r.report);
    assert_eq!(leaf["caller"], "l8");
    assert_eq!(leaf["conclusion"], "success");
    assert_eq!(leaf["steps"][0]["id"], "deep");
    assert_eq!(leaf["steps"][0]["conclusion"], "success");
    assert_eq!(r.job("l0")["name"], "l0");
    assert!(r.job("l0").get("caller").is_none());
    assert_eq!(r.job("l1")["name"], "l0 / l1");
    assert_eq!(r.job("l1")["caller"], "l0");
    assert_eq!(r.report["jobs"].as_array().unwrap().len(), 10);
    // The --json events name the leaf the same way.
    let events: Vec<serde_json::Value> = r
        .stdout()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let leaf_lines: Vec<&serde_json::Value> = events
        .iter()
        .filter(|e| e.to_string().contains("depth-reached=w9"))
        .collect();
    assert!(!leaf_lines.is_empty(), "{all}");
    assert!(
        leaf_lines
            .iter()
            .all(|e| e.to_string().contains(&format!("\"{leaf_name}\""))),
        "{leaf_lines:?}"
    );
}

#[test]
fn eleven_levels_are_refused_before_anything_runs() {
    let gha = chain(11);
    let r = gha.run(&["-W", ".github/workflows/w0.yml"]);
    let all = r.all_output();
    assert_eq!(r.code(), 2, "{all}");
    assert!(
        r.stderr().contains(
            ".github/workflows/w9.yml:5:11: error parsing called workflow \"./.github/workflows/w9.yml@\": job \"l9\" calls workflow \"./.github/workflows/w10.yml@\", but doing so would exceed the limit on called workflow depth of 9"
        ),
        "{all}"
    );
    assert!(!all.contains("depth-reached"), "{all}");
    assert!(r.report.is_null(), "{}", r.report);
}
