//! The timer behind [`KillPolicy`]: after SIGINT, SIGTERM; after SIGTERM, SIGKILL.
//!
//! Every backend stops a cancelled step the same way; this is the one place that knows the order
//! and the waits, so the host, Docker and agent implementations only deliver the signals.

use crate::exec::KillPolicy;

/// A signal that [`KillEscalation`] asks the backend to send next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KillSignal {
    /// SIGTERM, sent once the SIGINT grace period is over.
    Term,
    /// SIGKILL, sent once the SIGTERM grace period is over.
    Kill,
}

impl KillSignal {
    /// The signal's number (`libc::SIGTERM` / `libc::SIGKILL`).
    pub fn number(self) -> i32 {
        match self {
            KillSignal::Term => libc::SIGTERM,
            KillSignal::Kill => libc::SIGKILL,
        }
    }

    /// The signal's name without the `SIG` prefix, as `kill -s` takes it.
    pub fn name(self) -> &'static str {
        match self {
            KillSignal::Term => "TERM",
            KillSignal::Kill => "KILL",
        }
    }
}

/// Schedules SIGTERM and SIGKILL after a cancelled step got its SIGINT, following a
/// [`KillPolicy`]. Use it inside a `tokio::select!` loop:
///
/// ```
/// use std::time::Duration;
/// use gha_exec::{KillEscalation, KillPolicy, KillSignal};
///
/// # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
/// let policy = KillPolicy { after_sigint: Duration::ZERO, after_sigterm: Duration::ZERO };
/// let mut escalation = KillEscalation::new(policy);
/// assert!(!escalation.pending());
/// escalation.start(); // the backend has just sent SIGINT
/// escalation.wait().await;
/// assert_eq!(escalation.next_signal(), KillSignal::Term);
/// escalation.wait().await;
/// assert_eq!(escalation.next_signal(), KillSignal::Kill);
/// assert!(!escalation.pending());
/// # });
/// ```
#[derive(Debug)]
pub struct KillEscalation {
    policy: KillPolicy,
    sent_sigterm: bool,
    deadline: Option<tokio::time::Instant>,
}

impl KillEscalation {
    /// A timer that has not started.
    pub fn new(policy: KillPolicy) -> KillEscalation {
        KillEscalation {
            policy,
            sent_sigterm: false,
            deadline: None,
        }
    }

    /// Starts the SIGINT grace period (call right after sending SIGINT).
    pub fn start(&mut self) {
        self.deadline = Some(tokio::time::Instant::now() + self.policy.after_sigint);
    }

    /// Whether a signal is still due.
    pub fn pending(&self) -> bool {
        self.deadline.is_some()
    }

    /// Waits until the next signal is due; never returns when none is.
    pub async fn wait(&self) {
        match self.deadline {
            Some(d) => tokio::time::sleep_until(d).await,
            None => std::future::pending().await,
        }
    }

    /// The signal to send now; SIGTERM first (starting its grace period), then SIGKILL.
    pub fn next_signal(&mut self) -> KillSignal {
        if self.sent_sigterm {
            self.deadline = None;
            KillSignal::Kill
        } else {
            self.sent_sigterm = true;
            self.deadline = Some(tokio::time::Instant::now() + self.policy.after_sigterm);
            KillSignal::Term
        }
    }
}
