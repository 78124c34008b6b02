//! The GitHub REST API through octocrab: a ref's commit SHA, the tarball of a commit
//! (extracted from GitHub's `owner-repo-sha/` layout) and single files from the contents API.

use std::io::Read;
use std::path::{Component, Path, PathBuf};

use http_body_util::BodyExt;
use octocrab::Octocrab;

use crate::error::ResolveError;

/// The public GitHub API.
pub const DEFAULT_API_URL: &str = "https://api.github.com";

/// A client for the few REST endpoints resolution needs.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let gh = gha_actions::GitHubClient::new("http://127.0.0.1:9", None).unwrap();
/// assert_eq!(gh.api_url(), "http://127.0.0.1:9");
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct GitHubClient {
    crab: Octocrab,
    api_url: String,
}

impl GitHubClient {
    /// A client for the API at `api_url` (`https://api.github.com`, a GitHub Enterprise
    /// `https://HOST/api/v3`, or a test server), authenticated with `token` when given.
    /// Must be called inside a Tokio runtime.
    pub fn new(api_url: &str, token: Option<&str>) -> Result<GitHubClient, ResolveError> {
        let api_url = api_url.trim_end_matches('/').to_string();
        let bad = |detail: String| ResolveError::Unreachable {
            reference: String::new(),
            api_url: api_url.clone(),
            detail,
        };
        let mut builder = Octocrab::builder()
            .base_uri(api_url.as_str())
            .map_err(|e| bad(format!("invalid API URL: {e}")))?
            .add_retry_config(octocrab::service::middleware::retry::RetryConfig::Simple(2))
            .set_connect_timeout(Some(std::time::Duration::from_secs(20)))
            .set_read_timeout(Some(std::time::Duration::from_secs(120)));
        if let Some(t) = token.filter(|t| !t.is_empty()) {
            builder = builder.personal_token(t.to_string());
        }
        let crab = builder.build().map_err(|e| bad(e.to_string()))?;
        Ok(GitHubClient { crab, api_url })
    }

    /// The API base URL.
    pub fn api_url(&self) -> &str {
        &self.api_url
    }

    /// `GET {api_url}{route}` with `Accept: accept` and GitHub's API version header, following
    /// up to five redirects (GitHub answers tarball requests with a redirect to codeload);
    /// the final response with its whole body. Any HTTP status is `Ok`: callers decide what a
    /// 404 or 403 means for them. `Err` is a transport failure, as one line with its causes.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let gh = gha_actions::GitHubClient::new("http://127.0.0.1:9", None).unwrap();
    /// let err = gh.get_raw("/rate_limit", "application/vnd.github+json").await.unwrap_err();
    /// assert!(err.starts_with("GET http://127.0.0.1:9/rate_limit: "), "{err}");
    /// # }
    /// ```
    pub async fn get_raw(
        &self,
        route: &str,
        accept: &str,
    ) -> Result<http::Response<Vec<u8>>, String> {
        let mut headers = http::HeaderMap::new();
        headers.insert(
            http::header::ACCEPT,
            http::HeaderValue::from_str(accept)
                .map_err(|e| format!("GET {}: bad Accept header: {e}", self.url(route)))?,
        );
        headers.insert(
            "X-GitHub-Api-Version",
            http::HeaderValue::from_static("2022-11-28"),
        );
        let failed =
            |e: &dyn std::error::Error| format!("GET {}: {}", self.url(route), error_chain(e));
        let mut resp = self
            .crab
            ._get_with_headers(route, Some(headers))
            .await
            .map_err(|e| failed(&e))?;
        for _ in 0..5 {
            if !resp.status().is_redirection() {
                break;
            }
            let Some(loc) = resp
                .headers()
                .get(http::header::LOCATION)
                .and_then(|l| l.to_str().ok())
                .map(str::to_string)
            else {
                break;
            };
            resp = self.crab._get(loc.as_str()).await.map_err(|e| failed(&e))?;
        }
        let (parts, body) = resp.into_parts();
        let bytes = body
            .collect()
            .await
            .map_err(|e| failed(&e))?
            .to_bytes()
            .to_vec();
        Ok(http::Response::from_parts(parts, bytes))
    }

