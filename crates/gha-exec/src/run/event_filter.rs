//! Which workflows an event triggers: `on:` events with their `branches`, `tags`, `paths`
//! (and `-ignore` forms) and `types` filters, with GitHub's filter pattern syntax.
//!
//! Patterns: `*` matches any characters except `/`, `**` any characters, `?` makes the
//! preceding character optional, `+` repeats it one or more times, `[...]` is a character
//! class, and a leading `!` negates (patterns apply in order; the last match wins).

use std::path::Path;
use std::process::{Command, Stdio};

use gha_model::{Event, Workflow};

/// GitHub looks at no more than this many changed files: a workflow whose `paths` match only
/// files after the first 300 does not run.
pub const MAX_DIFF_FILES: usize = 300;

/// With more commits than this in a push, GitHub skips the diff and always runs the workflow.
pub const MAX_DIFF_COMMITS: u64 = 1000;

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

impl EventFacts {
    /// The facts of the event a run simulates: its name, the ref it builds (for pull
    /// requests, the base branch), the payload's `action`, and the files it changed as
    /// [`changed_files`] finds them in the repository.
    ///
    /// ```
    /// let mut options = gha_exec::run::RunOptions::new("/nonexistent");
    /// options.event_name = "pull_request".into();
    /// options.event = serde_json::json!({"action": "opened", "pull_request": {"base": {"ref": "main"}}});
    /// let facts = gha_exec::run::event_filter::EventFacts::for_run(&options);
    /// assert_eq!(facts.git_ref, "refs/heads/main");
    /// assert_eq!(facts.action.as_deref(), Some("opened"));
    /// assert_eq!(facts.changed_files, None);
    /// ```
    pub fn for_run(options: &super::RunOptions) -> EventFacts {
        let (git_ref, _, _, base_ref) = super::event_refs_of(options);
        let name = options.event_name.clone();
        EventFacts {
            git_ref: if name.starts_with("pull_request") && !base_ref.is_empty() {
                format!("refs/heads/{base_ref}")
            } else {
                git_ref
            },
            action: options
                .event
                .get("action")
                .and_then(|a| a.as_str())
                .map(str::to_string),
            changed_files: changed_files(&options.repo_dir, &name, &options.event),
            name,
        }
    }
}

