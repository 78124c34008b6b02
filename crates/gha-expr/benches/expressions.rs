//! Parse and evaluate GitHub's real-world expressions (actionlint's corpus of 1,858, in
//! `../shared/corpus/bench/expressions.txt`, one bare expression per line), and parse the same
//! inputs with zizmor's `github-actions-expressions` crate and with our pest reference parser
//! (`parse_reference`) in the same run.
//!
//! `cargo bench -p gha-expr --bench expressions -- --warm-up-time 1 --measurement-time 3`
//! Each benchmark handles the whole corpus once per iteration; divide by 1,858 for the time
//! per expression.

use std::hint::black_box;
use std::path::PathBuf;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use gha_expr::{
    Condition, EvalEnv, HashFiles, Object, ParseOptions, StatusFunctions, Value, evaluate, parse,
    parse_reference,
};

fn corpus() -> Vec<String> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/corpus/bench/expressions.txt");
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .map(str::to_owned)
        .collect()
}

fn contexts() -> Object {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("benches/context.json");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    match Value::from(json) {
        Value::Object(o) => o,
        _ => panic!("context.json must be an object"),
    }
}

struct Passing;

impl StatusFunctions for Passing {
    fn success(&self) -> bool {
        true
    }
    fn failure(&self) -> bool {
        false
    }
    fn cancelled(&self) -> bool {
        false
    }
}

impl HashFiles for Passing {
    fn hash_files(&self, _patterns: &[String]) -> Result<String, String> {
        Ok("0123456789abcdef".to_owned())
    }
}

fn benches(c: &mut Criterion) {
    let lines = corpus();
    assert_eq!(lines.len(), 1858);
    let ctx = contexts();
    let env = EvalEnv::new(&ctx)
        .with_status(&Passing)
        .with_hash_files(&Passing);

    let mut group = c.benchmark_group("corpus");
    group.throughput(Throughput::Elements(lines.len() as u64));
    group.bench_function("parse/gha-expr", |b| {
        b.iter(|| {
            for line in &lines {
                let _ = black_box(parse(black_box(line)));
            }
        })
    });
    let reference_options = ParseOptions::new();
    group.bench_function("parse/gha-expr (pest reference)", |b| {
        b.iter(|| {
            for line in &lines {
                let _ = black_box(parse_reference(black_box(line), &reference_options));
            }
        })
    });
    group.bench_function("parse/github-actions-expressions", |b| {
        b.iter(|| {
            for line in &lines {
                let _ = black_box(github_actions_expressions::Expr::parse(black_box(line)));
            }
        })
    });
    group.bench_function("parse+evaluate/gha-expr", |b| {
        b.iter(|| {
            for line in &lines {
                if let Ok(expr) = parse(black_box(line)) {
                    let _ = black_box(evaluate(&expr, &env));
                }
            }
        })
    });
    let parsed: Vec<_> = lines.iter().filter_map(|l| parse(l).ok()).collect();
    group.bench_function("evaluate/gha-expr", |b| {
        b.iter(|| {
            for expr in &parsed {
                let _ = black_box(evaluate(black_box(expr), &env));
            }
        })
    });
    group.finish();

    let mut group = c.benchmark_group("if");
    let typical = Condition::parse(
        "github.event_name == 'push' && startsWith(github.ref, 'refs/heads/') && !contains(github.event.head_commit.message, '[skip ci]')",
    )
    .unwrap();
    group.bench_function("evaluate typical if: condition", |b| {
        b.iter(|| black_box(typical.evaluate(black_box(&env))))
    });
    let simple = Condition::parse("github.ref == 'refs/heads/main'").unwrap();
    group.bench_function("evaluate simple if: condition", |b| {
        b.iter(|| black_box(simple.evaluate(black_box(&env))))
    });
    group.finish();
}

criterion_group!(expressions, benches);
criterion_main!(expressions);
