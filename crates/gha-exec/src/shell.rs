//! `shell:` of a `run` step: which program runs the script file, with which arguments, and how
//! the script is fixed up — GitHub's built-in shells and custom `command {0}` templates.
//!
//! | `shell:` | invocation | script file |
//! |---|---|---|
//! | (none) | `bash -e {0}`, or `sh -e {0}` when bash is missing | `.sh` |
//! | `bash` | `bash --noprofile --norc -eo pipefail {0}` | `.sh` |
//! | `sh` | `sh -e {0}` | `.sh` |
//! | `python` | `python {0}` | `.py` |
//! | `pwsh` | `pwsh -command ". '{0}'"` | `.ps1`, with `$ErrorActionPreference = 'stop'` first and the exit-code check last |
//! | `cmd` | `cmd /D /E:ON /V:OFF /S /C "CALL "{0}""` | `.cmd` |
//! | `perl {0}` (any other) | the template with `{0}` replaced | no extension |

/// A resolved shell for one step.
///
/// ```
/// use gha_exec::shell::Shell;
///
/// let which = |p: &str| (p == "bash").then(|| "/usr/bin/bash".to_string());
/// let bash = Shell::resolve(Some("bash"), which).unwrap();
/// assert_eq!(bash.argv("/tmp/s.sh"), ["/usr/bin/bash", "--noprofile", "--norc", "-eo", "pipefail", "/tmp/s.sh"]);
/// assert_eq!(bash.display(), "/usr/bin/bash --noprofile --norc -eo pipefail {0}");
///
/// let default = Shell::resolve(None, which).unwrap();
/// assert_eq!(default.argv("/tmp/s.sh"), ["/usr/bin/bash", "-e", "/tmp/s.sh"]);
///
/// let custom = Shell::resolve(Some("perl -w {0}"), |_| None).unwrap();
/// assert_eq!(custom.argv("/tmp/s"), ["perl", "-w", "/tmp/s"]);
///
/// assert!(Shell::resolve(Some("perl"), |_| None).is_err());
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Shell {
    /// The shell's name as written (`bash`, `sh`, `python`, or a custom program).
    pub command: String,
    /// The program to run: a full path when it was found, else the name.
    pub program: String,
    /// The argument template containing `{0}`.
    pub arg_format: String,
    /// The script file's extension (with the dot), possibly empty.
    pub extension: &'static str,
}

fn builtin_args(command: &str) -> Option<&'static str> {
    Some(match command {
        "bash" => "--noprofile --norc -eo pipefail {0}",
        "sh" => "-e {0}",
        "python" => "{0}",
        "pwsh" | "powershell" => "-command \". '{0}'\"",
        "cmd" => "/D /E:ON /V:OFF /S /C \"CALL \"{0}\"\"",
        _ => return None,
    })
}

fn extension(command: &str) -> &'static str {
    match command {
        "bash" | "sh" => ".sh",
        "python" => ".py",
        "pwsh" | "powershell" => ".ps1",
        "cmd" => ".cmd",
        _ => "",
    }
}

/// The error for a custom shell without `{0}`, as the runner words it.
pub const INVALID_SHELL: &str = "Invalid shell option. Shell must be a valid built-in (bash, sh, cmd, powershell, pwsh) or a format string containing '{0}'";

impl Shell {
    /// Resolves `shell:` (already evaluated; `None` or empty for the default). `which` finds a
    /// program on the job's `PATH` (return `None` when it cannot be checked, e.g. in a
    /// container: the bare name is then used, and the default shell is `sh`).
    pub fn resolve(
        shell: Option<&str>,
        which: impl Fn(&str) -> Option<String>,
    ) -> Result<Shell, String> {
        let shell = shell.map(str::trim).filter(|s| !s.is_empty());
        let Some(shell) = shell else {
            let program = which("bash")
                .or_else(|| which("sh"))
                .unwrap_or_else(|| "sh".into());
            return Ok(Shell {
                command: "sh".into(),
                program,
                arg_format: "-e {0}".into(),
                extension: ".sh",
            });
        };
        let (command, args) = match shell.split_once(' ') {
            Some((c, a)) => (c, a.trim_start()),
            None => (shell, ""),
        };
        let arg_format = if args.is_empty() {
            builtin_args(command).unwrap_or("").to_string()
        } else {
            args.to_string()
        };
        if !arg_format.contains("{0}") {
            return Err(INVALID_SHELL.to_string());
        }
        Ok(Shell {
            command: command.to_string(),
            program: which(command).unwrap_or_else(|| command.to_string()),
            arg_format,
            extension: extension(command),
        })
    }

