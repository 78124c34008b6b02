//! The simple-command shortcut: a `run` body that is one simple command is traced by running
//! that program directly, so the trace starts at the `execve` of the program instead of the
//! shell's. Anything else (several lines, quoting, variables, redirections, builtins) keeps
//! going through the shell, so its meaning never changes.

/// Characters that may appear in a word of a simple command (no quoting, expansion, globbing,
/// redirection, comments or control operators).
fn is_plain(c: char) -> bool {
    c.is_ascii_alphanumeric()
        || matches!(c, '-' | '_' | '.' | '/' | '=' | ',' | ':' | '+' | '@' | '%')
}

/// Shell keywords and builtins that have no program of their own (or mean something else as
/// one): a body starting with these must run in the shell.
const SHELL_ONLY: &[&str] = &[
    "!",
    "[[",
    "{",
    "}",
    "alias",
    "bg",
    "bind",
    "break",
    "builtin",
    "caller",
    "case",
    "cd",
    "command",
    "compgen",
    "complete",
    "compopt",
    "continue",
    "coproc",
    "declare",
    "dirs",
    "disown",
    "do",
    "done",
    "elif",
    "else",
    "enable",
    "esac",
    "eval",
    "exec",
    "exit",
    "export",
    "fc",
    "fg",
    "fi",
    "for",
    "function",
    "getopts",
    "hash",
    "help",
    "history",
    "if",
    "jobs",
    "let",
    "local",
    "logout",
    "mapfile",
    "popd",
    "pushd",
    "read",
    "readarray",
    "readonly",
    "return",
    "select",
    "set",
    "shift",
    "shopt",
    "source",
    "suspend",
    "then",
    "time",
    "times",
    "trap",
    "type",
    "typeset",
    "ulimit",
    "umask",
    "unalias",
    "unset",
    "until",
    "wait",
    "while",
];

/// The argv of `body` when it is a single simple command, `None` when it must run in a shell.
/// Only for the default shell, `bash` and `sh`, whose meaning of such a line is "run it".
///
/// ```
/// use gha_rr::simple_command_argv;
/// assert_eq!(simple_command_argv("cargo test --release\n", None), Some(vec!["cargo".into(), "test".into(), "--release".into()]));
/// assert_eq!(simple_command_argv("cargo build\ncargo test", None), None); // two commands
/// assert_eq!(simple_command_argv("echo $HOME", None), None);              // expansion
/// assert_eq!(simple_command_argv("make > log", Some("bash")), None);     // redirection
/// assert_eq!(simple_command_argv("cd src", None), None);                  // builtin
/// assert_eq!(simple_command_argv("print(1)", Some("python")), None);      // other shell
/// ```
pub fn simple_command_argv(body: &str, shell: Option<&str>) -> Option<Vec<String>> {
    match shell.map(str::trim) {
        None | Some("") | Some("bash") | Some("sh") => {}
        Some(_) => return None,
    }
    let line = body.trim_matches(|c: char| c == '\n' || c == '\r' || c == ' ' || c == '\t');
    if line.is_empty() || line.contains(['\n', '\r']) {
        return None;
    }
    if !line.chars().all(|c| is_plain(c) || c == ' ' || c == '\t') {
        return None;
    }
    let words: Vec<String> = line.split_whitespace().map(str::to_string).collect();
    let first = words.first()?;
    // `NAME=value cmd` is an assignment prefix; `~`-less, so the rest is plain words.
    if first.contains('=') || SHELL_ONLY.contains(&first.as_str()) {
        return None;
    }
    Some(words)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn plain_commands_are_split_into_words() {
        assert_eq!(
            simple_command_argv("  ./build.sh  --jobs=2 a,b\n\n", Some("sh")).unwrap(),
            ["./build.sh", "--jobs=2", "a,b"]
        );
        assert_eq!(
            simple_command_argv("/bin/true", None).unwrap(),
            ["/bin/true"]
        );
    }

    #[test]
    fn shell_syntax_keeps_the_shell() {
        for body in [
            "a && b", "a | b", "a; b", "a 'b c'", "a \"b\"", "a *", "a # c", "a `b`", "A=1 b",
            "exit 3", "a\\\nb", "a ~", "(a)", "a <in", "if", "",
        ] {
            assert_eq!(simple_command_argv(body, None), None, "{body:?}");
        }
    }

    proptest! {
        /// Whatever the body, a shortcut is only taken for one line of plain words, and the
        /// words joined by spaces are the line's words.
        #[test]
        fn shortcut_words_are_the_line(body in "[ -~\\n]{0,40}") {
            if let Some(words) = simple_command_argv(&body, None) {
                prop_assert!(!body.trim().contains('\n'));
                prop_assert_eq!(words.join(" "), body.split_whitespace().collect::<Vec<_>>().join(" "));
                prop_assert!(words.iter().all(|w| w.chars().all(is_plain)));
            }
        }
    }
}
