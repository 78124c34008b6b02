//! Shared by the benchmark and the peak-memory example: the corpus files and the loaders.

use std::path::Path;

/// A corpus file: is it an action, and its text.
pub struct CorpusFile {
    pub action: bool,
    pub text: String,
}

/// Every workflow and action of `shared/corpus`.
pub fn corpus() -> Vec<CorpusFile> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus");
    let mut out = Vec::new();
    for (sub, action) in [("workflows", false), ("actions", true)] {
        let mut paths: Vec<_> = std::fs::read_dir(root.join(sub))
            .expect("corpus directory")
            .map(|e| e.unwrap().path())
            .collect();
        paths.sort();
        for p in paths {
            out.push(CorpusFile {
                action,
                text: std::fs::read_to_string(p).unwrap(),
            });
        }
    }
    out
}

/// The loaders compared.
#[derive(Clone, Copy, Debug)]
pub enum Loader {
    /// gha-model: YAML with spans, typed model, every expression parsed, validation.
    GhaModel,
    /// gha-model's spanned YAML node tree alone.
    GhaModelYamlTree,
    /// A plain parse into a generic YAML value (`yaml_serde::Value`, no spans, no typing).
    PlainYamlValue,
    /// zizmor's `github-actions-models` (serde structs over `yaml_serde`, no spans).
    GithubActionsModels,
}

pub const LOADERS: [Loader; 4] = [
    Loader::GhaModel,
    Loader::GhaModelYamlTree,
    Loader::PlainYamlValue,
    Loader::GithubActionsModels,
];

impl Loader {
    pub fn name(self) -> &'static str {
        match self {
            Loader::GhaModel => "gha-model (typed + validation)",
            Loader::GhaModelYamlTree => "gha-model yaml tree only",
            Loader::PlainYamlValue => "yaml_serde::Value (plain parse)",
            Loader::GithubActionsModels => "github-actions-models",
        }
    }

    /// Load one file; the result is kept alive by the caller (boxed as `Any`) and `ok` says
    /// whether the loader accepted it.
    pub fn load(self, f: &CorpusFile) -> (bool, Box<dyn std::any::Any>) {
        match (self, f.action) {
            (Loader::GhaModel, false) => {
                let r = gha_model::Workflow::from_yaml(&f.text);
                (r.is_ok(), Box::new(r))
            }
            (Loader::GhaModel, true) => {
                let r = gha_model::Action::from_yaml(&f.text);
                (r.is_ok(), Box::new(r))
            }
            (Loader::GhaModelYamlTree, _) => {
                let r = gha_model::yaml::parse(&f.text);
                (r.is_ok(), Box::new(r))
            }
            (Loader::PlainYamlValue, _) => {
                let r = yaml_serde::from_str::<yaml_serde::Value>(&f.text);
                (r.is_ok(), Box::new(r))
            }
            (Loader::GithubActionsModels, false) => {
                let r = yaml_serde::from_str::<github_actions_models::workflow::Workflow>(&f.text);
                (r.is_ok(), Box::new(r))
            }
            (Loader::GithubActionsModels, true) => {
                let r = yaml_serde::from_str::<github_actions_models::action::Action>(&f.text);
                (r.is_ok(), Box::new(r))
            }
        }
    }
}