/// The files an event changed, as GitHub computes them for `paths` / `paths-ignore`, from the
/// event payload and the local repository `repo`:
///
/// - `push`: a two-dot diff between the payload's `before` and `after` commits. For a new
///   branch (`before` is all zeros) the diff starts at the parent of the oldest pushed commit
///   (the first of `commits`, or `after` when the payload lists none; a root commit is
///   compared with the empty tree). When those
///   commits are not in the local repository, the payload's `commits[].added`, `modified`
///   and `removed` lists are used instead. More than [`MAX_DIFF_COMMITS`] commits: `None`
///   (GitHub then always runs the workflow).
/// - `pull_request` / `pull_request_target`: a three-dot diff (from the merge base) between
///   `pull_request.base.sha` and `pull_request.head.sha`, when both are local.
/// - Anything else, or no payload (`gha run` without `-e`): `None`, which means the path
///   filters are not applied: a local run without an event runs the workflow, as the user
///   asked for it; give `-e` with `before`/`after` (or `pull_request` shas) to test filters.
///
/// Renames count as a removal and an addition (both names are checked).
pub fn changed_files(
    repo: &Path,
    event_name: &str,
    event: &serde_json::Value,
) -> Option<Vec<String>> {
    let sha = |v: Option<&serde_json::Value>| -> Option<String> {
        v.and_then(|v| v.as_str())
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    match event_name {
        "push" => {
            let before = sha(event.get("before"));
            let after = sha(event.get("after"));
            if let (Some(before), Some(after)) = (&before, &after)
                && let Some(files) = push_diff(repo, before, after, event)
            {
                return files;
            }
            payload_commit_files(event)
        }
        "pull_request" | "pull_request_target" => {
            let pr = event.get("pull_request")?;
            let base = sha(pr.get("base").and_then(|b| b.get("sha")))?;
            let head = sha(pr.get("head").and_then(|h| h.get("sha")))?;
            if !commit_exists(repo, &base) || !commit_exists(repo, &head) {
                return None;
            }
            git_names(repo, &[&format!("{base}...{head}")])
        }
        _ => None,
    }
}

/// `Some(result)` when the local repository can answer.
fn push_diff(
    repo: &Path,
    before: &str,
    after: &str,
    event: &serde_json::Value,
) -> Option<Option<Vec<String>>> {
    if !commit_exists(repo, after) {
        return None;
    }
    let new_branch = before.bytes().all(|b| b == b'0');
    let from = if new_branch {
        // The parent of the oldest commit pushed, or the empty tree for a root commit.
        let oldest = event
            .get("commits")
            .and_then(|c| c.as_array())
            .and_then(|c| c.first())
            .and_then(|c| c.get("id"))
            .and_then(|id| id.as_str())
            .unwrap_or(after)
            .to_string();
        if !commit_exists(repo, &oldest) {
            return None;
        }
        let parent = format!("{oldest}^");
        if commit_exists(repo, &parent) {
            parent
        } else {
            empty_tree(repo)?
        }
    } else {
        if !commit_exists(repo, before) {
            return None;
        }
        let count = git_output(
            repo,
            &["rev-list", "--count", &format!("{before}..{after}")],
        )?;
        if count
            .trim()
            .parse::<u64>()
            .is_ok_and(|n| n > MAX_DIFF_COMMITS)
        {
            return Some(None);
        }
        before.to_string()
    };
    Some(git_names(repo, &[&from, after]))
}

fn payload_commit_files(event: &serde_json::Value) -> Option<Vec<String>> {
    let commits = event.get("commits")?.as_array()?;
    let mut files: Vec<String> = Vec::new();
    for c in commits {
        for k in ["added", "removed", "modified"] {
            for f in c.get(k).and_then(|v| v.as_array()).into_iter().flatten() {
                if let Some(f) = f.as_str()
                    && !files.iter().any(|x| x == f)
                {
                    files.push(f.to_string());
                }
            }
        }
    }
    Some(files)
}

fn git_output(repo: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .arg("-C")
        .arg(repo)
        .args(args)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

fn commit_exists(repo: &Path, rev: &str) -> bool {
    git_output(repo, &["cat-file", "-e", &format!("{rev}^{{commit}}")]).is_some()
}

fn empty_tree(repo: &Path) -> Option<String> {
    git_output(repo, &["hash-object", "-t", "tree", "/dev/null"]).map(|s| s.trim().to_string())
}

/// `git diff --name-only` between two revisions (or `A...B`), renames split in two.
fn git_names(repo: &Path, revs: &[&str]) -> Option<Vec<String>> {
    let mut args = vec!["diff", "--name-only", "-z", "--no-renames", "--no-ext-diff"];
    args.extend_from_slice(revs);
    args.push("--");
    let out = git_output(repo, &args)?;
    Some(
        out.split('\0')
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect(),
    )
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
    // GitHub's diff holds at most 300 files: matches after those do not count.
    let files = &files[..files.len().min(MAX_DIFF_FILES)];
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

    struct Repo(tempfile::TempDir);

    impl Repo {
        fn new() -> Repo {
            let r = Repo(tempfile::tempdir().unwrap());
            r.git(&["init", "-q", "-b", "main"]);
            r
        }
        fn git(&self, args: &[&str]) -> String {
            let out = Command::new("git")
                .arg("-C")
                .arg(self.0.path())
                .args(args)
                .env("GIT_AUTHOR_NAME", "t")
                .env("GIT_AUTHOR_EMAIL", "t@example.com")
                .env("GIT_COMMITTER_NAME", "t")
                .env("GIT_COMMITTER_EMAIL", "t@example.com")
                .output()
                .unwrap();
            assert!(out.status.success(), "git {args:?}");
            String::from_utf8_lossy(&out.stdout).trim().to_string()
        }
        /// Writes the files and commits them; the new commit's sha.
        fn commit(&self, files: &[&str]) -> String {
            for f in files {
                let p = self.0.path().join(f);
                std::fs::create_dir_all(p.parent().unwrap()).unwrap();
                let old = std::fs::read_to_string(&p).unwrap_or_default();
                std::fs::write(&p, old + "x\n").unwrap();
            }
            self.git(&["add", "-A"]);
            self.git(&["commit", "-qm", "c"]);
            self.git(&["rev-parse", "HEAD"])
        }
        fn changed(&self, event: &str, payload: serde_json::Value) -> Option<Vec<String>> {
            changed_files(self.0.path(), event, &payload)
        }
    }

    #[test]
    fn push_diff_between_before_and_after() {
        let r = Repo::new();
        let c1 = r.commit(&["src/a.rs", "README.md"]);
        let _c2 = r.commit(&["docs/guide.md"]);
        let c3 = r.commit(&["src/b.rs"]);
        // The payload's lists disagree on purpose: the local diff wins.
        let payload = serde_json::json!({
            "before": c1, "after": c3,
            "commits": [{"id": c3, "added": ["bogus.txt"], "modified": [], "removed": []}],
        });
        assert_eq!(
            r.changed("push", payload),
            Some(vec!["docs/guide.md".to_string(), "src/b.rs".to_string()])
        );
    }

    #[test]
    fn push_of_a_new_branch_diffs_from_the_parent_of_the_oldest_pushed_commit() {
        let r = Repo::new();
        let _base = r.commit(&["src/a.rs"]);
        let c2 = r.commit(&["docs/one.md"]);
        let c3 = r.commit(&["docs/two.md"]);
        let payload = serde_json::json!({
            "before": "0000000000000000000000000000000000000000", "after": c3,
            "commits": [{"id": c2}, {"id": c3}],
        });
        assert_eq!(
            r.changed("push", payload),
            Some(vec!["docs/one.md".to_string(), "docs/two.md".to_string()])
        );
        // A root commit is compared with the empty tree.
        let r = Repo::new();
        let root = r.commit(&["only.txt"]);
        let payload = serde_json::json!({
            "before": "0000000000000000000000000000000000000000", "after": root,
            "commits": [{"id": root}],
        });
        assert_eq!(
            r.changed("push", payload),
            Some(vec!["only.txt".to_string()])
        );
    }

    #[test]
    fn push_with_unknown_commits_uses_the_payload_lists() {
        let r = Repo::new();
        r.commit(&["a"]);
        let payload = serde_json::json!({
            "before": "1111111111111111111111111111111111111111",
            "after": "2222222222222222222222222222222222222222",
            "commits": [
                {"added": ["new.rs"], "modified": ["src/x.rs"], "removed": []},
                {"added": [], "modified": ["src/x.rs"], "removed": ["old.rs"]},
            ],
        });
        assert_eq!(
            r.changed("push", payload),
            Some(vec!["new.rs".into(), "src/x.rs".into(), "old.rs".into()])
        );
    }

    #[test]
    fn pull_request_uses_a_three_dot_diff() {
        let r = Repo::new();
        r.commit(&["src/a.rs"]);
        r.git(&["checkout", "-q", "-b", "topic"]);
        let head = r.commit(&["docs/a.md"]);
        r.git(&["checkout", "-q", "main"]);
        // The base moves on after the fork: a two-dot diff would include src/late.rs.
        let base = r.commit(&["src/late.rs"]);
        let payload = serde_json::json!({
            "action": "synchronize",
            "pull_request": {"base": {"ref": "main", "sha": base}, "head": {"ref": "topic", "sha": head}},
        });
        assert_eq!(
            r.changed("pull_request", payload.clone()),
            Some(vec!["docs/a.md".to_string()])
        );
        let wf = gha_model::Workflow::from_yaml(
            "on:\n  pull_request:\n    paths-ignore: ['docs/**']\njobs: {a: {runs-on: x, steps: [{run: y}]}}\n",
        )
        .unwrap();
        let facts = EventFacts {
            name: "pull_request".into(),
            git_ref: "refs/heads/main".into(),
            action: Some("synchronize".into()),
            changed_files: r.changed("pull_request", payload),
        };
        assert!(!triggers(&wf, &facts));
    }

    #[test]
    fn no_payload_means_no_path_filtering() {
        let r = Repo::new();
        r.commit(&["a"]);
        assert_eq!(r.changed("push", serde_json::json!({})), None);
        assert_eq!(r.changed("pull_request", serde_json::json!({})), None);
        assert_eq!(r.changed("workflow_dispatch", serde_json::json!({})), None);
    }

    #[test]
    fn only_the_first_300_changed_files_count() {
        let wf = gha_model::Workflow::from_yaml(
            "on:\n  push:\n    paths: ['z/**']\njobs: {a: {runs-on: x, steps: [{run: y}]}}\n",
        )
        .unwrap();
        let facts = |n: usize| {
            let mut files: Vec<String> = (0..n).map(|i| format!("a/{i:04}")).collect();
            files.push("z/match".into());
            EventFacts {
                name: "push".into(),
                git_ref: "refs/heads/main".into(),
                changed_files: Some(files),
                ..Default::default()
            }
        };
        assert!(triggers(&wf, &facts(299)));
        assert!(!triggers(&wf, &facts(300)));
    }
}
