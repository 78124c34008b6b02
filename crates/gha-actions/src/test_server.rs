//! A local HTTP server shaped like GitHub's REST API (feature `test-server`), for testing
//! resolution without the network: the commits, repository, tarball (with codeload's redirect)
//! and contents endpoints, GitHub's 404/422 bodies, and a switchable 403 rate limit with
//! `x-ratelimit-*` headers. Built on `wiremock`; every request is recorded.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use wiremock::matchers::any;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

#[derive(Default)]
struct State {
    /// `owner/repo` (lower-case) → ref → SHA.
    refs: HashMap<String, HashMap<String, String>>,
    /// SHA → files (path, mode, bytes).
    trees: HashMap<String, Vec<(String, u32, Vec<u8>)>>,
    /// `owner/repo` (lower-case) → display name, for the archive's top-level directory.
    names: HashMap<String, (String, String)>,
    rate_limit_reset: Option<i64>,
}

/// A GitHub-shaped API server on 127.0.0.1.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use gha_actions::test_server::GitHubServer;
/// let gh = GitHubServer::start().await;
/// let sha = gh.add_commit("octo", "hello", &["v1"], &[("action.yml", "name: h\ndescription: d\nruns: {using: node20, main: i.js}\n")]);
/// assert_eq!(sha.len(), 40);
/// assert!(gh.api_url().starts_with("http://127.0.0.1:"));
/// # }
/// ```
pub struct GitHubServer {
    server: MockServer,
    state: Arc<Mutex<State>>,
}

impl GitHubServer {
    /// Starts a server.
    pub async fn start() -> GitHubServer {
        let server = MockServer::builder().start().await;
        let state = Arc::new(Mutex::new(State::default()));
        Mock::given(any())
            .respond_with(Api {
                state: state.clone(),
                base: server.uri(),
            })
            .mount(&server)
            .await;
        GitHubServer { server, state }
    }

    /// The API base URL to give the resolver.
    pub fn api_url(&self) -> String {
        self.server.uri()
    }

    /// Adds a commit of `owner/repo` holding `files` (path, text), reachable by `refs` and by its
    /// SHA, which is derived from the content and returned.
    pub fn add_commit(
        &self,
        owner: &str,
        repo: &str,
        refs: &[&str],
        files: &[(&str, &str)],
    ) -> String {
        let files: Vec<(String, u32, Vec<u8>)> = files
            .iter()
            .map(|(p, c)| {
                let mode = if p.ends_with(".sh") { 0o755 } else { 0o644 };
                (p.to_string(), mode, c.as_bytes().to_vec())
            })
            .collect();
        self.add_commit_files(owner, repo, refs, files)
    }

    /// Like [`GitHubServer::add_commit`] with raw bytes and modes.
    pub fn add_commit_files(
        &self,
        owner: &str,
        repo: &str,
        refs: &[&str],
        files: Vec<(String, u32, Vec<u8>)>,
    ) -> String {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        (owner, repo, &files).hash(&mut h);
        let a = h.finish();
        (a, 1u8).hash(&mut h);
        let b = h.finish();
        (b, 2u8).hash(&mut h);
        let c = h.finish();
        let sha = format!("{a:016x}{b:016x}{c:016x}")[..40].to_string();
        let key = format!("{owner}/{repo}").to_ascii_lowercase();
        let mut st = self.state.lock().unwrap();
        st.names
            .insert(key.clone(), (owner.to_string(), repo.to_string()));
        let m = st.refs.entry(key).or_default();
        for r in refs {
            m.insert(r.to_string(), sha.clone());
        }
        m.insert(sha.clone(), sha.clone());
        st.trees.insert(sha.clone(), files);
        sha
    }

    /// From now on every request fails with GitHub's 403 rate-limit answer, resetting at
    /// `reset` (Unix seconds); `None` lifts it.
    pub fn set_rate_limited(&self, reset: Option<i64>) {
        self.state.lock().unwrap().rate_limit_reset = reset;
    }

    /// The `Authorization` header of every request received so far (empty when absent).
    pub async fn authorizations(&self) -> Vec<String> {
        self.server
            .received_requests()
            .await
            .unwrap_or_default()
            .iter()
            .map(|r| {
                r.headers
                    .get("authorization")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_string()
            })
            .collect()
    }

