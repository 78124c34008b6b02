//! The harness's own checks can fail: what `Running::wait` relies on to say "nothing was left
//! behind" finds a left-over container, a task left RUNNING and an agent that failed.

use std::process::Command;

use aws_sdk_ecs::types::{ContainerDefinition, ContainerOverride, KeyValuePair, TaskOverride};
use gha_tests::ecs::{Cluster, Scheduler, ecs_client, moto_endpoint};
use gha_tests::{BASE_IMAGE, docker_available, docker_leftovers};

#[test]
fn docker_leftovers_finds_and_removes_a_runs_container() {
    if !docker_available() {
        return;
    }
    // A run id no `gha` process can have (above the kernel's PID limit).
    let run_id = 4_000_000_000u32 - std::process::id();
    let label = format!("io.gha-runner.run-id={run_id}");
    let created = Command::new("docker")
        .args(["create", "--label", &label, "--label"])
        .arg("io.gha-runner.managed=true")
        .args([BASE_IMAGE, "true"])
        .output()
        .unwrap();
    assert!(created.status.success(), "{created:?}");
    let problems = docker_leftovers(run_id);
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0].starts_with("containers left behind"),
        "{problems:?}"
    );
    // It also removed what it found.
    assert_eq!(docker_leftovers(run_id), Vec::<String>::new());
}

#[test]
fn the_scheduler_reports_a_task_left_running_and_its_agents_exit() {
    let Some(endpoint) = moto_endpoint() else {
        return;
    };
    let cluster = Cluster::create(&endpoint);
    let ecs = ecs_client(&endpoint);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let scheduler = Scheduler::start(&cluster, false);
    let task = rt.block_on(async {
        let def = ecs
            .register_task_definition()
            .family("gha-e2e-harness")
            .container_definitions(
                ContainerDefinition::builder()
                    .name("job")
                    .image(BASE_IMAGE)
                    .memory(512)
                    .build(),
            )
            .send()
            .await
            .unwrap();
        let arn = def
            .task_definition()
            .and_then(|d| d.task_definition_arn())
            .unwrap()
            .to_string();
        // No GHA_AGENT_URL: the agent refuses to start (exit 2), as with bad settings.
        let out = ecs
            .run_task()
            .cluster(&cluster.name)
            .task_definition(arn)
            .launch_type(aws_sdk_ecs::types::LaunchType::Ec2)
            .overrides(
                TaskOverride::builder()
                    .container_overrides(
                        ContainerOverride::builder()
                            .name("job")
                            .environment(
                                KeyValuePair::builder()
                                    .name("GHA_AGENT_TOKEN")
                                    .value("t")
                                    .build(),
                            )
                            .build(),
                    )
                    .build(),
            )
            .send()
            .await
            .unwrap();
        out.tasks()[0].task_arn().unwrap().to_string()
    });
    let report = scheduler.finish();
    assert_eq!(report.agents.len(), 1, "{report:?}");
    assert_eq!(report.agents[0].task, task);
    assert_eq!(report.agents[0].code, Some(2), "{report:?}");
    assert!(
        report.agents[0].stderr.contains("no controller URL"),
        "{report:?}"
    );
    assert!(
        report
            .problems
            .iter()
            .any(|p| p.starts_with("tasks left RUNNING") && p.contains(&task)),
        "{report:?}"
    );
    assert_eq!(cluster.running_tasks(), vec![task.clone()]);
    rt.block_on(
        ecs.stop_task()
            .cluster(&cluster.name)
            .task(&task)
            .reason("test done")
            .send(),
    )
    .unwrap();
    assert!(cluster.running_tasks().is_empty());
}
