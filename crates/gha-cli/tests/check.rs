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