    async fn get(
        &self,
        route: &str,
        accept: &str,
        reference: &str,
    ) -> Result<http::Response<Vec<u8>>, ResolveError> {
        self.get_raw(route, accept)
            .await
            .map_err(|detail| ResolveError::Unreachable {
                reference: reference.to_string(),
                api_url: self.api_url.clone(),
                detail,
            })
    }

    /// `GET /repos/{owner}/{repo}/commits/{ref}`: the full SHA of a branch, tag or SHA.
    pub async fn commit_sha(
        &self,
        owner: &str,
        repo: &str,
        git_ref: &str,
        reference: &str,
    ) -> Result<String, ResolveError> {
        let route = format!(
            "/repos/{}/{}/commits/{}",
            path_segment(owner),
            path_segment(repo),
            path_segment(git_ref)
        );
        let resp = self
            .get(&route, "application/vnd.github+json", reference)
            .await?;
        match resp.status().as_u16() {
            200 => {}
            404 => {
                // Tell "no such repository" from "no such ref".
                return Err(if self.repository_exists(owner, repo, reference).await? {
                    ResolveError::VersionNotFound {
                        reference: reference.to_string(),
                        version: git_ref.to_string(),
                    }
                } else {
                    ResolveError::RepositoryNotFound {
                        reference: reference.to_string(),
                    }
                });
            }
            422 => {
                return Err(ResolveError::VersionNotFound {
                    reference: reference.to_string(),
                    version: git_ref.to_string(),
                });
            }
            _ => return Err(status_error(&resp, &self.url(&route), reference)),
        }
        #[derive(serde::Deserialize)]
        struct Commit {
            sha: String,
        }
        let c: Commit = serde_json::from_slice(resp.body()).map_err(|e| ResolveError::Http {
            reference: reference.to_string(),
            url: self.url(&route),
            status: 200,
            message: format!("unexpected response body: {e}"),
        })?;
        Ok(c.sha.to_ascii_lowercase())
    }

    async fn repository_exists(
        &self,
        owner: &str,
        repo: &str,
        reference: &str,
    ) -> Result<bool, ResolveError> {
        let route = format!("/repos/{}/{}", path_segment(owner), path_segment(repo));
        let resp = self
            .get(&route, "application/vnd.github+json", reference)
            .await?;
        match resp.status().as_u16() {
            200 => Ok(true),
            404 => Ok(false),
            _ => Err(status_error(&resp, &self.url(&route), reference)),
        }
    }

    /// `GET /repos/{owner}/{repo}/tarball/{sha}`, extracted into `dest` with GitHub's single
    /// top-level `owner-repo-sha/` directory stripped.
    pub async fn download_tree(
        &self,
        owner: &str,
        repo: &str,
        sha: &str,
        dest: &Path,
        reference: &str,
    ) -> Result<(), ResolveError> {
        let route = format!(
            "/repos/{}/{}/tarball/{}",
            path_segment(owner),
            path_segment(repo),
            path_segment(sha)
        );
        let resp = self
            .get(&route, "application/vnd.github+json", reference)
            .await?;
        match resp.status().as_u16() {
            200 => {}
            404 => {
                return Err(ResolveError::VersionNotFound {
                    reference: reference.to_string(),
                    version: sha.to_string(),
                });
            }
            _ => return Err(status_error(&resp, &self.url(&route), reference)),
        }
        let body = resp.into_body();
        let dest = dest.to_path_buf();
        let reference = reference.to_string();
        tokio::task::spawn_blocking(move || extract_tarball(&body, &dest, &reference))
            .await
            .map_err(|e| ResolveError::Archive {
                reference: String::new(),
                detail: e.to_string(),
            })?
    }

