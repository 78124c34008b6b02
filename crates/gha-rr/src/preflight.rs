//! The rr preflight: `rr record` of a trivial program inside the prepared job environment,
//! before any step runs. A failure is classified and explained with its fix.

use serde::{Deserialize, Serialize};

/// Why rr cannot record in a job environment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum PreflightKind {
    /// `perf_event_open` found no hardware counter: the CPU or VM exposes no PMU.
    NoPerformanceCounters,
    /// A seccomp profile, missing capability or LSM refused `perf_event_open` or `ptrace`.
    SeccompOrCapabilities,
    /// The host's `kernel.perf_event_paranoid` is too high.
    PerfEventParanoid {
        /// The value rr reported, when it did.
        value: Option<i64>,
    },
    /// Anything else.
    Other,
}

/// A failed preflight: what rr said and what to do about it.
///
/// ```
/// use gha_rr::{PreflightFailure, PreflightKind};
/// let f = PreflightFailure::classify(
///     "[FATAL src/PerfCounters.cc:306:start_counter()] Unable to open performance counter with 'perf_event_open'; are hardware perf events available?",
///     Some(1),
/// );
/// assert_eq!(f.kind, PreflightKind::NoPerformanceCounters);
/// assert!(f.to_string().contains("no hardware performance counters"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreflightFailure {
    /// The classification.
    pub kind: PreflightKind,
    /// rr's own output (stderr and stdout).
    pub rr_output: String,
    /// rr's exit code, when it exited.
    pub exit_code: Option<i32>,
    /// Whether the environment shows no hardware PMU at all (sysfs has no CPU event source),
    /// when that is what decided the classification over rr's first complaint.
    pub no_pmu_in_sysfs: bool,
}

impl PreflightFailure {
    /// Classifies rr's output from a failed `rr record`.
    pub fn classify(output: &str, exit_code: Option<i32>) -> PreflightFailure {
        let kind = if output.contains("Unable to open performance counter")
            || output.contains("are hardware perf events available")
        {
            PreflightKind::NoPerformanceCounters
        } else if output.contains("perf_event_paranoid") {
            PreflightKind::PerfEventParanoid {
                value: paranoid_value(output),
            }
        } else if output.contains("Permission denied to use 'perf_event_open'")
            || (output.contains("Failed to initialize counter") && output.contains("EPERM"))
            || output.contains("Operation not permitted")
            || output.contains("seccomp")
        {
            PreflightKind::SeccompOrCapabilities
        } else {
            PreflightKind::Other
        };
        PreflightFailure {
            kind,
            rr_output: output.trim().to_string(),
            exit_code,
            no_pmu_in_sysfs: false,
        }
    }

    /// Re-classifies as [`PreflightKind::NoPerformanceCounters`] when the environment has no
    /// CPU PMU at all: fixing rr's first complaint (seccomp, paranoid) would not help then.
    pub fn with_sysfs_event_sources(mut self, sources: &[String]) -> PreflightFailure {
        let has_cpu_pmu = sources.iter().any(|s| {
            s == "cpu" || s.starts_with("cpu_") || s.starts_with("armv8") || s.contains("pmu")
        });
        if !has_cpu_pmu && !sources.is_empty() && self.kind != PreflightKind::NoPerformanceCounters
        {
            self.kind = PreflightKind::NoPerformanceCounters;
            self.no_pmu_in_sysfs = true;
        }
        self
    }

