//! Which workflows an event triggers: `on:` events with their `branches`, `tags`, `paths`
//! (and `-ignore` forms) and `types` filters, with GitHub's filter pattern syntax.
//!
//! Patterns: `*` matches any characters except `/`, `**` any characters, `?` makes the
//! preceding character optional, `+` repeats it one or more times, `[...]` is a character
//! class, and a leading `!` negates (patterns apply in order; the last match wins).

use gha_model::{Event, Workflow};

#[derive(Clone, Debug, PartialEq)]
enum Atom {
    Char(char),
    Class(Vec<(char, char)>),
    Star,
    DoubleStar,
}

#[derive(Clone, Debug, PartialEq)]
enum Quant {
    One,
    Optional,
    OneOrMore,
}

fn compile(pattern: &str) -> Vec<(Atom, Quant)> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut out: Vec<(Atom, Quant)> = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '*' if chars.get(i + 1) == Some(&'*') => {
                out.push((Atom::DoubleStar, Quant::One));
                i += 2;
                continue;
            }
            '*' => out.push((Atom::Star, Quant::One)),
            '?' | '+'
                if !out.is_empty()
                    && matches!(
                        out.last(),
                        Some((Atom::Char(_) | Atom::Class(_), Quant::One))
                    ) =>
            {
                out.last_mut().expect("checked").1 = if c == '?' {
                    Quant::Optional
                } else {
                    Quant::OneOrMore
                };
            }
            '[' => {
                if let Some(end) = chars[i + 1..].iter().position(|&x| x == ']') {
                    let body = &chars[i + 1..i + 1 + end];
                    let mut ranges = Vec::new();
                    let mut j = 0;
                    while j < body.len() {
                        if j + 2 < body.len() && body[j + 1] == '-' {
                            ranges.push((body[j], body[j + 2]));
                            j += 3;
                        } else {
                            ranges.push((body[j], body[j]));
                            j += 1;
                        }
                    }
                    out.push((Atom::Class(ranges), Quant::One));
                    i += end + 2;
                    continue;
                }
                out.push((Atom::Char('['), Quant::One));
            }
            '\\' if i + 1 < chars.len() => {
                out.push((Atom::Char(chars[i + 1]), Quant::One));
                i += 2;
                continue;
            }
            c => out.push((Atom::Char(c), Quant::One)),
        }
        i += 1;
    }
    out
}

fn atom_matches(atom: &Atom, c: char) -> bool {
    match atom {
        Atom::Char(x) => *x == c,
        Atom::Class(ranges) => ranges.iter().any(|(a, b)| *a <= c && c <= *b),
        Atom::Star => c != '/',
        Atom::DoubleStar => true,
    }
}

fn match_from(p: &[(Atom, Quant)], s: &[char]) -> bool {
    let Some(((atom, quant), rest)) = p.split_first() else {
        return s.is_empty();
    };
    match (atom, quant) {
        (Atom::Star | Atom::DoubleStar, _) => {
            let mut k = 0;
            loop {
                if match_from(rest, &s[k..]) {
                    return true;
                }
                if k < s.len() && atom_matches(atom, s[k]) {
                    k += 1;
                } else {
                    return false;
                }
            }
        }
        (_, Quant::One) => !s.is_empty() && atom_matches(atom, s[0]) && match_from(rest, &s[1..]),
        (_, Quant::Optional) => {
            (!s.is_empty() && atom_matches(atom, s[0]) && match_from(rest, &s[1..]))
                || match_from(rest, s)
        }
        (_, Quant::OneOrMore) => {
            let mut k = 0;
            while k < s.len() && atom_matches(atom, s[k]) {
                k += 1;
                if match_from(rest, &s[k..]) {
                    return true;
                }
            }
            false
        }
    }
}

/// Whether `text` matches one filter pattern (without `!`).
///
/// ```
/// use gha_exec::run::event_filter::pattern_matches;
/// assert!(pattern_matches("releases/**", "releases/v1/beta"));
/// assert!(!pattern_matches("releases/*", "releases/v1/beta"));
/// assert!(pattern_matches("v[12].[0-9]+.[0-9]+", "v1.10.3"));
/// assert!(pattern_matches("docs/*.md?", "docs/a.m"));
/// assert!(pattern_matches("**.js", "src/app.js"));
/// ```
pub fn pattern_matches(pattern: &str, text: &str) -> bool {
    let p = compile(pattern);
    let s: Vec<char> = text.chars().collect();
    match_from(&p, &s)
}

/// Applies an ordered pattern list with `!` negations: whether `text` ends up included.
///
/// ```
/// use gha_exec::run::event_filter::patterns_include;
/// let p = ["releases/**".to_string(), "!releases/**-alpha".to_string()];
/// assert!(patterns_include(&p, "releases/v1"));
/// assert!(!patterns_include(&p, "releases/v1-alpha"));
/// ```
pub fn patterns_include(patterns: &[String], text: &str) -> bool {
    let mut included = false;
    for p in patterns {
        match p.strip_prefix('!') {
            Some(neg) => {
                if pattern_matches(neg, text) {
                    included = false;
                }
            }
            None => {
                if pattern_matches(p, text) {
                    included = true;
                }
            }
        }
    }
    included
}

/// What the event being simulated looks like, for filtering.
#[derive(Clone, Debug, Default)]
pub struct EventFacts {
    /// The event name (`push`, `pull_request`, ...).
    pub name: String,
    /// The ref being built (`refs/heads/main`, `refs/tags/v1`); for pull requests, the base
    /// branch's ref.
    pub git_ref: String,
    /// The activity type (`payload.action`), if any.
    pub action: Option<String>,
    /// Changed files, when known (`None` = do not apply path filters).
    pub changed_files: Option<Vec<String>>,
}

