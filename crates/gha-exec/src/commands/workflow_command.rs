//! Workflow commands: lines like `::warning file=app.js,line=1::Missing semicolon` that a step
//! prints to stdout or stderr.
//!
//! Parsing follows the official runner: leading whitespace is ignored, the line must start with
//! `::`, the command runs to the next `::`, properties are `key=value` pairs separated by `,`,
//! and only known command names are commands (anything else is an ordinary log line). Values are
//! unescaped as GitHub's toolkit escapes them: in the message `%25`, `%0D`, `%0A`; in property
//! values also `%3A` (`:`) and `%2C` (`,`).

use std::collections::BTreeMap;

/// The command names the runner recognises.
pub const KNOWN_COMMANDS: &[&str] = &[
    "add-mask",
    "add-matcher",
    "add-path",
    "debug",
    "echo",
    "endgroup",
    "error",
    "group",
    "notice",
    "remove-matcher",
    "save-state",
    "set-env",
    "set-output",
    "stop-commands",
    "warning",
];

/// One parsed workflow command.
///
/// ```
/// use gha_exec::commands::WorkflowCommand;
///
/// let cmd = WorkflowCommand::parse("::error file=a%2Cb.rs,line=3::it broke%0Abadly").unwrap();
/// assert_eq!(cmd.name, "error");
/// assert_eq!(cmd.properties["file"], "a,b.rs");
/// assert_eq!(cmd.properties["line"], "3");
/// assert_eq!(cmd.message, "it broke\nbadly");
///
/// assert!(WorkflowCommand::parse("::not-a-command::x").is_none());
/// assert!(WorkflowCommand::parse("plain output").is_none());
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorkflowCommand {
    /// The command name (`error`, `set-output`, ...).
    pub name: String,
    /// Properties (`file`, `line`, `name`, ...), unescaped.
    pub properties: BTreeMap<String, String>,
    /// The message after the second `::`, unescaped.
    pub message: String,
}

impl WorkflowCommand {
    /// Parses one output line; `None` when it is not a (known) workflow command. Command
    /// names are matched without regard to ASCII case, as the runner does (`::WARNING::x` is a
    /// warning); `name` is then the lower-case name.
    ///
    /// ```
    /// use gha_exec::commands::WorkflowCommand;
    /// assert_eq!(WorkflowCommand::parse("::Add-Mask::s").unwrap().name, "add-mask");
    /// ```
    pub fn parse(line: &str) -> Option<WorkflowCommand> {
        let (name, props, message) = split_command(line)?;
        let known = KNOWN_COMMANDS
            .iter()
            .find(|k| k.eq_ignore_ascii_case(name))?;
        Some(WorkflowCommand::from_parts(known, props, message))
    }

    /// Parses a line as a command with any name (used for the `::TOKEN::` that resumes after
    /// `stop-commands`).
    pub fn parse_any(line: &str) -> Option<WorkflowCommand> {
        let (name, props, message) = split_command(line)?;
        Some(WorkflowCommand::from_parts(name, props, message))
    }

    fn from_parts(name: &str, props: &str, message: &str) -> WorkflowCommand {
        let mut properties = BTreeMap::new();
        for prop in props.split(',').filter(|p| !p.is_empty()) {
            if let Some((k, v)) = prop.split_once('=')
                && !k.is_empty()
                && !v.is_empty()
            {
                properties.insert(k.to_string(), unescape_property(v));
            }
        }
        WorkflowCommand {
            name: name.to_string(),
            properties,
            message: unescape_data(message),
        }
    }
}

/// `(name, properties, message)` of a `::...::...` line.
fn split_command(line: &str) -> Option<(&str, &str, &str)> {
    let line = line.trim_start();
    let rest = line.strip_prefix("::")?;
    let end = rest.find("::")?;
    let info = &rest[..end];
    let message = &rest[end + 2..];
    let (name, props) = match info.split_once(' ') {
        Some((n, p)) => (n, p.trim()),
        None => (info, ""),
    };
    Some((name, props, message))
}

const DATA_ESCAPES: &[(&str, &str)] = &[("\r", "%0D"), ("\n", "%0A"), ("%", "%25")];
const PROPERTY_ESCAPES: &[(&str, &str)] = &[
    ("\r", "%0D"),
    ("\n", "%0A"),
    (":", "%3A"),
    (",", "%2C"),
    ("%", "%25"),
];

fn unescape(s: &str, table: &[(&str, &str)]) -> String {
    let mut out = s.to_string();
    for (plain, escaped) in table {
        if out.contains(escaped) {
            out = out.replace(escaped, plain);
        }
    }
    out
}

fn unescape_data(s: &str) -> String {
    unescape(s, DATA_ESCAPES)
}

fn unescape_property(s: &str) -> String {
    unescape(s, PROPERTY_ESCAPES)
}

/// Escapes a command message as `@actions/core` does (`%` first).
///
/// ```
/// assert_eq!(gha_exec::commands::escape_data("100%\ndone"), "100%25%0Adone");
/// ```
pub fn escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Escapes a command property value as `@actions/core` does.
///
/// ```
/// assert_eq!(gha_exec::commands::escape_property("a:b,c"), "a%3Ab%2Cc");
/// ```
pub fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leading_whitespace_and_spacing_in_properties() {
        let c = WorkflowCommand::parse("   ::warning  file=x.rs, line=2 ::msg").unwrap();
        assert_eq!(c.name, "warning");
        assert_eq!(c.properties.get("file").map(String::as_str), Some("x.rs"));
        assert_eq!(c.properties.get(" line").map(String::as_str), Some("2"));
        assert_eq!(c.message, "msg");
    }

    #[test]
    fn message_may_contain_double_colons() {
        let c = WorkflowCommand::parse("::notice::a::b").unwrap();
        assert_eq!(c.message, "a::b");
    }

    #[test]
    fn no_message_and_no_properties() {
        let c = WorkflowCommand::parse("::endgroup::").unwrap();
        assert_eq!((c.name.as_str(), c.message.as_str()), ("endgroup", ""));
        assert!(c.properties.is_empty());
    }

    #[test]
    fn escaped_percent_is_not_double_unescaped() {
        let c = WorkflowCommand::parse("::debug::%250A").unwrap();
        assert_eq!(c.message, "%0A");
    }

    #[test]
    fn missing_second_separator_is_not_a_command() {
        assert!(WorkflowCommand::parse("::error file=x").is_none());
    }

    proptest::proptest! {
        #[test]
        fn escape_then_parse_round_trips(msg in "\\PC*", file in "[a-z:,%\r\n]{1,10}") {
            let line = format!("::error file={}::{}", escape_property(&file), escape_data(&msg));
            let c = WorkflowCommand::parse(&line).unwrap();
            proptest::prop_assert_eq!(&c.message, &msg);
            proptest::prop_assert_eq!(c.properties.get("file"), Some(&file));
        }
    }
}
