//! `cargo xtask image`: build `gha-runner/base:bookworm` from Debian packages.
//!
//! No image registry is reachable here, so the base image is made from scratch: debootstrap
//! installs a minimal Debian bookworm (plus the tools workflows expect) into a temporary
//! directory, and its tar is streamed into `docker import`.

use std::fs;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

/// The image tag tests and docs use.
pub const IMAGE: &str = "gha-runner/base:bookworm";
const SUITE: &str = "bookworm";
/// Debian packages on top of debootstrap's `minbase` variant.
const PACKAGES: &[&str] = &[
    "bash",
    "coreutils",
    "git",
    "python3",
    "python-is-python3",
    "perl",
    "nodejs",
    "curl",
    "ca-certificates",
    "jq",
];
/// Used when no bookworm mirror is configured in /etc/apt.
const FALLBACK_MIRROR: &str = "http://deb.debian.org/debian";

type Result<T> = std::result::Result<T, String>;

/// Command-line options of `cargo xtask image`.
#[derive(Debug, Default, PartialEq)]
pub struct Options {
    /// Rebuild even when the image exists.
    pub force: bool,
    /// Debian mirror; default: the one configured for bookworm in /etc/apt.
    pub mirror: Option<String>,
}

impl Options {
    pub fn parse(args: &[String]) -> Result<Self> {
        let mut options = Options::default();
        let mut args = args.iter();
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--force" | "-f" => options.force = true,
                "--mirror" => {
                    let url = args.next().ok_or("--mirror needs a URL")?;
                    options.mirror = Some(url.clone());
                }
                other => return Err(format!("unexpected argument `{other}`")),
            }
        }
        Ok(options)
    }
}

pub fn run(options: &Options) -> Result<()> {
    let started = Instant::now();
    ensure_docker()?;
    if !options.force && image_exists(IMAGE)? {
        println!("image {IMAGE} exists; nothing to do (use --force to rebuild)");
        return Ok(());
    }
    ensure_debootstrap()?;
    let mirror = match &options.mirror {
        Some(mirror) => mirror.clone(),
        None => {
            configured_mirror(Path::new("/etc/apt")).unwrap_or_else(|| FALLBACK_MIRROR.to_string())
        }
    };
    let rootfs = TempDir::new("gha-runner-rootfs")?;
    println!(
        "[1/4] debootstrap {SUITE} from {mirror} into {}",
        rootfs.path().display()
    );
    debootstrap(&mirror, rootfs.path())?;
    println!("[2/4] trimming apt caches");
    trim(rootfs.path())?;
    println!("[3/4] docker import -> {IMAGE}");
    import(rootfs.path())?;
    println!("[4/4] checking the tools inside {IMAGE}");
    verify()?;
    println!("built {IMAGE} in {:.1} s", started.elapsed().as_secs_f64());
    Ok(())
}

