//! Property tests: loading never panics, whatever the bytes; matrix expansion keeps its
//! invariants.

use std::path::Path;

use gha_model::{Action, Matrix, Workflow};
use proptest::prelude::*;
use serde_json::{Map, Value, json};

fn corpus_sample() -> Vec<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus/workflows");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    // Every 20th file keeps the run short while covering many shapes.
    files
        .iter()
        .step_by(20)
        .map(|p| std::fs::read_to_string(p).unwrap())
        .collect()
}

fn load_everything(text: &str) {
    let _ = Workflow::load(text);
    let _ = Action::load(text);
    if let Ok(wf) = Workflow::from_yaml(text) {
        for job in &wf.jobs {
            let _ = job.display_name(None);
            let _ = job.step_ids();
            if let Some(m) = job.strategy.as_ref().and_then(|s| s.matrix.as_ref())
                && let Ok(combos) = m.expand()
            {
                for c in &combos {
                    let _ = job.display_name(Some(c));
                }
            }
        }
        let _ = wf.needs_graph().topological_order();
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,400}") {
        load_everything(&text);
    }

    #[test]
    fn yaml_like_text_never_panics(text in "[a-z:\\-\\[\\]{}&*!|>'\"#$ \n\t,]{0,300}") {
        load_everything(&text);
    }

    #[test]
    fn mutated_corpus_files_never_panic(
        index in 0usize..1000,
        edits in prop::collection::vec((0usize..100_000, any::<u8>(), 0u8..3), 1..8),
    ) {
        thread_local! {
            static SAMPLE: Vec<String> = corpus_sample();
        }
        let mut bytes = SAMPLE.with(|s| s[index % s.len()].clone().into_bytes());
        for (pos, byte, op) in edits {
            if bytes.is_empty() {
                break;
            }
            let at = pos % bytes.len();
            match op {
                0 => bytes[at] = byte,
                1 => { bytes.remove(at); }
                _ => bytes.insert(at, byte),
            }
        }
        // Invalid UTF-8 is rejected before YAML; check the lossy text too.
        let text = String::from_utf8_lossy(&bytes);
        load_everything(&text);
    }
}

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        (0i64..5).prop_map(|i| json!(i)),
        "[a-c]{1,2}".prop_map(|s| json!(s)),
        any::<bool>().prop_map(|b| json!(b)),
    ]
}

fn row(keys: &'static [&'static str]) -> impl Strategy<Value = Map<String, Value>> {
    prop::collection::btree_map(prop::sample::select(keys), scalar(), 1..3)
        .prop_map(|m| m.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
}

/// A matrix as JSON, plus its vectors, include rows and exclude rows.
type MatrixCase = (
    Map<String, Value>,
    Vec<(String, Vec<Value>)>,
    Vec<Map<String, Value>>,
    Vec<Map<String, Value>>,
);

fn matrix() -> impl Strategy<Value = MatrixCase> {
    let vectors = prop::collection::vec(
        (
            prop::sample::select(&["os", "ver", "arch"][..]),
            prop::collection::vec(scalar(), 1..4),
        ),
        0..3,
    )
    .prop_map(|v| {
        let mut seen = Vec::new();
        v.into_iter()
            .filter(|(k, _)| {
                let fresh = !seen.contains(k);
                seen.push(*k);
                fresh
            })
            .map(|(k, vals)| (k.to_owned(), vals))
            .collect::<Vec<_>>()
    });
    (
        vectors,
        prop::collection::vec(row(&["os", "ver", "extra"]), 0..3),
        prop::collection::vec(row(&["os", "ver", "arch"]), 0..3),
    )
        .prop_map(|(vectors, include, exclude)| {
            let mut m = Map::new();
            for (k, v) in &vectors {
                m.insert(k.clone(), Value::Array(v.clone()));
            }
            if !include.is_empty() {
                m.insert(
                    "include".into(),
                    Value::Array(include.iter().cloned().map(Value::Object).collect()),
                );
            }
            if !exclude.is_empty() {
                m.insert(
                    "exclude".into(),
                    Value::Array(exclude.iter().cloned().map(Value::Object).collect()),
                );
            }
            (m, vectors, include, exclude)
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// Without include/exclude the expansion is the full cross product, in key order (the
    /// last key varies fastest), and every combination has every key.
    #[test]
    fn cross_product_size_and_order((_, vectors, _, _) in matrix()) {
        prop_assume!(!vectors.is_empty());
        let mut obj = Map::new();
        for (k, v) in &vectors {
            obj.insert(k.clone(), Value::Array(v.clone()));
        }
        let combos = Matrix::from_json(&Value::Object(obj)).unwrap().expand().unwrap();
        let expected: usize = vectors.iter().map(|(_, v)| v.len()).product();
        prop_assert_eq!(combos.len(), expected);
        for c in &combos {
            let keys: Vec<&String> = c.values.keys().collect();
            let want: Vec<&String> = vectors.iter().map(|(k, _)| k).collect();
            prop_assert_eq!(keys, want);
        }
        // The first combination takes the first value of every vector; the last the last.
        for (k, v) in &vectors {
            prop_assert_eq!(&combos[0].values[k], &v[0]);
            prop_assert_eq!(&combos[combos.len() - 1].values[k], v.last().unwrap());
        }
    }

    /// With include and exclude: the combinations start with the cross product minus the
    /// excluded ones, in order, with their original values untouched; every include row that
    /// contradicts all of them on an original key is appended as its own combination; nothing
    /// else is added; the limit holds.
    #[test]
    fn include_exclude_invariants((obj, vectors, include, exclude) in matrix()) {
        prop_assume!(!vectors.is_empty() || !include.is_empty());
        let combos = Matrix::from_json(&Value::Object(obj)).unwrap().expand().unwrap();
        prop_assert!(combos.len() <= gha_model::workflow::MAX_MATRIX_COMBINATIONS);
        // The cross product, last key fastest, minus rows matching an exclude entry.
        let mut base: Vec<Map<String, Value>> = vec![Map::new()];
        if vectors.is_empty() {
            base.clear();
        }
        for (k, vals) in &vectors {
            base = base
                .into_iter()
                .flat_map(|c| vals.iter().map(move |v| {
                    let mut c = c.clone();
                    c.insert(k.clone(), v.clone());
                    c
                }))
                .collect();
        }
        base.retain(|c| !exclude.iter().any(|row| row.iter().all(|(k, v)| c.get(k) == Some(v))));
        let original: Vec<&str> = vectors.iter().map(|(k, _)| k.as_str()).collect();
        let added: Vec<&Map<String, Value>> = include
            .iter()
            .filter(|row| {
                !base.iter().any(|c| {
                    row.iter().all(|(k, v)| !original.contains(&k.as_str()) || c.get(k) == Some(v))
                })
            })
            .collect();
        prop_assert_eq!(combos.len(), base.len() + added.len());
        for (c, b) in combos.iter().zip(&base) {
            for (k, v) in b {
                prop_assert_eq!(c.values.get(k), Some(v), "original value changed");
            }
        }
        for (c, row) in combos[base.len()..].iter().zip(&added) {
            prop_assert_eq!(&c.values, *row);
        }
    }
}
