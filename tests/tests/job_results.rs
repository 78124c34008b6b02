//! Job results as GitHub computes them: job-level `continue-on-error` (also per matrix leg,
//! from `matrix`), what `needs.<id>.result` shows, fail-fast, and the run's conclusion.

use gha_tests::{Gha, fixtures};

fn continue_on_error_repo() -> Gha {
    let text = std::fs::read_to_string(fixtures().join("c_job_results/continue.yml")).unwrap();
    Gha::with_workflow(&text)
}

#[test]
fn a_failing_job_that_continues_on_error_does_not_fail_the_run() {
    let gha = continue_on_error_repo();
    let r = gha.run(&["--jobs", "4", "-j", "after"]);
    let all = r.all_output();
    // The run succeeds, the job itself still shows as failed.
    assert_eq!(r.code(), 0, "{all}");
    assert_eq!(r.report["conclusion"], "success", "{}", r.report);
    let flaky = r.job("flaky");
    assert_eq!(flaky["conclusion"], "failure", "{flaky}");
    assert_eq!(flaky["continue_on_error"], true, "{flaky}");
    assert_eq!(flaky["outputs"]["note"], "before-failing", "{flaky}");
    // Its dependents run and see `success`.
    assert_eq!(r.job("after")["conclusion"], "success");
    assert_eq!(r.job("after")["continue_on_error"], false);
    assert!(
        r.stdout().contains("flaky=success note=before-failing"),
        "{all}"
    );
}

#[test]
fn continue_on_error_from_the_matrix_applies_per_leg_and_spares_fail_fast() {
    let gha = continue_on_error_repo();
    let r = gha.run(&["--jobs", "4", "-j", "after-legs"]);
    let all = r.all_output();
    assert_eq!(r.code(), 0, "{all}");
    assert_eq!(r.report["conclusion"], "success", "{}", r.report);
    let legs = r.jobs("legs");
    assert_eq!(legs.len(), 2, "{}", r.report);
    for leg in legs {
        let experimental = leg["matrix"]["experimental"] == true;
        if experimental {
            assert_eq!(leg["conclusion"], "failure", "{leg}");
            assert_eq!(leg["continue_on_error"], true, "{leg}");
        } else {
            // Not cancelled by fail-fast.
            assert_eq!(leg["conclusion"], "success", "{leg}");
            assert_eq!(leg["continue_on_error"], false, "{leg}");
        }
    }
    assert!(r.stdout().contains("leg=stable-survived"), "{all}");
    assert!(r.stdout().contains("legs=success"), "{all}");
}

#[test]
fn without_continue_on_error_the_run_fails_and_fail_fast_cancels() {
    let text = std::fs::read_to_string(fixtures().join("c_job_results/continue.yml"))
        .unwrap()
        .replace(
            "continue-on-error: ${{ matrix.experimental }}",
            "continue-on-error: false",
        )
        .replace("continue-on-error: true", "continue-on-error: false");
    let gha = Gha::with_workflow(&text);
    let r = gha.run(&["--jobs", "4"]);
    let all = r.all_output();
    assert_eq!(r.code(), 1, "{all}");
    assert_eq!(r.report["conclusion"], "failure");
    assert_eq!(r.job("flaky")["continue_on_error"], false);
    assert_eq!(r.job("after")["conclusion"], "skipped");
    assert_eq!(r.job("after-legs")["conclusion"], "skipped");
    let stable = r
        .jobs("legs")
        .into_iter()
        .find(|l| l["matrix"]["experimental"] == false)
        .expect("stable leg");
    assert_eq!(stable["conclusion"], "cancelled", "{stable}");
}
