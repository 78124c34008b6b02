//! Peak resident memory while holding the loaded corpus, per loader:
//! `cargo run --release -p gha-model --example peak_memory -- <loader>` where loader is
//! `gha-model`, `yaml-tree`, `plain` or `gam` (github-actions-models). Prints the growth of
//! the peak RSS (VmHWM) over the baseline with just the file texts in memory.

#[path = "../benches/support/corpus.rs"]
#[allow(dead_code)]
mod corpus;

fn vm_hwm_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn main() {
    let which = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "gha-model".into());
    let loader = match which.as_str() {
        "gha-model" => corpus::Loader::GhaModel,
        "yaml-tree" => corpus::Loader::GhaModelYamlTree,
        "plain" => corpus::Loader::PlainYamlValue,
        "gam" => corpus::Loader::GithubActionsModels,
        other => {
            eprintln!("unknown loader {other}");
            std::process::exit(2);
        }
    };
    let files = corpus::corpus();
    let base = vm_hwm_kib();
    let kept: Vec<_> = files.iter().map(|f| loader.load(f)).collect();
    let peak = vm_hwm_kib();
    let accepted = kept.iter().filter(|(ok, _)| *ok).count();
    println!(
        "{}: {} files ({} accepted), peak RSS growth {:.1} MiB (baseline {:.1} MiB)",
        loader.name(),
        files.len(),
        accepted,
        (peak.saturating_sub(base)) as f64 / 1024.0,
        base as f64 / 1024.0
    );
}
