//! The election's rules, pure: from the lease as last read and the local clock to what to do.
//! No IO, so every rule is table-tested (`decide_tests.rs`); `elector` only carries them out.

use std::time::{Duration, Instant};

use k8s_openapi::jiff::Timestamp;

use crate::record::Record;

/// The lease as this candidate last read it, and when by its own monotonic clock it first saw
/// that exact record. Expiry is timed from that moment, never from the holder's renewTime: the
/// holder's wall clock may be off, ours only has to run at the right speed (client-go's
/// `observedTime`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Observed {
    pub record: Record,
    pub since: Instant,
}

impl Observed {
    /// Fold a record just read into what was known: the clock restarts only if it changed.
    pub fn fold(previous: Option<Observed>, record: Record, now: Instant) -> Observed {
        match previous {
            Some(p) if p.record == record => p,
            _ => Observed { record, since: now },
        }
    }

    /// When, by our clock, the holder's claim runs out if it does not renew.
    pub fn expires_at(&self) -> Instant {
        let seconds = self.record.lease_duration_seconds.max(0).unsigned_abs();
        self.since + Duration::from_secs(u64::from(seconds))
    }
}

/// A candidate may take a free or expired lease; a leader only ever extends its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Candidate,
    Leader,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// There is no Lease: create it naming us.
    Create(Record),
    /// The lease names us: write it with a new renewTime.
    Renew(Record),
    /// The lease is free or expired: write it naming us, one more transition.
    Acquire(Record),
    /// Someone else's claim is valid until `expires_at` (by our clock): try again later.
    Wait { holder: String, expires_at: Instant },
    /// We were leading but the lease names someone else or nobody: stop leading at once.
    Lost { holder: String },
}

/// Who is deciding, with the lease duration it writes.
#[derive(Clone, Copy, Debug)]
pub struct Candidate<'a> {
    pub identity: &'a str,
    pub lease_duration_seconds: i32,
}

impl Candidate<'_> {
    /// The first record of a Lease that does not exist yet.
    pub fn create(&self, wall: Timestamp) -> Record {
        Record {
            holder: self.identity.to_string(),
            lease_duration_seconds: self.lease_duration_seconds,
            acquire_time: Some(wall),
            renew_time: Some(wall),
            transitions: 0,
        }
    }

    /// What to do about the lease as observed (`None`: it does not exist), at `now` (local,
    /// monotonic) and `wall` (the time written into the lease, for humans and for other
    /// implementations that read it).
    pub fn decide(
        &self,
        role: Role,
        observed: Option<&Observed>,
        now: Instant,
        wall: Timestamp,
    ) -> Decision {
        let Some(observed) = observed else {
            return match role {
                Role::Candidate => Decision::Create(self.create(wall)),
                // Deleted under us: the others may create it right away, so we must stop.
                Role::Leader => Decision::Lost {
                    holder: String::new(),
                },
            };
        };
        let current = &observed.record;
        if current.holder == self.identity {
            // Also as a candidate: an acquire whose answer we missed may have succeeded.
            return Decision::Renew(Record {
                lease_duration_seconds: self.lease_duration_seconds,
                renew_time: Some(wall),
                acquire_time: current.acquire_time.or(Some(wall)),
                ..current.clone()
            });
        }
        if role == Role::Leader {
            return Decision::Lost {
                holder: current.holder.clone(),
            };
        }
        if !current.holder.is_empty() && now < observed.expires_at() {
            return Decision::Wait {
                holder: current.holder.clone(),
                expires_at: observed.expires_at(),
            };
        }
        Decision::Acquire(Record {
            holder: self.identity.to_string(),
            lease_duration_seconds: self.lease_duration_seconds,
            acquire_time: Some(wall),
            renew_time: Some(wall),
            transitions: current.transitions.saturating_add(1),
        })
    }
}

/// The record a leader writes on a clean shutdown: nobody holds it and it lasts a second, so the
/// other candidates take over on their next try instead of after a whole lease duration.
pub fn released(current: &Record, wall: Timestamp) -> Record {
    Record {
        holder: String::new(),
        lease_duration_seconds: 1,
        acquire_time: Some(wall),
        renew_time: Some(wall),
        transitions: current.transitions,
    }
}

/// Whether a leader that last renewed by a write it started at `last_renewed` must stop. Timing
/// from the start of the write (not its answer) is the safe side: the others time the lease from
/// when they read that write, which is later, so the leader stops at least
/// `lease_duration - renew_deadline` before anyone may take over.
pub fn renew_deadline_passed(
    last_renewed: Instant,
    now: Instant,
    renew_deadline: Duration,
) -> bool {
    now.saturating_duration_since(last_renewed) >= renew_deadline
}
