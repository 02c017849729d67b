//! The election's rules, table by table.

use std::time::{Duration, Instant};

use k8s_openapi::jiff::Timestamp;

use crate::decide::{Candidate, Decision, Observed, Role, released, renew_deadline_passed};
use crate::record::Record;

const ME: Candidate<'static> = Candidate {
    identity: "me_1",
    lease_duration_seconds: 15,
};

fn wall(seconds: i64) -> Timestamp {
    Timestamp::from_second(1_700_000_000 + seconds).unwrap()
}

fn held_by(holder: &str, duration: i32, transitions: i32) -> Record {
    Record {
        holder: holder.into(),
        lease_duration_seconds: duration,
        acquire_time: Some(wall(-100)),
        renew_time: Some(wall(-1)),
        transitions,
    }
}

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

/// (what, role, lease as read, seen unchanged for seconds, expected kind, expected transitions)
type Case = (&'static str, Role, Option<Record>, u64, &'static str, i32);

#[test]
fn decisions() {
    let t0 = Instant::now();
    let cases: &[Case] = &[
        (
            "valid lease of another",
            Role::Candidate,
            Some(held_by("other", 15, 4)),
            14,
            "wait",
            4,
        ),
        (
            "expired lease of another",
            Role::Candidate,
            Some(held_by("other", 15, 4)),
            15,
            "acquire",
            5,
        ),
        (
            "short lease of another",
            Role::Candidate,
            Some(held_by("other", 1, 0)),
            1,
            "acquire",
            1,
        ),
        (
            "released lease",
            Role::Candidate,
            Some(held_by("", 1, 7)),
            0,
            "acquire",
            8,
        ),
        (
            "never written lease",
            Role::Candidate,
            Some(Record::default()),
            0,
            "acquire",
            1,
        ),
        (
            "our own lease",
            Role::Leader,
            Some(held_by("me_1", 15, 2)),
            3,
            "renew",
            2,
        ),
        (
            "our own lease, expired",
            Role::Leader,
            Some(held_by("me_1", 15, 2)),
            60,
            "renew",
            2,
        ),
        (
            "ours though we are a candidate",
            Role::Candidate,
            Some(held_by("me_1", 15, 2)),
            0,
            "renew",
            2,
        ),
        (
            "taken by another while leading",
            Role::Leader,
            Some(held_by("other", 15, 3)),
            0,
            "lost",
            3,
        ),
        (
            "released while leading",
            Role::Leader,
            Some(held_by("", 1, 3)),
            30,
            "lost",
            3,
        ),
        (
            "missing duration expires at once",
            Role::Candidate,
            Some(held_by("other", 0, 0)),
            0,
            "acquire",
            1,
        ),
        ("missing lease", Role::Candidate, None, 0, "create", 0),
        ("deleted while leading", Role::Leader, None, 0, "lost", 0),
    ];
    for (what, role, record, unchanged, kind, transitions) in cases.iter().cloned() {
        let observed = record.clone().map(|record| Observed { record, since: t0 });
        let decision = ME.decide(role, observed.as_ref(), t0 + secs(unchanged), wall(0));
        let (got_kind, written) = match &decision {
            Decision::Create(r) => ("create", Some(r)),
            Decision::Renew(r) => ("renew", Some(r)),
            Decision::Acquire(r) => ("acquire", Some(r)),
            Decision::Wait { .. } => ("wait", None),
            Decision::Lost { .. } => ("lost", None),
        };
        assert_eq!(got_kind, kind, "{what}: {decision:?}");
        let Some(w) = written else { continue };
        assert_eq!(w.transitions, transitions, "{what}");
        assert_eq!(w.holder, "me_1", "{what}");
        assert_eq!(w.lease_duration_seconds, 15, "{what}");
        assert_eq!(w.renew_time, Some(wall(0)), "{what}");
        let acquired = if kind == "renew" {
            record.and_then(|r| r.acquire_time)
        } else {
            Some(wall(0))
        };
        assert_eq!(
            w.acquire_time, acquired,
            "{what}: a renewal keeps acquireTime"
        );
    }
}

#[test]
fn wait_says_when_the_claim_runs_out() {
    let t0 = Instant::now();
    let observed = Observed {
        record: held_by("other", 15, 0),
        since: t0,
    };
    assert_eq!(
        ME.decide(Role::Candidate, Some(&observed), t0, wall(0)),
        Decision::Wait {
            holder: "other".into(),
            expires_at: t0 + secs(15)
        }
    );
}

/// Expiry runs from when the record last changed as we saw it, whatever its timestamps say.
#[test]
fn the_clock_restarts_only_when_the_record_changes() {
    let t0 = Instant::now();
    let first = Observed::fold(None, held_by("other", 15, 0), t0);
    assert_eq!(first.since, t0);
    let same = Observed::fold(Some(first.clone()), held_by("other", 15, 0), t0 + secs(10));
    assert_eq!(same.since, t0, "an unchanged record keeps its clock");
    let mut renewed = held_by("other", 15, 0);
    renewed.renew_time = Some(wall(9));
    let changed = Observed::fold(Some(same), renewed, t0 + secs(10));
    assert_eq!(changed.since, t0 + secs(10));
    assert_eq!(changed.expires_at(), t0 + secs(25));
    // A renewTime far in the past (a holder with a slow clock) does not make it expired.
    let mut stale = held_by("other", 15, 0);
    stale.renew_time = Some(wall(-3600));
    let seen = Observed::fold(None, stale, t0);
    assert!(matches!(
        ME.decide(Role::Candidate, Some(&seen), t0 + secs(1), wall(0)),
        Decision::Wait { .. }
    ));
}

#[test]
fn create_and_release() {
    let created = ME.create(wall(0));
    assert_eq!(created.holder, "me_1");
    assert_eq!(created.transitions, 0);
    assert_eq!(created.acquire_time, Some(wall(0)));
    let r = released(&held_by("me_1", 15, 6), wall(5));
    assert_eq!(r.holder, "");
    assert_eq!(r.lease_duration_seconds, 1);
    assert_eq!(r.transitions, 6);
    assert_eq!(r.renew_time, Some(wall(5)));
}

#[test]
fn renew_deadline() {
    let t0 = Instant::now();
    for (elapsed_ms, passed) in [(0, false), (9_999, false), (10_000, true), (12_000, true)] {
        assert_eq!(
            renew_deadline_passed(t0, t0 + Duration::from_millis(elapsed_ms), secs(10)),
            passed,
            "{elapsed_ms}ms"
        );
    }
    // A clock read before the write started never counts as negative time.
    assert!(!renew_deadline_passed(t0 + secs(1), t0, secs(10)));
}
