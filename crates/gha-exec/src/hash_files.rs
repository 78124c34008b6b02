//! `hashFiles(...)` with GitHub's algorithm.
//!
//! Patterns use `@actions/glob` syntax relative to the workspace: `*` and `?` stay within one
//! path segment, `**` crosses segments, `[...]` classes, dot files match, a pattern that names a
//! directory also matches everything below it, and a leading `!` excludes (patterns apply in
//! order, so a later pattern can re-include). Matched regular files are visited in the order
//! the runner's globber visits them (depth first, names in byte order); the result is the hex
//! SHA-256 over the concatenated SHA-256 digests of their contents, or the empty string when no
//! file matches. Files outside the workspace never count.

use std::io::Read;
use std::path::Path;

use globset::{GlobBuilder, GlobMatcher};
use sha2::{Digest, Sha256};

struct Pattern {
    negate: bool,
    exact: GlobMatcher,
    descendants: GlobMatcher,
}

fn compile(pattern: &str, workspace: &Path) -> Result<Option<Pattern>, String> {
    let mut p = pattern.trim();
    if p.is_empty() || p.starts_with('#') {
        return Ok(None);
    }
    let mut negate = false;
    while let Some(rest) = p.strip_prefix('!') {
        negate = !negate;
        p = rest;
    }
    let ws = workspace.to_string_lossy();
    let mut rel = p.to_string();
    if Path::new(p).is_absolute() {
        match p.strip_prefix(ws.as_ref()) {
            Some(r) if r.is_empty() || r.starts_with('/') => {
                rel = r.trim_start_matches('/').to_string()
            }
            // Outside the workspace: can never match a workspace file.
            _ => return Ok(None),
        }
    }
    while let Some(r) = rel.strip_prefix("./") {
        rel = r.to_string();
    }
    if rel.starts_with("../") || rel == ".." {
        return Ok(None);
    }
    let rel = rel.trim_end_matches('/');
    let build = |glob: &str| {
        GlobBuilder::new(glob)
            .literal_separator(true)
            .backslash_escape(true)
            .build()
            .map(|g| g.compile_matcher())
            .map_err(|e| format!("Invalid pattern '{pattern}': {e}"))
    };
    let (exact, descendants) = if rel.is_empty() {
        (build("**")?, build("**")?)
    } else {
        (build(rel)?, build(&format!("{rel}/**"))?)
    };
    Ok(Some(Pattern {
        negate,
        exact,
        descendants,
    }))
}

/// Computes `hashFiles(patterns...)` over the files under `workspace`.
///
/// ```
/// let ws = tempfile::tempdir().unwrap();
/// std::fs::write(ws.path().join("Cargo.lock"), "lock").unwrap();
/// std::fs::create_dir(ws.path().join("sub")).unwrap();
/// std::fs::write(ws.path().join("sub/Cargo.lock"), "lock2").unwrap();
///
/// let all = gha_exec::hash_files::hash_files(ws.path(), &["**/Cargo.lock".into()]).unwrap();
/// assert_eq!(all.len(), 64);
/// let none = gha_exec::hash_files::hash_files(ws.path(), &["*.nothing".into()]).unwrap();
/// assert_eq!(none, "");
/// let top = gha_exec::hash_files::hash_files(ws.path(), &["**/Cargo.lock".into(), "!sub".into()]).unwrap();
/// assert_ne!(top, all);
/// ```
pub fn hash_files(workspace: &Path, patterns: &[String]) -> Result<String, String> {
    let mut compiled = Vec::new();
    for p in patterns {
        // hashFiles('a\nb') is two patterns, as the runner joins and splits them by line.
        for line in p.split('\n') {
            if let Some(c) = compile(line, workspace)? {
                compiled.push(c);
            }
        }
    }
    if compiled.iter().all(|p| p.negate) {
        return Ok(String::new());
    }
    let mut total = Sha256::new();
    let mut matched = 0usize;
    let walker = walkdir::WalkDir::new(workspace)
        .follow_links(true)
        .sort_by(|a, b| {
            a.file_name()
                .as_encoded_bytes()
                .cmp(b.file_name().as_encoded_bytes())
        });
    for entry in walker.into_iter().filter_map(Result::ok) {
        if !entry.file_type().is_file() {
            continue;
        }
        let Ok(rel) = entry.path().strip_prefix(workspace) else {
            continue;
        };
        let rel = rel.to_string_lossy();
        let mut hit = false;
        for p in &compiled {
            let m = p.exact.is_match(rel.as_ref()) || p.descendants.is_match(rel.as_ref());
            if p.negate {
                hit &= !m;
            } else {
                hit |= m;
            }
        }
        if !hit {
            continue;
        }
        let digest = file_sha256(entry.path())
            .map_err(|e| format!("hashFiles: cannot read '{}': {e}", entry.path().display()))?;
        total.update(digest);
        matched += 1;
    }
    if matched == 0 {
        Ok(String::new())
    } else {
        Ok(hex::encode(total.finalize()))
    }
}

