//! Building the expression contexts (`github`, `runner`, `job`, `steps`, ...) and the default
//! environment variables GitHub gives every step.

use gha_expr::{Object, Value};
use serde_json::json;

use super::RunOptions;
use crate::backend::{ContainerInfo, JobPaths, RunnerInfo};

/// Run-wide facts shared by every job.
pub(crate) struct RunFacts {
    pub(crate) options: RunOptions,
    pub(crate) secrets: Object,
    pub(crate) vars: Object,
}

/// Per-job facts for the `github` context and `GITHUB_*` variables.
pub(crate) struct GithubFacts<'a> {
    pub(crate) workflow_name: &'a str,
    pub(crate) workflow_path: &'a str,
    pub(crate) job_id: &'a str,
    pub(crate) event_path: Option<&'a str>,
    pub(crate) workspace: Option<&'a str>,
    pub(crate) action: &'a str,
    pub(crate) file_commands: Option<&'a FileCommandPaths>,
}

/// Where one step's file commands live (inside the job environment).
#[derive(Clone, Debug)]
pub(crate) struct FileCommandPaths {
    pub(crate) env: String,
    pub(crate) output: String,
    pub(crate) path: String,
    pub(crate) state: String,
    pub(crate) step_summary: String,
}

fn ref_name_and_type(git_ref: &str) -> (String, &'static str) {
    if let Some(t) = git_ref.strip_prefix("refs/tags/") {
        (t.to_string(), "tag")
    } else if let Some(b) = git_ref.strip_prefix("refs/heads/") {
        (b.to_string(), "branch")
    } else if let Some(p) = git_ref.strip_prefix("refs/pull/") {
        (p.to_string(), "branch")
    } else {
        (git_ref.to_string(), "branch")
    }
}

/// The effective ref/sha/head/base refs for the event.
pub(crate) fn event_refs(options: &RunOptions) -> (String, String, String, String) {
    let event = &options.event;
    let mut git_ref = options.git.git_ref.clone();
    let mut sha = options.git.sha.clone();
    let mut head_ref = String::new();
    let mut base_ref = String::new();
    if let Some(pr) = event.get("pull_request")
        && options.event_name.starts_with("pull_request")
    {
        if let Some(n) = pr.get("number").and_then(|n| n.as_u64()) {
            git_ref = format!("refs/pull/{n}/merge");
        }
        if let Some(h) = pr.pointer("/head/ref").and_then(|v| v.as_str()) {
            head_ref = h.to_string();
        }
        if let Some(b) = pr.pointer("/base/ref").and_then(|v| v.as_str()) {
            base_ref = b.to_string();
        }
    }
    if let Some(r) = event.get("ref").and_then(|v| v.as_str())
        && !options.event_name.starts_with("pull_request")
    {
        git_ref = r.to_string();
    }
    if let Some(s) = event.get("after").and_then(|v| v.as_str())
        && options.event_name == "push"
        && s.len() == 40
    {
        sha = s.to_string();
    }
    (git_ref, sha, head_ref, base_ref)
}

pub(crate) fn github_context(run: &RunFacts, f: &GithubFacts<'_>) -> Value {
    let o = &run.options;
    let (git_ref, sha, head_ref, base_ref) = event_refs(o);
    let (ref_name, ref_type) = ref_name_and_type(&git_ref);
    let owner = o.git.repository.split('/').next().unwrap_or("").to_string();
    let token = run
        .secrets
        .get("GITHUB_TOKEN")
        .map(|v| v.to_display_string())
        .unwrap_or_default();
    let mut g = json!({
        "action": f.action,
        "action_path": "",
        "action_ref": "",
        "action_repository": "",
        "action_status": "",
        "actor": o.git.actor,
        "actor_id": "0",
        "api_url": "https://api.github.com",
        "base_ref": base_ref,
        "env": f.file_commands.map(|p| p.env.clone()).unwrap_or_default(),
        "event": o.event,
        "event_name": o.event_name,
        "event_path": f.event_path.unwrap_or(""),
        "graphql_url": "https://api.github.com/graphql",
        "head_ref": head_ref,
        "job": f.job_id,
        "output": f.file_commands.map(|p| p.output.clone()).unwrap_or_default(),
        "path": f.file_commands.map(|p| p.path.clone()).unwrap_or_default(),
        "ref": git_ref,
        "ref_name": ref_name,
        "ref_protected": false,
        "ref_type": ref_type,
        "repository": o.git.repository,
        "repository_id": "0",
        "repository_owner": owner,
        "repository_owner_id": "0",
        "repositoryUrl": format!("git://github.com/{}.git", o.git.repository),
        "retention_days": "90",
        "run_attempt": "1",
        "run_id": o.run_id,
        "run_number": o.run_number,
        "secret_source": "None",
        "server_url": "https://github.com",
        "sha": sha,
        "state": f.file_commands.map(|p| p.state.clone()).unwrap_or_default(),
        "step_summary": f.file_commands.map(|p| p.step_summary.clone()).unwrap_or_default(),
        "token": token,
        "triggering_actor": o.git.actor,
        "workflow": f.workflow_name,
        "workflow_ref": format!("{}/{}@{}", o.git.repository, f.workflow_path, git_ref),
        "workflow_sha": sha,
        "workspace": f.workspace.unwrap_or(""),
    });
    if f.workspace.is_none() {
        g.as_object_mut().map(|m| m.remove("workspace"));
    }
    Value::from(g)
}

