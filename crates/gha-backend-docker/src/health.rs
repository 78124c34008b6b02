//! Waiting for a container's health check, as the official runner does for services.

use std::time::Duration;

use bollard::models::HealthStatusEnum;
use gha_exec::BackendError;

use crate::engine::Engine;
use crate::image::Progress;

/// The longest wait when the health check's own settings do not bound it.
const DEFAULT_LIMIT: Duration = Duration::from_secs(300);

/// Waits until container `id` (service `name`) is healthy. A container without a health check
/// counts as ready once it runs. Fails naming the service when it turns unhealthy, exits, or
/// is still starting after what its health-check settings allow.
pub(crate) async fn wait_healthy(
    engine: &Engine,
    id: &str,
    name: &str,
    progress: Option<&Progress>,
) -> Result<(), BackendError> {
    let what = format!("waiting for service `{name}`");
    let first = engine
        .docker()
        .inspect_container(id, None)
        .await
        .map_err(|e| engine.error(&what, e))?;
    let limit = first
        .config
        .as_ref()
        .and_then(|c| c.healthcheck.as_ref())
        .map(|h| {
            let ns = |v: Option<i64>, default: u64| {
                Duration::from_nanos(v.filter(|v| *v > 0).map(|v| v as u64).unwrap_or(default))
            };
            let interval = ns(h.interval, 30_000_000_000);
            let timeout = ns(h.timeout, 30_000_000_000);
            let start = ns(h.start_period, 0);
            let retries = h.retries.filter(|r| *r > 0).unwrap_or(3) as u32;
            start + (interval + timeout) * (retries + 1) + Duration::from_secs(5)
        })
        .unwrap_or(DEFAULT_LIMIT)
        .min(Duration::from_secs(3600));
    let deadline = tokio::time::Instant::now() + limit;
    let mut delay = Duration::from_millis(50);
    let mut announced = false;
    loop {
        let info = engine
            .docker()
            .inspect_container(id, None)
            .await
            .map_err(|e| engine.error(&what, e))?;
        let state = info.state.unwrap_or_default();
        if state.running != Some(true) {
            return Err(BackendError::Other(format!(
                "service `{name}` stopped while starting (exit code {}){}{}",
                state.exit_code.unwrap_or(-1),
                state
                    .error
                    .filter(|e| !e.is_empty())
                    .map(|e| format!(": {e}"))
                    .unwrap_or_default(),
                last_log_lines(engine, id).await
            )));
        }
        let health = state.health.unwrap_or_default();
        match health.status {
            None | Some(HealthStatusEnum::NONE) | Some(HealthStatusEnum::EMPTY) => return Ok(()),
            Some(HealthStatusEnum::HEALTHY) => {
                if let Some(p) = progress {
                    p(&format!("service `{name}` is healthy"));
                }
                return Ok(());
            }
            Some(HealthStatusEnum::UNHEALTHY) => {
                return Err(BackendError::Other(format!(
                    "service `{name}` is unhealthy: its health check failed {} times{}",
                    health.failing_streak.unwrap_or(0),
                    last_output(health.log.as_deref())
                )));
            }
            Some(HealthStatusEnum::STARTING) => {}
        }
        if !announced {
            if let Some(p) = progress {
                p(&format!("waiting for service `{name}` to be healthy"));
            }
            announced = true;
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(BackendError::Other(format!(
                "service `{name}` is still not healthy after {} s{}",
                limit.as_secs(),
                last_output(health.log.as_deref())
            )));
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(1));
    }
}

fn last_output(log: Option<&[bollard::models::HealthcheckResult]>) -> String {
    log.and_then(|l| l.last())
        .and_then(|r| r.output.as_deref())
        .map(str::trim)
        .filter(|o| !o.is_empty())
        .map(|o| format!("; last health-check output: {o}"))
        .unwrap_or_default()
}

/// The last lines a container printed, for error messages (empty when there are none).
async fn last_log_lines(engine: &Engine, id: &str) -> String {
    use futures_util::StreamExt;
    let options = bollard::query_parameters::LogsOptionsBuilder::default()
        .stdout(true)
        .stderr(true)
        .tail("10")
        .build();
    let mut stream = engine.docker().logs(id, Some(options));
    let mut text = String::new();
    let read = async {
        while let Some(Ok(chunk)) = stream.next().await {
            text.push_str(&String::from_utf8_lossy(&chunk.into_bytes()));
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(5), read).await;
    let text = text.trim();
    if text.is_empty() {
        String::new()
    } else {
        format!("; its last output:\n{text}")
    }
}
