//! File commands: what a step writes to the files named by `GITHUB_ENV`, `GITHUB_OUTPUT`,
//! `GITHUB_STATE` (`NAME=value` lines or the heredoc form) and `GITHUB_PATH` (one directory a
//! line), parsed with the official runner's rules and error texts.

/// Why a key-value file command could not be processed. `Display` gives the runner's text;
/// [`FileCommandError::report`] adds the line naming the file command.
///
/// ```
/// use gha_exec::commands::parse_key_value_file;
/// let err = parse_key_value_file("out<<EOF\nhello\n").unwrap_err();
/// assert_eq!(err.to_string(), "Invalid value. Matching delimiter not found 'EOF'");
/// assert_eq!(err.report("output"), [
///     "Unable to process file command 'output' successfully.",
///     "Invalid value. Matching delimiter not found 'EOF'",
/// ]);
/// ```
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FileCommandError {
    /// `=value` with no name.
    #[error("Invalid format '{0}'. Name must not be empty")]
    EmptyName(String),
    /// `NAME<<` or `<<EOF`.
    #[error("Invalid format '{0}'. Name must not be empty and delimiter must not be empty")]
    EmptyNameOrDelimiter(String),
    /// A heredoc whose delimiter line never comes.
    #[error("Invalid value. Matching delimiter not found '{0}'")]
    DelimiterNotFound(String),
    /// A line with neither `=` nor `<<`.
    #[error("Invalid format '{0}'")]
    InvalidFormat(String),
}

impl FileCommandError {
    /// The two error lines the runner prints for this error in file command `command`
    /// (`env`, `output`, `state`).
    pub fn report(&self, command: &str) -> [String; 2] {
        [
            format!("Unable to process file command '{command}' successfully."),
            self.to_string(),
        ]
    }
}

/// Parses a `GITHUB_ENV` / `GITHUB_OUTPUT` / `GITHUB_STATE` file into `(name, value)` pairs in
/// file order (later pairs for the same name win when applied).
///
/// A line is `NAME=value` when its first `=` comes before any `<<`, and `NAME<<DELIM` (a
/// heredoc whose value is every following line up to a line that is exactly `DELIM`) when `<<`
/// comes first. Empty lines are skipped. Line ends are `\n` (a `\r` before it belongs to the
/// value, as on the Linux runner).
///
/// ```
/// use gha_exec::commands::parse_key_value_file;
/// let pairs = parse_key_value_file("A=1\n\nB<<EOF\nline 1\nline 2\nEOF\nC=x=y\n").unwrap();
/// assert_eq!(pairs, [
///     ("A".to_string(), "1".to_string()),
///     ("B".to_string(), "line 1\nline 2".to_string()),
///     ("C".to_string(), "x=y".to_string()),
/// ]);
/// ```
pub fn parse_key_value_file(text: &str) -> Result<Vec<(String, String)>, FileCommandError> {
    let mut pairs = Vec::new();
    let mut lines = text.split_inclusive('\n');
    while let Some(raw) = lines.next() {
        let line = raw.strip_suffix('\n').unwrap_or(raw);
        if line.is_empty() {
            continue;
        }
        let equals = line.find('=');
        let heredoc = line.find("<<");
        match (equals, heredoc) {
            (Some(e), h) if h.is_none_or(|h| e < h) => {
                let (name, value) = (&line[..e], &line[e + 1..]);
                if name.is_empty() {
                    return Err(FileCommandError::EmptyName(line.to_string()));
                }
                pairs.push((name.to_string(), value.to_string()));
            }
            (_, Some(h)) => {
                let (name, delimiter) = (&line[..h], &line[h + 2..]);
                if name.is_empty() || delimiter.is_empty() {
                    return Err(FileCommandError::EmptyNameOrDelimiter(line.to_string()));
                }
                let mut value = String::new();
                let mut first = true;
                loop {
                    let Some(raw) = lines.next() else {
                        return Err(FileCommandError::DelimiterNotFound(delimiter.to_string()));
                    };
                    let l = raw.strip_suffix('\n').unwrap_or(raw);
                    if l == delimiter {
                        break;
                    }
                    if !first {
                        value.push('\n');
                    }
                    value.push_str(l);
                    first = false;
                }
                pairs.push((name.to_string(), value));
            }
            _ => return Err(FileCommandError::InvalidFormat(line.to_string())),
        }
    }
    Ok(pairs)
}

/// Parses a `GITHUB_PATH` file: one directory a line, empty lines skipped.
///
/// ```
/// use gha_exec::commands::parse_path_file;
/// assert_eq!(parse_path_file("/opt/a/bin\n\n/opt/b\n"), ["/opt/a/bin", "/opt/b"]);
/// ```
pub fn parse_path_file(text: &str) -> Vec<String> {
    text.lines()
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heredoc_keeps_empty_lines_and_equals_signs() {
        let pairs = parse_key_value_file("V<<END\n\na=b\n\nEND\n").unwrap();
        assert_eq!(pairs, [("V".to_string(), "\na=b\n".to_string())]);
    }

    #[test]
    fn empty_heredoc_and_missing_final_newline() {
        let pairs = parse_key_value_file("V<<END\nEND").unwrap();
        assert_eq!(pairs, [("V".to_string(), String::new())]);
    }

    #[test]
    fn delimiter_must_be_alone_on_its_line() {
        let err = parse_key_value_file("V<<EOF\ntextEOF\n").unwrap_err();
        assert_eq!(err, FileCommandError::DelimiterNotFound("EOF".into()));
        let err = parse_key_value_file("V<<EOF\ntext\nEOF \n").unwrap_err();
        assert_eq!(err, FileCommandError::DelimiterNotFound("EOF".into()));
    }

    #[test]
    fn format_errors_use_the_runner_texts() {
        assert_eq!(
            parse_key_value_file("=x\n").unwrap_err().to_string(),
            "Invalid format '=x'. Name must not be empty"
        );
        assert_eq!(
            parse_key_value_file("<<EOF\n").unwrap_err().to_string(),
            "Invalid format '<<EOF'. Name must not be empty and delimiter must not be empty"
        );
        assert_eq!(
            parse_key_value_file("justtext\n").unwrap_err().to_string(),
            "Invalid format 'justtext'"
        );
    }

    #[test]
    fn equals_before_heredoc_is_a_plain_pair() {
        let pairs = parse_key_value_file("A=b<<c\n").unwrap();
        assert_eq!(pairs, [("A".to_string(), "b<<c".to_string())]);
    }

    proptest::proptest! {
        #[test]
        fn heredoc_round_trips(value in "[a-z =<\n]{0,40}") {
            let text = format!("NAME<<ghadelimiter_1\n{value}\nghadelimiter_1\n");
            let pairs = parse_key_value_file(&text).unwrap();
            proptest::prop_assert_eq!(pairs, vec![("NAME".to_string(), value)]);
        }
    }
}
