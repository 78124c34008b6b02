//! Snapshots of the model for a curated set of corpus workflows: the model serialized in
//! GitHub's parser format (see `conformance/to_github_json.rs`), plus each job's matrix
//! expansion and display names.

#[path = "conformance/to_github_json.rs"]
mod to_github_json;

use std::path::Path;

use gha_model::{MatrixError, Workflow};

const CURATED: &[&str] = &[
    "Pernosco__gha-runner__build.yml",
    "actions__checkout__test.yml",
    "actions__checkout__update-main-version.yml",
    "actions__runner-images__windows11-vs2026-arm64.yml",
    "actions__setup-java__e2e-versions.yml",
    "microsoft__terminal__winget.yml",
    "rust-lang__miri__ci.yml",
];

fn summary(wf: &Workflow) -> String {
    let mut out = String::new();
    for job in &wf.jobs {
        out.push_str(&format!("job {}:\n", job.id.value));
        let matrix = job.strategy.as_ref().and_then(|s| s.matrix.as_ref());
        match matrix.map(|m| m.expand()) {
            None => out.push_str(&format!("  {}\n", job.display_name(None))),
            Some(Ok(combos)) => {
                for c in &combos {
                    out.push_str(&format!(
                        "  {}  {}\n",
                        job.display_name(Some(c)),
                        serde_json::to_string(&c.values).unwrap()
                    ));
                }
            }
            Some(Err(MatrixError::Deferred)) => {
                out.push_str("  (matrix deferred until run time)\n")
            }
            Some(Err(e)) => out.push_str(&format!("  matrix error: {e}\n")),
        }
        for (step, id) in job.steps.iter().zip(job.step_ids()) {
            out.push_str(&format!("  - {id}: {}\n", step.display_name()));
        }
    }
    out
}

#[test]
fn curated_models() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus/workflows");
    for name in CURATED {
        let text = std::fs::read_to_string(dir.join(name)).unwrap();
        let wf = Workflow::from_yaml(&text).unwrap();
        let options = to_github_json::Options {
            include_events: true,
            include_source: false,
            file_name: (*name).to_owned(),
            sort_file_table: false,
            file_table: Default::default(),
            file: 1,
        };
        let json = to_github_json::workflow(&wf, &text, &[], &options);
        let stem = name.trim_end_matches(".yml");
        insta::assert_snapshot!(format!("{stem}__jobs"), summary(&wf));
        insta::assert_json_snapshot!(format!("{stem}__github_json"), json);
    }
}
