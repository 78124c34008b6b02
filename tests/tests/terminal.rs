//! The terminal renderer through the `gha` binary: on a pseudo-terminal (util-linux `script`)
//! lines carry their job's display name in colour, a live progress display shows the running
//! jobs and steps, step summaries and the JOB / CONCLUSION / DURATION table come at the end;
//! piped, the same run prints no escape sequences and no progress display.
//!
//! Host only: the renderer is the same code whatever backend runs the jobs (the piped checks
//! also run on every backend in `commands_cli.rs`).

use std::process::{Command, Stdio};

use gha_tests::{Gha, gha_binary};

/// `text` without ANSI escape sequences (CSI `ESC [ ... final` and two-byte `ESC x`).
fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '\x1b' {
            out.push(c);
            continue;
        }
        if chars.next() == Some('[') {
            for f in chars.by_ref() {
                if ('@'..='~').contains(&f) {
                    break;
                }
            }
        }
    }
    out
}

fn is_spinner(c: char) -> bool {
    ('\u{2800}'..='\u{28ff}').contains(&c)
}

/// The non-empty pieces of output between carriage returns and newlines, escapes removed,
/// each cut where the progress display (a spinner frame) starts, trailing padding trimmed;
/// and the progress display's rows (each from its spinner frame on).
fn pieces(raw: &str) -> (Vec<String>, Vec<String>) {
    let plain = strip_ansi(raw);
    let mut lines = Vec::new();
    let mut progress = Vec::new();
    for seg in plain.split(['\r', '\n']) {
        let mut rest = seg;
        if let Some(i) = rest.find(is_spinner) {
            // Several progress rows may follow each other without a newline: split at each
            // spinner frame.
            let bars = &rest[i..];
            let mut starts: Vec<usize> = bars.match_indices(is_spinner).map(|(j, _)| j).collect();
            starts.push(bars.len());
            for w in starts.windows(2) {
                progress.push(bars[w[0]..w[1]].trim_end().to_string());
            }
            rest = &rest[..i];
        }
        if !rest.trim_end().is_empty() {
            lines.push(rest.trim_end().to_string());
        }
    }
    (lines, progress)
}

