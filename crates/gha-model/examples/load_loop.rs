//! Load the corpus repeatedly with gha-model (for profiling):
//! `cargo run --release -p gha-model --example load_loop -- 5`.

#[path = "../benches/support/corpus.rs"]
#[allow(dead_code)]
mod corpus;

fn main() {
    let rounds: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(3);
    let files = corpus::corpus();
    let start = std::time::Instant::now();
    let mut ok = 0;
    for _ in 0..rounds {
        for f in &files {
            ok += usize::from(corpus::Loader::GhaModel.load(f).0);
        }
    }
    println!("{ok} loads in {:?}", start.elapsed());
}
