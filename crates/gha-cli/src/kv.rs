//! `K=V` flags and dotenv-style files (`--secret-file`, `--var-file`, `--env-file`).

use std::path::Path;

/// Parses `K=V`. With `from_env`, a bare `K` takes its value from the environment (as act's
/// `-s NAME` does).
pub fn parse_pair(s: &str, from_env: bool, what: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_string(), v.to_string())),
        None if from_env && !s.trim().is_empty() => {
            let k = s.trim();
            std::env::var(k).map(|v| (k.to_string(), v)).map_err(|_| {
                format!("{what} '{k}': no value given and no environment variable of that name")
            })
        }
        _ => Err(format!("{what} '{s}': expected NAME=VALUE")),
    }
}

/// Parses `--matrix key:value`.
pub fn parse_matrix(s: &str) -> Result<(String, String), String> {
    match s.split_once(':') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_string(), v.trim().to_string())),
        _ => Err(format!("--matrix '{s}': expected KEY:VALUE")),
    }
}

/// Reads a dotenv file: `NAME=value` lines, `#` comments, optional `export `, values in single
/// or double quotes (double-quoted values may span lines and use `\n` escapes).
pub fn read_file(path: &Path) -> Result<Vec<(String, String)>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    parse_dotenv(&text).map_err(|(line, msg)| format!("{}:{line}: {msg}", path.display()))
}

/// Parses dotenv text; errors carry the 1-based line number.
pub fn parse_dotenv(text: &str) -> Result<Vec<(String, String)>, (usize, String)> {
    let mut out = Vec::new();
    let lines: Vec<&str> = text.lines().collect();
    let mut i = 0;
    while i < lines.len() {
        let lineno = i + 1;
        let line = lines[i].trim();
        i += 1;
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").unwrap_or(line);
        let Some((k, v)) = line.split_once('=') else {
            return Err((lineno, format!("expected NAME=VALUE, found '{line}'")));
        };
        let k = k.trim().to_string();
        if k.is_empty() {
            return Err((lineno, "empty name".into()));
        }
        let v = v.trim_start();
        let value = if let Some(rest) = v.strip_prefix('"') {
            let mut buf = rest.to_string();
            while !closes_double(&buf) {
                if i >= lines.len() {
                    return Err((lineno, "unterminated double-quoted value".into()));
                }
                buf.push('\n');
                buf.push_str(lines[i]);
                i += 1;
            }
            let end = buf.rfind('"').expect("closing quote");
            unescape_double(&buf[..end])
        } else if let Some(rest) = v.strip_prefix('\'') {
            match rest.rfind('\'') {
                Some(end) => rest[..end].to_string(),
                None => return Err((lineno, "unterminated single-quoted value".into())),
            }
        } else {
            v.split(" #").next().unwrap_or("").trim_end().to_string()
        };
        out.push((k, value));
    }
    Ok(out)
}

fn closes_double(s: &str) -> bool {
    let mut escaped = false;
    for c in s.chars() {
        match c {
            '\\' if !escaped => escaped = true,
            '"' if !escaped => return true,
            _ => escaped = false,
        }
    }
    false
}

fn unescape_double(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some('r') => out.push('\r'),
                Some(o) => out.push(o),
                None => out.push('\\'),
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dotenv_forms() {
        let text =
            "# c\nA=1\nexport B = two words # note\nC='x y'\nD=\"l1\\nl2\"\nE=\"multi\nline\"\n";
        let pairs = parse_dotenv(text).unwrap();
        assert_eq!(
            pairs,
            [
                ("A".to_string(), "1".to_string()),
                ("B".to_string(), "two words".to_string()),
                ("C".to_string(), "x y".to_string()),
                ("D".to_string(), "l1\nl2".to_string()),
                ("E".to_string(), "multi\nline".to_string()),
            ]
        );
    }

    #[test]
    fn dotenv_errors_have_line_numbers() {
        assert_eq!(parse_dotenv("A=1\nnope\n").unwrap_err().0, 2);
        assert_eq!(parse_dotenv("A=\"open\n").unwrap_err().0, 1);
    }

    #[test]
    fn pairs() {
        assert_eq!(
            parse_pair("a=b=c", false, "x").unwrap(),
            ("a".into(), "b=c".into())
        );
        assert!(parse_pair("a", false, "--var").is_err());
        assert_eq!(
            parse_matrix("os: ubuntu").unwrap(),
            ("os".into(), "ubuntu".into())
        );
    }
}
