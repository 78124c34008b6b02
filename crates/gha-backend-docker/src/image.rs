//! Making sure an image is there: use the local one, or pull it with progress.

use bollard::auth::DockerCredentials;
use bollard::query_parameters::CreateImageOptionsBuilder;
use futures_util::StreamExt;
use gha_exec::{BackendError, RegistryCredentials};
use tokio_util::sync::CancellationToken;

use crate::engine::Engine;

/// Receives progress lines (pulls, service health waits).
pub type Progress = std::sync::Arc<dyn Fn(&str) + Send + Sync>;

/// What an image is needed for, for the error message when it cannot be had.
#[derive(Clone, Debug)]
pub(crate) enum ImageUse {
    /// The job's `runs-on` label mapped to the image.
    Platform(String),
    /// `jobs.<id>.container`.
    JobContainer,
    /// `jobs.<id>.services.<id>`.
    Service(String),
    /// A Docker action's image (`docker://IMAGE` or `runs.image: docker://IMAGE`), named by the
    /// step's `uses:`.
    Action(String),
}

/// How [`ensure`] ended when it did not fail.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Availability {
    /// The engine has the image.
    Ready,
    /// `cancel` fired before the image was there: the pull was abandoned.
    Cancelled,
}

/// Pulls `image` unless the engine already has it.
///
/// The pull races `cancel`: when it fires, the progress stream is dropped at once (the engine
/// sees the client go away and abandons the pull; a tag only ever points at a completely pulled
/// image) and the answer is [`Availability::Cancelled`].
pub(crate) async fn ensure(
    engine: &Engine,
    image: &str,
    credentials: Option<&RegistryCredentials>,
    used_for: &ImageUse,
    progress: Option<&Progress>,
    cancel: &CancellationToken,
) -> Result<Availability, BackendError> {
    match engine.docker().inspect_image(image).await {
        Ok(_) => return Ok(Availability::Ready),
        Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 404, ..
        }) => {}
        Err(e) => return Err(engine.error(&format!("looking up image {image}"), e)),
    }
    let (name, tag) = split_reference(image);
    let options = CreateImageOptionsBuilder::default()
        .from_image(name)
        .tag(tag)
        .build();
    let credentials = credentials.map(|c| DockerCredentials {
        username: Some(c.username.clone()),
        password: Some(c.password.clone()),
        ..Default::default()
    });
    let report = |line: &str| {
        if let Some(p) = progress {
            p(line);
        }
    };
    if cancel.is_cancelled() {
        return Ok(Availability::Cancelled);
    }
    report(&format!("pulling {image}"));
    let mut stream = engine
        .docker()
        .create_image(Some(options), None, credentials);
    let mut last = String::new();
    loop {
        let item = tokio::select! {
            biased;
            _ = cancel.cancelled() => {
                report(&format!("pulling {image}: cancelled"));
                return Ok(Availability::Cancelled);
            }
            item = stream.next() => item,
        };
        let Some(item) = item else { break };
        match item {
            Ok(info) => {
                let detail =
                    info.progress_detail
                        .as_ref()
                        .and_then(|d| match (d.current, d.total) {
                            (Some(c), Some(t)) if t > 0 => Some(format!("{}%", c * 100 / t)),
                            _ => None,
                        });
                let line = [info.id.clone(), info.status.clone(), detail]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>()
                    .join(" ");
                if !line.is_empty() && line != last {
                    report(&format!("pulling {image}: {line}"));
                    last = line;
                }
            }
            Err(e) => return Err(pull_failed(image, used_for, &e.to_string())),
        }
    }
    // A pull that "succeeds" without the image (some engines) is still a failure.
    engine
        .docker()
        .inspect_image(image)
        .await
        .map(|_| Availability::Ready)
        .map_err(|e| pull_failed(image, used_for, &e.to_string()))
}

fn pull_failed(image: &str, used_for: &ImageUse, why: &str) -> BackendError {
    let hint = match used_for {
        ImageUse::Platform(label) => format!(
            "build or load it, or map the label to a local image with -P {label}=IMAGE (e.g. -P {label}=gha-runner/base:bookworm, built by `cargo xtask image`)"
        ),
        ImageUse::JobContainer => {
            "build or load it locally (`docker load`, `docker build -t`), or change `container:`"
                .into()
        }
        ImageUse::Service(id) => format!(
            "build or load it locally (`docker load`, `docker build -t`), or change `services.{id}.image`"
        ),
        ImageUse::Action(uses) => format!(
            "build or load it locally (`docker load`, `docker build -t`), or change the step's `uses: {uses}`"
        ),
    };
    BackendError::Other(format!(
        "image {image} is not on the Docker engine and could not be pulled ({why}); {hint}"
    ))
}

/// `name[:tag][@digest]` → (`name`, `tag`), with `latest` as the default tag.
fn split_reference(image: &str) -> (&str, &str) {
    if image.contains('@') {
        return (image, "");
    }
    match image.rsplit_once(':') {
        Some((name, tag)) if !tag.contains('/') => (name, tag),
        _ => (image, "latest"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references() {
        assert_eq!(split_reference("node:20"), ("node", "20"));
        assert_eq!(split_reference("node"), ("node", "latest"));
        assert_eq!(
            split_reference("localhost:5000/x"),
            ("localhost:5000/x", "latest")
        );
        assert_eq!(
            split_reference("localhost:5000/x:1"),
            ("localhost:5000/x", "1")
        );
    }

    #[test]
    fn the_error_names_the_image_and_the_flag() {
        let e = pull_failed(
            "catthehacker/ubuntu:act-latest",
            &ImageUse::Platform("ubuntu-latest".into()),
            "no registry",
        )
        .to_string();
        assert!(e.contains("catthehacker/ubuntu:act-latest"), "{e}");
        assert!(e.contains("-P ubuntu-latest=IMAGE"), "{e}");
    }

    #[test]
    fn an_action_image_error_points_at_the_step() {
        let e = pull_failed(
            "alpine:3.20",
            &ImageUse::Action("docker://alpine:3.20".into()),
            "no registry",
        )
        .to_string();
        assert!(
            e.contains("image alpine:3.20 is not on the Docker engine"),
            "{e}"
        );
        assert!(
            e.contains("change the step's `uses: docker://alpine:3.20`"),
            "{e}"
        );
        assert!(!e.contains("container:"), "{e}");
    }
}