fn file_sha256(path: &Path) -> std::io::Result<[u8; 32]> {
    let mut f = std::fs::File::open(path)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(h.finalize().into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ws(files: &[(&str, &str)]) -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        for (p, c) in files {
            let path = d.path().join(p);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, c).unwrap();
        }
        d
    }

    fn expected(contents: &[&str]) -> String {
        let mut total = Sha256::new();
        for c in contents {
            total.update(Sha256::digest(c.as_bytes()));
        }
        hex::encode(total.finalize())
    }

    fn h(d: &tempfile::TempDir, pats: &[&str]) -> String {
        hash_files(
            d.path(),
            &pats.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
        )
        .unwrap()
    }

    #[test]
    fn one_file_is_sha256_of_its_sha256() {
        let d = ws(&[("a.txt", "hello")]);
        assert_eq!(h(&d, &["a.txt"]), expected(&["hello"]));
    }

    #[test]
    fn order_is_depth_first_by_name() {
        // "b/x" comes before "b-c" depth first ('b' < 'b-c'), although "b-c" < "b/x" as strings.
        let d = ws(&[("b-c", "2"), ("b/x", "1"), ("a", "0")]);
        assert_eq!(h(&d, &["**"]), expected(&["0", "1", "2"]));
    }

    #[test]
    fn star_does_not_cross_directories_and_dotfiles_match() {
        let d = ws(&[("x.lock", "1"), ("d/y.lock", "2"), (".hidden.lock", "3")]);
        assert_eq!(h(&d, &["*.lock"]), expected(&["3", "1"]));
        assert_eq!(h(&d, &["**/*.lock"]), expected(&["3", "2", "1"]));
    }

    #[test]
    fn directories_match_their_contents_and_negation_applies_in_order() {
        let d = ws(&[("src/a", "1"), ("src/gen/b", "2")]);
        assert_eq!(h(&d, &["src"]), expected(&["1", "2"]));
        assert_eq!(h(&d, &["src", "!src/gen"]), expected(&["1"]));
        assert_eq!(
            h(&d, &["src", "!src/gen", "src/gen/b"]),
            expected(&["1", "2"])
        );
    }

    #[test]
    fn nothing_matched_or_outside_workspace_is_empty() {
        let d = ws(&[("a", "1")]);
        assert_eq!(h(&d, &["nope/**"]), "");
        assert_eq!(h(&d, &["../**"]), "");
        assert_eq!(h(&d, &["/etc/passwd"]), "");
    }

    #[test]
    fn absolute_patterns_inside_the_workspace_work() {
        let d = ws(&[("a", "1")]);
        let abs = format!("{}/a", d.path().display());
        assert_eq!(h(&d, &[abs.as_str()]), expected(&["1"]));
    }

    #[test]
    fn bad_pattern_is_an_error() {
        let d = ws(&[("a", "1")]);
        assert!(hash_files(d.path(), &["[".to_string()]).is_err());
    }
}
