//! Per loader: peak resident memory while holding the whole loaded corpus, and CPU time per
//! corpus load (user+system, which a busy machine distorts less than wall time):
//! `cargo run --release -p gha-model --example corpus_stats -- <loader> [rounds]` where loader
//! is `gha-model`, `yaml-tree`, `plain` or `gam` (github-actions-models). Memory is the growth
//! of the peak RSS (VmHWM) over the baseline with just the file texts in memory.

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

/// User + system CPU time of this process, in seconds (from /proc/self/stat).
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit(')').next().unwrap_or("");
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks: f64 = [11, 12]
        .iter()
        .filter_map(|&i| fields.get(i).and_then(|v| v.parse::<f64>().ok()))
        .sum();
    ticks / 100.0
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
    drop(kept);
    let rounds: usize = std::env::args()
        .nth(2)
        .and_then(|a| a.parse().ok())
        .unwrap_or(10);
    let cpu0 = cpu_seconds();
    for _ in 0..rounds {
        for f in &files {
            std::hint::black_box(loader.load(f));
        }
    }
    let cpu_ms = (cpu_seconds() - cpu0) * 1000.0 / rounds as f64;
    println!(
        "{}: {} files ({} accepted), {cpu_ms:.0} ms CPU per corpus load, peak RSS growth {:.1} MiB (baseline {:.1} MiB)",
        loader.name(),
        files.len(),
        accepted,
        (peak.saturating_sub(base)) as f64 / 1024.0,
        base as f64 / 1024.0
    );
}
