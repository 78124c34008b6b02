//! `gha check`: output formats and exit codes.

use std::path::PathBuf;
use std::process::Command;

fn gha() -> Command {
    Command::new(env!("CARGO_BIN_EXE_gha"))
}

fn temp_file(name: &str, contents: &[u8]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("gha-check-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, contents).unwrap();
    path
}

const BAD: &str = "on: push\njobs:\n  a:\n    runs-on: x\n    stesp: []\n    steps:\n      - run: echo ${{ github.sha ) }}\n";

#[test]
fn valid_workflow_exits_zero() {
    let f = temp_file(
        "ok.yml",
        b"on: push\njobs:\n  a:\n    runs-on: x\n    steps: [{run: echo}]\n",
    );
    let out = gha().arg("check").arg(&f).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn errors_exit_one_with_source_excerpt() {
    let f = temp_file("bad.yml", BAD.as_bytes());
    let out = gha().arg("check").arg(&f).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("error[unknown-key]: unexpected key \"stesp\""),
        "{text}"
    );
    assert!(text.contains(":5:5\n"), "{text}");
    assert!(text.contains("5 |     stesp: []\n"), "{text}");
    assert!(text.contains("  |     ^^^^^\n"), "{text}");
    assert!(text.contains("help: did you mean \"steps\"?"), "{text}");
    assert!(text.contains("error[expression]"), "{text}");
    assert!(text.contains(":7:34\n"), "{text}");
}

#[test]
fn json_format_lists_every_diagnostic() {
    let f = temp_file("bad2.yml", BAD.as_bytes());
    let out = gha()
        .args(["check", "--format", "json"])
        .arg(&f)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let items = v.as_array().unwrap();
    assert_eq!(items.len(), 2, "{v:#}");
    let first = &items[0];
    assert_eq!(first["file"], f.display().to_string());
    assert_eq!(first["line"], 5);
    assert_eq!(first["column"], 5);
    assert_eq!(first["end_line"], 5);
    assert_eq!(first["end_column"], 10);
    assert_eq!(first["severity"], "error");
    assert_eq!(first["code"], "unknown-key");
    assert_eq!(items[1]["code"], "expression");
    assert_eq!(items[1]["line"], 7);
}

#[test]
fn unreadable_file_exits_two() {
    let out = gha()
        .args(["check", "/nonexistent/definitely/missing.yml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn action_files_are_recognised() {
    let f = temp_file(
        "action.yml",
        b"name: x\ndescription: y\nruns:\n  using: node20\n  main: index.js\n",
    );
    let out = gha().arg("check").arg(&f).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let f = temp_file(
        "action.yaml",
        b"name: x\nruns:\n  using: node99\n  main: index.js\n",
    );
    let out = gha()
        .args(["check", "--format", "json"])
        .arg(&f)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("node99"), "{text}");
}

#[test]
fn invalid_bytes_do_not_panic() {
    let f = temp_file("garbage.yml", &[0xff, 0xfe, b':', b'\n', 0x00, b'[', b'{']);
    let out = gha().arg("check").arg(&f).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let f = temp_file("empty.yml", b"");
    let out = gha().arg("check").arg(&f).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("workflow is empty"));
}

/// A repository with `.github/workflows/<name>` files, in its own temporary directory.
fn temp_repo(tag: &str, files: &[(&str, &str)]) -> PathBuf {
    let root = std::env::temp_dir().join(format!("gha-check-test-{}-{tag}", std::process::id()));
    let dir = root.join(".github/workflows");
    std::fs::create_dir_all(&dir).unwrap();
    for (name, text) in files {
        std::fs::write(dir.join(name), text).unwrap();
    }
    root
}

const DEPLOY: &str = "on:\n  workflow_call:\n    inputs:\n      env:\n        required: true\n        type: string\n      dry:\n        type: boolean\n    secrets:\n      token:\n        required: true\njobs:\n  deploy:\n    permissions:\n      contents: write\n    runs-on: x\n    steps: [{run: echo}]\n";

#[test]
fn local_reusable_workflow_calls_are_checked_across_files() {
    let caller = "on: push\npermissions:\n  contents: read\njobs:\n  ship:\n    uses: ./.github/workflows/deploy.yml\n    with:\n      dry: maybe\n      colour: red\n";
    let root = temp_repo("reusable", &[("ci.yml", caller), ("deploy.yml", DEPLOY)]);
    let ci = root.join(".github/workflows/ci.yml");
    let out = gha().arg("check").arg(&ci).output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(1), "{text}");
    let shown = ci.display().to_string();
    for (message, at) in [
        (
            "Input env is required, but not provided while calling.",
            "6:11",
        ),
        (
            "Secret token is required, but not provided while calling.",
            "6:11",
        ),
        ("Unexpected value 'maybe'", "8:12"),
        (
            "Invalid input, colour is not defined in the referenced workflow.",
            "9:15",
        ),
        (
            "Error calling workflow './.github/workflows/deploy.yml'. The nested job 'deploy' is requesting 'contents: write', but is only allowed 'contents: read'.",
            "5:3",
        ),
    ] {
        assert!(text.contains(message), "{message}: {text}");
        assert!(
            text.contains(&format!("  --> {shown}:{at}\n")),
            "{at}: {text}"
        );
    }
    assert!(text.contains("8 |       dry: maybe\n"), "{text}");

    // Fixed, the same files pass.
    let good = "on: push\npermissions:\n  contents: write\njobs:\n  ship:\n    uses: ./.github/workflows/deploy.yml\n    with:\n      env: prod\n      dry: true\n    secrets:\n      token: ${{ secrets.T }}\n";
    std::fs::write(&ci, good).unwrap();
    let out = gha().arg("check").arg(&ci).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    std::fs::remove_dir_all(&root).unwrap();
}

