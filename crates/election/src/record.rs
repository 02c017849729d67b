//! client-go's `LeaderElectionRecord`: the part of a Lease's spec the election reads and writes.

use k8s_openapi::api::coordination::v1::LeaseSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use k8s_openapi::jiff::Timestamp;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Record {
    /// Empty when nobody holds the lease (never written, or released).
    pub holder: String,
    pub lease_duration_seconds: i32,
    pub acquire_time: Option<Timestamp>,
    pub renew_time: Option<Timestamp>,
    pub transitions: i32,
}

impl Record {
    pub fn from_spec(spec: Option<&LeaseSpec>) -> Record {
        let Some(spec) = spec else {
            return Record::default();
        };
        Record {
            holder: spec.holder_identity.clone().unwrap_or_default(),
            lease_duration_seconds: spec.lease_duration_seconds.unwrap_or_default(),
            acquire_time: spec.acquire_time.as_ref().map(|t| t.0),
            renew_time: spec.renew_time.as_ref().map(|t| t.0),
            transitions: spec.lease_transitions.unwrap_or_default(),
        }
    }

    /// `base` with this record's fields; fields the election does not own (strategy, preferred
    /// holder) are kept.
    pub fn to_spec(&self, base: Option<&LeaseSpec>) -> LeaseSpec {
        LeaseSpec {
            // Written even when empty, as client-go does, so a release is visible as "".
            holder_identity: Some(self.holder.clone()),
            lease_duration_seconds: Some(self.lease_duration_seconds),
            acquire_time: self.acquire_time.map(MicroTime),
            renew_time: self.renew_time.map(MicroTime),
            lease_transitions: Some(self.transitions),
            ..base.cloned().unwrap_or_default()
        }
    }
}

/// `t` cut to the microseconds a MicroTime keeps, so the record we wrote compares equal to the
/// one we read back.
pub fn micro(t: Timestamp) -> Timestamp {
    Timestamp::from_microsecond(t.as_microsecond()).unwrap_or(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_a_lease_spec_keeping_other_fields() {
        let now = micro(Timestamp::now());
        let record = Record {
            holder: "a".into(),
            lease_duration_seconds: 15,
            acquire_time: Some(now),
            renew_time: Some(now),
            transitions: 3,
        };
        let base = LeaseSpec {
            strategy: Some("OldestEmulationVersion".into()),
            ..LeaseSpec::default()
        };
        let spec = record.to_spec(Some(&base));
        assert_eq!(spec.strategy.as_deref(), Some("OldestEmulationVersion"));
        assert_eq!(Record::from_spec(Some(&spec)), record);
        let released = Record::default().to_spec(None);
        assert_eq!(released.holder_identity.as_deref(), Some(""));
        assert_eq!(Record::from_spec(None), Record::default());
    }

    #[test]
    fn micro_drops_nanoseconds() {
        let t = Timestamp::new(1_700_000_000, 123_456_789).unwrap();
        assert_eq!(
            micro(t),
            Timestamp::new(1_700_000_000, 123_456_000).unwrap()
        );
    }
}