/// Runs `gha run` in `gha`'s repository under a pseudo-terminal 120 columns wide; returns
/// the exit code and everything written to the terminal.
fn run_on_a_terminal(gha: &Gha) -> (i32, String) {
    let cmd = format!(
        "stty cols 120 rows 40 2>/dev/null; exec '{}' run",
        gha_binary().display()
    );
    let out = Command::new("script")
        .args(["-qfec", &cmd, "/dev/null"])
        .current_dir(gha.repo.path())
        .env_remove("GITHUB_ACTIONS")
        .env_remove("ACTIONS_STEP_DEBUG")
        .env_remove("NO_COLOR")
        .env("TERM", "xterm-256color")
        .env("TMPDIR", gha.out.path())
        .stdin(Stdio::null())
        .output()
        .expect("running script(1) from util-linux");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

/// The summary table rows after the `JOB  CONCLUSION  DURATION` header: (name, conclusion,
/// duration) for each of `names`.
fn table(lines: &[String], names: &[&str]) -> Vec<(String, String, String)> {
    let header = lines
        .iter()
        .rposition(|l| {
            l.split_whitespace().collect::<Vec<_>>() == ["JOB", "CONCLUSION", "DURATION"]
        })
        .unwrap_or_else(|| panic!("no summary table header in {lines:#?}"));
    let mut rows = Vec::new();
    for l in &lines[header + 1..] {
        if let Some(name) = names.iter().find(|n| l.starts_with(&format!("{n} "))) {
            let rest: Vec<&str> = l[name.len()..].split_whitespace().collect();
            assert_eq!(rest.len(), 2, "table row {l:?}");
            rows.push((name.to_string(), rest[0].to_string(), rest[1].to_string()));
        }
    }
    rows
}

fn is_duration(d: &str) -> bool {
    d.strip_suffix('s')
        .is_some_and(|n| n.parse::<f64>().is_ok() || n.split_once('m').is_some())
}

#[test]
fn terminal_and_piped_output() {
    let gha = Gha::with_fixture("terminal.yml");

    let (code, raw) = run_on_a_terminal(&gha);
    assert_eq!(code, 1, "{raw}");
    let (lines, progress) = pieces(&raw);
    let shown = format!("{lines:#?}\n--- raw\n{raw:?}");

    // Colours: each job's prefix is painted, conclusions in the table too.
    assert!(raw.contains("\x1b[0m"), "{shown}");
    for name in ["Build it", "other"] {
        let painted = format!("m[{name}]\x1b[0m");
        let starts = raw.match_indices(&painted).count();
        assert!(starts > 3, "`{name}` prefix not painted: {shown}");
    }
    assert!(raw.contains("\x1b[31mfailure"), "{shown}");
    assert!(raw.contains("\x1b[32msuccess"), "{shown}");

    // Every line before the summaries belongs to a job and starts with its display name;
    // a step's output lines carry the right one.
    let end = lines
        .iter()
        .position(|l| l.starts_with("Summary of "))
        .unwrap_or_else(|| panic!("no step summary: {shown}"));
    for l in lines[..end].iter().filter(|l| !l.is_empty()) {
        assert!(
            l.starts_with("[Build it] ") || l.starts_with("[other] "),
            "unprefixed line {l:?}: {shown}"
        );
    }
    for (job, text) in [
        ("Build it", "| hello from build"),
        ("Build it", "| build done"),
        ("other", "| other says hi"),
        ("other", "! other on stderr"),
    ] {
        let want = format!("[{job}]   {text}");
        assert!(lines.contains(&want), "no line {want:?}: {shown}");
    }

    // The live progress display: a spinner row per running job, naming its current step,
    // redrawn (the spinner moves) while the slow step runs.
    let slow: Vec<&String> = progress
        .iter()
        .filter(|p| p.contains(" Build it slow step"))
        .collect();
    assert!(
        !slow.is_empty(),
        "no progress row for the running step: {progress:#?}"
    );
    let frames: std::collections::BTreeSet<char> =
        slow.iter().filter_map(|p| p.chars().next()).collect();
    assert!(frames.len() >= 2, "the spinner did not move: {progress:#?}");
    assert!(
        progress.iter().any(|p| p.contains(" other")),
        "{progress:#?}"
    );

    // At the end: the step summary (after every job finished), then the table.
    let last_job_line = lines
        .iter()
        .rposition(|l| l.contains("Job succeeded") || l.contains("Job failed"))
        .unwrap();
    assert!(last_job_line < end, "{shown}");
    assert_eq!(lines[end], "Summary of Build it / summary", "{shown}");
    assert_eq!(lines[end + 1], "## Build summary heading", "{shown}");
    let rows = table(&lines[end..], &["Build it", "other"]);
    assert_eq!(rows.len(), 2, "{shown}");
    for (name, conclusion, duration) in &rows {
        let want = if name == "other" {
            "failure"
        } else {
            "success"
        };
        assert_eq!(conclusion, want, "{shown}");
        assert!(is_duration(duration), "{duration:?}: {shown}");
    }
    assert!(
        lines.iter().any(|l| l.starts_with("Run failure in ")),
        "{shown}"
    );

    // Piped: the same lines, no escapes, no progress display.
    let r = gha.run(&[]);
    let out = r.stdout();
    assert_eq!(r.code(), 1, "{}", r.all_output());
    assert!(!out.contains('\x1b'), "{out}");
    assert!(!out.chars().any(is_spinner), "{out}");
    let lines: Vec<String> = out.lines().map(str::to_string).collect();
    let end = lines
        .iter()
        .position(|l| l.starts_with("Summary of "))
        .unwrap();
    assert!(
        lines[..end]
            .iter()
            .filter(|l| !l.is_empty())
            .all(|l| l.starts_with("[Build it] ") || l.starts_with("[other] ")),
        "{out}"
    );
    assert!(
        lines.contains(&"[Build it]   | hello from build".to_string()),
        "{out}"
    );
    assert_eq!(lines[end + 1], "## Build summary heading", "{out}");
    let rows = table(&lines[end..], &["Build it", "other"]);
    assert_eq!(rows.len(), 2, "{out}");
}
