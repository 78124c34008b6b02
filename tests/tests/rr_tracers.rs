//! `gha run --tracer strace|rr`: traces of the selected steps on the host and in a Docker
//! container whose image has neither tool, and rr's preflight exit code.

use gha_tests::Gha;

const WORKFLOW: &str = r#"on: push
jobs:
  build:
    runs-on: ubuntu-latest
    steps:
      - name: first
        run: echo first
      - id: probe
        run: ls -d /etc
      - name: last
        run: |
          echo last
          true
"#;

fn no_cpu_pmu() -> bool {
    !std::path::Path::new("/sys/bus/event_source/devices/cpu").exists()
}

fn docker_available(test: &str) -> bool {
    let ok = std::process::Command::new("docker")
        .args(["image", "inspect", "gha-runner/base:bookworm"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        if std::env::var("GHA_REQUIRE_DOCKER").is_ok_and(|v| v == "1" || v == "true") {
            panic!(
                "{test}: GHA_REQUIRE_DOCKER=1 but no Docker engine with gha-runner/base:bookworm answers"
            );
        }
        eprintln!(
            "{test}: skipped: no Docker engine with gha-runner/base:bookworm (cargo xtask image)"
        );
    }
    ok
}

fn trace_files(dir: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    for job in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        for step in std::fs::read_dir(job.path())
            .into_iter()
            .flatten()
            .flatten()
        {
            out.push(format!(
                "{}/{}",
                job.file_name().to_string_lossy(),
                step.file_name().to_string_lossy()
            ));
        }
    }
    out.sort();
    out
}

fn check_strace(gha: &Gha, backend_args: &[&str]) {
    let traces = gha.out.path().join("traces");
    let traces_s = traces.to_string_lossy().into_owned();
    let mut args = backend_args.to_vec();
    args.extend([
        "--tracer",
        "strace",
        "--trace-step",
        "probe",
        "--trace-step",
        "3",
        "--trace-dir",
        &traces_s,
    ]);
    let r = gha.run(&args);
    assert_eq!(r.code(), 0, "{}", r.all_output());
    assert_eq!(
        trace_files(&traces),
        ["build/2-run-ls-d-etc", "build/3-last"]
    );
    let probe = std::fs::read_to_string(traces.join("build/2-run-ls-d-etc/strace.txt")).unwrap();
    let first = probe.lines().find(|l| l.contains("execve(")).unwrap();
    assert!(
        first.contains("/ls\", [\"ls\", \"-d\", \"/etc\"]"),
        "{first}"
    );
    let last = std::fs::read_to_string(traces.join("build/3-last/strace.txt")).unwrap();
    assert!(
        last.lines()
            .find(|l| l.contains("execve("))
            .unwrap()
            .contains("sh"),
        "multi-line bodies go through the shell"
    );
    assert!(
        r.stdout().contains("strace of step 2 (Run ls -d /etc)"),
        "{}",
        r.all_output()
    );
}

#[test]
fn strace_on_the_host_traces_only_the_selected_steps() {
    check_strace(&Gha::with_workflow(WORKFLOW), &[]);
}

#[test]
fn strace_in_a_container_without_strace_uses_the_bundle() {
    if !docker_available("strace in docker") {
        return;
    }
    let gha = Gha::with_workflow(WORKFLOW);
    check_strace(
        &gha,
        &[
            "--backend",
            "docker",
            "-P",
            "ubuntu-latest=gha-runner/base:bookworm",
        ],
    );
}

#[test]
fn trace_step_without_tracer_is_bad_input() {
    let gha = Gha::with_workflow(WORKFLOW);
    let r = gha.run(&["--trace-step", "probe"]);
    assert_eq!(r.code(), 2, "{}", r.all_output());
    let r = gha.run(&["--tracer", "strace", "--trace-step", "0"]);
    assert_eq!(r.code(), 2, "{}", r.all_output());
    assert!(
        r.stderr().contains("step numbers start at 1"),
        "{}",
        r.all_output()
    );
}

fn check_rr_preflight(gha: &Gha, backend_args: &[&str]) {
    let traces = gha.out.path().join("traces");
    let traces_s = traces.to_string_lossy().into_owned();
    let mut args = backend_args.to_vec();
    args.extend(["--tracer", "rr", "--trace-dir", &traces_s]);
    let r = gha.run(&args);
    if r.code() == 0 {
        eprintln!("this machine records with rr: the preflight passed");
        return;
    }
    assert_eq!(r.code(), 2, "{}", r.all_output());
    assert!(
        r.stderr().contains("gha run: rr cannot record here"),
        "{}",
        r.all_output()
    );
    assert!(
        r.stderr().contains("rr said:"),
        "rr itself ran: {}",
        r.all_output()
    );
    assert!(
        !r.stdout().contains("Run echo first"),
        "no step ran: {}",
        r.stdout()
    );
    if no_cpu_pmu() {
        assert!(
            r.stderr().contains("no hardware performance counters"),
            "{}",
            r.all_output()
        );
        eprintln!("recording skipped: no hardware performance counters here");
    }
}

#[test]
fn rr_preflight_on_the_host_fails_with_exit_2_and_the_reason() {
    check_rr_preflight(&Gha::with_workflow(WORKFLOW), &[]);
}

#[test]
fn bundled_rr_preflight_in_a_container_without_rr() {
    if !docker_available("rr in docker") {
        return;
    }
    let gha = Gha::with_workflow(WORKFLOW);
    check_rr_preflight(
        &gha,
        &[
            "--backend",
            "docker",
            "-P",
            "ubuntu-latest=gha-runner/base:bookworm",
        ],
    );
}