/// `GITHUB_*`, `RUNNER_*` and `CI` as GitHub sets them for a step.
pub(crate) fn default_env(
    run: &RunFacts,
    f: &GithubFacts<'_>,
    paths: &JobPaths,
    runner: &RunnerInfo,
) -> Vec<(String, String)> {
    let o = &run.options;
    let (git_ref, sha, head_ref, base_ref) = event_refs(o);
    let (ref_name, ref_type) = ref_name_and_type(&git_ref);
    let owner = o.git.repository.split('/').next().unwrap_or("").to_string();
    let fc = f.file_commands;
    let s = |v: &str| v.to_string();
    let mut env = vec![
        (s("CI"), s("true")),
        (s("GITHUB_ACTION"), s(f.action)),
        (s("GITHUB_ACTIONS"), s("true")),
        (s("GITHUB_ACTOR"), o.git.actor.clone()),
        (s("GITHUB_ACTOR_ID"), s("0")),
        (s("GITHUB_API_URL"), s("https://api.github.com")),
        (s("GITHUB_BASE_REF"), base_ref),
        (
            s("GITHUB_ENV"),
            fc.map(|p| p.env.clone()).unwrap_or_default(),
        ),
        (s("GITHUB_EVENT_NAME"), o.event_name.clone()),
        (s("GITHUB_EVENT_PATH"), s(f.event_path.unwrap_or(""))),
        (s("GITHUB_GRAPHQL_URL"), s("https://api.github.com/graphql")),
        (s("GITHUB_HEAD_REF"), head_ref),
        (s("GITHUB_JOB"), s(f.job_id)),
        (
            s("GITHUB_OUTPUT"),
            fc.map(|p| p.output.clone()).unwrap_or_default(),
        ),
        (
            s("GITHUB_PATH"),
            fc.map(|p| p.path.clone()).unwrap_or_default(),
        ),
        (s("GITHUB_REF"), git_ref.clone()),
        (s("GITHUB_REF_NAME"), ref_name),
        (s("GITHUB_REF_PROTECTED"), s("false")),
        (s("GITHUB_REF_TYPE"), s(ref_type)),
        (s("GITHUB_REPOSITORY"), o.git.repository.clone()),
        (s("GITHUB_REPOSITORY_ID"), s("0")),
        (s("GITHUB_REPOSITORY_OWNER"), owner),
        (s("GITHUB_REPOSITORY_OWNER_ID"), s("0")),
        (s("GITHUB_RETENTION_DAYS"), s("90")),
        (s("GITHUB_RUN_ATTEMPT"), s("1")),
        (s("GITHUB_RUN_ID"), o.run_id.clone()),
        (s("GITHUB_RUN_NUMBER"), o.run_number.clone()),
        (s("GITHUB_SERVER_URL"), s("https://github.com")),
        (s("GITHUB_SHA"), sha.clone()),
        (
            s("GITHUB_STATE"),
            fc.map(|p| p.state.clone()).unwrap_or_default(),
        ),
        (
            s("GITHUB_STEP_SUMMARY"),
            fc.map(|p| p.step_summary.clone()).unwrap_or_default(),
        ),
        (s("GITHUB_TRIGGERING_ACTOR"), o.git.actor.clone()),
        (s("GITHUB_WORKFLOW"), s(f.workflow_name)),
        (
            s("GITHUB_WORKFLOW_REF"),
            format!("{}/{}@{}", o.git.repository, f.workflow_path, git_ref),
        ),
        (s("GITHUB_WORKFLOW_SHA"), sha),
        (s("GITHUB_WORKSPACE"), paths.workspace.clone()),
        (s("RUNNER_ARCH"), runner.arch.clone()),
        (s("RUNNER_ENVIRONMENT"), runner.environment.clone()),
        (s("RUNNER_NAME"), runner.name.clone()),
        (s("RUNNER_OS"), runner.os.clone()),
        (s("RUNNER_TEMP"), paths.temp.clone()),
        (s("RUNNER_TOOL_CACHE"), paths.tool_cache.clone()),
        (
            s("RUNNER_WORKSPACE"),
            paths
                .workspace
                .rsplit_once('/')
                .map(|(p, _)| p.to_string())
                .unwrap_or_default(),
        ),
    ];
    if o.debug {
        env.push((s("RUNNER_DEBUG"), s("1")));
    }
    env
}

pub(crate) fn runner_context(runner: &RunnerInfo, paths: Option<&JobPaths>, debug: bool) -> Value {
    let mut r = json!({
        "name": runner.name,
        "os": runner.os,
        "arch": runner.arch,
        "environment": runner.environment,
        "temp": paths.map(|p| p.temp.clone()).unwrap_or_default(),
        "tool_cache": paths.map(|p| p.tool_cache.clone()).unwrap_or_default(),
    });
    if debug {
        r["debug"] = json!("1");
    }
    Value::from(r)
}

pub(crate) fn job_context(status: &str, info: &ContainerInfo) -> Value {
    let mut job = json!({ "status": status });
    if let Some(c) = &info.container {
        job["container"] = json!({ "id": c.id, "network": c.network });
    }
    let mut services = serde_json::Map::new();
    for s in &info.services {
        let ports: serde_json::Map<String, serde_json::Value> =
            s.ports.iter().map(|(k, v)| (k.clone(), json!(v))).collect();
        services.insert(
            s.name.clone(),
            json!({ "id": s.container.id, "network": s.container.network, "ports": ports }),
        );
    }
    job["services"] = serde_json::Value::Object(services);
    Value::from(job)
}

/// An object context from string pairs (later pairs win).
pub(crate) fn object_from_pairs(pairs: &[(String, String)]) -> Object {
    let mut o = Object::new();
    for (k, v) in pairs {
        o.insert(k.clone(), Value::from(v.as_str()));
    }
    o
}