    /// Every request received so far, as `METHOD /path?query`.
    pub async fn requests(&self) -> Vec<String> {
        self.server
            .received_requests()
            .await
            .unwrap_or_default()
            .iter()
            .map(|r| {
                let q = r.url.query().map(|q| format!("?{q}")).unwrap_or_default();
                format!("{} {}{q}", r.method, r.url.path())
            })
            .collect()
    }
}

struct Api {
    state: Arc<Mutex<State>>,
    base: String,
}

fn not_found(doc: &str) -> ResponseTemplate {
    ResponseTemplate::new(404).set_body_json(serde_json::json!({
        "message": "Not Found",
        "documentation_url": format!("https://docs.github.com/rest/{doc}"),
        "status": "404",
    }))
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16)
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl Respond for Api {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let st = self.state.lock().unwrap();
        if let Some(reset) = st.rate_limit_reset {
            return ResponseTemplate::new(403)
                .insert_header("x-ratelimit-limit", "60")
                .insert_header("x-ratelimit-remaining", "0")
                .insert_header("x-ratelimit-used", "60")
                .insert_header("x-ratelimit-resource", "core")
                .insert_header("x-ratelimit-reset", reset.to_string().as_str())
                .set_body_json(serde_json::json!({
                    "message": "API rate limit exceeded for 127.0.0.1. (But here's the good news: Authenticated requests get a higher rate limit. Check out the documentation for more details.)",
                    "documentation_url": "https://docs.github.com/rest/overview/resources-in-the-rest-api#rate-limiting",
                }));
        }
        let path = req.url.path().to_string();
        let segs: Vec<String> = path
            .trim_start_matches('/')
            .split('/')
            .map(percent_decode)
            .collect();
        let query_ref = req
            .url
            .query_pairs()
            .find(|(k, _)| k == "ref")
            .map(|(_, v)| v.into_owned());
        match segs
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>()
            .as_slice()
        {
            ["repos", o, r] => {
                let key = format!("{o}/{r}").to_ascii_lowercase();
                match st.names.get(&key) {
                    Some((owner, repo)) => {
                        ResponseTemplate::new(200).set_body_json(serde_json::json!({
                            "id": 1, "name": repo, "full_name": format!("{owner}/{repo}"),
                            "private": false, "default_branch": "main",
                            "owner": {"login": owner, "type": "Organization"},
                        }))
                    }
                    None => not_found("repos/repos#get-a-repository"),
                }
            }
            ["repos", o, r, "commits", git_ref @ ..] => {
                let key = format!("{o}/{r}").to_ascii_lowercase();
                let git_ref = git_ref.join("/");
                let Some(refs) = st.refs.get(&key) else {
                    return not_found("commits/commits#get-a-commit");
                };
                match refs.get(&git_ref) {
                    Some(sha) => ResponseTemplate::new(200).set_body_json(serde_json::json!({
                        "sha": sha,
                        "node_id": "C_test",
                        "url": format!("{}/repos/{o}/{r}/commits/{sha}", self.base),
                        "html_url": format!("https://github.com/{o}/{r}/commit/{sha}"),
                        "commit": {
                            "message": "test commit",
                            "tree": {"sha": sha},
                            "author": {"name": "Octo", "email": "octo@example.com", "date": "2026-12-01T00:00:00Z"},
                            "committer": {"name": "Octo", "email": "octo@example.com", "date": "2026-12-01T00:00:00Z"},
                        },
                        "parents": [],
                        "files": [],
                    })),
                    None => ResponseTemplate::new(422).set_body_json(serde_json::json!({
                        "message": format!("No commit found for SHA: {git_ref}"),
                        "documentation_url": "https://docs.github.com/rest/commits/commits#get-a-commit",
                        "status": "422",
                    })),
                }
            }
            ["repos", o, r, "tarball", git_ref @ ..] => {
                let key = format!("{o}/{r}").to_ascii_lowercase();
                let git_ref = git_ref.join("/");
                match st.refs.get(&key).and_then(|m| m.get(&git_ref)) {
                    Some(sha) => ResponseTemplate::new(302).insert_header(
                        "location",
                        format!("{}/_codeload/{o}/{r}/legacy.tar.gz/{sha}", self.base).as_str(),
                    ),
                    None => not_found("repos/contents#download-a-repository-archive-tar"),
                }
            }
            ["_codeload", o, r, "legacy.tar.gz", sha] => {
                let key = format!("{o}/{r}").to_ascii_lowercase();
                let (Some(files), Some((owner, repo))) = (st.trees.get(*sha), st.names.get(&key))
                else {
                    return ResponseTemplate::new(404).set_body_string("404: Not Found");
                };
                let top = format!("{owner}-{repo}-{}", &sha[..7]);
                ResponseTemplate::new(200)
                    .insert_header("content-type", "application/x-gzip")
                    .insert_header(
                        "content-disposition",
                        format!("attachment; filename={top}.tar.gz").as_str(),
                    )
                    .set_body_bytes(github_tarball(&top, sha, files))
            }
            ["repos", o, r, "contents", file @ ..] => {
                let key = format!("{o}/{r}").to_ascii_lowercase();
                let file = file.join("/");
                let git_ref = query_ref.unwrap_or_else(|| "main".into());
                let found = st
                    .refs
                    .get(&key)
                    .and_then(|m| m.get(&git_ref))
                    .and_then(|sha| st.trees.get(sha))
                    .and_then(|t| t.iter().find(|(p, _, _)| *p == file));
                match found {
                    Some((p, _, bytes)) => ResponseTemplate::new(200).set_body_json(serde_json::json!({
                        "type": "file",
                        "encoding": "base64",
                        "size": bytes.len(),
                        "name": p.rsplit('/').next().unwrap_or(p),
                        "path": p,
                        "content": base64_lines(bytes),
                        "sha": "0000000000000000000000000000000000000000",
                        "url": format!("{}/repos/{o}/{r}/contents/{p}?ref={git_ref}", self.base),
                    })),
                    None => not_found("repos/contents#get-repository-content"),
                }
            }
            _ => not_found(""),
        }
    }
}