    /// The command line for `script_path`: the program, then the template's words with `{0}`
    /// replaced (double quotes group words, as the runner's process launcher splits them).
    pub fn argv(&self, script_path: &str) -> Vec<String> {
        let escaped = script_path.replace('"', "\\\"");
        let args = self.arg_format.replace("{0}", &escaped);
        let mut argv = vec![self.program.clone()];
        argv.extend(split_arguments(&args));
        argv
    }

    /// `program arg_format`, as the step log's `shell:` line shows it.
    pub fn display(&self) -> String {
        format!("{} {}", self.program, self.arg_format)
    }

    /// The script as written to the file (PowerShell gets GitHub's prologue and epilogue, cmd
    /// gets `@echo off`).
    pub fn fix_up_script(&self, contents: &str) -> String {
        match self.command.as_str() {
            "pwsh" | "powershell" => format!(
                "$ErrorActionPreference = 'stop'\n{contents}\nif ((Test-Path -LiteralPath variable:\\LASTEXITCODE)) {{ exit $LASTEXITCODE }}"
            ),
            "cmd" => format!("@echo off\n{contents}"),
            _ => contents.to_string(),
        }
    }
}

/// Splits an argument string like .NET's process launcher on Unix: whitespace separates,
/// double quotes group (and are removed), `\"` is a literal quote.
fn split_arguments(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut quoted = false;
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
                in_word = true;
            }
            '"' => {
                quoted = !quoted;
                in_word = true;
            }
            c if c.is_whitespace() && !quoted => {
                if in_word {
                    out.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            c => {
                cur.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        out.push(cur);
    }
    out
}

/// Finds `program` on `path` (a `:`-separated list), as `which` does.
///
/// ```
/// let sh = gha_exec::shell::which_on_path("sh", &std::env::var("PATH").unwrap()).unwrap();
/// assert!(sh.ends_with("/sh"));
/// ```
pub fn which_on_path(program: &str, path: &str) -> Option<String> {
    use std::os::unix::fs::PermissionsExt;
    if program.contains('/') {
        return Some(program.to_string());
    }
    path.split(':').filter(|d| !d.is_empty()).find_map(|dir| {
        let candidate = std::path::Path::new(dir).join(program);
        let meta = std::fs::metadata(&candidate).ok()?;
        (meta.is_file() && meta.permissions().mode() & 0o111 != 0)
            .then(|| candidate.to_string_lossy().into_owned())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtins() {
        let none = |_: &str| None;
        let sh = Shell::resolve(Some("sh"), none).unwrap();
        assert_eq!(sh.argv("/t/a.sh"), ["sh", "-e", "/t/a.sh"]);
        let py = Shell::resolve(Some("python"), none).unwrap();
        assert_eq!(py.argv("/t/a.py"), ["python", "/t/a.py"]);
        assert_eq!(py.extension, ".py");
        let pwsh = Shell::resolve(Some("pwsh"), none).unwrap();
        assert_eq!(pwsh.argv("/t/a.ps1"), ["pwsh", "-command", ". '/t/a.ps1'"]);
        assert!(
            pwsh.fix_up_script("x")
                .starts_with("$ErrorActionPreference = 'stop'\nx\n")
        );
    }

    #[test]
    fn default_is_sh_without_bash() {
        let only_sh = |p: &str| (p == "sh").then(|| "/bin/sh".to_string());
        let d = Shell::resolve(Some("  "), only_sh).unwrap();
        assert_eq!(d.argv("/s"), ["/bin/sh", "-e", "/s"]);
        assert_eq!(d.display(), "/bin/sh -e {0}");
    }

    #[test]
    fn custom_bash_arguments_replace_the_builtin_ones() {
        let b = Shell::resolve(Some("bash -x {0}"), |_| None).unwrap();
        assert_eq!(b.argv("/s.sh"), ["bash", "-x", "/s.sh"]);
        assert_eq!(b.extension, ".sh");
    }

    #[test]
    fn unknown_shell_without_placeholder_is_rejected() {
        assert_eq!(
            Shell::resolve(Some("fish"), |_| None).unwrap_err(),
            INVALID_SHELL
        );
    }

    #[test]
    fn quoted_arguments() {
        assert_eq!(split_arguments(r#"-c "a b" \"q"#), ["-c", "a b", "\"q"]);
    }
}