    /// `GET /repos/{owner}/{repo}/contents/{path}?ref={ref}`: one file's bytes.
    pub async fn file_content(
        &self,
        owner: &str,
        repo: &str,
        path: &str,
        git_ref: &str,
        reference: &str,
    ) -> Result<Vec<u8>, ResolveError> {
        let encoded_path: Vec<String> = path.split('/').map(path_segment).collect();
        let route = format!(
            "/repos/{}/{}/contents/{}?ref={}",
            path_segment(owner),
            path_segment(repo),
            encoded_path.join("/"),
            path_segment(git_ref)
        );
        let resp = self
            .get(&route, "application/vnd.github+json", reference)
            .await?;
        match resp.status().as_u16() {
            200 => {}
            404 => {
                return Err(ResolveError::FileNotFound {
                    repository: format!("{owner}/{repo}"),
                    path: path.to_string(),
                    git_ref: git_ref.to_string(),
                });
            }
            _ => return Err(status_error(&resp, &self.url(&route), reference)),
        }
        #[derive(serde::Deserialize)]
        struct Content {
            #[serde(rename = "type")]
            kind: String,
            #[serde(default)]
            encoding: Option<String>,
            #[serde(default)]
            content: Option<String>,
        }
        let bad = |message: String| ResolveError::Http {
            reference: reference.to_string(),
            url: self.url(&route),
            status: 200,
            message,
        };
        let c: Content = serde_json::from_slice(resp.body())
            .map_err(|e| bad(format!("unexpected response body: {e}")))?;
        if c.kind != "file" {
            return Err(bad(format!("`{path}` is a {}, not a file", c.kind)));
        }
        match (c.encoding.as_deref(), c.content) {
            (Some("base64"), Some(s)) => {
                decode_base64(&s).ok_or_else(|| bad("invalid base64 content".into()))
            }
            (Some(""), Some(s)) | (None, Some(s)) => Ok(s.into_bytes()),
            (enc, _) => Err(bad(format!("unsupported content encoding {enc:?}"))),
        }
    }

    fn url(&self, route: &str) -> String {
        format!("{}{route}", self.api_url)
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let m = c.to_string();
        if !s.contains(&m) {
            s.push_str(": ");
            s.push_str(&m);
        }
        cur = c.source();
    }
    s
}