fn values(list: &Option<Vec<gha_model::Spanned<String>>>) -> Option<Vec<String>> {
    list.as_ref()
        .map(|l| l.iter().map(|s| s.value.clone()).collect())
}

fn ref_filter_passes(event: &Event, facts: &EventFacts) -> bool {
    let (is_tag, name) = if let Some(t) = facts.git_ref.strip_prefix("refs/tags/") {
        (true, t)
    } else if let Some(b) = facts.git_ref.strip_prefix("refs/heads/") {
        (false, b)
    } else {
        (false, facts.git_ref.as_str())
    };
    let branches = values(&event.branches);
    let branches_ignore = values(&event.branches_ignore);
    let tags = values(&event.tags);
    let tags_ignore = values(&event.tags_ignore);
    let has_branch_filter = branches.is_some() || branches_ignore.is_some();
    let has_tag_filter = tags.is_some() || tags_ignore.is_some();
    if !has_branch_filter && !has_tag_filter {
        return true;
    }
    if is_tag {
        if !has_tag_filter {
            // Only branch filters: tag pushes do not trigger.
            return false;
        }
        match (tags, tags_ignore) {
            (Some(t), _) => patterns_include(&t, name),
            (None, Some(ti)) => !patterns_include(&ti, name),
            (None, None) => true,
        }
    } else {
        if !has_branch_filter {
            return false;
        }
        match (branches, branches_ignore) {
            (Some(b), _) => patterns_include(&b, name),
            (None, Some(bi)) => !patterns_include(&bi, name),
            (None, None) => true,
        }
    }
}

fn path_filter_passes(event: &Event, facts: &EventFacts) -> bool {
    let Some(files) = &facts.changed_files else {
        return true;
    };
    if let Some(paths) = values(&event.paths) {
        return files.iter().any(|f| patterns_include(&paths, f));
    }
    if let Some(ignore) = values(&event.paths_ignore) {
        return files.iter().any(|f| !patterns_include(&ignore, f));
    }
    true
}

/// Whether `workflow` runs for the event described by `facts`.
///
/// ```
/// use gha_exec::run::event_filter::{triggers, EventFacts};
/// let wf = gha_model::Workflow::from_yaml(
///     "on:\n  push:\n    branches: [main]\n  pull_request:\n    types: [opened]\njobs: {a: {runs-on: x, steps: [{run: y}]}}\n",
/// ).unwrap();
/// let push = |r: &str| EventFacts { name: "push".into(), git_ref: r.into(), ..Default::default() };
/// assert!(triggers(&wf, &push("refs/heads/main")));
/// assert!(!triggers(&wf, &push("refs/heads/dev")));
/// let pr = |a: &str| EventFacts { name: "pull_request".into(), action: Some(a.into()), ..Default::default() };
/// assert!(triggers(&wf, &pr("opened")));
/// assert!(!triggers(&wf, &pr("closed")));
/// assert!(!triggers(&wf, &EventFacts { name: "schedule".into(), ..Default::default() }));
/// ```
pub fn triggers(workflow: &Workflow, facts: &EventFacts) -> bool {
    let Some(event) = workflow.on.event(&facts.name) else {
        return false;
    };
    if !event.types.is_empty()
        && let Some(action) = &facts.action
        && !event.types.iter().any(|t| &t.value == action)
    {
        return false;
    }
    let ref_events = ["push", "pull_request", "pull_request_target"];
    if ref_events.contains(&facts.name.as_str()) && !ref_filter_passes(event, facts) {
        return false;
    }
    path_filter_passes(event, facts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn star_and_double_star() {
        assert!(pattern_matches("*", "main"));
        assert!(!pattern_matches("*", "feature/x"));
        assert!(pattern_matches("**", "feature/x"));
        assert!(pattern_matches("feature/**", "feature/a/b"));
        assert!(pattern_matches("*.md", "README.md"));
        assert!(!pattern_matches("*.md", "docs/a.md"));
        assert!(pattern_matches("**/*.md", "docs/a.md"));
    }

    #[test]
    fn plus_and_question() {
        assert!(pattern_matches("v2+", "v222"));
        assert!(!pattern_matches("v2+", "v"));
        assert!(pattern_matches("ab?c", "ac"));
        assert!(pattern_matches("ab?c", "abc"));
    }

    #[test]
    fn tags_only_filter_ignores_branch_pushes() {
        let wf = gha_model::Workflow::from_yaml(
            "on:\n  push:\n    tags: ['v*']\njobs: {a: {runs-on: x, steps: [{run: y}]}}\n",
        )
        .unwrap();
        let f = |r: &str| EventFacts {
            name: "push".into(),
            git_ref: r.into(),
            ..Default::default()
        };
        assert!(triggers(&wf, &f("refs/tags/v1")));
        assert!(!triggers(&wf, &f("refs/heads/main")));
    }

    #[test]
    fn paths_filters() {
        let wf = gha_model::Workflow::from_yaml(
            "on:\n  push:\n    paths: ['src/**', '!src/docs/**']\njobs: {a: {runs-on: x, steps: [{run: y}]}}\n",
        )
        .unwrap();
        let f = |files: &[&str]| EventFacts {
            name: "push".into(),
            git_ref: "refs/heads/main".into(),
            changed_files: Some(files.iter().map(|s| s.to_string()).collect()),
            ..Default::default()
        };
        assert!(triggers(&wf, &f(&["src/a.rs"])));
        assert!(!triggers(&wf, &f(&["src/docs/a.md"])));
        assert!(!triggers(&wf, &f(&["README.md"])));
    }
}
