//! The job graph: needs, deferred matrices from needs outputs, job outputs, skipped needs.

use gha_tests::{Gha, backend_tests};

backend_tests! {
fn needs_matrix_outputs_and_skipped_needs(b) {
    let gha = Gha::with_fixture("graph.yml").on(b);
    let r = gha.run(&[]);
    assert_eq!(r.code(), 1, "{}", r.all_output());
    assert_eq!(r.report["conclusion"], "failure");

    // The deferred matrix expanded from the setup job's output.
    let legs = r.jobs("build");
    let mut names: Vec<&str> = legs.iter().map(|j| j["name"].as_str().unwrap()).collect();
    names.sort();
    assert_eq!(names, ["Build (a)", "Build (b)"]);
    for leg in &legs {
        assert_eq!(leg["conclusion"], "success");
        let m = leg["matrix"]["leg"].as_str().unwrap();
        let seen = leg["outputs"]["seen"].as_str().unwrap();
        assert!(
            seen.starts_with(&format!("{m}-")) && seen.ends_with("-2"),
            "{seen}"
        );
    }

    assert_eq!(r.job("broken")["conclusion"], "failure");
    assert_eq!(r.job("after-broken")["conclusion"], "skipped");
    assert_eq!(r.job("after-broken")["steps"], serde_json::json!([]));
    assert_eq!(r.job("transitive")["conclusion"], "skipped");
    assert_eq!(r.job("always")["conclusion"], "success");
    if b.is_ecs() {
        // One task per job that ran (setup, two build legs, broken, always); skipped jobs get
        // no runner, as on GitHub.
        assert_eq!(r.agents.len(), 5, "{}", r.all_output());
    }
    let out = r.stdout();
    assert!(
        out.contains("broken=failure build=success seen="),
        "{}",
        r.all_output()
    );
}

fn job_selection_by_display_name_runs_needs_first(b) {
    let gha = Gha::with_fixture("graph.yml").on(b);
    let r = gha.run(&["-j", "after-broken"]);
    assert_eq!(r.code(), 1);
    let ids: Vec<&str> = r.report["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["broken", "after-broken"]);

    let gha = Gha::with_workflow(
        "on: push\njobs:\n  t:\n    name: Test\n    runs-on: x\n    strategy:\n      matrix:\n        os: [a, b]\n        v: [1, 2]\n    steps: [{run: 'echo ${{ matrix.os }}-${{ matrix.v }}'}]\n",
    )
    .on(b);
    let r = gha.run(&["-j", "Test (b, 1)"]);
    assert_eq!(r.code(), 0, "{}", r.all_output());
    let jobs = r.report["jobs"].as_array().unwrap();
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0]["name"], "Test (b, 1)");

    let r = gha.run(&["--matrix", "os:a"]);
    assert_eq!(r.report["jobs"].as_array().unwrap().len(), 2);
}
}

#[test]
fn list_and_graph() {
    let gha = Gha::with_fixture("graph.yml");
    let out = gha.output(&["list"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(".github/workflows/graph.yml  (Graph)"),
        "{text}"
    );
    assert!(text.contains("on: push"), "{text}");
    assert!(text.contains("after-broken"), "{text}");
    assert!(text.contains("(needs: setup)"), "{text}");
    assert!(text.contains("matrix computed at run time"), "{text}");

    let out = gha.output(&["graph"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("│ setup │"), "{text}");
    assert!(text.contains("build ← setup"), "{text}");
    assert!(text.contains("transitive ← after-broken"), "{text}");
}