fn status_error(resp: &http::Response<Vec<u8>>, url: &str, reference: &str) -> ResolveError {
    let status = resp.status().as_u16();
    let message = serde_json::from_slice::<serde_json::Value>(resp.body())
        .ok()
        .and_then(|v| {
            v.get("message")
                .and_then(|m| m.as_str())
                .map(str::to_string)
        })
        .unwrap_or_default();
    let header = |n: &str| {
        resp.headers()
            .get(n)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let remaining_zero = header("x-ratelimit-remaining").as_deref() == Some("0");
    let rate_limited = status == 429
        || (status == 403
            && (remaining_zero || message.to_ascii_lowercase().contains("rate limit")));
    if rate_limited {
        let reset_at = header("x-ratelimit-reset")
            .and_then(|r| r.trim().parse::<i64>().ok())
            .map(format_utc);
        return ResolveError::RateLimited {
            reference: reference.to_string(),
            reset_at,
            message,
        };
    }
    ResolveError::Http {
        reference: reference.to_string(),
        url: url.to_string(),
        status,
        message,
    }
}

/// Percent-encodes one URL path segment.
fn path_segment(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `YYYY-MM-DD HH:MM:SS UTC` for a Unix time.
pub(crate) fn format_utc(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Howard Hinnant's civil-from-days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

fn decode_base64(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let mut acc = 0u32;
    let mut bits = 0;
    for c in s.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            b'=' | b'\n' | b'\r' | b' ' => continue,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

/// Extracts a gzipped tarball in GitHub's layout (an optional `pax_global_header`, then one
/// top-level directory) into `dest`, refusing entries that would land outside it.
pub fn extract_tarball(bytes: &[u8], dest: &Path, reference: &str) -> Result<(), ResolveError> {
    let archive_err = |detail: String| ResolveError::Archive {
        reference: reference.to_string(),
        detail,
    };
    let gz = flate2::read::GzDecoder::new(bytes);
    let mut archive = tar::Archive::new(gz);
    archive.set_preserve_permissions(true);
    let mut saw_any = false;
    for entry in archive.entries().map_err(|e| archive_err(e.to_string()))? {
        let mut entry = entry.map_err(|e| archive_err(e.to_string()))?;
        let kind = entry.header().entry_type();
        if !(kind.is_file() || kind.is_dir() || kind.is_symlink() || kind.is_hard_link()) {
            continue; // pax headers, GNU long names (already applied), ...
        }
        let path = entry
            .path()
            .map_err(|e| archive_err(e.to_string()))?
            .into_owned();
        let Some(rel) = strip_top_level(&path) else {
            return Err(archive_err(format!(
                "entry `{}` is outside the archive's directory",
                path.display()
            )));
        };
        saw_any = true;
        if rel.as_os_str().is_empty() {
            continue;
        }
        let target = dest.join(&rel);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| ResolveError::io(format!("Cannot create {}", parent.display()), e))?;
        }
        if kind.is_hard_link() {
            let Some(link) = entry.link_name().ok().flatten() else {
                continue;
            };
            let Some(link_rel) = strip_top_level(&link) else {
                return Err(archive_err(format!("bad hard link {}", link.display())));
            };
            std::fs::hard_link(dest.join(link_rel), &target)
                .map_err(|e| ResolveError::io(format!("Cannot link {}", target.display()), e))?;
            continue;
        }
        if kind.is_file() {
            // Read fully first so a short archive is an error, not a truncated file.
            let mut data = Vec::new();
            entry
                .read_to_end(&mut data)
                .map_err(|e| archive_err(e.to_string()))?;
            std::fs::write(&target, &data)
                .map_err(|e| ResolveError::io(format!("Cannot write {}", target.display()), e))?;
            #[cfg(unix)]
            if let Ok(mode) = entry.header().mode() {
                use std::os::unix::fs::PermissionsExt;
                let _ = std::fs::set_permissions(
                    &target,
                    std::fs::Permissions::from_mode(mode & 0o777),
                );
            }
            continue;
        }
        entry
            .unpack(&target)
            .map_err(|e| archive_err(format!("{}: {e}", rel.display())))?;
    }
    if !saw_any {
        return Err(archive_err("the archive is empty".into()));
    }
    Ok(())
}

/// `owner-repo-sha/a/b` → `a/b`; `None` for absolute paths or `..`.
fn strip_top_level(path: &Path) -> Option<PathBuf> {
    let mut comps = path.components();
    match comps.next() {
        Some(Component::Normal(_)) => {}
        Some(Component::CurDir) => return strip_top_level(comps.as_path()),
        _ => return None,
    }
    let mut out = PathBuf::new();
    for c in comps {
        match c {
            Component::Normal(p) => out.push(p),
            Component::CurDir => {}
            _ => return None,
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_reset_times() {
        assert_eq!(format_utc(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(format_utc(1_796_425_200), "2026-12-04 23:00:00 UTC");
    }

    #[test]
    fn decodes_base64_with_newlines() {
        assert_eq!(decode_base64("aGVs\nbG8=\n").unwrap(), b"hello");
        assert!(decode_base64("!!").is_none());
    }

    #[test]
    fn strips_the_top_level() {
        assert_eq!(
            strip_top_level(Path::new("o-r-abc/x/y")).unwrap(),
            Path::new("x/y")
        );
        assert!(strip_top_level(Path::new("o-r-abc/../y")).is_none());
        assert!(strip_top_level(Path::new("/etc/passwd")).is_none());
    }
}
