//! Loading the whole corpus (~1,050 workflow and action files): gha-model's typed load with
//! validation, vs its YAML tree alone, vs a plain parse into a generic YAML value, vs
//! `github-actions-models`. Run with `cargo bench -p gha-model --bench load`.

#[path = "support/corpus.rs"]
mod corpus;

use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;

fn load_corpus(c: &mut Criterion) {
    let files = corpus::corpus();
    let bytes: usize = files.iter().map(|f| f.text.len()).sum();
    let mut group = c.benchmark_group("load_corpus");
    group.sample_size(10);
    group.throughput(criterion::Throughput::Bytes(bytes as u64));
    for loader in corpus::LOADERS {
        let accepted = files.iter().filter(|f| loader.load(f).0).count();
        eprintln!(
            "{}: accepts {accepted}/{} files",
            loader.name(),
            files.len()
        );
        group.bench_function(loader.name(), |b| {
            b.iter(|| {
                for f in &files {
                    black_box(loader.load(black_box(f)));
                }
            })
        });
    }
    group.finish();
}

criterion_group!(benches, load_corpus);
criterion_main!(benches);
