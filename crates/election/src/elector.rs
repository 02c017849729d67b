//! The election loop: the thin, IO-doing part. It reads the Lease, asks `decide` what to do,
//! writes, and starts or stops the leader's work; all timing rules are in `decide`.

use std::future::Future;
use std::time::{Duration, Instant};

use k8s_openapi::jiff::Timestamp;
use kube::Client;
use tokio::task::{JoinError, JoinHandle};
use tokio_util::sync::CancellationToken;

use crate::config::{Config, JITTER_FACTOR};
use crate::decide::{Candidate, Decision, Observed, Role, released, renew_deadline_passed};
use crate::error::{Error, Result};
use crate::lock::LeaseLock;
use crate::record::{Record, micro};

/// Run `work` whenever this process leads, until `shutdown`.
///
/// `work` gets a token that is cancelled when leadership is lost (the lease could not be renewed
/// within the renew deadline, or someone else holds it) or on shutdown. Leadership is given up
/// only after the work has returned, so the work must return promptly once its token is
/// cancelled. On losing, the process becomes a candidate again and calls `work` anew when it
/// wins. Work that returns by itself while still leading is not restarted; the lease is kept,
/// as client-go does.
///
/// On shutdown the work is stopped, then the lease is released so another candidate takes over
/// on its next try. Only an invalid `config` is an error; API errors are retried.
pub async fn run<F, Fut>(
    config: Config,
    client: Client,
    shutdown: CancellationToken,
    mut work: F,
) -> Result<()>
where
    F: FnMut(CancellationToken) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    config.validate()?;
    let mut elector = Elector {
        lock: LeaseLock::new(client, &config.namespace, &config.name),
        config,
        observed: None,
    };
    loop {
        let Some(acquired_at) = elector.acquire(&shutdown).await else {
            return Ok(());
        };
        let leading = shutdown.child_token();
        let mut task = Some(tokio::spawn(work(leading.clone())));
        let outcome = elector.hold(&shutdown, acquired_at, &mut task).await;
        // The work stops before anything else happens: another candidate may take over as soon
        // as the lease allows, and two leaders must never work at once.
        leading.cancel();
        if let Some(task) = task {
            report_finished(task.await);
        }
        match outcome {
            Held::Shutdown => {
                elector.release().await;
                return Ok(());
            }
            Held::Lost => tracing::warn!(lease = %elector.config.name, "stopped leading"),
        }
    }
}

/// How a stretch of leadership ended.
enum Held {
    Lost,
    Shutdown,
}

/// What one try to acquire or renew came to.
enum Attempt {
    Leading,
    /// Someone else holds the lease (empty: nobody, or it is gone).
    Held {
        holder: String,
    },
    /// The lease changed between our read and our write; read again.
    Raced,
}

struct Elector {
    config: Config,
    lock: LeaseLock,
    observed: Option<Observed>,
}

impl Elector {
    /// Try until we lead (`Some`: when the winning write started) or shutdown (`None`).
    async fn acquire(&mut self, shutdown: &CancellationToken) -> Option<Instant> {
        let mut waiting_for = None;
        loop {
            let started = Instant::now();
            // An attempt is bounded like a renewal, so a hung request cannot stall the candidate.
            let limit = self.config.renew_deadline;
            let attempt = tokio::select! {
                _ = shutdown.cancelled() => return None,
                a = self.attempt(Role::Candidate, limit) => a,
            };
            match attempt {
                Ok(Attempt::Leading) => {
                    let transitions = self.observed.as_ref().map(|o| o.record.transitions);
                    tracing::info!(
                        lease = %self.config.name,
                        identity = %self.config.identity,
                        transitions,
                        "acquired the lease; leading"
                    );
                    return Some(started);
                }
                Ok(Attempt::Held { holder }) => {
                    if waiting_for.as_ref() != Some(&holder) {
                        tracing::info!(lease = %self.config.name, %holder, "the lease is held; waiting");
                        waiting_for = Some(holder);
                    }
                }
                Ok(Attempt::Raced) => tracing::debug!("another candidate wrote the lease first"),
                Err(e) => tracing::warn!(error = %e, "acquiring the lease failed; retrying"),
            }
            // client-go's jitter: candidates started together spread out over the period.
            let pause = self
                .config
                .retry_period
                .mul_f64(1.0 + rand::random::<f64>() * JITTER_FACTOR);
            tokio::select! {
                _ = shutdown.cancelled() => return None,
                _ = tokio::time::sleep(pause) => {}
            }
        }
    }