    /// The fix, spelled out.
    pub fn fix(&self) -> String {
        match &self.kind {
            PreflightKind::NoPerformanceCounters => "rr needs a CPU performance counter (retired conditional branches) that this machine does not expose: GitHub's hosted runners, AWS Fargate and most small cloud VMs have none. Run the job on bare metal or on a VM with a virtualised PMU, e.g. an AWS EC2 c5.9xlarge (x86_64, Intel) or c6g.8xlarge (arm64) instance, or use `--tracer strace` instead.".into(),
            PreflightKind::SeccompOrCapabilities => "The job environment refuses perf_event_open or ptrace. Start the container with `--cap-add SYS_PTRACE --security-opt seccomp=unconfined` (the Docker backend does this when it honours the tracer's requirements), or with `--cap-add SYS_ADMIN` / `--privileged`; on ECS use an EC2 task with `privileged: true`.".into(),
            PreflightKind::PerfEventParanoid { value } => format!(
                "The host's kernel.perf_event_paranoid is {} and rr needs it to be <= 1. Set it on the host (it is host-wide and read-only inside containers): `sudo sysctl kernel.perf_event_paranoid=1` (persist it in /etc/sysctl.d/), or record with rr's `-n` (no syscall buffer; slower).",
                value.map(|v| v.to_string()).unwrap_or_else(|| "too high".into())
            ),
            PreflightKind::Other => "rr could not record a trivial program; its output above says why.".into(),
        }
    }
}

fn paranoid_value(output: &str) -> Option<i64> {
    let at = output.find("but it is")?;
    output[at + "but it is".len()..]
        .split(|c: char| !(c.is_ascii_digit() || c == '-'))
        .find(|w| !w.is_empty())
        .and_then(|w| w.parse().ok())
}

impl std::fmt::Display for PreflightFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let what = match &self.kind {
            PreflightKind::NoPerformanceCounters => {
                "rr cannot record here: there are no hardware performance counters"
            }
            PreflightKind::SeccompOrCapabilities => {
                "rr cannot record here: seccomp or missing capabilities refuse perf_event_open/ptrace"
            }
            PreflightKind::PerfEventParanoid { .. } => {
                "rr cannot record here: kernel.perf_event_paranoid is too high"
            }
            PreflightKind::Other => {
                "rr cannot record here: `rr record` of a trivial program failed"
            }
        };
        write!(f, "{what}. {}", self.fix())?;
        if self.no_pmu_in_sysfs {
            write!(
                f,
                " (The kernel lists no CPU PMU under /sys/bus/event_source/devices, so fixing rr's first complaint alone would not help.)"
            )?;
        }
        if !self.rr_output.is_empty() {
            write!(f, "\nrr said: {}", self.rr_output)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_rrs_messages() {
        let f = PreflightFailure::classify(
            "rr needs /proc/sys/kernel/perf_event_paranoid <= 1, but it is 2.\nChange it to 1, or use 'rr record -n' (slow).",
            Some(1),
        );
        assert_eq!(f.kind, PreflightKind::PerfEventParanoid { value: Some(2) });
        assert!(
            f.to_string()
                .contains("sysctl kernel.perf_event_paranoid=1")
        );
        let f = PreflightFailure::classify(
            "[FATAL src/PerfCounters.cc:220:start_counter() errno: EPERM] Failed to initialize counter",
            Some(134),
        );
        assert_eq!(f.kind, PreflightKind::SeccompOrCapabilities);
        assert!(f.to_string().contains("seccomp=unconfined"));
        let f = PreflightFailure::classify("Permission denied to use 'perf_event_open'", None);
        assert_eq!(f.kind, PreflightKind::SeccompOrCapabilities);
        assert_eq!(
            PreflightFailure::classify("boom", Some(3)).kind,
            PreflightKind::Other
        );
    }

    #[test]
    fn no_cpu_pmu_in_sysfs_overrides_the_first_complaint() {
        let sources: Vec<String> = ["breakpoint", "msr", "software", "tracepoint", "uprobe"]
            .map(String::from)
            .into();
        let f = PreflightFailure::classify("perf_event_paranoid <= 1, but it is 2", Some(1))
            .with_sysfs_event_sources(&sources);
        assert_eq!(f.kind, PreflightKind::NoPerformanceCounters);
        assert!(f.to_string().contains("c5.9xlarge"));
        let with_cpu = vec!["cpu".to_string(), "software".to_string()];
        let f = PreflightFailure::classify("perf_event_paranoid <= 1, but it is 2", Some(1))
            .with_sysfs_event_sources(&with_cpu);
        assert_eq!(f.kind, PreflightKind::PerfEventParanoid { value: Some(2) });
    }
}
