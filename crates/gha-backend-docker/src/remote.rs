//! Remote engines: the job's directories live in a volume and are filled through the archive
//! API instead of bind mounts of this machine's directories.

use std::path::Path;

use gha_exec::JobPaths;

/// A tar, to be unpacked at `/` in the job container, holding the workspace copy `host_workspace`
/// (its `.git` included, symbolic links kept as links, modes kept) at `paths.workspace`, and
/// empty directories at `paths.temp`, `paths.tool_cache` and `paths.home`.
pub(crate) fn job_tree_tar(host_workspace: &Path, paths: &JobPaths) -> std::io::Result<Vec<u8>> {
    let mut builder = tar::Builder::new(Vec::new());
    builder.follow_symlinks(false);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    for dir in [&paths.temp, &paths.tool_cache, &paths.home] {
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(tar::EntryType::Directory);
        header.set_mode(0o755);
        header.set_size(0);
        header.set_mtime(now);
        builder.append_data(
            &mut header,
            format!("{}/", dir.trim_matches('/')),
            std::io::empty(),
        )?;
    }
    builder.append_dir_all(paths.workspace.trim_start_matches('/'), host_workspace)?;
    builder.into_inner()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tree_has_the_workspace_with_git_links_and_modes_and_the_other_directories() {
        use std::os::unix::fs::PermissionsExt;
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join(".git")).unwrap();
        std::fs::write(d.path().join(".git/HEAD"), "ref").unwrap();
        std::fs::write(d.path().join("run.sh"), "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(
            d.path().join("run.sh"),
            std::fs::Permissions::from_mode(0o755),
        )
        .unwrap();
        std::os::unix::fs::symlink("run.sh", d.path().join("link")).unwrap();
        let paths = JobPaths {
            workspace: "/__w/r/r".into(),
            temp: "/__w/_temp".into(),
            tool_cache: "/__t".into(),
            home: "/github/home".into(),
            host_workspace: None,
        };
        let tar = job_tree_tar(d.path(), &paths).unwrap();
        let mut archive = tar::Archive::new(tar.as_slice());
        let mut seen = Vec::new();
        for e in archive.entries().unwrap() {
            let e = e.unwrap();
            let path = e
                .path()
                .unwrap()
                .to_string_lossy()
                .trim_end_matches('/')
                .to_string();
            let kind = e.header().entry_type();
            let mode = e.header().mode().unwrap();
            let link = e
                .link_name()
                .unwrap()
                .map(|l| l.to_string_lossy().into_owned());
            seen.push((path, kind, mode & 0o111 != 0, link));
        }
        let find = |p: &str| {
            seen.iter()
                .find(|s| s.0 == p)
                .unwrap_or_else(|| panic!("{p} missing: {seen:?}"))
        };
        assert!(find("__w/_temp").1.is_dir());
        assert!(find("__t").1.is_dir());
        assert!(find("github/home").1.is_dir());
        assert!(find("__w/r/r").1.is_dir());
        assert!(find("__w/r/r/.git/HEAD").1.is_file());
        assert!(find("__w/r/r/run.sh").2, "executable bit lost");
        let link = find("__w/r/r/link");
        assert!(
            link.1.is_symlink() && link.3.as_deref() == Some("run.sh"),
            "{link:?}"
        );
    }
}