fn ensure_docker() -> Result<()> {
    let status = Command::new("docker")
        .args(["version", "--format", "{{.Server.Version}}"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map_err(|e| format!("cannot run `docker` ({e}); install the Docker CLI"))?;
    if status.success() {
        Ok(())
    } else {
        Err(
            "no Docker engine answers (`docker version` failed); start dockerd or set DOCKER_HOST"
                .into(),
        )
    }
}

fn image_exists(image: &str) -> Result<bool> {
    let status = Command::new("docker")
        .args(["image", "inspect", image])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map_err(|e| format!("cannot run `docker image inspect`: {e}"))?;
    Ok(status.success())
}

fn ensure_debootstrap() -> Result<()> {
    if which("debootstrap") {
        return Ok(());
    }
    println!("debootstrap is missing; installing the Debian package");
    let update = Command::new("apt-get").arg("update").status();
    if !matches!(update, Ok(s) if s.success()) {
        return Err("`apt-get update` failed; install debootstrap by hand".into());
    }
    run_streamed(
        Command::new("apt-get")
            .args(["install", "-y", "--no-install-recommends", "debootstrap"])
            .env("DEBIAN_FRONTEND", "noninteractive"),
        "apt-get",
    )?;
    if which("debootstrap") {
        Ok(())
    } else {
        Err("debootstrap is still not on PATH after installing it".into())
    }
}

fn which(program: &str) -> bool {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin".into(), "/sbin".into()])
        .any(|dir| dir.join(program).is_file())
}

/// The first mirror configured for the bookworm suite (not `-security`/`-updates`) in
/// `sources.list`/`sources.list.d/*` (both the one-line and the deb822 format).
pub fn configured_mirror(apt_dir: &Path) -> Option<String> {
    let mut files = vec![apt_dir.join("sources.list")];
    if let Ok(entries) = fs::read_dir(apt_dir.join("sources.list.d")) {
        let mut more: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
        more.sort();
        files.extend(more);
    }
    files
        .iter()
        .filter_map(|file| fs::read_to_string(file).ok())
        .find_map(|text| mirror_in(&text))
}

fn mirror_in(text: &str) -> Option<String> {
    // One-line format: `deb [opts] URL SUITE COMPONENTS...`.
    for line in text.lines() {
        let mut words = line.split_whitespace();
        if words.next() != Some("deb") {
            continue;
        }
        let mut words = words.skip_while(|w| w.starts_with('['));
        let (Some(url), Some(suite)) = (words.next(), words.next()) else {
            continue;
        };
        if suite == SUITE {
            return Some(url.trim_end_matches('/').to_string());
        }
    }
    // deb822 format: stanzas separated by blank lines with `URIs:` and `Suites:` fields.
    for stanza in text.split("\n\n") {
        let field = |name: &str| {
            stanza.lines().find_map(|line| {
                let (key, value) = line.split_once(':')?;
                key.trim()
                    .eq_ignore_ascii_case(name)
                    .then(|| value.trim().to_string())
            })
        };
        let (Some(uris), Some(suites), Some(types)) =
            (field("URIs"), field("Suites"), field("Types"))
        else {
            continue;
        };
        if types.split_whitespace().any(|t| t == "deb")
            && suites.split_whitespace().any(|s| s == SUITE)
        {
            let uri = uris.split_whitespace().next()?;
            return Some(uri.trim_end_matches('/').to_string());
        }
    }
    None
}

fn debootstrap(mirror: &str, target: &Path) -> Result<()> {
    let include = PACKAGES.join(",");
    run_streamed(
        Command::new("debootstrap")
            .args(["--variant=minbase", &format!("--include={include}"), SUITE])
            .arg(target)
            .arg(mirror),
        "debootstrap",
    )
}

fn trim(root: &Path) -> Result<()> {
    for dir in ["var/cache/apt/archives", "var/lib/apt/lists"] {
        let dir = root.join(dir);
        let Ok(entries) = fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_file() {
                fs::remove_file(&path).map_err(|e| format!("removing {}: {e}", path.display()))?;
            }
        }
    }
    Ok(())
}

/// `tar -C ROOT -c . | docker import - IMAGE`, streamed (no tar file on disk).
fn import(root: &Path) -> Result<()> {
    let mut tar = Command::new("tar")
        .args(["--numeric-owner", "-C"])
        .arg(root)
        .args(["-c", "."])
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run tar: {e}"))?;
    let tar_out = tar.stdout.take().expect("piped stdout");
    let import = Command::new("docker")
        .args([
            "import",
            "--change",
            "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "--change",
            "ENV LANG=C.UTF-8",
            "--change",
            "CMD [\"bash\"]",
            "--message",
            "gha-runner base image (cargo xtask image)",
            "-",
            IMAGE,
        ])
        .stdin(Stdio::from(tar_out))
        .status()
        .map_err(|e| format!("cannot run docker import: {e}"))?;
    let tar_status = tar.wait().map_err(|e| format!("waiting for tar: {e}"))?;
    if !tar_status.success() {
        return Err(format!("tar failed ({tar_status})"));
    }
    if !import.success() {
        return Err(format!("docker import failed ({import})"));
    }
    Ok(())
}

fn verify() -> Result<()> {
    let script = "set -e; bash --version | head -1; git --version; python --version; \
                  python3 --version; perl -e 'print \"perl $^V\\n\"'; echo \"node $(node --version)\"; \
                  curl --version | head -1; jq --version; test -s /etc/ssl/certs/ca-certificates.crt";
    run_streamed(
        Command::new("docker").args(["run", "--rm", IMAGE, "bash", "-c", script]),
        "check",
    )
}

/// Runs a command, prefixing each output line with `label` so progress is visible.
fn run_streamed(command: &mut Command, label: &str) -> Result<()> {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run {label}: {e}"))?;
    let stderr = child.stderr.take().expect("piped stderr");
    let label_err = label.to_string();
    let err_thread = std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(|l| l.ok()) {
            eprintln!("  {label_err}: {line}");
        }
    });
    let stdout = child.stdout.take().expect("piped stdout");
    for line in BufReader::new(stdout).lines().map_while(|l| l.ok()) {
        println!("  {label}: {line}");
    }
    let _ = err_thread.join();
    let status = child
        .wait()
        .map_err(|e| format!("waiting for {label}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{label} failed ({status})"))
    }
}

/// A directory removed (with everything in it) when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(prefix: &str) -> Result<Self> {
        // /var/tmp: debootstrap needs a file system that allows devices and exec.
        let base = std::env::var_os("GHA_XTASK_TMPDIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("/var/tmp"));
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let path = base.join(format!("{prefix}-{}-{nanos}", std::process::id()));
        fs::create_dir_all(&path).map_err(|e| format!("creating {}: {e}", path.display()))?;
        Ok(TempDir(path))
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if let Err(e) = fs::remove_dir_all(&self.0) {
            eprintln!("warning: could not remove {}: {e}", self.0.display());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_bookworm_mirror_in_deb822_sources() {
        let text = "Types: deb\nURIs: http://deb.debian.org/debian\nSuites: bookworm bookworm-updates\n\
                    Components: main\n\nTypes: deb\nURIs: http://deb.debian.org/debian-security\n\
                    Suites: bookworm-security\nComponents: main\n";
        assert_eq!(
            mirror_in(text).as_deref(),
            Some("http://deb.debian.org/debian")
        );
    }

    #[test]
    fn finds_the_bookworm_mirror_in_one_line_sources() {
        let text = "# comment\ndeb https://packages.example/apt cloud-sdk-bookworm main\n\
                    deb [arch=amd64] http://mirror.example/debian/ bookworm main contrib\n";
        assert_eq!(
            mirror_in(text).as_deref(),
            Some("http://mirror.example/debian")
        );
    }

    #[test]
    fn ignores_security_only_sources() {
        let text =
            "Types: deb\nURIs: http://deb.debian.org/debian-security\nSuites: bookworm-security\n";
        assert_eq!(mirror_in(text), None);
    }

    #[test]
    fn parses_flags() {
        let args = [
            "--force".to_string(),
            "--mirror".into(),
            "http://m/debian".into(),
        ];
        assert_eq!(
            Options::parse(&args).unwrap(),
            Options {
                force: true,
                mirror: Some("http://m/debian".into())
            }
        );
        assert!(Options::parse(&["--mirror".to_string()]).is_err());
        assert!(Options::parse(&["--bogus".to_string()]).is_err());
    }
}
