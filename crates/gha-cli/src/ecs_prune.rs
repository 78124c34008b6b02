//! `gha prune --backend ecs`: stop the ECS tasks that `gha run --backend ecs` started and that
//! are still running (a crashed controller leaves its tasks behind).

use std::process::ExitCode;

/// Stops the leftover tasks (only those of `run_id` when given); exit 0, 1 on AWS errors, 2 on
/// bad settings.
pub fn run(run_id: Option<String>, flags: &crate::ecs_flags::EcsArgs) -> ExitCode {
    let config = match flags.config() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    runtime.block_on(async {
        let sdk = gha_backend_ecs::sdk_config(&config).await;
        let ecs = gha_backend_ecs::EcsClient::new(&sdk);
        match gha_backend_ecs::prune(&ecs, &config.cluster, run_id.as_deref()).await {
            Ok(report) => {
                for arn in &report.stopped {
                    println!("stopped {arn}");
                }
                println!(
                    "stopped {} ECS tasks in cluster {}",
                    report.stopped.len(),
                    config.cluster
                );
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        }
    })
}