    /// Renew every retry period until the lease is lost or the renew deadline passes without a
    /// successful renewal, or until shutdown.
    async fn hold(
        &mut self,
        shutdown: &CancellationToken,
        mut renewed: Instant,
        work: &mut Option<JoinHandle<()>>,
    ) -> Held {
        let deadline = self.config.renew_deadline;
        loop {
            let next = (Instant::now() + self.config.retry_period).min(renewed + deadline);
            loop {
                tokio::select! {
                    _ = shutdown.cancelled() => return Held::Shutdown,
                    done = finished(work) => {
                        report_finished(done);
                        tracing::warn!(lease = %self.config.name, "the leader's work returned; still holding the lease");
                    }
                    _ = tokio::time::sleep_until(next.into()) => break,
                }
            }
            let started = Instant::now();
            if renew_deadline_passed(renewed, started, deadline) {
                tracing::warn!(lease = %self.config.name, ?deadline, "could not renew the lease within the renew deadline");
                return Held::Lost;
            }
            let left = (renewed + deadline).saturating_duration_since(started);
            let attempt = tokio::select! {
                _ = shutdown.cancelled() => return Held::Shutdown,
                a = self.attempt(Role::Leader, left) => a,
            };
            match attempt {
                Ok(Attempt::Leading) => renewed = started,
                Ok(Attempt::Held { holder }) => {
                    tracing::warn!(lease = %self.config.name, %holder, "the lease names another holder");
                    return Held::Lost;
                }
                // Someone else wrote the lease (even just a label): read it again next period.
                Ok(Attempt::Raced) => tracing::debug!("the lease changed while renewing; retrying"),
                Err(e) => tracing::warn!(error = %e, "renewing the lease failed; retrying"),
            }
        }
    }

    async fn attempt(&mut self, role: Role, limit: Duration) -> Result<Attempt> {
        tokio::time::timeout(limit, self.try_acquire_or_renew(role))
            .await
            .map_err(|_| Error::Timeout(limit))?
    }

    /// Read the lease, decide, and write if the decision says so (client-go's
    /// `tryAcquireOrRenew`, without its optimistic write-first path: one read more per period
    /// buys one code path).
    async fn try_acquire_or_renew(&mut self, role: Role) -> Result<Attempt> {
        let candidate = Candidate {
            identity: &self.config.identity,
            lease_duration_seconds: self.config.lease_duration_seconds(),
        };
        let read = self.lock.get().await?;
        // Timed after the read: the later we say we saw it, the later we let it expire.
        let now = Instant::now();
        self.observed = read.map(|record| Observed::fold(self.observed.take(), record, now));
        let wall = micro(Timestamp::now());
        let (record, written) = match candidate.decide(role, self.observed.as_ref(), now, wall) {
            Decision::Create(record) => {
                let created = self.lock.create(&record).await?;
                (record, created)
            }
            Decision::Renew(record) | Decision::Acquire(record) => {
                let updated = self.lock.update(&record).await?;
                (record, updated)
            }
            Decision::Wait { holder, .. } | Decision::Lost { holder } => {
                return Ok(Attempt::Held { holder });
            }
        };
        if !written {
            return Ok(Attempt::Raced);
        }
        self.observed = Some(Observed {
            record,
            since: Instant::now(),
        });
        Ok(Attempt::Leading)
    }

    /// Hand the lease back if we still hold it, bounded by the renew deadline; failures are
    /// only logged (the others then take over after a lease duration instead).
    async fn release(&mut self) {
        let limit = self.config.renew_deadline;
        match tokio::time::timeout(limit, self.try_release()).await {
            Ok(Ok(true)) => tracing::info!(lease = %self.config.name, "released the lease"),
            Ok(Ok(false)) => tracing::debug!("not releasing a lease we do not hold"),
            Ok(Err(e)) => tracing::warn!(error = %e, "releasing the lease failed"),
            Err(_) => tracing::warn!(?limit, "releasing the lease timed out"),
        }
    }

    async fn try_release(&mut self) -> Result<bool> {
        loop {
            let Some(current) = self.lock.get().await? else {
                return Ok(false);
            };
            if current.holder != self.config.identity {
                return Ok(false);
            }
            let record: Record = released(&current, micro(Timestamp::now()));
            if self.lock.update(&record).await? {
                return Ok(true);
            }
            // Changed between our read and write, e.g. by our own renewal that shutdown
            // abandoned in flight and that landed late: read again (bounded by `release`).
            tracing::debug!("the lease changed while releasing; retrying");
        }
    }
}

/// Wait for the leader's work, if it is still running; it is `None` once it has returned.
async fn finished(work: &mut Option<JoinHandle<()>>) -> Result<(), JoinError> {
    let Some(handle) = work else {
        return std::future::pending().await;
    };
    let done = handle.await;
    *work = None;
    done
}

fn report_finished(done: Result<(), JoinError>) {
    if let Err(e) = done {
        tracing::error!(error = %e, "the leader's work panicked");
    }
}
