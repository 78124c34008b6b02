//! Developer automation: `cargo xtask <task>`.

fn main() {
    eprintln!("usage: cargo xtask <image|bench>");
    std::process::exit(2);
}