#[test]
fn errors_in_a_called_workflow_point_into_it_once() {
    // A nested call: deploy.yml calls inner.yml with an input inner.yml does not define.
    let caller = "on: push\njobs:\n  a:\n    uses: ./.github/workflows/deploy.yml\n  b:\n    uses: ./.github/workflows/deploy.yml\n  c:\n    uses: ./.github/workflows/gone.yml\n  remote:\n    uses: octo/repo/.github/workflows/x.yml@v1\n";
    let deploy = "on: workflow_call\njobs:\n  inner:\n    uses: ./.github/workflows/inner.yml\n    with:\n      nope: 1\n";
    let inner = "on: workflow_call\njobs:\n  x:\n    runs-on: x\n    steps: [{run: echo}]\n";
    let root = temp_repo(
        "nested",
        &[
            ("ci.yml", caller),
            ("deploy.yml", deploy),
            ("inner.yml", inner),
        ],
    );
    let ci = root.join(".github/workflows/ci.yml");
    let out = gha()
        .args(["check", "--format", "json"])
        .arg(&ci)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let items = v.as_array().unwrap();
    // Remote callees are not fetched; a missing local one is an error at its `uses:`.
    assert_eq!(items.len(), 2, "{v:#}");
    let gone = &items[1];
    assert_eq!(gone["file"], ci.display().to_string());
    assert_eq!(
        (gone["line"].as_u64(), gone["column"].as_u64()),
        (Some(8), Some(11))
    );
    assert_eq!(
        gone["message"],
        format!(
            "Unable to find reusable workflow './.github/workflows/gone.yml': {} does not exist",
            root.join(".github/workflows/gone.yml").display()
        )
    );
    let d = &items[0];
    assert_eq!(
        d["file"],
        root.join(".github/workflows/deploy.yml")
            .display()
            .to_string()
    );
    assert_eq!(
        (d["line"].as_u64(), d["column"].as_u64()),
        (Some(6), Some(13))
    );
    assert_eq!(
        d["message"],
        "Invalid input, nope is not defined in the referenced workflow."
    );
    assert_eq!(d["code"], "reusable-workflow");

    // Outside a `.github/workflows` directory the repository is unknown: calls are not followed.
    let elsewhere = root.join("ci.yml");
    std::fs::copy(&ci, &elsewhere).unwrap();
    let out = gha().arg("check").arg(&elsewhere).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    std::fs::remove_dir_all(&root).unwrap();
}