fn base64_lines(bytes: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut s = String::new();
    for (i, chunk) in bytes.chunks(3).enumerate() {
        if i > 0 && i % 19 == 0 {
            s.push('\n'); // GitHub wraps at 76 characters
        }
        let n = chunk.len();
        let v = (u32::from(chunk[0]) << 16)
            | (u32::from(*chunk.get(1).unwrap_or(&0)) << 8)
            | u32::from(*chunk.get(2).unwrap_or(&0));
        for k in 0..4 {
            if k <= n {
                s.push(T[((v >> (18 - 6 * k)) & 63) as usize] as char);
            } else {
                s.push('=');
            }
        }
    }
    s.push('\n');
    s
}

/// A gzipped tarball laid out like GitHub's: a `pax_global_header` carrying the commit, then
/// everything under `top/`.
pub fn github_tarball(top: &str, sha: &str, files: &[(String, u32, Vec<u8>)]) -> Vec<u8> {
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let mut b = tar::Builder::new(gz);
    let pax = format!("52 comment={sha}\n");
    let mut h = tar::Header::new_ustar();
    h.set_entry_type(tar::EntryType::XGlobalHeader);
    h.set_path("pax_global_header").unwrap();
    h.set_size(pax.len() as u64);
    h.set_mode(0o666);
    h.set_cksum();
    b.append(&h, pax.as_bytes()).unwrap();
    let mut dirs = std::collections::BTreeSet::new();
    dirs.insert(String::new());
    for (p, _, _) in files {
        let mut acc = String::new();
        let parts: Vec<&str> = p.split('/').collect();
        for d in &parts[..parts.len() - 1] {
            acc = if acc.is_empty() {
                d.to_string()
            } else {
                format!("{acc}/{d}")
            };
            dirs.insert(acc.clone());
        }
    }
    for d in &dirs {
        let mut h = tar::Header::new_ustar();
        h.set_entry_type(tar::EntryType::Directory);
        let name = if d.is_empty() {
            format!("{top}/")
        } else {
            format!("{top}/{d}/")
        };
        h.set_path(&name).unwrap();
        h.set_size(0);
        h.set_mode(0o775);
        h.set_cksum();
        b.append(&h, std::io::empty()).unwrap();
    }
    for (p, mode, bytes) in files {
        let mut h = tar::Header::new_gnu();
        h.set_size(bytes.len() as u64);
        h.set_mode(*mode);
        h.set_entry_type(tar::EntryType::Regular);
        b.append_data(&mut h, format!("{top}/{p}"), bytes.as_slice())
            .unwrap();
    }
    b.into_inner().unwrap().finish().unwrap()
}
