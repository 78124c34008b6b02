//! `gha prune`: remove what crashed runs left behind, found by label.

use std::collections::HashMap;

use bollard::query_parameters::{
    ListNetworksOptionsBuilder, ListVolumesOptionsBuilder, RemoveVolumeOptionsBuilder,
};
use gha_exec::BackendError;

use crate::engine::Engine;
use crate::labels;

/// What [`prune`] removed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PruneReport {
    /// Names of removed containers.
    pub containers: Vec<String>,
    /// Names of removed networks.
    pub networks: Vec<String>,
    /// Names of removed volumes.
    pub volumes: Vec<String>,
}

/// Which objects [`prune`] removes: everything labelled [`labels::MANAGED`], narrowed by run id
/// and/or backend instance.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PruneFilter {
    /// Only objects of this run (`github.run_id`).
    pub run_id: Option<String>,
    /// Only objects of this backend instance ([`DockerBackend::instance`](crate::DockerBackend::instance)).
    pub instance: Option<String>,
}

/// Removes containers (forcibly, with their anonymous volumes), then networks, then volumes
/// created by gha-runner. Do not run it while runs you want to keep are going.
///
/// ```no_run
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// use gha_backend_docker::{prune, Engine, PruneFilter};
/// let engine = Engine::connect(None).await?;
/// let report = prune(&engine, &PruneFilter::default()).await?;
/// println!("removed {} containers", report.containers.len());
/// # Ok::<(), gha_exec::BackendError>(())
/// # });
/// ```
pub async fn prune(engine: &Engine, filter: &PruneFilter) -> Result<PruneReport, BackendError> {
    let mut wanted = vec![format!("{}=true", labels::MANAGED)];
    if let Some(run) = &filter.run_id {
        wanted.push(format!("{}={run}", labels::RUN_ID));
    }
    if let Some(instance) = &filter.instance {
        wanted.push(format!("{}={instance}", labels::INSTANCE));
    }
    let filters = HashMap::from([("label".to_string(), wanted.clone())]);
    let docker = engine.docker();
    let mut report = PruneReport::default();

    let containers = engine.containers_labelled(&wanted, "containers").await?;
    for c in containers {
        let Some(id) = c.id else { continue };
        let name = c
            .names
            .and_then(|n| n.first().cloned())
            .map(|n| n.trim_start_matches('/').to_string())
            .unwrap_or_else(|| id.clone());
        if engine.force_remove_container(&id).await? {
            report.containers.push(name);
        }
    }

    let networks = docker
        .list_networks(Some(
            ListNetworksOptionsBuilder::default()
                .filters(&filters)
                .build(),
        ))
        .await
        .map_err(|e| engine.error("listing networks", e))?;
    for n in networks {
        let Some(id) = n.id else { continue };
        let name = n.name.unwrap_or_else(|| id.clone());
        if engine.remove_network(&id).await? {
            report.networks.push(name);
        }
    }

    let volumes = docker
        .list_volumes(Some(
            ListVolumesOptionsBuilder::default()
                .filters(&filters)
                .build(),
        ))
        .await
        .map_err(|e| engine.error("listing volumes", e))?;
    for v in volumes.volumes.unwrap_or_default() {
        match docker
            .remove_volume(
                &v.name,
                Some(RemoveVolumeOptionsBuilder::default().force(true).build()),
            )
            .await
        {
            Ok(()) => report.volumes.push(v.name),
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            }) => {}
            Err(e) => return Err(engine.error(&format!("removing volume {}", v.name), e)),
        }
    }
    Ok(report)
}
